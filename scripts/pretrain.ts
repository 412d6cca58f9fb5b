/**
 * Pretrains the built-in chat policy `builtin:tiny-chat`, reproducibly from a seed.
 *
 *     npm run pretrain                      # the shipped model (preset induction), ~30 min on 2 cores
 *     npm run pretrain -- --preset plain    # the model shipped before 28 Nov 2026, ~25 min
 *     npm run pretrain -- --preset copy     # the copy recipe (docs/copying.md), ~45 min on 2 cores
 *     npm run pretrain -- --quick           # a ~10-second smoke run into runs/tiny-chat-quick
 *
 * Flags:
 *   --seed <int>            master seed: corpus, tokenizer ties, initialisation, data order (default 1)
 *   --conversations <int>   corpus size; 2% is held out (default 20000; quick 400)
 *   --steps <int>           optimizer steps of the main schedule (default: the preset's: induction
 *                           2400, plain 1600, copy 5000; quick 30)
 *   --out <dir>             the model folder to write (default models/tiny-chat for the default
 *                           preset, runs/tiny-chat-<preset> for the others; quick runs/tiny-chat-quick)
 *   --backend <name>        tfjs backend (default wasm: the one the shipped weights' hash is for)
 *   --preset <name>         induction (default: the shipped model: a previous-token embedding, 30%
 *                           call-drill and 10% induction rows, 2400 steps, then a 40 + 120-step
 *                           episode drill, 2 threads), plain (no drills, 1600 steps, one thread: the
 *                           model shipped before) or copy (plain's model, 5000 steps with 30%
 *                           call-drill rows and a 40-step episode drill, ~44 min); docs/copying.md
 *   --threads <int>         threads computing each step's gradient, this one included (default: the
 *                           preset's); the summation order, hence the weights' last bits, depend on it
 *   --episode-drill-steps <list>  steps of each episode-drill stage after the main schedule,
 *                           comma-separated, 0 for none (default: the preset's: induction 40,120,
 *                           plain none, copy 40)
 *   --quick                 a tiny model, few steps: checks the whole path in ~10 seconds
 *   --no-repro-check        skip running `--quick` twice to check reproducibility (full runs only;
 *                           the check takes ~30 s and its result goes into the model card)
 *
 * Steps, in order (each a small function below):
 *   1. generate the corpus in memory and split it by conversation (every 50th held out);
 *   2. train the byte-level BPE tokenizer on the training split (built-in special tokens, ChatML);
 *   3. train a small GPT with next-token cross-entropy on conversation-aligned packed rows (rows of
 *      128 positions first, then 256: see TrainingPhase), some from a drill (`toolDrill`), AdamW,
 *      warmup + cosine, gradient clipping, each step's gradient computed in shards on `--threads`
 *      threads (scripts/pretrain/parallel.ts); then the short episode-drill stages (`episodeDrills`); a
 *      progress bar on stderr, loss lines every few steps, held-out perplexity a few times and at the end;
 *   4. write the HF folder (config.json, model.safetensors, tokenizer files, generation_config.json),
 *      then training_log.json and the model card README.md, with greedy and sampled completions for
 *      the examples' prompts; reload the folder and check it reproduces the held-out sample figure.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import cliProgress from "cli-progress";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { GrpoError } from "../src/core/errors.js";
import { Rng } from "../src/core/rng.js";
import { selectBackend, type BackendName } from "../src/model/backend.js";
import { BUILTIN_SPECIAL_TOKENS, builtinTokenizerConfig, trainBPE } from "../src/model/bpe-trainer.js";
import type { ModelConfig } from "../src/model/config.js";
import { ChatTokenizer } from "../src/model/tokenizer.js";
import { Transformer } from "../src/model/transformer.js";
import { loadModelFolder, saveModelFolder } from "../src/model/weights.js";
import { AdamW } from "../src/training/optimizer.js";
import { learningRateAt } from "../src/training/config.js";
import { corpusStats, generateCallDrillConversation, generateCorpus, generateDrillConversation, renderForPretraining, type CorpusConversation } from "./corpus/generate.js";
import { copyProbe, describeCopyProbe, inductionProbe, inductionRows, type InductionRow } from "./pretrain/copy-probe.js";
import { describeDrillSteps, renderModelCard } from "./pretrain/card.js";
import { conversationTokens, HELD_OUT_EVERY, isHeldOut, makeBatch, RowPacker, type EvalConversation } from "./pretrain/data.js";
import type { LossPoint, PerplexityFigure, ReproducibilityCheck, TrainingLog } from "./pretrain/log.js";
import { evaluate } from "./pretrain/loop.js";
import { DataParallelSteps } from "./pretrain/parallel.js";
import { describeBehaviour } from "./pretrain/samples.js";

// ---------------------------------------------------------------------------------------------
// Presets

/**
 * A stretch of training at one row length (a sequence-length schedule: short rows first).
 *
 * Why: on the wasm backend, attention's batched matMuls run at ~1 GFLOP/s against ~13 for the
 * dense layers, so attention, whose cost per token grows with the row length, takes most of a
 * step at 256 positions. Rows of 128 train ~1.65× more tokens per second; the format and phrasing
 * of a conversation are local and are learned as well from them, and the last phase at the full
 * context teaches long-range use (the system prompt, earlier turns) and positions 128–255.
 */
export interface TrainingPhase {
  /** Fraction of the steps spent in this phase (the fractions sum to 1). */
  fraction: number;
  /** Positions per row (T ≤ nPositions). */
  rowLength: number;
  /** Rows per batch (B); tokens per step ≈ B · T. */
  batchRows: number;
}

/** One stage of the episode drill (see `PretrainPreset.episodeDrills`). */
export interface EpisodeDrillStage {
  /** Optimizer steps of this stage. */
  steps: number;
  /** Peak learning rate, decayed to 0 along a cosine over the stage. */
  learningRate: number;
  /** Episode rows per batch; the batch's other rows are corpus rows. */
  drillRows: number;
}

