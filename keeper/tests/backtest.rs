//! `keeper backtest` on a small history built by hand in a real mirror (SQLite file), where every
//! fill and figure is worked out below: a take-profit, a stop-loss, a position whose sale fails
//! because a later report found it trapped, a token the screen refuses; the lookahead guard
//! refusing a strategy that peeks one block ahead; the same input giving the same output.

use std::{collections::BTreeMap, time::Duration};

use alloy::primitives::U256;
use keeper::{
    backtest::{
        clock::{Lookahead, View},
        run, Held, History, LiveStrategy, Settings, Strategy,
    },
    trade::{strategy::Candidate, strategy::Limits, ChainBudget, ExitReason, TradingConfig},
};
use mirror::history::HistoryPool;

const QUOTE: &str = "0x00000000000000000000000000000000000000fe";

fn token(c: char) -> String {
    format!("0x{}", c.to_string().repeat(40))
}

async fn mirror_with_history() -> (tempfile::TempDir, sqlx::SqlitePool) {
    let dir = tempfile::tempdir().unwrap();
    let db = mirror::open_writer(&dir.path().join("keeper.db"), Duration::from_secs(5)).await.unwrap();
    mirror::migrate(&db).await.unwrap();
    // (pool id, token, first seen / first event at ms, first slot, the third event's reserves
    // (token, quote), the reports: (at ms, score, findings)).
    let calm = "[]";
    let trapped = r#"[{"check":"sell_reverts","severity":"critical","explanation":"Selling reverts.","measured":{}}]"#;
    struct Pool<'a> {
        id: i64,
        token: char,
        seen: i64,
        slot: i64,
        third: (u64, u64),
        reports: Vec<(i64, i64, &'a str)>,
    }
    let pool = |id, token, seen, slot, third, reports| Pool { id, token, seen, slot, third, reports };
    let pools = [
        pool(1, 'a', 1_000, 10, (500, 2_000), vec![(1_500, 10, calm)]),
        pool(2, 'b', 1_100, 20, (2_000, 500), vec![(1_600, 10, calm)]),
        pool(3, 'c', 1_200, 30, (2_000, 500), vec![(1_700, 10, calm), (2_500, 100, trapped)]),
        pool(4, 'd', 1_300, 40, (1_000, 1_000), vec![(1_800, 90, calm)]),
    ];
    for Pool { id, token: t, seen, slot, third, reports } in pools {
        let address = format!("0x{:040x}", 0x100 + id);
        sqlx::query(
            "INSERT INTO pools (id, chain, venue, address, token_a, token_b, base_token, fee_bps, created_slot,
                first_seen_at_ms) VALUES (?, 'local', 'uniswap_v2', ?, ?, ?, ?, 0, ?, ?)",
        )
        .bind(id)
        .bind(&address)
        .bind(token(t))
        .bind(QUOTE)
        .bind(token(t))
        .bind(slot)
        .bind(seen)
        .execute(&db)
        .await
        .unwrap();
        // Three reserve changes, 1 s apart: 1000/1000, again 1000/1000, then `third`.
        for (i, (rt, rq)) in [(1_000u64, 1_000u64), (1_000, 1_000), third].into_iter().enumerate() {
            let i = i64::try_from(i).unwrap();
            sqlx::query(
                "INSERT INTO pool_events (chain, pool_address, tx_id, ix_index, event_index, slot, kind,
                    reserve_a_after, reserve_b_after, data, ingested_at_ms)
                 VALUES ('local', ?, ?, 0, 0, ?, 'swap', ?, ?, '{}', ?)",
            )
            .bind(&address)
            .bind(format!("0x{id}{i}"))
            .bind(slot + i)
            .bind(rt.to_string())
            .bind(rq.to_string())
            .bind(seen + i * 1_000)
            .execute(&db)
            .await
            .unwrap();
        }
        for (at, score, findings) in reports {
            sqlx::query(
                "INSERT INTO risk_reports (pool_id, chain, pool_address, token, score, verdict, tradeable, summary,
                    findings, measured_slot, discovered_at_ms, created_at_ms, elapsed_us)
                 VALUES (?, 'local', ?, ?, ?, ?, ?, '', ?, ?, ?, ?, 1)",
            )
            .bind(id)
            .bind(&address)
            .bind(token(t))
            .bind(score)
            .bind(if score >= 100 {
                "critical"
            } else if score > 50 {
                "high"
            } else {
                "low"
            })
            .bind(score < 100)
            .bind(findings)
            .bind(slot)
            .bind(seen)
            .bind(at)
            .execute(&db)
            .await
            .unwrap();
        }
    }
    (dir, db)
}

