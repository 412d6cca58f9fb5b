import { expect } from "vitest";
import { GrpoError } from "../../src/core/errors.js";

/** The GrpoError thrown by `fn` (fails the test when nothing, or something else, is thrown). */
export function grpoErrorOf(fn: () => unknown): GrpoError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GrpoError);
    return error as GrpoError;
  }
  throw new Error("expected a GrpoError, but nothing was thrown");
}
