/**
 * The Jupyter messaging protocol 5.3 on the wire: a message is the routing identities, the
 * `<IDS|MSG>` delimiter, an HMAC-SHA256 signature (hex) of the four JSON frames that follow (header,
 * parent header, metadata, content), and optional binary buffers. Pure functions, no sockets.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { GrpoError } from "../src/core/errors.js";
import { parseWith } from "../src/core/validation.js";

/** The protocol version this kernel speaks. */
export const PROTOCOL_VERSION = "5.3";

const DELIMITER = Buffer.from("<IDS|MSG>");

/** A message header. */
export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

/** A decoded message. */
export interface Message<C = Record<string, unknown>> {
  /** ZeroMQ routing identities (replies go back through them). */
  identities: Buffer[];
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Buffer[];
}

/** The connection file Jupyter writes for a kernel (`{connection_file}` in kernel.json). */
export interface ConnectionInfo {
  transport: string;
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
}

const connectionSchema = z.object({
  transport: z.string().default("tcp"),
  ip: z.string(),
  shell_port: z.number().int().min(0),
  iopub_port: z.number().int().min(0),
  stdin_port: z.number().int().min(0),
  control_port: z.number().int().min(0),
  hb_port: z.number().int().min(0),
  key: z.string().default(""),
  signature_scheme: z.string().default("hmac-sha256"),
});

/** Validates a parsed connection file; only `hmac-sha256` signatures are supported. */
export function parseConnectionInfo(json: unknown): ConnectionInfo {
  const info = parseWith(connectionSchema, json, { root: "connection file", code: "invalid_argument", fix: "start the kernel from Jupyter, which writes the connection file." });
  if (info.signature_scheme !== "hmac-sha256") {
    throw new GrpoError("invalid_argument", "Unsupported signature scheme in the connection file.", {
      field: "signature_scheme", value: info.signature_scheme, expected: "hmac-sha256", fix: "use Jupyter's default signature scheme.",
    });
  }
  return info;
}

/** The hex HMAC-SHA256 of the frames with `key` ("" when the key is empty: signing is off). */
export function sign(key: string, frames: readonly (string | Buffer)[]): string {
  if (!key) return "";
  const hmac = createHmac("sha256", key);
  for (const frame of frames) hmac.update(frame);
  return hmac.digest("hex");
}

/**
 * Decodes a multipart message and checks its signature. Throws `invalid_argument` when the
 * delimiter is missing, a frame is not JSON, or the signature is wrong.
 */
export function decode(key: string, frames: readonly Buffer[]): Message {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0 || frames.length < at + 6) {
    throw new GrpoError("invalid_argument", "A Jupyter message without the `<IDS|MSG>` delimiter or with missing frames.", { value: frames.length });
  }
  const signature = frames[at + 1].toString("ascii");
  const body = frames.slice(at + 2, at + 6);
  const expected = sign(key, body);
  const a = Buffer.from(signature);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new GrpoError("invalid_argument", "A Jupyter message with a wrong HMAC signature was dropped.", {
      fix: "the client must sign with the key of this kernel's connection file.",
    });
  }
  const [header, parent, metadata, content] = body.map((f) => JSON.parse(f.toString("utf8")) as Record<string, unknown>);
  return {
    identities: frames.slice(0, at),
    header: header as unknown as Header,
    parent_header: parent as Partial<Header>,
    metadata,
    content,
    buffers: frames.slice(at + 6),
  };
}

/** Encodes a message into signed frames. */
export function encode(key: string, message: Omit<Message<unknown>, "buffers"> & { buffers?: Buffer[] }): Buffer[] {
  const body = [message.header, message.parent_header, message.metadata, message.content].map((part) => Buffer.from(JSON.stringify(part), "utf8"));
  return [...message.identities, DELIMITER, Buffer.from(sign(key, body), "ascii"), ...body, ...(message.buffers ?? [])];
}

/** A new header of this kernel's session. */
export function newHeader(msgType: string, session: string, username = "kernel"): Header {
  return { msg_id: randomUUID(), session, username, date: new Date().toISOString(), msg_type: msgType, version: PROTOCOL_VERSION };
}
