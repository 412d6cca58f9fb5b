/**
 * Small differentiable ops with hand-written gradients that are fast on every tfjs backend.
 *
 * Why they exist (measured, see DESIGN.md): on the wasm backend a matMul with `transposeA` or
 * `transposeB` is 7–16× slower than an explicit `tf.transpose` followed by a plain matMul, and
 * tfjs's stock matMul gradients use those flags, so a stock backward pass costs ~16× the forward.
 * The wasm backend also lacks `UnsortedSegmentSum`, which `tf.gather`'s stock gradient needs.
 * Every gradient below uses only plain matMuls, explicit transposes and kernels that wasm has
 * (`ScatterNd` sums duplicate indices on every backend, which is exactly an embedding gradient).
 *
 * Shapes: N rows, Cin/Cout features, M/K/N matrix sides, V vocabulary, C channels.
 */
import * as tf from "@tensorflow/tfjs";

/**
 * True while tfjs records operations for a gradient. Without a tape the ops below skip the
 * custom-gradient wrapper, whose bookkeeping costs more than the math in one generation step.
 */
function recordingGradients(): boolean {
  return tf.engine().isTapeOn();
}

/** Swaps the last two axes: [..., M, K] -> [..., K, M]. */
function swapLastTwo(x: tf.Tensor): tf.Tensor {
  const rank = x.rank;
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return tf.transpose(x, perm);
}

// ---------------------------------------------------------------------------------------------
// Dense layers

const linearWithBias = tf.customGrad((x, w, b, save) => {
  const [x2, w2, b1] = [x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D];
  (save as tf.GradSaveFunc)([x2, w2]);
  return {
    value: tf.add(tf.matMul(x2, w2), b1),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy as tf.Tensor2D;
      return [
        tf.matMul(dy2, tf.transpose(ws)), // dx = dy @ W^T      (N, Cin)
        tf.matMul(tf.transpose(xs), dy2), // dW = x^T @ dy      (Cin, Cout)
        tf.sum(dy2, 0), //                   db = sum over rows (Cout)
      ];
    },
  };
});

const linearNoBias = tf.customGrad((x, w, save) => {
  const [x2, w2] = [x as tf.Tensor2D, w as tf.Tensor2D];
  (save as tf.GradSaveFunc)([x2, w2]);
  return {
    value: tf.matMul(x2, w2),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy as tf.Tensor2D;
      return [tf.matMul(dy2, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy2)];
    },
  };
});

/**
 * `x @ w + b`, the affine map of GPT-2's Conv1D layout (weight stored [Cin, Cout]).
 *
 * @param x - inputs, float32 [N, Cin]
 * @param w - weight, float32 [Cin, Cout]
 * @param b - optional bias, float32 [Cout]
 * @returns float32 [N, Cout]; its gradient uses explicit transposes and plain matMuls only.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (!recordingGradients()) return tf.tidy(() => (b === undefined ? tf.matMul(x, w) : tf.add(tf.matMul(x, w), b)));
  return (b === undefined ? linearNoBias(x, w) : linearWithBias(x, w, b)) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------
// Batched matrix product

const batchMatMul3d = tf.customGrad((a, b, save) => {
  const [a3, b3] = [a as tf.Tensor3D, b as tf.Tensor3D];
  (save as tf.GradSaveFunc)([a3, b3]);
  return {
    value: tf.matMul(a3, b3),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor3D, tf.Tensor3D];
      const dy3 = dy as tf.Tensor3D;
      return [
        tf.matMul(dy3, swapLastTwo(bs) as tf.Tensor3D), // da = dy @ b^T  (batch, M, K)
        tf.matMul(swapLastTwo(as) as tf.Tensor3D, dy3), // db = a^T @ dy  (batch, K, N)
      ];
    },
  };
});

/**
 * Batched `a @ b` over identical leading (batch) axes, e.g. attention's [B, nh, T, hs] @ [B, nh, hs, T].
 *
 * No broadcasting: `a` and `b` must have the same rank (≥ 2) and the same leading axes.
 *
 * @param a - float32 [..., M, K]
 * @param b - float32 [..., K, N]
 * @returns float32 [..., M, N]; its gradient uses explicit transposes and plain matMuls only.
 */
