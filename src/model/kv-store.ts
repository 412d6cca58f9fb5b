/**
 * The memory behind a {@link KVCache}: keys, values and the key mask of every layer, row and cached
 * position, kept outside TensorFlow.js in one `WebAssembly.Memory` with a capacity of positions that
 * doubles when full. Appending a position writes it in place (the tfjs cache grew by concatenation,
 * copying the whole cache every step), and one-query attention over it runs on SIMD loops
 * ({@link attentionLoops}) without building the dozen tensors a composed attention needs.
 *
 * Shapes: R rows, nh heads, hs head size, C = nh·hs, P capacity (positions), L positions in use.
 * Layout (float32): scratch [out (hs) | spare (hs) | max | scores (P) | the step's q, k, v (R, 3C)],
 * the key bias (R, P) (0 for a real token, MASKED_SCORE for a pad, so masking is an add inside
 * `dots`), then per layer keys (R, nh, P, hs) and values (R, nh, P, hs). A row that sits a call out gets zeros and mask 0 at its positions. Memories
 * of disposed stores are reused.
 */
import { rotateInPlace } from "./rope.js";
import { attentionLoops, wasmApi, type AttentionLoops, type WasmMemory } from "./simd.js";

/** Added to the score of a key a query must not see (the composed attention uses the same value). */
export const MASKED_SCORE = -1e9;

const PAGE_BYTES = 65536;

/**
 * Memories of disposed stores, kept for the next ones: generation makes one store per batch, and a
 * fresh 10–20 MB memory each time made V8 run a full garbage collection every few batches ("external
 * memory pressure"; measured: helper threads then used ~20 % extra CPU).
 */
const spareMemories: WasmMemory[] = [];
const MAX_SPARE_MEMORIES = 2;

/** A memory of at least `bytes`: a spare one (grown if needed) or a new one. */
function takeMemory(bytes: number): WasmMemory {
  const pages = Math.ceil(bytes / PAGE_BYTES);
  const fits = spareMemories.filter((m) => m.buffer.byteLength >= bytes).sort((a, b) => a.buffer.byteLength - b.buffer.byteLength)[0];
  const memory = fits ?? spareMemories[spareMemories.length - 1];
  if (memory !== undefined) {
    spareMemories.splice(spareMemories.indexOf(memory), 1);
    if (memory.buffer.byteLength < bytes && memory.grow !== undefined) memory.grow(pages - memory.buffer.byteLength / PAGE_BYTES);
    if (memory.buffer.byteLength >= bytes) return memory;
  }
  // Without WebAssembly (never the case in Node) a plain buffer serves the JavaScript loops.
  return wasmApi === undefined ? { buffer: new ArrayBuffer(pages * PAGE_BYTES) } : new wasmApi.Memory({ initial: pages });
}

function releaseMemory(memory: WasmMemory): void {
  if (spareMemories.length < MAX_SPARE_MEMORIES && !spareMemories.includes(memory)) spareMemories.push(memory);
}

/** Keys, values and key mask of a KV cache (see the module comment). */
export class KVStore {
  /** Positions in use (L), shared by all rows. */
  length = 0;
  private capacityPositions: number;
  private memory!: WasmMemory;
  private heap!: Float32Array;
  private loops!: AttentionLoops;
  private scoresAt = 0;
  /** Float index of one step's q, k, v of every input row (R, 3C). */
  private qkvAt = 0;
  /** Float index of the key bias (R, P): 0 where a row's cached position is a real token, else MASKED_SCORE. */
  private biasAt = 0;
  private keysAt = 0;

  /**
   * @param layers - transformer blocks
   * @param rows - R
   * @param heads - nh
   * @param headSize - hs (the SIMD loops need a multiple of 4; other sizes run the JavaScript twin)
   * @param capacity - positions to reserve up front (grows on demand)
   */
  constructor(
    readonly layers: number,
    readonly rows: number,
    readonly heads: number,
    readonly headSize: number,
    capacity: number,
  ) {
    this.capacityPositions = 0;
    this.allocate(Math.max(4, capacity));
  }

  /** Positions the memory holds before it must grow. */
  get capacity(): number {
    return this.capacityPositions;
  }

  /** True when attention runs on the SIMD loops. */
  get simd(): boolean {
    return this.loops.simd;
  }

  /** Floats of one (layer, keys or values) block: (R, nh, P, hs). */
  private blockFloats(positions = this.capacityPositions): number {
    return this.rows * this.heads * positions * this.headSize;
  }

  /** Float index of (layer, keys/values, row, head, position 0). */
  private base(layer: number, values: boolean, row: number, head: number): number {
    const block = this.blockFloats();
    return this.keysAt + (2 * layer + (values ? 1 : 0)) * block + ((row * this.heads + head) * this.capacityPositions) * this.headSize;
  }

