/**
 * tslab's TypeScript compiler, loaded as a dependency with source maps turned on.
 *
 * The kernel compiles cells with tslab's converter (`tslab/dist/converter.js`: its TypeScript 5.0
 * language service, the declarations carried from cell to cell, top-level await, the last
 * expression's value) and never copies it. The converter emits no source maps, so a runtime error
 * could only name a line of the generated JavaScript. It compiles in two stages: the cell to an ES
 * module (a watch program), then that module to CommonJS (`ts.transpileModule`). Both stages get
 * their TypeScript from `@tslab/typescript-for-tslab`, so before the converter is first loaded we
 * hand it a view of that module (through Node's module cache) whose two entry points add source map
 * options; the maps of the last conversion are recorded here and composed into one cell → JS map.
 * Everything else is tslab's own code, unchanged.
 */
import { createRequire } from "node:module";
import { SourceMap, type SourceMapPayload } from "node:module";
import path from "node:path";
import type { CompletionInfo, ConvertResult, Converter, IsCompleteResult } from "tslab/dist/converter.js";
import type { CodeMetadata } from "tslab/dist/metadata.js";
import { GrpoError } from "../src/core/errors.js";

const require = createRequire(import.meta.url);

/** tslab's TypeScript module, as far as the kernel uses it. */
interface TslabTypeScript {
  version: string;
  createWatchCompilerHost(...args: unknown[]): unknown;
  transpileModule(input: string, options: { fileName?: string; compilerOptions?: Record<string, unknown> }): { outputText: string; sourceMapText?: string };
}

/** The parts of tslab the kernel is built on. */
export interface Tslab {
  /** tslab's version (package.json). */
  version: string;
  /** The TypeScript version tslab compiles with. */
  typescriptVersion: string;
  createConverter(options?: { isJS?: boolean; isBrowser?: boolean }): Converter;
  isCompleteCode(code: string): IsCompleteResult;
  getCodeMetadata(code: string): CodeMetadata;
  printQuickInfo(info: NonNullable<ReturnType<Converter["inspect"]>>): string;
  /** `require` resolving from a folder (tslab's `createRequire`). */
  createRequire(rootDir: string): NodeJS.Require;
  /** tslab's `dist/jupyter.js` module: its `lastWriteDisplayData` is what `tslab.display` and our `display()` write to. */
  jupyterModule: { lastWriteDisplayData: unknown };
  /** The zeromq module tslab depends on (the same native addon). */
  zeromq: typeof import("zeromq");
  /**
   * The source maps of the most recent `convert()`: the ES module stage (cell → ESM) and the
   * CommonJS stage (ESM → the code that runs). Undefined before the first conversion.
   */
  lastMaps(): { esm?: SourceMapPayload; cjs?: SourceMapPayload };
}

let loaded: Tslab | undefined;

const INLINE_MAP = /\n?\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

