//! End to end: the production binaries over the local chains, as `scripts/localnet.sh` runs them.
//!
//! `localnet` (anvil + real Uniswap V2, the Solana localnet with the AMM, the launch simulator and
//! simulated traders) launches 10 tokens per chain; the `keeper` binary, unmodified, discovers,
//! scores and trades them live with the generated wallets; `app-api` serves the same SQLite file.
//! Checked: every launch discovered and scored, no honeypot or blacklisting token ever bought,
//! every healthy token bought, exits fired on both chains, the API returns exactly what the
//! database holds (pools, tokens, latest risk reports, trades, positions), metrics and health
//! reflect the run, and every process and port is released at the end.
//!
//! Then the keeper and the chains stop and start again on the same directory, as a second
//! `scripts/localnet.sh` does: the chains resume (same tokens, pools, balances), the keeper
//! resumes from the same database (nothing discovered twice, nothing bought twice), discovers
//! the new launches, and sells every position the first run left open on the resumed chains.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use sqlx::SqlitePool;

const LAUNCHES_PER_CHAIN: usize = 10;
/// The launches per chain after the second run (counted across runs).
const LAUNCHES_AFTER_RESTART: usize = 13;

/// A child process stopped (SIGTERM, then SIGKILL after 10 s) when dropped.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Self {
        let out = std::fs::File::create(log).unwrap();
        let child =
            cmd.stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self { name, child }
    }

    /// Stops it with SIGTERM and returns whether it exited cleanly within 15 s.
    fn stop(&mut self) -> bool {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early: {status}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// The workspace's binaries next to this test's (cargo builds them for `cargo test --workspace`).
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p {name}` (scripts/test.sh does)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_until<T, F, Fut>(what: &str, secs: u64, procs: &mut [&mut Proc], mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        for p in procs.iter_mut() {
            p.assert_running();
        }
        assert!(Instant::now() < until, "timed out after {secs} s waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[derive(Debug, serde::Deserialize)]
struct LaunchRecord {
    chain: String,
    kind: String,
    token: String,
    pool: String,
}

/// Every item of a list endpoint, following `next_cursor`.
async fn all(http: &reqwest::Client, base: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = format!("{base}{path}?limit=200");
    loop {
        let body: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        items.extend(body["items"].as_array().unwrap_or_else(|| panic!("{url}: {body}")).iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => url = format!("{base}{path}?limit=200&cursor={c}"),
            None => return items,
        }
    }
}

async fn count(db: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

/// The localnet binary on `dir` with a fixed seed and free ports.
fn start_chains(dir: &Path, launches_per_chain: usize, metrics_port: u16, extra: &[&str], log: &str) -> Proc {
    Proc::spawn(
        "localnet",
        Command::new(env!("CARGO_BIN_EXE_localnet"))
            .arg(dir)
            .args(["--interval-ms", "600", "--seed", "7", "--solana-port", "0", "--anvil-port", "0"])
            .args(["--launches-per-chain", &launches_per_chain.to_string()])
            .args(["--metrics-port", &metrics_port.to_string()])
            .args(extra)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null()),
        &dir.join(log),
    )
}

/// `keeper db migrate`, then `keeper run`, with the config the localnet wrote.
fn start_keeper(dir: &Path, log: &str) -> Proc {
    let config = dir.join("keeper.toml");
    let migrate = Command::new(binary("keeper")).arg("--config").arg(&config).args(["db", "migrate"]).output().unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    Proc::spawn(
        "keeper",
        Command::new(binary("keeper"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env("KEEPER_LOG__FILTER", "keeper=info,warn")
            .stdin(Stdio::null()),
        &dir.join(log),
    )
}

/// `launches.jsonl`, which must hold `per_chain` launches on each chain.
fn read_launches(dir: &Path, per_chain: usize) -> Vec<LaunchRecord> {
    let launches: Vec<LaunchRecord> = std::fs::read_to_string(dir.join("launches.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for chain in ["local", "solana"] {
        assert_eq!(launches.iter().filter(|l| l.chain == chain).count(), per_chain, "{chain}");
    }
    launches
}

/// Whether every launch has a risk report and no trade is in flight.
async fn all_scored_and_settled(db: &SqlitePool, launches: &[LaunchRecord]) -> bool {
    for l in launches {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM risk_reports WHERE chain = ? AND token = ?")
            .bind(&l.chain)
            .bind(&l.token)
            .fetch_one(db)
            .await
            .unwrap_or(0);
        if n == 0 {
            return false;
        }
    }
    count(db, "SELECT count(*) FROM trades WHERE status IN ('intent', 'sent')").await == 0
}

/// Every launch discovered once; honeypots and blacklisting tokens never bought; healthy ones
/// bought exactly once (across runs too).
async fn check_launches(db: &SqlitePool, launches: &[LaunchRecord]) {
    for l in launches {
        let pool: i64 = sqlx::query_scalar("SELECT count(*) FROM pools WHERE chain = ? AND address = ?")
            .bind(&l.chain)
            .bind(&l.pool)
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(pool, 1, "{l:?} discovered");
        let bought: Vec<String> =
            sqlx::query_scalar("SELECT t.status FROM trades t WHERE t.chain = ? AND t.token = ? AND t.side = 'buy'")
                .bind(&l.chain)
                .bind(&l.token)
                .fetch_all(db)
                .await
                .unwrap();
        match l.kind.as_str() {
            "honeypot" | "blacklisting" => assert!(bought.is_empty(), "{l:?} must never be bought"),
            "healthy" => assert_eq!(bought, ["confirmed"], "{l:?} bought once"),
            _ => assert!(bought.len() <= 1, "{l:?} at most one buy"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_system_on_local_chains() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (metrics_port, api_port) = (free_port(), free_port());

    let mut chains = start_chains(d, LAUNCHES_PER_CHAIN, metrics_port, &[], "localnet.log");
    wait_until("the local chains", 120, &mut [&mut chains], || async { d.join("ready").exists().then_some(()) }).await;
    let mut keeper = start_keeper(d, "keeper.log");
    let base = format!("http://127.0.0.1:{api_port}/api/v1");
    let mut api = Proc::spawn(
        "app-api",
        Command::new(binary("app-api"))
            .arg("--db")
            .arg(d.join("keeper.db"))
            .args(["--listen", &format!("127.0.0.1:{api_port}"), "--cache-ms", "0"])
            .stdin(Stdio::null()),
        &d.join("api.log"),
    );
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let db = SqlitePool::connect(&format!("sqlite://{}?mode=ro", d.join("keeper.db").display())).await.unwrap();

    // The launches, then the keeper catching up with all of them and exits on both chains (the
    // simulated traders keep moving prices).
    wait_until("all launches", 300, &mut [&mut chains, &mut keeper, &mut api], || async {
        d.join("done").exists().then_some(())
    })
    .await;
    let launches = read_launches(d, LAUNCHES_PER_CHAIN);
    let db2 = db.clone();
    let launches_ref = &launches;
    wait_until(
        "every launch scored, trades settled, exits on both chains",
        180,
        &mut [&mut chains, &mut keeper],
        || {
            let db = db2.clone();
            async move {
                if !all_scored_and_settled(&db, launches_ref).await {
                    return None;
                }
                let exits: i64 = count(
                    &db,
                    "SELECT count(DISTINCT chain) FROM positions WHERE status = 'closed' AND exit_reason IS NOT NULL",
                )
                .await;
                (exits == 2).then_some(())
            }
        },
    )
    .await;

    // Metrics and health while everything runs.
    let metrics =
        http.get(format!("http://127.0.0.1:{metrics_port}/metrics")).send().await.unwrap().text().await.unwrap();
    for series in [
        "keeper_pairs_discovered_total",
        "keeper_risk_reports_total",
        "keeper_trades_total",
        "keeper_buy_send_latency_seconds_count",
        "keeper_writer_transactions_total",
    ] {
        assert!(metrics.contains(series), "keeper metrics lack {series}");
    }
    let health: Value = http.get(format!("{base}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let sources = health["sources"].as_array().unwrap();
    assert!(
        sources.iter().any(|s| s["chain"] == "local") && sources.iter().any(|s| s["chain"] == "solana"),
        "{health}"
    );
    let api_metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(api_metrics.contains("/api/v1/health"), "the API counts its requests");

    // Stop the keeper (cleanly) and the chains; the database is now still.
    assert!(keeper.stop(), "the keeper stops cleanly on SIGTERM");
    assert!(chains.stop(), "the localnet stops cleanly on SIGTERM");

    // Every launch discovered; bad tokens never bought; healthy ones bought.
    check_launches(&db, &launches).await;

    // Run it again on the same directory: the chains resume and so does the keeper. Positions
    // the first run left open must be sold on the resumed chains (a 3 s maximum holding time in
    // the second run's config makes that certain, whatever the prices do).
    let before: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, amount_out FROM trades ORDER BY id").fetch_all(&db).await.unwrap();
    let last_trade = before.last().map_or(0, |t| t.0);
    let left_open: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, chain FROM positions WHERE status = 'open'").fetch_all(&db).await.unwrap();
    assert!(!left_open.is_empty(), "the first run leaves positions open");
    for f in ["ready", "done"] {
        std::fs::remove_file(d.join(f)).unwrap();
    }
    let mut chains = start_chains(d, LAUNCHES_AFTER_RESTART, metrics_port, &["--max-hold-secs", "3"], "localnet2.log");
    wait_until("the resumed chains", 120, &mut [&mut chains], || async { d.join("ready").exists().then_some(()) })
        .await;
    let log = std::fs::read_to_string(d.join("localnet2.log")).unwrap();
    assert!(log.contains("resumed"), "the second run resumes the chains: {log}");
    let mut keeper = start_keeper(d, "keeper2.log");
    wait_until("the second run's launches", 300, &mut [&mut chains, &mut keeper, &mut api], || async {
        d.join("done").exists().then_some(())
    })
    .await;
    let launches = read_launches(d, LAUNCHES_AFTER_RESTART);
    let (db2, launches_ref, left_open_ref) = (db.clone(), &launches, &left_open);
    wait_until(
        "the new launches scored and the positions left open sold",
        180,
        &mut [&mut chains, &mut keeper],
        || {
            let db = db2.clone();
            async move {
                if !all_scored_and_settled(&db, launches_ref).await {
                    return None;
                }
                for (id, _) in left_open_ref {
                    let status: String = sqlx::query_scalar("SELECT status FROM positions WHERE id = ?")
                        .bind(id)
                        .fetch_one(&db)
                        .await
                        .ok()?;
                    if status != "closed" {
                        return None;
                    }
                }
                Some(())
            }
        },
    )
    .await;
    assert!(keeper.stop(), "the resumed keeper stops cleanly on SIGTERM");
    assert!(chains.stop(), "the resumed localnet stops cleanly on SIGTERM");
    for (id, chain) in &left_open {
        let sells: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, status FROM trades WHERE position_id = ? AND side = 'sell' AND status = 'confirmed'",
        )
        .bind(id)
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(
            sells.len() == 1 && sells[0].0 > last_trade,
            "position {id} on {chain} was sold once, by the resumed keeper: {sells:?}"
        );
    }
    // What the first run recorded is untouched (settled trades do not change), nothing was
    // discovered or bought twice, and the new launches went through the same checks.
    let after: BTreeMap<i64, (String, Option<String>)> = sqlx::query_as("SELECT id, status, amount_out FROM trades")
        .fetch_all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, s, o): (i64, String, Option<String>)| (id, (s, o)))
        .collect();
    for (id, status, out) in &before {
        assert_eq!(after.get(id), Some(&(status.clone(), out.clone())), "trade {id} after the restart");
    }
    check_launches(&db, &launches).await;

    // The API returns what the database holds.
    let key = |v: &Value, a: &str, b: &str| (v[a].as_str().unwrap().to_string(), v[b].as_str().unwrap().to_string());
    let api_pools: BTreeSet<_> = all(&http, &base, "/pools").await.iter().map(|p| key(p, "chain", "address")).collect();
    let db_pools: BTreeSet<(String, String)> =
        sqlx::query_as("SELECT chain, address FROM pools").fetch_all(&db).await.unwrap().into_iter().collect();
    assert_eq!(api_pools, db_pools);
    let api_tokens: BTreeSet<_> =
        all(&http, &base, "/tokens").await.iter().map(|t| key(t, "chain", "address")).collect();
    let db_tokens: BTreeSet<(String, String)> =
        sqlx::query_as("SELECT chain, address FROM tokens").fetch_all(&db).await.unwrap().into_iter().collect();
    assert_eq!(api_tokens, db_tokens);
    for l in &launches {
        let detail: Value =
            http.get(format!("{base}/tokens/{}/{}", l.chain, l.token)).send().await.unwrap().json().await.unwrap();
        let (id, score, verdict): (i64, i64, String) = sqlx::query_as(
            "SELECT id, score, verdict FROM risk_reports WHERE chain = ? AND token = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(&l.chain)
        .bind(&l.token)
        .fetch_one(&db)
        .await
        .unwrap();
        let risk = &detail["risk"];
        assert_eq!(
            (risk["id"].as_i64(), risk["score"].as_i64(), risk["verdict"].as_str()),
            (Some(id), Some(score), Some(verdict.as_str())),
            "{l:?}"
        );
    }
    let api_trades: BTreeMap<i64, (String, Option<String>)> = all(&http, &base, "/trades")
        .await
        .iter()
        .map(|t| {
            (
                t["id"].as_i64().unwrap(),
                (t["status"].as_str().unwrap().into(), t["amount_out"].as_str().map(Into::into)),
            )
        })
        .collect();
    let db_trades: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, amount_out FROM trades").fetch_all(&db).await.unwrap();
    assert_eq!(api_trades, db_trades.into_iter().map(|(id, s, o)| (id, (s, o))).collect::<BTreeMap<_, _>>());
    let api_positions: BTreeMap<i64, (String, String, String)> = all(&http, &base, "/positions")
        .await
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_string();
            (p["id"].as_i64().unwrap(), (s("status"), s("cost"), s("proceeds")))
        })
        .collect();
    let db_positions: Vec<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, status, cost, proceeds FROM positions").fetch_all(&db).await.unwrap();
    assert_eq!(api_positions, db_positions.into_iter().map(|(i, a, b, c)| (i, (a, b, c))).collect::<BTreeMap<_, _>>());
    assert!(!api_positions.is_empty());

    // Everything stops and releases its ports.
    db.close().await;
    assert!(api.stop(), "app-api stops cleanly on SIGTERM");
    for port in [metrics_port, api_port] {
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "port {port} released");
    }
}
