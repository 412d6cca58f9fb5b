/**
 * Seeded random numbers whose state can be saved and restored bit-exactly.
 *
 * Built on pure-rand's xoroshiro128+ generator. Every random decision of the library (sampling,
 * scenario order, dropout-free init) draws from an {@link Rng}, so a run is reproducible from its
 * seed and resumable from a saved {@link RngState}.
 */
import { xoroshiro128plus, xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { GrpoError } from "./errors.js";

/** The serialisable state of an {@link Rng} (four 32-bit integers). */
export interface RngState {
  algorithm: "xoroshiro128plus";
  state: number[];
}

type Generator = ReturnType<typeof xoroshiro128plus>;

/** A seeded, saveable random number generator. */
export class Rng {
  private gen: Generator;

  private constructor(gen: Generator) {
    this.gen = gen;
  }

  /** A generator seeded with a 32-bit integer. */
  static fromSeed(seed: number): Rng {
    if (!Number.isInteger(seed)) {
      throw new GrpoError("invalid_argument", "The random seed must be an integer.", {
        field: "seed",
        value: seed,
        expected: "an integer, e.g. 42",
      });
    }
    return new Rng(xoroshiro128plus(seed | 0));
  }

  /** A generator that continues exactly where the one that produced `state` was. */
  static fromState(state: RngState): Rng {
    if (state?.algorithm !== "xoroshiro128plus" || !Array.isArray(state.state) || state.state.length !== 4 ||
      !state.state.every((v) => Number.isInteger(v))) {
      throw new GrpoError("invalid_argument", "Not a valid saved RNG state.", {
        field: "rngState",
        value: state,
        expected: '{ algorithm: "xoroshiro128plus", state: [4 integers] }',
        fix: "pass a state returned by `rng.getState()`.",
      });
    }
    return new Rng(xoroshiro128plusFromState(state.state));
  }

  /** The current state; `Rng.fromState(rng.getState())` continues bit-identically. */
  getState(): RngState {
    return { algorithm: "xoroshiro128plus", state: [...(this.gen.getState?.() ?? [])] };
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  next(): number {
    return uniformFloat64(this.gen);
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal sample (Box-Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle of a copy of `items`. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** A new independent generator derived from this one (advances this one by one draw). */
  fork(): Rng {
    return Rng.fromSeed(Math.floor(this.next() * 0x7fffffff));
  }
}

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * The seed of sub-stream `index` of `seed`: an integer in [0, 2^31), a fixed function of both (a
 * 32-bit hash), so different `(seed, index)` pairs give unrelated seeds. Used to give every generate
 * call of an episode, and every conversation of a seeded call, its own generator
 * (`Rng.fromSeed(deriveSeed(seed, k))`) without any shared state.
 */
export function deriveSeed(seed: number, index: number): number {
  if (!Number.isInteger(seed) || !Number.isInteger(index) || index < 0) {
    throw new GrpoError("invalid_argument", "deriveSeed needs an integer seed and an index ≥ 0.", {
      field: "seed", value: { seed, index }, expected: "integers, index ≥ 0",
    });
  }
  return mix32(mix32(seed ^ 0x5bd1e995) ^ Math.imul(index + 1, 0x9e3779b9)) >>> 1;
}

/**
 * The sampling seeds of one episode: its generate calls take them in order, call k getting
 * `deriveSeed(seed, k)`. The episode runner makes one per episode and passes it to the agent
 * (`TurnOptions.seeds`), so what an episode samples depends on its seed and its own history only,
 * not on which other episodes share a batch or when its requests reach the policy.
 */
export class SeedStream {
  private calls = 0;

  /** `seed`: the episode's seed (any integer). */
  constructor(readonly seed: number) {
    if (!Number.isInteger(seed)) {
      throw new GrpoError("invalid_argument", "An episode seed must be an integer.", { field: "seed", value: seed, expected: "an integer, e.g. 42" });
    }
  }

  /** The seed of the next generate call (`deriveSeed(seed, k)` for the k-th call, from 0). */
  next(): number {
    return deriveSeed(this.seed, this.calls++);
  }

  /** How many seeds were taken so far. */
  get taken(): number {
    return this.calls;
  }
}
