/**
 * The "GRPO TypeScript" Jupyter kernel: tslab's TypeScript (see `executor.ts`) behind a complete
 * Jupyter messaging 5.3 server over ZeroMQ.
 *
 * Sockets (from the connection file): shell and control (ROUTER: requests and replies), iopub
 * (PUB: status, streams, displays, results, errors), stdin (ROUTER: input requests of `input()`)
 * and heartbeat (REP: echo). Every message but the heartbeat's is HMAC-signed with the
 * connection key; messages with a bad signature are dropped.
 *
 * Requests: kernel_info, execute (execution counts, execute_input, streams, display_data,
 * execute_result with the value's MIME bundle, error with a source-mapped traceback), complete and
 * inspect (tslab's language service), is_complete, history (this session's cells), comm_info (no
 * comms), connect, interrupt and shutdown (control or shell). Cells run one at a time; a failed
 * cell with `stop_on_error` aborts only the requests already queued behind it (IPython's "run all"
 * behaviour): a request that arrives after its reply always runs.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import type { Publisher, Reply, Router } from "zeromq";
import { ambientSignal } from "../src/core/interrupt.js";
import { AbortedError, GrpoError } from "../src/core/errors.js";
import { CLEAR_OUTPUT_HOOK, INPUT_HOOK, displayMessage, type DisplayMessage } from "./display.js";
import { CellExecutor, type CellOutcome } from "./executor.js";
import { decode, encode, newHeader, parseConnectionInfo, PROTOCOL_VERSION, type ConnectionInfo, type Header, type Message } from "./protocol.js";
import { loadTslab } from "./tslab.js";

const require = createRequire(import.meta.url);

/** The kernel's name in Jupyter (kernel.json folder, notebooks' `metadata.kernelspec.name`). */
export const GRPO_KERNEL_NAME = "grpo-typescript";
/** What Jupyter's kernel menu shows. */
export const GRPO_KERNEL_DISPLAY_NAME = "GRPO TypeScript";

type Content = Record<string, unknown>;
type Socket = Router | Publisher;

/** Sends on a socket one message at a time (zeromq allows one pending send per socket). */
class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(private readonly socket: Socket | Reply) {}
  send(frames: Buffer[]): Promise<void> {
    this.tail = this.tail.then(() => this.socket.send(frames)).catch((error: unknown) => logKernel("send failed", error));
    return this.tail;
  }
}

/** Writes to the kernel's own stderr (the terminal Jupyter runs in), never to a cell. */
const originalStderrWrite = process.stderr.write.bind(process.stderr);
function logKernel(what: string, error?: unknown): void {
  originalStderrWrite(`[grpo kernel] ${what}${error === undefined ? "" : `: ${error instanceof Error ? error.stack : String(error)}`}\n`);
}

function packageVersion(): string {
  try {
    return (require("../../package.json") as { version: string }).version;
  } catch {
    return (require("../package.json") as { version: string }).version;
  }
}

/** One entry of this session's history. */
interface HistoryEntry {
  line: number;
  input: string;
  output?: string;
}

/** The kernel server. `start()` binds the sockets; the process lives until a shutdown request. */
export class KernelServer {
  private readonly session = randomUUID();
  private readonly executor: CellExecutor;
  private readonly tslab = loadTslab();
  private shell!: Router;
  private control!: Router;
  private stdin!: Router;
  private iopub!: Publisher;
  private hb!: Reply;
  private queues = new Map<object, SendQueue>();
  private executionCount = 0;
  private readonly history: HistoryEntry[] = [];
  /** The request whose cell gets stream output (the running cell, else the last one). */
  private outputParent?: Message;
  /** The running execute request, while it runs (input requests go to its frontend). */
  private running?: Message;
  /** The pending input request: resolved by the next input_reply on stdin. */
  private pendingInput?: { resolve(value: string): void; reject(error: Error): void };
  private pendingStream?: { name: "stdout" | "stderr"; text: string; parent: Message };
  private executions: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Requests queued when a cell failed with stop_on_error: these are answered "aborted". */
  private abortQueued = 0;
  private closing = false;

  constructor(private readonly connection: ConnectionInfo, options: { rootDir?: string; graceMs?: number } = {}) {
    this.executor = new CellExecutor(options);
  }

  /** Reads a connection file and starts a kernel on it. */
  static async fromConnectionFile(file: string): Promise<KernelServer> {
    const server = new KernelServer(parseConnectionInfo(JSON.parse(readFileSync(file, "utf8"))));
    await server.start();
    return server;
  }

