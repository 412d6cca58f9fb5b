/**
 * Multi-machine rollouts on a Redis-backed BullMQ queue.
 *
 * The trainer keeps the environment, the rewards and the optimizer; what is expensive and
 * stateless, sampling completions from the policy, becomes queue jobs. Each sampling batch of a
 * step is split into jobs of `rowsPerJob` rows; any number of `grpo worker --redis <url>` processes
 * (on any machine that reaches Redis) take jobs, sample them with the weights version the job names,
 * and return the tokens. The trainer waits for every job of the batch and joins the results in row
 * order.
 *
 * - Versioned weights: before a batch, the trainer publishes its current weights (safetensors bytes
 *   under `grpo:<queue>:weights:<version>`) when they changed since the last batch; every job names
 *   that version, and a worker samples with exactly that version (it reloads when a job names
 *   another). A result that carries any other version is rejected and its rows are sampled again:
 *   stale-weight results never reach the loss (no importance weighting is needed).
 * - At-least-once execution, exactly-once collection: a worker that dies mid-job stops renewing its
 *   job lock; BullMQ's stalled-job check moves the job back to the queue and another worker runs it.
 *   Each row samples from its own seed, so the rerun returns the very tokens the dead worker would
 *   have; the trainer takes one result per job id, so no trajectory is lost or counted twice.
 */
import { createHash, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { Queue, QueueEvents, Worker, type Job } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import * as tf from "@tensorflow/tfjs";
import { GrpoError } from "../../core/errors.js";
import { selectBackend } from "../../model/backend.js";
import type { ModelConfig } from "../../model/config.js";
import type { GenerateResult } from "../../model/generate.js";
import { sampleLocally, sliceSampleRequest, type SampleRequest, type TfPolicy } from "../../model/policy.js";
import { parseSafetensors, serializeSafetensors, type SafetensorsInput } from "../../model/safetensors.js";
import { ChatTokenizer, type TokenizerFiles } from "../../model/tokenizer.js";
import { Transformer } from "../../model/transformer.js";

/** Where the queue lives. */
export interface RedisQueueOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  redisUrl: string;
  /** Queue name (default `grpo-rollouts`); trainer and workers must use the same. */
  queueName?: string;
}

/** Options of {@link RedisRollouts.connect}. */
export interface RedisRolloutOptions extends RedisQueueOptions {
  /** Rows (completions) per job (default 4): smaller jobs spread better, larger ones batch better. */
  rowsPerJob?: number;
  /** How many times a job that failed in a worker is tried again (default 3). */
  attempts?: number;
  /** Give up on a batch after this long without all results (default 10 minutes). */
  timeoutMs?: number;
}

/** A sampling job. */
interface SampleJobData {
  /** The trainer's run id: weights live under `grpo:<queue>:weights:<run>:<version>`. */
  run: string;
  version: number;
  request: SampleRequest;
}

/** What a worker returns for a job. */
export interface SampleJobResult {
  /** The weights version the rows were sampled with. */
  version: number;
  results: GenerateResult[];
  /** Which worker ran it (`host:pid`). */
  worker: string;
}

const DEFAULT_QUEUE = "grpo-rollouts";

/** BullMQ connection options from a `redis://` URL. */
export function redisConnection(redisUrl: string): RedisOptions {
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch (cause) {
    throw new GrpoError("invalid_argument", "Not a Redis URL.", { field: "redis", value: redisUrl, expected: "redis://host:port (e.g. redis://127.0.0.1:6379)", cause });
  }
  if (url.protocol !== "redis:") {
    throw new GrpoError("invalid_argument", "Not a Redis URL.", { field: "redis", value: redisUrl, expected: "redis://host:port (e.g. redis://127.0.0.1:6379)" });
  }
  const db = url.pathname.length > 1 ? Number.parseInt(url.pathname.slice(1), 10) : 0;
  return {
    host: url.hostname || "127.0.0.1",
    port: url.port ? Number.parseInt(url.port, 10) : 6379,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    maxRetriesPerRequest: null, // required by BullMQ workers
  };
}

/**
 * Connects once, without retries, and pings: an unreachable or refusing server is a clear error now
 * instead of ioredis retrying forever while printing "Unhandled error event".
 */
