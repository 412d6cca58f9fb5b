/**
 * The kernel's wire format (HMAC-signed multipart messages) and the ambient interrupt signal, in
 * process. The end-to-end protocol (with jupyter_client as the reference signer) is protocol.test.ts.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { GrpoError } from "../../src/core/errors.js";
import { ambientSignal, setAmbientSignal, withAmbientSignal } from "../../src/core/interrupt.js";
import { decode, encode, newHeader, parseConnectionInfo, sign } from "../../kernel/protocol.js";

const KEY = "a0436f6c-1916-498b-8eb9-e81ab9368e84";

function message(content: Record<string, unknown>) {
  const header = newHeader("execute_request", "session-1", "tester");
  return { identities: [Buffer.from("client-id")], header, parent_header: {}, metadata: {}, content };
}

describe("wire format", () => {
  it("signs the four JSON frames with HMAC-SHA256 and decodes what it encodes", () => {
    const frames = encode(KEY, message({ code: "1 + 2", silent: false }));
    expect(frames[0].toString()).toBe("client-id");
    expect(frames[1].toString()).toBe("<IDS|MSG>");
    // The reference: HMAC-SHA256 over header, parent header, metadata and content, in that order.
    const expected = createHmac("sha256", KEY);
    for (const frame of frames.slice(3, 7)) expected.update(frame);
    expect(frames[2].toString()).toBe(expected.digest("hex"));
    const decoded = decode(KEY, frames);
    expect(decoded.content).toEqual({ code: "1 + 2", silent: false });
    expect(decoded.header.msg_type).toBe("execute_request");
    expect(decoded.header.version).toBe("5.3");
    expect(decoded.identities.map(String)).toEqual(["client-id"]);
  });

  it("drops a message with a wrong signature or without the delimiter", () => {
    const frames = encode(KEY, message({ code: "x" }));
    const tampered = [...frames];
    tampered[6] = Buffer.from(JSON.stringify({ code: "process.exit()" }));
    expect(() => decode(KEY, tampered)).toThrow(/wrong HMAC signature/);
    expect(() => decode("another key", frames)).toThrow(GrpoError);
    expect(() => decode(KEY, frames.filter((_, i) => i !== 1))).toThrow(/delimiter/);
  });

  it("signs nothing with an empty key (Jupyter's 'no authentication')", () => {
    expect(sign("", [Buffer.from("{}")])).toBe("");
    const frames = encode("", message({}));
    expect(frames[2].toString()).toBe("");
    expect(decode("", frames).content).toEqual({});
  });

  it("reads a connection file and refuses a signature scheme it cannot check", () => {
    const file = { transport: "tcp", ip: "127.0.0.1", shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: KEY, signature_scheme: "hmac-sha256" };
    expect(parseConnectionInfo(file)).toMatchObject({ ip: "127.0.0.1", key: KEY });
    expect(() => parseConnectionInfo({ ...file, signature_scheme: "hmac-md5" })).toThrow(/hmac-sha256/);
    expect(() => parseConnectionInfo({ ...file, shell_port: "x" })).toThrow(/connection file\.shell_port/);
  });
});

describe("ambient interrupt signal", () => {
  it("combines with a call's own signal, and work keeps the signal it captured", () => {
    const before = setAmbientSignal(undefined);
    try {
      expect(withAmbientSignal(undefined)).toBeUndefined();
      const own = new AbortController();
      expect(withAmbientSignal(own.signal)).toBe(own.signal);
      const kernel = new AbortController();
      setAmbientSignal(kernel.signal);
      expect(ambientSignal()).toBe(kernel.signal);
      expect(withAmbientSignal(undefined)).toBe(kernel.signal);
      const captured = withAmbientSignal(own.signal)!;
      setAmbientSignal(new AbortController().signal); // the kernel moves on to a fresh signal
      kernel.abort();
      expect(captured.aborted).toBe(true); // the running work still sees the interrupt
      expect(withAmbientSignal(own.signal)!.aborted).toBe(false); // new work does not
    } finally {
      setAmbientSignal(before);
    }
  });
});