/** Everything that defines a run besides the seed, the corpus size and the step count. */
export interface PretrainPreset {
  /** Target vocabulary size of the BPE tokenizer. */
  vocabSize: number;
  /** Split numbers into single digits before BPE (see `TrainBPEOptions.individualDigits`). */
  individualDigits: boolean;
  /** How the model sees positions (see `ModelConfig.positionEncoding`). */
  positionEncoding: "learned" | "rotary";
  /**
   * Add the previous token's embedding to each input (`ModelConfig.previousTokenEmbedding`): the
   * model then forms in-context copying within the budget (docs/copying.md).
   */
  previousTokenEmbedding: boolean;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** Context window (P); the last phase trains on rows this long. */
  nPositions: number;
  /** The sequence-length schedule, in order; row lengths grow. */
  phases: TrainingPhase[];
  /**
   * Fraction of rows drawn from a drill stream instead of the corpus; 0 = none. The copy probe in
   * the model card measures what it buys.
   */
  toolDrill: number;
  /**
   * Which drill: `calls` (three question → calculator call pairs, `generateCallDrillConversation`:
   * dense practice at copying the user's numbers) or `episodes` (three good rounds of question, call,
   * tool result and answer, `generateDrillConversation`).
   */
  drillKind: "calls" | "episodes";
  /**
   * Fraction of rows that are induction rows instead of corpus rows: random token runs each
   * followed by its exact repeat, the loss on the repeats only (`inductionRows` in
   * scripts/pretrain/copy-probe.ts): practice at copying from context. 0 = none.
   */
  inductionRows: number;
  /**
   * Short last stages after the main schedule, in order, each with a fresh AdamW: `steps` steps at
   * the last phase's rows, the first `drillRows` of them tool-drill episodes (question, call, tool
   * result, answer) and the rest corpus rows, learning rate `learningRate` decayed to 0 along a
   * cosine. They teach the second copy (the tool's result into the answer), which the call drill
   * never shows. `[]` = none.
   */
  episodeDrills: readonly EpisodeDrillStage[];
  /**
   * Threads computing each step's gradient, this one included (`--threads` overrides it). The
   * summation order, hence the weights' last bits, depend on it: a preset keeps the count its
   * recorded build used, so that its card's command rebuilds it bit for bit.
   */
  threads: number;
  learningRate: number;
  /** Fraction of the steps spent warming up linearly. */
  warmupRatio: number;
  weightDecay: number;
  betas: [number, number];
  maxGradNorm: number;
  conversations: number;
  steps: number;
  /** Loss lines every this many steps. */
  logEvery: number;
  /** Held-out evaluations (monitoring subset) during training, besides the final one. */
  evals: number;
  /** Held-out conversations in the monitoring subset. */
  monitorConversations: number;
  /** At most this many held-out conversations in the final evaluation. */
  finalEvalConversations: number;
  /** Held-out conversations in the fixed sample the model's test recomputes. */
  sampleConversations: number;
  /** Samples per example prompt / per arithmetic prompt in the behaviour report. */
  samplesPerPrompt: number;
  toolSamples: number;
}

/**
 * `--preset plain`: the model shipped until 28 Nov 2026, and the base the other recipes change.
 * Width 128 × 3 layers × 256 positions, 2048-token vocabulary: ~0.9 M parameters, 3.6 MB as F32,
 * 1600 steps of the corpus alone on one thread. It chats but does not copy numbers from its
 * context (copy probe 13 of 143; its card is in bench/results/pretrain-plain-seed1).
 */
export const PLAIN_PRESET: PretrainPreset = {
  vocabSize: 2048,
  // Numbers as single digits: the tool agent must copy the user's numbers into its calculator call,
  // which a 0.9 M model learned not at all when " 37" (prose) and "37" (JSON) were different tokens.
  individualDigits: true,
  positionEncoding: "rotary",
  previousTokenEmbedding: false,
  nEmbd: 128,
  nLayer: 3,
  nHead: 4,
  nPositions: 256,
  phases: [
    { fraction: 0.6, rowLength: 128, batchRows: 8 },
    { fraction: 0.4, rowLength: 256, batchRows: 4 },
  ],
  toolDrill: 0,
  drillKind: "calls",
  inductionRows: 0,
  episodeDrills: [],
  threads: 1,
  learningRate: 3e-3,
  warmupRatio: 0.05,
  weightDecay: 0.1,
  betas: [0.9, 0.95],
  maxGradNorm: 1.0,
  conversations: 20_000,
  steps: 1600,
  logEvery: 10,
  evals: 3,
  monitorConversations: 64,
  finalEvalConversations: 200,
  sampleConversations: 24,
  samplesPerPrompt: 8,
  toolSamples: 8,
};

/**
 * `--preset copy`: a first recipe for a model that copies numbers (`docs/copying.md`): plain's
 * architecture and corpus, 5000 steps with 30% call-drill rows (copying the user's numbers forms
 * only after a plateau of 2800–3600 steps in the replica runs), then a 40-step episode drill, on 2
 * threads (~44 min on 2 cores). Measured on seed 1 (28 Nov 2026): held-out perplexity 1.55, copy
 * probe 94/143 later digits (plain: 13), but no in-context copying yet (repeats of random token
 * runs 24/451, chance) and a tool agent that calls right and then states a number of its own.
 */
export const COPY_PRESET: PretrainPreset = {
  ...PLAIN_PRESET,
  toolDrill: 0.3,
  drillKind: "calls",
  episodeDrills: [{ steps: 40, learningRate: 1e-3, drillRows: 2 }],
  threads: 2,
  steps: 5000,
};

