//! Builds notifications from the mirror, never from the trading path: confirmed buys and sells,
//! positions trapped or sellable again, breakers opened, tasks down and back, and the daily
//! summary. Each scan resumes from cursors in `notify_state`, and each notification has a key
//! that makes a repeated scan (after a crash) a no-op: nothing is lost, nothing is sent twice.

use std::collections::BTreeMap;

use alloy::primitives::U256;
use serde_json::json;
use sqlx::SqlitePool;

use mirror::notify::{self as store, ClosedNote, HealthNote, NewNotification, TradeNote};

use super::text::{signed_diff, units, untrusted};
use crate::external::Usd;

const BATCH: i64 = 200;

/// What the producer needs of the config.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub down_after_ms: i64,
    /// Minute of the UTC day the daily summary is due, if any.
    pub daily_minute: Option<u32>,
}

/// One scan: every new notification stored. Returns how many were stored.
pub async fn scan(db: &SqlitePool, cfg: &ProducerConfig, now_ms: i64) -> mirror::Result<usize> {
    let mut stored = 0;
    stored += trades(db).await?;
    stored += health(db).await?;
    stored += breakers(db, now_ms).await?;
    stored += tasks(db, cfg.down_after_ms, now_ms).await?;
    stored += anomalies(db).await?;
    if let Some(minute) = cfg.daily_minute {
        stored += daily(db, minute, now_ms).await?;
    }
    Ok(stored)
}

async fn cursor(db: &SqlitePool, key: &str) -> mirror::Result<Option<i64>> {
    Ok(store::state(db, key).await?.and_then(|v| v.parse().ok()))
}

/// A scan's cursor; on the first start it is set to `newest` (only what happens from then on
/// is reported) and `None` is returned.
async fn scan_cursor(
    db: &SqlitePool,
    key: &str,
    newest: impl std::future::Future<Output = mirror::Result<i64>>,
) -> mirror::Result<Option<i64>> {
    match cursor(db, key).await? {
        Some(c) => Ok(Some(c)),
        None => {
            store::set_state(db, key, &newest.await?.to_string()).await?;
            Ok(None)
        }
    }
}

async fn put(db: &SqlitePool, n: NewNotification) -> mirror::Result<usize> {
    Ok(usize::from(store::insert(db, &n).await?))
}

fn symbol(s: &Option<String>, token: &str) -> String {
    s.as_deref().map(untrusted).unwrap_or_else(|| short(token))
}

/// An address shortened for a title: `0x1234…abcd`.
pub fn short(address: &str) -> String {
    let n = address.chars().count();
    if n <= 12 {
        return address.to_string();
    }
    let head: String = address.chars().take(6).collect();
    let tail: String = address.chars().skip(n - 4).collect();
    format!("{head}…{tail}")
}

fn mode(m: &str) -> &'static str {
    if m == "live" {
        "live"
    } else {
        "dry-run"
    }
}

/// The highest-severity finding of a report's JSON: (check, explanation).
fn main_finding(findings: Option<&str>) -> Option<(String, String)> {
    let list: Vec<crate::risk::Finding> = serde_json::from_str(findings?).ok()?;
    list.into_iter()
        .filter(|f| f.severity > crate::risk::Severity::Info)
        .max_by_key(|f| f.severity)
        .map(|f| (f.check, f.explanation))
}

/// Quote paid per whole token, in the quote token's units, from exact integers (truncated at
/// the quote's decimals, or 18 when unknown): `spent * 10^token_decimals / received`.
pub fn price(spent: &str, received: &str, decimals: Option<i64>, quote_decimals: Option<i64>) -> String {
    let (Ok(spent), Ok(received)) = (spent.parse::<U256>(), received.parse::<U256>()) else { return "?".into() };
    let Some(d) = decimals.and_then(|d| u8::try_from(d).ok()) else { return "?".into() };
    if received.is_zero() {
        return "?".into();
    }
    let scaled = spent.saturating_mul(U256::from(10u8).pow(U256::from(d))) / received;
    units(&scaled.to_string(), quote_decimals)
}

