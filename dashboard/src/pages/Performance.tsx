// How trading went, per chain, mode and quote token: equity curve, win rate, profit factor and
// max drawdown, all from the API's exact integer figures.

import { lazy, Suspense, useEffect, useState } from "react";
import { get, type Performance as Perf } from "../api";
import { Amount, Pnl, quoteDecimals } from "../components/Amount";
import { plotValue, PRICE_DECIMALS, shortAddress } from "../format";

const LineChart = lazy(() => import("../components/LineChart"));

/** Basis points as a percentage with two decimals, by integer arithmetic. */
export function percent(bps: number): string {
  return `${Math.trunc(bps / 100)}.${String(bps % 100).padStart(2, "0")}%`;
}

export function Performance() {
  const [rows, setRows] = useState<Perf[] | null>(null);
  useEffect(() => {
    get<Perf[]>("/performance").then(setRows).catch(() => setRows([]));
  }, []);
  if (rows === null) return <p>Loading…</p>;
  if (rows.length === 0) return <p>No closed positions yet.</p>;
  return (
    <section>
      {rows.map((p) => {
        const d = quoteDecimals(p.chain);
        // The plot's y: equity in whole quote tokens (text figures stay exact strings).
        const scale = "0".repeat(Math.max(0, PRICE_DECIMALS - d));
        const points = p.equity.map((e) => ({
          x: Math.floor(e.at_ms / 1000),
          y: plotValue(e.equity.startsWith("-") ? `-${e.equity.slice(1)}${scale}` : `${e.equity}${scale}`),
        }));
        return (
          <article key={`${p.chain}-${p.mode}-${p.quote_token}`} data-testid="performance" style={{ marginBottom: 24 }}>
            <h2>
              {p.chain} ({p.mode}), quote {shortAddress(p.quote_token)}
            </h2>
            <table>
              <tbody>
                <tr><th>closed positions</th><td>{p.closed} ({p.wins} won, {p.losses} lost)</td></tr>
                <tr><th>win rate</th><td data-testid="win-rate">{percent(p.win_rate_bps)}</td></tr>
                <tr><th>net PnL</th><td><Pnl units={p.net_pnl} decimals={d} /></td></tr>
                <tr><th>profit factor</th><td data-testid="profit-factor">{p.profit_factor ?? "no losses"}</td></tr>
                <tr><th>max drawdown</th><td data-testid="max-drawdown"><Amount units={p.max_drawdown} decimals={d} /></td></tr>
                <tr><th>today</th><td><Pnl units={p.today_pnl} decimals={d} /></td></tr>
              </tbody>
            </table>
            <Suspense fallback={<p>Loading the chart…</p>}>
              <LineChart points={points} label={`equity curve of ${p.chain} ${p.mode}`} />
            </Suspense>
          </article>
        );
      })}
    </section>
  );
}
