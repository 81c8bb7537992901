//! The anomaly watch on a real mirror (SQLite file): synthetic pool histories, one per anomaly
//! class, and a calm one. Each class is flagged once on its pool, the calm pool gets nothing, a
//! second look (as after a restart) records nothing twice, an old pool nobody holds is not
//! watched, and every anomaly becomes one notification whose text escapes the token's symbol.

use std::time::Duration;

use keeper::{
    anomaly::{watch::AnomalyWatch, AnomalyConfig},
    notify::producer::{self, ProducerConfig},
};
use sqlx::SqlitePool;

const QUOTE: &str = "So11111111111111111111111111111111111111112";
const NOW: i64 = 10 * 86_400_000;

async fn pool(db: &SqlitePool, id: i64, seen_ms: i64) -> String {
    let address = format!("Pool{id}");
    let token = format!("Mint{id}");
    sqlx::query(
        "INSERT INTO pools (id, chain, venue, address, token_a, token_b, fee_bps, created_slot, first_seen_at_ms)
         VALUES (?, 'solana', 'amm', ?, ?, ?, 30, 0, ?)",
    )
    .bind(id)
    .bind(&address)
    .bind(&token)
    .bind(QUOTE)
    .bind(seen_ms)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tokens (chain, address, symbol, name, decimals, first_seen_at_ms) VALUES ('solana', ?, ?, 'x', 6, 0)",
    )
    .bind(&token)
    .bind(format!("<b>S{id}</b>\n"))
    .execute(db)
    .await
    .unwrap();
    address
}

/// One swap per slot: `quote_in` of the quote sold into the pool (b to a), reserves after.
async fn swaps(db: &SqlitePool, address: &str, from_slot: i64, rows: &[(u64, u64)]) {
    for (i, (quote_in, reserve_b)) in (0i64..).zip(rows) {
        let slot = from_slot + i;
        sqlx::query(
            "INSERT INTO pool_events (chain, pool_address, tx_id, ix_index, event_index, slot, kind, a_to_b,
                amount_in, amount_out, reserve_a_after, reserve_b_after, data, ingested_at_ms)
             VALUES ('solana', ?, ?, 0, 0, ?, 'swap', 0, ?, '1', '1000000', ?, '{}', 0)",
        )
        .bind(address)
        .bind(format!("{address}-{slot}"))
        .bind(slot)
        .bind(quote_in.to_string())
        .bind(reserve_b.to_string())
        .execute(db)
        .await
        .unwrap();
    }
}

async fn report(db: &SqlitePool, pool_id: i64, id: i64, sell_tax_bps: u32, top_bps: u32) {
    let findings = format!(
        r#"[{{"check":"sell_tax","severity":"info","explanation":"","measured":{{"bps":{sell_tax_bps}}}}},
            {{"check":"holder_concentration","severity":"info","explanation":"","measured":{{"top_bps":{top_bps}}}}}]"#
    );
    sqlx::query(
        "INSERT INTO risk_reports (id, pool_id, chain, pool_address, token, score, verdict, tradeable, summary,
            findings, measured_slot, discovered_at_ms, created_at_ms, elapsed_us)
         VALUES (?, ?, 'solana', ?, ?, 10, 'low', 1, '', ?, ?, 0, ?, 1)",
    )
    .bind(id)
    .bind(pool_id)
    .bind(format!("Pool{pool_id}"))
    .bind(format!("Mint{pool_id}"))
    .bind(findings)
    .bind(id * 10)
    .bind(NOW - 1_000 + id)
    .execute(db)
    .await
    .unwrap();
}

async fn anomalies(db: &SqlitePool) -> Vec<(i64, String, String)> {
    sqlx::query_as("SELECT pool_id, kind, evidence FROM anomalies ORDER BY pool_id, kind").fetch_all(db).await.unwrap()
}

