/**
 * No code is ever evaluated from text: the sources of src/, kernel/, scripts/ and examples/ are
 * parsed (TypeScript's own parser, so comments and strings such as "grpo eval" do not count) and
 * searched for every way to run a string as code:
 * - `eval` (called, referenced, or reached as `globalThis["eval"]`),
 * - the `Function` constructor (`new Function(…)`, `Function(…)`, `x.Function`, `["Function"]`),
 * - the `vm` module (`import … from "node:vm"`, `require("vm")`, `import("vm")`, `vm.…`),
 * - `setTimeout` / `setInterval` / `setImmediate` with a string instead of a function,
 * - expr-eval's `toJSFunction`, which compiles an expression with `new Function`.
 * The allow-list has one file: the Jupyter kernel's cell executor, whose job is to run the code the
 * user types into a cell (as IPython does); it never runs text that came from a model, a dataset or a
 * file. The scanner is itself tested on planted code.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SCANNED = ["src", "kernel", "scripts", "examples"];
const EXTENSIONS = new Set([".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"]);
const VM_MODULES = new Set(["vm", "node:vm"]);
const TIMERS = new Set(["setTimeout", "setInterval", "setImmediate"]);
/** Exceptions, each with its justification. */
const ALLOWED: ReadonlyArray<{ file: string; rule: string; why: string }> = [
  {
    file: "kernel/executor.ts", rule: "vm module",
    why: "the notebook kernel runs the user's own cell code (compiled by tslab) with vm.runInThisContext and breakOnSigint",
  },
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (EXTENSIONS.has(path.extname(name)) && !name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

const isStringLike = (node: ts.Node | undefined): node is ts.StringLiteralLike =>
  node !== undefined && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node));

/** Every code-from-text construct in `text`, as "line:col rule" strings. */
export function findDynamicCode(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const report = (node: ts.Node, rule: string) => {
    const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source));
    found.push(`${line + 1}:${character + 1} ${rule}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) {
      const name = node.text;
      const parent = node.parent;
      const inType = ts.isTypeReferenceNode(parent) || ts.isExpressionWithTypeArguments(parent);
      if (name === "eval") report(node, "eval");
      if (name === "Function" && !inType) report(node, "Function constructor");
      if (name === "toJSFunction") report(node, "expr-eval toJSFunction");
      if (name === "vm" && ts.isPropertyAccessExpression(parent) && parent.expression === node) report(node, "vm module");
    }
    if (ts.isElementAccessExpression(node) && isStringLike(node.argumentExpression)
      && ["eval", "Function"].includes(node.argumentExpression.text)) {
      report(node, `["${node.argumentExpression.text}"]`);
    }
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier
      && isStringLike(node.moduleSpecifier) && VM_MODULES.has(node.moduleSpecifier.text)) {
      report(node, "vm module");
    }
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const first = node.arguments[0];
      const calleeName = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
      const importsVm = (callee.kind === ts.SyntaxKind.ImportKeyword || calleeName === "require") && isStringLike(first) && VM_MODULES.has(first.text);
      if (importsVm) report(node, "vm module");
      if (calleeName !== undefined && TIMERS.has(calleeName) && first !== undefined && (isStringLike(first) || ts.isTemplateExpression(first))) {
        report(node, `${calleeName} with a string`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("no eval, Function or vm on text", () => {
  it("the scanner finds every planted construct and ignores comments, strings and look-alikes", () => {
    const planted = [
      'const a = eval("1 + 1");',
      "const b = new Function(\"x\", \"return x\");",
      "const c = Function(\"return 1\")();",
      "const d = (globalThis as any)[\"eval\"];",
      "const e = globalThis.Function;",
      'import vm from "node:vm";',
      'const f = require("vm");',
      'setTimeout("doIt()", 10);',
      "vm.runInNewContext(code);",
      "parser.parse(expr).toJSFunction(\"x\");",
      'const g = await import("vm");',
    ].join("\n");
    expect(findDynamicCode("planted.ts", planted).map((f) => f.split(" ").slice(1).join(" "))).toEqual([
      "eval", "Function constructor", "Function constructor", '["eval"]', "Function constructor", "vm module", "vm module",
      "setTimeout with a string", "vm module", "expr-eval toJSFunction", "vm module",
    ]);
    const innocent = [
      "// never eval(text) or new Function(text); see vm.Script",
      'const help = "grpo eval runs an example; eval( is not called here";',
      "const reward = new FunctionReward(options, fn);",
      "const evaluation = evaluate(x); const evalEpisodes = 4;",
      "function run(fn: Function): void { setTimeout(() => fn(), 0); }",
      "const t = `template with eval(${1})`;",
    ].join("\n");
    expect(findDynamicCode("innocent.ts", innocent)).toEqual([]);
  });

  it(`finds none in ${SCANNED.join(", ")} (allow-list: ${ALLOWED.length} entries)`, () => {
    const files = SCANNED.flatMap((dir) => sourceFiles(path.join(ROOT, dir)));
    expect(files.length).toBeGreaterThan(40); // the scan really covers the sources
    const violations = files.flatMap((file) => {
      const rel = path.relative(ROOT, file);
      return findDynamicCode(rel, readFileSync(file, "utf8"))
        .filter((f) => !ALLOWED.some((a) => a.file === rel && f.endsWith(a.rule)))
        .map((f) => `${rel}:${f}`);
    });
    expect(violations).toEqual([]);
  });
});
