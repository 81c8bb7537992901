//! The `keeper` binary as an operator uses it: init, migrate, status, and a clean shutdown.

#[path = "common/keeper.rs"]
mod keeper_run;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn keeper() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keeper"));
    c.env_remove("RUST_LOG");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("KEEPER_")) {
        c.env_remove(k);
    }
    c
}

#[test]
fn init_migrate_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keeper.toml");
    let out = keeper().args(["init"]).arg(&config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = keeper().args(["init"]).arg(&config).output().unwrap();
    assert!(!again.status.success(), "init never overwrites without --force");

    let db = dir.path().join("mirror.db");
    let out = keeper()
        .arg("--config")
        .arg(&config)
        .args(["db", "migrate"])
        .env("KEEPER_DATABASE__PATH", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = keeper()
        .arg("--config")
        .arg(&config)
        .args(["status", "--json"])
        .env("KEEPER_DATABASE__PATH", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["counts"]["pool_events"], 0);
}

#[test]
fn an_invalid_config_is_refused_naming_the_field() {
    let out = keeper().args(["status"]).env("KEEPER_DATABASE__BATCH_MAX_ROWS", "0").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database.batch_max_rows"), "{stderr}");
}

/// Prometheus text on the configured port, with restarts of the (unreachable) Solana source.
#[test]
fn metrics_are_served_on_the_configured_port() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = keeper()
        .args(["run"])
        .env("KEEPER_DATABASE__PATH", dir.path().join("m.db"))
        .env("KEEPER_METRICS__LISTEN", format!("127.0.0.1:{port}"))
        .env("KEEPER_SOLANA__RPC_URL", "http://127.0.0.1:9") // nothing listens there
        .env("KEEPER_SUPERVISOR__RESTART_BACKOFF_INITIAL_MS", "10")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let body = loop {
        let got = std::net::TcpStream::connect(("127.0.0.1", port)).ok().and_then(|mut s| {
            use std::io::{Read, Write};
            s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
            let mut text = String::new();
            s.read_to_string(&mut text).ok()?;
            Some(text)
        });
        match got {
            Some(text) if text.contains("keeper_restarts_total") => break text,
            _ if start.elapsed() > Duration::from_secs(10) => panic!("no metrics: {got:?}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.starts_with("HTTP/1.") && body.contains(" 200 "), "{body}");
    assert!(body.contains("keeper_restarts_total{task=\"solana-indexer\"}"), "{body}");
    assert!(body.contains("# HELP keeper_restarts_total"), "{body}");
}

#[test]
fn sigterm_stops_the_daemon_cleanly_within_five_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mirror.db");
    let spawned = std::time::SystemTime::now();
    let mut child = keeper()
        .args(["run", "--log-format", "json"])
        .env("KEEPER_DATABASE__PATH", &db)
        .env("KEEPER_METRICS__LISTEN", "")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the daemon runs its tasks (its signal handlers are registered by then).
    tokio::runtime::Runtime::new().unwrap().block_on(keeper_run::process_running(&db, "writer", spawned));
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(stopped.elapsed() < Duration::from_secs(5), "did not stop within 5 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("writer stopped cleanly"), "{stderr}");
}

/// `keeper run` with only a local EVM chain: a launch on anvil is discovered live and scored, and
/// `keeper status` shows it; SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_discovers_and_scores_launches_on_anvil() {
    use localnet::evm::{EvmEnv, Launch, TokenKind};
    let env = EvmEnv::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keeper.toml");
    let db = dir.path().join("keeper.db");
    let toml = format!(
        "[database]\npath = \"{}\"\n[metrics]\nlisten = \"\"\n[solana]\nenabled = false\n{}",
        db.display(),
        env.keeper_toml("local")
    );
    std::fs::write(&config, toml).unwrap();
    let spawned = std::time::SystemTime::now();
    let child =
        keeper().arg("--config").arg(&config).arg("run").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    keeper_run::process_running(&db, "evm-discovery-local", spawned).await;
    let reader = mirror::open_reader(&db, Duration::from_secs(5), 1).await.unwrap();
    test_utils::wait_for("discovery to follow anvil", || async {
        mirror::checkpoint(&reader, "evm:local").await.unwrap().map(|_| ())
    })
    .await;
    let honey = env.launch("honey", &Launch::clean(TokenKind::Honeypot)).await;
    let verdict: String = test_utils::wait_for("the honeypot's report", || async {
        sqlx::query_scalar("SELECT verdict FROM risk_reports WHERE pool_address = ?")
            .bind(format!("{:#x}", honey.pair))
            .fetch_optional(&reader)
            .await
            .ok()
            .flatten()
    })
    .await;
    assert_eq!(verdict, "critical");
    let status = keeper().arg("--config").arg(&config).args(["status", "--json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["risk_reports"]["by_verdict"]["critical"], 1);
    // SIGTERM: clean exit within the shutdown timeout.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(6));
}
