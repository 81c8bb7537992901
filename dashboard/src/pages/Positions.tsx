// Positions and trades: realized and unrealized PnL in the quote token and in USD, the exit
// reason, each snipe's latency funnel (seen, decided, sent, included, and the block offset from
// the launch), and, for operators, a force-exit with a confirmation step.

import { useState } from "react";
import { ApiError, post, type Position, type Session, type Trade } from "../api";
import { Amount, Pnl, quoteDecimals } from "../components/Amount";
import { usePages } from "../components/usePages";
import { VirtualTable, type Column } from "../components/VirtualTable";
import { elapsed, shortAddress } from "../format";
import { poolHref } from "../router";

/** Blocks (slots) from the launch to the buy: 0 is the launch's own block. */
export function blockOffset(p: Position): string {
  return p.launch_block !== null && p.buy_block !== null ? String(p.buy_block - p.launch_block) : "-";
}

function ForceExit({ position, onDone }: { position: Position; onDone: (text: string) => void }) {
  const [confirming, setConfirming] = useState(false);
  if (position.status !== "open" && position.status !== "trapped") return null;
  if (!confirming) return <button onClick={() => setConfirming(true)}>Force exit</button>;
  return (
    <span>
      <span title={`Sell all of #${position.id} now`}>Sell all?</span>{" "}
      <button
        onClick={() =>
          post<{ new_request: boolean }>(`/positions/${position.id}/exit`)
            .then((r) => onDone(r.new_request ? `Exit of #${position.id} requested` : `Exit of #${position.id} was already requested`))
            .catch((e: ApiError) => onDone(`Exit of #${position.id} refused: ${e.message}`))
            .finally(() => setConfirming(false))
        }
      >
        Confirm exit
      </button>{" "}
      <button onClick={() => setConfirming(false)}>Cancel</button>
    </span>
  );
}

export function Positions({ session }: { session: Session | null }) {
  const [status, setStatus] = useState("");
  const [notice, setNotice] = useState<string | null>(null);
  const { items, error, more, refresh } = usePages<Position>("/positions", { status }, 200);
  const operator = session?.role === "operator";
  const d = (p: Position) => quoteDecimals(p.chain);
  const columns: Column<Position>[] = [
    { title: "#", width: 50, cell: (p) => p.id },
    { title: "chain", width: 80, cell: (p) => p.chain },
    { title: "mode", width: 75, cell: (p) => p.mode },
    { title: "status", width: 70, cell: (p) => p.status },
    { title: "token", width: 110, cell: (p) => <a href={poolHref(p.chain, p.pool_address)}>{shortAddress(p.token)}</a> },
    { title: "cost", width: 90, cell: (p) => <Amount units={p.cost} decimals={d(p)} /> },
    { title: "realized", width: 90, cell: (p) => <Pnl units={p.realized_pnl} decimals={d(p)} /> },
    { title: "unrealized", width: 90, cell: (p) => <Pnl units={p.unrealized_pnl} decimals={d(p)} /> },
    { title: "USD", width: 60, cell: (p) => <span>{p.pnl_usd ?? "-"}</span> },
    { title: "exit", width: 95, cell: (p) => p.exit_reason ?? (p.status === "trapped" ? "trapped" : "") },
    { title: "seen→decided", width: 110, cell: (p) => elapsed(p.seen_at_ms, p.decided_at_ms) },
    { title: "→sent", width: 70, cell: (p) => elapsed(p.decided_at_ms, p.sent_at_ms) },
    { title: "→included", width: 85, cell: (p) => elapsed(p.sent_at_ms, p.included_at_ms) },
    { title: "block +", width: 65, cell: (p) => blockOffset(p) },
  ];
  if (operator)
    columns.push({
      title: "operator",
      width: 230,
      cell: (p) => (
        <ForceExit
          position={p}
          onDone={(t) => {
            setNotice(t);
            refresh();
          }}
        />
      ),
    });
  return (
    <section>
      <label>
        Status{" "}
        <select aria-label="status filter" value={status} onChange={(e) => setStatus(e.target.value)}>
          {["", "open", "trapped", "closing", "closed", "failed"].map((s) => (
            <option key={s} value={s}>{s || "any"}</option>
          ))}
        </select>
      </label>
      {notice && <p role="status" data-testid="notice">{notice}</p>}
      {error && <p role="alert">{error}</p>}
      <VirtualTable label="positions" rows={items} columns={columns} rowKey={(p) => p.id} onNearEnd={more} />
      <p>"block +" is the buy's block (slot) counted from the launch's: 0 is the launch's own block.</p>
      <Trades />
    </section>
  );
}

function Trades() {
  const { items, more } = usePages<Trade>("/trades", {}, 200);
  const d = (t: Trade) => quoteDecimals(t.chain);
  const columns: Column<Trade>[] = [
    { title: "#", width: 50, cell: (t) => t.id },
    { title: "position", width: 80, cell: (t) => t.position_id },
    { title: "chain", width: 90, cell: (t) => t.chain },
    { title: "side", width: 60, cell: (t) => t.side },
    { title: "reason", width: 110, cell: (t) => t.reason },
    { title: "status", width: 100, cell: (t) => t.status },
    // Buys spend the quote token; sells spend the token, whose decimals this list does not know.
    { title: "quote in / out", width: 140, cell: (t) => <Amount units={t.side === "buy" ? t.amount_in : t.amount_out} decimals={d(t)} /> },
    { title: "block", width: 90, cell: (t) => t.block ?? "-" },
    { title: "at", width: 210, cell: (t) => new Date(t.settled_at_ms ?? t.created_at_ms).toLocaleString() },
  ];
  return (
    <>
      <h3>Trades</h3>
      <VirtualTable label="trades" rows={items} columns={columns} rowKey={(t) => t.id} onNearEnd={more} height={300} />
    </>
  );
}