/**
 * `--preset induction`, the default: the shipped model. The copy recipe on a model with a
 * previous-token embedding (`ModelConfig.previousTokenEmbedding`, 16 K more parameters) and 10%
 * induction rows, in 2400 steps instead of 5000, then two episode-drill stages (40 and 120 steps,
 * each with a fresh AdamW). In the PyTorch replica (docs/copying.md, "A previous-token embedding")
 * this combination copied the user's digits by step 1000, where the plain model had not started
 * by step 1600; the second drill stage is what lifts the tool agent past 60% (docs/copying.md).
 */
export const INDUCTION_PRESET: PretrainPreset = {
  ...COPY_PRESET,
  previousTokenEmbedding: true,
  inductionRows: 0.1,
  episodeDrills: [
    { steps: 40, learningRate: 1e-3, drillRows: 2 },
    { steps: 120, learningRate: 1e-3, drillRows: 2 },
  ],
  steps: 2400,
};

/** The recipes `--preset` names. */
export const PRESETS = { induction: INDUCTION_PRESET, plain: PLAIN_PRESET, copy: COPY_PRESET } as const;

/** A `--preset` name. */
export type PresetName = keyof typeof PRESETS;

/** The recipe `npm run pretrain` runs without `--preset`: the shipped model's, into models/tiny-chat. */
export const DEFAULT_PRESET: PresetName = "induction";

/** Tool-drill conversations the drill rows cycle through (indices of `generateDrillConversation`). */
const DRILL_CONVERSATIONS = 50_000;

/** A smoke run of the same code path: tiny model, tiny corpus, a few steps (~10 seconds). */
export const QUICK_PRESET: PretrainPreset = {
  ...PLAIN_PRESET,
  vocabSize: 512,
  nEmbd: 32,
  nLayer: 2,
  nHead: 2,
  nPositions: 128,
  phases: [
    { fraction: 0.5, rowLength: 64, batchRows: 4 },
    { fraction: 0.5, rowLength: 128, batchRows: 2 },
  ],
  toolDrill: 0.25,
  previousTokenEmbedding: true,
  inductionRows: 0.1,
  episodeDrills: [{ steps: 4, learningRate: 1e-3, drillRows: 1 }, { steps: 2, learningRate: 1e-3, drillRows: 1 }],
  threads: 2,
  conversations: 400,
  steps: 30,
  logEvery: 5,
  evals: 1,
  monitorConversations: 4,
  finalEvalConversations: 8,
  sampleConversations: 4,
  samplesPerPrompt: 2,
  toolSamples: 1,
};

/** Options of {@link pretrain}. */
export interface PretrainOptions {
  seed: number;
  /** Corpus size (default: the preset's). */
  conversations?: number;
  /** Optimizer steps (default: the preset's). */
  steps?: number;
  /** The folder to write. */
  out: string;
  quick: boolean;
  backend: BackendName;
  /** The recipe of a full run (default {@link DEFAULT_PRESET}, the shipped model; ignored by `quick`). */
  preset?: PresetName;
  /** Threads computing each step's gradient, this one included (default: the preset's; see scripts/pretrain/parallel.ts). */
  threads?: number;
  /**
   * Steps of each episode-drill stage after the main schedule (default: the preset's
   * `episodeDrills`); stage k keeps the preset's settings for stage k (or its last stage's), a 0
   * drops the stage, `[]` runs none.
   */
  episodeDrillSteps?: readonly number[];
  /** Run `--quick` twice in child processes and compare hashes (full runs). */
  reproCheck: boolean;
  /** Draw the progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sha256 = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");

async function writeFileAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, "utf8");
  await rename(tmp, file);
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** A stopwatch for the phases of the run. */
class Phases {
  readonly seconds: Record<string, number> = {};
  private readonly began = performance.now();

  async time<T>(name: string, work: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      // A phase timed more than once (the drill's stages) adds up.
      this.seconds[name] = (this.seconds[name] ?? 0) + (performance.now() - start) / 1000;
    }
  }

  get total(): number {
    return (performance.now() - this.began) / 1000;
  }
}

/** The index of the phase that step `step` (0-based) of `steps` belongs to. */
export function phaseIndexAt(phases: readonly TrainingPhase[], step: number, steps: number): number {
  let end = 0;
  for (const [k, phase] of phases.entries()) {
    end += phase.fraction * steps;
    if (step < Math.round(end)) return k;
  }
  return phases.length - 1;
}

function toFigure(result: { loss: number; perplexity: number; tokens: number; conversations: number }): PerplexityFigure {
  return { loss: result.loss, perplexity: result.perplexity, tokens: result.tokens, conversations: result.conversations };
}

// ---------------------------------------------------------------------------------------------
// The phases

/** Step 1: the corpus, split by conversation. */
function buildCorpus(seed: number, conversations: number): { train: CorpusConversation[]; heldOut: CorpusConversation[] } {
  const corpus = generateCorpus({ seed, conversations });
  return {
    train: corpus.filter((_, i) => !isHeldOut(i)),
    heldOut: corpus.filter((_, i) => isHeldOut(i)),
  };
}

/** Step 2: the tokenizer, trained on the training split's ChatML text. */
function buildTokenizer(texts: readonly string[], preset: PretrainPreset): ChatTokenizer {
  const json = trainBPE(texts, { vocabSize: preset.vocabSize, specialTokens: [...BUILTIN_SPECIAL_TOKENS], individualDigits: preset.individualDigits });
  return ChatTokenizer.fromJSON(json, builtinTokenizerConfig({ modelMaxLength: preset.nPositions }));
}

/**
 * Vocabulary size, characters per token and conversation lengths, measured on the first `texts`
 * of the training split (encoding all of it would take ~20 s).
 */