/// A buy or a sell.
pub fn trade_notification(t: &TradeNote) -> NewNotification {
    let sym = symbol(&t.symbol, &t.token);
    let quote = t.quote_symbol.as_deref().map(untrusted).unwrap_or_else(|| "quote".into());
    let out = t.amount_out.clone().unwrap_or_else(|| "0".into());
    if t.side == "buy" {
        let (check, finding) = main_finding(t.findings.as_deref()).unwrap_or_default();
        let body = format!(
            "Chain: {} ({})\nSpent: {} {quote}\nReceived: {} {sym}\nPrice: {} {quote} per {sym}\nRisk: {} ({}){}\nToken: {}",
            t.chain,
            mode(&t.mode),
            units(&t.amount_in, t.quote_decimals),
            units(&out, t.decimals),
            price(&t.amount_in, &out, t.decimals, t.quote_decimals),
            t.score.map_or("?".into(), |s| s.to_string()),
            t.verdict.as_deref().unwrap_or("?"),
            if finding.is_empty() { String::new() } else { format!("\nMain finding: {finding}") },
            t.token,
        );
        NewNotification {
            kind: "buy",
            dedupe_key: format!("trade:{}", t.id),
            title: format!("Bought {sym}"),
            body,
            fields: json!({
                "chain": t.chain, "mode": t.mode, "token": t.token, "symbol": sym, "position": t.position_id,
                "amount_in": t.amount_in, "amount_out": out, "score": t.score, "verdict": t.verdict,
                "main_check": check, "main_finding": finding, "tx": t.tx_id,
            })
            .to_string(),
            profit: None,
        }
    } else {
        let pnl = signed_diff(&t.proceeds, &t.cost).unwrap_or_default();
        let profit = if pnl.starts_with('-') {
            -1
        } else if pnl.trim_start_matches('0').is_empty() {
            0
        } else {
            1
        };
        let body = format!(
            "Chain: {} ({})\nReason: {}\nSold: {} {sym}\nReceived: {} {quote}\nPnL: {} {quote}{}\nToken: {}",
            t.chain,
            mode(&t.mode),
            t.reason,
            units(&t.amount_in, t.decimals),
            units(&out, t.quote_decimals),
            units(&pnl, t.quote_decimals),
            t.pnl_usd.as_deref().map(|u| format!(" (${u})")).unwrap_or_else(|| " (USD not priced yet)".into()),
            t.token,
        );
        // A sale ahead of a pending rug is an alert, like a trapped position: the token's owner
        // (or someone) was about to trap it.
        let front_run = t.reason == mirror::ExitReason::FrontRanRug.as_str();
        NewNotification {
            kind: if front_run { "trapped" } else { "sell" },
            dedupe_key: format!("trade:{}", t.id),
            title: if front_run { format!("Sold ahead of a rug: {sym}") } else { format!("Sold {sym} ({})", t.reason) },
            body,
            fields: json!({
                "chain": t.chain, "mode": t.mode, "token": t.token, "symbol": sym, "position": t.position_id,
                "reason": t.reason, "amount_in": t.amount_in, "amount_out": out, "pnl": pnl, "pnl_usd": t.pnl_usd,
                "tx": t.tx_id,
            })
            .to_string(),
            profit: Some(profit),
        }
    }
}

/// Confirmed trades after the cursor; the cursor stays below the first trade still unsettled.
async fn trades(db: &SqlitePool) -> mirror::Result<usize> {
    let newest = async { Ok(mirror::reads::newest_ids(db).await?.2) };
    let Some(after) = scan_cursor(db, "scan:trades", newest).await? else { return Ok(0) };
    let rows = store::confirmed_trades(db, after, BATCH).await?;
    let mut stored = 0;
    for t in &rows {
        stored += put(db, trade_notification(t)).await?;
    }
    let newest = rows.last().map_or(after, |t| t.id);
    let next = match store::first_unsettled_trade(db, after).await? {
        Some(open) if open <= newest => open - 1,
        _ => newest,
    };
    if next != after {
        store::set_state(db, "scan:trades", &next.to_string()).await?;
    }
    Ok(stored)
}