  /** Binds the five sockets, captures stdout/stderr and displays, and starts serving. */
  async start(): Promise<void> {
    const zmq = this.tslab.zeromq;
    this.shell = new zmq.Router();
    this.control = new zmq.Router();
    this.stdin = new zmq.Router();
    this.iopub = new zmq.Publisher();
    this.hb = new zmq.Reply();
    const c = this.connection;
    const address = (port: number) => `${c.transport}://${c.ip}:${port}`;
    await Promise.all([
      this.shell.bind(address(c.shell_port)), this.control.bind(address(c.control_port)), this.stdin.bind(address(c.stdin_port)),
      this.iopub.bind(address(c.iopub_port)), this.hb.bind(address(c.hb_port)),
    ]);
    this.captureOutput();
    (globalThis as { [CLEAR_OUTPUT_HOOK]?: (wait: boolean) => void })[CLEAR_OUTPUT_HOOK] = (wait) => {
      if (this.outputParent) this.publish("clear_output", { wait }, this.outputParent);
    };
    (globalThis as { [INPUT_HOOK]?: (prompt: string, password: boolean) => Promise<string> })[INPUT_HOOK] = (prompt, password) => this.requestInput(prompt, password);
    process.on("SIGINT", () => this.executor.interrupt());
    // Errors of work a cell left running must not end the kernel: they go to the cell's stderr.
    process.on("uncaughtException", (error) => console.error("Uncaught exception (from code still running after its cell):", error));
    process.on("unhandledRejection", (reason) => console.error("Unhandled promise rejection (a promise nobody awaited):", reason));
    void this.serve(this.stdin, async (m) => this.onStdin(m));
    void this.serve(this.shell, (m) => this.onShell(m));
    void this.serve(this.control, (m) => this.onControl(m));
    void this.heartbeat();
    this.publish("status", { execution_state: "starting" });
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  private queue(socket: Socket | Reply): SendQueue {
    let q = this.queues.get(socket);
    if (!q) this.queues.set(socket, (q = new SendQueue(socket)));
    return q;
  }

  private send(socket: Router, msgType: string, content: unknown, parent: Message, metadata: Record<string, unknown> = {}): Promise<void> {
    return this.queue(socket).send(encode(this.connection.key, {
      identities: parent.identities, header: newHeader(msgType, this.session), parent_header: parent.header, metadata, content,
    }));
  }

  /** Publishes on iopub (stream text waiting to go out is flushed first, to keep the order). */
  private publish(msgType: string, content: unknown, parent?: Message): void {
    if (msgType !== "stream") this.flushStream();
    void this.queue(this.iopub).send(encode(this.connection.key, {
      identities: [Buffer.from(`kernel.${this.session}.${msgType}`)],
      header: newHeader(msgType, this.session), parent_header: parent?.header ?? {}, metadata: {}, content,
    }));
  }

  private flushStream(): void {
    const pending = this.pendingStream;
    if (!pending) return;
    this.pendingStream = undefined;
    this.publish("stream", { name: pending.name, text: pending.text }, pending.parent);
  }

  /** stdout/stderr of cells (and of work they left running) go to the cell's output, batched per turn of the event loop. */
  private captureOutput(): void {
    const writer = (name: "stdout" | "stderr") => (chunk: string | Uint8Array, encoding?: BufferEncoding | ((e?: Error | null) => void), callback?: (e?: Error | null) => void): boolean => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString(typeof encoding === "string" ? encoding : "utf8");
      const parent = this.outputParent;
      const done = typeof encoding === "function" ? encoding : callback;
      if (!parent) {
        originalStderrWrite(text);
      } else if (this.pendingStream && this.pendingStream.name === name && this.pendingStream.parent === parent) {
        this.pendingStream.text += text;
      } else {
        this.flushStream();
        this.pendingStream = { name, text, parent };
        setImmediate(() => this.flushStream());
      }
      done?.();
      return true;
    };
    process.stdout.write = writer("stdout") as typeof process.stdout.write;
    process.stderr.write = writer("stderr") as typeof process.stderr.write;
  }

