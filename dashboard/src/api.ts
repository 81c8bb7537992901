// The API's shapes this dashboard reads (see GET /api/v1/openapi.json), the session, and the
// fetch helpers. Amounts are exact integer strings; chain text (token symbols and names,
// findings) is data, rendered as text only.

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

export interface KeeperSettings {
  take_profit_bps: number;
  stop_loss_bps: number;
  trailing_stop_bps: number;
  max_hold_secs: number;
  max_risk_score: number;
  max_open_positions: number;
  budgets: Record<string, { buy_amount: string; max_buy: string; daily_budget: string }>;
}

export interface KeeperMode {
  trading: boolean;
  mode: "live" | "dry_run";
  started_at_ms: number;
  settings: KeeperSettings;
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
  created_slot: number | null;
  first_seen_at_ms: number;
  risk: RiskSummary | null;
  market: { price_usd: string | null; liquidity_usd: string | null; fdv_usd: string | null; url: string | null } | null;
  base_symbol: string | null;
  base_name: string | null;
  base_decimals: number | null;
  quote_decimals: number | null;
}

export interface ReservePoint {
  slot: number;
  block_time: number | null;
  ingested_at_ms: number;
  kind: string;
  reserve_a: string;
  reserve_b: string;
}

export interface Anomaly {
  id: number;
  /** liquidity_drop, sell_tax_jump, concentration_jump or volume_spike. */
  kind: string;
  severity: string;
  slot: number | null;
  created_at_ms: number;
  finding: Finding;
}

export interface PoolDetail extends Pool {
  reserve_history: ReservePoint[];
  /** Newest first. */
  anomalies: Anomaly[];
}

export interface Finding {
  check: string;
  severity: string;
  explanation: string;
  /** The raw measurement (amounts as decimal strings). */
  measured: unknown;
}

export interface RiskReport extends RiskSummary {
  id: number;
  findings: Finding[];
  measured_slot: number | null;
  created_at_ms: number;
}

export interface TokenDetail {
  chain: string;
  address: string;
  symbol: string | null;
  name: string | null;
  decimals: number | null;
  total_supply: string | null;
  risk: RiskReport | null;
  reports: number;
}

export interface Position {
  id: number;
  chain: string;
  mode: string;
  status: string;
  pool_address: string;
  venue: string;
  token: string;
  quote_token: string;
  size: string;
  cost: string;
  proceeds: string;
  last_value: string | null;
  peak_value: string | null;
  exit_reason: string | null;
  opened_at_ms: number;
  closed_at_ms: number | null;
  realized_pnl: string | null;
  unrealized_pnl: string | null;
  pnl_usd: string | null;
  trapped_reason: string | null;
  seen_at_ms: number | null;
  decided_at_ms: number | null;
  sent_at_ms: number | null;
  included_at_ms: number | null;
  launch_block: number | null;
  buy_block: number | null;
  latency_us: number | null;
}

export interface Trade {
  id: number;
  position_id: number;
  chain: string;
  side: "buy" | "sell";
  reason: string;
  status: string;
  amount_in: string;
  amount_out: string | null;
  block: number | null;
  created_at_ms: number;
  settled_at_ms: number | null;
}

export interface Performance {
  chain: string;
  mode: string;
  quote_token: string;
  closed: number;
  wins: number;
  losses: number;
  win_rate_bps: number;
  net_pnl: string;
  gross_profit: string;
  gross_loss: string;
  profit_factor: string | null;
  max_drawdown: string;
  today_pnl: string;
  equity: { at_ms: number; position_id: number; equity: string }[];
}

export interface ChainOverview {
  chain: string;
  mode: string;
  open_positions: number;
  trapped_positions: number;
  max_open_positions: number | null;
  spent_today: string;
  daily_budget: string | null;
  consecutive_failures: number;
  breaker_open_until_ms: number;
  breaker_open: boolean;
}

export interface HeldAnomaly {
  id: number;
  chain: string;
  pool_address: string;
  token: string;
  /** Untrusted chain text. */
  symbol: string | null;
  kind: string;
  severity: string;
  explanation: string;
  created_at_ms: number;
}

