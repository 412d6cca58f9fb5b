/**
 * Schema validation (zod) turned into {@link GrpoError}s that name the field, the value and the fix.
 */
import type { z } from "zod";
import { GrpoError, type GrpoErrorCode } from "./errors.js";

/** Formats a zod issue path as `root.a[0].b`. */
export function formatPath(root: string, path: ReadonlyArray<PropertyKey>): string {
  let out = root;
  for (const key of path) out += typeof key === "number" ? `[${key}]` : `.${String(key)}`;
  return out;
}

function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/**
 * Parses `input` with `schema`; on failure throws a {@link GrpoError} for the first issue, naming
 * the full field path (`root` + issue path), the offending value and zod's description of the rule.
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  options: { root: string; code: GrpoErrorCode; fix?: string | ((field: string) => string) },
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = formatPath(options.root, issue.path);
  const fix = typeof options.fix === "function" ? options.fix(field) : options.fix;
  const details: ConstructorParameters<typeof GrpoError>[2] = { field, expected: issue.message, fix };
  if (issue.code !== "unrecognized_keys") details.value = valueAt(input, issue.path);
  else details.value = (issue as { keys?: string[] }).keys;
  throw new GrpoError(options.code, `Invalid ${options.root}.`, details);
}
