// One pool: its price from the mirrored reserves, with our buys and sells as markers and the
// open position's take-profit, stop-loss and trailing levels as lines; its reserves,
// liquidity, market data and the token's risk report.

import { lazy, Suspense, useEffect, useMemo, useState } from "react";
import { get, type Health, type Page, type PoolDetail, type Position, type RiskReport, type TokenDetail, type Trade } from "../api";
import { Amount, quoteDecimals } from "../components/Amount";
import type { ChartLine, ChartMarker, ChartPoint } from "../components/LineChart";
import { formatPrice, plotValue, priceOf, scaleBps, shareOf, verdictColour } from "../format";
import { Label } from "./Discoveries";

const LineChart = lazy(() => import("../components/LineChart"));

/** The largest holders outside pools, as the latest risk report measured them. */
function Holders({ report, decimals }: { report: RiskReport | null | undefined; decimals: number }) {
  const finding = report?.findings.find((f) => f.check === "holder_concentration");
  const measured = (finding?.measured ?? {}) as { holders?: [string, string][]; total_supply?: string };
  const holders = Array.isArray(measured.holders) ? measured.holders : [];
  if (holders.length === 0) return <p>No holder measurement in the latest report.</p>;
  return (
    <table data-testid="holders">
      <thead>
        <tr><th>holder</th><th>balance</th><th>share of supply</th></tr>
      </thead>
      <tbody>
        {holders.map(([who, balance]) => (
          <tr key={who}>
            <td><code>{who}</code></td>
            <td><Amount units={balance} decimals={decimals} /></td>
            <td>{shareOf(balance, measured.total_supply ?? "0")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Which side of the pool is the token being traded (the other is the quote). */
function sides(p: PoolDetail) {
  const baseIsB = p.base_token !== null && p.base_token === p.token_b;
  return {
    base: (r: { reserve_a: string; reserve_b: string }) => (baseIsB ? r.reserve_b : r.reserve_a),
    quote: (r: { reserve_a: string; reserve_b: string }) => (baseIsB ? r.reserve_a : r.reserve_b),
  };
}

export function PoolPage({ chain, address, health }: { chain: string; address: string; health: Health | null }) {
  const [pool, setPool] = useState<PoolDetail | null>(null);
  const [token, setToken] = useState<TokenDetail | null>(null);
  const [positions, setPositions] = useState<Position[]>([]);
  const [trades, setTrades] = useState<Trade[]>([]);
  const [history, setHistory] = useState<RiskReport[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const path = `${encodeURIComponent(chain)}/${encodeURIComponent(address)}`;
    get<PoolDetail>(`/pools/${path}`)
      .then((p) => {
        setPool(p);
        const base = p.base_token ?? p.token_a;
        const tokenPath = `/tokens/${encodeURIComponent(chain)}/${encodeURIComponent(base)}`;
        get<TokenDetail>(tokenPath).then(setToken).catch(() => undefined);
        get<RiskReport[]>(`${tokenPath}/reports`).then(setHistory).catch(() => undefined);
      })
      .catch((e: Error) => setError(e.message));
    get<Page<Position>>(`/positions?pool=${encodeURIComponent(address)}&limit=200`).then((p) => setPositions(p.items)).catch(() => undefined);
    get<Page<Trade>>(`/trades?pool=${encodeURIComponent(address)}&limit=200`).then((p) => setTrades(p.items)).catch(() => undefined);
  }, [chain, address]);

  const bd = pool?.base_decimals ?? 0;
  const qd = quoteDecimals(chain, pool?.quote_decimals);
  const chart = useMemo(() => {
    if (!pool) return null;
    const s = sides(pool);
    const points: ChartPoint[] = [];
    for (const r of pool.reserve_history) {
      const price = priceOf(s.base(r), s.quote(r), bd, qd);
      if (price !== null) points.push({ x: r.block_time ?? Math.floor(r.ingested_at_ms / 1000), y: plotValue(price) });
    }
    const markers: ChartMarker[] = trades
      .filter((t) => t.status === "confirmed")
      .map((t) => ({ x: Math.floor((t.settled_at_ms ?? t.created_at_ms) / 1000), side: t.side, text: `${t.side} #${t.position_id}` }));
    const lines: ChartLine[] = [];
    const settings = health?.keeper?.settings;
    const held = positions.find((p) => p.status === "open" || p.status === "trapped");
    const entry = held ? priceOf(held.size, held.cost, bd, qd) : null;
    if (held && entry && settings) {
      const level = (price: string, title: string, colour: string) =>
        lines.push({ y: plotValue(price), title, exact: formatPrice(price, 4), colour });
      if (settings.take_profit_bps > 0) level(scaleBps(entry, settings.take_profit_bps), "take-profit", "#2e7d32");
      if (settings.stop_loss_bps > 0) level(scaleBps(entry, -settings.stop_loss_bps), "stop-loss", "#c62828");
      const peak = held.peak_value ? priceOf(held.size, held.peak_value, bd, qd) : null;
      if (settings.trailing_stop_bps > 0 && peak) level(scaleBps(peak, -settings.trailing_stop_bps), "trailing", "#ef6c00");
      level(entry, "entry", "#555");
    }
    return { points, markers, lines, held, entry };
  }, [pool, trades, positions, health, bd, qd]);

  if (error) return <p role="alert">{error}</p>;
  if (!pool || !chart) return <p>Loading…</p>;
  const s = sides(pool);
  const now = priceOf(s.base(pool), s.quote(pool), bd, qd);
  return (
    <section>
      <h2>
        <Label pool={pool} /> on {pool.chain} ({pool.venue})
      </h2>
      <p>
        Pool <code>{pool.address}</code>, token <code>{pool.base_token ?? pool.token_a}</code>
        {pool.base_name !== null && <> named <span data-testid="token-name">{pool.base_name}</span></>}
      </p>
      <p data-testid="price">Price now: {now ? formatPrice(now) : "-"} (quote per token)</p>
      <Suspense fallback={<p>Loading the chart…</p>}>
        <LineChart points={chart.points} markers={chart.markers} lines={chart.lines} label={`price of pool ${pool.address}`} />
      </Suspense>
      {chart.held && chart.entry && (
        <p>
          Position #{chart.held.id} entry {formatPrice(chart.entry)}; lines:{" "}
          {chart.lines.map((l) => l.title).join(", ")}
        </p>
      )}
      <h3>Reserves and liquidity</h3>
      <table>
        <tbody>
          <tr><th>token reserve</th><td><Amount units={s.base(pool)} decimals={bd} /></td></tr>
          <tr><th>quote reserve (liquidity)</th><td><Amount units={s.quote(pool)} decimals={qd} /></td></tr>
          <tr><th>events charted</th><td>{pool.reserve_history.length}</td></tr>
          {pool.market && (
            <>
              <tr><th>price (USD)</th><td>{pool.market.price_usd ?? "-"}</td></tr>
              <tr><th>liquidity (USD)</th><td>{pool.market.liquidity_usd ?? "-"}</td></tr>
              <tr><th>FDV (USD)</th><td>{pool.market.fdv_usd ?? "-"}</td></tr>
            </>
          )}
          <tr><th>total supply</th><td><Amount units={token?.total_supply ?? null} decimals={bd} /></td></tr>
        </tbody>
      </table>
      <h3>Holders</h3>
      <Holders report={token?.risk} decimals={bd} />
      <h3>Risk report{token ? ` (${token.reports} in its history)` : ""}</h3>
      {token?.risk ? (
        <div>
          <p style={{ color: verdictColour(token.risk.verdict) }}>
            score {token.risk.score}, {token.risk.verdict}: {token.risk.summary}
          </p>
          <ul data-testid="findings">
            {token.risk.findings.map((f, i) => (
              <li key={i}>
                <span style={{ color: verdictColour(f.severity), fontWeight: 600 }}>{f.severity}</span> {f.check}: {f.explanation}
              </li>
            ))}
          </ul>
        </div>
      ) : (
        <p>Not scored yet.</p>
      )}
      {history.length > 1 && (
        <table data-testid="report-history">
          <thead>
            <tr><th>when</th><th>slot</th><th>score</th><th>verdict</th><th>summary</th></tr>
          </thead>
          <tbody>
            {history.map((r) => (
              <tr key={r.id}>
                <td>{new Date(r.created_at_ms).toLocaleString()}</td><td>{r.measured_slot ?? "-"}</td><td>{r.score}</td>
                <td style={{ color: verdictColour(r.verdict) }}>{r.verdict}</td><td>{r.summary}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Anomalies</h3>
      {pool.anomalies.length === 0 ? (
        <p>None flagged.</p>
      ) : (
        <table data-testid="anomalies">
          <thead>
            <tr><th>when</th><th>block / slot</th><th>kind</th><th>severity</th><th>what</th></tr>
          </thead>
          <tbody>
            {pool.anomalies.map((a) => (
              <tr key={a.id}>
                <td>{new Date(a.created_at_ms).toLocaleString()}</td><td>{a.slot ?? "-"}</td>
                <td>{a.kind.replace(/_/g, " ")}</td>
                <td style={{ color: verdictColour(a.severity) }}>{a.severity}</td><td>{a.finding.explanation}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Our trades here</h3>
      <table data-testid="pool-trades">
        <thead>
          <tr><th>#</th><th>position</th><th>side</th><th>reason</th><th>status</th><th>in</th><th>out</th></tr>
        </thead>
        <tbody>
          {trades.map((t) => (
            <tr key={t.id}>
              <td>{t.id}</td><td>{t.position_id}</td><td>{t.side}</td><td>{t.reason}</td><td>{t.status}</td>
              <td><Amount units={t.amount_in} decimals={t.side === "buy" ? qd : bd} /></td>
              <td><Amount units={t.amount_out} decimals={t.side === "buy" ? bd : qd} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