export interface Overview {
  paused: boolean;
  day_start_ms: number;
  chains: ChainOverview[];
  /** The last day's anomalies on pools we hold, newest first. */
  held_anomalies: HeldAnomaly[];
}

export interface Controls {
  paused: boolean;
  limits: Record<string, unknown>;
  updated_at_ms: number;
  updated_by: string | null;
}

export interface AuditEntry {
  id: number;
  at_ms: number;
  username: string | null;
  ip: string | null;
  action: string;
  detail: string | null;
}

/** Figures of a set of trades: sums are exact decimal strings of base units. */
export interface Metrics {
  trades: number;
  wins: number;
  losses: number;
  win_rate_bps: number;
  total_profit: string;
  average_profit: string;
  profit_factor: number | null;
  expectancy: string;
  max_drawdown: string;
  max_drawdown_bps: number;
  sharpe: number | null;
  sortino: number | null;
  calmar: number | null;
  sqn: number | null;
}

export interface BacktestSummary {
  id: number;
  kind: "backtest" | "hyperopt";
  study: string | null;
  chain: string | null;
  from_ms: number;
  to_ms: number;
  trades: number;
  total_profit: string;
  created_at_ms: number;
}

export interface BacktestTrade {
  chain: string;
  pool: string;
  token: string;
  opened_at_ms: number;
  closed_at_ms: number | null;
  exit_reason: string;
  size: string;
  cost: string;
  proceeds: string;
  pnl: string;
}

export interface HyperoptParams {
  take_profit_bps: number;
  stop_loss_bps: number;
  trailing_stop_bps: number;
  max_hold_secs: number;
  max_risk_score: number;
  buy_size_bps: number;
}

export interface HyperoptFold {
  fold: number;
  train: [number, number];
  test: [number, number];
  best_trial: number;
  best: HyperoptParams;
  in_sample: Metrics;
  out_of_sample: Metrics;
}

/** A backtest's report, or a hyperopt study's outcome. */
export interface BacktestReport {
  metrics?: Metrics;
  by_exit_reason?: Record<string, Metrics>;
  by_chain?: Record<string, Metrics>;
  trades?: BacktestTrade[];
  folds?: HyperoptFold[];
  snippet?: string;
}

export interface Backtest extends BacktestSummary {
  settings: unknown;
  report: BacktestReport;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Session {
  token: string;
  username: string;
  role: "viewer" | "operator";
  expires_at_ms: number;
}

/** A refused request: the API's error code, message and, for a 400, the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}

const SESSION_KEY = "amm-sniper-session";

/** The signed-in session (kept for this browser tab only), if it has not expired. */
export function currentSession(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null") as Session | null;
    return s && s.expires_at_ms > Date.now() ? s : null;
  } catch {
    return null;
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const session = currentSession();
  if (session) headers.authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const json = text ? (JSON.parse(text) as unknown) : null;
  // Health answers 503 with its body when the mirror is unreachable: that is data too.
  if (!r.ok && !(r.status === 503 && path === "/health")) {
    const e = (json ?? {}) as { code?: string; message?: string; field?: string };
    throw new ApiError(r.status, e.code ?? "error", e.message ?? `${method} ${path}: ${r.status}`, e.field ?? null);
  }
  return json as T;
}

export const get = <T>(path: string) => call<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => call<T>("POST", path, body);
export const put = <T>(path: string, body?: unknown) => call<T>("PUT", path, body);

export async function login(username: string, password: string): Promise<Session> {
  const s = await post<Session>("/auth/login", { username, password });
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  return s;
}

export async function logout(): Promise<void> {
  try {
    await post("/auth/logout");
  } finally {
    sessionStorage.removeItem(SESSION_KEY);
  }
}

/** `path` with the query parameters that are set. */
export function withQuery(path: string, params: Record<string, string | number | null | undefined>): string {
  const q = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return q.length ? `${path}?${q.join("&")}` : path;
}
