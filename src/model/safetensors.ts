/**
 * The safetensors file format, read and written strictly, with no dependencies.
 *
 * Layout of a file:
 *
 *   [8 bytes]  N, a little-endian unsigned 64-bit integer: the header's length in bytes
 *   [N bytes]  UTF-8 JSON: { "<name>": { dtype, shape, data_offsets: [begin, end] }, ..., "__metadata__"?: {str: str} }
 *   [rest]     the byte buffer; every tensor's offsets are relative to its start
 *
 * Every number is little-endian and every tensor is stored row-major. The format's rules, which the
 * reader enforces because a file that breaks them is corrupt or hostile: the tensors cover the buffer
 * exactly (no overlap, no hole, nothing after the last one), each tensor's byte length is its element
 * count times its dtype's size, and names are unique.
 *
 * Floating-point tensors are decoded to float32 (what TensorFlow.js computes in) and integer tensors to
 * int32, so a reader never has to care about half precision or 64-bit integers.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { GrpoError } from "../core/errors.js";

/** The dtypes of the safetensors format that this reader decodes. */
export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** The dtypes {@link serializeSafetensors} writes. */
export type SafetensorsWriteDtype = "F32" | "F16";

/** One decoded tensor: floats become a Float32Array, integers and booleans an Int32Array. */
export interface SafetensorsTensor {
  /** The dtype stored in the file (before decoding). */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first; `[]` is a scalar. */
  shape: number[];
  /** The values in row-major order; length = product of `shape`. */
  data: Float32Array | Int32Array;
}

/** The decoded contents of a safetensors file. */
export interface SafetensorsContents {
  /** Tensors by name. */
  tensors: Record<string, SafetensorsTensor>;
  /** The free-form `__metadata__` strings (empty when the file has none). */
  metadata: Record<string, string>;
}

/** A tensor to write: float32 values and the dtype to store them as. */
export interface SafetensorsInput {
  /** `F32` stores the values exactly; `F16` rounds them to half precision (round to nearest even). */
  dtype: SafetensorsWriteDtype;
  /** Dimensions, outermost first; `[]` is a scalar. */
  shape: number[];
  /** The values in row-major order; length must equal the product of `shape`. */
  data: Float32Array;
}

/** Largest header this reader accepts (bytes); the reference implementation uses the same cap. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

const METADATA_KEY = "__metadata__";

/** Bytes per element of each dtype the format defines (including those we refuse to decode). */
const DTYPE_SIZES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
  U64: 8, U32: 4, U16: 2, F8_E4M3: 1, F8_E5M2: 1,
};

const DECODABLE: ReadonlySet<string> = new Set<SafetensorsDtype>(
  ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"],
);

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function invalid(source: string, summary: string, details: ConstructorParameters<typeof GrpoError>[2] = {}): GrpoError {
  return new GrpoError("invalid_weights", `${source}: ${summary}`, details);
}

// ---------------------------------------------------------------------------------------------
// Half precision <-> float32

let halfToFloatTable: Float32Array | undefined;

/**
 * All 65536 half-precision values as float32, built bit by bit so the conversion is exact: every
 * half is representable in float32, and NaN payloads carry over as numpy's conversion keeps them.
 */
function halfTable(): Float32Array {
  if (halfToFloatTable) return halfToFloatTable;
  const table = new Float32Array(65536);
  const tableBits = new Uint32Array(table.buffer);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = (bits & 0x8000) << 16;
    const exponent = (bits >> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) {
      table[bits] = mantissa * 2 ** -24; // zero and subnormals: m · 2^-24, exact in float32
      tableBits[bits] |= sign;
    } else if (exponent === 31) {
      tableBits[bits] = sign | 0x7f800000 | (mantissa << 13); // infinities and NaNs
    } else {
      tableBits[bits] = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13); // rebias the exponent
    }
  }
  halfToFloatTable = table;
  return table;
}

