//! Handler tests through the router (no TCP) on migrated SQLite files with fixtures. The wallet
//! routes, which read a real localnet, are tested in `wallets.rs`.

mod common;

use amm::math::curve::{swap_exact_in, swap_exact_out, Fees};
use app_api::{open, router, Limits};
use axum::{
    body::Body,
    http::{Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use common::{fixture, get, send};

#[tokio::test]
async fn health_reports_lag_per_source() {
    let f = fixture().await;
    let (status, body, headers) = get(&f.app, "/api/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["sources"][0]["source"], "evm:bsc");
    assert_eq!(body["sources"][0]["lag"], 10);
    assert_eq!(body["tasks"], serde_json::json!([]), "no keeper has run on this mirror");
    assert!(body["keeper"].is_null(), "nor said how it trades");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let settings = mirror::tasks::KeeperSettings {
        take_profit_bps: 5_000,
        stop_loss_bps: 2_500,
        budgets: [("bsc".to_string(), mirror::tasks::ChainSettings { daily_budget: "7".into(), ..Default::default() })]
            .into(),
        ..Default::default()
    };
    mirror::tasks::record_mode(&f.state.writer, true, true, &settings).await.unwrap();
    let (_, body, _) = get(&f.app, "/api/v1/health").await;
    assert_eq!((body["keeper"]["trading"].as_bool(), body["keeper"]["mode"].as_str()), (Some(true), Some("live")));
    // The exit levels and budgets it started with, for the dashboard's chart lines and gauges.
    let served = &body["keeper"]["settings"];
    assert_eq!((served["take_profit_bps"].as_u64(), served["stop_loss_bps"].as_u64()), (Some(5_000), Some(2_500)));
    assert_eq!(served["budgets"]["bsc"]["daily_budget"], "7");
    assert_eq!(headers["x-frame-options"], "DENY");
    // A closed pool is an unreachable database: 503, not a crash.
    f.state.db.close().await;
    let (status, body, _) = get(&f.app, "/api/v1/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unavailable");
}

#[tokio::test]
async fn pools_paginate_by_age_without_gaps_or_repeats() {
    let f = fixture().await;
    let mut seen = Vec::new();
    let mut uri = "/api/v1/pools?limit=50".to_string();
    loop {
        let (status, body, _) = get(&f.app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for p in body["items"].as_array().unwrap() {
            assert!(p["chain"].is_string(), "every item names its chain");
            seen.push(p["first_seen_at_ms"].as_i64().unwrap());
        }
        match body["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/pools?limit=50&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats");

    let (_, body, _) = get(&f.app, "/api/v1/pools?chain=bsc&limit=200").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 60);
    assert!(body["items"].as_array().unwrap().iter().all(|p| p["chain"] == "bsc"));
    let (_, body, _) = get(&f.app, "/api/v1/pools?venue=amm&token=MintB&limit=5").await;
    assert!(body["items"].as_array().unwrap().iter().all(|p| p["venue"] == "amm"));
    // The honeypot pool carries its latest risk verdict.
    let (_, body, _) = get(&f.app, "/api/v1/pools?token=0x00000000000000000000000000000000000000AA").await;
    assert_eq!(body["items"][0]["risk"]["verdict"], "critical");
    assert_eq!(body["items"][0]["risk"]["tradeable"], false);
    // A list item is exactly the pool as the detail endpoint shows it (built in SQL vs in Rust).
    let item = body["items"][0].clone();
    let (_, mut detail, _) = get(&f.app, &format!("/api/v1/pools/bsc/{}", item["address"].as_str().unwrap())).await;
    detail.as_object_mut().unwrap().remove("reserve_history");
    detail.as_object_mut().unwrap().remove("anomalies");
    assert_eq!(item, detail);
}

#[tokio::test]
async fn pools_sort_by_liquidity_numerically_across_pages() {
    let f = fixture().await;
    let mut values = Vec::new();
    let mut uri = "/api/v1/pools?sort=liquidity&limit=7".to_string();
    loop {
        let (status, body, _) = get(&f.app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        values.extend(
            body["items"].as_array().unwrap().iter().map(|p| p["reserve_b"].as_str().unwrap().parse::<u64>().unwrap()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/pools?sort=liquidity&limit=7&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(values.len(), 120);
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "largest first, numerically: {values:?}");
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let f = fixture().await;
    for (uri, field) in [
        ("/api/v1/pools?limit=0", "limit"),
        ("/api/v1/pools?limit=201", "limit"),
        ("/api/v1/pools?limit=ten", "limit"),
        ("/api/v1/pools?sort=volume", "sort"),
        ("/api/v1/pools?chain=Sol%20Ana", "chain"),
        ("/api/v1/pools?cursor=garbage", "cursor"),
        ("/api/v1/pools?colour=red", "colour"),
        ("/api/v1/pools?limit=1&limit=2", "limit"),
        ("/api/v1/pools?token=%3Cscript%3E", "token"),
        ("/api/v1/discoveries?sort=age", "sort"),
        ("/api/v1/quote?pool=Pool000&a_to_b=maybe&amount=5", "a_to_b"),
        ("/api/v1/quote?pool=Pool000&a_to_b=true&amount=-5", "amount"),
        ("/api/v1/quote?pool=Pool000&a_to_b=true&amount=0", "amount"),
        ("/api/v1/quote?pool=Pool000&a_to_b=true&amount=18446744073709551616", "amount"),
        ("/api/v1/quote?a_to_b=true&amount=5", "pool"),
        ("/api/v1/quote?pool=Pool000&a_to_b=true&amount=5&mode=exact_both", "mode"),
        ("/api/v1/pools/solana/Pool000/events?kind=rug", "kind"),
    ] {
        let (status, body, _) = get(&f.app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["code"], "invalid_parameter", "{uri}");
        assert_eq!(body["field"], field, "{uri}: {body}");
    }
    let (status, body, _) = get(&f.app, "/api/v1/nope").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, _, _) = get(&f.app, "/api/v1/pools/solana/NoSuchPool").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&f.app, "/api/v1/tokens/bsc/0xdead").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pool_detail_history_and_events() {
    let f = fixture().await;
    let (status, body, _) = get(&f.app, "/api/v1/pools/solana/Pool000").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["venue"], "amm");
    let history = body["reserve_history"].as_array().unwrap();
    assert_eq!(history.len(), 75);
    assert_eq!(history[0]["reserve_a"], "1000", "oldest first");
    let mut ids = Vec::new();
    let mut uri = "/api/v1/pools/solana/Pool000/events?limit=30".to_string();
    loop {
        let (status, body, _) = get(&f.app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.extend(body["items"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
        match body["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/pools/solana/Pool000/events?limit=30&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 75);
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
}

/// Lists and the detail page describe a pool identically (both are read the same way), risk
/// verdict included.
#[tokio::test]
async fn list_items_and_pool_details_have_the_same_shape() {
    let f = fixture().await;
    let (_, list, _) = get(&f.app, "/api/v1/pools?limit=200").await;
    let items = list["items"].as_array().unwrap();
    assert!(items.iter().any(|p| p["risk"].is_object()) && items.iter().any(|p| p["risk"].is_null()));
    for item in items {
        let uri = format!("/api/v1/pools/{}/{}", item["chain"].as_str().unwrap(), item["address"].as_str().unwrap());
        let (status, mut detail, _) = get(&f.app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        detail.as_object_mut().unwrap().remove("reserve_history");
        detail.as_object_mut().unwrap().remove("anomalies");
        assert_eq!(&detail, item);
    }
    let risk = items.iter().find_map(|p| p["risk"].as_object()).unwrap();
    assert!(risk["tradeable"].is_boolean() && risk["score"].is_i64() && risk["verdict"].is_string(), "{risk:?}");
}

#[tokio::test]
async fn token_with_latest_risk_report_and_findings() {
    let f = fixture().await;
    let (status, body, _) = get(&f.app, "/api/v1/tokens/bsc/0x00000000000000000000000000000000000000AA").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["symbol"], "HNY");
    assert_eq!(body["reports"], 2);
    assert_eq!(body["risk"]["verdict"], "critical", "the newest report");
    assert_eq!(body["risk"]["tradeable"], false);
    assert_eq!(body["risk"]["findings"][0]["check"], "sell_reverts");
    assert_eq!(body["risk"]["findings"][0]["measured"]["sold"], "100");
    // The history: every report, newest first, each with its findings.
    let (status, history, _) =
        get(&f.app, "/api/v1/tokens/bsc/0x00000000000000000000000000000000000000AA/reports").await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let verdicts: Vec<&str> = history.as_array().unwrap().iter().map(|r| r["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["critical", "medium"]);
    assert_eq!(history[1]["findings"][1]["check"], "buy_tax");
    let (status, _, _) = get(&f.app, "/api/v1/tokens/bsc/0xdead/reports").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body, _) = get(&f.app, "/api/v1/tokens?chain=bsc").await;
    assert_eq!(body["items"][0]["chain"], "bsc");
}

#[tokio::test]
async fn quotes_use_the_programs_math() {
    let f = fixture().await;
    let fees = Fees { trade_fee_bps: 30, protocol_fee_share_bps: 0 };
    // Pool000's reserve_b is 1000: this input would buy less than one base unit, which the
    // program refuses, and so does the quote.
    assert!(swap_exact_in(1_000_000, 1_000_000_000, 1_000, fees).is_err());
    let (status, body, _) = get(&f.app, "/api/v1/quote?pool=Pool000&a_to_b=true&amount=1000000").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "unprocessable");
    let (status, body, _) = get(&f.app, "/api/v1/quote?pool=Pool000&a_to_b=false&amount=10").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let q = swap_exact_in(10, 1_000, 1_000_000_000, fees).unwrap();
    assert_eq!(body["amount_out"], q.amount_out.to_string());
    assert_eq!(body["input_mint"], "MintB");
    let (status, body, _) = get(&f.app, "/api/v1/quote?pool=Pool000&a_to_b=false&amount=500000&mode=exact_out").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let q = swap_exact_out(500_000, 1_000, 1_000_000_000, fees).unwrap();
    assert_eq!(body["amount_in"], q.amount_in.to_string());
    let (status, body, _) =
        get(&f.app, "/api/v1/quote?pool=Pool000&a_to_b=false&amount=1000000000&mode=exact_out").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "draining the pool has no quote: {body}");
    let (status, _, _) =
        get(&f.app, "/api/v1/quote?pool=0x0000000000000000000000000000000000000001&chain=bsc&a_to_b=true&amount=5")
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "quotes are for our AMM pools only");
}

#[tokio::test]
async fn openapi_document_and_docs_page() {
    let f = fixture().await;
    let (status, doc, _) = get(&f.app, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/health",
        "/api/v1/pools",
        "/api/v1/pools/{chain}/{address}",
        "/api/v1/tokens/{chain}/{address}",
        "/api/v1/quote",
        "/api/v1/discoveries",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let resp = f.app.clone().oneshot(Request::get("/api/v1/docs").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_database_from_a_newer_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.db");
    let state = open(&path, 1).await.unwrap();
    state.db.close().await;
    let rw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99999999999999, 'future', 1, x'00', 0)")
        .execute(&rw)
        .await
        .unwrap();
    rw.close().await;
    match open(&path, 1).await {
        Err(app_api::StartError::UnknownMigration(v)) => assert_eq!(v, 99999999999999),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

async fn register_and_login(app: &Router, user: &str) -> String {
    let creds = serde_json::json!({"username": user, "password": "correct horse battery"});
    let (status, body) = send(app, "POST", "/api/v1/auth/register", None, Some(creds.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = send(app, "POST", "/api/v1/auth/login", None, Some(creds)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn auth_sessions_roles_and_audit() {
    let f = fixture().await;
    let app = &f.app;
    // Bad registrations name the field; a taken username is a 409.
    for (body, field) in [
        (serde_json::json!({"username": "A!", "password": "correct horse battery"}), "username"),
        (serde_json::json!({"username": "alice", "password": "short"}), "password"),
        (serde_json::json!({"username": "alice"}), "password"),
        (serde_json::json!({"username": "alice", "password": "correct horse battery", "role": "operator"}), "role"),
    ] {
        let (status, resp) = send(app, "POST", "/api/v1/auth/register", None, Some(body)).await;
        assert_eq!((status, resp["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{resp}");
    }
    let viewer = register_and_login(app, "alice").await;
    let (status, _) = send(
        app,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(serde_json::json!({"username": "alice", "password": "another long password"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Wrong password and unknown user are the same 401.
    for creds in [
        serde_json::json!({"username": "alice", "password": "wrong horse battery"}),
        serde_json::json!({"username": "nobody", "password": "correct horse battery"}),
    ] {
        let (status, body) = send(app, "POST", "/api/v1/auth/login", None, Some(creds)).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    }
    let (status, body) = send(app, "GET", "/api/v1/auth/me", Some(&viewer), None).await;
    assert_eq!((status, body["role"].as_str()), (StatusCode::OK, Some("viewer")));

    // Operator routes: 401 without a session, 403 for a viewer.
    let (status, _) = send(app, "POST", "/api/v1/keeper/pause", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(app, "POST", "/api/v1/keeper/pause", Some("forged-token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = send(app, "POST", "/api/v1/keeper/pause", Some(&viewer), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (_, controls) = send(app, "GET", "/api/v1/keeper/controls", Some(&viewer), None).await;
    assert_eq!(controls["paused"], false, "a forbidden call changes nothing");

    // An operator pauses, sets limits, resumes.
    let op = register_and_login(app, "olga").await;
    sqlx::query("UPDATE users SET role = 'operator' WHERE username = 'olga'").execute(&f.state.writer).await.unwrap();
    let (status, body) = send(app, "POST", "/api/v1/keeper/pause", Some(&op), None).await;
    assert_eq!((status, body["paused"].as_bool()), (StatusCode::OK, Some(true)), "{body}");
    let limits = serde_json::json!({"max_risk_score": 30, "max_open_positions": 5, "max_slippage_bps": 300,
        "budgets": {"ethereum": {"max_buy": "100000000000000000", "daily_budget": "1000000000000000000"}}});
    let (status, body) = send(app, "PUT", "/api/v1/keeper/limits", Some(&op), Some(limits.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["limits"], limits);
    assert_eq!(body["updated_by"], "olga");
    for (patch, field) in [
        (serde_json::json!({"max_risk_score": 101}), "max_risk_score"),
        (serde_json::json!({"budgets": {"ethereum": {"max_buy": "1.5"}}}), "budgets.ethereum.max_buy"),
        (serde_json::json!({"budgets": {"Eth": {}}}), "budgets.Eth"),
        (serde_json::json!({"max_slippage_bps": 0}), "max_slippage_bps"),
        (serde_json::json!({"max_open_positions": -1}), "max_open_positions"),
    ] {
        let mut bad = limits.clone();
        for (k, v) in patch.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let (status, body) = send(app, "PUT", "/api/v1/keeper/limits", Some(&op), Some(bad)).await;
        assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body}");
    }
    let (_, body) = send(app, "GET", "/api/v1/keeper/controls", Some(&op), None).await;
    assert_eq!(body["limits"], limits, "refused limits changed nothing");
    let (_, body) = send(app, "POST", "/api/v1/keeper/resume", Some(&op), None).await;
    assert_eq!(body["paused"], false);

    // Logout revokes the session; an expired session is refused too.
    let (status, _) = send(app, "POST", "/api/v1/auth/logout", Some(&viewer), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(app, "GET", "/api/v1/auth/me", Some(&viewer), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    sqlx::query("UPDATE sessions SET expires_at_ms = 1").execute(&f.state.writer).await.unwrap();
    let (status, _) = send(app, "POST", "/api/v1/keeper/pause", Some(&op), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Tokens are stored hashed; passwords as argon2id.
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_all(&f.state.writer).await.unwrap();
    assert!(!stored.contains(&op) && stored.iter().all(|h| h.len() == 64));
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'olga'")
        .fetch_one(&f.state.writer)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    // Every auth event and operator action is audited.
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id").fetch_all(&f.state.writer).await.unwrap();
    for a in
        ["register", "login", "login_failed", "forbidden", "keeper_pause", "keeper_limits", "keeper_resume", "logout"]
    {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
}

#[tokio::test]
async fn requests_over_the_rate_limit_get_429_per_ip() {
    let mut f = fixture().await;
    f.state.limiter = std::sync::Arc::new(app_api::ratelimit::RateLimiter::new(5));
    let app = router(f.state.clone(), &Limits::default());
    let from = |ip: [u8; 4]| {
        let mut req = Request::get("/api/v1/health").body(Body::empty()).unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((ip, 4000))));
        req
    };
    for _ in 0..5 {
        assert_eq!(app.clone().oneshot(from([10, 0, 0, 1])).await.unwrap().status(), StatusCode::OK);
    }
    let resp = app.clone().oneshot(from([10, 0, 0, 1])).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(
        app.clone().oneshot(from([10, 0, 0, 2])).await.unwrap().status(),
        StatusCode::OK,
        "other IPs unaffected"
    );
}

#[tokio::test]
async fn prometheus_metrics() {
    let f = fixture().await;
    for _ in 0..3 {
        get(&f.app, "/api/v1/pools?limit=5").await;
    }
    get(&f.app, "/api/v1/pools?limit=0").await;
    let resp = f.app.clone().oneshot(Request::get("/api/v1/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    for line in [
        "app_api_requests_total{method=\"GET\",route=\"/api/v1/pools\",status=\"200\"} 3",
        "app_api_requests_total{method=\"GET\",route=\"/api/v1/pools\",status=\"400\"} 1",
        "app_api_request_duration_seconds_count{route=\"/api/v1/pools\"} 4",
        "mirror_pools{chain=\"bsc\",liquidity=\"funded\"} 60",
        "mirror_transactions_total{chain=\"solana\",kind=\"swap\"} 75",
        "app_api_active_sessions 0",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    assert!(text.contains("process_resident_memory_bytes "));
    assert!(text.contains("app_api_db_connections{state=\"idle\"}"));
}

/// A real server on 127.0.0.1: a websocket client receives discoveries and swaps as the keeper
/// mirrors them, filtered by chain.
#[tokio::test]
async fn the_stream_pushes_new_discoveries_and_swaps() {
    use futures::StreamExt;
    let f = fixture().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = f.app.clone();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/stream?chain=solana")).await.unwrap();
    f.state.stream.rounds_done(0).await; // the poller has its baseline
    let rw =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", f._dir.path().join("keeper.db").display())).await.unwrap();
    sqlx::query("INSERT INTO pools (chain, venue, address, token_a, token_b, first_seen_at_ms) VALUES ('bsc', 'uniswap_v2', '0xbb', 'a', 'b', 1)")
        .execute(&rw).await.unwrap();
    sqlx::query("INSERT INTO pools (chain, venue, address, token_a, token_b, first_seen_at_ms) VALUES ('solana', 'amm', 'NewPool', 'a', 'b', 2)")
        .execute(&rw).await.unwrap();
    sqlx::query("INSERT INTO pool_events (chain, pool_address, tx_id, ix_index, event_index, slot, kind, a_to_b, amount_in, amount_out, data, ingested_at_ms)
                 VALUES ('solana', 'NewPool', 'sigX', 0, 0, 9, 'swap', 1, '100', '95', '{}', 0)")
        .execute(&rw).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")
            .unwrap()
            .unwrap();
        got.push(serde_json::from_str::<Value>(msg.to_text().unwrap()).unwrap());
    }
    assert_eq!(got[0]["type"], "discovery");
    assert_eq!(got[0]["pool"], "NewPool", "the bsc pool is filtered out");
    assert_eq!(got[1]["type"], "swap");
    assert_eq!(got[1]["amount_out"], "95");

    // The keeper's trades: each status a trade reaches, once, on a trades-only subscription.
    let (mut trades_ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/stream?types=trade")).await.unwrap();
    let mut next = async || {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), trades_ws.next())
            .await
            .expect("a trade message in time")
            .unwrap()
            .unwrap();
        serde_json::from_str::<Value>(msg.to_text().unwrap()).unwrap()
    };
    sqlx::query(
        "INSERT INTO positions (id, chain, mode, status, pool_id, pool_address, venue, token, quote_token, opened_at_ms)
         VALUES (1, 'local', 'live', 'opening', 1, '0xpool', 'uniswap_v2', '0xtok', '0xweth', 1)",
    )
    .execute(&rw)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO trades (id, position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
            created_at_ms) VALUES (1, 1, 'local', 'live', 'buy', 'snipe', 'intent', '0xtok', '100', '90', '85', 1)",
    )
    .execute(&rw)
    .await
    .unwrap();
    let m = next().await;
    assert_eq!(
        (m["type"].as_str(), m["status"].as_str(), m["chain"].as_str()),
        (Some("trade"), Some("intent"), Some("local"))
    );
    assert_eq!(
        (m["side"].as_str(), m["amount_in"].as_str(), m["min_out"].as_str()),
        (Some("buy"), Some("100"), Some("85"))
    );
    sqlx::query("UPDATE trades SET status = 'sent', tx_ids = '[\"0xh\"]' WHERE id = 1").execute(&rw).await.unwrap();
    assert_eq!(next().await["status"], "sent");
    // Two more looks at the unchanged trade: nothing new is pushed (the next message is the
    // confirmation below, not the same status again).
    let looked = f.state.stream.rounds().unwrap_or(0);
    f.state.stream.rounds_done(looked + 2).await;
    sqlx::query("UPDATE trades SET status = 'confirmed', amount_out = '88', tx_id = '0xh', block = 7 WHERE id = 1")
        .execute(&rw)
        .await
        .unwrap();
    let m = next().await;
    assert_eq!(
        (m["status"].as_str(), m["amount_out"].as_str(), m["block"].as_i64()),
        (Some("confirmed"), Some("88"), Some(7))
    );
    // Settled: a later unrelated change to the row is not streamed again; a new trade is.
    sqlx::query("UPDATE trades SET error = 'x' WHERE id = 1").execute(&rw).await.unwrap();
    sqlx::query(
        "INSERT INTO trades (id, position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
            created_at_ms) VALUES (2, 1, 'local', 'live', 'sell', 'take_profit', 'failed', '0xtok', '88', '1', '1', 2)",
    )
    .execute(&rw)
    .await
    .unwrap();
    let m = next().await;
    assert_eq!((m["id"].as_i64(), m["side"].as_str(), m["status"].as_str()), (Some(2), Some("sell"), Some("failed")));
    let (status, body, _) = get(&f.app, "/api/v1/stream?types=trade,quote").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("types")), "{body}");
    let (status, body, _) = get(&f.app, "/api/v1/stream?types=trade").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UPGRADE_REQUIRED, Some("upgrade_required")), "{body}");
}

#[tokio::test]
async fn anonymous_reads_are_micro_cached_for_the_ttl_only() {
    let mut f = fixture().await;
    f.state.cache = std::sync::Arc::new(app_api::cache::ResponseCache::new(std::time::Duration::from_millis(300)));
    let app = router(f.state.clone(), &Limits::default());
    let (_, before, _) = get(&app, "/api/v1/pools?limit=1").await;
    let rw =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", f._dir.path().join("keeper.db").display())).await.unwrap();
    sqlx::query("INSERT INTO pools (chain, venue, address, token_a, token_b, first_seen_at_ms) VALUES ('solana', 'amm', 'Newest', 'a', 'b', 99999999)")
        .execute(&rw).await.unwrap();
    let (_, cached, _) = get(&app, "/api/v1/pools?limit=1").await;
    assert_eq!(cached, before, "within the TTL: the cached page");
    let (_, other, _) = get(&app, "/api/v1/pools?limit=2").await;
    assert_eq!(other["items"][0]["address"], "Newest", "another URL is not served from the cache");
    tokio::time::pause();
    tokio::time::advance(std::time::Duration::from_millis(350)).await;
    tokio::time::resume();
    let (_, fresh, _) = get(&app, "/api/v1/pools?limit=1").await;
    assert_eq!(fresh["items"][0]["address"], "Newest", "after the TTL: fresh data");
}

#[tokio::test]
async fn trades_and_positions_with_pnl() {
    let f = fixture().await;
    let w = &f.state.writer;
    for (id, status, size, cost, proceeds, last) in [
        (1, "closed", "0", "1000", "1500", None),
        (2, "open", "5000", "1000", "0", Some("700")),
        (3, "failed", "0", "0", "0", None),
    ] {
        sqlx::query(
            "INSERT INTO positions (id, chain, mode, status, pool_id, pool_address, venue, token, quote_token, size, cost,
                proceeds, last_value, opened_at_ms)
             VALUES (?, 'local', 'live', ?, 1, '0xpool', 'uniswap_v2', ?, '0xweth', ?, ?, ?, ?, 1)",
        )
        .bind(id)
        .bind(status)
        .bind(format!("0xtoken{id}"))
        .bind(size)
        .bind(cost)
        .bind(proceeds)
        .bind(last)
        .execute(w)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO trades (position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
                created_at_ms) VALUES (?, 'local', 'live', 'buy', 'snipe', ?, ?, ?, '1', '1', 1)",
        )
        .bind(id)
        .bind(if status == "failed" { "failed" } else { "confirmed" })
        .bind(format!("0xtoken{id}"))
        .bind(cost)
        .execute(w)
        .await
        .unwrap();
    }
    let (status, body, _) = get(&f.app, "/api/v1/positions?chain=local").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[2]["realized_pnl"], "500");
    assert_eq!(items[1]["unrealized_pnl"], "-300");
    assert_eq!(items[0]["realized_pnl"], serde_json::Value::Null);
    let (_, body, _) = get(&f.app, "/api/v1/positions?status=open").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (_, body, _) = get(&f.app, "/api/v1/trades?side=buy&status=failed").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["chain"], "local");
    let (_, page, _) = get(&f.app, "/api/v1/trades?limit=2").await;
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, rest, _) = get(&f.app, &format!("/api/v1/trades?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1, "three trades over two pages");
    let (status, body, _) = get(&f.app, "/api/v1/trades?side=hold").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("side")));
}

/// A trapped position (its simulated sale reverts) is listed with when and why, its PnL is the
/// loss at the simulated value, and its health history is served with each finding.
#[tokio::test]
async fn trapped_positions_show_the_loss_and_their_health_history() {
    let f = fixture().await;
    let w = &f.state.writer;
    sqlx::query(
        "INSERT INTO positions (id, chain, mode, status, pool_id, pool_address, venue, token, quote_token, size, cost,
            last_value, opened_at_ms, trapped_at_ms, trapped_reason)
         VALUES (4, 'local', 'live', 'trapped', 1, '0xpool', 'uniswap_v2', '0xtoken4', '0xweth', '5000', '1000', '0', 1, 2,
            'selling it reverts (<b>no</b>)')",
    )
    .execute(w)
    .await
    .unwrap();
    let finding = r#"{"check":"trapped","severity":"critical","explanation":"Trapped: selling it reverts.","measured":{"block":7}}"#;
    sqlx::query(
        "INSERT INTO position_events (position_id, kind, block, finding, created_at_ms) VALUES (4, 'trapped', 7, ?, 2)",
    )
    .bind(finding)
    .execute(w)
    .await
    .unwrap();
    let (status, body, _) = get(&f.app, "/api/v1/positions?status=trapped").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let item = &body["items"][0];
    assert_eq!((item["id"].as_i64(), item["status"].as_str()), (Some(4), Some("trapped")));
    assert_eq!(item["unrealized_pnl"], "-1000", "valued at what the simulated sale returns: nothing");
    assert_eq!(item["trapped_reason"], "selling it reverts (<b>no</b>)", "chain text is data, returned as JSON text");
    assert_eq!(item["trapped_at_ms"], 2);
    let (status, events, _) = get(&f.app, "/api/v1/positions/4/events").await;
    assert_eq!(status, StatusCode::OK, "{events}");
    assert_eq!(events[0]["kind"], "trapped");
    assert_eq!(events[0]["block"], 7);
    assert_eq!(events[0]["finding"]["severity"], "critical");
    let (status, body, _) = get(&f.app, "/api/v1/positions/99/events").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, body, _) = get(&f.app, "/api/v1/positions/abc/events").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("id")));
}

/// What the keeper's external services add: DexScreener's market on pools, USD values on
/// positions, 0x / 1inch comparisons on trades (each empty until the keeper wrote it).
#[tokio::test]
async fn pools_positions_and_trades_carry_external_data() {
    let f = fixture().await;
    let w = &f.state.writer;
    let (_, bare, _) = get(&f.app, "/api/v1/pools/solana/Pool000").await;
    assert_eq!(bare["market"], Value::Null, "not enriched yet");
    sqlx::query(
        "INSERT INTO token_markets (chain, token, listed, dex, pair_address, url, price_usd, liquidity_usd, fdv_usd,
            market_cap_usd, pair_created_at_ms, websites, socials, fetched_at_ms)
         VALUES ('solana', 'MintA', 1, 'raydium', 'Pair1', 'https://dexscreener.com/solana/pair1', '0.000012345',
            '3000.5', '150250', '150000', 77, '[\"https://t.example\"]', '[\"twitter:https://x.com/t\"]', 99)",
    )
    .execute(w)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO token_markets (chain, token, listed, websites, socials, fetched_at_ms)
         VALUES ('bsc', '0x00000000000000000000000000000000000000aa', 0, '[]', '[]', 98)",
    )
    .execute(w)
    .await
    .unwrap();
    let (_, detail, _) = get(&f.app, "/api/v1/pools/solana/Pool000").await;
    let m = &detail["market"];
    assert_eq!(m["listed"], true);
    assert_eq!((m["dex"].as_str(), m["pair_address"].as_str()), (Some("raydium"), Some("Pair1")));
    assert_eq!(m["price_usd"], "0.000012345", "exact decimal strings");
    assert_eq!((m["liquidity_usd"].as_str(), m["market_cap_usd"].as_str()), (Some("3000.5"), Some("150000")));
    assert_eq!(m["pair_created_at_ms"], 77);
    assert_eq!(m["websites"], serde_json::json!(["https://t.example"]));
    assert_eq!(m["socials"], serde_json::json!(["twitter:https://x.com/t"]));
    let (_, honey, _) = get(&f.app, &format!("/api/v1/pools/bsc/0x{:040x}", 7)).await;
    assert_eq!((honey["market"]["listed"].as_bool(), honey["market"]["dex"].as_str()), (Some(false), None));
    let (_, list, _) = get(&f.app, "/api/v1/pools?chain=solana&limit=200").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 60);
    assert!(items.iter().all(|p| p["market"]["dex"] == "raydium"), "every Solana pool's base token is MintA");

    sqlx::query(
        "INSERT INTO positions (id, chain, mode, status, pool_id, pool_address, venue, token, quote_token, size, cost,
            proceeds, last_value, opened_at_ms, quote_usd, cost_usd, proceeds_usd, value_usd, pnl_usd, usd_at_ms)
         VALUES (1, 'solana', 'live', 'open', 1, 'Pair1', 'raydium', 'MintA', 'So11111111111111111111111111111111111111112',
            '5000', '1000000000', '0', '900000000', 1, '150.25', '150.25', '0', '135.225', '-15.025', 5)",
    )
    .execute(w)
    .await
    .unwrap();
    for (id, side, reason) in [(1, "buy", "snipe"), (2, "sell", "take_profit")] {
        sqlx::query(
            "INSERT INTO trades (id, position_id, chain, mode, side, reason, status, token, amount_in, quoted_out,
                min_out, created_at_ms) VALUES (?1, 1, 'bsc', 'live', ?2, ?3, 'confirmed', 'MintA', '1000', '2000', '1900', ?1)",
        )
        .bind(id)
        .bind(side)
        .bind(reason)
        .execute(w)
        .await
        .unwrap();
    }
    for (service, theirs, diff, error) in
        [("zeroex", Some("2010"), Some(50), None), ("oneinch", None, None, Some("oneinch: HTTP 500: down"))]
    {
        sqlx::query(
            "INSERT INTO aggregator_quotes (trade_id, chain, service, our_out, their_out, diff_bps, error, created_at_ms)
             VALUES (1, 'bsc', ?, '2000', ?, ?, ?, 3)",
        )
        .bind(service)
        .bind(theirs)
        .bind(diff)
        .bind(error)
        .execute(w)
        .await
        .unwrap();
    }
    let (status, body, _) = get(&f.app, "/api/v1/positions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let p = &body["items"][0];
    assert_eq!(p["venue"], "raydium");
    assert_eq!((p["quote_usd"].as_str(), p["cost_usd"].as_str()), (Some("150.25"), Some("150.25")));
    assert_eq!((p["value_usd"].as_str(), p["pnl_usd"].as_str()), (Some("135.225"), Some("-15.025")));
    assert_eq!(p["usd_at_ms"], 5);
    let (_, body, _) = get(&f.app, "/api/v1/trades").await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items[0]["aggregator_quotes"], serde_json::json!([]), "the sell was not compared");
    let quotes = items[1]["aggregator_quotes"].as_array().unwrap();
    assert_eq!(quotes.len(), 2);
    assert_eq!(
        (quotes[0]["service"].as_str(), quotes[0]["error"].as_str()),
        (Some("oneinch"), Some("oneinch: HTTP 500: down"))
    );
    assert_eq!(quotes[0]["their_out"], Value::Null);
    assert_eq!((quotes[1]["service"].as_str(), quotes[1]["their_out"].as_str()), (Some("zeroex"), Some("2010")));
    assert_eq!(quotes[1]["diff_bps"], 50);
    assert!(quotes[1].get("trade_id").is_none());
}

/// A login flood never stalls reads: 200 wrong-password logins in flight at once (argon2 on
/// blocking threads, bounded), while `GET /api/v1/pools` keeps answering under 50 ms at p99.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_login_flood_leaves_reads_fast() {
    let f = fixture().await;
    // One async worker: hashing must never run there. Long enough a timeout that every queued
    // login is answered, not cut off, and no per-IP rate limit in the way (all requests here
    // come from one address).
    let mut state = f.state.clone();
    state.limiter = std::sync::Arc::new(app_api::ratelimit::RateLimiter::new(u32::MAX));
    let app = router(state, &Limits { timeout: std::time::Duration::from_secs(300), ..Limits::default() });
    register_and_login(&app, "flooded").await;
    let pending = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(200));
    let flood = std::time::Instant::now();
    let mut logins = Vec::new();
    for i in 0..200 {
        let (app, pending) = (app.clone(), pending.clone());
        logins.push(tokio::spawn(async move {
            let creds = serde_json::json!({"username": "flooded", "password": format!("wrong password {i}")});
            let (status, _) = send(&app, "POST", "/api/v1/auth/login", None, Some(creds)).await;
            pending.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            status
        }));
    }
    // Reads while at least half of the flood is still waiting, on the runtime's workers like
    // every request a server handles (not on the test's own thread).
    let reader = tokio::spawn({
        let (app, pending) = (app.clone(), pending.clone());
        async move {
            let mut latencies = Vec::new();
            while pending.load(std::sync::atomic::Ordering::SeqCst) > 100 {
                // A request arrives: it waits for a free worker (as one from a socket would),
                // then is served. Its latency counts both.
                let started = std::time::Instant::now();
                tokio::task::yield_now().await;
                let read = tokio::time::timeout(std::time::Duration::from_secs(5), get(&app, "/api/v1/pools?limit=50"));
                let (status, body, _) = read.await.expect("a read during the flood took over 5 s");
                latencies.push(started.elapsed());
                assert_eq!(status, StatusCode::OK);
                assert_eq!(body["items"].as_array().map(Vec::len), Some(50));
            }
            latencies
        }
    });
    let mut latencies = reader.await.unwrap();
    for l in logins {
        assert_eq!(l.await.unwrap(), StatusCode::UNAUTHORIZED, "every wrong login is refused, none cut off");
    }
    // What one login cost in this run, under whatever load the machine has now: the flood's
    // time spread over its logins, which hash `permits` at a time.
    let permits = u32::try_from(std::thread::available_parallelism().map_or(2, usize::from) / 2).unwrap_or(1).max(1);
    let per_login = flood.elapsed() * permits / 200;
    assert!(latencies.len() >= 20, "only {} reads during the flood", latencies.len());
    latencies.sort_unstable();
    let (p50, p99) = (latencies[latencies.len() / 2], latencies[latencies.len() * 99 / 100]);
    println!("login flood: {} reads, p50 {p50:?}, p99 {p99:?}; {per_login:?} per login", latencies.len());
    assert!(p99 < std::time::Duration::from_millis(50), "p99 {p99:?} over {} reads", latencies.len());
    // And a read does not wait for a hash on its worker: were hashing inline, the slowest reads
    // would wait for most of a login in progress (measured: p99 30 ms against 30 ms per login;
    // on blocking threads 4.5 ms against 38 ms).
    assert!(p99 < per_login / 2, "p99 {p99:?} against {per_login:?} per login: reads wait for hashing");
}

/// Force-exit: an operator asks the keeper to sell an open or trapped position (audited);
/// asking again changes nothing; viewers are refused; closed and unknown positions are errors.
#[tokio::test]
async fn an_operator_asks_for_a_force_exit() {
    let f = fixture().await;
    let (app, w) = (&f.app, &f.state.writer);
    for (id, status) in [(5, "open"), (6, "closed")] {
        sqlx::query(
            "INSERT INTO positions (id, chain, mode, status, pool_id, pool_address, venue, token, quote_token, size, cost,
                opened_at_ms)
             VALUES (?, 'local', 'live', ?, 1, '0xpool', 'uniswap_v2', ?, '0xweth', '5000', '1000', 1)",
        )
        .bind(id)
        .bind(status)
        .bind(format!("0xtoken{id}"))
        .execute(w)
        .await
        .unwrap();
    }
    let viewer = register_and_login(app, "vera").await;
    let (status, _) = send(app, "POST", "/api/v1/positions/5/exit", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(app, "POST", "/api/v1/positions/5/exit", Some(&viewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let op = register_and_login(app, "otto").await;
    sqlx::query("UPDATE users SET role = 'operator' WHERE username = 'otto'").execute(w).await.unwrap();
    let (status, body) = send(app, "POST", "/api/v1/positions/5/exit", Some(&op), None).await;
    assert_eq!((status, body["new_request"].as_bool()), (StatusCode::ACCEPTED, Some(true)), "{body}");
    let (status, body) = send(app, "POST", "/api/v1/positions/5/exit", Some(&op), None).await;
    assert_eq!((status, body["new_request"].as_bool()), (StatusCode::ACCEPTED, Some(false)), "{body}");
    let (by,): (String,) =
        sqlx::query_as("SELECT requested_by FROM exit_requests WHERE position_id = 5").fetch_one(w).await.unwrap();
    assert_eq!(by, "api:otto");
    let (status, body) = send(app, "POST", "/api/v1/positions/6/exit", Some(&op), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");
    let (status, body) = send(app, "POST", "/api/v1/positions/77/exit", Some(&op), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, body) = send(app, "POST", "/api/v1/positions/x/exit", Some(&op), None).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("id")));
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'position_exit' AND username = 'otto'")
            .fetch_one(w)
            .await
            .unwrap();
    assert_eq!(audited, 2);
}

/// The built dashboard is served at `/`: the page with no-cache and a content security policy
/// that runs only its own scripts, its hashed assets immutable; the API is unchanged beside it.
#[tokio::test]
async fn the_dashboard_is_served_beside_the_api_with_its_caching_headers() {
    let f = fixture().await;
    let dist = tempfile::tempdir().unwrap();
    std::fs::create_dir(dist.path().join("assets")).unwrap();
    std::fs::write(dist.path().join("index.html"), "<!doctype html><div id=\"root\"></div>").unwrap();
    std::fs::write(dist.path().join("assets/index-abc123.js"), "console.log(1)").unwrap();
    let limits = Limits { dashboard: Some(dist.path().to_path_buf()), ..Default::default() };
    let app = router(f.state.clone(), &limits);
    let page = |uri: &'static str| {
        let app = app.clone();
        async move {
            let r = app.oneshot(axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap()).await.unwrap();
            let (status, headers) = (r.status(), r.headers().clone());
            let body = r.into_body().collect().await.unwrap().to_bytes();
            (status, headers, String::from_utf8_lossy(&body).to_string())
        }
    };
    let (status, headers, body) = page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=\"root\""));
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let (status, headers, body) = page("/assets/index-abc123.js").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "console.log(1)"));
    assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
    let (status, headers, _) = page("/assets/missing.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(headers.get("cache-control").is_some());
    let (status, health, headers) = get(&app, "/api/v1/health").await;
    assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(headers["cache-control"], "no-store", "API answers are never cached");
    let (status, body, _) = get(&app, "/api/v1/nowhere").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    // Without a dashboard, `/` is the API's JSON 404.
    let (status, body, _) = get(&f.app, "/").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

/// What the dashboard reads beyond the lists: a pool's token label, a pool's positions and
/// trades with each buy's latency funnel, performance by hand, the overview of budgets and
/// breakers, and the audit log (operators only).
#[tokio::test]
async fn dashboard_reads_funnel_performance_overview_and_audit() {
    let f = fixture().await;
    let (app, w) = (&f.app, &f.state.writer);
    // Pool 8 (bsc, 0x..07) trades the token the fixture named HNY.
    let (_, pool, _) = get(app, &format!("/api/v1/pools/bsc/0x{:040x}", 7)).await;
    assert_eq!((pool["base_symbol"].as_str(), pool["base_decimals"].as_i64()), (Some("HNY"), Some(18)), "{pool}");
    assert_eq!(pool["quote_decimals"], Value::Null, "MintB was never read");

    let now = app_api::now_ms();
    // Three closed positions in 0xpool (PnL +50, -30, +20, the last two today) and one open
    // elsewhere; each bought with a funnel.
    for (id, status, pool, cost, proceeds, closed) in [
        (1, "closed", "0xpool", "100", "150", Some(1_000)),
        (2, "closed", "0xpool", "100", "70", Some(now - 10)),
        (3, "closed", "0xpool", "100", "120", Some(now - 5)),
        (4, "open", "0xother", "40", "0", None),
    ] {
        sqlx::query(
            "INSERT INTO positions (id, chain, mode, status, pool_id, pool_address, venue, token, quote_token, size, cost,
                proceeds, opened_at_ms, closed_at_ms)
             VALUES (?, 'bsc', 'dry_run', ?, 8, ?, 'pancakeswap_v2', ?, '0xwbnb', '0', ?, ?, 1, ?)",
        )
        .bind(id)
        .bind(status)
        .bind(pool)
        .bind(format!("0xtoken{id}"))
        .bind(cost)
        .bind(proceeds)
        .bind(closed)
        .execute(w)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO trades (position_id, chain, mode, side, reason, status, token, amount_in, quoted_out, min_out,
                block, latency_us, created_at_ms, sent_at_ms, settled_at_ms)
             VALUES (?, 'bsc', 'dry_run', 'buy', 'snipe', 'confirmed', ?, ?, '1', '1', 9, 1234, ?, ?, ?)",
        )
        .bind(id)
        .bind(format!("0xtoken{id}"))
        .bind(cost)
        .bind(now - 100)
        .bind(now - 99)
        .bind(now - 90)
        .execute(w)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO decisions (report_id, pool_id, chain, token, mode, action, detail, position_id, decided_at_ms)
         VALUES (1, 8, 'bsc', '0xtoken1', 'dry_run', 'buy', 'bought', 1, ?)",
    )
    .bind(now - 101)
    .execute(w)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO trading_state (chain, mode, consecutive_failures, breaker_open_until_ms, updated_at_ms)
         VALUES ('bsc', 'dry_run', 3, ?, 1)",
    )
    .bind(now + 60_000)
    .execute(w)
    .await
    .unwrap();

    let (status, body, _) = get(app, "/api/v1/positions?pool=0xpool").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.iter().map(|p| p["id"].as_i64().unwrap()).collect::<Vec<_>>(), [3, 2, 1]);
    let first = &items[2];
    assert_eq!(first["seen_at_ms"], 1_000_007, "the pool's first sight");
    // Decided: the buy's intent recorded (the decision row is written once the buy settled).
    assert_eq!((first["decided_at_ms"].as_i64(), first["sent_at_ms"].as_i64()), (Some(now - 100), Some(now - 99)));
    assert_eq!(first["included_at_ms"].as_i64(), Some(now - 90));
    assert_eq!((first["launch_block"].as_i64(), first["buy_block"].as_i64()), (Some(7), Some(9)));
    assert_eq!(first["latency_us"], 1234);
    assert_eq!(items[0]["decided_at_ms"].as_i64(), Some(now - 100), "every buy has its intent");
    let (_, trades, _) = get(app, "/api/v1/trades?pool=0xpool").await;
    assert_eq!(trades["items"].as_array().unwrap().len(), 3, "the pool's positions' trades only");
    let (status, body, _) = get(app, "/api/v1/trades?pool=no%20such").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("pool")));

    let (status, perf, _) = get(app, "/api/v1/performance?chain=bsc").await;
    assert_eq!(status, StatusCode::OK, "{perf}");
    let p = &perf[0];
    assert_eq!((p["closed"].as_u64(), p["wins"].as_u64(), p["losses"].as_u64()), (Some(3), Some(2), Some(1)));
    assert_eq!(p["win_rate_bps"], 6_666);
    assert_eq!((p["net_pnl"].as_str(), p["profit_factor"].as_str()), (Some("40"), Some("2.33")));
    assert_eq!((p["max_drawdown"].as_str(), p["today_pnl"].as_str()), (Some("30"), Some("-10")));
    assert_eq!(p["equity"].as_array().unwrap().len(), 3);
    let (status, body, _) = get(app, "/api/v1/performance?mode=paper").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("mode")));

    let settings = mirror::tasks::KeeperSettings {
        max_open_positions: 5,
        budgets: [(
            "bsc".to_string(),
            mirror::tasks::ChainSettings { daily_budget: "1000".into(), ..Default::default() },
        )]
        .into(),
        ..Default::default()
    };
    mirror::tasks::record_mode(w, true, false, &settings).await.unwrap();
    let (status, overview, _) = get(app, "/api/v1/overview").await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    let bsc = &overview["chains"][0];
    assert_eq!((bsc["chain"].as_str(), bsc["open_positions"].as_i64()), (Some("bsc"), Some(1)));
    assert_eq!((bsc["spent_today"].as_str(), bsc["daily_budget"].as_str()), (Some("340"), Some("1000")));
    assert_eq!((bsc["breaker_open"].as_bool(), bsc["consecutive_failures"].as_i64()), (Some(true), Some(3)));
    assert_eq!(bsc["max_open_positions"], 5);

    // The audit log: operators only, newest first.
    let viewer = register_and_login(app, "vic").await;
    let (status, _) = send(app, "GET", "/api/v1/audit", Some(&viewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let op = register_and_login(app, "opal").await;
    sqlx::query("UPDATE users SET role = 'operator' WHERE username = 'opal'").execute(w).await.unwrap();
    send(app, "POST", "/api/v1/keeper/pause", Some(&op), None).await;
    let (status, log) = send(app, "GET", "/api/v1/audit?limit=2", Some(&op), None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(
        (log["items"][0]["action"].as_str(), log["items"][0]["username"].as_str()),
        (Some("keeper_pause"), Some("opal"))
    );
    assert!(log["next_cursor"].is_string(), "registers and logins before it");
    let (_, overview, _) = get(app, "/api/v1/overview").await;
    assert_eq!(overview["paused"], true);
}

/// What the keeper's anomaly watch and `keeper backtest` / `keeper hyperopt` store, through their
/// own write paths: a pool's anomalies in its detail, stored backtests listed newest first in
/// pages and served whole, and bad ids refused with the right status.
#[tokio::test]
async fn anomalies_and_stored_backtests() {
    let f = fixture().await;
    let rw = mirror::open_writer(&f._dir.path().join("keeper.db"), std::time::Duration::from_secs(5)).await.unwrap();
    let finding = r#"{"check":"liquidity_drop","severity":"high","explanation":"The pool's quote reserve fell by 60.00%.","measured":{"from":"1000","to":"400","drop_bps":6000}}"#;
    let anomaly = mirror::anomalies::NewAnomaly {
        chain: "solana".into(),
        pool_id: 1,
        token: "MintA".into(),
        kind: "liquidity_drop".into(),
        severity: "high".into(),
        finding: finding.into(),
        evidence: "event:3".into(),
        slot: Some(40),
    };
    assert!(mirror::anomalies::insert(&rw, &anomaly).await.unwrap().is_some());
    assert_eq!(mirror::anomalies::insert(&rw, &anomaly).await.unwrap(), None, "the same evidence, once");
    let (status, body, _) = get(&f.app, "/api/v1/pools/solana/Pool000").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let anomalies = body["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 1, "{body}");
    assert_eq!(anomalies[0]["kind"], "liquidity_drop");
    assert_eq!(anomalies[0]["slot"], 40);
    assert_eq!(anomalies[0]["finding"]["measured"]["to"], "400");
    let (_, other, _) = get(&f.app, "/api/v1/pools/solana/Pool002").await;
    assert_eq!(other["anomalies"], serde_json::json!([]));

    let mut ids = Vec::new();
    for i in 0..3i64 {
        let b = mirror::backtests::NewBacktest {
            kind: if i == 2 { "hyperopt".into() } else { "backtest".into() },
            study: (i == 2).then(|| "tp".to_string()),
            chain: Some("solana".into()),
            from_ms: 0,
            to_ms: 86_400_000,
            trades: i + 1,
            total_profit: format!("-{}", 1_000 * i),
            settings: r#"{"fill_delay_blocks":1}"#.into(),
            report: format!(r#"{{"metrics":{{"trades":{}}}}}"#, i + 1),
        };
        ids.push(mirror::backtests::insert(&rw, &b).await.unwrap());
    }
    let (status, page, _) = get(&f.app, "/api/v1/backtests?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.iter().map(|b| b["id"].as_i64().unwrap()).collect::<Vec<_>>(), [ids[2], ids[1]]);
    assert_eq!((items[0]["kind"].as_str(), items[0]["study"].as_str()), (Some("hyperopt"), Some("tp")));
    assert_eq!(items[0]["total_profit"], "-2000");
    assert!(items[0].get("report").is_none(), "the list leaves the reports out");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest, _) = get(&f.app, &format!("/api/v1/backtests?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["id"], ids[0]);
    assert_eq!(rest["next_cursor"], Value::Null);

    let (status, one, _) = get(&f.app, &format!("/api/v1/backtests/{}", ids[1])).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!((one["trades"].as_i64(), one["report"]["metrics"]["trades"].as_i64()), (Some(2), Some(2)));
    assert_eq!(one["settings"]["fill_delay_blocks"], 1);
    let (status, body, _) = get(&f.app, "/api/v1/backtests/9999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body, _) = get(&f.app, "/api/v1/backtests/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "id", "{body}");
}
