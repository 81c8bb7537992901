//! The dashboard end to end, in a real Chromium: Debian's `chromium` driven by Playwright
//! (`playwright-core`, pinned in dashboard/package-lock.json) through `executablePath`, against
//! the real app-api on a real socket, serving the built dashboard over a mirror with recorded
//! fixtures. The node:test suite in `dashboard/e2e/` signs in as viewer and operator, watches a
//! discovery arrive live, opens a pool's chart with its markers and levels, pauses and resumes
//! (and finds both in the audit log), sees an invalid limit's field error, force-exits a
//! position, checks that viewers see no operator controls and that a token named like markup is
//! shown as text with no script run; it saves a screenshot of every page into
//! `docs/screenshots/` and prints the paint and websocket-load budgets.
//!
//! The suite asks this test for live data through a small control server on 127.0.0.1: each
//! request writes to the mirror as the keeper would.

mod common;

use std::{path::PathBuf, time::Duration};

use app_api::{router, Limits};
use axum::{extract::State, routing::post, Router};
use common::{fixture, serve};

const OPERATOR: (&str, &str) = ("olga", "operator password 1");
const VIEWER: (&str, &str) = ("vera", "viewer password 12");
/// A token name that would run a script if it were ever rendered as markup.
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Writes what the keeper would have: a hostile token's pool with a reserve history, a risk
/// report, an open position with its buy, a closed one, the keeper's settings, and two users.
async fn seed(db: &sqlx::SqlitePool) {
    let now = app_api::now_ms();
    let (pool, token, quote) = (
        "0x00000000000000000000000000000000000000d0",
        "0x00000000000000000000000000000000000000d1",
        "0x00000000000000000000000000000000000000d2",
    );
    sqlx::query(
        "INSERT INTO pools (id, chain, venue, address, token_a, token_b, base_token, reserve_a, reserve_b, fee_bps,
            created_slot, first_seen_at_ms)
         VALUES (500, 'ethereum', 'uniswap_v2', ?, ?, ?, ?, '2000000000000000000000', '1000000000000000000', 30, 100, ?)",
    )
    .bind(pool)
    .bind(token)
    .bind(quote)
    .bind(token)
    .bind(now - 600_000)
    .execute(db)
    .await
    .unwrap();
    for (address, symbol, name) in [(token, HOSTILE, HOSTILE), (quote, "WETH", "Wrapped Ether")] {
        sqlx::query(
            "INSERT INTO tokens (chain, address, symbol, name, decimals, total_supply, first_seen_at_ms)
             VALUES ('ethereum', ?, ?, ?, 18, '1000000000000000000000000', 1)",
        )
        .bind(address)
        .bind(symbol)
        .bind(name)
        .execute(db)
        .await
        .unwrap();
    }
    // The price rises from 0.0005 to about 0.00075 WETH over 40 swaps, one a second.
    for i in 0..40i64 {
        let (base, quote_r) = (2_000_000 - i * 10_000, 1_000_000 + i * 5_000);
        sqlx::query(
            "INSERT INTO pool_events (chain, pool_address, tx_id, ix_index, event_index, slot, block_time, kind,
                reserve_a_after, reserve_b_after, data, ingested_at_ms)
             VALUES ('ethereum', ?, ?, 0, 0, ?, ?, 'swap', ?, ?, '{}', ?)",
        )
        .bind(pool)
        .bind(format!("0xswap{i}"))
        .bind(100 + i)
        .bind((now - 600_000) / 1000 + i)
        .bind(format!("{base}000000000000000"))
        .bind(format!("{quote_r}000000000000"))
        .bind(now - 600_000 + i * 1000)
        .execute(db)
        .await
        .unwrap();
    }
    // An earlier, calmer look at the same token: the report history has two entries.
    sqlx::query(
        "INSERT INTO risk_reports (id, pool_id, chain, pool_address, token, score, verdict, tradeable, summary, findings,
            measured_slot, discovered_at_ms, created_at_ms, elapsed_us)
         VALUES (499, 500, 'ethereum', ?, ?, 10, 'low', 1, 'nothing found at launch', '[]', 99, 1, ?, 3)",
    )
    .bind(pool)
    .bind(token)
    .bind(now - 599_500)
    .execute(db)
    .await
    .unwrap();
    let findings = r#"[{"check":"privilege","severity":"high","explanation":"0x8a8c523c called by the owner makes your sell revert.","measured":{}},
        {"check":"holder_concentration","severity":"medium","explanation":"The 2 largest holders outside pools own 30.00% of the supply.",
         "measured":{"top_bps":3000,"total_supply":"1000000000000000000000000",
           "holders":[["0x00000000000000000000000000000000000000h1","250000000000000000000000"],["0x00000000000000000000000000000000000000h2","50000000000000000000000"]]}}]"#;
    sqlx::query(
        "INSERT INTO risk_reports (id, pool_id, chain, pool_address, token, score, verdict, tradeable, summary, findings,
            measured_slot, discovered_at_ms, created_at_ms, elapsed_us)
         VALUES (500, 500, 'ethereum', ?, ?, 45, 'medium', 1, 'owner can arm a sell block', ?, 100, 1, ?, 3)",
    )
    .bind(pool)
    .bind(token)
    .bind(findings)
    .bind(now - 599_000)
    .execute(db)
    .await
    .unwrap();
    for (id, status, size, cost, proceeds, closed) in [
        (501, "closed", "0", "100000000000000000", "150000000000000000", Some(now - 300_000)),
        (502, "open", "190000000000000000000", "100000000000000000", "0", None),
    ] {
        sqlx::query(
            "INSERT INTO positions (id, chain, mode, status, pool_id, pool_address, venue, token, quote_token, size, cost,
                proceeds, last_value, peak_value, opened_at_ms, closed_at_ms, exit_reason)
             VALUES (?, 'ethereum', 'dry_run', ?, 500, ?, 'uniswap_v2', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(status)
        .bind(pool)
        .bind(if id == 501 { "0x00000000000000000000000000000000000000e1" } else { token })
        .bind(quote)
        .bind(size)
        .bind(cost)
        .bind(proceeds)
        .bind(if id == 502 { Some("130000000000000000") } else { None })
        .bind(if id == 502 { Some("140000000000000000") } else { None })
        .bind(now - 590_000)
        .bind(closed)
        .bind(if id == 501 { Some("take_profit") } else { None })
        .execute(db)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO trades (position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
                amount_out, block, latency_us, created_at_ms, sent_at_ms, settled_at_ms)
             VALUES (?, 'ethereum', 'dry_run', 'buy', 'snipe', 'confirmed', ?, ?, '1', '1', '190000000000000000000', 101,
                900, ?, ?, ?)",
        )
        .bind(id)
        .bind(token)
        .bind(cost)
        .bind(now - 590_000)
        .bind(now - 589_990)
        .bind(now - 589_000)
        .execute(db)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO trades (position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
            amount_out, created_at_ms, settled_at_ms)
         VALUES (501, 'ethereum', 'dry_run', 'sell', 'take_profit', 'confirmed', ?, '190000000000000000000', '1', '1',
            '150000000000000000', ?, ?)",
    )
    .bind(token)
    .bind(now - 580_000)
    .bind(now - 580_000)
    .execute(db)
    .await
    .unwrap();
    let settings = mirror::tasks::KeeperSettings {
        take_profit_bps: 5_000,
        stop_loss_bps: 2_500,
        trailing_stop_bps: 1_500,
        max_open_positions: 5,
        ..Default::default()
    };
    mirror::tasks::record_mode(db, true, false, &settings).await.unwrap();
    // What the anomaly watch flagged on the pool, through its own write path; the explanation
    // quotes the token's hostile symbol, as chain text it is.
    let finding = serde_json::json!({
        "check": "liquidity_drop", "severity": "high",
        "explanation": format!("The quote reserve of {HOSTILE} fell by 60.00% within 3 blocks."),
        "measured": { "from": "1000", "to": "400", "drop_bps": 6000 },
    });
    let anomaly = mirror::anomalies::NewAnomaly {
        chain: "ethereum".into(),
        pool_id: 500,
        token: token.into(),
        kind: "liquidity_drop".into(),
        severity: "high".into(),
        finding: finding.to_string(),
        evidence: "event:1".into(),
        slot: Some(130),
    };
    mirror::anomalies::insert(db, &anomaly).await.unwrap();
    // A backtest and a hyperopt study, as `keeper backtest` / `keeper hyperopt` store them.
    let metrics = |trades: u64, profit: &str| {
        serde_json::json!({
            "trades": trades, "wins": trades, "losses": 0, "win_rate_bps": 10_000, "total_profit": profit,
            "average_profit": profit, "gross_profit": profit, "gross_loss": "0", "profit_factor": null,
            "expectancy": profit, "max_drawdown": "0", "max_drawdown_bps": 0, "sharpe": 1.25, "sortino": null,
            "calmar": null, "sqn": null,
        })
    };
    let backtest = serde_json::json!({
        "from_ms": 0, "to_ms": 86_400_000, "pools": 1, "events": 3, "reports": 1,
        "metrics": metrics(1, "50000000000000000"),
        "by_exit_reason": { "take_profit": metrics(1, "50000000000000000") },
        "by_chain": { "ethereum": metrics(1, "50000000000000000") },
        "trades": [{ "chain": "ethereum", "pool": pool, "token": token, "opened_at_ms": now - 500_000,
            "closed_at_ms": now - 400_000, "exit_reason": "take_profit", "size": "1000", "cost": "100000000000000000",
            "proceeds": "150000000000000000", "pnl": "50000000000000000" }],
    });
    let study = serde_json::json!({
        "folds": [{ "fold": 0, "train": [0, 43_200_000], "test": [43_200_000, 86_400_000], "best_trial": 3,
            "best": { "take_profit_bps": 12_000, "stop_loss_bps": 3_000, "trailing_stop_bps": 0, "max_hold_secs": 600,
                "max_risk_score": 40, "buy_size_bps": 10_000 },
            "in_sample_loss": -1.0, "out_of_sample_loss": 1.0,
            "in_sample": metrics(4, "70000000000000000"), "out_of_sample": metrics(2, "-20000000000000000") }],
        "snippet": "[trading]\ntake_profit_bps = 12000\n",
    });
    for (kind, study_name, trades, profit, report) in
        [("backtest", None, 1, "50000000000000000", backtest), ("hyperopt", Some("tp"), 2, "-20000000000000000", study)]
    {
        let row = mirror::backtests::NewBacktest {
            kind: kind.into(),
            study: study_name.map(String::from),
            chain: Some("ethereum".into()),
            from_ms: 0,
            to_ms: 86_400_000,
            trades,
            total_profit: profit.into(),
            settings: "{}".into(),
            report: report.to_string(),
        };
        mirror::backtests::insert(db, &row).await.unwrap();
    }
    for (user, password) in [OPERATOR, VIEWER] {
        let hash = app_api::auth::hash_password(password).unwrap();
        mirror::api::register(db, user, &hash).await.unwrap().unwrap();
    }
    mirror::api::make_operator(db, OPERATOR.0).await.unwrap();
}