  /** The display writer for one cell: `display()` (ours and tslab's) sends through it, and in-place updates keep it. */
  private displayWriter(parent: Message): (message: Partial<DisplayMessage>, update: boolean) => void {
    return (message, update) => {
      const content = { data: message.data ?? {}, metadata: message.metadata ?? {}, transient: message.transient ?? {} };
      this.publish(update ? "update_display_data" : "display_data", content, parent);
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Receiving

  private async serve(socket: Router, handle: (message: Message) => Promise<void>): Promise<void> {
    for await (const frames of socket) {
      let message: Message;
      try {
        message = decode(this.connection.key, frames);
      } catch (error) {
        logKernel("dropped a message", error);
        continue;
      }
      handle(message).catch((error: unknown) => logKernel(`failed to handle ${message.header.msg_type}`, error));
    }
  }

  /** input(): an input_request on stdin to the frontend of the running cell (if it allows stdin). */
  private requestInput(prompt: string, password: boolean): Promise<string> {
    const parent = this.running;
    if (!parent || !(parent.content as { allow_stdin?: boolean }).allow_stdin) {
      return Promise.reject(new GrpoError("invalid_argument", "This frontend does not accept input requests.", {
        fix: "call input() from a cell run in Jupyter (nbconvert and other headless runners cannot answer it).",
      }));
    }
    if (this.pendingInput) return Promise.reject(new GrpoError("invalid_argument", "An input request is already waiting for an answer.", { fix: "await the first input() before asking again." }));
    const signal = ambientSignal();
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => { this.pendingInput = undefined; reject(new AbortedError("The input request")); };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pendingInput = {
        resolve: (value) => { signal?.removeEventListener("abort", onAbort); resolve(value); },
        reject: (error) => { signal?.removeEventListener("abort", onAbort); reject(error); },
      };
      this.flushStream();
      void this.send(this.stdin, "input_request", { prompt, password }, parent);
    });
  }

  private async onStdin(message: Message): Promise<void> {
    if (message.header.msg_type !== "input_reply") return;
    const pending = this.pendingInput;
    this.pendingInput = undefined;
    pending?.resolve(String((message.content as { value?: unknown }).value ?? ""));
  }

  private async heartbeat(): Promise<void> {
    for await (const frames of this.hb) await this.hb.send(frames);
  }

  private async onShell(message: Message): Promise<void> {
    if (message.header.msg_type === "execute_request") {
      this.queued += 1;
      const run = this.executions.then(() => this.onExecute(message));
      this.executions = run.catch(() => undefined);
      return run;
    }
    await this.handle(this.shell, message);
  }

  private async onControl(message: Message): Promise<void> {
    await this.handle(this.control, message);
  }

