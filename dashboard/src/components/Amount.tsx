// Amounts and PnL as exact strings: decimals applied by BigInt, the raw base units on hover.

import { formatUnits, pnlSign } from "../format";

/** Decimals of a chain's quote token when the mirror does not know them: the wrapped native
 * token's (SOL 9, ETH / BNB / POL 18). */
export function quoteDecimals(chain: string, known?: number | null): number {
  return known ?? (chain === "solana" ? 9 : 18);
}

const colours = { profit: "#2e7d32", loss: "#c62828", flat: "inherit" };

export function Amount({ units, decimals }: { units: string | null; decimals: number }) {
  if (units === null) return <span>-</span>;
  return <span title={`${units} base units`}>{formatUnits(units, decimals)}</span>;
}

export function Pnl({ units, decimals }: { units: string | null; decimals: number }) {
  if (units === null) return <span>-</span>;
  const sign = pnlSign(units);
  return (
    <span data-pnl={sign} title={`${units} base units`} style={{ color: colours[sign] }}>
      {sign === "profit" ? "+" : ""}
      {formatUnits(units, decimals)}
    </span>
  );
}