fn settings() -> Settings {
    let mut t = TradingConfig {
        enabled: true,
        max_risk_score: 50,
        take_profit_bps: 5_000,
        stop_loss_bps: 3_000,
        trailing_stop_bps: 0,
        max_hold_secs: 0,
        cooldown_secs: 0,
        // The figures below are the exact constant-product math, without assumed slippage.
        paper_slippage_bps: 0,
        ..Default::default()
    };
    let hundred = U256::from(100u8);
    t.chains.insert(
        "local".into(),
        ChainBudget {
            buy_amount: hundred,
            max_buy: hundred,
            daily_budget: U256::from(1_000u16),
            min_liquidity: U256::ZERO,
            quote_tokens: vec![],
        },
    );
    Settings {
        trading: t,
        default_quotes: BTreeMap::from([("local".to_string(), vec![QUOTE.to_string()])]),
        fill_delay_blocks: 1,
        fee_per_trade: BTreeMap::new(),
        capital: U256::from(1_000u16),
    }
}

/// Uniswap V2 without a fee: out = in * reserve_out / (reserve_in + in), rounded down.
fn v2(amount_in: u64, reserve_in: u64, reserve_out: u64) -> u64 {
    amount_in * reserve_out / (reserve_in + amount_in)
}

#[tokio::test]
async fn a_hand_built_history_gives_the_figures_worked_out_by_hand() {
    let (_dir, db) = mirror_with_history().await;
    let history = History::load(&db, Some("local"), 0, 10_000).await.unwrap();
    assert_eq!((history.pools.len(), history.events.len(), history.reports.len()), (4, 12, 5));
    let s = settings();
    let report = run(&history, &s, &LiveStrategy(&s.trading)).unwrap();

    // Each buy: 100 quote one block after its report, at 1000/1000: 90 tokens.
    let size = v2(100, 1_000, 1_000);
    assert_eq!(size, 90);
    // a: the quote side grows to 2000 against 500 tokens: 305 >= 150 (+50%), take-profit.
    let a = v2(size, 500, 2_000);
    // b: 500 against 2000 tokens: 21 <= 70 (-30%), stop-loss.
    let b = v2(size, 2_000, 500);
    assert_eq!((a, b), (305, 21));
    let summary: Vec<(String, String, String)> =
        report.trades.iter().map(|t| (t.token.clone(), t.exit_reason.clone(), t.pnl.clone())).collect();
    assert_eq!(
        summary,
        [
            (token('a'), "take_profit".to_string(), (a as i64 - 100).to_string()),
            (token('b'), "stop_loss".to_string(), (b as i64 - 100).to_string()),
            // c: its stop-loss sale fails, since a later report found that selling reverts.
            (token('c'), "trapped".to_string(), "-100".to_string()),
        ],
        "d, scored 90 above the limit of 50, is never bought"
    );
    assert!(report.trades[2].closed_at_ms.is_none());

    let m = &report.metrics;
    let (pa, pb) = (205f64, -79f64);
    assert_eq!((m.trades, m.wins, m.losses, m.win_rate_bps), (2, 1, 1, 5_000));
    assert_eq!((m.total_profit.as_str(), m.average_profit.as_str(), m.expectancy.as_str()), ("126", "63", "63"));
    assert_eq!((m.gross_profit.as_str(), m.gross_loss.as_str()), ("205", "79"));
    // Equity 205 then 126: down 79 from the peak, on a capital of 1000 plus that peak.
    assert_eq!((m.max_drawdown.as_str(), m.max_drawdown_bps), ("79", 79 * 10_000 / 1_205));
    let close = |got: Option<f64>, want: f64| {
        let got = got.expect("defined");
        assert!((got - want).abs() < 1e-5, "{got} != {want}");
    };
    close(m.profit_factor, 205.0 / 79.0);
    // Per-trade returns 2.05 and -0.79: mean 0.63; sample deviation sqrt(2 * 1.42^2).
    let (ra, rb) = (pa / 100.0, pb / 100.0);
    let mean = (ra + rb) / 2.0;
    let sd = (((ra - mean).powi(2) + (rb - mean).powi(2)) / 1.0).sqrt();
    close(m.sharpe, mean / sd);
    close(m.sortino, mean / ((rb * rb) / 2.0).sqrt());
    let pnl_sd = (((pa - 63.0).powi(2) + (pb - 63.0).powi(2)) / 1.0).sqrt();
    close(m.sqn, 2f64.sqrt() * 63.0 / pnl_sd);
    close(m.calmar, (126.0 / 1_000.0) / ((79 * 10_000 / 1_205) as f64 / 10_000.0));
    assert_eq!(report.by_exit_reason["take_profit"].total_profit, "205");
    assert_eq!(report.by_exit_reason["stop_loss"].total_profit, "-79");
    assert_eq!(report.by_chain["local"].trades, 2);

    // The same input, the same output, byte for byte.
    let again = run(&history, &s, &LiveStrategy(&s.trading)).unwrap();
    assert_eq!(serde_json::to_string(&report).unwrap(), serde_json::to_string(&again).unwrap());
    // A fee per trade is paid on both sides: one more at the buy, one less at the sale.
    let mut fees = settings();
    fees.fee_per_trade.insert("local".into(), U256::from(2u8));
    let with_fees = run(&history, &fees, &LiveStrategy(&fees.trading)).unwrap();
    assert_eq!(with_fees.trades[0].cost, "102");
    assert_eq!(with_fees.trades[0].proceeds, (a - 2).to_string());
}

