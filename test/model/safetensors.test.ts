import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  floatToHalfBits,
  halfBitsToFloat,
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeSafetensorsFile,
  type SafetensorsInput,
} from "../../src/model/safetensors.js";
import { grpoErrorOf as errorOf } from "../helpers/errors.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = path.resolve("test/reference/write_safetensors.py");

interface ExpectedTensor { dtype: string; shape: number[]; bits?: number[]; ints?: number[] }
interface Expected {
  known: { metadata: Record<string, string>; tensors: Record<string, ExpectedTensor> };
  f16_encoding: { f32_bits: number[]; f16_bits: number[] };
}
interface Dump {
  header_len: number;
  header_text: string;
  metadata: Record<string, string>;
  order: string[];
  tensors: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number]; aligned: boolean; bits: number[] }>;
}

let dir: string;
let expected: Expected;

/** Python's independent reading of a safetensors file. */
function pythonDump(file: string): Dump {
  return JSON.parse(execFileSync(PYTHON, [SCRIPT, "dump", file], { encoding: "utf8", maxBuffer: 1 << 26 })) as Dump;
}

const bitsOf = (data: Float32Array): number[] => Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length));
const floatsFromBits = (bits: number[]): Float32Array => new Float32Array(Uint32Array.from(bits).buffer);

/** A safetensors file from a header (object or raw text) and a data buffer. */
function buildFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const text = header instanceof Uint8Array
    ? header
    : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "safetensors-test-"));
  execFileSync(PYTHON, [SCRIPT, "gen", dir]);
  expected = JSON.parse(readFileSync(path.join(dir, "expected.json"), "utf8")) as Expected;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parseSafetensors on a file written by Python", () => {
  it("decodes every dtype exactly, bit for bit (F16 subnormals, ±inf, -0 and NaN included)", () => {
    const file = readFileSync(path.join(dir, "known.safetensors"));
    const { tensors, metadata } = parseSafetensors(file, "known.safetensors");
    expect(metadata).toEqual(expected.known.metadata);
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(expected.known.tensors).sort());
    for (const [name, want] of Object.entries(expected.known.tensors)) {
      const got = tensors[name];
      expect(got.dtype, name).toBe(want.dtype);
      expect(got.shape, name).toEqual(want.shape);
      if (want.bits) {
        expect(got.data, name).toBeInstanceOf(Float32Array);
        expect(bitsOf(got.data as Float32Array), name).toEqual(want.bits);
      } else {
        expect(got.data, name).toBeInstanceOf(Int32Array);
        expect(Array.from(got.data), name).toEqual(want.ints);
      }
    }
  });

  it("reads the F16 special values as the numbers they are", () => {
    const { tensors } = parseSafetensors(readFileSync(path.join(dir, "known.safetensors")));
    const f16 = tensors.f16_special.data;
    expect(Object.is(f16[0], 0)).toBe(true);
    expect(Object.is(f16[1], -0)).toBe(true);
    expect(f16[2]).toBe(2 ** -24);
    expect(f16[3]).toBe(1023 * 2 ** -24);
    expect(f16[4]).toBe(2 ** -14);
    expect(f16[6]).toBe(65504);
    expect(f16[7]).toBe(Infinity);
    expect(f16[8]).toBe(-Infinity);
    expect(f16[9]).toBeNaN();
    expect(halfBitsToFloat(0x3c00)).toBe(1);
    expect(halfBitsToFloat(0xc500)).toBe(-5);
  });

  it("rejects I64 values outside the int32 range, naming the tensor", () => {
    const error = errorOf(() => parseSafetensors(readFileSync(path.join(dir, "i64_overflow.safetensors")), "ids.safetensors"));
    expect(error.code).toBe("invalid_weights");
    expect(error.message).toContain('ids.safetensors: tensor "ids": element 1 does not fit in a 32-bit integer');
  });

  it("rejects a truncated copy of a valid file", () => {
    const file = readFileSync(path.join(dir, "known.safetensors"));
    const error = errorOf(() => parseSafetensors(file.subarray(0, file.length - 3), "cut.safetensors"));
    expect(error.message).toMatch(/^cut\.safetensors: tensor "\w+": data_offsets point past the end of the file/);
  });
});

