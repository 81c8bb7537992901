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