/// The anomaly watch flagged a pool.
pub fn anomaly_notification(a: &mirror::anomalies::AnomalyRow) -> NewNotification {
    let sym = symbol(&a.symbol, &a.token);
    let explanation =
        serde_json::from_str::<crate::risk::Finding>(&a.finding).map(|f| f.explanation).unwrap_or_default();
    let what = a.kind.replace('_', " ");
    NewNotification {
        kind: "anomaly",
        dedupe_key: format!("anomaly:{}", a.id),
        title: format!("Anomaly, {what}: {sym}"),
        body: format!(
            "Chain: {}\nPool: {}\nSeverity: {}\nBlock/slot: {}\n{explanation}\nToken: {}",
            a.chain,
            a.pool_address,
            a.severity,
            a.slot.map_or("?".into(), |s| s.to_string()),
            a.token
        ),
        fields: json!({
            "chain": a.chain, "token": a.token, "symbol": sym, "pool": a.pool_address, "kind": a.kind,
            "severity": a.severity, "slot": a.slot, "explanation": explanation,
        })
        .to_string(),
        profit: None,
    }
}

/// Anomalies are recorded by one task, one row per transaction: the id order is the commit order.
async fn anomalies(db: &SqlitePool) -> mirror::Result<usize> {
    let newest = mirror::anomalies::newest(db);
    let Some(after) = scan_cursor(db, "scan:anomalies", newest).await? else { return Ok(0) };
    let rows = mirror::anomalies::after(db, after, BATCH).await?;
    let mut stored = 0;
    for a in &rows {
        stored += put(db, anomaly_notification(a)).await?;
    }
    if let Some(last) = rows.last() {
        store::set_state(db, "scan:anomalies", &last.id.to_string()).await?;
    }
    Ok(stored)
}

pub fn health_notification(e: &HealthNote) -> NewNotification {
    let sym = symbol(&e.symbol, &e.token);
    let explanation =
        serde_json::from_str::<crate::risk::Finding>(&e.finding).map(|f| f.explanation).unwrap_or_default();
    let (title, kind_word) = if e.kind == "trapped" {
        (format!("Trapped: {sym}"), "trapped")
    } else {
        (format!("Sellable again: {sym}"), "recovered")
    };
    NewNotification {
        kind: "trapped",
        dedupe_key: format!("position_event:{}", e.id),
        title,
        body: format!(
            "Chain: {} ({})\nPosition: {}\nSize: {}\nCost: {}\nBlock: {}\n{explanation}\nToken: {}",
            e.chain,
            mode(&e.mode),
            e.position_id,
            e.size,
            e.cost,
            e.block.map_or("?".into(), |b| b.to_string()),
            e.token
        ),
        fields: json!({
            "chain": e.chain, "mode": e.mode, "token": e.token, "symbol": sym, "position": e.position_id,
            "event": kind_word, "block": e.block, "explanation": explanation,
        })
        .to_string(),
        profit: None,
    }
}

async fn health(db: &SqlitePool) -> mirror::Result<usize> {
    let Some(after) = scan_cursor(db, "scan:position_events", store::newest_health_event(db)).await? else {
        return Ok(0);
    };
    let rows = store::health_events(db, after, BATCH).await?;
    let mut stored = 0;
    for e in &rows {
        stored += put(db, health_notification(e)).await?;
    }
    if let Some(last) = rows.last() {
        store::set_state(db, "scan:position_events", &last.id.to_string()).await?;
    }
    Ok(stored)
}