describe("half-precision encoding", () => {
  it("matches numpy's float32 -> float16 (round to nearest even) on random values, ties and edges", () => {
    const { f32_bits: inputs, f16_bits: want } = expected.f16_encoding;
    expect(inputs.length).toBeGreaterThan(10_000);
    const values = floatsFromBits(inputs);
    const got = Array.from(values, (v) => floatToHalfBits(v));
    const mismatches = got.flatMap((g, i) => (g === want[i] ? [] : [{ input: inputs[i], got: g, want: want[i] }]));
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it("writes F16 tensors with the same bits numpy produces (read back by Python)", () => {
    const { f32_bits: inputs, f16_bits: want } = expected.f16_encoding;
    const file = path.join(dir, "ours_f16.safetensors");
    writeFileSync(file, serializeSafetensors({ x: { dtype: "F16", shape: [inputs.length], data: floatsFromBits(inputs) } }));
    expect(pythonDump(file).tensors.x.bits).toEqual(want);
  });

  it("decodes every half bit pattern and re-encodes it to itself (NaNs stay NaN)", () => {
    for (let bits = 0; bits < 65536; bits++) {
      const value = halfBitsToFloat(bits);
      if (Number.isNaN(value)) expect(Number.isNaN(halfBitsToFloat(floatToHalfBits(value)))).toBe(true);
      else if (floatToHalfBits(value) !== bits) throw new Error(`half 0x${bits.toString(16)} did not round-trip`);
    }
  });
});

describe("serializeSafetensors", () => {
  const seeded = (n: number, seed: number): Float32Array => {
    // A small LCG: deterministic values spread over many magnitudes.
    let state = seed >>> 0;
    return Float32Array.from({ length: n }, () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return ((state / 2 ** 32) - 0.5) * 2 ** ((state % 40) - 20);
    });
  };
  const tensors: Record<string, SafetensorsInput> = {
    "b.f16": { dtype: "F16", shape: [3, 5], data: seeded(15, 1) }, // odd byte count: F32 data must come first
    "a.f16": { dtype: "F16", shape: [7], data: seeded(7, 2) },
    "z.weight": { dtype: "F32", shape: [4, 6], data: seeded(24, 3) },
    "m.bias": { dtype: "F32", shape: [6], data: seeded(6, 4) },
    scalar: { dtype: "F32", shape: [], data: Float32Array.of(-3.5) },
    empty: { dtype: "F32", shape: [2, 0], data: new Float32Array(0) },
  };

  it("round-trips: F32 exactly, F16 within half-precision rounding", () => {
    const { tensors: back, metadata } = parseSafetensors(serializeSafetensors(tensors, { format: "pt", step: "7" }));
    expect(metadata).toEqual({ format: "pt", step: "7" });
    expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, input] of Object.entries(tensors)) {
      expect(back[name].shape, name).toEqual(input.shape);
      expect(back[name].dtype, name).toBe(input.dtype);
      const got = back[name].data;
      if (input.dtype === "F32") {
        expect(bitsOf(got as Float32Array), name).toEqual(bitsOf(input.data));
        continue;
      }
      input.data.forEach((x, i) => {
        // Relative error of a normal half is at most 2^-11; subnormals are within 2^-25 absolutely.
        expect(Math.abs(got[i] - x), `${name}[${i}] = ${x}`).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25));
        expect(got[i]).toBe(halfBitsToFloat(floatToHalfBits(x)));
      });
    }
  });

  it("lays out the file as HF does: padded header, F32 before F16, sorted names, aligned data", () => {
    const file = path.join(dir, "ours_layout.safetensors");
    writeFileSync(file, serializeSafetensors(tensors, { format: "pt" }));
    const dump = pythonDump(file);
    expect(dump.header_len % 8).toBe(0);
    expect(dump.header_text).toMatch(/} *$/);
    expect(dump.order).toEqual(["empty", "m.bias", "scalar", "z.weight", "a.f16", "b.f16"]);
    for (const [name, t] of Object.entries(dump.tensors)) expect(t.aligned, name).toBe(true);
    expect(dump.metadata).toEqual({ format: "pt" });
    expect(dump.tensors["z.weight"].bits).toEqual(bitsOf(tensors["z.weight"].data));
    expect(dump.tensors["z.weight"].shape).toEqual([4, 6]);
  });

  it("rejects data whose length does not match the shape, and unsupported dtypes", () => {
    const mismatch = errorOf(() => serializeSafetensors({ w: { dtype: "F32", shape: [2, 3], data: new Float32Array(5) } }));
    expect(mismatch.message).toContain('tensors["w"].data');
    expect(mismatch.message).toContain("6 values for shape [2, 3]");
    const dtype = errorOf(() => serializeSafetensors({ w: { dtype: "I8" as "F32", shape: [1], data: new Float32Array(1) } }));
    expect(dtype.message).toContain('tensors["w"].dtype');
    const reserved = errorOf(() => serializeSafetensors({ __metadata__: { dtype: "F32", shape: [1], data: new Float32Array(1) } }));
    expect(reserved.message).toContain("reserved");
  });

  it("keeps a tensor named __proto__ as an ordinary entry", () => {
    const { tensors: back } = parseSafetensors(serializeSafetensors({ ["__proto__"]: { dtype: "F32", shape: [1], data: Float32Array.of(2) } } as Record<string, SafetensorsInput>));
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(["__proto__"]);
  });
});

