// Operator controls: pause and resume (each with a confirmation step), the limits editor (the
// API's field errors shown next to their fields), and the audit log. Viewers see the controls'
// state, never the controls.

import { useEffect, useState, type FormEvent } from "react";
import { ApiError, get, post, put, type AuditEntry, type Controls, type Page, type Session } from "../api";

type Draft = Record<string, string>;

const FIELDS: { name: string; label: string }[] = [
  { name: "max_risk_score", label: "max risk score (0-100)" },
  { name: "max_open_positions", label: "max open positions (1-1000)" },
  { name: "max_slippage_bps", label: "max slippage (bps, 1-5000)" },
];

/** The limits body from the form: numbers for the top fields, decimal strings for budgets; a
 * field left empty is left out (the keeper's configuration applies). */
export function limitsBody(draft: Draft, chain: string): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const v = draft[f.name]?.trim();
    // Sent as typed when not a plain integer, so the API names the field that is wrong.
    if (v) body[f.name] = /^\d+$/.test(v) ? Number(v) : v;
  }
  const budget: Record<string, string> = {};
  for (const k of ["max_buy", "daily_budget"]) {
    const v = draft[k]?.trim();
    if (v) budget[k] = v;
  }
  if (chain.trim() && Object.keys(budget).length) body.budgets = { [chain.trim()]: budget };
  return body;
}

function FieldError({ errors, name }: { errors: Record<string, string>; name: string }) {
  const e = Object.entries(errors).find(([f]) => f === name || f.endsWith(`.${name}`));
  return e ? <span role="alert" data-testid={`error-${name}`} style={{ color: "#c62828", marginLeft: 8 }}>{e[1]}</span> : null;
}

export function Operator({ session }: { session: Session | null }) {
  const [controls, setControls] = useState<Controls | null>(null);
  const [audit, setAudit] = useState<AuditEntry[]>([]);
  const [confirm, setConfirm] = useState<"pause" | "resume" | null>(null);
  const [draft, setDraft] = useState<Draft>({});
  const [chain, setChain] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const operator = session?.role === "operator";
  const reload = () => {
    get<Controls>("/keeper/controls").then(setControls).catch(() => setControls(null));
    if (operator) get<Page<AuditEntry>>("/audit?limit=50").then((p) => setAudit(p.items)).catch(() => undefined);
  };
  useEffect(reload, [session]);
  if (!session) return <p>Sign in to see the keeper's controls.</p>;

  const act = (what: "pause" | "resume") =>
    post<Controls>(`/keeper/${what}`)
      .then((c) => {
        setControls(c);
        setNotice(what === "pause" ? "Trading paused" : "Trading resumed");
        reload();
      })
      .catch((e: Error) => setNotice(e.message))
      .finally(() => setConfirm(null));

  const save = (e: FormEvent) => {
    e.preventDefault();
    setErrors({});
    put<Controls>("/keeper/limits", limitsBody(draft, chain))
      .then((c) => {
        setControls(c);
        setNotice("Limits saved");
        reload();
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.field) setErrors({ [err.field]: err.message });
        else setNotice(err instanceof Error ? err.message : String(err));
      });
  };

  return (
    <section>
      <h2>Controls</h2>
      <p data-testid="paused-state">
        Trading is {controls?.paused ? "PAUSED" : "running"}
        {controls?.updated_by ? ` (last changed by ${controls.updated_by})` : ""}
      </p>
      <pre data-testid="limits">{JSON.stringify(controls?.limits ?? {}, null, 2)}</pre>
      {notice && <p role="status" data-testid="notice">{notice}</p>}
      {!operator ? (
        <p>Viewers cannot change the controls.</p>
      ) : (
        <div data-testid="operator-controls">
          {confirm === null ? (
            controls?.paused ? (
              <button onClick={() => setConfirm("resume")}>Resume trading</button>
            ) : (
              <button onClick={() => setConfirm("pause")}>Pause trading</button>
            )
          ) : (
            <div role="dialog" aria-label="confirm">
              {confirm === "pause" ? "Stop all buying now?" : "Let the keeper buy again?"}{" "}
              <button onClick={() => act(confirm)}>Confirm {confirm}</button>{" "}
              <button onClick={() => setConfirm(null)}>Cancel</button>
            </div>
          )}
          <h3>Limits</h3>
          <form onSubmit={save} aria-label="limits">
            {FIELDS.map((f) => (
              <div key={f.name}>
                <label>
                  {f.label}{" "}
                  <input name={f.name} value={draft[f.name] ?? ""} onChange={(e) => setDraft({ ...draft, [f.name]: e.target.value })} />
                </label>
                <FieldError errors={errors} name={f.name} />
              </div>
            ))}
            <div>
              <label>
                budget chain <input name="chain" value={chain} onChange={(e) => setChain(e.target.value)} />
              </label>
              <FieldError errors={errors} name="budgets" />
            </div>
            {["max_buy", "daily_budget"].map((k) => (
              <div key={k}>
                <label>
                  {k} (base units){" "}
                  <input name={k} value={draft[k] ?? ""} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })} />
                </label>
                <FieldError errors={errors} name={k} />
              </div>
            ))}
            <button type="submit">Save limits</button>
          </form>
          <h3>Audit log</h3>
          <table data-testid="audit">
            <thead>
              <tr><th>when</th><th>who</th><th>action</th><th>detail</th></tr>
            </thead>
            <tbody>
              {audit.map((a) => (
                <tr key={a.id}>
                  <td>{new Date(a.at_ms).toLocaleString()}</td><td>{a.username ?? "-"}</td><td>{a.action}</td><td>{a.detail ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