function describeTokenizer(tokenizer: ChatTokenizer, texts: readonly string[], tokensOf: (i: number) => number[]): TrainingLog["tokenizer"] {
  const lengths = texts.map((_, i) => tokensOf(i).length).sort((a, b) => a - b);
  const chars = texts.reduce((n, t) => n + t.length, 0);
  return {
    vocabSize: tokenizer.vocabSize,
    specialTokens: [...BUILTIN_SPECIAL_TOKENS],
    charsPerToken: chars / lengths.reduce((n, l) => n + l - 1, 0), // the appended <|endoftext|> is not text
    conversationTokens: {
      mean: lengths.reduce((a, b) => a + b, 0) / lengths.length,
      median: percentile(lengths, 0.5),
      p90: percentile(lengths, 0.9),
      max: lengths[lengths.length - 1],
    },
  };
}

function modelConfigFor(preset: PretrainPreset, tokenizer: ChatTokenizer): ModelConfig {
  return {
    vocabSize: tokenizer.vocabSize,
    nPositions: preset.nPositions,
    nEmbd: preset.nEmbd,
    nLayer: preset.nLayer,
    nHead: preset.nHead,
    nInner: 4 * preset.nEmbd,
    layerNormEpsilon: 1e-5,
    tieWordEmbeddings: true,
    eosTokenId: tokenizer.eosTokenId,
    ...(preset.positionEncoding === "rotary" ? { positionEncoding: "rotary" as const } : {}),
    ...(preset.previousTokenEmbedding ? { previousTokenEmbedding: true } : {}),
  };
}

