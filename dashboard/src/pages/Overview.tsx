// At a glance: live or dry-run (impossible to miss), trapped positions, anomalies on held pools
// and alerts first, then
// keeper health with lag per source, today's PnL, positions and budget used against the
// limits, and each chain's breaker.

import { useEffect, useState } from "react";
import { get, type Health, type Overview as OverviewData, type Page, type Performance, type Position } from "../api";
import { Amount, Pnl, quoteDecimals } from "../components/Amount";
import { poolHref } from "../router";

export function Banner({ health }: { health: Health | null }) {
  const mode = health?.keeper;
  const live = mode?.trading === true && mode.mode === "live";
  const text = !mode
    ? "NO KEEPER has run on this mirror"
    : !mode.trading
      ? "TRADING OFF: the keeper only discovers and scores"
      : live
        ? "LIVE: the keeper trades with real money"
        : "DRY-RUN: paper trades only";
  return (
    <div
      role="status"
      data-testid="mode-banner"
      style={{ padding: 12, fontWeight: "bold", fontSize: 18, color: "white", background: live ? "#c62828" : "#1565c0" }}
    >
      {text}
    </div>
  );
}

export function Overview({ health }: { health: Health | null }) {
  const [overview, setOverview] = useState<OverviewData | null>(null);
  const [trapped, setTrapped] = useState<Position[]>([]);
  const [perf, setPerf] = useState<Performance[]>([]);
  useEffect(() => {
    const load = () => {
      get<OverviewData>("/overview").then(setOverview).catch(() => undefined);
      get<Page<Position>>("/positions?status=trapped&limit=200").then((p) => setTrapped(p.items)).catch(() => undefined);
      get<Performance[]>("/performance").then(setPerf).catch(() => undefined);
    };
    load();
    const t = setInterval(load, 5_000);
    return () => clearInterval(t);
  }, []);
  const failing = health?.tasks.filter((t) => t.state !== "running") ?? [];
  const breakers = overview?.chains.filter((c) => c.breaker_open) ?? [];
  return (
    <section>
      {trapped.length > 0 && (
        <div role="alert" data-testid="trapped-alert" style={{ padding: 12, background: "#fdecea", border: "2px solid #c62828" }}>
          <strong>{trapped.length} trapped position(s):</strong>
          <ul>
            {trapped.map((p) => (
              <li key={p.id}>
                #{p.id} on {p.chain}: {p.trapped_reason ?? "cannot be sold"}{" "}
                <a href={poolHref(p.chain, p.pool_address)}>pool</a>
              </li>
            ))}
          </ul>
        </div>
      )}
      {(overview?.held_anomalies.length ?? 0) > 0 && (
        <div role="alert" data-testid="anomaly-alert" style={{ padding: 12, background: "#fff4e5", border: "2px solid #ef6c00" }}>
          <strong>Anomalies on held positions (last 24 h):</strong>
          <ul>
            {overview?.held_anomalies.map((a) => (
              <li key={a.id}>
                {a.kind.replace(/_/g, " ")} ({a.severity}) on {a.symbol ?? a.token}, {a.chain}: {a.explanation}{" "}
                <a href={poolHref(a.chain, a.pool_address)}>pool</a>
              </li>
            ))}
          </ul>
        </div>
      )}
      {(failing.length > 0 || breakers.length > 0 || overview?.paused) && (
        <div role="alert" style={{ padding: 12, background: "#fff4e5" }}>
          {overview?.paused && <div>Trading is PAUSED by an operator.</div>}
          {breakers.map((b) => (
            <div key={`${b.chain}-${b.mode}`}>
              Breaker open on {b.chain} ({b.mode}) after {b.consecutive_failures} failures, until{" "}
              {new Date(b.breaker_open_until_ms).toLocaleTimeString()}
            </div>
          ))}
          {failing.map((t) => (
            <div key={t.name}>
              Task {t.name} is {t.state}
              {t.last_error ? `: ${t.last_error}` : ""}
            </div>
          ))}
        </div>
      )}
      <h2>Today's PnL</h2>
      {perf.length === 0 ? (
        <p>No closed positions yet.</p>
      ) : (
        <table>
          <thead>
            <tr><th>chain</th><th>mode</th><th>today</th><th>all time</th><th>closed</th></tr>
          </thead>
          <tbody>
            {perf.map((p) => (
              <tr key={`${p.chain}-${p.mode}-${p.quote_token}`}>
                <td>{p.chain}</td><td>{p.mode}</td>
                <td><Pnl units={p.today_pnl} decimals={quoteDecimals(p.chain)} /></td>
                <td><Pnl units={p.net_pnl} decimals={quoteDecimals(p.chain)} /></td>
                <td>{p.closed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Positions and budgets</h2>
      <table>
        <thead>
          <tr><th>chain</th><th>mode</th><th>open</th><th>trapped</th><th>spent today</th><th>daily budget</th><th>breaker</th></tr>
        </thead>
        <tbody>
          {overview?.chains.map((c) => (
            <tr key={`${c.chain}-${c.mode}`}>
              <td>{c.chain}</td><td>{c.mode}</td>
              <td>{c.open_positions}{c.max_open_positions !== null ? ` / ${c.max_open_positions}` : ""}</td>
              <td>{c.trapped_positions}</td>
              <td><Amount units={c.spent_today} decimals={quoteDecimals(c.chain)} /></td>
              <td><Amount units={c.daily_budget} decimals={quoteDecimals(c.chain)} /></td>
              <td>{c.breaker_open ? "OPEN" : c.consecutive_failures > 0 ? `${c.consecutive_failures} failures` : "closed"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Keeper health: {health?.status ?? "unknown"}</h2>
      <table>
        <thead>
          <tr><th>source</th><th>chain</th><th>slot</th><th>head</th><th>lag</th></tr>
        </thead>
        <tbody>
          {health?.sources.map((s) => (
            <tr key={`${s.source}-${s.chain}`}>
              <td>{s.source}</td><td>{s.chain}</td><td>{s.slot}</td><td>{s.head_slot ?? "-"}</td><td>{s.lag ?? "-"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <details>
        <summary>{health?.tasks.length ?? 0} keeper tasks</summary>
        <ul>
          {health?.tasks.map((t) => (
            <li key={t.name}>{t.name}: {t.state} ({t.restarts} restarts)</li>
          ))}
        </ul>
      </details>
    </section>
  );
}