/// A strategy that reads the reserves of the block after the one the replay is at.
struct Peeking<'a>(LiveStrategy<'a>);

impl Strategy for Peeking<'_> {
    fn entry(
        &self,
        view: &View<'_>,
        pool: &HistoryPool,
        c: &Candidate,
        limits: &Limits,
    ) -> Result<Option<U256>, Lookahead> {
        let now = view.reserves(pool.id).expect("reserves now");
        view.reserves_at_slot(pool.id, now.slot + 1)?;
        self.0.entry(view, pool, c, limits)
    }

    fn exit(&self, view: &View<'_>, p: &Held, value: U256) -> Result<Option<ExitReason>, Lookahead> {
        self.0.exit(view, p, value)
    }
}

#[tokio::test]
async fn a_strategy_that_peeks_one_block_ahead_is_refused() {
    let (_dir, db) = mirror_with_history().await;
    let history = History::load(&db, None, 0, 10_000).await.unwrap();
    let s = settings();
    let err = run(&history, &s, &Peeking(LiveStrategy(&s.trading))).unwrap_err();
    // Pool 1's first report (1.5 s) asked for slot 11, mined at 2 s.
    assert_eq!(err, Lookahead { pool_id: 1, what: "reserves", asked: 2_000, now: 1_500 });
    assert!(err.to_string().contains("lookahead"), "{err}");
    // Reading the block the replay is at is allowed.
    let view_ok = run(&history, &s, &LiveStrategy(&s.trading));
    assert!(view_ok.is_ok());
}