  /** A fresh memory of `positions` capacity; copies what the old one held. */
  private allocate(positions: number): void {
    const old = this.memory === undefined ? undefined : { heap: this.heap, capacity: this.capacityPositions, keysAt: this.keysAt, biasAt: this.biasAt };
    const hs = this.headSize;
    const scoresAt = 2 * hs + 4; // after out (hs), a spare lane block (hs) and the softmax max (padded to a lane)
    const qkvAt = scoresAt + positions + 4; // + 4: room to pad the scores to whole lanes
    const biasAt = qkvAt + this.rows * 3 * this.heads * hs; // after one step's q, k, v of every row
    const keysAt = biasAt + this.rows * positions;
    const floats = keysAt + 2 * this.layers * this.blockFloats(positions);
    const memory = takeMemory(floats * 4);
    const heap = new Float32Array(memory.buffer);
    heap.fill(MASKED_SCORE, biasAt, keysAt); // nothing cached is visible until written
    if (old !== undefined) {
      const oldBlock = this.blockFloats(old.capacity);
      const newBlock = this.blockFloats(positions);
      const used = this.length * hs;
      for (let block = 0; block < 2 * this.layers; block++) {
        for (let rh = 0; rh < this.rows * this.heads; rh++) {
          const from = old.keysAt + block * oldBlock + rh * old.capacity * hs;
          heap.set(old.heap.subarray(from, from + used), keysAt + block * newBlock + rh * positions * hs);
        }
      }
      for (let r = 0; r < this.rows; r++) {
        const from = old.biasAt + r * old.capacity;
        heap.set(old.heap.subarray(from, from + this.length), biasAt + r * positions);
      }
      releaseMemory(this.memory);
    }
    this.memory = memory;
    this.heap = heap;
    this.capacityPositions = positions;
    this.scoresAt = scoresAt;
    this.qkvAt = qkvAt;
    this.biasAt = biasAt;
    this.keysAt = keysAt;
    this.loops = attentionLoops(memory, this.headSize % 4 === 0);
  }

  /** Hands the memory back for reuse; the store must not be used afterwards. */
  release(): void {
    releaseMemory(this.memory);
  }

  /**
   * A store of `sources.length` rows whose row r holds what row `sources[r]` of this one holds (keys,
   * values and mask of every cached position), with this store's capacity. This store is unchanged.
   */
  gatherRows(sources: readonly number[]): KVStore {
    const out = new KVStore(this.layers, sources.length, this.heads, this.headSize, this.capacityPositions);
    out.length = this.length;
    const span = this.length * this.headSize;
    for (let layer = 0; layer < this.layers; layer++) {
      for (const values of [false, true]) {
        sources.forEach((source, row) => {
          for (let h = 0; h < this.heads; h++) {
            const from = this.base(layer, values, source, h);
            out.heap.set(this.heap.subarray(from, from + span), out.base(layer, values, row, h));
          }
        });
      }
    }
    sources.forEach((source, row) => {
      const from = this.biasAt + source * this.capacityPositions;
      out.heap.set(this.heap.subarray(from, from + this.length), out.biasAt + row * out.capacityPositions);
    });
    return out;
  }

  /**
   * Zeros keys and values of `steps` positions from `position` for the given rows: the rows that sit
   * a call out (a reused memory holds an earlier cache's values there; masked, but they must be finite).
   */
  clear(rows: ArrayLike<number>, position: number, steps: number): void {
    const hs = this.headSize;
    for (let layer = 0; layer < this.layers; layer++) {
      for (let i = 0; i < rows.length; i++) {
        for (let h = 0; h < this.heads; h++) {
          for (const values of [false, true]) {
            const at = this.base(layer, values, rows[i], h) + position * hs;
            this.heap.fill(0, at, at + steps * hs);
          }
        }
      }
    }
  }

  /** Makes room for `positions` positions in total (doubling, so appends stay amortised O(1)). */
  reserve(positions: number): void {
    if (positions > this.capacityPositions) this.allocate(Math.max(positions, 2 * this.capacityPositions));
  }

  /** 1 if `row`'s cached `position` is a real token, else 0. */
  maskAt(row: number, position: number): number {
    return this.heap[this.biasAt + row * this.capacityPositions + position] === 0 ? 1 : 0;
  }

  /** Sets the mask of `row` at `position` (reserve first). */
  setMask(row: number, position: number, real: number): void {
    this.heap[this.biasAt + row * this.capacityPositions + position] = real === 0 ? MASKED_SCORE : 0;
  }

