/**
 * Small formatting helpers shared by the HTML and text views.
 */

/** A number for people: 3 significant decimals, exponent for tiny values, "–" for missing/NaN. */
export function fmt(value: number | undefined | null, digits = 3): string {
  if (value === undefined || value === null || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (value !== 0 && Math.abs(value) < 10 ** -digits) return value.toExponential(1);
  return value.toFixed(digits);
}

/** A signed number (`+0.412`, `−1.300`), for advantages. */
export function signed(value: number, digits = 3): string {
  if (Number.isNaN(value)) return "–";
  return value > 0 ? `+${fmt(value, digits)}` : value < 0 ? `−${fmt(-value, digits)}` : fmt(0, digits);
}

/** Escapes text for HTML element content and attribute values. */
export function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** At most `max` characters, with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Pads or cuts `text` to exactly `width` characters (for text tables). */
export function cell(text: string, width: number): string {
  return text.length > width ? truncate(text, width) : text.padEnd(width);
}

/** `▁▂▃▄▅▆▇█` sparkline of the finite values (NaN shown as a space). */
export function sparkline(values: readonly number[]): string {
  const bars = "▁▂▃▄▅▆▇█";
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return "";
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return values
    .map((v) => (Number.isFinite(v) ? bars[hi === lo ? 3 : Math.round(((v - lo) / (hi - lo)) * 7)] : " "))
    .join("");
}

/** The breakdown keys that name reward components (not per-turn keys, not nested `a/b` keys). */
export function componentKeys(breakdown: Record<string, number>): string[] {
  return Object.keys(breakdown).filter((k) => !k.includes("/") && !/^turn_\d+$/.test(k));
}

/** Per-turn breakdown keys, by turn index: `turn_3` → 3 for the top level, `name/turn_3` under a component. */
export function turnKeys(breakdown: Record<string, number>, prefix = ""): Map<number, number> {
  const out = new Map<number, number>();
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}turn_(\\d+)$`);
  for (const [key, value] of Object.entries(breakdown)) {
    const m = pattern.exec(key);
    if (m) out.set(Number(m[1]), value);
  }
  return out;
}
