/**
 * A tiny hook between the core objects and the notebook renderers in `kernel/`.
 *
 * Core classes must not import `kernel/` (it sits on top of everything and loads vega), yet
 * `trajectory.toHTML()` or `util.inspect(trajectory)` should show the rich form once the kernel
 * module is loaded. So the kernel registers one {@link DisplayRenderer} here when it is imported,
 * and core methods ask {@link renderText} / {@link renderHTML}, falling back to a plain form when
 * nothing is registered. Tensor-free and dependency-free.
 */

/**
 * A MIME bundle: MIME type → data, as Jupyter's `display_data` carries it. Text types hold strings,
 * images hold base64 strings, `application/*+json` types hold JSON values.
 */
export type MimeBundle = Record<string, unknown>;

/**
 * The opt-in display protocol: an object with a method under this symbol returning a
 * {@link MimeBundle} is shown with that bundle by the kernel's `display()` (the TypeScript twin of
 * IPython's `_repr_mimebundle_`, which is accepted too). `Symbol.for`, so every copy of the package
 * agrees on it.
 */
export const MIME_BUNDLE_SYMBOL: unique symbol = Symbol.for("grpo.mimeBundle") as never;

/** Renders library objects; each method returns undefined for values it does not know. */
export interface DisplayRenderer {
  /** A readable plain-text form (what `util.inspect` and terminals show). */
  toText(value: object): string | undefined;
  /** A self-contained HTML fragment (inline CSS, no scripts). */
  toHTML(value: object): string | undefined;
}

let registered: DisplayRenderer | undefined;

/**
 * Installs the renderer core objects delegate to (the kernel module does this when imported).
 * Returns the previous one, so a caller can restore it.
 */
export function registerDisplayRenderer(renderer: DisplayRenderer | undefined): DisplayRenderer | undefined {
  const previous = registered;
  registered = renderer;
  return previous;
}

/** The registered renderer's text form of `value`, or undefined when none is registered or it declines. */
export function renderText(value: object): string | undefined {
  return registered?.toText(value);
}

/** The registered renderer's HTML form of `value`, or undefined when none is registered or it declines. */
export function renderHTML(value: object): string | undefined {
  return registered?.toHTML(value);
}