/// What the suite asks for: a discovery now, or a burst of them at a rate.
async fn discover(State(db): State<sqlx::SqlitePool>, body: String) -> String {
    let (count, per_second) =
        body.split_once(',').and_then(|(n, r)| Some((n.parse().ok()?, r.parse().ok()?))).unwrap_or((1u32, 1u32));
    let gap = Duration::from_secs(1) / per_second.max(1);
    let mut tick = tokio::time::interval(gap);
    let mut last = String::new();
    for _ in 0..count {
        tick.tick().await;
        let id: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0) + 1 FROM pools").fetch_one(&db).await.unwrap();
        last = format!("0x{id:040x}");
        sqlx::query(
            "INSERT INTO pools (id, chain, venue, address, token_a, token_b, reserve_a, reserve_b, first_seen_at_ms)
             VALUES (?, 'polygon', 'quickswap_v2', ?, ?, '0xwmatic', '1000', '2000', ?)",
        )
        .bind(id)
        .bind(&last)
        .bind(format!("0xlive{id}"))
        .bind(app_api::now_ms())
        .execute(&db)
        .await
        .unwrap();
    }
    last
}

/// 10,000 more pools at once, as a busy day of discoveries leaves the mirror.
async fn many_pools(State(db): State<sqlx::SqlitePool>, body: String) -> String {
    let count: i64 = body.trim().parse().unwrap_or(10_000);
    let mut tx = db.begin().await.unwrap();
    let first: i64 =
        sqlx::query_scalar("SELECT COALESCE(max(id), 0) + 1 FROM pools").fetch_one(&mut *tx).await.unwrap();
    for id in first..first + count {
        sqlx::query(
            "INSERT INTO pools (id, chain, venue, address, token_a, token_b, reserve_a, reserve_b, first_seen_at_ms)
             VALUES (?, 'bsc', 'pancakeswap_v2', ?, ?, '0xwbnb', '1000', ?, ?)",
        )
        .bind(id)
        .bind(format!("0x{id:040x}"))
        .bind(format!("0xbulk{id}"))
        .bind((id * 7919 % 100_000).to_string())
        .bind(1_000 + id)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM pools").fetch_one(&db).await.unwrap();
    total.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_chromium() {
    let root = root();
    let dist = root.join("dashboard/dist");
    assert!(
        dist.join("index.html").exists(),
        "the dashboard is not built: run scripts/test.sh (it builds dashboard/dist)"
    );
    assert!(
        root.join("dashboard/node_modules/playwright-core/package.json").exists(),
        "playwright-core is not installed: run scripts/test.sh (it runs npm ci in dashboard/)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no Chromium at {chromium}: scripts/test.sh installs Debian's chromium"
    );

    let f = fixture().await;
    let db = f.state.writer.clone();
    seed(&db).await;
    let app = router(f.state.clone(), &Limits { dashboard: Some(dist), ..Default::default() });
    let api = serve(app).await;
    let control = serve(
        Router::new().route("/discover", post(discover)).route("/pools", post(many_pools)).with_state(db.clone()),
    )
    .await;

    let shots = root.join("docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut node = std::process::Command::new("node");
    node.args(["--test", "--test-reporter=spec"])
        .arg(root.join("dashboard/e2e/dashboard.test.mjs"))
        .current_dir(root.join("dashboard"))
        .env("DASHBOARD_URL", &api)
        .env("CONTROL_URL", &control)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &shots)
        .env("OPERATOR", format!("{}:{}", OPERATOR.0, OPERATOR.1))
        .env("VIEWER", format!("{}:{}", VIEWER.0, VIEWER.1))
        .env("HOSTILE", HOSTILE);
    let out = tokio::task::spawn_blocking(move || node.output()).await.unwrap().expect("node runs");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{report}");
    assert!(out.status.success(), "the dashboard suite failed:\n{report}");
    assert!(report.contains("ℹ fail 0") && !report.contains("ℹ pass 0"), "every test ran and passed:\n{report}");

    // What the browser did reached the mirror: the pause and resume are audited, and the
    // force-exit is waiting for the keeper.
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE username = ? ORDER BY id")
        .bind(OPERATOR.0)
        .fetch_all(&db)
        .await
        .unwrap();
    for a in ["login", "keeper_pause", "keeper_resume", "position_exit"] {
        assert!(actions.iter().any(|x| x == a), "audited {a}: {actions:?}");
    }
    let (by,): (String,) =
        sqlx::query_as("SELECT requested_by FROM exit_requests WHERE position_id = 502").fetch_one(&db).await.unwrap();
    assert_eq!(by, format!("api:{}", OPERATOR.0));
    let (paused,): (bool,) =
        sqlx::query_as("SELECT paused FROM keeper_controls WHERE id = 1").fetch_one(&db).await.unwrap();
    assert!(!paused, "resumed at the end");
}