export function batchMatMul<R extends tf.Rank>(a: tf.Tensor<R>, b: tf.Tensor<R>): tf.Tensor<R> {
  const lead = a.shape.slice(0, -2);
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  const sameLead = b.rank === a.rank && lead.every((d, i) => d === b.shape[i]);
  if (a.rank < 2 || !sameLead || k !== k2) {
    throw new Error(`batchMatMul: shapes [${a.shape}] and [${b.shape}] do not multiply ([..., M, K] @ [..., K, N]).`);
  }
  const batch = lead.reduce((p, d) => p * d, 1);
  return tf.tidy(() => {
    const a3 = tf.reshape(a, [batch, m, k]) as tf.Tensor3D; // (batch, M, K)
    const b3 = tf.reshape(b, [batch, k, n]) as tf.Tensor3D; // (batch, K, N)
    const product = recordingGradients() ? (batchMatMul3d(a3, b3) as tf.Tensor3D) : tf.matMul(a3, b3); // (batch, M, N)
    const out: tf.Tensor = tf.reshape(product, [...lead, m, n]); // (..., M, N)
    return out as tf.Tensor<R>;
  });
}

// ---------------------------------------------------------------------------------------------
// Embedding lookup

/**
 * Rows of `table` at `rows` (int32 [N, 1]). GatherNd rather than Gather: on wasm, GatherV2 takes
 * ~4.5 ms for 512 rows of 128 floats, GatherNd ~0.35 ms (measured).
 */
function gatherRows(table: tf.Tensor2D, rows: tf.Tensor2D): tf.Tensor2D {
  return tf.gatherND(table, rows) as tf.Tensor2D;
}

const embeddingLookupFlat = tf.customGrad((table, rows, save) => {
  const [table2, rows2] = [table as tf.Tensor2D, rows as tf.Tensor2D];
  (save as tf.GradSaveFunc)([rows2]);
  const [vocab, channels] = table2.shape;
  return {
    value: gatherRows(table2, rows2), // (N, C)
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const rowsSaved = saved[0] as tf.Tensor2D; // (N, 1) scatter indices
      // ScatterNd adds the rows of repeated ids, which is the embedding gradient (measured on wasm,
      // V=512, N=512, C=128: 0.17 ms, vs 0.5 ms for a JS scatter-add and 6 ms for one-hot^T @ dy).
      return [tf.scatterND(rowsSaved, dy, [vocab, channels]), tf.zerosLike(rowsSaved)];
    },
  };
});

/**
 * Looks up rows of an embedding table: `out[b, t] = table[ids[b, t]]`.
 *
 * @param table - float32 [V, C]
 * @param ids - int32 [B, T], each in [0, V) (not checked here; callers validate ids)
 * @returns float32 [B, T, C]; the table gradient is a scatter-add, without `UnsortedSegmentSum`.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor2D): tf.Tensor3D {
  const [b, t] = ids.shape;
  return tf.tidy(() => {
    const flat = tf.reshape(ids, [b * t, 1]) as tf.Tensor2D; // (B*T, 1) row indices
    const rows = (recordingGradients() ? embeddingLookupFlat(table, flat) : gatherRows(table, flat)) as tf.Tensor2D; // (B*T, C)
    return tf.reshape(rows, [b, t, table.shape[1]]) as tf.Tensor3D; // (B, T, C)
  });
}

// ---------------------------------------------------------------------------------------------
// Log-softmax at target ids

const targetLogSoftmaxOp = tf.customGrad((logits, flatIndex, save) => {
  const [z, idx] = [logits as tf.Tensor2D, flatIndex as tf.Tensor1D];
  const [rows, vocab] = z.shape;
  // Stable log-sum-exp: shift by the row max before exponentiating.
  const rowMax = tf.max(z, 1, true); // (N, 1)
  const shifted = tf.exp(tf.sub(z, rowMax)); // (N, V)
  const total = tf.sum(shifted, 1, true); // (N, 1)
  const logSumExp = tf.reshape(tf.add(rowMax, tf.log(total)), [rows]); // (N)
  const flatLogits = tf.reshape(z, [rows * vocab, 1]) as tf.Tensor2D; // (N*V, 1)
  const picked = tf.reshape(gatherRows(flatLogits, tf.reshape(idx, [rows, 1])), [rows]); // (N) logits at the targets
  // The backward pass needs only the softmax: keep it rather than exponentiating again (exp is slow on wasm).
  (save as tf.GradSaveFunc)([tf.div(shifted, total), idx]);
  return {
    value: tf.sub(picked, logSumExp),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [softmax, idxs] = saved as [tf.Tensor2D, tf.Tensor1D];
      // d/dz [z_t - lse(z)] = onehot(t) - softmax(z), scaled by the upstream gradient of each row.
      const atTargets = tf.reshape(
        tf.scatterND(tf.reshape(idxs, [rows, 1]), dy, [rows * vocab]),
        [rows, vocab],
      ); // (N, V), dy at each row's target
      const dz = tf.sub(atTargets, tf.mul(softmax, tf.reshape(dy, [rows, 1])));
      return [dz, tf.zerosLike(idxs)];
    },
  };
});

/**
 * `log softmax(logits)[n, targets[n]]` for each row, without materialising a one-hot [N, V] in the
 * forward pass (the targets are gathered from the flattened logits; measured on wasm with N=512 and
 * V=8192, the forward is ~1.5× faster than summing log-softmax × one-hot, forward+backward on par).
 *
 * @param logits - float32 [N, V] (divide by the temperature before calling)
 * @param targets - int32 [N], each in [0, V) (not checked here)
 * @returns float32 [N], each ≤ 0
 */