/** The float32 value of the half-precision number with bit pattern `bits` (0..65535). */
export function halfBitsToFloat(bits: number): number {
  return halfTable()[bits & 0xffff];
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * The half-precision bit pattern nearest to `value` (rounded to float32 first), with ties to even,
 * overflow to ±infinity and NaN kept NaN (its top payload bits preserved, as numpy does).
 */
export function floatToHalfBits(value: number): number {
  f32Scratch[0] = value;
  return float32BitsToHalfBits(u32Scratch[0]);
}

/** {@link floatToHalfBits} on a float32 given by its bit pattern (keeps signalling-NaN payloads intact). */
function float32BitsToHalfBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;

  if (exponent === 0xff) {
    if (mantissa === 0) return sign | 0x7c00; // ±infinity
    const payload = mantissa >>> 13;
    return sign | 0x7c00 | (payload === 0 ? 1 : payload); // NaN stays NaN
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 31) return sign | 0x7c00; // too large even before rounding: ±infinity
  if (halfExponent <= 0) {
    // Subnormal half (or zero): value = m · 2^-24, so shift the full 24-bit significand right.
    if (halfExponent < -10) return sign; // below half the smallest subnormal: ±0
    mantissa |= 0x800000; // the implicit leading 1
    const shift = 14 - halfExponent; // 14..24
    return sign | roundShiftEven(mantissa, shift);
  }
  // Normal half: drop 13 mantissa bits; a carry out of the mantissa correctly bumps the exponent
  // (and rounds 65520 and above to infinity, 0x7c00).
  return sign | ((halfExponent << 10) + roundShiftEven(mantissa, 13));
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShiftEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value - kept * 2 ** shift;
  const half = 2 ** (shift - 1);
  if (rest > half || (rest === half && (kept & 1) === 1)) return kept + 1;
  return kept;
}

// ---------------------------------------------------------------------------------------------
// Reading

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A fresh, aligned copy of `bytes[begin, end)` (typed-array views need aligned offsets). */
function copyBytes(bytes: Uint8Array, begin: number, end: number): ArrayBuffer {
  const out = new ArrayBuffer(end - begin);
  new Uint8Array(out).set(bytes.subarray(begin, end));
  return out;
}

function decodeTensor(
  bytes: Uint8Array, begin: number, end: number, dtype: SafetensorsDtype, count: number,
  fail: (summary: string, details?: ConstructorParameters<typeof GrpoError>[2]) => GrpoError,
): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + begin, end - begin);
  switch (dtype) {
    case "F32": {
      if (LITTLE_ENDIAN_HOST) return new Float32Array(copyBytes(bytes, begin, end));
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case "F16": {
      // Copy bit patterns, not numbers: a NaN passing through a JS number may lose its payload.
      const tableBits = new Uint32Array(halfTable().buffer);
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = tableBits[view.getUint16(2 * i, true)];
      return out;
    }
    case "BF16": {
      // bfloat16 is the top half of a float32: shift the bits back into place.
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case "F64": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case "I32": {
      if (LITTLE_ENDIAN_HOST) return new Int32Array(copyBytes(bytes, begin, end));
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case "I64": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(8 * i, true);
        if (v < BigInt(INT32_MIN) || v > BigInt(INT32_MAX)) {
          throw fail(`element ${i} does not fit in a 32-bit integer.`, {
            value: v,
            expected: `every I64 value within [${INT32_MIN}, ${INT32_MAX}]`,
            fix: "store this tensor as I32 or a float dtype.",
          });
        }
        out[i] = Number(v);
      }
      return out;
    }
    case "I16": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      return out;
    }
    case "I8": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      return out;
    }
    case "U8":
    case "BOOL":
      return Int32Array.from(bytes.subarray(begin, end));
  }
}

/**
 * Finds the first key that appears twice in one JSON object of `text` (which must already be valid
 * JSON). `JSON.parse` silently keeps the last duplicate, which would hide a corrupt header.
 * Returns the key and, for keys nested in a tensor entry, the top-level name it sits under.
 */
