/**
 * The ambient interrupt signal: an AbortSignal that a host (our Jupyter kernel) sets for the code
 * it runs, so that long calls stop on an interrupt without every call passing a `signal`.
 *
 * The trainer (`run()`, `step()`) and generation combine it with their own `signal` option when
 * they start: an interrupt then stops training at the next safe point (between tokens of a rollout,
 * between micro-batches, between steps) exactly like `run({ signal })` does. The slot lives on
 * `globalThis` under a `Symbol.for` key, so every copy of this package in a process (an ES module
 * import and a CommonJS `require` of it) sees the same signal. Tensor-free, dependency-free.
 */

const SLOT = Symbol.for("grpo.ambientSignal");

type Slot = { [SLOT]?: AbortSignal };

/** The ambient signal set by the host, or undefined (outside a kernel). */
export function ambientSignal(): AbortSignal | undefined {
  return (globalThis as Slot)[SLOT];
}

/**
 * Sets the ambient signal (the kernel does this; undefined clears it). Work that already started
 * keeps the signal it captured; work started afterwards sees the new one. Returns the previous one.
 */
export function setAmbientSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
  const previous = ambientSignal();
  if (signal) (globalThis as Slot)[SLOT] = signal;
  else delete (globalThis as Slot)[SLOT];
  return previous;
}

/**
 * `signal` combined with the ambient signal of this moment: aborts when either aborts. Call it once
 * when a long call starts and use the result throughout (so a later interrupt of the host still
 * reaches this call).
 */
export function withAmbientSignal(signal?: AbortSignal): AbortSignal | undefined {
  const ambient = ambientSignal();
  if (!ambient || ambient === signal) return signal;
  if (!signal) return ambient;
  return AbortSignal.any([signal, ambient]);
}