/// A breaker that opened since the last scan (its `open until` moved forward and is ahead).
async fn breakers(db: &SqlitePool, now_ms: i64) -> mirror::Result<usize> {
    let mut stored = 0;
    for (chain, m, failures, until) in store::breakers(db).await? {
        let key = format!("breaker:{chain}:{m}");
        let seen = cursor(db, &key).await?.unwrap_or(0);
        if until > seen && until > now_ms {
            stored += put(
                db,
                NewNotification {
                    kind: "breaker",
                    dedupe_key: format!("{key}:{until}"),
                    title: format!("Circuit breaker open on {chain}"),
                    body: format!(
                        "Chain: {chain} ({})\nConsecutive failures: {failures}\nBuys stop for {} s.",
                        mode(&m),
                        (until - now_ms).max(0) / 1_000
                    ),
                    fields: json!({ "chain": chain, "mode": m, "failures": failures, "open_until_ms": until })
                        .to_string(),
                    profit: None,
                },
            )
            .await?;
            store::set_state(db, &key, &until.to_string()).await?;
        }
    }
    Ok(stored)
}

/// A task not running for longer than `down_after_ms`, and the same task running again.
async fn tasks(db: &SqlitePool, down_after_ms: i64, now_ms: i64) -> mirror::Result<usize> {
    let mut stored = 0;
    for t in mirror::tasks::all(db).await? {
        let key = format!("down:{}", t.name);
        let down_since = cursor(db, &key).await?;
        // `stopped` is a clean end (a shutdown), not an outage.
        let (running, failing) = (t.state == "running", t.state == "restarting" || t.state == "failed");
        match (running, down_since) {
            (false, None) if failing && now_ms - t.updated_at_ms >= down_after_ms => {
                stored += put(
                    db,
                    NewNotification {
                        kind: "health",
                        dedupe_key: format!("{key}:{}", t.updated_at_ms),
                        title: format!("Task down: {}", t.name),
                        body: format!(
                            "State: {} for {} s\nRestarts: {}\nLast error: {}",
                            t.state,
                            (now_ms - t.updated_at_ms) / 1_000,
                            t.restarts,
                            t.last_error.as_deref().unwrap_or("none")
                        ),
                        fields: json!({ "task": t.name, "state": t.state, "since_ms": t.updated_at_ms,
                            "error": t.last_error })
                        .to_string(),
                        profit: None,
                    },
                )
                .await?;
                store::set_state(db, &key, &t.updated_at_ms.to_string()).await?;
            }
            (true, Some(since)) => {
                stored += put(
                    db,
                    NewNotification {
                        kind: "health",
                        dedupe_key: format!("up:{}:{since}", t.name),
                        title: format!("Task back: {}", t.name),
                        body: format!("Running again after {} s.", (t.updated_at_ms - since).max(0) / 1_000),
                        fields: json!({ "task": t.name, "state": t.state, "down_since_ms": since }).to_string(),
                        profit: None,
                    },
                )
                .await?;
                store::clear_state(db, &key).await?;
            }
            _ => {}
        }
    }
    Ok(stored)
}

/// Realized results of closed positions on one chain in one mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub closed: u32,
    pub won: u32,
    /// PnL in the quote token's base units, a signed decimal.
    pub pnl: String,
    /// PnL in USD, from the positions priced so far.
    pub usd: String,
}

#[derive(Default)]
struct Sums {
    closed: u32,
    won: u32,
    proceeds: U256,
    cost: U256,
    usd: i128,
}

