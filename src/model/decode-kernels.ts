/**
 * Fused kernels for inference-only decoding, registered with TensorFlow.js for the wasm and cpu
 * backends (other backends run the composed ops instead, see {@link hasDecodeKernels}).
 *
 * A decoding step feeds one token per row, so each op touches only B·C floats and the engine's
 * fixed cost per kernel (~10–20 µs measured on wasm) outweighs the arithmetic: GPT-2's LayerNorm is
 * nine kernels (mean, sub, square, mean, add, rsqrt, mul, mul, add) and runs seven times per step of
 * a 3-layer model. `GrpoLayerNorm` does it in one pass over each row, reading and writing the
 * backend's own memory (the wasm heap, or the cpu backend's typed arrays) without copies.
 * `GrpoGeluTanh` replaces GELU's seven kernels (square, mul, add, mul, mul, sigmoid, mul) by one pass
 * of the SIMD loops in `simd.ts` (its exponentials on four lanes; data copied in and out of their
 * memory, which costs less than one more kernel).
 *
 * Kernels here have no gradient: the transformer uses them only while no gradient is recorded.
 * Shapes: N rows, C channels.
 */
import * as tf from "@tensorflow/tfjs";
import { scratchLoops } from "./simd.js";

/** Kernel name of the fused LayerNorm (inputs x [N, C], gamma [C], beta [C]; attr epsilon). */
const LAYER_NORM_KERNEL = "GrpoLayerNorm";
/** Kernel name of the fused tanh GELU (input x, any shape). */
const GELU_KERNEL = "GrpoGeluTanh";
/** Kernel name of the residual add then LayerNorm (inputs x, y [..., C], gamma, beta [C]; outputs x + y and its LayerNorm). */
const ADD_LAYER_NORM_KERNEL = "GrpoAddLayerNorm";

const BACKENDS = ["wasm", "cpu"] as const;
type KernelBackend = (typeof BACKENDS)[number];

/** The parts of the wasm backend object used here (it has no public types for them). */
interface WasmBackendMemory {
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  dataIdMap: { has(dataId: object): boolean };
}

/** The parts of the cpu backend object used here. */
interface CpuBackendMemory {
  data: { get(dataId: object): { values?: unknown }; has(dataId: object): boolean };
  makeTensorInfo(shape: number[], dtype: "float32", values?: Float32Array): tf.TensorInfo;
}

/**
 * The values of a float32 tensor without copying them, where the active backend keeps them in memory
 * JavaScript can see (the wasm heap, the cpu backend's arrays); undefined elsewhere (use `data()`).
 * A view is valid only until the tensor is disposed or the backend allocates (the wasm heap may grow
 * and move): read it at once. Avoids a fresh array per read, which in decoding loops (logits of every
 * step, keys of every layer) fed V8's garbage collector.
 */
export function floatView(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== "float32") return undefined;
  const name = tf.getBackend();
  const backend = tf.backend() as unknown;
  if (name === "wasm") {
    const wasm = backend as WasmBackendMemory;
    return wasm.dataIdMap.has(t.dataId) ? wasm.typedArrayFromHeap(t) : undefined;
  }
  if (name === "cpu") {
    const cpu = backend as CpuBackendMemory;
    const values = cpu.data.has(t.dataId) ? cpu.data.get(t.dataId).values : undefined;
    return values instanceof Float32Array && values.length === t.size ? values : undefined;
  }
  return undefined;
}

/** Float views of a kernel's inputs and its freshly allocated output, for either backend. */
function withMemory(
  backendName: KernelBackend,
  backend: unknown,
  inputs: tf.TensorInfo[],
  outShape: number[],
): { views: Float32Array[]; out: Float32Array; info: tf.TensorInfo } {
  const { views, outs, infos } = withOutputs(backendName, backend, inputs, [outShape]);
  return { views, out: outs[0], info: infos[0] };
}

/** {@link withMemory} with several outputs. */
function withOutputs(
  backendName: KernelBackend,
  backend: unknown,
  inputs: tf.TensorInfo[],
  outShapes: number[][],
): { views: Float32Array[]; outs: Float32Array[]; infos: tf.TensorInfo[] } {
  for (const t of inputs) {
    if (t.dtype !== "float32") throw new Error(`Grpo kernels: inputs must be float32, got ${t.dtype}.`);
  }
  if (backendName === "wasm") {
    const wasm = backend as WasmBackendMemory;
    // Allocate first: allocation may grow (and so detach) the heap, so views are taken afterwards.
    const infos = outShapes.map((shape) => wasm.makeOutput(shape, "float32"));
    return { views: inputs.map((t) => wasm.typedArrayFromHeap(t)), outs: infos.map((info) => wasm.typedArrayFromHeap(info)), infos };
  }
  const cpu = backend as CpuBackendMemory;
  const views = inputs.map((t) => {
    const values = cpu.data.get(t.dataId).values;
    return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  });
  const outs = outShapes.map((shape) => new Float32Array(shape.reduce((a, b) => a * b, 1)));
  return { views, outs, infos: outShapes.map((shape, i) => cpu.makeTensorInfo(shape, "float32", outs[i])) };
}

/**
 * GPT-2's LayerNorm over the last axis of `x` (rows of C): `(x − mean) / sqrt(var + ε) · γ + β`
 * with the biased variance, each row's sums in float64.
 */
function layerNormRows(x: Float32Array, gamma: Float32Array, beta: Float32Array, out: Float32Array, channels: number, epsilon: number): void {
  for (let start = 0; start < x.length; start += channels) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += x[start + c];
    const mean = sum / channels;
    let squares = 0;
    for (let c = 0; c < channels; c++) {
      const d = x[start + c] - mean;
      squares += d * d;
    }
    const scale = 1 / Math.sqrt(squares / channels + epsilon);
    for (let c = 0; c < channels; c++) out[start + c] = (x[start + c] - mean) * scale * gamma[c] + beta[c];
  }
}

