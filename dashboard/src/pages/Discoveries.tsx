// The live feed of new pools, each with its score, verdict and (opened) every finding in plain
// words. New discoveries arrive over the websocket; at 50 a second the list is read again at
// most four times a second, so the page stays responsive.

import { useEffect, useRef, useState } from "react";
import { get, type Pool, type TokenDetail } from "../api";
import { usePages } from "../components/usePages";
import { shortAddress, verdictColour } from "../format";
import { poolHref } from "../router";
import { follow } from "../stream";

const VERDICTS = ["", "low", "medium", "high", "critical", "unscored"];

function Findings({ pool }: { pool: Pool }) {
  const [token, setToken] = useState<TokenDetail | null | undefined>(undefined);
  useEffect(() => {
    get<TokenDetail>(`/tokens/${encodeURIComponent(pool.chain)}/${encodeURIComponent(pool.base_token ?? pool.token_a)}`)
      .then(setToken)
      .catch(() => setToken(null));
  }, [pool]);
  if (token === undefined) return <p>Loading the risk report…</p>;
  const findings = token?.risk?.findings ?? [];
  if (findings.length === 0) return <p>No findings recorded.</p>;
  return (
    <ul data-testid="findings">
      {findings.map((f, i) => (
        <li key={i}>
          <span style={{ color: verdictColour(f.severity), fontWeight: 600 }}>{f.severity}</span> {f.check}: {f.explanation}
        </li>
      ))}
    </ul>
  );
}

export function Label({ pool }: { pool: Pool }) {
  // Chain text: rendered as a text node, never as markup.
  const symbol = pool.base_symbol ?? shortAddress(pool.base_token ?? pool.token_a);
  return (
    <span data-testid="token-label" title={pool.base_name ?? undefined}>
      {symbol}
    </span>
  );
}

export function Discoveries() {
  const [chain, setChain] = useState("");
  const [verdict, setVerdict] = useState("");
  const [up, setUp] = useState(false);
  const [arrived, setArrived] = useState(0);
  const [open, setOpen] = useState<number | null>(null);
  const { items, error, more, refresh } = usePages<Pool>("/discoveries", { chain }, 100);
  const refreshRef = useRef(refresh);
  refreshRef.current = refresh;
  useEffect(() => {
    let pending: ReturnType<typeof setTimeout> | undefined;
    let count = 0;
    const stop = follow(
      ["discovery"],
      () => {
        count += 1;
        if (!pending)
          pending = setTimeout(() => {
            pending = undefined;
            setArrived(count);
            refreshRef.current();
          }, 250);
      },
      setUp,
    );
    return () => {
      stop();
      clearTimeout(pending);
    };
  }, []);
  const shown = items.filter((p) =>
    verdict === "" ? true : verdict === "unscored" ? p.risk === null : p.risk?.verdict === verdict,
  );
  return (
    <section>
      <p data-testid="feed-state">
        Live feed: {up ? "connected" : "reconnecting…"} ({arrived} new since opened)
      </p>
      <label>
        Chain <input aria-label="chain filter" value={chain} onChange={(e) => setChain(e.target.value.trim())} />
      </label>{" "}
      <label>
        Verdict{" "}
        <select aria-label="verdict filter" value={verdict} onChange={(e) => setVerdict(e.target.value)}>
          {VERDICTS.map((v) => (
            <option key={v} value={v}>{v || "any"}</option>
          ))}
        </select>
      </label>
      {error && <p role="alert">{error}</p>}
      <ul data-testid="discoveries" style={{ listStyle: "none", padding: 0 }}>
        {shown.map((p) => (
          <li key={p.id} data-testid="discovery" style={{ borderBottom: "1px solid #eee", padding: "6px 0" }}>
            <button onClick={() => setOpen(open === p.id ? null : p.id)} aria-expanded={open === p.id}>
              {open === p.id ? "−" : "+"}
            </button>{" "}
            <strong>{p.chain}</strong> {p.venue} <Label pool={p} />{" "}
            {p.risk ? (
              <span style={{ color: verdictColour(p.risk.verdict) }}>
                score {p.risk.score}, {p.risk.verdict}{p.risk.tradeable ? "" : " (not tradeable)"}: {p.risk.summary}
              </span>
            ) : (
              <em>not scored yet</em>
            )}{" "}
            <a href={poolHref(p.chain, p.address)}>pool</a>
            {open === p.id && <Findings pool={p} />}
          </li>
        ))}
      </ul>
      <button onClick={more}>Load more</button>
    </section>
  );
}
