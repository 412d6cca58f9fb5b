/**
 * DistributedTrainer: data-parallel GRPO (DDP) over worker threads on one machine.
 *
 * Each worker thread is a policy replica on its own TensorFlow.js backend (wasm is single-threaded,
 * so N workers use N cores). One step:
 *   rollouts: every sampling batch of the step's episodes is split by rows across the workers by
 *     load (rows go to the workers with the fewest rows pending), and each worker's part is handed
 *     back as soon as it is sampled, so episodes whose rows are done go on to their next turn while
 *     the other worker still samples (pipelined); each row samples from its own generator, seeded
 *     per episode, so neither the split nor the timing changes a sample;
 *     environments and rewards run here, in the coordinating thread;
 *   gradients: the step's micro-batches (≥ one per worker) are sharded across the workers; each
 *     returns the summed gradient of its shard, and the coordinator adds the shards in worker order.
 *     The per-token weights carry the loss normalisation of the whole step, so this sum is the
 *     single-process gradient up to float summation order;
 *   update: the coordinator clips the sum and every replica (the coordinator's own included)
 *     applies the same AdamW update to the same state; weight hashes are compared every
 *     `hashCheckSteps` steps.
 *
 * Everything else (config, callbacks, history, checkpoints, early stopping) is GRPOTrainer's.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { GrpoError } from "../../core/errors.js";
import { sliceSampleRequest, type SampledRows, type SampleRequest } from "../../model/policy.js";
import type { GenerateResult } from "../../model/generate.js";
import type { PaddedBatch } from "../batch.js";
import { addSums, emptySums, type PassLossOptions } from "../gradients.js";
import type { StepReport } from "../events.js";
import { GRPOTrainer, type GRPOTrainerOptions, type ResumeOptions, type StepPasses, type TrainerInit } from "../trainer.js";
import { toArrays, weightsHash, type PassReply, type ReplicaInit, type WorkerReply, type WorkerRequestBody } from "./protocol.js";

/** Data-parallel strategies this trainer implements. */
export const DISTRIBUTED_STRATEGIES = ["ddp"] as const;

/** Options of {@link DistributedTrainer.create}: a GRPOTrainer's, plus how to parallelise. */
export interface DistributedTrainerOptions extends GRPOTrainerOptions, DistributedParallelism {}

/** How a DistributedTrainer parallelises. */
export interface DistributedParallelism {
  /** Worker threads, each a policy replica on its own backend (default 2; at most the CPU cores help). */
  numWorkers?: number;
  /**
   * One worker per GPU instead (needs `@tensorflow/tfjs-node-gpu` installed; otherwise an error).
   * Give `numWorkers` or `numGpus`, not both.
   */
  numGpus?: number;
  /** `"ddp"` (default): replicated weights, sharded rollouts and gradients, averaged update. */
  strategy?: string;
  /** Compare the replicas' weight hashes every this many steps (default 1; 0 = never). */
  hashCheckSteps?: number;
}

/**
 * How to start a worker: the compiled `worker.js` next to this file (the installed package), or,
 * when this module runs from TypeScript sources (tests, tsx), `worker.ts` through a small bootstrap
 * that registers tsx's loader inside the new thread.
 */
function workerEntry(): { script: URL; workerData?: { tsWorker: string } } {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return { script: new URL("./worker.js", here) };
  return { script: new URL("./tsx-worker.mjs", here), workerData: { tsWorker: new URL("./worker.ts", here).href } };
}

function hasPackage(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Splits `n` items into `parts` contiguous index ranges whose sizes differ by at most one. */
function evenRanges(n: number, parts: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let k = 0; k < parts; k++) {
    const size = Math.floor(n / parts) + (k < n % parts ? 1 : 0);
    out.push([start, start + size]);
    start += size;
  }
  return out;
}

/**
 * How many of `n` new rows each worker gets, given the rows it still has to sample (`pending`):
 * row by row to the worker with the fewest rows then (ties: the lower index), i.e. idle workers are
 * filled first and the pending rows end up as even as they can be.
 */
