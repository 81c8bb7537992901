// The shell: the live / dry-run banner on every page, navigation, sign-in, and the page the
// URL's hash names.

import { useEffect, useState, type FormEvent } from "react";
import { currentSession, get, login, logout, type Health, type Session } from "./api";
import { BacktestPage, Backtests } from "./pages/Backtests";
import { Discoveries } from "./pages/Discoveries";
import { Operator } from "./pages/Operator";
import { Banner, Overview } from "./pages/Overview";
import { Performance } from "./pages/Performance";
import { PoolPage } from "./pages/PoolPage";
import { Pools } from "./pages/Pools";
import { Positions } from "./pages/Positions";
import { useRoute } from "./router";

const PAGES = ["overview", "discoveries", "pools", "positions", "performance", "backtests", "operator"] as const;

function SignIn({ session, onChange }: { session: Session | null; onChange: (s: Session | null) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  if (session)
    return (
      <span data-testid="signed-in">
        {session.username} ({session.role}){" "}
        <button onClick={() => logout().finally(() => onChange(null))}>Sign out</button>
      </span>
    );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    login(username.trim(), password)
      .then((s) => {
        setPassword("");
        onChange(s);
      })
      .catch((err: Error) => setError(err.message));
  };
  return (
    <form onSubmit={submit} aria-label="sign in" style={{ display: "inline-flex", gap: 4 }}>
      <input aria-label="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />
      <input aria-label="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      <button type="submit">Sign in</button>
      {error && <span role="alert" style={{ color: "#c62828" }}>{error}</span>}
    </form>
  );
}

export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | null>(currentSession);
  const [health, setHealth] = useState<Health | null>(null);
  useEffect(() => {
    let first = true;
    const load = () =>
      get<Health>("/health")
        .then((h) => {
          setHealth(h);
          if (first) {
            first = false;
            // The first paint with data: the banner can say live or dry-run.
            performance.mark("dashboard-ready");
          }
        })
        .catch(() => setHealth(null));
    load();
    const t = setInterval(load, 5_000);
    return () => clearInterval(t);
  }, []);
  return (
    <main style={{ fontFamily: "system-ui, sans-serif", margin: 16 }}>
      <Banner health={health} />
      <header style={{ display: "flex", gap: 8, alignItems: "center", flexWrap: "wrap", margin: "8px 0" }}>
        <nav style={{ display: "flex", gap: 8 }}>
          {PAGES.map((p) => (
            <a key={p} href={`#/${p}`} aria-current={route.page === p ? "page" : undefined} style={{ fontWeight: route.page === p ? 700 : 400 }}>
              {p}
            </a>
          ))}
        </nav>
        <span style={{ flex: 1 }} />
        <SignIn session={session} onChange={setSession} />
      </header>
      {route.page === "overview" && <Overview health={health} />}
      {route.page === "discoveries" && <Discoveries />}
      {route.page === "pools" && <Pools />}
      {route.page === "pool" && <PoolPage chain={route.chain} address={route.address} health={health} />}
      {route.page === "positions" && <Positions session={session} />}
      {route.page === "performance" && <Performance />}
      {route.page === "backtests" && <Backtests />}
      {route.page === "backtest" && <BacktestPage id={route.id} />}
      {route.page === "operator" && <Operator session={session} />}
    </main>
  );
}
