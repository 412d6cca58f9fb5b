/**
 * Runs notebook cells: tslab's converter compiles each cell (type-checked against the declarations
 * of the cells before it), the CommonJS it emits runs in this process's context, and the outcome
 * comes back as data: the last expression's value, or an error with a traceback whose frames name
 * the cell and line (source-mapped through {@link CellSourceMap}).
 *
 * Interrupts: {@link CellExecutor.interrupt} aborts the ambient signal (`src/core/interrupt.ts`)
 * that the trainer, generation and our long calls combine with their own, so the running cell's
 * work stops at its next safe point; the cell's reply waits for that (up to `graceMs`), so nothing
 * of it runs on in the background. Synchronous code (a busy loop) is stopped by SIGINT through
 * `vm`'s `breakOnSigint`.
 */
import Module from "node:module";
import path from "node:path";
import { inspect as utilInspect } from "node:util";
import vm from "node:vm";
import { setAmbientSignal } from "../src/core/interrupt.js";
import { CellSourceMap, loadTslab, type Converter, type Tslab } from "./tslab.js";

/** What running one cell gave. */
export type CellOutcome =
  | { status: "ok"; /** True when the cell ended with an expression whose value is not undefined. */ hasValue: boolean; value?: unknown }
  | { status: "error"; ename: string; evalue: string; traceback: string[] };

/** Options of {@link CellExecutor}. */
export interface CellExecutorOptions {
  /** The folder imports resolve from and the compiler's root (default: the working directory). */
  rootDir?: string;
  /** How long an interrupted cell may take to reach its next safe point before the reply is sent anyway (default 30 s). */
  graceMs?: number;
}

/** The global the compiled cells read their `exports` (the notebook's variables) and `require` from. */
const GLOBAL = "__grpoKernel__";

/** ename of an interrupted cell. */
export const INTERRUPT_ENAME = "KernelInterrupt";

type Locals = Record<string | symbol, unknown>;

/**
 * The notebook's variables: the compiled cells assign `exports.x = …` and import bindings with
 * `Object.defineProperty(exports, "x", { get })`; bindings become plain values so a later cell may
 * assign them.
 */
function createLocals(): Locals {
  const store: Locals = {};
  return new Proxy(store, {
    defineProperty(target, property, attributes) {
      if (property === "__esModule") return true;
      target[property] = attributes.get ? attributes.get() : attributes.value;
      return true;
    },
  });
}

function errorText(error: unknown): { ename: string; evalue: string; stack?: string } {
  if (error instanceof Error) return { ename: error.name || error.constructor?.name || "Error", evalue: error.message, stack: error.stack };
  return { ename: "Thrown", evalue: utilInspect(error, { depth: 2 }) };
}

/** Runs cells; one per notebook kernel. */
export class CellExecutor {
  private readonly tslab: Tslab;
  private readonly converter: Converter;
  private readonly rootDir: string;
  private readonly graceMs: number;
  private readonly locals = createLocals();
  private readonly maps = new Map<number, { map: CellSourceMap; lines: string[]; outputLines: number }>();
  private readonly sideOutputs = new Map<string, string>();
  private readonly sideModules = new Map<string, Module>();
  private prevDecl = "";
  private controller = new AbortController();
  private interrupted?: () => void;

  constructor(options: CellExecutorOptions = {}) {
    this.tslab = loadTslab();
    this.rootDir = path.resolve(options.rootDir ?? process.cwd());
    this.graceMs = options.graceMs ?? 30_000;
    this.converter = this.tslab.createConverter({ isJS: false, isBrowser: false });
    (globalThis as Record<string, unknown>)[GLOBAL] = { exports: this.locals, require: this.wrapRequire(this.tslab.createRequire(this.rootDir), this.rootDir) };
    setAmbientSignal(this.controller.signal);
  }

  /** The notebook's variables by name. */
  get variables(): Readonly<Record<string, unknown>> {
    return this.locals as Record<string, unknown>;
  }

  /**
   * Aborts the work of the running cell (and anything earlier cells left running) at its next safe
   * point; code started afterwards gets a fresh signal.
   */
  interrupt(): void {
    const old = this.controller;
    this.controller = new AbortController();
    setAmbientSignal(this.controller.signal);
    old.abort(new Error("kernel interrupt"));
    this.interrupted?.();
  }

