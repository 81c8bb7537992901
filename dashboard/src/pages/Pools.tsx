// Every pool, newest or most liquid first, read page by page from the server and drawn as a
// virtualised table: 10,000 pools scroll like ten.

import { useState } from "react";
import type { Pool } from "../api";
import { Amount, quoteDecimals } from "../components/Amount";
import { usePages } from "../components/usePages";
import { VirtualTable, type Column } from "../components/VirtualTable";
import { shortAddress, verdictColour } from "../format";
import { poolHref } from "../router";
import { Label } from "./Discoveries";

export function Pools() {
  const [chain, setChain] = useState("");
  const [sort, setSort] = useState("age");
  const { items, error, more } = usePages<Pool>("/pools", { chain, sort }, 200);
  const quote = (p: Pool) => (p.base_token !== null && p.base_token === p.token_b ? p.reserve_a : p.reserve_b);
  const columns: Column<Pool>[] = [
    { title: "chain", width: 80, cell: (p) => p.chain },
    { title: "venue", width: 120, cell: (p) => p.venue },
    { title: "token", width: 120, cell: (p) => <Label pool={p} /> },
    { title: "pool", width: 130, cell: (p) => <a href={poolHref(p.chain, p.address)}>{shortAddress(p.address)}</a> },
    { title: "liquidity", width: 140, cell: (p) => <Amount units={quote(p)} decimals={quoteDecimals(p.chain, p.quote_decimals)} /> },
    {
      title: "risk",
      width: 130,
      cell: (p) => (p.risk ? <span style={{ color: verdictColour(p.risk.verdict) }}>{p.risk.score} {p.risk.verdict}</span> : "-"),
    },
    { title: "seen", width: 170, cell: (p) => new Date(p.first_seen_at_ms).toLocaleString() },
  ];
  return (
    <section>
      <label>
        Chain <input aria-label="pool chain filter" value={chain} onChange={(e) => setChain(e.target.value.trim())} />
      </label>{" "}
      <label>
        Sort{" "}
        <select aria-label="sort" value={sort} onChange={(e) => setSort(e.target.value)}>
          <option value="age">newest</option>
          <option value="liquidity">liquidity</option>
        </select>
      </label>{" "}
      <span data-testid="pools-loaded">{items.length} loaded</span>
      {error && <p role="alert">{error}</p>}
      <VirtualTable label="pools" rows={items} columns={columns} rowKey={(p) => p.id} onNearEnd={more} />
    </section>
  );
}
