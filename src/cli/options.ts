/** Option parsers shared by the `grpo` commands. */
import { GrpoError } from "../core/errors.js";

/** A commander parser for an integer flag in [min, max]; anything else is a clear error naming the flag. */
export function integerOption(flag: string, min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new GrpoError("invalid_argument", `Invalid ${flag}.`, { field: flag, value, expected: `an integer in [${min}, ${max}]` });
    }
    return n;
  };
}
