/**
 * The inner loops of KV-cache decoding (one-query attention, and the exponentials of the sampler's
 * softmax), as a tiny WebAssembly SIMD module assembled here byte by byte, with a plain JavaScript
 * twin used where WebAssembly SIMD is missing.
 *
 *   dots(q, k, n, rowBytes, out, scale, bias): out[j] = f32(scale · Σ_d q[d] · k[j, d]) + bias[j]   j < n
 *   mix(w, v, n, rowBytes, out):               out[d] = Σ_j w[j] · v[j, d]                         d < hs
 *   exps(x, n, scale, maxOut) -> sum:          m = max_j x[j]·scale (stored at maxOut);
 *                                              x[j] = exp(x[j]·scale − m); returns Σ_j x[j]        j < n
 *   gelu(x, out, n):                           out[j] = x[j] · sigmoid(2·sqrt(2/π)·(x[j] + 0.044715·x[j]³))
 *                                              (GPT-2's tanh GELU, = 0.5·x·(1 + tanh u))          j < n
 *
 * Pointers are byte offsets into one `WebAssembly.Memory` (float32, little-endian); rows of `k` and
 * `v` are `rowBytes` = 4·hs apart, hs a multiple of 4 (four float lanes); `exps` runs over whole
 * lanes, so n is a multiple of 4 (pad with −Infinity: it adds 0 to the sum), and so does `gelu`. Sums run in float32
 * lanes, so results equal a float64 reference to float32 rounding, like the tfjs kernels they replace
 * (which sum in another order: agreement is ~1e-6 relative, not bitwise). The exponential is
 * exp(x) = 2^n · p(r), n = round(x / ln 2), r = x − n·ln 2 (in two parts), p the degree-7 Taylor
 * polynomial (relative error < 3e-7 on |r| ≤ ln2/2); results below e^−87 flush to 0.
 *
 * Why not JavaScript alone: attention is 2·hs multiply-adds per cached position per head, and the
 * sampler one exp per vocabulary entry per token; V8 runs a scalar multiply-add in ~2 ns and
 * `Math.exp` in ~13 ns (measured), four lanes take a fraction of that. No tooling is needed to build
 * the module: the bytes follow the WebAssembly binary format (core spec §5, SIMD opcodes), and
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

/** The loops over one memory (see the module comment). */
export interface AttentionLoops {
  /** `out[j] = f32(scale · (q · k[j])) + bias[j]` for j < n (float32 results). */
  dots(q: number, k: number, n: number, rowBytes: number, out: number, scale: number, bias: number): void;
  /** `out[d] = Σ_{j<n} w[j] · v[j, d]` for d < rowBytes / 4. */
  mix(w: number, v: number, n: number, rowBytes: number, out: number): void;
  /** In place `x[j] = exp(x[j]·scale − m)`, m = max of x·scale (stored at `maxOut`); returns the float32 sum. n % 4 == 0. */
  exps(x: number, n: number, scale: number, maxOut: number): number;
  /** `out[j] = gelu_tanh(x[j])` for j < n, n % 4 == 0. */
  gelu(x: number, out: number, n: number): void;
  /** True when these are the SIMD loops (false: the JavaScript twin). */
  readonly simd: boolean;
}

// ---------------------------------------------------------------------------------------------
// A minimal assembler: just what these loops need.

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
const F32_MAX = [0x97];
const RETURN = [0x0f];
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
const F32X4_SUB = simd(0xe5);
const F32X4_MUL = simd(0xe6);
const F32X4_DIV = simd(0xe7);
const F32X4_MIN = simd(0xe8);
const F32X4_MAX = simd(0xe9);
const F32X4_GE = simd(0x46);
const F32X4_NEAREST = simd(0x6a);
const V128_AND = simd(0x4e);
const I32X4_TRUNC_SAT_F32X4_S = simd(0xf8);
const I32X4_ADD = simd(0xae);
const I32X4_SHL = simd(0xab);

/** v128.const of four equal float32 lanes. */
function f32x4Const(value: number): number[] {
  return simd(0x0c, ...new Uint8Array(new Float32Array([value, value, value, value]).buffer));
}

/** v128.const of four equal int32 lanes. */
function i32x4Const(value: number): number[] {
  return simd(0x0c, ...new Uint8Array(new Int32Array([value, value, value, value]).buffer));
}

/** Horizontal sum of the v128 in local `v`: ((v0 + v1) + v2) + v3, a float32 on the stack. */
function laneSum(v: number): number[][] {
  return [get(v), f32x4Lane(0), get(v), f32x4Lane(1), F32_ADD, get(v), f32x4Lane(2), F32_ADD, get(v), f32x4Lane(3), F32_ADD];
}

/** Horizontal max of the v128 in local `v`, a float32 on the stack. */
function laneMax(v: number): number[][] {
  return [get(v), f32x4Lane(0), get(v), f32x4Lane(1), F32_MAX, get(v), f32x4Lane(2), F32_MAX, get(v), f32x4Lane(3), F32_MAX];
}