/** Loads tslab (once per process) with source maps on; see the module documentation. */
export function loadTslab(): Tslab {
  if (loaded) return loaded;
  const tslabDir = path.dirname(require.resolve("tslab/package.json"));
  const fromTslab = createRequire(path.join(tslabDir, "dist", "converter.js"));
  const converterFile = fromTslab.resolve("./converter.js");
  if (require.cache[converterFile]) {
    throw new GrpoError("not_initialized", "tslab's converter was loaded before the kernel could turn on its source maps.", {
      fix: "start the kernel with `node dist/kernel/main.js <connection file>` (it loads tslab first).",
    });
  }
  const tsFile = fromTslab.resolve("@tslab/typescript-for-tslab");
  const ts = fromTslab(tsFile) as TslabTypeScript & Record<string, unknown>;
  const maps: { esm?: SourceMapPayload; cjs?: SourceMapPayload } = {};

  // A view of tslab's TypeScript with own forwarding properties (tslab's `__importStar` copies own
  // properties only) and two entry points that add source map options.
  const view: Record<string, unknown> = {};
  for (const key of Object.keys(ts)) Object.defineProperty(view, key, { enumerable: true, configurable: true, get: () => ts[key] });
  Object.defineProperty(view, "createWatchCompilerHost", {
    enumerable: true,
    value: (rootFiles: unknown, options: Record<string, unknown>, ...rest: unknown[]) =>
      ts.createWatchCompilerHost(rootFiles, { ...options, inlineSourceMap: true }, ...rest),
  });
  Object.defineProperty(view, "transpileModule", {
    enumerable: true,
    value: (input: string, options: { fileName?: string; compilerOptions?: Record<string, unknown> }) => {
      // tslab's second stage (ESM → CommonJS) names its input "custom.js".
      if (options.fileName !== "custom.js") return ts.transpileModule(input, options);
      const match = INLINE_MAP.exec(input);
      const esm = match ? input.slice(0, match.index) : input;
      const out = ts.transpileModule(esm, { ...options, compilerOptions: { ...options.compilerOptions, sourceMap: true } });
      maps.esm = match ? (JSON.parse(Buffer.from(match[1], "base64").toString("utf8")) as SourceMapPayload) : undefined;
      maps.cjs = out.sourceMapText ? (JSON.parse(out.sourceMapText) as SourceMapPayload) : undefined;
      return { ...out, outputText: out.outputText.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n") };
    },
  });
  const cached = require.cache[tsFile];
  if (!cached) throw new GrpoError("not_initialized", "tslab's TypeScript is not in Node's module cache after loading it.");
  cached.exports = view;

  const converter = fromTslab("./converter.js") as { createConverter: Tslab["createConverter"]; isCompleteCode: Tslab["isCompleteCode"] };
  const metadata = fromTslab("./metadata.js") as { getCodeMetadata: Tslab["getCodeMetadata"] };
  const inspect = fromTslab("./inspect.js") as { printQuickInfo: Tslab["printQuickInfo"] };
  const executor = fromTslab("./executor.js") as { createRequire: Tslab["createRequire"] };
  const jupyterModule = fromTslab("./jupyter.js") as Tslab["jupyterModule"];
  const zeromq = fromTslab("zeromq") as typeof import("zeromq");
  const version = (fromTslab("../package.json") as { version: string }).version;
  loaded = {
    version,
    typescriptVersion: ts.version,
    createConverter: converter.createConverter,
    isCompleteCode: converter.isCompleteCode,
    getCodeMetadata: metadata.getCodeMetadata,
    printQuickInfo: inspect.printQuickInfo,
    createRequire: executor.createRequire,
    jupyterModule,
    zeromq,
    lastMaps: () => ({ ...maps }),
  };
  return loaded;
}

/** Maps positions of the code that runs back to the cell (0-based lines and columns). */
export class CellSourceMap {
  private readonly esm?: SourceMap;
  private readonly cjs?: SourceMap;

  /**
   * @param maps the two stages' maps of one conversion ({@link Tslab.lastMaps}).
   * @param prefixLines lines the converter puts before the cell's text (its `export {};` line).
   */
  constructor(maps: { esm?: SourceMapPayload; cjs?: SourceMapPayload }, private readonly prefixLines = 1) {
    if (maps.esm) this.esm = new SourceMap(maps.esm);
    if (maps.cjs) this.cjs = new SourceMap(maps.cjs);
  }

  /** The cell position of a position in the CommonJS code, or undefined when it maps to nothing in the cell. */
  toCell(line: number, column: number): { line: number; column: number } | undefined {
    if (!this.esm || !this.cjs) return undefined;
    const a = this.cjs.findEntry(line, column) as { originalLine?: number; originalColumn?: number };
    if (a.originalLine === undefined || a.originalColumn === undefined) return undefined;
    const b = this.esm.findEntry(a.originalLine, a.originalColumn) as { originalLine?: number; originalColumn?: number };
    if (b.originalLine === undefined || b.originalColumn === undefined) return undefined;
    const cellLine = b.originalLine - this.prefixLines;
    return cellLine < 0 ? undefined : { line: cellLine, column: b.originalColumn };
  }
}

export type { CompletionInfo, ConvertResult, Converter };