#[tokio::test]
async fn the_period_bounds_what_is_replayed() {
    let (_dir, db) = mirror_with_history().await;
    // Pools first seen from 1.15 s: c and d only; events and reports before 2.3 s.
    let history = History::load(&db, Some("local"), 1_150, 2_300).await.unwrap();
    let ids: Vec<i64> = history.pools.iter().map(|p| p.id).collect();
    assert_eq!(ids, [3, 4]);
    assert!(history.events.iter().all(|e| e.at_ms < 2_300));
    let s = settings();
    let report = run(&history, &s, &LiveStrategy(&s.trading)).unwrap();
    assert_eq!(report.trades.len(), 1, "c is bought and still held at the end");
    assert_eq!((report.trades[0].exit_reason.as_str(), report.metrics.trades), ("open", 0));
}

/// `keeper backtest` from the command line: the same replay, as JSON and as a table; a bad
/// argument is refused with a message naming it.
#[tokio::test]
async fn the_command_line_prints_the_report() {
    let (dir, _db) = mirror_with_history().await;
    let config = dir.path().join("keeper.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = \"{}\"\n[solana]\nenabled = false\n[evm.local]\nenabled = true\n\
             wrapped_native = \"{QUOTE}\"\nfactories = [{{ name = \"uniswap_v2\", kind = \"v2\", \
             address = \"{QUOTE}\", router = \"{QUOTE}\" }}]\n[trading]\nenabled = true\nmax_risk_score = 50\n\
             take_profit_bps = 5000\nstop_loss_bps = 3000\ntrailing_stop_bps = 0\nmax_hold_secs = 0\ncooldown_secs = 0\n\
             paper_slippage_bps = 0\n\
             [trading.chains.local]\nbuy_amount = \"100\"\nmax_buy = \"100\"\ndaily_budget = \"1000\"\n\
             min_liquidity = \"0\"\nquote_tokens = [\"{QUOTE}\"]\n",
            dir.path().join("keeper.db").display()
        ),
    )
    .unwrap();
    let keeper = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_keeper"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .expect("keeper runs")
    };
    let out = keeper(&["backtest", "--from", "1970-01-01", "--to", "1970-01-02", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["metrics"]["trades"], 2);
    assert_eq!(json["metrics"]["total_profit"], "126");
    assert_eq!(json["trades"].as_array().unwrap().len(), 3);
    let table = keeper(&["backtest", "--from", "0", "--to", "86400000"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success() && text.contains("take_profit") && text.contains("126"), "{text}");
    let bad = keeper(&["backtest", "--from", "yesterday", "--to", "1970-01-02"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from: `yesterday`"), "{:?}", bad);
    // Both good runs were stored for the API, the refused one not.
    let db = mirror::open_reader(&dir.path().join("keeper.db"), Duration::from_secs(5), 1).await.unwrap();
    let stored = mirror::backtests::list(&db, None, 10).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|b| b.kind == "backtest" && b.total_profit == "126" && b.trades == 2));
    let (_, settings, report) = mirror::backtests::get(&db, stored[0].id).await.unwrap().unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&report).unwrap(), json);
    assert!(settings.contains("\"take_profit_bps\":5000"), "{settings}");

    // `keeper hyperopt`: one fold, a few trials, the snippet written to a file.
    let snippet = dir.path().join("best.toml");
    let args = ["hyperopt", "--from", "0", "--to", "4000", "--study", "cli", "--folds", "1", "--trials", "6"];
    let out = keeper(&[&args[..], &["--snippet", snippet.to_str().unwrap()]].concat());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{text}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("study cli") && text.contains("6 trials run"), "{text}");
    let best = std::fs::read_to_string(&snippet).unwrap();
    assert!(best.starts_with("[trading]\ntake_profit_bps = ") && best.contains("[trading.chains.local]"), "{best}");
    // Run again: every trial comes from the mirror.
    let again = keeper(&args);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 trials run, 6 replayed"), "{again:?}");
    let bad = keeper(&[&args[..], &["--stop-loss-bps", "9..1"]].concat());
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--stop-loss-bps"), "{bad:?}");
}