export function targetLogSoftmax(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const [rows, vocab] = logits.shape;
  return tf.tidy(() => {
    // Row n's target sits at flat index n * V + targets[n] of the flattened logits.
    const rowStart = tf.mul(tf.range(0, rows, 1, "int32"), tf.scalar(vocab, "int32"));
    const flatIndex = tf.add(rowStart, tf.cast(targets, "int32")) as tf.Tensor1D;
    return targetLogSoftmaxOp(logits, flatIndex) as tf.Tensor1D;
  });
}

// ---------------------------------------------------------------------------------------------
// GELU (tanh approximation)

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

const geluTanhOp = tf.customGrad((x, save) => {
  const x0 = x as tf.Tensor;
  // 0.5 x (1 + tanh u) = x · sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). The sigmoid form is the
  // same function, and wasm's Sigmoid is ~5× faster than its Tanh (measured on 512×512).
  const inner = tf.mul(x0, tf.add(tf.mul(tf.square(x0), 0.044715), 1));
  const gate = tf.sigmoid(tf.mul(inner, 2 * SQRT_2_OVER_PI)); // sigmoid(2u)
  (save as tf.GradSaveFunc)([x0, gate]);
  return {
    value: tf.mul(x0, gate),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, s] = saved;
      // d/dx [x · s] = s + x · s (1 - s) · 2 du/dx,  du/dx = sqrt(2/pi) (1 + 3 · 0.044715 x^2)
      const twoDu = tf.mul(tf.add(tf.mul(tf.square(xs), 3 * 0.044715), 1), 2 * SQRT_2_OVER_PI);
      const slope = tf.add(s, tf.mul(tf.mul(xs, tf.mul(s, tf.sub(1, s))), twoDu));
      return [tf.mul(dy, slope)];
    },
  };
});

/**
 * GELU with the tanh approximation, GPT-2's `gelu_new`:
 * `0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))`, computed as the identical `x · sigmoid(2u)`.
 * One fused gradient instead of a chain of ~10 elementwise gradients.
 */
export function geluTanh<T extends tf.Tensor>(x: T): T {
  if (!recordingGradients()) {
    return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(tf.mul(x, tf.add(tf.mul(tf.square(x), 0.044715), 1)), 2 * SQRT_2_OVER_PI))));
  }
  return geluTanhOp(x) as T;
}

// ---------------------------------------------------------------------------------------------
// Rotary position embedding (RoPE)

/**
 * Rotates queries or keys by their positions: with x = [x1, x2] split in halves along the head,
 * `[x1·cos − x2·sin, x2·cos + x1·sin]`. x (B, nh, T, hs); cos and sin (B, 1, T, hs/2), broadcast over
 * heads. Differentiable in x (split, products and concat all have stock gradients on every backend).
 */
export function applyRotary(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [x1, x2] = tf.split(x, 2, 3); // 2 × (B, nh, T, hs/2)
    return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], 3) as tf.Tensor4D;
  });
}
