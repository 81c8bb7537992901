// The API's shapes this dashboard reads (see GET /api/v1/openapi.json), and one fetch helper.
// Amounts are exact integer strings; chain text (token symbols, findings) is data, rendered
// as text only.

export interface SourceLag {
  source: string;
  chain: string;
  slot: number;
  head_slot: number | null;
  lag: number | null;
  updated_at_ms: number;
}

export interface Task {
  name: string;
  state: string;
  restarts: number;
  last_error: string | null;
}

export interface KeeperMode {
  trading: boolean;
  mode: "live" | "dry_run";
  started_at_ms: number;
}

export interface Health {
  status: string;
  database: string;
  sources: SourceLag[];
  tasks: Task[];
  keeper: KeeperMode | null;
}

export interface RiskSummary {
  score: number;
  verdict: string;
  tradeable: boolean;
  summary: string;
}

export interface Pool {
  id: number;
  chain: string;
  venue: string;
  address: string;
  token_a: string;
  token_b: string;
  base_token: string | null;
  reserve_a: string;
  reserve_b: string;
  first_seen_at_ms: number;
  risk: RiskSummary | null;
}

export interface Position {
  id: number;
  chain: string;
  mode: string;
  status: string;
  token: string;
  size: string;
  cost: string;
  proceeds: string;
  last_value: string | null;
  exit_reason: string | null;
  realized_pnl: string | null;
  unrealized_pnl: string | null;
  pnl_usd: string | null;
  trapped_reason: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export async function get<T>(path: string): Promise<T> {
  const r = await fetch(`/api/v1${path}`, { headers: { accept: "application/json" } });
  if (!r.ok && r.status !== 503) throw new Error(`${path}: ${r.status}`);
  return (await r.json()) as T;
}