const LN2_HI = 0.693359375; // ln 2 split so that n · LN2_HI is exact for |n| < 2^12
const LN2_LO = -2.12194440e-4;

/**
 * exp of the four lanes of local `x` (≤ ~88), left on the stack; uses locals `n`, `r`.
 * 2^n · p(r): n = nearest(x · log2 e), r = x − n·ln2 (two parts), p = Σ_{i≤7} r^i / i! (Horner),
 * 2^n built in the exponent bits; lanes with x < −87 (2^n below the normal range) give 0.
 */
function exp4(x: number, n: number, r: number): number[][] {
  const taylor = [1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1];
  const horner: number[][] = [f32x4Const(taylor[0])];
  for (const c of taylor.slice(1)) horner.push(get(r), F32X4_MUL, f32x4Const(c), F32X4_ADD);
  return [
    get(x), f32x4Const(Math.LOG2E), F32X4_MUL, F32X4_NEAREST, set(n),
    get(x), get(n), f32x4Const(LN2_HI), F32X4_MUL, F32X4_SUB, get(n), f32x4Const(LN2_LO), F32X4_MUL, F32X4_SUB, set(r),
    ...horner,
    get(n), I32X4_TRUNC_SAT_F32X4_S, i32x4Const(127), I32X4_ADD, i32Const(23), I32X4_SHL, // 2^n as float32 bits
    F32X4_MUL,
    get(x), f32x4Const(-87), F32X4_GE, V128_AND,
  ];
}

/** A function body: locals grouped as (count, type) pairs, then the code, then `end`. */
function body(locals: Array<[number, number]>, code: number[][]): number[] {
  const content = [...vector(locals.map(([count, type]) => [...uleb(count), type])), ...code.flat(), ...END];
  return [...uleb(content.length), ...content];
}

/**
 * dots(q, k, n, rowBytes, out, scale, bias); locals: j, d, acc.
 * for (j = 0; j < n; j++) { acc = 0; for (d = 0; d < rowBytes; d += 16) acc += q[d] * k[d];
 *   *out = f32(scale * (acc0 + acc1 + acc2 + acc3)) + *bias; out += 4; bias += 4; k += rowBytes }
 */