describe("files", () => {
  it("writes atomically (no temporary file left) and reads back", async () => {
    const sub = mkdtempSync(path.join(dir, "atomic-"));
    const file = path.join(sub, "w.safetensors");
    await writeSafetensorsFile(file, { w: { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) } }, { format: "pt" });
    await writeSafetensorsFile(file, { w: { dtype: "F32", shape: [3], data: Float32Array.of(4, 5, 6) } });
    expect(readdirSync(sub)).toEqual(["w.safetensors"]);
    const back = await readSafetensorsFile(file);
    expect(Array.from(back.tensors.w.data)).toEqual([4, 5, 6]);
    expect(back.metadata).toEqual({});
  });

  it("names a missing file", async () => {
    const missing = path.join(dir, "nope.safetensors");
    await expect(readSafetensorsFile(missing)).rejects.toThrow(`${missing}: file not found`);
  });
});

describe("malformed files are rejected with a message naming the file and the tensor", () => {
  const f32 = (n: number) => new Uint8Array(4 * n);
  const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });
  const cases: Array<[string, () => Uint8Array, RegExp | string]> = [
    ["file shorter than 8 bytes", () => new Uint8Array(5), "bad.safetensors: file too short to be safetensors. Got: 5."],
    ["header length larger than the file", () => buildFile({}, new Uint8Array(0), 1000n), "header length is larger than the file. Got: 1000"],
    ["absurd header length", () => buildFile({}, new Uint8Array(0), 2n ** 62n), "header length is larger than this reader accepts"],
    ["header not JSON", () => buildFile('{"w": {"dtype": "F32",'), "header is not valid UTF-8 JSON"],
    ["header not UTF-8", () => buildFile(Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d)), "header is not valid UTF-8 JSON"],
    ["header not an object", () => buildFile("[1, 2]"), "header is not a JSON object"],
    ["unknown dtype", () => buildFile({ w: entry("F17", [1], 0, 4) }, f32(1)), 'tensor "w": unknown dtype. Field: `tensor "w"`. Got: "F17"'],
    ["unsupported dtype", () => buildFile({ w: entry("F8_E4M3", [1], 0, 1) }, new Uint8Array(1)), 'tensor "w": dtype F8_E4M3 is not supported'],
    ["negative dimension", () => buildFile({ w: entry("F32", [-1, 2], 0, 4) }, f32(1)), 'tensor "w": shape is not a list of non-negative integers'],
    ["fractional dimension", () => buildFile({ w: entry("F32", [1.5], 0, 4) }, f32(1)), 'tensor "w": shape is not a list'],
    ["data_offsets of wrong length", () => buildFile({ w: { dtype: "F32", shape: [1], data_offsets: [0] } }, f32(1)), 'tensor "w": data_offsets is not a pair'],
    ["data_offsets reversed", () => buildFile({ w: entry("F32", [0], 4, 0) }, f32(1)), 'tensor "w": data_offsets end before they begin'],
    ["byte length != shape × dtype size", () => buildFile({ w: entry("F32", [2, 3], 0, 20) }, f32(5)), /tensor "w": byte length does not match shape × dtype size.*6 elements × 4 bytes = 24 bytes for shape \[2, 3\] F32/],
    ["offsets beyond the buffer", () => buildFile({ w: entry("F32", [2], 0, 8) }, f32(1)), 'tensor "w": data_offsets point past the end of the file'],
    ["overlapping tensors", () => buildFile({ a: entry("F32", [2], 0, 8), b: entry("F32", [2], 4, 12) }, f32(3)), 'tensors "a" and "b" overlap in the data buffer'],
    ["hole between tensors", () => buildFile({ a: entry("F32", [1], 0, 4), b: entry("F32", [1], 8, 12) }, f32(3)), /hole: bytes \[4, 8\) belong to no tensor. Field: `tensor "b"`/],
    ["hole before the first tensor", () => buildFile({ a: entry("F32", [1], 4, 8) }, f32(2)), "hole: bytes [0, 4)"],
    ["trailing bytes", () => buildFile({ a: entry("F32", [1], 0, 4) }, f32(2)), "4 trailing bytes that belong to no tensor"],
    ["duplicate tensor name", () => buildFile(`{"w": ${JSON.stringify(entry("F32", [1], 0, 4))}, "w": ${JSON.stringify(entry("F32", [1], 4, 8))}}`, f32(2)), 'tensor "w" is listed twice in the header'],
    ["duplicate key in an entry", () => buildFile('{"w": {"dtype": "F32", "dtype": "F16", "shape": [1], "data_offsets": [0, 4]}}', f32(1)), 'key "dtype" appears twice in the header entry of "w"'],
    ["non-string metadata", () => buildFile({ __metadata__: { step: 3 } }), '__metadata__ value "step" is not a string'],
    ["entry not an object", () => buildFile({ w: 5 }), 'tensor "w": its header entry is not an object'],
  ];
  it.each(cases)("%s", (_label, makeFile, message) => {
    const error = errorOf(() => parseSafetensors(makeFile(), "bad.safetensors"));
    expect(error.code).toBe("invalid_weights");
    expect(error.message.startsWith("bad.safetensors: ")).toBe(true);
    if (typeof message === "string") expect(error.message).toContain(message);
    else expect(error.message).toMatch(message);
  });

  it("accepts the same shapes when well-formed (the cases above fail for the stated reason only)", () => {
    const ok = parseSafetensors(buildFile({ a: entry("F32", [1], 0, 4), b: entry("F32", [2], 4, 12), __metadata__: { step: "3" } }, f32(3)));
    expect(Object.keys(ok.tensors).sort()).toEqual(["a", "b"]);
    expect(ok.metadata).toEqual({ step: "3" });
    // Duplicate-looking text inside string values is not a duplicate key.
    const tricky = parseSafetensors(buildFile({ __metadata__: { a: '"w": {', b: "\\\"w\\\":" }, w: entry("F32", [1], 0, 4) }, f32(1)));
    expect(Object.keys(tricky.tensors)).toEqual(["w"]);
  });
});