function findDuplicateKey(text: string): { key: string; parent?: string } | undefined {
  // One entry per open container: the keys seen so far (objects) or null (arrays), and the key
  // under which the container sits.
  const stack: Array<{ keys: Set<string> | null; name?: string }> = [];
  let lastKey: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "{" || ch === "[") {
      stack.push({ keys: ch === "{" ? new Set() : null, name: stack.length === 1 ? lastKey : undefined });
      lastKey = undefined;
    } else if (ch === "}" || ch === "]") {
      stack.pop();
    } else if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const literal = text.slice(i, j + 1);
      i = j;
      let k = j + 1;
      while (k < text.length && (text[k] === " " || text[k] === "\n" || text[k] === "\r" || text[k] === "\t")) k++;
      const top = stack[stack.length - 1];
      if (text[k] === ":" && top?.keys) {
        const key = JSON.parse(literal) as string;
        if (top.keys.has(key)) return { key, parent: stack.length >= 2 ? stack[1].name : undefined };
        top.keys.add(key);
        lastKey = key;
      }
    }
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
  count: number;
}

/** Checks one header entry and returns it typed; `bufferLength` is the byte buffer's size. */
function parseEntry(name: string, raw: unknown, bufferLength: number, source: string): TensorEntry {
  const field = `tensor "${name}"`;
  const fail = (summary: string, details: ConstructorParameters<typeof GrpoError>[2] = {}) =>
    invalid(source, `tensor "${name}": ${summary}`, { field, ...details });
  if (!isRecord(raw)) {
    throw fail("its header entry is not an object.", { value: raw, expected: "{ dtype, shape, data_offsets }" });
  }
  const dtype = raw.dtype;
  if (typeof dtype !== "string" || !(dtype in DTYPE_SIZES)) {
    throw fail("unknown dtype.", {
      value: dtype,
      expected: `one of ${Object.keys(DTYPE_SIZES).join(", ")}`,
    });
  }
  if (!DECODABLE.has(dtype)) {
    throw fail(`dtype ${dtype} is not supported.`, {
      value: dtype,
      expected: `one of ${[...DECODABLE].join(", ")}`,
      fix: "convert the tensor to F32, F16 or BF16 before saving.",
    });
  }
  const shape = raw.shape;
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw fail("shape is not a list of non-negative integers.", { value: shape, expected: "e.g. [768, 2304]" });
  }
  const offsets = raw.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw fail("data_offsets is not a pair of non-negative integers.", {
      value: offsets,
      expected: "[begin, end] byte offsets into the data buffer",
    });
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw fail("data_offsets end before they begin.", { value: offsets, expected: "begin <= end" });
  if (end > bufferLength) {
    throw fail("data_offsets point past the end of the file.", {
      value: offsets,
      expected: `offsets within the ${bufferLength}-byte data buffer`,
      fix: "the file is truncated or its header is corrupt; re-download or re-save it.",
    });
  }
  let count = 1;
  for (const dim of shape as number[]) count *= dim;
  const size = DTYPE_SIZES[dtype];
  if (!Number.isSafeInteger(count * size) || count * size !== end - begin) {
    throw fail("byte length does not match shape × dtype size.", {
      value: end - begin,
      expected: `${count} elements × ${size} bytes = ${count * size} bytes for shape [${(shape as number[]).join(", ")}] ${dtype}`,
    });
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end, count };
}

