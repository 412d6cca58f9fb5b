/**
 * Writes the seeded synthetic chat corpus as JSONL (one conversation per line).
 *
 *     npx tsx scripts/corpus/cli.ts --seed 1 --conversations 20000 --out data/corpus.jsonl
 *
 * Flags:
 *   --seed <int>            corpus seed, any safe integer (default 1); the same seed gives a
 *                           byte-identical file
 *   --conversations <int>   how many conversations, 1 to 10 000 000 (default 20000)
 *   --start <int>           index of the first conversation (default 0); shards written with
 *                           consecutive ranges concatenate to the unsharded file
 *   --out <path>            the JSONL file to write (default data/corpus.jsonl; folders are created;
 *                           written to `<path>.tmp` first, then renamed)
 *   --text <path>           also write the ChatML pretraining text (`renderForPretraining` of each
 *                           conversation, one blank line between conversations)
 *   --quiet                 print nothing but errors
 *
 * Each line is a `CorpusConversation`: `{ id, domain, quality, messages, meta }`, messages in the
 * library's ChatMessage shape (`toolCalls`, `name`) plus `meta.quality` on assistant messages.
 * The command prints the counts per domain and quality and the mean length when done.
 */
import { closeSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Command, CommanderError } from "commander";
import { GrpoError } from "../../src/core/errors.js";
import {
  CorpusStatsCollector,
  DOMAINS,
  iterateCorpus,
  QUALITIES,
  renderForPretraining,
  resolveCorpusOptions,
  type CorpusStats,
} from "./generate.js";

/** What one run of the command did. */
export interface CorpusCliResult {
  /** Absolute path of the JSONL file written. */
  out: string;
  /** Absolute path of the ChatML text file written, if `--text` was given. */
  text?: string;
  /** Counts and lengths of what was written. */
  stats: CorpusStats;
  /** Wall-clock seconds. */
  seconds: number;
}

/** Buffers lines and writes them to a file descriptor in large chunks. */
class ChunkedWriter {
  private parts: string[] = [];
  private size = 0;

  constructor(private readonly fd: number) {}

  write(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size > 1 << 20) this.flush();
  }

  flush(): void {
    if (this.parts.length > 0) writeSync(this.fd, this.parts.join(""));
    this.parts = [];
    this.size = 0;
  }
}

/** Opens `<path>.tmp` for writing (creating folders); `commit()` renames it into place. */
function openAtomic(path: string): { writer: ChunkedWriter; commit: () => void } {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w");
  const writer = new ChunkedWriter(fd);
  return {
    writer,
    commit: () => {
      writer.flush();
      closeSync(fd);
      renameSync(tmp, path);
    },
  };
}

function integerFlag(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n)) {
      throw new GrpoError("invalid_argument", `The flag ${flag} needs an integer.`, {
        field: flag,
        value,
        expected: "an integer, e.g. 20000",
      });
    }
    return n;
  };
}

function percent(count: number, total: number): string {
  return `${((100 * count) / Math.max(1, total)).toFixed(1)}%`;
}

/** A short human-readable summary of a corpus's stats. */
export function formatCorpusStats(stats: CorpusStats): string {
  const n = stats.conversations;
  const domains = DOMAINS.map((d) => `${d} ${percent(stats.byDomain[d], n)}`).join(", ");
  const qualities = QUALITIES.map((q) => `${q} ${percent(stats.byQuality[q], n)}`).join(", ");
  return [
    `${n} conversations, ${stats.meanWords.toFixed(1)} words on average (${stats.minWords}-${stats.maxWords})`,
    `domains:   ${domains}`,
    `qualities: ${qualities}`,
  ].join("\n");
}

/**
 * Runs the command with `argv` (as `process.argv`: node, script, flags…). Resolves with what it wrote;
 * throws a GrpoError for invalid flags.
 */
export async function runCorpusCli(argv: readonly string[]): Promise<CorpusCliResult> {
  const program = new Command()
    .name("corpus")
    .description("Write the seeded synthetic chat corpus (JSONL) for pretraining the built-in policy.")
    .option("--seed <int>", "corpus seed (same seed, same bytes)", integerFlag("--seed"), 1)
    .option("--conversations <int>", "number of conversations", integerFlag("--conversations"), 20_000)
    .option("--start <int>", "index of the first conversation", integerFlag("--start"), 0)
    .option("--out <path>", "JSONL file to write", "data/corpus.jsonl")
    .option("--text <path>", "also write the ChatML pretraining text here")
    .option("--quiet", "print nothing but errors", false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.parse([...argv]);
  const flags = program.opts<{ seed: number; conversations: number; start: number; out: string; text?: string; quiet: boolean }>();
  const options = resolveCorpusOptions({ seed: flags.seed, conversations: flags.conversations, start: flags.start });

  const began = performance.now();
  const out = resolve(flags.out);
  const text = flags.text === undefined ? undefined : resolve(flags.text);
  const jsonl = openAtomic(out);
  const chatml = text === undefined ? undefined : openAtomic(text);
  // Stats are accumulated while streaming, so memory stays flat whatever the corpus size.
  const collector = new CorpusStatsCollector();
  let first = true;
  for (const conversation of iterateCorpus(options)) {
    jsonl.writer.write(`${JSON.stringify(conversation)}\n`);
    chatml?.writer.write(`${first ? "" : "\n"}${renderForPretraining(conversation)}`);
    first = false;
    collector.add(conversation);
  }
  jsonl.commit();
  chatml?.commit();
  const stats = collector.result();
  const seconds = (performance.now() - began) / 1000;
  if (!flags.quiet) {
    const size = (statSync(out).size / 1e6).toFixed(1);
    process.stdout.write(`${formatCorpusStats(stats)}\nwrote ${out} (${size} MB)${text ? ` and ${text}` : ""} in ${seconds.toFixed(1)} s\n`);
  }
  return text === undefined ? { out, stats, seconds } : { out, text, stats, seconds };
}

// Run when executed directly (`tsx scripts/corpus/cli.ts …`), not when imported by tests.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runCorpusCli(process.argv).catch((error: unknown) => {
    if (error instanceof CommanderError) process.exitCode = error.exitCode;
    else {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  });
}
