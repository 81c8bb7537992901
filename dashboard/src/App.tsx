import { useEffect, useState } from "react";
import { get, type Health, type Page, type Pool, type Position } from "./api";
import { formatUnits, pnlSign, verdictColour } from "./format";
import { follow } from "./stream";

type Tab = "overview" | "discoveries" | "positions";

const colours = { profit: "#2e7d32", loss: "#c62828", flat: "inherit" };

function Pnl({ value }: { value: string | null }) {
  if (value === null) return <span>-</span>;
  return <span style={{ color: colours[pnlSign(value)] }}>{formatUnits(value, 0)}</span>;
}

function Overview() {
  const [health, setHealth] = useState<Health | null>(null);
  const [positions, setPositions] = useState<Position[]>([]);
  useEffect(() => {
    const load = () => {
      get<Health>("/health").then(setHealth).catch(() => setHealth(null));
      get<Page<Position>>("/positions?limit=100").then((p) => setPositions(p.items)).catch(() => undefined);
    };
    load();
    const t = setInterval(load, 5_000);
    return () => clearInterval(t);
  }, []);
  const mode = health?.keeper;
  const live = mode?.trading === true && mode.mode === "live";
  const banner = !mode
    ? "NO KEEPER has run on this mirror"
    : !mode.trading
      ? "TRADING OFF: the keeper only discovers and scores"
      : live
        ? "LIVE: the keeper trades with real money"
        : "DRY-RUN: paper trades only";
  const trapped = positions.filter((p) => p.status === "trapped");
  const open = positions.filter((p) => p.status === "open" || p.status === "trapped");
  return (
    <section>
      <div role="status" style={{ padding: 12, fontWeight: "bold", color: "white", background: live ? "#c62828" : "#1565c0" }}>
        {banner}
      </div>
      {trapped.length > 0 && (
        <div role="alert" style={{ padding: 12, background: "#fdecea" }}>
          {trapped.length} trapped position(s):{" "}
          {trapped.map((p) => `#${p.id} ${p.trapped_reason ?? ""}`).join("; ")}
        </div>
      )}
      <h2>Keeper health: {health?.status ?? "unknown"}</h2>
      <table>
        <thead>
          <tr><th>source</th><th>chain</th><th>slot</th><th>lag</th></tr>
        </thead>
        <tbody>
          {health?.sources.map((s) => (
            <tr key={`${s.source}-${s.chain}`}><td>{s.source}</td><td>{s.chain}</td><td>{s.slot}</td><td>{s.lag ?? "-"}</td></tr>
          ))}
        </tbody>
      </table>
      <h2>Open positions: {open.length}</h2>
    </section>
  );
}

function Discoveries() {
  const [pools, setPools] = useState<Pool[]>([]);
  const [up, setUp] = useState(false);
  const [chain, setChain] = useState("");
  useEffect(() => {
    const load = () =>
      get<Page<Pool>>(`/discoveries?limit=100${chain ? `&chain=${encodeURIComponent(chain)}` : ""}`)
        .then((p) => setPools(p.items))
        .catch(() => undefined);
    load();
    let pending: ReturnType<typeof setTimeout> | undefined;
    const stop = follow(
      ["discovery"],
      () => {
        // Many discoveries a second: one reload per quarter second at most.
        if (!pending) pending = setTimeout(() => { pending = undefined; load(); }, 250);
      },
      setUp,
    );
    return () => { stop(); clearTimeout(pending); };
  }, [chain]);
  return (
    <section>
      <p>Live feed: {up ? "connected" : "reconnecting…"}</p>
      <label>Chain <input value={chain} onChange={(e) => setChain(e.target.value.trim())} /></label>
      <ul>
        {pools.map((p) => (
          <li key={p.id}>
            <strong>{p.chain}</strong> {p.venue} {p.base_token ?? p.token_a}{" "}
            {p.risk ? (
              <span style={{ color: verdictColour(p.risk.verdict) }}>
                {p.risk.score} {p.risk.verdict}: {p.risk.summary}
              </span>
            ) : (
              <em>not scored yet</em>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Positions() {
  const [positions, setPositions] = useState<Position[]>([]);
  useEffect(() => {
    get<Page<Position>>("/positions?limit=200").then((p) => setPositions(p.items)).catch(() => undefined);
  }, []);
  return (
    <table>
      <thead>
        <tr><th>#</th><th>chain</th><th>mode</th><th>status</th><th>token</th><th>size</th><th>cost</th><th>realized</th><th>unrealized</th><th>exit</th></tr>
      </thead>
      <tbody>
        {positions.map((p) => (
          <tr key={p.id}>
            <td>{p.id}</td><td>{p.chain}</td><td>{p.mode}</td><td>{p.status}</td><td>{p.token}</td>
            <td>{formatUnits(p.size, 0)}</td><td>{formatUnits(p.cost, 0)}</td>
            <td><Pnl value={p.realized_pnl} /></td><td><Pnl value={p.unrealized_pnl} /></td><td>{p.exit_reason ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function App() {
  const [tab, setTab] = useState<Tab>("overview");
  return (
    <main style={{ fontFamily: "system-ui, sans-serif", margin: 16 }}>
      <nav style={{ display: "flex", gap: 8 }}>
        {(["overview", "discoveries", "positions"] as Tab[]).map((t) => (
          <button key={t} onClick={() => setTab(t)} aria-pressed={tab === t}>{t}</button>
        ))}
      </nav>
      {tab === "overview" && <Overview />}
      {tab === "discoveries" && <Discoveries />}
      {tab === "positions" && <Positions />}
    </main>
  );
}
