/**
 * What the DistributedTrainer and its worker threads say to each other (plain, structured-cloneable
 * data), and the helpers both sides share: a replica's weights as arrays, and their hash.
 */
import { createHash } from "node:crypto";
import type * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../../model/config.js";
import type { SampleRequest } from "../../model/policy.js";
import type { TokenizerFiles } from "../../model/tokenizer.js";
import type { PaddedBatch } from "../batch.js";
import type { PassLossOptions, PassSums } from "../gradients.js";
import type { AdamWOptions, AdamWState } from "../optimizer.js";

/** Named float32 arrays with their shapes (weights, gradients, reference weights). */
export type NamedArrays = Record<string, { shape: number[]; data: Float32Array }>;

/** Everything a worker needs to become an exact replica of the coordinator's policy and optimizer. */
export interface ReplicaInit {
  modelConfig: ModelConfig;
  params: NamedArrays;
  tokenizerFiles: TokenizerFiles;
  optimizer: AdamWOptions;
  optimizerState: AdamWState;
  reference?: NamedArrays;
}

/** Coordinator → worker. Every request has an id; the worker answers each with a {@link WorkerReply}. */
export type WorkerRequest =
  | { id: number; type: "init"; init: ReplicaInit }
  | { id: number; type: "sample"; request: SampleRequest }
  | { id: number; type: "prepare"; batches: PaddedBatch[]; loss: PassLossOptions; temperature: number }
  | { id: number; type: "pass" }
  | { id: number; type: "release" }
  | { id: number; type: "update"; grads: NamedArrays; lr: number }
  | { id: number; type: "hash" };

/** A request without its id (the client numbers them). */
export type WorkerRequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/** Worker → coordinator. */
export type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { message: string; code?: string } };

/** What a worker returns for a `pass` request. */
export interface PassReply {
  grads: NamedArrays;
  sums: PassSums;
}

/** Reads tensors into named arrays (outside any tidy: large typed arrays returned from tidy are slow). */
export async function toArrays(tensors: Record<string, tf.Tensor>): Promise<NamedArrays> {
  const out: NamedArrays = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = { shape: [...t.shape], data: (await t.data()) as Float32Array };
  return out;
}

/**
 * A SHA-256 over the parameter names (sorted), shapes and float32 bytes: equal hashes mean
 * bit-identical replicas.
 */
export async function weightsHash(params: Record<string, tf.Tensor>): Promise<string> {
  const hash = createHash("sha256");
  for (const name of Object.keys(params).sort()) {
    const t = params[name];
    const data = (await t.data()) as Float32Array;
    hash.update(`${name}:${t.shape.join("x")};`);
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest("hex");
}
