/**
 * The bad-input table (bad-input-cases.ts): every row's code and exact message, at least 40 rows,
 * none of which kills the process (no uncaught exception or unhandled rejection while they run),
 * and docs/errors.md rendered from the same table.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAD_INPUTS, makeContext, normalizeMessage, type Context } from "./bad-input-cases.js";
import { renderErrorsDoc } from "./errors-doc.js";

const DOC = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../docs/errors.md");
let ctx: Context;
const escaped: unknown[] = [];
const onEscape = (error: unknown) => { escaped.push(error); };

beforeAll(async () => {
  ctx = await makeContext();
  process.on("unhandledRejection", onEscape);
  process.on("uncaughtException", onEscape);
});

afterAll(() => {
  process.off("unhandledRejection", onEscape);
  process.off("uncaughtException", onEscape);
});

describe("bad input: code and exact message of each case", () => {
  it.each(BAD_INPUTS.map((c, i) => [i + 1, c.area, c.input, c] as const))("%i. %s: %s", async (_i, _area, _input, c) => {
    const outcome = await c.run(ctx);
    expect({ code: outcome.code, message: normalizeMessage(outcome.message, ctx) }).toEqual({ code: c.code, message: c.message });
  });
});

describe("the table itself", () => {
  it("has at least 40 rows, each with a message, none duplicated", () => {
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(40);
    for (const c of BAD_INPUTS) expect(c.message.length, c.input).toBeGreaterThan(10);
    expect(new Set(BAD_INPUTS.map((c) => c.input)).size).toBe(BAD_INPUTS.length);
  });

  it("nothing escaped as an uncaught exception or unhandled rejection", async () => {
    await new Promise((resolve) => setTimeout(resolve, 100)); // let late timers (timeouts above) fire
    expect(escaped).toEqual([]);
  });

  it("docs/errors.md is rendered from this table (UPDATE_ERRORS_DOC=1 regenerates it)", () => {
    const rendered = renderErrorsDoc(BAD_INPUTS);
    if (process.env.UPDATE_ERRORS_DOC === "1") writeFileSync(DOC, rendered);
    expect(readFileSync(DOC, "utf8")).toBe(rendered);
  });
});
