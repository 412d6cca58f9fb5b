/**
 * `grpo worker --redis <url>`: a rollout worker for multi-machine training. It samples completions
 * for the jobs a trainer's RedisRollouts puts on the queue, with the weights version each job names,
 * until stopped (Ctrl-C / SIGTERM finish the current job first).
 */
import type { Command } from "commander";
import { startRolloutWorker } from "../training/distributed/redis-rollouts.js";

/** Adds `worker` to the `grpo` program. */
export function registerWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("process rollout jobs from a Redis (BullMQ) queue for a distributed trainer")
    .requiredOption("--redis <url>", "the Redis server, e.g. redis://127.0.0.1:6379")
    .option("--queue <name>", "queue name (the trainer's `queueName`)", "grpo-rollouts")
    .option("--lock-ms <n>", "job lock duration: a worker silent this long loses its job to another", (v) => Number.parseInt(v, 10), 30_000)
    .option("--quiet", "print nothing per job")
    .action(async (opts: { redis: string; queue: string; lockMs: number; quiet?: boolean }) => {
      const log = (line: string) => { if (!opts.quiet || line.startsWith("ready")) console.log(`grpo worker: ${line}`); };
      const worker = await startRolloutWorker({
        redisUrl: opts.redis, queueName: opts.queue, lockDurationMs: opts.lockMs, stalledIntervalMs: Math.max(500, Math.floor(opts.lockMs / 2)), log,
      });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await worker.close();
    });
}
