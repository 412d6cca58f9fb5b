/**
 * Which scenarios each step trains on: epochs of seeded shuffles, with a position that is saved in
 * checkpoints so a resumed run sees exactly the scenarios the uninterrupted run would have.
 */
import { GrpoError } from "../core/errors.js";
import { Rng, type RngState } from "../core/rng.js";

/** The saved position of a {@link ScenarioSampler}. */
export interface SamplerState {
  /** Scenario ids, in sampling order, that the sampler was created with (checked on resume). */
  scenarioIds: string[];
  /** The current epoch's order, as indices into the scenario list. */
  order: number[];
  /** Next index into `order`. */
  position: number;
  /** Completed epochs. */
  epoch: number;
  rng: RngState;
}

/** Draws scenarios epoch by epoch, each epoch a fresh seeded shuffle. */
export class ScenarioSampler<S extends { id: string }> {
  readonly scenarios: readonly S[];
  private rng: Rng;
  private order: number[];
  private position = 0;
  private epoch = 0;

  constructor(scenarios: readonly S[], seed: number) {
    if (scenarios.length === 0) {
      throw new GrpoError("invalid_scenario", "The environment has no scenarios to train on.", {
        field: "environment.scenarios()",
        expected: "at least one scenario",
        fix: "pass `scenarios` (ConversationEnvironment) or `tasks` (TaskEnvironment), or override `scenarios()` in a custom environment.",
      });
    }
    this.scenarios = scenarios;
    this.rng = Rng.fromSeed(seed);
    this.order = this.rng.shuffle(scenarios.map((_, i) => i));
  }

  /** The next `n` scenarios (crossing into a new shuffled epoch when needed). */
  next(n: number): S[] {
    const out: S[] = [];
    for (let k = 0; k < n; k++) {
      if (this.position >= this.order.length) {
        this.epoch += 1;
        this.position = 0;
        this.order = this.rng.shuffle(this.scenarios.map((_, i) => i));
      }
      out.push(this.scenarios[this.order[this.position++]]);
    }
    return out;
  }

  getState(): SamplerState {
    return {
      scenarioIds: this.scenarios.map((s) => s.id),
      order: [...this.order],
      position: this.position,
      epoch: this.epoch,
      rng: this.rng.getState(),
    };
  }

  /** Restores a saved position; the scenario ids must match the saved ones exactly. */
  setState(state: SamplerState): void {
    const ids = this.scenarios.map((s) => s.id);
    if (ids.length !== state.scenarioIds.length || ids.some((id, i) => id !== state.scenarioIds[i])) {
      const missing = state.scenarioIds.filter((id) => !ids.includes(id));
      const extra = ids.filter((id) => !state.scenarioIds.includes(id));
      throw new GrpoError("checkpoint_invalid", "The environment's scenarios differ from the checkpoint's, so the run cannot continue exactly.", {
        field: "environment scenarios",
        value: { missing: missing.slice(0, 5), extra: extra.slice(0, 5) },
        expected: `the ${state.scenarioIds.length} scenario ids of the checkpoint, in the same order`,
        fix: "pass the same environment (same scenarios, same order) to `GRPOTrainer.resume`.",
      });
    }
    this.order = [...state.order];
    this.position = state.position;
    this.epoch = state.epoch;
    this.rng = Rng.fromState(state.rng);
  }
}
