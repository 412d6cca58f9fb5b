/** Small helpers the benchmarks share: command-line values and the median they report. */

/** The value after `name` on the command line (`--rounds 20` → "20"), or undefined. */
export function stringArgument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * The integer after `name` on the command line, or `fallback` when it is absent. A value that is
 * not a positive or zero integer stops the bench with a message naming the flag.
 */
export function intArgument(name: string, fallback: number): number {
  const text = stringArgument(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} needs a whole number ≥ 0, got ${JSON.stringify(text)}.`);
    process.exit(2);
  }
  return value;
}

/** The median of `xs` (the upper one of an even count), without reordering `xs`. */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
