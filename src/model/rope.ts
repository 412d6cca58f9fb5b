/**
 * Rotary position embedding (RoPE) tables and the in-place rotation of one decoding step, in plain
 * JavaScript (no TensorFlow.js: the KV store rotates the step's queries and keys in its own memory).
 * The differentiable rotation of whole sequences is `applyRotary` in `ops.ts`.
 */

const angleTableCache = new Map<string, { cos: Float64Array; sin: Float64Array }>();

/**
 * cos and sin of `position · θ_j` for positions 0 … `positions − 1`, laid out (position, j) with
 * θ_j = base^(−2j / headSize), j < headSize / 2 (GPT-NeoX and Llama's "rotate half" layout: channel
 * j is paired with channel j + headSize / 2). Computed once per (headSize, base) and grown on demand.
 */
function angleTable(headSize: number, base: number, positions: number): { cos: Float64Array; sin: Float64Array } {
  const key = `${headSize}/${base}`;
  const half = headSize / 2;
  let table = angleTableCache.get(key);
  if (table === undefined || table.cos.length < positions * half) {
    const rows = Math.max(positions, 2 * ((table?.cos.length ?? 0) / half), 64);
    const cos = new Float64Array(rows * half);
    const sin = new Float64Array(rows * half);
    for (let j = 0; j < half; j++) {
      const inverseFrequency = Math.pow(base, (-2 * j) / headSize);
      for (let p = 0; p < rows; p++) {
        cos[p * half + j] = Math.cos(p * inverseFrequency);
        sin[p * half + j] = Math.sin(p * inverseFrequency);
      }
    }
    table = { cos, sin };
    angleTableCache.set(key, table);
  }
  return table;
}

/**
 * The cos and sin of every (position, frequency) pair: two float32 arrays laid out (N, hs/2) for
 * N position ids, to be viewed as (B, 1, T, hs/2) by `applyRotary` (ops.ts).
 */
export function rotaryTables(positions: ArrayLike<number>, headSize: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = headSize / 2;
  let longest = 0;
  for (let n = 0; n < positions.length; n++) longest = Math.max(longest, positions[n] + 1);
  const table = angleTable(headSize, base, longest);
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  for (let n = 0; n < positions.length; n++) {
    const from = positions[n] * half;
    for (let j = 0; j < half; j++) {
      cos[n * half + j] = table.cos[from + j];
      sin[n * half + j] = table.sin[from + j];
    }
  }
  return { cos, sin };
}

/**
 * `applyRotary` (ops.ts) in place on plain memory, for one decoding step: rotates `heads` consecutive
 * vectors of `headSize` floats starting at `offset`, all at position `position`.
 */
export function rotateInPlace(data: Float32Array, offset: number, heads: number, headSize: number, position: number, base: number): void {
  const half = headSize / 2;
  const table = angleTable(headSize, base, position + 1);
  for (let j = 0; j < half; j++) {
    const c = table.cos[position * half + j];
    const s = table.sin[position * half + j];
    for (let h = 0; h < heads; h++) {
      const i = offset + h * headSize + j;
      const x1 = data[i];
      const x2 = data[i + half];
      data[i] = x1 * c - x2 * s;
      data[i + half] = x2 * c + x1 * s;
    }
  }
}
