/**
 * The two inner loops of one-query attention (KV-cache decoding), as a tiny WebAssembly SIMD module
 * assembled here byte by byte, with a plain JavaScript twin used where WebAssembly SIMD is missing.
 *
 *   dots(q, k, n, rowBytes, out, scale):  out[j] = scale · Σ_d q[d] · k[j, d]      j < n   (scores)
 *   mix(w, v, n, rowBytes, out):          out[d] = Σ_j w[j] · v[j, d]              d < hs  (weighted values)
 *
 * Pointers are byte offsets into one `WebAssembly.Memory` (float32, little-endian); rows of `k` and
 * `v` are `rowBytes` = 4·hs apart, and hs must be a multiple of 4 (four float lanes). Sums run in
 * float32 SIMD lanes, so results equal a float64 reference to float32 rounding (the tfjs kernels they
 * replace sum in another order: agreement is to ~1e-6 relative, not bitwise).
 *
 * Why not JavaScript alone: the loops are 2·hs multiply-adds per cached position per head; in V8 a
 * scalar loop takes ~2 ns per multiply-add (measured: 1.6 ms per layer at 32 rows × 100 positions),
 * four lanes take a fraction of that. No tooling is needed to build this module: the bytes below
 * follow the WebAssembly binary format (core spec §5, SIMD proposal opcodes), and
 * `WebAssembly.validate` checks them at load.
 */

/** A WebAssembly memory (declared here: this project's TypeScript libs carry no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  /** Adds pages of 64 KiB (the buffer is then replaced; absent on a plain-buffer stand-in). */
  grow?(pages: number): number;
}

/** The parts of the global `WebAssembly` object used here. */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}

/** The global `WebAssembly`, or undefined where the runtime has none. */
export const wasmApi: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The two loops over one memory (see the module comment). */
export interface AttentionLoops {
  /** `out[j] = scale · (q · k[j])` for j < n (float32 results). */
  dots(q: number, k: number, n: number, rowBytes: number, out: number, scale: number): void;
  /** `out[d] = Σ_{j<n} w[j] · v[j, d]` for d < rowBytes / 4. */
  mix(w: number, v: number, n: number, rowBytes: number, out: number): void;
  /** True when these are the SIMD loops (false: the JavaScript twin). */
  readonly simd: boolean;
}

// ---------------------------------------------------------------------------------------------
// A minimal assembler: just what two loops need.

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, "utf8")];
  return [...uleb(bytes.length), ...bytes];
}

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

// Instructions (core opcodes, then 0xfd-prefixed SIMD opcodes with a LEB128 sub-opcode).
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32Const = (v: number) => [0x41, ...sleb(v)];
const I32_ADD = [0x6a];
const I32_LT_S = [0x48];
const I32_LT_U = [0x49];
const I32_LE_S = [0x4c];
const F32_ADD = [0x92];
const F32_MUL = [0x94];
const f32Load = [0x2a, 2, 0]; // align 2^2, offset 0
const f32Store = [0x38, 2, 0];
const BLOCK = [0x02, 0x40]; // block with no result
const LOOP = [0x03, 0x40];
const END = [0x0b];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const V128_LOAD = simd(0x00, 2, 0); // align 2^2 (unaligned is allowed; alignment is a hint)
const V128_STORE = simd(0x0b, 2, 0);
const V128_ZERO = simd(0x0c, ...new Array<number>(16).fill(0)); // v128.const 0
const F32X4_SPLAT = simd(0x13);
const f32x4Lane = (lane: number) => simd(0x1f, lane); // f32x4.extract_lane
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);

/** A function body: locals grouped as (count, type) pairs, then the code, then `end`. */
function body(locals: Array<[number, number]>, code: number[][]): number[] {
  const content = [...vector(locals.map(([count, type]) => [...uleb(count), type])), ...code.flat(), ...END];
  return [...uleb(content.length), ...content];
}

/**
 * dots(q, k, n, rowBytes, out, scale); locals: j, d, acc.
 * for (j = 0; j < n; j++) { acc = 0; for (d = 0; d < rowBytes; d += 16) acc += q[d] * k[d];
 *   *out = scale * (acc0 + acc1 + acc2 + acc3); out += 4; k += rowBytes }
 */