/** Runs `--quick` twice in child processes and compares the weights and tokenizers they write. */
function checkReproducibility(seed: number, backend: BackendName, threads: number, say: (line: string) => void): ReproducibilityCheck {
  const started = performance.now();
  const script = fileURLToPath(import.meta.url);
  const dirs = [0, 1].map(() => mkdtempSync(path.join(os.tmpdir(), "tiny-chat-repro-")));
  try {
    for (const dir of dirs) {
      say(`reproducibility: --quick into ${dir}`);
      execFileSync(process.execPath, [...process.execArgv, script, "--quick", "--seed", String(seed), "--backend", backend, "--threads", String(threads), "--out", dir], {
        stdio: ["ignore", "ignore", "inherit"],
        env: { ...process.env, GRPO_PRETRAIN_NO_PROGRESS: "1" },
      });
    }
    const weightHashes = dirs.map((d) => sha256(path.join(d, "model.safetensors"))) as [string, string];
    const tokenizerHashes = dirs.map((d) => sha256(path.join(d, "tokenizer.json"))) as [string, string];
    return {
      command: `npm run pretrain -- --quick --seed ${seed} --backend ${backend} --threads ${threads}`,
      weightHashes,
      tokenizerHashes,
      identical: weightHashes[0] === weightHashes[1] && tokenizerHashes[0] === tokenizerHashes[1],
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** What {@link runTraining} needs. */
interface TrainingInputs {
  model: Transformer;
  optimizer: AdamW;
  /** Computes each step's gradient over the threads. */
  parallel: DataParallelSteps;
  packer: RowPacker;
  /** Rows of the tool drill, and the draw that picks them (see `PretrainPreset.toolDrill`). */
  drill: { packer: RowPacker; rng: Rng } | undefined;
  /** Induction rows and their generator (see `PretrainPreset.inductionRows`); picked by `drill.rng`. */
  induction: { make: (random: Rng, rowTokens: number) => InductionRow; rng: Rng } | undefined;
  /** Held-out conversations evaluated `preset.evals` times during training. */
  monitorSet: EvalConversation[];
  preset: PretrainPreset;
  steps: number;
  padId: number;
  say: (line: string) => void;
  /** Called after every step with the step count, its loss and the tokens per second so far. */
  onStep: (done: number, loss: number, tokensPerSecond: number) => void;
}

/** What {@link runTraining} measured. */
interface TrainingRecord {
  lossCurve: LossPoint[];
  evalHistory: TrainingLog["evalHistory"];
  stepLosses: number[];
  trainedTokens: number;
  trainSeconds: number;
  /** Induction rows drawn. */
  inductionRows: number;
}

/** Step 3: the training loop (sequence-length phases, warmup + cosine, loss lines, held-out checks). */
async function runTraining({ model, optimizer, parallel, packer, drill, induction, monitorSet, preset, steps, padId, say, onStep }: TrainingInputs): Promise<TrainingRecord> {
  const schedule = { learningRate: preset.learningRate, lrScheduler: "cosine" as const, warmupRatio: preset.warmupRatio };
  const evalSteps = new Set(Array.from({ length: preset.evals }, (_, k) => Math.round(((k + 1) * steps) / (preset.evals + 1))));
  const record: TrainingRecord = { lossCurve: [], evalHistory: [], stepLosses: [], trainedTokens: 0, trainSeconds: 0, inductionRows: 0 };
  let window = { loss: 0, gradNorm: 0, lr: 0, count: 0 };
  const started = performance.now();
  for (let step = 0; step < steps; step++) {
    const phase = preset.phases[phaseIndexAt(preset.phases, step, steps)];
    const rows: number[][] = [];
    const counted: (boolean[] | undefined)[] = [];
    for (let r = 0; r < phase.batchRows; r++) {
      // One draw per row picks its stream: drill below toolDrill, induction below toolDrill + inductionRows.
      const u = drill !== undefined ? drill.rng.next() : 1;
      if (u < preset.toolDrill && drill !== undefined) {
        rows.push(drill.packer.nextRow(phase.rowLength + 1));
        counted.push(undefined);
      } else if (u < preset.toolDrill + preset.inductionRows && induction !== undefined) {
        const { row, copied } = induction.make(induction.rng, phase.rowLength + 1);
        rows.push(row);
        counted.push(copied);
        record.inductionRows++;
      } else {
        rows.push(packer.nextRow(phase.rowLength + 1));
        counted.push(undefined);
      }
    }
    const batch = makeBatch(rows, phase.rowLength, padId, induction !== undefined ? counted : undefined);
    const lr = learningRateAt(step, steps, schedule);
    const result = await parallel.trainStep(model, optimizer, batch, lr, preset.maxGradNorm);
    await new Promise((resolve) => setImmediate(resolve)); // let the progress bar's timer run
    if (!Number.isFinite(result.loss)) throw new Error(`The training loss became ${result.loss} at step ${step + 1}; lower the learning rate.`);
    record.trainedTokens += batch.targetCount;
    record.stepLosses.push(result.loss);
    window = { loss: window.loss + result.loss, gradNorm: window.gradNorm + result.gradNorm, lr: window.lr + lr, count: window.count + 1 };
    const seconds = (performance.now() - started) / 1000;
    const done = step + 1;
    onStep(done, result.loss, record.trainedTokens / seconds);
    if (done % preset.logEvery === 0 || done === steps) {
      const point = { step: done, loss: window.loss / window.count, gradNorm: window.gradNorm / window.count, learningRate: window.lr / window.count, tokens: record.trainedTokens, seconds };
      record.lossCurve.push(point);
      window = { loss: 0, gradNorm: 0, lr: 0, count: 0 };
      say(`step ${done}/${steps}  loss ${point.loss.toFixed(4)}  grad ${point.gradNorm.toFixed(3)}  lr ${lr.toExponential(2)}  ${(record.trainedTokens / seconds).toFixed(0)} tok/s  ${seconds.toFixed(0)} s`);
    }
    if (evalSteps.has(done)) {
      const figure = toFigure(await evaluate(model, monitorSet));
      record.evalHistory.push({ step: done, ...figure });
      say(`held-out (monitor, ${figure.conversations} conversations) at step ${done}: loss ${figure.loss.toFixed(4)}, perplexity ${figure.perplexity.toFixed(3)}`);
    }
  }
  record.trainSeconds = (performance.now() - started) / 1000;
  return record;
}

/** What {@link runEpisodeDrill} needs. */
interface EpisodeDrillInputs {
  model: Transformer;
  parallel: DataParallelSteps;
  /** Corpus rows (the main phase's packer, continued). */
  packer: RowPacker;
  /** Tool-drill episode rows. */
  episodes: RowPacker;
  stage: EpisodeDrillStage;
  preset: PretrainPreset;
  padId: number;
  say: (line: string) => void;
  onStep: (done: number, loss: number) => void;
}

/**
 * Step 3b: one stage of the episode drill (see `PretrainPreset.episodeDrills`): a fresh AdamW, the
 * last phase's row shape, a fixed number of episode rows per batch, cosine decay from the stage's
 * learning rate.
 */
async function runEpisodeDrill({ model, parallel, packer, episodes, stage, preset, padId, say, onStep }: EpisodeDrillInputs): Promise<{ meanLoss: number; tokens: number; seconds: number }> {
  const { steps, learningRate, drillRows } = stage;
  const { rowLength, batchRows } = preset.phases[preset.phases.length - 1];
  const optimizer = new AdamW(model.params, { beta1: preset.betas[0], beta2: preset.betas[1], epsilon: 1e-8, weightDecay: preset.weightDecay });
  const schedule = { learningRate, lrScheduler: "cosine" as const, warmupRatio: 0 };
  const started = performance.now();
  const losses: number[] = [];
  let tokens = 0;
  try {
    for (let step = 0; step < steps; step++) {
      const rows = Array.from({ length: batchRows }, (_, r) => (r < drillRows ? episodes : packer).nextRow(rowLength + 1));
      const batch = makeBatch(rows, rowLength, padId);
      const result = await parallel.trainStep(model, optimizer, batch, learningRateAt(step, steps, schedule), preset.maxGradNorm);
      if (!Number.isFinite(result.loss)) throw new Error(`The episode drill's loss became ${result.loss} at its step ${step + 1}; lower its learning rate.`);
      losses.push(result.loss);
      tokens += batch.targetCount;
      onStep(step + 1, result.loss);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    optimizer.dispose();
  }
  const mean = losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length);
  say(`episode-drill stage: ${steps} steps × ${drillRows} episode + ${batchRows - drillRows} corpus rows × ${rowLength}, lr ${learningRate} → 0, mean loss ${mean.toFixed(4)}`);
  return { meanLoss: mean, tokens, seconds: (performance.now() - started) / 1000 };
}

/**
 * The drill stages with `steps[k]` steps each: stage k keeps the settings of `stages[k]` (or of the
 * last stage; 1e-3 and 2 episode rows when there is none); stages of 0 steps are dropped.
 */
export function withDrillSteps(stages: readonly EpisodeDrillStage[], steps: readonly number[]): EpisodeDrillStage[] {
  const fallback: EpisodeDrillStage = stages[stages.length - 1] ?? { steps: 0, learningRate: 1e-3, drillRows: 2 };
  return steps.flatMap((n, k) => (n > 0 ? [{ ...(stages[k] ?? fallback), steps: n }] : []));
}

const sameDrills = (a: readonly EpisodeDrillStage[], b: readonly EpisodeDrillStage[]): boolean =>
  a.length === b.length && a.every((stage, k) => stage.steps === b[k].steps);

/** Pretrains, evaluates and writes the model folder; resolves with the training log. */
export async function pretrain(options: PretrainOptions): Promise<TrainingLog> {
  const named = options.quick ? QUICK_PRESET : PRESETS[options.preset ?? DEFAULT_PRESET];
  const preset: PretrainPreset = options.episodeDrillSteps === undefined
    ? named
    : { ...named, episodeDrills: withDrillSteps(named.episodeDrills, options.episodeDrillSteps) };
  const drillSteps = preset.episodeDrills.reduce((sum, stage) => sum + stage.steps, 0);
  const threads = options.threads ?? preset.threads;
  const seed = options.seed;
  const conversations = options.conversations ?? preset.conversations;
  const steps = options.steps ?? preset.steps;
  const phases = new Phases();
  const loadAtStart = os.loadavg()[0];
  const showBar = options.progress ?? (process.stderr.isTTY === true && process.env.GRPO_PRETRAIN_NO_PROGRESS !== "1");
  const bars = showBar ? new cliProgress.MultiBar({ stream: process.stderr, hideCursor: true, barsize: 24 }) : undefined;
  let barActive = false;
  // While the bar is drawn, lines go above it through the bar; otherwise straight to stdout.
  const say = (line: string): void => {
    if (bars && barActive) bars.log(`${line}\n`);
    else process.stdout.write(`${line}\n`);
  };
  const backend = await selectBackend({ backend: options.backend });
  say(`backend: ${backend.reason}`);

  const reproducibility = options.reproCheck && !options.quick
    ? await phases.time("reproducibility", () => checkReproducibility(seed, options.backend, QUICK_PRESET.threads, say))
    : undefined;
  if (reproducibility) say(`reproducibility: ${reproducibility.identical ? "identical" : "DIFFERENT"} weights (${reproducibility.seconds.toFixed(0)} s)`);

  // 1. Corpus
  const { train, heldOut } = await phases.time("corpus", () => buildCorpus(seed, conversations));
  const trainTexts = train.map(renderForPretraining);
  say(`corpus: ${train.length} training and ${heldOut.length} held-out conversations`);

  // 2. Tokenizer
  const tokenizer = await phases.time("tokenizer", () => buildTokenizer(trainTexts, preset));
  const endOfText = tokenizer.padTokenId; // <|endoftext|>: separator and padding
  const tokenCache = new Map<number, number[]>();
  const tokensOf = (i: number): number[] => {
    let ids = tokenCache.get(i);
    if (ids === undefined) {
      ids = conversationTokens(tokenizer, train[i], endOfText);
      tokenCache.set(i, ids);
    }
    return ids;
  };
  const tokenizerInfo = describeTokenizer(tokenizer, trainTexts.slice(0, 2000), tokensOf);
  say(`tokenizer: ${tokenizer.vocabSize} tokens, ${tokenizerInfo.charsPerToken.toFixed(2)} chars/token, median conversation ${tokenizerInfo.conversationTokens.median} tokens`);

  const evalSet: EvalConversation[] = heldOut.map((c) => ({ domain: c.domain, tokens: conversationTokens(tokenizer, c, endOfText) }));
  const monitorSet = evalSet.slice(0, preset.monitorConversations);

  // 3. Model and training
  const config = modelConfigFor(preset, tokenizer);
  const model = Transformer.init(config, { seed });
  const optimizer = new AdamW(model.params, { beta1: preset.betas[0], beta2: preset.betas[1], epsilon: 1e-8, weightDecay: preset.weightDecay });
  const dataRng = Rng.fromSeed(seed).fork();
  const packer = new RowPacker(train.length, tokensOf, dataRng);
  // (Forked only when the preset drills: a drill-free preset packs exactly the rows it packed before the drill existed.)
  const drillConversation = preset.drillKind === "calls" ? generateCallDrillConversation : generateDrillConversation;
  const drill = preset.toolDrill > 0 || preset.inductionRows > 0
    ? {
      packer: new RowPacker(DRILL_CONVERSATIONS, (i) => conversationTokens(tokenizer, drillConversation(seed, i), endOfText), dataRng.fork()),
      rng: dataRng.fork(),
    }
    : undefined;
  const episodes = drillSteps > 0
    ? new RowPacker(DRILL_CONVERSATIONS, (i) => conversationTokens(tokenizer, generateDrillConversation(seed, i), endOfText), dataRng.fork())
    : undefined;
  // (Forked last, and only when used: presets without induction rows draw exactly the rows they drew before.)
  const induction = preset.inductionRows > 0 ? { make: inductionRows(tokenizer), rng: dataRng.fork() } : undefined;
  const parallel = await DataParallelSteps.start(threads - 1, config, options.backend);
  const phaseText = preset.phases.map((p) => `${Math.round(p.fraction * steps)} × ${p.batchRows} rows × ${p.rowLength}`).join(", then ");
  say(`model: ${model.numParameters()} parameters (${preset.nLayer} layers × ${preset.nHead} heads × ${preset.nEmbd}), steps: ${phaseText} positions${drillSteps > 0 ? `, then ${describeDrillSteps(preset.episodeDrills)} episode-drill steps` : ""}; ${parallel.threads} thread${parallel.threads === 1 ? "" : "s"}`);

  const bar = bars?.create(steps + drillSteps, 0, { loss: "-", tokps: "-" }, {
    format: "step {value}/{total} |{bar}| loss {loss} | {tokps} tok/s | ETA {eta_formatted}",
  });
  barActive = bar !== undefined;
  let record: TrainingRecord;
  const drillStages: { meanLoss: number; tokens: number; seconds: number; rows: number; conversations: number }[] = [];
  try {
    record = await phases.time("training", () =>
      runTraining({ model, optimizer, parallel, packer, drill, induction, monitorSet, preset, steps, padId: endOfText, say, onStep: (done, loss, tokps) => bar?.update(done, { loss: loss.toFixed(3), tokps: tokps.toFixed(0) }) }));
    if (episodes !== undefined) {
      let before = 0;
      for (const stage of preset.episodeDrills) {
        const { rows, conversations: seen } = episodes.stats;
        const result = await phases.time("episodeDrill", () =>
          runEpisodeDrill({ model, parallel, packer, episodes, stage, preset, padId: endOfText, say, onStep: (done, loss) => bar?.update(steps + before + done, { loss: loss.toFixed(3) }) }));
        drillStages.push({ ...result, rows: episodes.stats.rows - rows, conversations: episodes.stats.conversations - seen });
        before += stage.steps;
      }
    }
  } finally {
    await parallel.close();
  }
  bars?.stop();
  barActive = false;
  const { lossCurve, evalHistory, stepLosses, trainedTokens, trainSeconds } = record;

  // Final evaluation: all held-out conversations evaluated (up to the preset's cap), and the fixed sample.
  const finalSet = evalSet.slice(0, preset.finalEvalConversations);
  const final = await phases.time("evaluation", () => evaluate(model, finalSet));
  const sampleSet = evalSet.slice(0, preset.sampleConversations);
  const sample = await evaluate(model, sampleSet);
  evalHistory.push({ step: steps, ...toFigure(await evaluate(model, monitorSet)) });
  say(`held-out (${final.conversations} conversations, ${final.tokens} tokens): loss ${final.loss.toFixed(4)}, perplexity ${final.perplexity.toFixed(3)}; sample of ${sample.conversations}: ${sample.perplexity.toFixed(3)}`);

  const behaviour = await phases.time("samples", () =>
    describeBehaviour(model, tokenizer, {
      seed,
      samplesPerPrompt: preset.samplesPerPrompt,
      toolSamples: preset.toolSamples,
      temperature: 0.8,
      maxNewTokens: 96,
    }));
  say(`behaviour: ${(100 * behaviour.eosRate).toFixed(0)}% of samples end with <|im_end|>; tool use ${JSON.stringify(behaviour.toolUse)}`);
  behaviour.copyProbe = await copyProbe(model, tokenizer);
  say(`copy probe: ${describeCopyProbe(behaviour.copyProbe)}`);
  behaviour.inductionProbe = await inductionProbe(model, tokenizer);
  say(`induction probe: repeats of random token runs copied ${behaviour.inductionProbe.right}/${behaviour.inductionProbe.counted}`);

  // 4. The model folder
  const out = path.resolve(options.out);
  await phases.time("save", async () => {
    const files = tokenizer.toFiles();
    await saveModelFolder(out, config, await model.weightValues(), {
      files: { "tokenizer.json": files["tokenizer.json"], "tokenizer_config.json": files["tokenizer_config.json"] },
      generationConfig: {
        eos_token_id: tokenizer.eosTokenId,
        pad_token_id: endOfText,
        do_sample: true,
        temperature: 0.8,
        max_new_tokens: 128,
      },
    });
  });

  // The folder must reproduce the sample figure through the loader the library uses.
  const reloaded = await loadModelFolder(out);
  const reloadedModel = Transformer.fromTensors(reloaded.config, Object.fromEntries(
    Object.entries(reloaded.tensors).map(([name, t]) => [name, tf.tensor(t.data, t.shape, "float32")])));
  const again = await evaluate(reloadedModel, sampleSet);
  reloadedModel.dispose();
  if (Math.abs(again.loss - sample.loss) > 1e-5) {
    throw new Error(`The saved folder gives held-out loss ${again.loss}, the trained model ${sample.loss}: the folder is not the model.`);
  }

  const weightsFile = path.join(out, "model.safetensors");
  const packing = packer.stats;
  const tailStart = Math.floor(stepLosses.length * 0.9);
  // Recorded only when it differs from the preset's drill.
  const drillFlag = sameDrills(preset.episodeDrills, named.episodeDrills) ? "" : ` --episode-drill-steps ${preset.episodeDrills.map((d) => d.steps).join(",") || "0"}`;
  const command = options.quick
    ? `npm run pretrain -- --quick --seed ${seed}${options.conversations !== undefined ? ` --conversations ${conversations}` : ""}${options.steps !== undefined ? ` --steps ${steps}` : ""}${drillFlag}`
    : `npm run pretrain -- ${options.preset !== undefined && options.preset !== DEFAULT_PRESET ? `--preset ${options.preset} ` : ""}--seed ${seed} --conversations ${conversations} --steps ${steps} --backend ${options.backend}${threads === preset.threads ? "" : ` --threads ${threads}`}${drillFlag}`;
  const log: TrainingLog = {
    version: 1,
    command,
    seed,
    quick: options.quick,
    corpus: {
      seed,
      conversations,
      heldOutEvery: HELD_OUT_EVERY,
      trainConversations: train.length,
      heldOutConversations: heldOut.length,
      trainStats: corpusStats(train),
    },
    tokenizer: { ...tokenizerInfo, individualDigits: preset.individualDigits },
    model: {
      nEmbd: config.nEmbd,
      nLayer: config.nLayer,
      nHead: config.nHead,
      nPositions: config.nPositions,
      vocabSize: config.vocabSize,
      positionEncoding: config.positionEncoding ?? "learned",
      ...(config.previousTokenEmbedding === true ? { previousTokenEmbedding: true } : {}),
      parameters: model.numParameters(),
      fileBytes: statSync(weightsFile).size,
      sha256: sha256(weightsFile),
    },
    training: {
      steps,
      phases: preset.phases.map((p, k) => ({
        ...p,
        steps: Array.from({ length: steps }, (_, step) => phaseIndexAt(preset.phases, step, steps)).filter((i) => i === k).length,
      })),
      learningRate: preset.learningRate,
      warmupSteps: Math.ceil(preset.warmupRatio * steps),
      schedule: "cosine",
      betas: preset.betas,
      weightDecay: preset.weightDecay,
      maxGradNorm: preset.maxGradNorm,
      tokens: trainedTokens,
      paddingFraction: packing.padding / (packing.padding + packing.tokens),
      conversationsSeen: packing.conversations,
      toolDrill: { fraction: preset.toolDrill, kind: preset.drillKind, rows: drill?.packer.stats.rows ?? 0, conversations: drill?.packer.stats.conversations ?? 0 },
      ...(preset.inductionRows > 0 ? { inductionRows: { fraction: preset.inductionRows, rows: record.inductionRows } } : {}),
      ...(drillStages.length > 0
        ? {
          episodeDrills: drillStages.map((result, k) => ({ ...preset.episodeDrills[k], ...result })),
        }
        : {}),
      threads: parallel.threads,
      epochs: packing.epochs,
      finalLoss: stepLosses.slice(tailStart).reduce((a, b) => a + b, 0) / Math.max(1, stepLosses.length - tailStart),
      seconds: trainSeconds,
      tokensPerSecond: trainedTokens / trainSeconds,
    },
    lossCurve,
    evalHistory,
    heldOut: { ...toFigure(final), byDomain: final.byDomain },
    heldOutSample: { ...toFigure(sample), indices: heldOut.slice(0, preset.sampleConversations).map((c) => Number(c.id.split("-").pop())) },
    behaviour,
    timing: { phases: phases.seconds, totalSeconds: phases.total },
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? "unknown",
      cores: os.cpus().length,
      loadAverage: [loadAtStart, os.loadavg()[0]],
      node: process.versions.node,
      backend: backend.name,
      backendReason: backend.reason,
    },
    ...(reproducibility ? { reproducibility } : {}),
  };
  await mkdir(out, { recursive: true });
  await writeFileAtomically(path.join(out, "training_log.json"), `${JSON.stringify(log, null, 2)}\n`);
  await writeFileAtomically(path.join(out, "README.md"), renderModelCard(log));
  say(`wrote ${out} (model.safetensors ${(log.model.fileBytes / 1e6).toFixed(2)} MB, sha256 ${log.model.sha256.slice(0, 16)}…) in ${(phases.total / 60).toFixed(1)} min`);
  model.dispose();
  optimizer.dispose();
  return log;
}

// ---------------------------------------------------------------------------------------------
// Command line

function integerFlag(flag: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} needs an integer >= ${min}, got "${value}".`);
    return n;
  };
}

function integerListFlag(flag: string) {
  return (value: string): number[] => {
    const parts = value.split(",").map((part) => part.trim());
    const numbers = parts.map(Number);
    if (parts.some((part) => part === "") || numbers.some((n) => !Number.isInteger(n) || n < 0)) {
      throw new InvalidArgumentError(`${flag} needs integers >= 0 separated by commas (e.g. 40,120; 0 for none), got "${value}".`);
    }
    return numbers;
  };
}

const BACKENDS: readonly BackendName[] = ["wasm", "cpu", "tensorflow", "tensorflow-gpu"];

/** Parses `argv` (as `process.argv`) and runs {@link pretrain}. */
export async function runPretrainCli(argv: readonly string[]): Promise<TrainingLog> {
  const program = new Command()
    .name("pretrain")
    .description("Pretrain the built-in chat policy builtin:tiny-chat (corpus, tokenizer, GPT-2, model card).")
    .option("--seed <int>", "master seed (corpus, init, data order)", integerFlag("--seed", 0), 1)
    .option("--conversations <int>", "corpus size, 2% held out (default 20000; quick 400)", integerFlag("--conversations", 100))
    .option("--steps <int>", "optimizer steps of the main schedule (default: the preset's: induction 2400, plain 1600, copy 5000; quick 30)", integerFlag("--steps", 1))
    .option("--out <dir>", "model folder to write (default models/tiny-chat for the default preset, runs/tiny-chat-<preset> for the others; quick runs/tiny-chat-quick)")
    .option("--backend <name>", `tfjs backend: ${BACKENDS.join(", ")}`, (v: string) => {
      if (!(BACKENDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`--backend must be one of ${BACKENDS.join(", ")}.`);
      return v as BackendName;
    }, "wasm" as BackendName)
    .option("--preset <name>", "recipe of a full run: induction (the shipped model: previous-token embedding, call-drill and induction rows, 2400 steps, a 40 + 120-step episode drill), plain (the model shipped before: 1600 steps, no drills) or copy (plain's model, 5000 steps with a call drill); docs/copying.md", (v: string) => {
      if (!(v in PRESETS)) throw new InvalidArgumentError(`--preset must be one of ${Object.keys(PRESETS).join(", ")}.`);
      return v;
    }, DEFAULT_PRESET)
    .option("--threads <int>", "threads computing each step's gradient, this one included (default: the preset's, induction and copy 2, plain 1; the weights' last bits depend on it)", integerFlag("--threads", 1))
    .option("--episode-drill-steps <list>", "steps of each episode-drill stage after the main schedule, comma-separated, 0 for none (default: the preset's; induction 40,120, plain none, copy 40)", integerListFlag("--episode-drill-steps"))
    .option("--quick", "tiny model, few steps: a ~10-second smoke run", false)
    .option("--no-repro-check", "skip running --quick twice to check reproducibility")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.parse([...argv]);
  const flags = program.opts<{ seed: number; conversations?: number; steps?: number; out?: string; backend: BackendName; preset: PresetName; threads?: number; episodeDrillSteps?: number[]; quick: boolean; reproCheck: boolean }>();
  const out = flags.out ?? (flags.quick ? "runs/tiny-chat-quick" : flags.preset === DEFAULT_PRESET ? "models/tiny-chat" : `runs/tiny-chat-${flags.preset}`);
  return pretrain({
    seed: flags.seed,
    conversations: flags.conversations,
    steps: flags.steps,
    out,
    quick: flags.quick,
    backend: flags.backend,
    preset: flags.preset,
    threads: flags.threads,
    episodeDrillSteps: flags.episodeDrillSteps,
    reproCheck: flags.reproCheck,
  });
}

// Run when executed directly (`tsx scripts/pretrain.ts …`), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runPretrainCli(process.argv).catch((error: unknown) => {
    if (error instanceof CommanderError) process.exitCode = error.exitCode;
    else {
      process.stderr.write(`${error instanceof GrpoError ? error.message : error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  });
}