export function shareByLoad(n: number, pending: readonly number[]): number[] {
  const load = [...pending];
  const counts = pending.map(() => 0);
  for (let row = 0; row < n; row++) {
    let k = 0;
    for (let j = 1; j < load.length; j++) if (load[j] < load[k]) k = j;
    load[k] += 1;
    counts[k] += 1;
  }
  return counts;
}

/** A worker thread and its pending requests. */
class WorkerClient {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private failure?: GrpoError;

  constructor(readonly index: number, env: NodeJS.ProcessEnv) {
    const entry = workerEntry();
    this.worker = new Worker(entry.script, { workerData: entry.workerData, env });
    this.worker.on("message", (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new GrpoError("distributed_failed", `Distributed worker ${this.index} failed: ${reply.error.message}`, { field: `worker ${this.index}` }));
    });
    const fail = (why: string, cause?: unknown) => {
      this.failure = new GrpoError("distributed_failed", `Distributed worker ${this.index} ${why}.`, {
        field: `worker ${this.index}`, fix: "the replicas are no longer in step: create a new DistributedTrainer (or resume from the last checkpoint).", cause,
      });
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    this.worker.on("error", (error) => fail(`crashed (${(error as Error).message})`, error));
    this.worker.on("exit", (code) => fail(`exited (code ${code})`));
  }

