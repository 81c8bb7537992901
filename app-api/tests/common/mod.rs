//! What every app-api integration test shares: a migrated mirror with fixtures, the router over
//! it, requests through the router (no TCP), and a real localnet behind the chain-reading routes.

#![allow(dead_code)]

use app_api::{open, router, AppState, Limits};
use axum::{
    body::Body,
    http::{Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub app: Router,
    pub state: AppState,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    // The keeper's side: a writable connection that fills the mirror.
    let state = open(&path, 4).await.unwrap();
    let rw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let mut tx = rw.begin().await.unwrap();
    for i in 0..120i64 {
        let chain = if i % 2 == 0 { "solana" } else { "bsc" };
        let venue = if i % 2 == 0 { "amm" } else { "pancakeswap_v2" };
        let address = if i % 2 == 0 { format!("Pool{i:03}") } else { format!("0x{i:040x}") };
        // Quote reserves 1..=120 * 10^k so numeric and text order differ.
        let reserve_b = (i + 1) * if i % 3 == 0 { 1_000 } else { 7 };
        sqlx::query(
            "INSERT INTO pools (chain, venue, address, token_a, token_b, reserve_a, reserve_b, fee_bps, created_slot, first_seen_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, 30, ?, ?)",
        )
        .bind(chain)
        .bind(venue)
        .bind(&address)
        .bind(if i == 7 { "0x00000000000000000000000000000000000000aa" } else { "MintA" })
        .bind("MintB")
        .bind("1000000000")
        .bind(reserve_b.to_string())
        .bind(i)
        .bind(1_000_000 + i)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO tokens (chain, address, symbol, name, decimals, total_supply, first_seen_at_ms) VALUES ('bsc', '0x00000000000000000000000000000000000000aa', 'HNY', 'Honey', 18, '1000000000000000000000000', 5)")
        .execute(&mut *tx).await.unwrap();
    let findings = r#"[{"check":"sell_reverts","severity":"critical","explanation":"Honeypot: buying works but selling reverts.","measured":{"sold":"100"}},{"check":"buy_tax","severity":"info","explanation":"Buy tax 0.00%","measured":{"bps":0}}]"#;
    for (score, verdict) in [(40, "medium"), (100, "critical")] {
        sqlx::query(
            "INSERT INTO risk_reports (pool_id, chain, pool_address, token, score, verdict, tradeable, summary, findings,
                measured_slot, discovered_at_ms, created_at_ms, elapsed_us)
             VALUES (8, 'bsc', ?, '0x00000000000000000000000000000000000000aa', ?, ?, ?, 'Risk critical', ?, 7, 1, 2, 3)",
        )
        .bind(format!("0x{:040x}", 7))
        .bind(score)
        .bind(verdict)
        .bind(score < 100)
        .bind(findings)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for e in 0..75i64 {
        sqlx::query(
            "INSERT INTO pool_events (chain, pool_address, tx_id, ix_index, event_index, slot, kind, reserve_a_after, reserve_b_after, data, ingested_at_ms)
             VALUES ('solana', 'Pool000', ?, 0, 0, ?, 'swap', ?, ?, '{}', 0)",
        )
        .bind(format!("sig{e}"))
        .bind(e)
        .bind((1_000 + e).to_string())
        .bind((2_000 - e).to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO checkpoints (source, chain, slot, head_slot, updated_at_ms) VALUES ('evm:bsc', 'bsc', 90, 100, 1)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let app = router(state.clone(), &Limits::default());
    Fixture { _dir: dir, app, state }
}

/// Serves `app` on a real socket of 127.0.0.1 (with the client address the API's rate limit and
/// audit log read), on this runtime's workers; its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    url
}

pub async fn get(app: &Router, uri: &str) -> (StatusCode, Value, axum::http::HeaderMap) {
    let resp = app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json, headers)
}

pub async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A real localnet with a funded payer (100 SOL), and the API reading it as its Solana RPC.
pub async fn on_localnet(f: &Fixture) -> (localnet::Localnet, solana_sdk::signature::Keypair, Router) {
    use solana_sdk::signer::Signer;
    let payer = solana_sdk::signature::Keypair::new();
    let net =
        localnet::serve(localnet::Chain::new(&payer.pubkey()).await, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    net.chain().svm.airdrop(&payer.pubkey(), 100_000_000_000).unwrap();
    let mut state = f.state.clone();
    state.solana_rpc = Some(net.url.clone());
    let app = app_api::router(state, &Limits::default());
    (net, payer, app)
}