function dotsBody(): number[] {
  const [q, k, n, rowBytes, out, scale, j, d, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  return body([[2, I32], [1, V128]], [
    i32Const(0), set(j),
    BLOCK,
    get(n), i32Const(0), I32_LE_S, brIf(0),
    LOOP,
    V128_ZERO, set(acc),
    i32Const(0), set(d),
    LOOP,
    get(acc),
    get(q), get(d), I32_ADD, V128_LOAD,
    get(k), get(d), I32_ADD, V128_LOAD,
    F32X4_MUL, F32X4_ADD, set(acc),
    get(d), i32Const(16), I32_ADD, tee(d), get(rowBytes), I32_LT_U, brIf(0),
    END,
    get(out),
    get(acc), f32x4Lane(0), get(acc), f32x4Lane(1), F32_ADD, get(acc), f32x4Lane(2), F32_ADD, get(acc), f32x4Lane(3), F32_ADD,
    get(scale), F32_MUL,
    f32Store,
    get(out), i32Const(4), I32_ADD, set(out),
    get(k), get(rowBytes), I32_ADD, set(k),
    get(j), i32Const(1), I32_ADD, tee(j), get(n), I32_LT_S, brIf(0),
    END,
    END,
  ]);
}

/**
 * mix(w, v, n, rowBytes, out); locals: d, j, p, wp, acc.
 * for (d = 0; d < rowBytes; d += 16) { acc = 0; p = v + d; wp = w;
 *   for (j = 0; j < n; j++) { acc += splat(*wp) * p[0..3]; p += rowBytes; wp += 4 } out[d] = acc }
 */
function mixBody(): number[] {
  const [w, v, n, rowBytes, out, d, j, p, wp, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  return body([[4, I32], [1, V128]], [
    i32Const(0), set(d),
    LOOP,
    V128_ZERO, set(acc),
    get(v), get(d), I32_ADD, set(p),
    get(w), set(wp),
    i32Const(0), set(j),
    BLOCK,
    get(n), i32Const(0), I32_LE_S, brIf(0),
    LOOP,
    get(acc),
    get(wp), f32Load, F32X4_SPLAT,
    get(p), V128_LOAD,
    F32X4_MUL, F32X4_ADD, set(acc),
    get(p), get(rowBytes), I32_ADD, set(p),
    get(wp), i32Const(4), I32_ADD, set(wp),
    get(j), i32Const(1), I32_ADD, tee(j), get(n), I32_LT_S, brIf(0),
    END,
    END,
    get(out), get(d), I32_ADD, get(acc), V128_STORE,
    get(d), i32Const(16), I32_ADD, tee(d), get(rowBytes), I32_LT_U, brIf(0),
    END,
  ]);
}

/** The module's bytes: imports env.memory, exports `dots` (type 0) and `mix` (type 1). */
function moduleBytes(): Uint8Array {
  const types = vector([
    [0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [F32]]), ...vector([])],
    [0x60, ...vector([[I32], [I32], [I32], [I32], [I32]]), ...vector([])],
  ]);
  const imports = vector([[...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)]]); // memory, min 1 page
  const functions = vector([uleb(0), uleb(1)]);
  const exports = vector([[...name("dots"), 0x00, ...uleb(0)], [...name("mix"), 0x00, ...uleb(1)]]);
  const code = vector([dotsBody(), mixBody()]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, types), ...section(2, imports), ...section(3, functions), ...section(7, exports), ...section(10, code),
  ]);
}

let compiled: object | null | undefined;
let simdDisabled = false;

/** The compiled module, or null where WebAssembly SIMD is unavailable. */
function simdModule(): object | null {
  if (compiled === undefined) {
    const bytes = moduleBytes();
    compiled = wasmApi !== undefined && wasmApi.validate(bytes) ? new wasmApi.Module(bytes) : null;
  }
  return compiled;
}

/**
 * @internal Tests only: use the JavaScript loops even where SIMD works (true), or not (false), for
 * stores created afterwards.
 */
export function setAttentionSimdDisabled(disabled: boolean): void {
  simdDisabled = disabled;
}

/** The JavaScript twin of the SIMD loops, over the same memory. */
function javascriptLoops(memory: WasmMemory): AttentionLoops {
  let heap = new Float32Array(memory.buffer);
  const view = () => (heap.buffer === memory.buffer ? heap : (heap = new Float32Array(memory.buffer)));
  return {
    simd: false,
    dots(q, k, n, rowBytes, out, scale) {
      const h = view();
      const hs = rowBytes >> 2;
      const q0 = q >> 2;
      for (let j = 0, kj = k >> 2, o = out >> 2; j < n; j++, kj += hs, o++) {
        let s = 0;
        for (let d = 0; d < hs; d++) s += h[q0 + d] * h[kj + d];
        h[o] = Math.fround(s) * Math.fround(scale);
      }
    },
    mix(w, v, n, rowBytes, out) {
      const h = view();
      const hs = rowBytes >> 2;
      const o = out >> 2;
      for (let d = 0; d < hs; d++) h[o + d] = 0;
      for (let j = 0, vj = v >> 2, wj = w >> 2; j < n; j++, vj += hs, wj++) {
        const weight = h[wj];
        for (let d = 0; d < hs; d++) h[o + d] += weight * h[vj + d];
      }
    },
  };
}

/** The attention loops over `memory`: the SIMD module where it validates, else JavaScript. */
export function attentionLoops(memory: WasmMemory): AttentionLoops {
  const module = simdDisabled ? null : simdModule();
  if (module === null || wasmApi === undefined) return javascriptLoops(memory);
  const instance = new wasmApi.Instance(module, { env: { memory } });
  const { dots, mix } = instance.exports as unknown as Omit<AttentionLoops, "simd">;
  return { simd: true, dots, mix };
}
