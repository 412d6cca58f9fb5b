/**
 * A data-parallel pretraining worker thread (see parallel.ts): one model replica on its own
 * TensorFlow.js backend. Per request it takes the coordinator's current weights and a shard of the
 * step's rows, and answers with the gradient of that shard's share of the batch loss.
 *
 * It keeps no optimizer: the coordinator applies the one update and sends the new weights with the
 * next request, so the replica cannot drift from it.
 */
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { selectBackend, type BackendName } from "../../src/model/backend.js";
import type { ModelConfig } from "../../src/model/config.js";
import { Transformer } from "../../src/model/transformer.js";
import { toArrays, type NamedArrays } from "../../src/training/distributed/protocol.js";
import type { TrainingBatch } from "./data.js";
import { shardGradients } from "./loop.js";

/** Coordinator → worker. */
export type ShardRequest =
  | { type: "init"; config: ModelConfig; backend: BackendName }
  | { type: "gradients"; weights: NamedArrays; shard: TrainingBatch; denominator: number }
  | { type: "close" };

/** Worker → coordinator: the answer to one request. */
export type ShardReply =
  | { ok: true; backend?: string; grads?: NamedArrays; lossSum?: number }
  | { ok: false; error: string };

let model: Transformer | undefined;

async function handle(request: ShardRequest): Promise<ShardReply> {
  switch (request.type) {
    case "init": {
      const report = await selectBackend({ backend: request.backend });
      model = Transformer.init(request.config, { seed: 0 }); // overwritten by the first request's weights
      return { ok: true, backend: report.name };
    }
    case "gradients": {
      if (model === undefined) throw new Error("shard worker: `gradients` before `init`.");
      const weights = Object.fromEntries(Object.entries(request.weights).map(([name, w]) => [name, tf.tensor(w.data, w.shape, "float32")]));
      try {
        model.setWeights(weights);
      } finally {
        tf.dispose(Object.values(weights));
      }
      const { grads, lossSum } = shardGradients(model, request.shard, request.denominator);
      try {
        return { ok: true, grads: await toArrays(grads), lossSum };
      } finally {
        tf.dispose(Object.values(grads));
      }
    }
    case "close":
      model?.dispose();
      model = undefined;
      return { ok: true };
  }
}

let queue: Promise<void> = Promise.resolve();
parentPort?.on("message", (request: ShardRequest) => {
  queue = queue.then(async () => {
    let reply: ShardReply;
    try {
      reply = await handle(request);
    } catch (error) {
      reply = { ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) };
    }
    const transfer = reply.ok && reply.grads ? Object.values(reply.grads).map((g) => g.data.buffer as ArrayBuffer) : [];
    parentPort?.postMessage(reply, transfer);
    if (request.type === "close") parentPort?.close();
  });
});