/// [`Totals`] per (chain, mode).
pub fn summarize(closed: &[ClosedNote]) -> BTreeMap<(String, String), Totals> {
    let mut acc: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for c in closed {
        let e = acc.entry((c.chain.clone(), c.mode.clone())).or_default();
        let (cost, proceeds): (U256, U256) =
            (c.cost.parse().unwrap_or_default(), c.proceeds.parse().unwrap_or_default());
        e.closed += 1;
        e.won += u32::from(proceeds > cost);
        e.proceeds += proceeds;
        e.cost += cost;
        e.usd = e.usd.saturating_add(c.pnl_usd.as_deref().and_then(Usd::parse).map_or(0, |u| u.0));
    }
    acc.into_iter()
        .map(|(k, s)| {
            let pnl = if s.proceeds >= s.cost {
                (s.proceeds - s.cost).to_string()
            } else {
                format!("-{}", s.cost - s.proceeds)
            };
            (k, Totals { closed: s.closed, won: s.won, pnl, usd: Usd(s.usd).to_string() })
        })
        .collect()
}

/// The summary text of `closed` (one line per chain and mode) and the open positions.
pub fn summary_text(closed: &[ClosedNote], open: usize) -> String {
    let mut lines = Vec::new();
    for ((chain, m), t) in summarize(closed) {
        lines.push(format!(
            "{chain} ({}): {} closed, {} won, PnL {} quote base units (${})",
            mode(&m),
            t.closed,
            t.won,
            t.pnl,
            t.usd
        ));
    }
    if lines.is_empty() {
        lines.push("No position closed.".into());
    }
    lines.push(format!("Open positions: {open}"));
    lines.join("\n")
}

async fn daily(db: &SqlitePool, minute: u32, now_ms: i64) -> mirror::Result<usize> {
    const DAY: i64 = 86_400_000;
    let today = now_ms.div_euclid(DAY);
    let due = today * DAY + i64::from(minute) * 60_000;
    if now_ms < due {
        return Ok(0);
    }
    let last = cursor(db, "daily").await?;
    if last == Some(today) {
        return Ok(0);
    }
    if last.is_none() {
        // First start after today's time: the first summary is tomorrow's.
        store::set_state(db, "daily", &today.to_string()).await?;
        return Ok(0);
    }
    let closed = store::closed_since(db, due - DAY).await?;
    let open = store::open_positions(db).await?;
    let body = summary_text(&closed, usize::try_from(open).unwrap_or(0));
    let date = civil_date(today);
    let stored = put(
        db,
        NewNotification {
            kind: "daily",
            dedupe_key: format!("daily:{today}"),
            title: format!("Daily summary {date}"),
            body,
            fields: json!({ "date": date, "closed": closed.len(), "open": open }).to_string(),
            profit: None,
        },
    )
    .await?;
    store::set_state(db, "daily", &today.to_string()).await?;
    Ok(stored)
}