  /** Non-execute requests: answered at once (they are quick and must work while a cell runs). */
  private async handle(socket: Router, message: Message): Promise<void> {
    const type = message.header.msg_type;
    const content = message.content;
    this.publish("status", { execution_state: "busy" }, message);
    try {
      switch (type) {
        case "kernel_info_request":
          await this.send(socket, "kernel_info_reply", this.kernelInfo(), message);
          break;
        case "complete_request": {
          const r = this.executor.complete(String(content.code ?? ""), Number(content.cursor_pos ?? 0));
          await this.send(socket, "complete_reply", { status: "ok", matches: r.matches, cursor_start: r.start, cursor_end: r.end, metadata: {} }, message);
          break;
        }
        case "inspect_request": {
          const text = this.executor.inspect(String(content.code ?? ""), Number(content.cursor_pos ?? 0));
          await this.send(socket, "inspect_reply", { status: "ok", found: text !== undefined, data: text === undefined ? {} : { "text/plain": text }, metadata: {} }, message);
          break;
        }
        case "is_complete_request":
          await this.send(socket, "is_complete_reply", this.executor.isComplete(String(content.code ?? "")), message);
          break;
        case "history_request":
          await this.send(socket, "history_reply", { status: "ok", history: this.historyReply(content) }, message);
          break;
        case "comm_info_request":
          await this.send(socket, "comm_info_reply", { status: "ok", comms: {} }, message);
          break;
        case "connect_request": {
          const c = this.connection;
          await this.send(socket, "connect_reply", { status: "ok", shell_port: c.shell_port, iopub_port: c.iopub_port, stdin_port: c.stdin_port, hb_port: c.hb_port, control_port: c.control_port }, message);
          break;
        }
        case "interrupt_request":
          this.executor.interrupt();
          await this.send(socket, "interrupt_reply", { status: "ok" }, message);
          break;
        case "shutdown_request":
          await this.send(socket, "shutdown_reply", { status: "ok", restart: Boolean(content.restart) }, message);
          this.publish("status", { execution_state: "idle" }, message);
          await this.shutdown();
          return;
        case "comm_open": case "comm_msg": case "comm_close":
          break; // no comm targets: ignored, as the protocol allows
        default:
          logKernel(`unknown request type ${type}`);
      }
    } finally {
      if (!this.closing) this.publish("status", { execution_state: "idle" }, message);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Execute

  private async onExecute(message: Message): Promise<void> {
    this.queued -= 1;
    const content = message.content as { code?: string; silent?: boolean; store_history?: boolean; stop_on_error?: boolean };
    const code = String(content.code ?? "");
    const silent = Boolean(content.silent);
    const storeHistory = content.store_history !== false && !silent;
    this.publish("status", { execution_state: "busy" }, message);
    try {
      if (this.abortQueued > 0) {
        this.abortQueued -= 1;
        await this.send(this.shell, "execute_reply", { status: "aborted", execution_count: this.executionCount }, message);
        return;
      }
      if (storeHistory) this.executionCount += 1;
      const count = this.executionCount;
      if (!silent) this.publish("execute_input", { code, execution_count: count }, message);
      this.outputParent = message;
      this.running = message;
      this.tslab.jupyterModule.lastWriteDisplayData = this.displayWriter(message);
      const outcome = await this.executor.execute(code, count).finally(() => { this.running = undefined; });
      const entry: HistoryEntry | undefined = storeHistory ? { line: count, input: code } : undefined;
      if (entry) this.history.push(entry);
      if (outcome.status === "ok") {
        if (outcome.hasValue && !silent) {
          const { data, metadata } = resultMessage(outcome.value);
          if (entry) entry.output = String(data["text/plain"] ?? "");
          this.publish("execute_result", { execution_count: count, data, metadata }, message);
        }
        await this.send(this.shell, "execute_reply", { status: "ok", execution_count: count, payload: [], user_expressions: {} }, message, { status: "ok" });
      } else {
        await this.replyError(outcome, count, message, silent);
        if (content.stop_on_error !== false) this.abortQueued = this.queued;
      }
    } finally {
      this.flushStream();
      this.publish("status", { execution_state: "idle" }, message);
    }
  }

  private async replyError(outcome: Extract<CellOutcome, { status: "error" }>, count: number, message: Message, silent: boolean): Promise<void> {
    const error = { ename: outcome.ename, evalue: outcome.evalue, traceback: outcome.traceback };
    if (!silent) this.publish("error", error, message);
    await this.send(this.shell, "execute_reply", { status: "error", execution_count: count, ...error }, message, { status: "error" });
  }

  // ---------------------------------------------------------------------------------------------
  // Replies

  private kernelInfo(): Content {
    const version = packageVersion();
    return {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "grpo-typescript",
      implementation_version: version,
      language_info: {
        name: "typescript",
        version: this.tslab.typescriptVersion,
        mimetype: "text/typescript",
        file_extension: ".ts",
        pygments_lexer: "typescript",
        // JupyterLab reads `mode`, classic Notebook `name` + `typescript` (tslab's finding).
        codemirror_mode: { mode: "typescript", name: "javascript", typescript: true },
      },
      banner: `GRPO TypeScript kernel ${version} (TypeScript ${this.tslab.typescriptVersion} via tslab ${this.tslab.version}, Node ${process.version})`,
      help_links: [{ text: "grpo-agent-framework kernel", url: "https://github.com/grpo-agent-framework/grpo-agent-framework/blob/main/docs/kernel.md" }],
    };
  }

  /** history_request: `tail` (last n), `range` (lines start..stop of this session), `search` (glob pattern). */
  private historyReply(content: Content): Array<[number, number, string | [string, string | null]]> {
    const output = Boolean(content.output);
    const row = (e: HistoryEntry): [number, number, string | [string, string | null]] => [0, e.line, output ? [e.input, e.output ?? null] : e.input];
    const n = typeof content.n === "number" ? content.n : this.history.length;
    switch (content.hist_access_type) {
      case "tail":
        return this.history.slice(Math.max(0, this.history.length - n)).map(row);
      case "range": {
        const start = typeof content.start === "number" ? content.start : 0;
        const stop = typeof content.stop === "number" ? content.stop : Number.POSITIVE_INFINITY;
        return this.history.filter((e) => e.line >= start && e.line < stop).map(row);
      }
      case "search": {
        const pattern = globToRegExp(String(content.pattern ?? "*"));
        let hits = this.history.filter((e) => pattern.test(e.input));
        if (content.unique) hits = hits.filter((e, i) => hits.findIndex((h) => h.input === e.input) === i);
        return hits.slice(Math.max(0, hits.length - n)).map(row);
      }
      default:
        return [];
    }
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    // Let the reply and the last status leave before the sockets close.
    setTimeout(() => {
      this.executor.close();
      for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.close();
      process.exit(0);
    }, 100);
  }
}

/**
 * The execute_result of a cell's value: for objects the same bundle and metadata as `display(x)`
 * (our objects' views, the opt-in protocol, else util.inspect); for primitives the REPL's inspect form.
 */
export function resultMessage(value: unknown): Omit<DisplayMessage, "transient"> {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return { data: { "text/plain": inspect(value, { colors: false }) }, metadata: {} };
  return displayMessage(value);
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "s");
}

export type { Header };
