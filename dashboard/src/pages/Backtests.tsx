// Stored backtests and hyperopt studies (`keeper backtest`, `keeper hyperopt`): the list, and
// one run's figures, trades, and for a study each fold in and out of sample with the
// recommended config snippet. Amounts are the API's exact strings, formatted by BigInt.

import { useEffect, useState } from "react";
import { get, type Backtest, type BacktestSummary, type Metrics, type Page } from "../api";
import { Amount, Pnl, quoteDecimals } from "../components/Amount";
import { shortAddress } from "../format";
import { percent } from "./Performance";

/** A run's amounts are in its chain's quote token; a run over every chain shows base units. */
function decimalsOf(chain: string | null): number {
  return chain ? quoteDecimals(chain) : 0;
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const ratio = (v: number | null) => (v === null ? "-" : v.toFixed(3));

export function Backtests() {
  const [rows, setRows] = useState<BacktestSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    get<Page<BacktestSummary>>("/backtests?limit=200")
      .then((p) => setRows(p.items))
      .catch((e: Error) => setError(e.message));
  }, []);
  if (error) return <p role="alert">{error}</p>;
  if (rows === null) return <p>Loading…</p>;
  if (rows.length === 0)
    return (
      <p>
        No stored backtests yet: run <code>keeper backtest --from … --to …</code> or <code>keeper hyperopt</code>.
      </p>
    );
  return (
    <table data-testid="backtests">
      <thead>
        <tr><th>#</th><th>kind</th><th>chain</th><th>period</th><th>trades</th><th>total profit</th><th>run</th></tr>
      </thead>
      <tbody>
        {rows.map((b) => (
          <tr key={b.id}>
            <td><a href={`#/backtest/${b.id}`}>{b.id}</a></td>
            <td>{b.kind === "hyperopt" ? `hyperopt ${b.study ?? ""} (out of sample)` : "backtest"}</td>
            <td>{b.chain ?? "all"}</td>
            <td>{day(b.from_ms)} to {day(b.to_ms)}</td>
            <td>{b.trades}</td>
            <td><Pnl units={b.total_profit} decimals={decimalsOf(b.chain)} /></td>
            <td>{new Date(b.created_at_ms).toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MetricsRow({ name, m, decimals }: { name: string; m: Metrics; decimals: number }) {
  return (
    <tr>
      <th>{name}</th><td>{m.trades}</td><td>{percent(m.win_rate_bps)}</td>
      <td><Pnl units={m.total_profit} decimals={decimals} /></td><td><Pnl units={m.expectancy} decimals={decimals} /></td>
      <td>{ratio(m.profit_factor)}</td>
      <td><Amount units={m.max_drawdown} decimals={decimals} /> ({percent(m.max_drawdown_bps)})</td>
      <td>{ratio(m.sharpe)}</td><td>{ratio(m.sortino)}</td><td>{ratio(m.calmar)}</td><td>{ratio(m.sqn)}</td>
    </tr>
  );
}

const METRIC_HEADS = ["", "trades", "win rate", "total profit", "expectancy", "PF", "max drawdown", "Sharpe", "Sortino", "Calmar", "SQN"];

export function BacktestPage({ id }: { id: number }) {
  const [b, setB] = useState<Backtest | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    get<Backtest>(`/backtests/${id}`).then(setB).catch((e: Error) => setError(e.message));
  }, [id]);
  if (error) return <p role="alert">{error}</p>;
  if (!b) return <p>Loading…</p>;
  const d = decimalsOf(b.chain);
  const r = b.report;
  return (
    <section data-testid="backtest">
      <h2>
        {b.kind === "hyperopt" ? `Hyperopt study ${b.study ?? ""}` : "Backtest"} #{b.id}: {b.chain ?? "every chain"},{" "}
        {day(b.from_ms)} to {day(b.to_ms)}
      </h2>
      {r.metrics && (
        <table data-testid="backtest-metrics">
          <thead><tr>{METRIC_HEADS.map((h) => <th key={h}>{h}</th>)}</tr></thead>
          <tbody>
            <MetricsRow name="all" m={r.metrics} decimals={d} />
            {Object.entries(r.by_exit_reason ?? {}).map(([k, m]) => <MetricsRow key={`x${k}`} name={`exit ${k}`} m={m} decimals={d} />)}
            {Object.entries(r.by_chain ?? {}).map(([k, m]) => <MetricsRow key={`c${k}`} name={`chain ${k}`} m={m} decimals={d} />)}
          </tbody>
        </table>
      )}
      {r.folds && (
        <>
          <h3>Walk-forward folds: the best trial in sample, then on the next window</h3>
          <table data-testid="folds">
            <thead>
              <tr>
                <th>fold</th><th>trained on</th><th>tested on</th><th>in-sample profit</th><th>out-of-sample profit</th>
                <th>trades in / out</th><th>take profit</th><th>stop loss</th><th>trailing</th><th>max hold</th><th>max risk</th><th>size</th>
              </tr>
            </thead>
            <tbody>
              {r.folds.map((f) => (
                <tr key={f.fold}>
                  <td>{f.fold}</td><td>{day(f.train[0])} to {day(f.train[1])}</td><td>{day(f.test[0])} to {day(f.test[1])}</td>
                  <td><Pnl units={f.in_sample.total_profit} decimals={d} /></td>
                  <td><Pnl units={f.out_of_sample.total_profit} decimals={d} /></td>
                  <td>{f.in_sample.trades} / {f.out_of_sample.trades}</td>
                  <td>{percent(f.best.take_profit_bps)}</td><td>{percent(f.best.stop_loss_bps)}</td>
                  <td>{percent(f.best.trailing_stop_bps)}</td><td>{f.best.max_hold_secs} s</td>
                  <td>{f.best.max_risk_score}</td><td>{percent(f.best.buy_size_bps)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {r.snippet && (
            <>
              <h3>Recommended settings (the last fold's best)</h3>
              <pre data-testid="snippet">{r.snippet}</pre>
            </>
          )}
        </>
      )}
      {r.trades && (
        <>
          <h3>Trades</h3>
          <table data-testid="backtest-trades">
            <thead>
              <tr><th>chain</th><th>token</th><th>opened</th><th>closed</th><th>exit</th><th>cost</th><th>proceeds</th><th>PnL</th></tr>
            </thead>
            <tbody>
              {r.trades.map((t, i) => (
                <tr key={i}>
                  <td>{t.chain}</td><td title={t.token}>{shortAddress(t.token)}</td>
                  <td>{new Date(t.opened_at_ms).toLocaleString()}</td>
                  <td>{t.closed_at_ms === null ? "-" : new Date(t.closed_at_ms).toLocaleString()}</td>
                  <td>{t.exit_reason}</td>
                  <td><Amount units={t.cost} decimals={d} /></td><td><Amount units={t.proceeds} decimals={d} /></td>
                  <td><Pnl units={t.pnl} decimals={d} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