#[tokio::test]
async fn each_anomaly_class_fires_once_on_its_pool_and_a_calm_pool_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let db = mirror::open_writer(&dir.path().join("keeper.db"), Duration::from_secs(5)).await.unwrap();
    mirror::migrate(&db).await.unwrap();
    let young = NOW - 3_600_000;
    // The notifier's first scan starts its cursors at what exists: only what follows is sent.
    let notify = ProducerConfig { down_after_ms: i64::MAX, daily_minute: None };
    producer::scan(&db, &notify, NOW).await.unwrap();

    // 1: calm: steady swaps, reserves within a few percent, taxes and holders steady.
    let calm = pool(&db, 1, young).await;
    let steady: Vec<(u64, u64)> = (0..120u64).map(|i| (1_000 + (i % 4) * 50, 1_000_000 + (i % 9) * 5_000)).collect();
    swaps(&db, &calm, 0, &steady).await;
    report(&db, 1, 1, 100, 2_000).await;
    report(&db, 1, 2, 300, 2_500).await;
    // 2: liquidity pulled: 1,000,000 of quote, then 400,000 ten slots later.
    let pulled = pool(&db, 2, young).await;
    let mut drained: Vec<(u64, u64)> = (0..20).map(|_| (1_000, 1_000_000)).collect();
    drained.extend((0..10u64).map(|i| (1_000, 1_000_000 - (i + 1) * 60_000)));
    swaps(&db, &pulled, 0, &drained).await;
    // 3: the sell tax jumps from 2% to 25%, and the top holders from 20% to 45%.
    pool(&db, 3, young).await;
    report(&db, 3, 3, 200, 2_000).await;
    report(&db, 3, 4, 2_500, 4_500).await;
    // 4: 1,000 of quote a slot for 100 slots (4 windows of 25), then 30 swaps of 10,000.
    let spiked = pool(&db, 4, young).await;
    let mut burst: Vec<(u64, u64)> = (0..100).map(|_| (1_000, 1_000_000)).collect();
    burst.extend((0..30).map(|_| (10_000, 1_000_000)));
    swaps(&db, &spiked, 0, &burst).await;
    // 5: pulled too, but discovered 3 days ago and not held: not watched.
    let old = pool(&db, 5, NOW - 3 * 86_400_000).await;
    swaps(&db, &old, 0, &drained).await;

    let mut watch = AnomalyWatch::new(db.clone(), AnomalyConfig::default());
    let look = watch.look(NOW).await.unwrap();
    assert_eq!(look.pools, 4, "the young pools with data");
    let got = anomalies(&db).await;
    let kinds: Vec<(i64, &str)> = got.iter().map(|(p, k, _)| (*p, k.as_str())).collect();
    assert_eq!(
        kinds,
        [(2, "liquidity_drop"), (3, "concentration_jump"), (3, "sell_tax_jump"), (4, "volume_spike")],
        "{got:?}"
    );
    assert_eq!(look.recorded, 4);
    let (drop, finding): (String, String) =
        sqlx::query_as("SELECT evidence, finding FROM anomalies WHERE kind = 'liquidity_drop'")
            .fetch_one(&db)
            .await
            .unwrap();
    let f: serde_json::Value = serde_json::from_str(&finding).unwrap();
    // The highest point in the window is the first of the 1,000,000 ones; -30% is first crossed
    // at 700,000 (the fifth step).
    assert_eq!((f["measured"]["from"].as_str(), f["measured"]["to"].as_str()), (Some("1000000"), Some("700000")));
    assert!(drop.starts_with("event:"), "{drop}");

    // A restart looks at everything again: nothing new.
    let mut again = AnomalyWatch::new(db.clone(), AnomalyConfig::default());
    assert_eq!(again.look(NOW).await.unwrap().recorded, 0);
    // Nothing changed since the last look: no pool is read.
    assert_eq!(watch.look(NOW).await.unwrap().pools, 0);
    // A further drain of the same pool from the same peak is the same anomaly; a new report on
    // the calm pool is looked at, and is calm.
    swaps(&db, &pulled, 30, &[(1_000, 100_000)]).await;
    report(&db, 1, 5, 400, 2_600).await;
    let look = watch.look(NOW).await.unwrap();
    assert_eq!((look.pools, look.recorded), (2, 0));

    // One notification per anomaly, the chain's text made harmless.
    producer::scan(&db, &notify, NOW).await.unwrap();
    let notes: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, title, body FROM notifications ORDER BY id").fetch_all(&db).await.unwrap();
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(notes.iter().all(|(k, _, _)| k == "anomaly"));
    let (_, title, body) = &notes[0];
    assert_eq!(title, "Anomaly, liquidity drop: <b>S2</b>?");
    assert!(body.contains("fell by 30.00%") && body.contains("Pool: Pool2"), "{body}");
    producer::scan(&db, &notify, NOW).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications").fetch_one(&db).await.unwrap();
    assert_eq!(count, 4, "a second scan sends nothing twice");
}