  /** Compiles and runs one cell; never throws. `cell` is its execution count (named in tracebacks). */
  async execute(code: string, cell: number): Promise<CellOutcome> {
    const meta = this.tslab.getCodeMetadata(code);
    if (meta.module) {
      // `//%module: name` cells define an importable in-memory module (tslab's convention).
      const diagnostics = this.converter.addModule(meta.module, code, meta);
      return diagnostics.length ? this.diagnosticsOutcome(diagnostics, code, cell) : { status: "ok", hasValue: false };
    }
    if (meta.mode === "browser") {
      return { status: "error", ename: "UnsupportedCell", evalue: "`//%browser` cells are not supported by this kernel.", traceback: ["UnsupportedCell: `//%browser` cells are not supported by this kernel; remove the `//%browser` line."] };
    }
    let converted;
    try {
      converted = this.converter.convert(this.prevDecl, code);
    } catch (error) {
      const e = errorText(error);
      return { status: "error", ename: "CompilerError", evalue: e.evalue, traceback: [`CompilerError: ${e.evalue}`] };
    }
    for (const side of converted.sideOutputs ?? []) {
      this.sideModules.delete(side.path);
      this.sideOutputs.set(side.path, side.data);
    }
    if (converted.diagnostics.length > 0) return this.diagnosticsOutcome(converted.diagnostics, code, cell);
    if (!converted.output) {
      this.prevDecl = converted.declOutput ?? "";
      return { status: "ok", hasValue: false };
    }
    this.maps.set(cell, { map: new CellSourceMap(this.tslab.lastMaps()), lines: code.split("\n"), outputLines: converted.output.split("\n").length });
    const wrapped = `(${converted.hasToplevelAwait ? "async " : ""}function (exports, require) {\n${converted.output}\n})(${GLOBAL}.exports, ${GLOBAL}.require)`;
    const interrupt = new Promise<"interrupted">((resolve) => { this.interrupted = () => resolve("interrupted"); });
    try {
      const result: unknown = vm.runInThisContext(wrapped, { filename: cellFileName(cell), breakOnSigint: true });
      if (converted.hasToplevelAwait) {
        const promise = Promise.resolve(result);
        const first = await Promise.race([promise, interrupt]);
        if (first === "interrupted") {
          // Give the aborted work time to reach its next safe point, so nothing runs on.
          let timer: ReturnType<typeof setTimeout> | undefined;
          const grace = new Promise<"late">((resolve) => { timer = setTimeout(() => resolve("late"), this.graceMs); });
          const settled = await Promise.race([promise.then(() => "settled" as const, () => "settled" as const), grace]);
          clearTimeout(timer);
          this.prevDecl = converted.declOutput ?? "";
          return this.interruptOutcome(settled === "late");
        }
      }
    } catch (error) {
      this.prevDecl = converted.declOutput ?? "";
      if ((error as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") return this.interruptOutcome();
      return this.runtimeOutcome(error);
    } finally {
      this.interrupted = undefined;
    }
    this.prevDecl = converted.declOutput ?? "";
    const name = converted.lastExpressionVar;
    if (!name || !(name in this.locals)) return { status: "ok", hasValue: false };
    const value = this.locals[name];
    delete this.locals[name];
    return value === undefined ? { status: "ok", hasValue: false } : { status: "ok", hasValue: true, value };
  }

  /** Completions at `cursor` (a character offset) from tslab's language service. */
  complete(code: string, cursor: number): { start: number; end: number; matches: string[] } {
    const info = this.converter.complete(this.prevDecl, code, cursor);
    return { start: info.start, end: info.end, matches: info.candidates };
  }

  /** The type and documentation of the symbol at `cursor`, as text, or undefined when there is none. */
  inspect(code: string, cursor: number): string | undefined {
    const info = this.converter.inspect(this.prevDecl, code, cursor);
    return info ? this.tslab.printQuickInfo(info) : undefined;
  }

  /** Whether `code` is a complete cell, and the indent of the next line when it is not. */
  isComplete(code: string): { status: "complete" | "incomplete" | "invalid"; indent?: string } {
    const result = this.tslab.isCompleteCode(code);
    if (result.completed) return { status: "complete" };
    return { status: "incomplete", indent: result.indent ?? "" };
  }

  /** Releases the compiler's watchers and the ambient signal. */
  close(): void {
    this.converter.close();
    setAmbientSignal(undefined);
  }

  // ---------------------------------------------------------------------------------------------
  // Outcomes

  private interruptOutcome(late = false): CellOutcome {
    const evalue = late
      ? `The cell was interrupted, but its work did not stop within ${this.graceMs / 1000} s (code that ignores the interrupt signal): it may still be running.`
      : "The cell was interrupted; its work stopped at the next safe point.";
    return { status: "error", ename: INTERRUPT_ENAME, evalue, traceback: [`${INTERRUPT_ENAME}: ${evalue}`] };
  }

  private diagnosticsOutcome(diagnostics: ReturnType<Converter["convert"]>["diagnostics"], code: string, cell: number): CellOutcome {
    const lines = code.split("\n");
    const first = diagnostics[0];
    const traceback: string[] = [];
    for (const d of diagnostics) {
      const where = d.fileName ? `${d.fileName}, line ${d.start.line + 1}` : `Cell [${cell}], line ${d.start.line + 1}`;
      traceback.push(`${where}, column ${d.start.character + 1}: TS${d.code}: ${d.messageText}`);
      if (!d.fileName && lines[d.start.line] !== undefined) {
        const width = d.end.line === d.start.line ? Math.max(1, d.end.character - d.start.character) : 1;
        traceback.push(`  ${d.start.line + 1} | ${lines[d.start.line]}`, `  ${" ".repeat(String(d.start.line + 1).length)} | ${" ".repeat(d.start.character)}${"^".repeat(width)}`);
      }
    }
    return { status: "error", ename: "TypeScriptError", evalue: `TS${first.code}: ${first.messageText}`, traceback: [`TypeScriptError: ${diagnostics.length} error${diagnostics.length === 1 ? "" : "s"} in the cell`, ...traceback] };
  }

  private runtimeOutcome(error: unknown): CellOutcome {
    const { ename, evalue, stack } = errorText(error);
    const traceback = [`${ename}: ${evalue}`];
    for (const line of (stack ?? "").split("\n").slice(1)) {
      if (!/^\s+at /.test(line)) continue;
      if (/node:vm|[\\/]kernel[\\/]executor\.[jt]s/.test(line)) break; // the kernel's own frames
      traceback.push(...this.mapFrame(line));
    }
    return { status: "error", ename, evalue, traceback };
  }

  /** A stack frame line with cell positions mapped to the cell's line, plus that line's source. */
  private mapFrame(line: string): string[] {
    const match = CELL_FRAME.exec(line);
    if (!match) return [line];
    const cell = Number(match[1]);
    const entry = this.maps.get(cell);
    // Line 1 of the code that runs is the wrapper's; the converter's output starts on line 2; the
    // last line calls the wrapper (a frame of the kernel's, not of the cell).
    const jsLine = Number(match[2]) - 2;
    if (entry && jsLine >= entry.outputLines) return [];
    const position = entry?.map.toCell(jsLine, Number(match[3]) - 1);
    if (!entry || !position) return [line.replace(CELL_FRAME, `Cell [${cell}]`)];
    const source = entry.lines[position.line] ?? "";
    return [line.replace(CELL_FRAME, `Cell [${cell}], line ${position.line + 1}`), `      ${position.line + 1} | ${source.trim()}`];
  }

  // ---------------------------------------------------------------------------------------------
  // require for cells: `tslab` is tslab's display API; local .ts files imported by a cell run from
  // the converter's side outputs.

  private wrapRequire(base: NodeJS.Require, dir: string): NodeJS.Require {
    const load = (id: string): unknown => {
      if (id === "tslab") return require("tslab");
      const side = this.sideModule(id, dir);
      if (side) return side.exports;
      return base(id);
    };
    return Object.assign(load, base) as NodeJS.Require;
  }

  private sideModule(id: string, dir: string): Module | undefined {
    if (!id.startsWith(".") && !path.isAbsolute(id)) return undefined;
    let file = path.resolve(dir, id);
    if (path.extname(file) === "") file += ".js";
    const cached = this.sideModules.get(file);
    if (cached) return cached;
    const source = this.sideOutputs.get(file);
    if (source === undefined) return undefined;
    const mod = new Module(file);
    mod.filename = file;
    mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(file));
    const ownRequire = Module.createRequire(file);
    mod.require = this.wrapRequire(ownRequire, path.dirname(file)) as typeof mod.require;
    this.sideModules.set(file, mod);
    (mod as unknown as { _compile(code: string, file: string): void })._compile(source, file);
    return mod;
  }
}

const require = Module.createRequire(import.meta.url);
const CELL_FRAME = /<cell (\d+)>:(\d+):(\d+)/;

function cellFileName(cell: number): string {
  return `<cell ${cell}>`;
}

