// The PyTorch reference as a long-lived child process (bench/torch_reference.py), one JSON request
// per line. Keeping it alive lets the benchmark alternate our measurements with PyTorch's (A/B/A/B)
// without paying PyTorch's import time at every switch; while one side runs, the other waits idle.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ModelConfig } from "../../src/model/config.js";

export const PYTHON = "/usr/bin/python3";
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "torch_reference.py");

/** Debian packages the PyTorch side needs, each with a check that it is usable. */
const NEEDS = [
  { pkg: "python3-torch", ok: () => pyImports("torch") },
  { pkg: "python3-numpy", ok: () => pyImports("numpy") },
  // Without it Debian's torch and numpy fall back to the netlib reference BLAS (~4 GFLOP/s).
  { pkg: "libopenblas0-pthread", ok: () => dpkgInstalled("libopenblas0-pthread") },
];

function pyImports(mod: string): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ["-c", `import ${mod}`], { stdio: "ignore" }).status === 0;
}

function dpkgInstalled(pkg: string): boolean {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

/** The missing Debian packages and the exact command that installs them (empty when all present). */
export function missingSetup(): { packages: string[]; command: string } {
  const packages = NEEDS.filter((n) => !n.ok()).map((n) => n.pkg);
  return { packages, command: `sudo apt-get update && sudo apt-get -o DPkg::Lock::Timeout=600 install -y ${packages.join(" ")}` };
}

/** What the reference reports about itself. */
export interface TorchInfo {
  python: string;
  torch: string;
  numpy: string;
  threads: number;
  blas: string[];
}

/** One PyTorch reference process with a fixed thread count. */
export class TorchReference {
  readonly threads: number;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];
  private stderr = "";

  constructor(threads: number) {
    this.threads = threads;
    this.child = spawn(PYTHON, [SCRIPT], { env: { ...process.env, BENCH_THREADS: String(threads) } });
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    createInterface({ input: this.child.stdout }).on("line", (line) => this.waiting.shift()?.(line));
    this.child.on("exit", (code) => {
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ ok: false, error: `python exited (${code}): ${this.stderr}` }));
    });
  }

  private async request<T>(body: Record<string, unknown>): Promise<T> {
    const line = await new Promise<string>((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin.write(`${JSON.stringify(body)}\n`);
    });
    const reply = JSON.parse(line) as { ok: boolean; error?: string } & T;
    if (!reply.ok) throw new Error(`PyTorch reference (${String(body.cmd)}): ${reply.error}`);
    return reply;
  }

  hello(): Promise<TorchInfo> {
    return this.request<TorchInfo>({ cmd: "hello" });
  }

  /** Best GFLOP/s of an n×n float32 product with numpy (its BLAS) and torch. */
  sgemm(n: number, iters: number): Promise<{ numpyGflops: number; torchGflops: number }> {
    return this.request({ cmd: "sgemm", n, iters });
  }

  /** Wall times (ms) of train steps: forward, -mean token log-prob, backward, AdamW. */
  async train(config: ModelConfig, batch: number, steps: number, iters: number, warmup = 0): Promise<number[]> {
    return (await this.request<{ times: number[] }>({ cmd: "train", config, batch, steps, iters, warmup })).times;
  }

  /** Wall times (ms) of KV-cache sampling runs of `newTokens` tokens for `batch` rows. */
  async sample(config: ModelConfig, batch: number, prompt: number, newTokens: number, iters: number, warmup = 0): Promise<number[]> {
    return (await this.request<{ times: number[] }>({ cmd: "sample", config, batch, prompt, newTokens, iters, warmup })).times;
  }

  close(): void {
    this.child.stdin.end();
  }
}
