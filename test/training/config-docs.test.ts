// The GRPOConfig interface's TSDoc is generated from GRPO_KNOBS (one source for the docs).
// This test fails when the two drift; run it with GRPO_WRITE_CONFIG_DOCS=1 to regenerate the block.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  GRPO_CONFIG_DOCS,
  GRPO_CONFIG_KEYS,
  KNOB_GROUPS,
  TRAINING_PROFILES,
  formatKnobValue,
  type GRPOConfigKey,
  type KnobGroup,
} from "../../src/training/config.js";

const CONFIG_PATH = fileURLToPath(new URL("../../src/training/config.ts", import.meta.url));
const BEGIN = "// BEGIN GENERATED GRPOConfig\n";
const END = "// END GENERATED GRPOConfig\n";

/** Greedy word wrap of `text` into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

function defaultsText(key: GRPOConfigKey): string {
  const values = TRAINING_PROFILES.map((p) => formatKnobValue(GRPO_CONFIG_DOCS[key].defaults[p]));
  if (values.every((v) => v === values[0])) return values[0];
  return TRAINING_PROFILES.map((p, i) => `${values[i]} (${p})`).join(", ");
}

function renderField(key: GRPOConfigKey): string[] {
  const doc = GRPO_CONFIG_DOCS[key];
  const optional = doc.type.endsWith(" | undefined");
  const type = optional ? doc.type.slice(0, -" | undefined".length) : doc.type;
  const spellings = [doc.snakeCase, ...doc.aliases].filter((s) => s !== key).map((s) => `\`${s}\``);
  const body = [
    ...wrap(doc.doc, 104),
    "",
    ...wrap(`Valid: ${doc.expected}. Default: ${defaultsText(key)}.`, 104),
    ...wrap(`Source: ${doc.source}`, 104),
    ...(spellings.length > 0 ? [`Also accepted as ${spellings.join(", ")}.`] : []),
  ];
  return ["  /**", ...body.map((l) => (l.length > 0 ? `   * ${l}` : "   *")), "   */", `  ${key}${optional ? "?" : ""}: ${type};`];
}

function renderInterface(): string {
  const lines = [
    "/**",
    " * Every knob of GRPO training, resolved (see {@link resolveGRPOConfig}). Generated from {@link GRPO_KNOBS}.",
    " */",
    "export interface GRPOConfig {",
  ];
  for (const group of Object.keys(KNOB_GROUPS) as KnobGroup[]) {
    lines.push(`  // ---- ${KNOB_GROUPS[group]} ----`, "");
    for (const key of GRPO_CONFIG_KEYS.filter((k) => GRPO_CONFIG_DOCS[k].group === group)) {
      lines.push(...renderField(key), "");
    }
  }
  if (lines.at(-1) === "") lines.pop();
  lines.push("}");
  return lines.join("\n") + "\n";
}

describe("GRPOConfig TSDoc is generated from GRPO_KNOBS", () => {
  it("the interface block in config.ts is current", () => {
    const source = readFileSync(CONFIG_PATH, "utf8");
    const start = source.indexOf(BEGIN);
    const end = source.indexOf(END);
    expect(start, "BEGIN marker").toBeGreaterThanOrEqual(0);
    expect(end, "END marker").toBeGreaterThan(start);
    const current = source.slice(start + BEGIN.length, end);
    const expected = renderInterface();
    if (process.env.GRPO_WRITE_CONFIG_DOCS === "1" && current !== expected) {
      writeFileSync(CONFIG_PATH, source.slice(0, start + BEGIN.length) + expected + source.slice(end));
      return;
    }
    expect(current, "run with GRPO_WRITE_CONFIG_DOCS=1 to regenerate").toBe(expected);
  });

  it("every knob is documented: group, type, valid values, a default per profile, meaning and source", () => {
    for (const key of GRPO_CONFIG_KEYS) {
      const doc = GRPO_CONFIG_DOCS[key];
      expect(Object.keys(KNOB_GROUPS)).toContain(doc.group);
      expect(doc.doc.length, key).toBeGreaterThan(30);
      expect(doc.source.length, key).toBeGreaterThan(5);
      expect(doc.expected.length, key).toBeGreaterThan(3);
      expect(Object.keys(doc.defaults).sort()).toEqual([...TRAINING_PROFILES].sort());
      expect(doc.snakeCase).toMatch(/^[a-z0-9_]+$/);
    }
  });
});
