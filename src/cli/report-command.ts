/**
 * `grpo report <run-dir> [--out file.html]`: one self-contained HTML report of a training run
 * (interactive charts of every logged metric, the reward breakdown over time, a browser of the
 * logged trajectory groups; see kernel/report.ts). Works offline: nothing is fetched when it opens.
 */
import path from "node:path";
import type { Command } from "commander";

/** Where the command prints (tests pass their own). */
export interface ReportCommandIO {
  out(line: string): void;
}

/** Writes the report of `runDir`; returns the file written. Errors are GrpoErrors with the fix. */
export async function reportCommand(runDir: string, options: { out?: string }, io: ReportCommandIO = { out: (l) => console.log(l) }): Promise<string> {
  const { writeReport } = await import("../../kernel/report.js");
  const started = performance.now();
  const { file, bytes, summary } = await writeReport(runDir, options.out);
  const seconds = (performance.now() - started) / 1000;
  for (const note of summary.notes) io.out(`note: ${note}`);
  io.out(`Wrote ${path.resolve(file)} (${(bytes / 2 ** 20).toFixed(1)} MiB: ${summary.charts} charts of ${summary.steps} steps, ` +
    `${summary.groups} trajectory groups from ${summary.trajectorySteps} steps) in ${seconds.toFixed(1)} s. Open it in a browser; it needs no network.`);
  return file;
}

/** Adds `report` to the `grpo` program. */
export function registerReportCommand(program: Command, io?: ReportCommandIO): void {
  program
    .command("report")
    .description("write one self-contained HTML report of a run folder: charts of every metric, reward breakdown, trajectory browser")
    .argument("<run-dir>", "the run folder (`runDir` of the trainer, `grpo train --run-dir`)")
    .option("--out <file>", "the HTML file to write (default: <run-dir>/report.html)")
    .action(async (runDir: string, opts: { out?: string }) => {
      await reportCommand(runDir, opts, io);
    });
}