  /**
   * Writes keys and values of `steps` new positions starting at `position` for the given rows.
   * `keys`/`values` are (rows.length, nh, steps, hs), row i going to cache row `rows[i]`.
   */
  write(layer: number, rows: ArrayLike<number>, position: number, steps: number, keys: Float32Array, values: Float32Array): void {
    const hs = this.headSize;
    const span = steps * hs;
    for (let i = 0; i < rows.length; i++) {
      for (let h = 0; h < this.heads; h++) {
        const from = (i * this.heads + h) * span;
        this.heap.set(keys.subarray(from, from + span), this.base(layer, false, rows[i], h) + position * hs);
        this.heap.set(values.subarray(from, from + span), this.base(layer, true, rows[i], h) + position * hs);
      }
    }
  }

  /**
   * The first `positions` cached keys and values of the given rows, each (rows.length, nh, positions, hs)
   * (the composed attention of multi-token calls reads them as tensors).
   */
  read(layer: number, rows: ArrayLike<number>, positions: number): { keys: Float32Array; values: Float32Array } {
    const hs = this.headSize;
    const span = positions * hs;
    const keys = new Float32Array(rows.length * this.heads * span);
    const values = new Float32Array(keys.length);
    for (let i = 0; i < rows.length; i++) {
      for (let h = 0; h < this.heads; h++) {
        const k = this.base(layer, false, rows[i], h);
        const v = this.base(layer, true, rows[i], h);
        keys.set(this.heap.subarray(k, k + span), (i * this.heads + h) * span);
        values.set(this.heap.subarray(v, v + span), (i * this.heads + h) * span);
      }
    }
    return { keys, values };
  }

  /**
   * One decoding step of one layer: for each input row i (cache row `rows[i]`), stores its new key and
   * value (from `qkv`) at `position`, then attends its query over positions 0..position with the key
   * mask (set the new position's mask first) and writes the merged heads to `out`.
   *
   * Same math as the composed attention: softmax(q·k / sqrt(hs) + bias) · v, bias = MASKED_SCORE
   * where the mask is 0 (so a query whose keys are all masked averages them, as there).
   *
   * @param qkv - (rows.length, 3C): query, key and value of each input row, heads side by side
   * @param out - (rows.length, C): heads side by side, (R, nh, hs) -> (R, C)
   * @param rotary - for a rotary model: each input row's position id and RoPE's base; the row's query
   *   and key are rotated (in the store's copy of `qkv`) before the key is stored and attended with
   */
  attend(
    layer: number, qkv: Float32Array, rows: ArrayLike<number>, position: number, out: Float32Array,
    rotary?: { positions: ArrayLike<number>; base: number },
  ): void {
    const { heads, headSize: hs } = this;
    const C = heads * hs;
    const n = position + 1;
    const lanes = (n + 3) & ~3; // the softmax runs over whole lanes; the padding adds exp(−∞) = 0
    const scale = 1 / Math.sqrt(hs);
    const heap = this.heap;
    const outAt = 0;
    const maxAt = 2 * hs;
    const scoresAt = this.scoresAt;
    const qkvAt = this.qkvAt;
    const loops = this.loops;
    heap.set(qkv, qkvAt); // copies within the memory below allocate nothing (this loop runs B·nh·layers times a step)
    if (rotary !== undefined) {
      for (let i = 0; i < rows.length; i++) {
        rotateInPlace(heap, qkvAt + i * 3 * C, heads, hs, rotary.positions[i], rotary.base); // query
        rotateInPlace(heap, qkvAt + i * 3 * C + C, heads, hs, rotary.positions[i], rotary.base); // key
      }
    }
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const biasRow = this.biasAt + row * this.capacityPositions;
      for (let h = 0; h < heads; h++) {
        const keyBase = this.base(layer, false, row, h);
        const valueBase = this.base(layer, true, row, h);
        const qAt = qkvAt + i * 3 * C + h * hs;
        heap.copyWithin(keyBase + position * hs, qAt + C, qAt + C + hs);
        heap.copyWithin(valueBase + position * hs, qAt + 2 * C, qAt + 2 * C + hs);
        // Scores f32(q·k / sqrt(hs)) + bias, as the composed attention rounds them (so keys that are
        // all masked tie at MASKED_SCORE and get equal weights there as here).
        loops.dots(4 * qAt, 4 * keyBase, n, 4 * hs, 4 * scoresAt, scale, 4 * biasRow);
        for (let j = n; j < lanes; j++) heap[scoresAt + j] = -Infinity;
        const sum = loops.exps(4 * scoresAt, lanes, 1, 4 * maxAt); // unnormalised softmax weights
        loops.mix(4 * scoresAt, 4 * valueBase, n, 4 * hs, 4 * outAt);
        const inverse = 1 / sum;
        const o = i * C + h * hs;
        for (let d = 0; d < hs; d++) out[o + d] = heap[outAt + d] * inverse;
      }
    }
  }
}
