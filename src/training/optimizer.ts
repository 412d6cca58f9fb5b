/**
 * AdamW (PyTorch's formulation) over named tfjs variables, with global-norm gradient clipping and a
 * state that saves and restores exactly (for checkpoint resume).
 */
import * as tf from "@tensorflow/tfjs";

/** AdamW hyper-parameters. */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay (0 = none), applied to weight matrices only (see {@link decays}). */
  weightDecay: number;
}

/** The serialisable state of {@link AdamW}: step count and the moment estimates per parameter. */
export interface AdamWState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

/** Whether a parameter gets weight decay: 2-D weight matrices do; biases and LayerNorm gains do not (HF convention). */
export function decays(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && name.endsWith(".weight");
}

/**
 * AdamW as in PyTorch: `p ← p·(1 − lr·wd)`, then the bias-corrected Adam update
 * `p ← p − lr · m̂ / (√v̂ + ε)`.
 */
export class AdamW {
  readonly options: AdamWOptions;
  private readonly params: Record<string, tf.Variable>;
  private readonly m: Record<string, tf.Variable> = {};
  private readonly v: Record<string, tf.Variable> = {};
  /** Updates applied so far. */
  stepCount = 0;

  constructor(params: Record<string, tf.Variable>, options: AdamWOptions) {
    this.params = params;
    this.options = options;
    for (const [name, p] of Object.entries(params)) {
      this.m[name] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
      this.v[name] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
    }
  }

  /** Applies one update with learning rate `lr`. Gradients are not disposed (the caller owns them). */
  step(grads: Record<string, tf.Tensor>, lr: number): void {
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    this.stepCount += 1;
    const t = this.stepCount;
    const bias1 = 1 - Math.pow(beta1, t);
    const bias2 = 1 - Math.pow(beta2, t);
    tf.tidy(() => {
      for (const [name, p] of Object.entries(this.params)) {
        const g = grads[name];
        if (!g) continue;
        const m = this.m[name];
        const v = this.v[name];
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        let next: tf.Tensor = p;
        if (weightDecay > 0 && decays(name, p.shape)) next = tf.mul(next, 1 - lr * weightDecay);
        const mHat = tf.div(m, bias1);
        const vHat = tf.div(v, bias2);
        next = tf.sub(next, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)), lr));
        p.assign(next);
      }
    });
  }

  /** A copy of the state (reads tensors back to the host). */
  async getState(): Promise<AdamWState> {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const name of Object.keys(this.params)) {
      m[name] = (await this.m[name].data()) as Float32Array;
      v[name] = (await this.v[name].data()) as Float32Array;
    }
    return { step: this.stepCount, m, v };
  }

  /** Restores a state saved by {@link getState}. */
  setState(state: AdamWState): void {
    for (const name of Object.keys(this.params)) {
      const shape = this.params[name].shape;
      if (!state.m[name] || !state.v[name]) throw new Error(`Optimizer state lacks the moments of parameter \`${name}\`.`);
      this.m[name].assign(tf.tensor(state.m[name], shape));
      this.v[name].assign(tf.tensor(state.v[name], shape));
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const t of [...Object.values(this.m), ...Object.values(this.v)]) t.dispose();
  }
}

/**
 * The global L2 norm of `grads`, and the gradients scaled so that norm ≤ `maxNorm` (PyTorch's
 * `clip_grad_norm_`: scale = maxNorm / (norm + 1e-6) when norm > maxNorm). `maxNorm` 0 = no clipping.
 * Returns new tensors; the inputs are not disposed.
 */
export function clipByGlobalNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  return tf.tidy(() => {
    const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(squares.length ? tf.addN(squares) : tf.scalar(0)) as tf.Scalar;
    const out: Record<string, tf.Tensor> = {};
    if (maxNorm > 0) {
      const scale = tf.minimum(tf.scalar(1), tf.div(maxNorm, tf.add(norm, 1e-6)));
      for (const [k, g] of Object.entries(grads)) out[k] = tf.mul(g, scale);
    } else {
      for (const [k, g] of Object.entries(grads)) out[k] = tf.clone(g);
    }
    return { grads: out, norm };
  });
}