async function assertRedisReachable(connection: RedisOptions, redisUrl: string): Promise<void> {
  const probe = new Redis({ ...connection, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  let failure: unknown;
  probe.on("error", (error: unknown) => { failure ??= error; });
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    failure ??= error;
  } finally {
    probe.disconnect();
  }
  if (failure === undefined) return;
  const reason = failure instanceof Error ? failure.message : String(failure);
  throw new GrpoError("distributed_failed", `Cannot reach Redis at ${redisUrl}: ${reason}.`, {
    field: "redis", value: redisUrl, expected: "a running Redis server at that URL",
    fix: "start one (`redis-server --port 6379`, Debian package redis-server) or pass the right URL (redis://host:port).",
    cause: failure,
  });
}

const keys = (queue: string) => ({
  model: (run: string) => `grpo:${queue}:model:${run}`,
  weights: (run: string, version: number) => `grpo:${queue}:weights:${run}:${version}`,
});

/** The trainer's side: routes a TfPolicy's sampling through the queue. */
export class RedisRollouts {
  /** The weights version jobs are sampled with now (0 before the first batch). */
  version = 0;
  /** Jobs submitted, results accepted, results rejected (stale weights). */
  readonly stats = { jobs: 0, accepted: 0, rejected: 0 };
  /** Unique per connection: job ids and weight keys never collide with another trainer's or an earlier run's. */
  readonly runId = randomUUID();
  private lastHash?: string;
  private batch = 0;
  private policy?: TfPolicy;
  private readonly names: ReturnType<typeof keys>;
  private readonly rowsPerJob: number;
  private readonly attempts: number;
  private readonly timeoutMs: number;

  private constructor(
    private readonly queue: Queue, private readonly events: QueueEvents, private readonly store: Redis, options: RedisRolloutOptions,
  ) {
    this.names = keys(queue.name);
    this.rowsPerJob = options.rowsPerJob ?? 4;
    this.attempts = options.attempts ?? 3;
    this.timeoutMs = options.timeoutMs ?? 600_000;
    if (!Number.isInteger(this.rowsPerJob) || this.rowsPerJob < 1) {
      throw new GrpoError("invalid_config", "`rowsPerJob` must be a whole number ≥ 1.", { field: "rowsPerJob", value: this.rowsPerJob, expected: "an integer ≥ 1" });
    }
  }

  /** Connects to the queue (and its event stream). */
  static async connect(options: RedisRolloutOptions): Promise<RedisRollouts> {
    const connection = redisConnection(options.redisUrl);
    await assertRedisReachable(connection, options.redisUrl);
    const name = options.queueName ?? DEFAULT_QUEUE;
    const queue = new Queue(name, { connection });
    const events = new QueueEvents(name, { connection });
    const store = new Redis(connection);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new RedisRollouts(queue, events, store, options);
  }

  /**
   * Routes `policy`'s sampling through the queue (e.g. `trainer.agent.policy`); the model and
   * tokenizer are published for the workers now, the weights before each batch.
   */
  async attach(policy: TfPolicy): Promise<void> {
    const client = this.store;
    const model = { config: policy.model.config, tokenizerFiles: policy.tokenizer.toFiles() };
    await client.set(this.names.model(this.runId), JSON.stringify(model));
    this.policy = policy;
    this.lastHash = undefined;
    policy.sampler = (request) => this.sample(request); // jobs carry token ids (no encodesChats)
  }

  /** Publishes the policy's weights as a new version when they changed since the last batch. */
  private async publishWeights(): Promise<number> {
    const policy = this.policy as TfPolicy;
    const tensors: Record<string, SafetensorsInput> = {};
    for (const [name, v] of Object.entries(policy.model.params)) {
      tensors[name] = { dtype: "F32", shape: [...v.shape], data: (await v.data()) as Float32Array };
    }
    const bytes = serializeSafetensors(tensors);
    const hash = createHash("sha256").update(bytes).digest("hex");
    if (hash === this.lastHash) return this.version;
    const client = this.store;
    const version = this.version + 1;
    await client.set(this.names.weights(this.runId, version), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    // Keep the previous version for jobs still running on it; older ones are no longer named by any job.
    if (version > 2) await client.del(this.names.weights(this.runId, version - 2));
    this.version = version;
    this.lastHash = hash;
    return version;
  }

  /** Samples a batch through the queue: one job per `rowsPerJob` rows, results joined in row order. */
  async sample(request: SampleRequest): Promise<GenerateResult[]> {
    const version = await this.publishWeights();
    const batch = ++this.batch;
    const chunks: SampleRequest[] = [];
    for (let a = 0; a < request.rowSeeds.length; a += this.rowsPerJob) chunks.push(sliceSampleRequest(request, a, a + this.rowsPerJob));
    const parts = await Promise.all(chunks.map((chunk, k) => this.runJob(`${this.runId}-v${version}-b${batch}-j${k}`, { run: this.runId, version, request: chunk })));
    return parts.flat();
  }

  /** One job, resubmitted (under a new id) while its result carries another weights version. */
  private async runJob(id: string, data: SampleJobData): Promise<GenerateResult[]> {
    for (let round = 0; ; round++) {
      const job = await this.queue.add("sample", data, {
        jobId: round === 0 ? id : `${id}-r${round}`,
        attempts: this.attempts,
        backoff: { type: "fixed", delay: 100 },
        removeOnComplete: 1000,
        removeOnFail: 1000,
      });
      this.stats.jobs += 1;
      let result: SampleJobResult;
      try {
        result = (await job.waitUntilFinished(this.events, this.timeoutMs)) as SampleJobResult;
      } catch (cause) {
        throw new GrpoError("distributed_failed", `Rollout job ${job.id} failed: ${(cause as Error)?.message ?? cause}`, {
          field: "redis queue", value: this.queue.name, cause,
          fix: "check that `grpo worker --redis <url>` processes are running against this queue and can load the model.",
        });
      }
      if (result.version === data.version && result.results.length === data.request.promptIds.length) {
        this.stats.accepted += 1;
        return result.results;
      }
      this.stats.rejected += 1;
      if (round >= this.attempts) {
        throw new GrpoError("distributed_failed", `Rollout job ${id} kept returning results of weights version ${result.version}, not ${data.version}.`, {
          field: "redis queue", value: this.queue.name, fix: "make sure every worker runs this library's `grpo worker` on the same queue.",
        });
      }
    }
  }

  /** Stops routing the policy's sampling through the queue. */
  detach(): void {
    if (this.policy) this.policy.sampler = undefined;
    this.policy = undefined;
  }

  /** Detaches, deletes this run's model and weights from Redis, and closes the connections. */
  async close(): Promise<void> {
    this.detach();
    await this.store.del(this.names.model(this.runId), this.names.weights(this.runId, this.version), this.names.weights(this.runId, this.version - 1));
    await Promise.all([this.events.close(), this.queue.close(), this.store.quit()]);
  }
}

/** Options of {@link startRolloutWorker}. */
export interface RolloutWorkerOptions extends RedisQueueOptions {
  /** How long a job's lock lasts without renewal before another worker may take it (default 30000 ms). */
  lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired (default 30000 ms). */
  stalledIntervalMs?: number;
  /** Called with one line per event (ready, job start, job done). */
  log?: (line: string) => void;
}

/** A running rollout worker: `close()` finishes the current job and disconnects. */
export interface RolloutWorker {
  readonly id: string;
  close(): Promise<void>;
}

/** The worker's side: takes sampling jobs from the queue until closed. */
export async function startRolloutWorker(options: RolloutWorkerOptions): Promise<RolloutWorker> {
  const connection = redisConnection(options.redisUrl);
  await assertRedisReachable(connection, options.redisUrl);
  const name = options.queueName ?? DEFAULT_QUEUE;
  const names = keys(name);
  const log = options.log ?? (() => undefined);
  const id = `${hostname()}:${process.pid}`;
  await selectBackend();
  const store = new Redis(connection);
  let replica: { model: Transformer; tokenizer: ChatTokenizer; run: string; version: number } | undefined;

  const worker = new Worker<SampleJobData, SampleJobResult>(name, async (job: Job<SampleJobData, SampleJobResult>) => {
    log(`start ${job.id} (version ${job.data.version}, ${job.data.request.promptIds.length} rows)`);
    const client = store;
    if (replica?.run !== job.data.run) {
      // A new trainer run: its model and tokenizer (published by `attach`).
      const json = await client.get(names.model(job.data.run));
      if (!json) throw new Error(`no model published under ${names.model(job.data.run)}: the trainer's RedisRollouts must attach a policy first`);
      const model = JSON.parse(json) as { config: ModelConfig; tokenizerFiles: TokenizerFiles };
      replica?.model.dispose();
      replica = {
        model: Transformer.init(model.config, { seed: 0 }),
        tokenizer: ChatTokenizer.fromJSON(model.tokenizerFiles["tokenizer.json"], model.tokenizerFiles["tokenizer_config.json"]),
        run: job.data.run,
        version: 0,
      };
    }
    if (replica.version !== job.data.version) {
      const key = names.weights(job.data.run, job.data.version);
      const bytes = await client.getBuffer(key);
      if (!bytes) throw new Error(`weights version ${job.data.version} is no longer published`);
      const { tensors } = parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), key);
      for (const [n, v] of Object.entries(replica.model.params)) {
        const t = tensors[n];
        if (!t) throw new Error(`weights version ${job.data.version} lacks ${n}`);
        tf.tidy(() => v.assign(tf.tensor(t.data as Float32Array, t.shape, "float32")));
      }
      replica.version = job.data.version;
    }
    const results = await sampleLocally(replica.model, replica.tokenizer, job.data.request);
    log(`done ${job.id}`);
    return { version: replica.version, results, worker: id };
  }, {
    connection,
    concurrency: 1, // one replica, one core: jobs run one at a time
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: 3, // a live but slow worker may lose its lock a few times; a dead one loses its job at the first check
  });
  await worker.waitUntilReady();
  log(`ready ${id} (backend ${tf.getBackend()}, queue ${name})`);
  return {
    id,
    close: async () => {
      await worker.close();
      await store.quit();
      replica?.model.dispose();
    },
  };
}