/** Checks that the tensors tile the buffer exactly: sorted by offset, each begins where the last ended. */
function checkCoverage(entries: TensorEntry[], bufferLength: number, source: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: TensorEntry | undefined;
  for (const entry of sorted) {
    if (entry.begin < cursor) {
      throw invalid(source, `tensors "${previous?.name}" and "${entry.name}" overlap in the data buffer.`, {
        field: `tensor "${entry.name}"`,
        value: [entry.begin, entry.end],
        expected: `data starting at byte ${cursor} or later (where "${previous?.name}" ends)`,
        fix: "the file is corrupt; re-save it with a safetensors writer.",
      });
    }
    if (entry.begin > cursor) {
      throw invalid(source, `the data buffer has a hole: bytes [${cursor}, ${entry.begin}) belong to no tensor.`, {
        field: `tensor "${entry.name}"`,
        value: [entry.begin, entry.end],
        expected: `data starting at byte ${cursor}${previous ? ` (where "${previous.name}" ends)` : ""}`,
        fix: "the file is corrupt; re-save it with a safetensors writer.",
      });
    }
    cursor = entry.end;
    previous = entry;
  }
  if (cursor !== bufferLength) {
    throw invalid(source, `the data buffer has ${bufferLength - cursor} trailing bytes that belong to no tensor.`, {
      value: bufferLength,
      expected: `a data buffer of exactly ${cursor} bytes`,
      fix: "the file is corrupt; re-save it with a safetensors writer.",
    });
  }
}

/**
 * Decodes a safetensors file held in memory.
 *
 * Floats (F32, F16, BF16, F64) come back as Float32Array (F16 and BF16 exactly, including subnormals,
 * infinities and NaN; F64 rounded to nearest float32); integers (I64, I32, I16, I8, U8, BOOL) as
 * Int32Array (I64 values outside the int32 range are an error). Every rule of the format is checked
 * and each violation throws a {@link GrpoError} with code `invalid_weights` naming `source` and the
 * tensor concerned.
 *
 * @param bytes the whole file.
 * @param source how to name the file in error messages (default `"safetensors data"`).
 */
export function parseSafetensors(bytes: Uint8Array, source = "safetensors data"): SafetensorsContents {
  if (bytes.length < 8) {
    throw invalid(source, "file too short to be safetensors.", {
      value: bytes.length,
      expected: "at least 8 bytes (the header length) followed by a JSON header",
      fix: "the file is truncated or not a safetensors file; re-download or re-save it.",
    });
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw invalid(source, "header length is larger than this reader accepts.", {
      value: headerLength,
      expected: `at most ${MAX_SAFETENSORS_HEADER_BYTES} bytes`,
      fix: "the file is corrupt or not a safetensors file.",
    });
  }
  const headerEnd = 8 + Number(headerLength);
  if (headerEnd > bytes.length) {
    throw invalid(source, "header length is larger than the file.", {
      value: Number(headerLength),
      expected: `at most ${bytes.length - 8} bytes for a ${bytes.length}-byte file`,
      fix: "the file is truncated or not a safetensors file; re-download or re-save it.",
    });
  }

  let headerText: string;
  let header: unknown;
  try {
    headerText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, headerEnd));
    header = JSON.parse(headerText);
  } catch (cause) {
    throw invalid(source, "header is not valid UTF-8 JSON.", {
      expected: "a JSON object describing the tensors",
      fix: "the file is corrupt or not a safetensors file.",
      cause,
    });
  }
  if (!isRecord(header)) {
    throw invalid(source, "header is not a JSON object.", {
      value: header,
      expected: '{ "<name>": { "dtype", "shape", "data_offsets" }, ... }',
    });
  }
  const duplicate = findDuplicateKey(headerText);
  if (duplicate) {
    throw invalid(
      source,
      duplicate.parent === undefined
        ? `tensor "${duplicate.key}" is listed twice in the header.`
        : `key "${duplicate.key}" appears twice in the header entry of "${duplicate.parent}".`,
      { field: duplicate.parent === undefined ? `tensor "${duplicate.key}"` : `tensor "${duplicate.parent}"`,
        fix: "the file is corrupt; each name may appear only once." },
    );
  }

  // Records are built with Object.fromEntries: names come from the file, and assigning a name such
  // as "__proto__" with `record[name] = value` would change the record's prototype instead.
  const metadataEntries: Array<[string, string]> = [];
  const rawMetadata = header[METADATA_KEY];
  if (rawMetadata !== undefined) {
    if (!isRecord(rawMetadata)) {
      throw invalid(source, "__metadata__ is not an object.", { field: METADATA_KEY, value: rawMetadata,
        expected: "an object of string values" });
    }
    for (const [key, value] of Object.entries(rawMetadata)) {
      if (typeof value !== "string") {
        throw invalid(source, `__metadata__ value "${key}" is not a string.`, {
          field: `${METADATA_KEY}.${key}`,
          value,
          expected: "a string (safetensors metadata maps strings to strings)",
        });
      }
      metadataEntries.push([key, value]);
    }
  }
  const metadata: Record<string, string> = Object.fromEntries(metadataEntries);

  const bufferLength = bytes.length - headerEnd;
  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, raw]) => parseEntry(name, raw, bufferLength, source));
  checkCoverage(entries, bufferLength, source);

  const data = bytes.subarray(headerEnd);
  const tensors: Record<string, SafetensorsTensor> = Object.fromEntries(entries.map((entry) => {
    const fail = (summary: string, details: ConstructorParameters<typeof GrpoError>[2] = {}) =>
      invalid(source, `tensor "${entry.name}": ${summary}`, { field: `tensor "${entry.name}"`, ...details });
    const tensor: SafetensorsTensor = {
      dtype: entry.dtype,
      shape: [...entry.shape],
      data: decodeTensor(data, entry.begin, entry.end, entry.dtype, entry.count, fail),
    };
    return [entry.name, tensor];
  }));
  return { tensors, metadata };
}