function layerNormKernel(backendName: KernelBackend): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as unknown as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const { epsilon } = attrs as unknown as { epsilon: number };
    const channels = x.shape[x.shape.length - 1];
    if (gamma.shape.length !== 1 || gamma.shape[0] !== channels || beta.shape.length !== 1 || beta.shape[0] !== channels) {
      throw new Error(`${LAYER_NORM_KERNEL}: gamma and beta must be [${channels}], got [${gamma.shape}] and [${beta.shape}].`);
    }
    const { views, out, info } = withMemory(backendName, backend, [x, gamma, beta], [...x.shape]);
    layerNormRows(views[0], views[1], views[2], out, channels, epsilon);
    return info;
  };
}

function addLayerNormKernel(backendName: KernelBackend): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, y, gamma, beta } = inputs as unknown as { x: tf.TensorInfo; y: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const { epsilon } = attrs as unknown as { epsilon: number };
    const channels = x.shape[x.shape.length - 1];
    const same = x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i]);
    if (!same || gamma.shape[0] !== channels || beta.shape[0] !== channels) {
      throw new Error(`${ADD_LAYER_NORM_KERNEL}: x and y must have one shape and gamma, beta [${channels}]; got [${x.shape}], [${y.shape}], [${gamma.shape}], [${beta.shape}].`);
    }
    const { views, outs, infos } = withOutputs(backendName, backend, [x, y, gamma, beta], [[...x.shape], [...x.shape]]);
    const [xs, ys] = views;
    const sum = outs[0];
    for (let i = 0; i < sum.length; i++) sum[i] = xs[i] + ys[i]; // float32 rounding, as tf.add
    layerNormRows(sum, views[2], views[3], outs[1], channels, epsilon);
    return infos;
  };
}

function geluKernel(backendName: KernelBackend): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const { x } = inputs as unknown as { x: tf.TensorInfo };
    const { views, out, info } = withMemory(backendName, backend, [x], [...x.shape]);
    const n = out.length;
    const lanes = (n + 3) & ~3; // whole SIMD lanes; the padding computes gelu(0) = 0, not copied out
    const { heap, loops } = scratchLoops(8 * lanes);
    heap.set(views[0], 0);
    heap.fill(0, n, lanes);
    loops.gelu(0, 4 * lanes, lanes);
    out.set(heap.subarray(lanes, lanes + n));
    return info;
  };
}

let registered = false;

/** Registers the kernels for the wasm and cpu backends (idempotent; the backends need not be loaded). */
function installDecodeKernels(): void {
  if (registered) return;
  for (const backendName of BACKENDS) {
    if (tf.getKernel(LAYER_NORM_KERNEL, backendName) === undefined) {
      tf.registerKernel({ kernelName: LAYER_NORM_KERNEL, backendName, kernelFunc: layerNormKernel(backendName) });
    }
    if (tf.getKernel(GELU_KERNEL, backendName) === undefined) {
      tf.registerKernel({ kernelName: GELU_KERNEL, backendName, kernelFunc: geluKernel(backendName) });
    }
    if (tf.getKernel(ADD_LAYER_NORM_KERNEL, backendName) === undefined) {
      tf.registerKernel({ kernelName: ADD_LAYER_NORM_KERNEL, backendName, kernelFunc: addLayerNormKernel(backendName) });
    }
  }
  registered = true;
}

let disabled = false;

/**
 * @internal Tests and benchmarks only: make {@link hasDecodeKernels} report false (true restores),
 * so the same process can run the composed ops for comparison.
 */
export function setDecodeKernelsDisabled(off: boolean): void {
  disabled = off;
}

/** True when the active backend runs the fused decoding kernels. */
export function hasDecodeKernels(): boolean {
  installDecodeKernels();
  return !disabled && tf.getKernel(LAYER_NORM_KERNEL, tf.getBackend()) !== undefined;
}

/**
 * LayerNorm over the last axis in one kernel (no gradient: call only while none is recorded).
 *
 * @param x - float32 [..., C]
 * @param gamma - float32 [C]
 * @param beta - float32 [C]
 * @returns float32, the shape of `x`
 */
export function fusedLayerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): T {
  installDecodeKernels();
  return tf.engine().runKernel(LAYER_NORM_KERNEL, { x, gamma, beta }, { epsilon }) as T;
}

/**
 * The residual stream's add and the next LayerNorm in one kernel (no gradient: call only while none
 * is recorded): returns `[x + y, LayerNorm(x + y)]`, the sum rounded to float32 as `tf.add` does.
 *
 * @param x - float32 [..., C]
 * @param y - float32, the shape of `x`
 * @param gamma - float32 [C]
 * @param beta - float32 [C]
 */
export function fusedAddLayerNorm<T extends tf.Tensor>(x: T, y: T, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): [T, T] {
  installDecodeKernels();
  return tf.engine().runKernel(ADD_LAYER_NORM_KERNEL, { x, y, gamma, beta }, { epsilon }) as unknown as [T, T];
}

/**
 * GPT-2's tanh GELU, `0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))`, in one kernel (no gradient:
 * call only while none is recorded). Float32 SIMD exponentials: within ~1e-6 of float64.
 *
 * @param x - float32, any shape
 * @returns float32, the shape of `x`
 */
export function fusedGelu<T extends tf.Tensor>(x: T): T {
  installDecodeKernels();
  return tf.engine().runKernel(GELU_KERNEL, { x }) as T;
}