  request<T>(message: WorkerRequestBody, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  async terminate(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}

/** Data-parallel GRPO over worker threads. Create with {@link DistributedTrainer.create}; `close()` when done. */
export class DistributedTrainer extends GRPOTrainer {
  /** Number of replicas that compute (worker threads). */
  readonly numWorkers: number;
  readonly strategy = "ddp" as const;
  /** Steps between replica weight-hash checks (0 = never). */
  readonly hashCheckSteps: number;
  /** The hash all replicas agreed on at the last check. */
  lastWeightsHash?: string;
  private workers: WorkerClient[] = [];
  /** Rows sent to each worker for sampling and not answered yet (its sampling load). */
  private pendingRows: number[] = [];

  private constructor(init: TrainerInit, numWorkers: number, hashCheckSteps: number) {
    super(init);
    this.numWorkers = numWorkers;
    this.hashCheckSteps = hashCheckSteps;
  }

  /**
   * Starts the workers, makes each an exact replica of the agent's policy (and of the optimizer and
   * reference model), and routes the policy's sampling through them.
   */
  static override async create(options: DistributedTrainerOptions): Promise<DistributedTrainer> {
    const { numWorkers, gpus } = resolveParallelism(options);
    const hashCheckSteps = checkedHashSteps(options.hashCheckSteps);
    const trainer = new DistributedTrainer(await GRPOTrainer.prepare(options, "DistributedTrainer.create"), numWorkers, hashCheckSteps);
    return DistributedTrainer.launch(trainer, gpus);
  }

  /**
   * Continues a run from a checkpoint (as {@link GRPOTrainer.resume}, exactly) on workers: the
   * replicas start from the checkpoint's weights, optimizer moments and reference model.
   */
  static override async resume(target: string, options: ResumeOptions & DistributedParallelism): Promise<DistributedTrainer> {
    const { numWorkers, gpus } = resolveParallelism(options);
    const hashCheckSteps = checkedHashSteps(options.hashCheckSteps);
    const trainer = await GRPOTrainer.restore(target, options, (init) => new DistributedTrainer(init, numWorkers, hashCheckSteps));
    return DistributedTrainer.launch(trainer, gpus);
  }

  /** Starts a new trainer's workers; on failure closes whatever started and rethrows. */
  private static async launch(trainer: DistributedTrainer, gpus: boolean): Promise<DistributedTrainer> {
    try {
      await trainer.startWorkers(gpus);
    } catch (error) {
      await trainer.close();
      throw error;
    }
    return trainer;
  }

  private async startWorkers(gpus: boolean): Promise<void> {
    // Every replica must run the same backend for bit-identical updates.
    const backend = gpus ? "tensorflow-gpu" : tf.getBackend() === "tensorflow" ? "tensorflow" : tf.getBackend();
    this.workers = Array.from({ length: this.numWorkers }, (_, k) => new WorkerClient(k, { ...process.env, GRPO_BACKEND: backend }));
    this.pendingRows = this.workers.map(() => 0);
    const model = this.policy.model;
    const init: ReplicaInit = {
      modelConfig: model.config,
      params: await toArrays(model.params),
      tokenizerFiles: this.policy.tokenizer.toFiles(),
      optimizer: this.optimizer.options,
      optimizerState: await this.optimizer.getState(),
      reference: this.reference ? await toArrays(this.reference) : undefined,
    };
    await Promise.all(this.workers.map((w) => w.request({ type: "init", init })));
    this.policy.sampler = Object.assign(
      (request: SampleRequest, _signal?: AbortSignal, onRows?: (part: SampledRows) => void) => this.sampleOnWorkers(request, onRows),
      { encodesChats: true, pipelined: true },
    );
    await this.checkReplicas();
  }

  /**
   * Splits a sampling batch by rows across the workers by load ({@link shareByLoad}: contiguous row
   * ranges, in worker order) and hands each worker's rows to `onRows` as soon as that worker is
   * done; resolves to all rows in row order. Several batches may be in flight (the policy does not
   * wait for one before flushing the next); each worker samples its requests one at a time. The
   * workers also encode their rows' conversations (`encodesChats`), in parallel: on the
   * coordinating thread that was serial time between turns.
   */
  private async sampleOnWorkers(request: SampleRequest, onRows?: (part: SampledRows) => void): Promise<GenerateResult[]> {
    const counts = shareByLoad(request.rowSeeds.length, this.pendingRows);
    let start = 0;
    const parts = counts.map((count, k) => {
      const [a, b] = [start, start + count];
      start = b;
      if (count === 0) return Promise.resolve([]);
      this.pendingRows[k] += count;
      return this.workers[k].request<GenerateResult[]>({ type: "sample", request: sliceSampleRequest(request, a, b) }).then((results) => {
        this.pendingRows[k] -= count;
        onRows?.({ rows: results.map((_, j) => a + j), results });
        return results;
      }, (error: unknown) => {
        this.pendingRows[k] -= count;
        throw error;
      });
    });
    return (await Promise.all(parts)).flat();
  }

  protected override microBatchCount(needed: number): number {
    return Math.max(needed, this.numWorkers);
  }

  /** Shards the step's micro-batches over the workers (contiguous, balanced by count). */
  protected override async openPasses(batches: PaddedBatch[], temperature: number): Promise<StepPasses> {
    const loss: PassLossOptions = {
      epsilon: this.config.epsilon, epsilonHigh: this.config.epsilonHigh, beta: this.config.beta,
      importanceSamplingLevel: this.config.importanceSamplingLevel, numIterations: this.config.numIterations,
    };
    const ranges = evenRanges(batches.length, this.workers.length);
    await Promise.all(this.workers.map((w, k) => w.request({ type: "prepare", batches: batches.slice(...ranges[k]), loss, temperature })));
    return {
      pass: async () => {
        const replies = await Promise.all(this.workers.map((w) => w.request<PassReply>({ type: "pass" })));
        // Sum the shards in worker order (a fixed order: the same inputs give the same sum).
        let sums = emptySums();
        const names = Object.keys(this.policy.model.params);
        const total: Record<string, Float32Array> = {};
        for (const name of names) total[name] = new Float32Array(replies[0].grads[name].data.length);
        for (const reply of replies) {
          sums = addSums(sums, reply.sums);
          for (const name of names) {
            const acc = total[name];
            const g = reply.grads[name].data;
            for (let i = 0; i < acc.length; i++) acc[i] += g[i];
          }
        }
        const grads = Object.fromEntries(names.map((n) => [n, tf.tensor(total[n], replies[0].grads[n].shape)]));
        return { grads, sums };
      },
      // Settled, not all: a crashed worker must not hide the error that ended the step.
      release: async () => {
        await Promise.allSettled(this.workers.map((w) => w.request({ type: "release" })));
      },
    };
  }

  /** Every worker applies the update the coordinator just applied. */
  protected override async afterUpdate(grads: Record<string, tf.Tensor>, lr: number): Promise<void> {
    const arrays = await toArrays(grads);
    await Promise.all(this.workers.map((w) => w.request({ type: "update", grads: arrays, lr })));
  }

  /** One GRPO step (see GRPOTrainer.step), then the replica check when it is due. */
  override async step(options: { signal?: AbortSignal } = {}): Promise<StepReport> {
    if (this.workers.length === 0) {
      throw new GrpoError("invalid_argument", "This DistributedTrainer was closed.", {
        fix: "create a new one (or `DistributedTrainer.resume` from a checkpoint); `trainer.agent` keeps the trained weights.",
      });
    }
    const report = await super.step(options);
    if (this.hashCheckSteps > 0 && this.stepCount % this.hashCheckSteps === 0) await this.checkReplicas();
    return report;
  }

  /**
   * Compares the weight hash of every replica with the coordinator's; throws a `distributed_failed`
   * GrpoError naming the replicas that differ. Returns the common hash.
   */
  async checkReplicas(): Promise<string> {
    const own = await weightsHash(this.policy.model.params);
    const hashes = await Promise.all(this.workers.map((w) => w.request<string>({ type: "hash" })));
    const differing = hashes.map((h, k) => (h === own ? -1 : k)).filter((k) => k >= 0);
    if (differing.length > 0) {
      throw new GrpoError("distributed_failed", `The weights of worker(s) ${differing.join(", ")} differ from the coordinator's after step ${this.stepCount}.`, {
        field: "replicas", value: { coordinator: own, workers: hashes },
        fix: "the replicas must run the same backend and receive the same updates; resume from the last checkpoint with a new DistributedTrainer.",
      });
    }
    this.lastWeightsHash = own;
    return own;
  }

  /** Frees the optimizer and reference tensors and stops the workers (prefer `await close()`). */
  override dispose(): void {
    super.dispose();
    void this.close();
  }

  /** Stops the worker threads; the agent samples locally again. Idempotent. */
  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    if (this.policy.sampler) this.policy.sampler = undefined;
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function checkedHashSteps(value: number | undefined): number {
  const steps = value ?? 1;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new GrpoError("invalid_config", "`hashCheckSteps` must be a whole number ≥ 0.", {
      field: "hashCheckSteps", value: steps, expected: "an integer ≥ 0 (0 = never check)",
    });
  }
  return steps;
}

function resolveParallelism(options: DistributedParallelism): { numWorkers: number; gpus: boolean } {
  const strategy = options?.strategy ?? "ddp";
  if (!(DISTRIBUTED_STRATEGIES as readonly string[]).includes(strategy)) {
    throw new GrpoError("invalid_config", `Distributed strategy \`${strategy}\` is not supported.`, {
      field: "strategy", value: strategy,
      expected: `"ddp" (data parallel: every worker holds the whole model; rollouts and gradients are sharded, one averaged update)`,
      fix: strategy === "deepspeed"
        ? "use `strategy: \"ddp\"`. DeepSpeed (ZeRO sharding of optimizer state and weights) is a PyTorch library and has no TensorFlow.js counterpart here; the models this library trains fit one replica per worker."
        : "use `strategy: \"ddp\"`.",
    });
  }
  if (options.numWorkers !== undefined && options.numGpus !== undefined) {
    throw new GrpoError("invalid_config", "Give `numWorkers` or `numGpus`, not both.", {
      field: "numGpus", value: options.numGpus, fix: "`numWorkers` for CPU worker threads, `numGpus` for one worker per GPU.",
    });
  }
  const count = (field: "numWorkers" | "numGpus", value: number) => {
    if (!Number.isInteger(value) || value < 1) {
      throw new GrpoError("invalid_config", `\`${field}\` must be a whole number ≥ 1.`, { field, value, expected: "an integer ≥ 1" });
    }
    return value;
  };
  if (options.numGpus !== undefined) {
    const n = count("numGpus", options.numGpus);
    if (!hasPackage("@tensorflow/tfjs-node-gpu")) {
      throw new GrpoError("backend_unavailable", "`numGpus` needs the TensorFlow GPU backend, which is not installed.", {
        field: "numGpus", value: n, expected: "`@tensorflow/tfjs-node-gpu` installed (CUDA machine)",
        fix: "`npm install @tensorflow/tfjs-node-gpu` on a CUDA machine, or use `numWorkers` for CPU worker threads.",
      });
    }
    return { numWorkers: n, gpus: true };
  }
  return { numWorkers: count("numWorkers", options.numWorkers ?? 2), gpus: false };
}