// ---------------------------------------------------------------------------------------------
// Writing

function checkInput(name: string, tensor: SafetensorsInput): number {
  const field = `tensors["${name}"]`;
  if (name === METADATA_KEY || name.length === 0) {
    throw new GrpoError("invalid_argument", "A tensor name is reserved or empty.", {
      field, value: name, expected: `a non-empty name other than "${METADATA_KEY}"`,
    });
  }
  if (!isRecord(tensor)) {
    throw new GrpoError("invalid_argument", "A tensor is not an object.", {
      field, value: tensor, expected: "{ dtype, shape, data: Float32Array }",
    });
  }
  if (tensor.dtype !== "F32" && tensor.dtype !== "F16") {
    throw new GrpoError("invalid_argument", "Unsupported dtype for writing.", {
      field: `${field}.dtype`, value: tensor.dtype, expected: '"F32" or "F16"',
    });
  }
  if (!Array.isArray(tensor.shape) || !tensor.shape.every(isCount)) {
    throw new GrpoError("invalid_argument", "A tensor shape is not a list of non-negative integers.", {
      field: `${field}.shape`, value: tensor.shape, expected: "e.g. [768, 2304]",
    });
  }
  if (!(tensor.data instanceof Float32Array)) {
    throw new GrpoError("invalid_argument", "Tensor data must be a Float32Array.", {
      field: `${field}.data`, value: Object.prototype.toString.call(tensor.data),
      fix: "wrap the values with `Float32Array.from(values)`.",
    });
  }
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  if (tensor.data.length !== count) {
    throw new GrpoError("invalid_argument", "Tensor data length does not match its shape.", {
      field: `${field}.data`,
      value: tensor.data.length,
      expected: `${count} values for shape [${tensor.shape.join(", ")}]`,
    });
  }
  return count;
}

/**
 * Encodes tensors as a safetensors file.
 *
 * Layout choices, as Hugging Face's writer makes them: tensors are stored F32 first, then F16, each
 * group in sorted name order, so every tensor starts at a multiple of its element size; the header is
 * padded with spaces to a multiple of 8 bytes, so the data buffer starts 8-byte aligned. F16 values are
 * rounded to nearest, ties to even (identical to numpy's `astype(float16)` on float32 input).
 *
 * @param tensors tensors by name (not `__metadata__`); each `data.length` must equal its shape's product.
 * @param metadata optional `__metadata__` strings (HF `from_pretrained` wants `{ format: "pt" }`).
 */
