// Amounts arrive from the API as exact integer strings (base units). They are shown with
// their decimals applied by BigInt and string arithmetic, never through a float.

/** `units` (a decimal integer string, optionally signed) with `decimals` applied, trailing
 * zeros trimmed, digits grouped by thousands: `formatUnits("1500000", 6)` is `"1.5"`. */
export function formatUnits(units: string, decimals: number, group = true): string {
  const m = /^(-?)(\d+)$/.exec(units.trim());
  if (!m || !Number.isInteger(decimals) || decimals < 0 || decimals > 255) return units;
  const negative = m[1] === "-";
  const value = BigInt(m[2]);
  const base = 10n ** BigInt(decimals);
  const int = (value / base).toString();
  const frac = decimals === 0 ? "" : (value % base).toString().padStart(decimals, "0").replace(/0+$/, "");
  const whole = group ? int.replace(/\B(?=(\d{3})+(?!\d))/g, ",") : int;
  const sign = negative && value !== 0n ? "-" : "";
  return frac ? `${sign}${whole}.${frac}` : `${sign}${whole}`;
}

/** `a - b` of two non-negative integer strings, as a signed integer string. */
export function signedDiff(a: string, b: string): string {
  return (BigInt(a) - BigInt(b)).toString();
}

export type PnlSign = "profit" | "loss" | "flat";

/** The sign of a signed integer string (the API's `realized_pnl`, `unrealized_pnl`). */
export function pnlSign(pnl: string | null | undefined): PnlSign {
  if (!pnl || !/^-?\d+$/.test(pnl)) return "flat";
  const v = BigInt(pnl);
  return v > 0n ? "profit" : v < 0n ? "loss" : "flat";
}

/** The colour of a risk verdict; anything unknown is shown as the worst. */
export function verdictColour(verdict: string): string {
  switch (verdict) {
    case "low":
      return "#2e7d32";
    case "medium":
      return "#f9a825";
    case "high":
      return "#ef6c00";
    default:
      return "#c62828";
  }
}

/** Fractional digits of the exact prices below. */
export const PRICE_DECIMALS = 18;

/** The price of one whole base token in whole quote tokens, from base-unit amounts on each
 * side (reserves, or a position's size and cost), as an exact integer string scaled by
 * 10^PRICE_DECIMALS (rounded down); `null` when the base amount is zero or an input is not an
 * integer string. */
export function priceOf(base: string, quote: string, baseDecimals: number, quoteDecimals: number): string | null {
  if (!/^\d+$/.test(base) || !/^\d+$/.test(quote)) return null;
  const b = BigInt(base);
  if (b === 0n) return null;
  const scaled = BigInt(quote) * 10n ** BigInt(baseDecimals + PRICE_DECIMALS);
  return (scaled / (b * 10n ** BigInt(quoteDecimals))).toString();
}

/** `price` (an integer string) times (10,000 + `bps`) / 10,000, rounded down: a level `bps`
 * basis points above (or, negative, below) it. */
export function scaleBps(price: string, bps: number): string {
  return ((BigInt(price) * BigInt(10_000 + bps)) / 10_000n).toString();
}

/** A scaled price as the chart's y coordinate. Only the plot uses this float: every figure
 * shown as text comes from the exact string. */
export function plotValue(scaledPrice: string): number {
  return Number(formatUnits(scaledPrice, PRICE_DECIMALS, false));
}

/** A price for reading: exact digits, at most `significant` of them after the leading zeros. */
export function formatPrice(scaledPrice: string, significant = 6): string {
  const full = formatUnits(scaledPrice, PRICE_DECIMALS);
  const m = /^(-?[\d,]*)\.(0*)(\d*)$/.exec(full);
  if (!m) return full;
  const digits = m[3].slice(0, significant).replace(/0+$/, "");
  return digits ? `${m[1]}.${m[2]}${digits}` : m[1];
}

/** Milliseconds between two instants, for the latency funnel ("-" when one is unknown). */
export function elapsed(from: number | null, to: number | null): string {
  if (from === null || to === null) return "-";
  const ms = to - from;
  return ms < 1_000 ? `${ms} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

/** A long address as its first and last characters. */
export function shortAddress(a: string): string {
  return a.length > 14 ? `${a.slice(0, 6)}…${a.slice(-4)}` : a;
}

/** `part` of `whole` (integer strings) as a percentage with two decimals, rounded down, by
 * BigInt: `shareOf("1", "3")` is `"33.33%"`; `"-"` when `whole` is zero or not an integer. */
export function shareOf(part: string, whole: string): string {
  if (!/^\d+$/.test(part) || !/^[1-9]\d*$/.test(whole)) return "-";
  const bps = (BigInt(part) * 10_000n) / BigInt(whole);
  return `${bps / 100n}.${(bps % 100n).toString().padStart(2, "0")}%`;
}