function dotsBody(): number[] {
  const [q, k, n, rowBytes, out, scale, bias, j, d, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
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
    ...laneSum(acc),
    get(scale), F32_MUL,
    get(bias), f32Load, F32_ADD,
    f32Store,
    get(out), i32Const(4), I32_ADD, set(out),
    get(bias), i32Const(4), I32_ADD, set(bias),
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

/**
 * exps(x, n, scale, maxOut) -> sum; locals: p, end, m, v, e, acc, nn, r.
 * m = max over lanes of x·scale; *maxOut = m; then x = exp(x·scale − m) in place, summed in lanes.
 */
function expsBody(): number[] {
  const [x, n, scale, maxOut, p, end, m, v, acc, nn, r] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  return body([[2, I32], [1, F32], [4, V128]], [
    get(x), get(n), i32Const(2), [0x74], I32_ADD, set(end), // end = x + 4n (i32.shl)
    f32x4Const(-Infinity), set(acc),
    get(x), set(p),
    BLOCK,
    get(n), i32Const(0), I32_LE_S, brIf(0),
    LOOP,
    get(acc), get(p), V128_LOAD, get(scale), F32X4_SPLAT, F32X4_MUL, F32X4_MAX, set(acc),
    get(p), i32Const(16), I32_ADD, tee(p), get(end), I32_LT_U, brIf(0),
    END,
    END,
    ...laneMax(acc), set(m),
    get(maxOut), get(m), f32Store,
    V128_ZERO, set(acc),
    get(x), set(p),
    BLOCK,
    get(n), i32Const(0), I32_LE_S, brIf(0),
    LOOP,
    get(p), V128_LOAD, get(scale), F32X4_SPLAT, F32X4_MUL, get(m), F32X4_SPLAT, F32X4_SUB, set(v),
    get(p), ...exp4(v, nn, r), tee(v), V128_STORE,
    get(acc), get(v), F32X4_ADD, set(acc),
    get(p), i32Const(16), I32_ADD, tee(p), get(end), I32_LT_U, brIf(0),
    END,
    END,
    ...laneSum(acc),
    RETURN,
  ]);
}

/**
 * gelu(x, out, n); locals: p, o, end, v, t, nn, r.
 * out = x / (1 + exp(t)), t = min(x · (a + b·x²), 88) with a = −2·sqrt(2/π), b = a·0.044715: the
 * sigmoid form of the tanh GELU; the clamp keeps exp finite (x/(1+e^88) is 0 to float32 precision).
 */
function geluBody(): number[] {
  const [x, out, n, p, o, end, v, t, nn, r] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const a = -2 * Math.sqrt(2 / Math.PI);
  return body([[3, I32], [4, V128]], [
    get(x), get(n), i32Const(2), [0x74], I32_ADD, set(end), // end = x + 4n (i32.shl)
    get(x), set(p),
    get(out), set(o),
    BLOCK,
    get(n), i32Const(0), I32_LE_S, brIf(0),
    LOOP,
    get(p), V128_LOAD, set(v),
    get(v), get(v), get(v), F32X4_MUL, f32x4Const(a * 0.044715), F32X4_MUL, f32x4Const(a), F32X4_ADD, F32X4_MUL,
    f32x4Const(88), F32X4_MIN, set(t),
    get(o),
    get(v),
    f32x4Const(1), ...exp4(t, nn, r), F32X4_ADD,
    F32X4_DIV,
    V128_STORE,
    get(o), i32Const(16), I32_ADD, set(o),
    get(p), i32Const(16), I32_ADD, tee(p), get(end), I32_LT_U, brIf(0),
    END,
    END,
  ]);
}

/** The module's bytes: imports env.memory, exports `dots`, `mix`, `exps` and `gelu` (types 0–3). */
function moduleBytes(): Uint8Array {
  const types = vector([
    [0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [F32], [I32]]), ...vector([])],
    [0x60, ...vector([[I32], [I32], [I32], [I32], [I32]]), ...vector([])],
    [0x60, ...vector([[I32], [I32], [F32], [I32]]), ...vector([[F32]])],
    [0x60, ...vector([[I32], [I32], [I32]]), ...vector([])],
  ]);
  const imports = vector([[...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)]]); // memory, min 1 page
  const functions = vector([uleb(0), uleb(1), uleb(2), uleb(3)]);
  const exports = vector([
    [...name("dots"), 0x00, ...uleb(0)], [...name("mix"), 0x00, ...uleb(1)], [...name("exps"), 0x00, ...uleb(2)], [...name("gelu"), 0x00, ...uleb(3)],
  ]);
  const code = vector([dotsBody(), mixBody(), expsBody(), geluBody()]);
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
    dots(q, k, n, rowBytes, out, scale, bias) {
      const h = view();
      const hs = rowBytes >> 2;
      const q0 = q >> 2;
      for (let j = 0, kj = k >> 2, o = out >> 2, b = bias >> 2; j < n; j++, kj += hs, o++, b++) {
        let s = 0;
        for (let d = 0; d < hs; d++) s += h[q0 + d] * h[kj + d];
        h[o] = Math.fround(Math.fround(s) * Math.fround(scale)) + h[b];
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
    exps(x, n, scale, maxOut) {
      const h = view();
      const x0 = x >> 2;
      const s = Math.fround(scale);
      let m = -Infinity;
      for (let j = 0; j < n; j++) m = Math.max(m, Math.fround(h[x0 + j] * s));
      h[maxOut >> 2] = m;
      let sum = 0;
      for (let j = 0; j < n; j++) {
        h[x0 + j] = Math.exp(Math.fround(Math.fround(h[x0 + j] * s) - m));
        sum = Math.fround(sum + h[x0 + j]);
      }
      return sum;
    },
    gelu(x, out, n) {
      const h = view();
      const a = -2 * Math.sqrt(2 / Math.PI);
      for (let j = 0, i = x >> 2, o = out >> 2; j < n; j++, i++, o++) {
        const v = h[i];
        h[o] = v / (1 + Math.exp(Math.min(v * (a + a * 0.044715 * v * v), 88)));
      }
    },
  };
}

/**
 * The attention loops over `memory`: the SIMD module where it validates and `allowSimd` says (rows
 * of a multiple of 4 floats), else JavaScript.
 */
export function attentionLoops(memory: WasmMemory, allowSimd = true): AttentionLoops {
  const module = simdDisabled || !allowSimd ? null : simdModule();
  if (module === null || wasmApi === undefined) return javascriptLoops(memory);
  const instance = new wasmApi.Instance(module, { env: { memory } });
  const { dots, mix, exps, gelu } = instance.exports as unknown as Omit<AttentionLoops, "simd">;
  return { simd: true, dots, mix, exps, gelu };
}

/** A scratch memory with its loops, for kernels whose data lives elsewhere (tfjs tensors). */
let scratch: { memory: WasmMemory; loops: AttentionLoops; simd: boolean } | undefined;

/**
 * The loops over a scratch memory of at least `bytes`, shared by the calls of this thread (each
 * call copies its data in and out before returning).
 */
export function scratchLoops(bytes: number): { heap: Float32Array; loops: AttentionLoops } {
  const wantSimd = !simdDisabled && simdModule() !== null;
  if (scratch === undefined || scratch.memory.buffer.byteLength < bytes || scratch.simd !== wantSimd) {
    const pages = Math.ceil(Math.max(bytes, 1 << 20) / 65536);
    const memory: WasmMemory = wasmApi === undefined ? { buffer: new ArrayBuffer(pages * 65536) } : new wasmApi.Memory({ initial: pages });
    scratch = { memory, loops: attentionLoops(memory), simd: wantSimd };
  }
  return { heap: new Float32Array(scratch.memory.buffer), loops: scratch.loops };
}