export function serializeSafetensors(
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const counts = new Map<string, number>();
  for (const [name, tensor] of Object.entries(tensors)) counts.set(name, checkInput(name, tensor));
  const names = [...counts.keys()].sort((a, b) => {
    const bySize = DTYPE_SIZES[tensors[b].dtype] - DTYPE_SIZES[tensors[a].dtype];
    return bySize !== 0 ? bySize : a < b ? -1 : a > b ? 1 : 0;
  });
  // Entries, not `header[name] = ...`: a tensor named "__proto__" must stay an ordinary key.
  const headerEntries: Array<[string, unknown]> = [];
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") {
        throw new GrpoError("invalid_argument", "Safetensors metadata values must be strings.", {
          field: `metadata.${key}`, value, fix: "convert the value with `String(value)` or `JSON.stringify(value)`.",
        });
      }
    }
    headerEntries.push([METADATA_KEY, metadata]);
  }
  let offset = 0;
  for (const name of names) {
    const tensor = tensors[name];
    const byteLength = (counts.get(name) ?? 0) * DTYPE_SIZES[tensor.dtype];
    headerEntries.push([name, { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + byteLength] }]);
    offset += byteLength;
  }
  const header = Object.fromEntries(headerEntries);

  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const paddedLength = Math.ceil(headerBytes.length / 8) * 8;
  const out = new Uint8Array(8 + paddedLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(paddedLength), true);
  out.set(headerBytes, 8);
  out.fill(0x20, 8 + headerBytes.length, 8 + paddedLength); // spaces: still valid JSON

  let cursor = 8 + paddedLength;
  for (const name of names) {
    const { dtype, data } = tensors[name];
    if (dtype === "F32") {
      if (LITTLE_ENDIAN_HOST) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), cursor);
      else for (let i = 0; i < data.length; i++) view.setFloat32(cursor + 4 * i, data[i], true);
      cursor += 4 * data.length;
    } else {
      const dataBits = new Uint32Array(data.buffer, data.byteOffset, data.length);
      for (let i = 0; i < data.length; i++) view.setUint16(cursor + 2 * i, float32BitsToHalfBits(dataBits[i]), true);
      cursor += 2 * data.length;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Files

/**
 * Writes `contents` to `filePath` atomically: into a sibling temporary file
 * (`<path>.tmp-<pid>-<random>`), flushed to disk, then renamed over the target. Readers see either
 * the old file or the complete new one, never a partial write; the temporary file is removed on failure.
 */
export async function writeFileAtomic(filePath: string, contents: Uint8Array | string): Promise<void> {
  const tmpPath = `${filePath}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmpPath, "wx");
    await handle.writeFile(contents);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmpPath, filePath);
  } catch (cause) {
    await handle?.close().catch(() => undefined);
    await rm(tmpPath, { force: true }).catch(() => undefined);
    throw cause;
  }
  // Make the rename itself durable; not every platform lets a directory be opened, so best effort.
  try {
    const dir = await open(path.dirname(filePath), "r");
    await dir.sync().finally(() => dir.close());
  } catch {
    /* directory fsync unsupported here */
  }
}

/**
 * Reads and decodes a safetensors file (see {@link parseSafetensors}); errors name the path.
 * The whole file is read into memory, so files must be under Node's 2 GiB buffer limit.
 */
export async function readSafetensorsFile(filePath: string): Promise<SafetensorsContents> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(filePath);
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === "ENOENT";
    throw new GrpoError("invalid_weights", `${filePath}: ${missing ? "file not found" : "cannot read the file"}.`, {
      field: "path", value: filePath, cause,
      fix: missing ? "check the path." : "check the file's permissions.",
    });
  }
  return parseSafetensors(bytes, filePath);
}

/** Encodes `tensors` (see {@link serializeSafetensors}) and writes them to `filePath` atomically. */
export async function writeSafetensorsFile(
  filePath: string,
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(filePath, serializeSafetensors(tensors, metadata));
}
