/**
 * Faster kernels for the tfjs wasm backend, installed by {@link installWasmKernels}.
 *
 * BatchMatMul. The wasm backend multiplies matrices through XNNPACK only when the batch is 1; any
 * batched product (attention: [B·nh, T, hs] @ [B·nh, hs, T]) goes to a scalar fallback loop at
 * ~1 GFLOP/s, while the XNNPACK path runs the same small matrices at 10–20 GFLOP/s (measured: 32
 * products of 64×32 @ 32×64 take 1.6 ms one by one, 18 ms as one batched call). This kernel runs a
 * batched product as one XNNPACK product per batch entry, without copying: each slice is registered
 * with the wasm module as a temporary tensor that points into its parent's memory, multiplied by
 * the backend's own BatchMatMul export, and unregistered (which frees nothing: memory is owned by
 * the parent tensors; it only drops the slice's cached XNNPACK operator).
 *
 * Results equal the fallback's up to float32 summation order (XNNPACK sums in SIMD lanes).
 * Shapes: batch entries, M/K/N matrix sides.
 */
import * as tf from "@tensorflow/tfjs";

/** The parts of the wasm backend object this module uses (it has no public types for them). */
interface WasmBackendInternals {
  wasm: {
    cwrap: (name: string, returnType: null, argTypes: string[]) => (...args: unknown[]) => void;
    tfjs: { registerTensor: (id: number, size: number, memoryOffset: number) => void; disposeData: (id: number) => void };
  };
  dataIdMap: { get: (dataId: object) => { memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput: (shape: number[], dtype: "float32") => tf.TensorInfo;
}

/**
 * Fewer rows per slice than this and the fallback loop wins: XNNPACK repacks each slice's right-hand
 * matrix, which only pays over several rows (measured: [32, 1, 32, 256] products 9× slower per slice,
 * [32, 4, 32, 64] 2× slower, [32, 64, 32, 64] 4× faster). KV-cache decoding (1 row) keeps the fallback.
 */
const MIN_ROWS = 16;

let installed = false;
let enabled = true;

/**
 * @internal Benchmarks only: turn the faster kernels off (true restores them), to measure before and
 * after in one process. Does nothing until {@link installWasmKernels} ran.
 */
export function setWasmKernelsEnabled(on: boolean): void {
  enabled = on;
}
let wasmMatMul: ((...args: unknown[]) => void) | undefined;

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/**
 * Replaces the wasm backend's BatchMatMul kernel with one that sends each batch entry through
 * XNNPACK (see the module comment). Idempotent; does nothing when the wasm backend's kernels are not
 * registered (the package was not imported). Other backends are not touched.
 */
export function installWasmKernels(): void {
  if (installed) return;
  const original = tf.getKernel(tf.BatchMatMul, "wasm");
  if (original === undefined) return;
  const fallback = original.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const rank = a.shape.length;
    const lead = a.shape.slice(0, -2);
    const batch = lead.reduce((p, d) => p * d, 1);
    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.shape.length - 1];
    const sameLead = b.shape.length === rank && lead.every((d, i) => d === b.shape[i]) && b.shape[rank - 2] === k;
    if (!enabled || transposeA || transposeB || batch < 2 || !sameLead || a.dtype !== "float32" || b.dtype !== "float32" || m < MIN_ROWS) {
      return fallback(args);
    }
    const backend = args.backend as unknown as WasmBackendInternals;
    wasmMatMul ??= backend.wasm.cwrap(tf.BatchMatMul, null, ["number", "array", "number", "number", "array", "number", "number", "number", "number"]);
    const out = backend.makeOutput([...lead, m, n], "float32");
    const aOffset = backend.dataIdMap.get(a.dataId).memoryOffset;
    const bOffset = backend.dataIdMap.get(b.dataId).memoryOffset;
    const outOffset = backend.dataIdMap.get(out.dataId).memoryOffset;
    const aShape = shapeBytes([1, m, k]);
    const bShape = shapeBytes([1, k, n]);
    const { tfjs } = backend.wasm;
    for (let p = 0; p < batch; p++) {
      const aId = backend.dataIdNextNumber++;
      const bId = backend.dataIdNextNumber++;
      const outId = backend.dataIdNextNumber++;
      tfjs.registerTensor(aId, m * k, aOffset + 4 * p * m * k);
      tfjs.registerTensor(bId, k * n, bOffset + 4 * p * k * n);
      tfjs.registerTensor(outId, m * n, outOffset + 4 * p * m * n);
      try {
        wasmMatMul(aId, aShape, 3, bId, bShape, 3, false, false, outId);
      } finally {
        tfjs.disposeData(aId);
        tfjs.disposeData(bId);
        tfjs.disposeData(outId);
      }
    }
    return out;
  };
  // Unregister first: re-registering an existing kernel prints a warning.
  tf.unregisterKernel(tf.BatchMatMul, "wasm");
  tf.registerKernel({ kernelName: tf.BatchMatMul, backendName: "wasm", kernelFunc, setupFunc: original.setupFunc, disposeFunc: original.disposeFunc });
  installed = true;
}
