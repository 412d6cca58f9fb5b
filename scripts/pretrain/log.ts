/**
 * The shape of `training_log.json`, the machine-readable record of one pretraining run. The model
 * card (README.md) is rendered from it, and the built-in model's test reads it to recompute the
 * held-out perplexity.
 */
import type { CorpusStats, Domain } from "../corpus/generate.js";
import type { BehaviourReport } from "./samples.js";

/** A perplexity measurement. */
export interface PerplexityFigure {
  /** Mean next-token cross-entropy (nats per predicted token). */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Predicted tokens counted. */
  tokens: number;
  /** Conversations evaluated. */
  conversations: number;
}

/** One point of the loss curve (means over the `logEvery` steps ending at `step`). */
export interface LossPoint {
  step: number;
  loss: number;
  gradNorm: number;
  learningRate: number;
  /** Training tokens (real targets) seen up to this step. */
  tokens: number;
  /** Seconds since training started. */
  seconds: number;
}

/** The result of running `--quick` twice in separate processes and comparing what they wrote. */
export interface ReproducibilityCheck {
  /** The command that was run twice. */
  command: string;
  /** sha256 of each run's model.safetensors. */
  weightHashes: [string, string];
  /** sha256 of each run's tokenizer.json. */
  tokenizerHashes: [string, string];
  /** True when both pairs are equal. */
  identical: boolean;
  /** Seconds both runs took. */
  seconds: number;
}

/** One episode-drill stage of a pretraining run (see `TrainingLog.training.episodeDrills`). */
export interface EpisodeDrillRecord {
  steps: number;
  learningRate: number;
  drillRows: number;
  rows: number;
  conversations: number;
  tokens: number;
  meanLoss: number;
  seconds: number;
}

/** Everything `training_log.json` records. */
export interface TrainingLog {
  /** Format version of this file. */
  version: 1;
  /** The command that rebuilds this model exactly. */
  command: string;
  /** The master seed (corpus, initialisation, data order, samples). */
  seed: number;
  /** Whether this was a `--quick` smoke run (not the shipped model). */
  quick: boolean;
  corpus: {
    seed: number;
    /** Conversations generated (indices 0 … conversations − 1). */
    conversations: number;
    /** Conversation i is held out when i % heldOutEvery === heldOutEvery − 1. */
    heldOutEvery: number;
    trainConversations: number;
    heldOutConversations: number;
    /** Domain and quality counts of the training split. */
    trainStats: CorpusStats;
  };
  tokenizer: {
    /** Tokens in the vocabulary (bytes + special tokens + merges). */
    vocabSize: number;
    specialTokens: string[];
    /** Numbers split into single digits before BPE (absent in logs written before the option). */
    individualDigits?: boolean;
    /** Characters per token over the training split (higher = shorter sequences). */
    charsPerToken: number;
    /** Mean / median / 90th percentile conversation length in tokens (training split). */
    conversationTokens: { mean: number; median: number; p90: number; max: number };
  };
  model: {
    nEmbd: number;
    nLayer: number;
    nHead: number;
    nPositions: number;
    vocabSize: number;
    /** How positions enter the model (absent in logs written before rotary models: learned). */
    positionEncoding?: "learned" | "rotary";
    /** True when inputs get the previous token's embedding too (`ModelConfig.previousTokenEmbedding`; absent = false). */
    previousTokenEmbedding?: boolean;
    parameters: number;
    /** Size of model.safetensors in bytes. */
    fileBytes: number;
    /** sha256 of model.safetensors (hex). */
    sha256: string;
  };
  training: {
    steps: number;
    /** The sequence-length schedule: per phase its share of the steps, row length and rows per batch. */
    phases: { fraction: number; steps: number; rowLength: number; batchRows: number }[];
    learningRate: number;
    warmupSteps: number;
    schedule: "cosine";
    betas: [number, number];
    weightDecay: number;
    maxGradNorm: number;
    /** Real target tokens trained on. */
    tokens: number;
    /** Fraction of row slots that were padding. */
    paddingFraction: number;
    /** Training conversations consumed (a conversation may be consumed again in a later epoch). */
    conversationsSeen: number;
    /** The tool drill: the preset's fraction of rows, the rows it gave and the drill conversations they held (absent in logs from before the drill). */
    toolDrill?: { fraction: number; kind?: "calls" | "episodes"; rows: number; conversations: number };
    /** Induction rows (`PretrainPreset.inductionRows`): the preset's fraction and the rows drawn (absent = none). */
    inductionRows?: { fraction: number; rows: number };
    /**
     * The episode-drill stages after the main schedule (`PretrainPreset.episodeDrills`), in order:
     * each one's settings, the episode rows and conversations it used, its target tokens, mean
     * loss and seconds (absent = none).
     */
    episodeDrills?: EpisodeDrillRecord[];
    /** The one episode drill of logs written before drills had stages (read as `episodeDrills: [it]`). */
    episodeDrill?: EpisodeDrillRecord;
    /** Threads that computed each step's gradient (absent = 1: before data-parallel steps). */
    threads?: number;
    epochs: number;
    /** Mean training loss of the last 10% of steps. */
    finalLoss: number;
    seconds: number;
    tokensPerSecond: number;
  };
  /** The loss curve, every `logEvery` steps. */
  lossCurve: LossPoint[];
  /** Held-out figures on the monitoring subset during training (step → figure). */
  evalHistory: (PerplexityFigure & { step: number })[];
  /** The final held-out figure over the evaluated held-out conversations, overall and per domain. */
  heldOut: PerplexityFigure & { byDomain: Partial<Record<Domain, { loss: number; perplexity: number; tokens: number }>> };
  /**
   * The final figure on a small fixed sample: the first `indices.length` held-out conversations.
   * Cheap to recompute (the model's test does).
   */
  heldOutSample: PerplexityFigure & { indices: number[] };
  behaviour: BehaviourReport;
  timing: {
    /** Wall-clock seconds per phase. */
    phases: Record<string, number>;
    totalSeconds: number;
  };
  machine: {
    cpu: string;
    cores: number;
    /** 1-minute load average at the start and at the end (other work shares the machine). */
    loadAverage: [number, number];
    node: string;
    backend: string;
    backendReason: string;
  };
  reproducibility?: ReproducibilityCheck;
}
