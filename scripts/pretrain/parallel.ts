/**
 * Data-parallel pretraining steps over worker threads: the batch's rows are split into shards, the
 * coordinator (this thread) computes the gradient of the first shard while each worker computes one
 * of the others, the gradients are summed in a fixed order (coordinator, then workers by index), and
 * one clipped AdamW update is applied here. The new weights go to the workers with the next step.
 *
 * Each shard's loss is divided by the whole batch's target count, so the summed gradient is the
 * batch's mean-loss gradient: the same step as {@link trainStep} up to float summation order. With
 * the same worker count, a run is bit-reproducible (every thread computes deterministically and the
 * sum's order is fixed).
 *
 * Why threads and not a second process: the model is ~0.9 M parameters, so shipping weights and
 * gradients (3.6 MB each way per step, transferred, not copied, for the gradients) costs
 * milliseconds against a step of ~0.4–0.8 s, and a worker thread shares the loaded modules.
 */
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import type { BackendName } from "../../src/model/backend.js";
import type { Transformer } from "../../src/model/transformer.js";
import type { AdamW } from "../../src/training/optimizer.js";
import { splitBatch, type TrainingBatch } from "./data.js";
import { applyGradients, shardGradients, trainStep, type StepResult } from "./loop.js";
import type { NamedArrays } from "../../src/training/distributed/protocol.js";
import type { ShardReply, ShardRequest } from "./shard-worker.js";

/** One worker thread and its request queue (one request in flight at a time). */
class ShardWorker {
  private readonly worker: Worker;
  private waiting: { resolve: (reply: ShardReply) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(readonly index: number) {
    // Under tsx (the scripts run from TypeScript), a worker thread needs tsx's loader registered first.
    const fromSource = import.meta.url.endsWith(".ts");
    const script = fromSource ? new URL("../../src/training/distributed/tsx-worker.mjs", import.meta.url) : new URL("./shard-worker.js", import.meta.url);
    this.worker = new Worker(script, fromSource ? { workerData: { tsWorker: new URL("./shard-worker.ts", import.meta.url).href } } : {});
    this.worker.on("message", (reply: ShardReply) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.resolve(reply);
    });
    const fail = (error: Error): void => {
      this.failure = error;
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.reject(error);
    };
    this.worker.on("error", (error) => fail(new Error(`pretraining worker ${index} failed: ${error.message}`)));
    this.worker.on("exit", (code) => fail(new Error(`pretraining worker ${index} exited (code ${code}).`)));
  }

  request(message: ShardRequest, transfer: ArrayBuffer[] = []): Promise<ShardReply & { ok: true }> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error(`pretraining worker ${this.index}: a request is already in flight.`));
    return new Promise<ShardReply>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.worker.postMessage(message, transfer);
    }).then((reply) => {
      if (!reply.ok) throw new Error(`pretraining worker ${this.index}: ${reply.error}`);
      return reply;
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}

/** The coordinator's side: `workers` threads besides this one (0 = plain single-thread steps). */
export class DataParallelSteps {
  private constructor(private readonly workers: ShardWorker[]) {}

  /** Starts `workers` threads, each with a replica of `config` on `backend`. */
  static async start(workers: number, config: Transformer["config"], backend: BackendName): Promise<DataParallelSteps> {
    if (!Number.isInteger(workers) || workers < 0) throw new Error(`The number of extra pretraining threads must be an integer >= 0, got ${workers}.`);
    const threads = Array.from({ length: workers }, (_, k) => new ShardWorker(k + 1));
    try {
      await Promise.all(threads.map((t) => t.request({ type: "init", config, backend })));
    } catch (error) {
      await Promise.all(threads.map((t) => t.close()));
      throw error;
    }
    return new DataParallelSteps(threads);
  }

  /** Threads computing gradients, this one included. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /** One clipped AdamW step on `batch`, its gradient computed in shards across the threads. */
  async trainStep(model: Transformer, optimizer: AdamW, batch: TrainingBatch, lr: number, maxGradNorm: number): Promise<StepResult> {
    const shards = splitBatch(batch, this.threads);
    if (shards.length === 1) return trainStep(model, optimizer, batch, lr, maxGradNorm);
    const weights = await model.weightValues();
    const replies = shards.slice(1).map((shard, k) => {
      const copy = copyOf(weights);
      return this.workers[k].request({ type: "gradients", weights: copy, shard, denominator: batch.targetCount }, Object.values(copy).map((w) => w.data.buffer as ArrayBuffer));
    });
    const own = shardGradients(model, shards[0], batch.targetCount);
    let summed: Record<string, tf.Tensor> = own.grads;
    let lossSum = own.lossSum;
    try {
      for (const reply of await Promise.all(replies)) {
        const grads = reply.grads ?? {};
        const next = tf.tidy(() => Object.fromEntries(Object.entries(summed).map(([name, g]) => {
          const theirs = grads[name];
          if (theirs === undefined) throw new Error(`A pretraining worker sent no gradient for "${name}".`);
          return [name, tf.add(g, tf.tensor(theirs.data, theirs.shape, "float32"))];
        })));
        tf.dispose(Object.values(summed));
        summed = next;
        lossSum += reply.lossSum ?? 0;
      }
      return { loss: lossSum, gradNorm: await applyGradients(optimizer, summed, lr, maxGradNorm) };
    } finally {
      tf.dispose(Object.values(summed));
    }
  }

  /** Stops the worker threads. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((t) => t.close()));
  }
}

/** A copy of host weights per worker: each message owns (and transfers) its buffers, and on the cpu backend `data()` may hand out the tensor's own storage. */
function copyOf(weights: NamedArrays): NamedArrays {
  return Object.fromEntries(Object.entries(weights).map(([name, w]) => [name, { shape: w.shape, data: w.data.slice() }]));
}