/// `YYYY-MM-DD` of a day number since 1970-01-01 (proleptic Gregorian calendar).
pub fn civil_date(days: i64) -> String {
    // Howard Hinnant's days_from_civil, inverted.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(chain: &str, cost: &str, proceeds: &str, usd: Option<&str>) -> ClosedNote {
        ClosedNote {
            chain: chain.into(),
            mode: "live".into(),
            quote_token: "q".into(),
            cost: cost.into(),
            proceeds: proceeds.into(),
            pnl_usd: usd.map(Into::into),
            closed_at_ms: 0,
        }
    }

    #[test]
    fn summaries_add_exact_amounts_per_chain() {
        let rows = [
            closed("solana", "100", "250", Some("1.5")),
            closed("solana", "100", "40", Some("-0.6")),
            closed("local", "1000000000000000000000000000000", "1", None),
        ];
        let s = summarize(&rows);
        let t = |closed, won, pnl: &str, usd: &str| Totals { closed, won, pnl: pnl.into(), usd: usd.into() };
        assert_eq!(s[&("solana".into(), "live".into())], t(2, 1, "90", "0.9"));
        assert_eq!(s[&("local".into(), "live".into())], t(1, 0, "-999999999999999999999999999999", "0"));
        assert!(summary_text(&rows, 3).ends_with("Open positions: 3"));
        assert_eq!(summary_text(&[], 0), "No position closed.\nOpen positions: 0");
        assert_eq!(
            (civil_date(0), civil_date(20_790), civil_date(-1)),
            ("1970-01-01".into(), "2026-12-03".into(), "1969-12-31".into())
        );
    }

    #[test]
    fn trapped_and_recovered_positions_say_which_and_why() {
        let e = HealthNote {
            id: 4,
            position_id: 2,
            kind: "trapped".into(),
            block: Some(77),
            finding: r#"{"check":"trapped","severity":"critical","explanation":"Trapped: selling it reverts.","measured":{}}"#
                .into(),
            chain: "local".into(),
            mode: "live".into(),
            token: "0xabc".into(),
            size: "10".into(),
            cost: "5".into(),
            symbol: Some("SCAM".into()),
        };
        let n = health_notification(&e);
        assert_eq!((n.kind, n.title.as_str(), n.dedupe_key.as_str()), ("trapped", "Trapped: SCAM", "position_event:4"));
        assert!(n.body.contains("Trapped: selling it reverts.") && n.body.contains("Block: 77"), "{}", n.body);
        let n = health_notification(&HealthNote { kind: "recovered".into(), id: 5, ..e });
        assert_eq!(n.title, "Sellable again: SCAM");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&n.fields).unwrap()["event"], "recovered");
    }

    #[test]
    fn a_buy_names_its_risk_and_main_finding_and_a_sale_its_pnl_sign() {
        let f = r#"[{"check":"lp_not_burned","severity":"medium","explanation":"LP kept","measured":{}},
                   {"check":"holder_concentration","severity":"info","explanation":"fine","measured":{}}]"#;
        let t = TradeNote {
            id: 7,
            position_id: 3,
            chain: "solana".into(),
            mode: "dry_run".into(),
            side: "buy".into(),
            reason: "snipe".into(),
            token: "TokenMint1111111111111111111111111111111111".into(),
            amount_in: "1500000".into(),
            amount_out: Some("42".into()),
            tx_id: None,
            quote_token: "Q".into(),
            cost: "1500000".into(),
            proceeds: "0".into(),
            pnl_usd: None,
            symbol: Some("<b>X</b>\n".into()),
            decimals: Some(0),
            quote_symbol: Some("USDC".into()),
            quote_decimals: Some(6),
            score: Some(25),
            verdict: Some("medium".into()),
            findings: Some(f.into()),
        };
        let n = trade_notification(&t);
        assert_eq!((n.kind, n.dedupe_key.as_str(), n.title.as_str()), ("buy", "trade:7", "Bought <b>X</b>?"));
        assert!(n.body.contains("Spent: 1.5 USDC") && n.body.contains("Risk: 25 (medium)"), "{}", n.body);
        assert!(n.body.contains("Price: 0.035714 USDC per <b>X</b>?"), "1.5 USDC for 42 tokens: {}", n.body);
        assert_eq!(price("1", "3", Some(18), Some(18)), "0.333333333333333333");
        assert_eq!(price("5", "0", Some(6), Some(6)), "?");
        assert!(n.body.contains("Main finding: LP kept") && n.body.contains("dry-run"), "{}", n.body);
        let sell = trade_notification(&TradeNote {
            side: "sell".into(),
            reason: "stop_loss".into(),
            amount_out: Some("500000".into()),
            proceeds: "500000".into(),
            ..t.clone()
        });
        assert_eq!(sell.profit, Some(-1));
        assert_eq!(sell.kind, "sell");
        assert!(sell.body.contains("PnL: -1 USDC") && sell.body.contains("Reason: stop_loss"), "{}", sell.body);
        // A sale ahead of a pending rug raises the trapped alert (on by default).
        let ahead = trade_notification(&TradeNote { side: "sell".into(), reason: "front_ran_rug".into(), ..t });
        assert_eq!(ahead.kind, "trapped");
        assert!(ahead.title.starts_with("Sold ahead of a rug: "), "{}", ahead.title);
    }
}
