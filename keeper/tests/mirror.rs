//! The SQLite mirror on real database files: exactly-once ingestion, checkpoints that advance
//! atomically with their rows, monotonic reserves, backpressure, draining on shutdown, and
//! refusing an unknown schema.

use std::time::Duration;

use amm::{client::AmmEvent, Reserves};
use anchor_lang::prelude::Pubkey;
use keeper::{
    bench::synthetic_events,
    chains::solana::event_rows::{event_row, EventPosition},
};
use mirror::{Batch, Checkpoint, MirrorError, PoolRow, ReservesUpdate, Row, TokenRow, WriterConfig};
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

async fn fresh() -> (tempfile::TempDir, SqlitePool) {
    let dir = tempfile::tempdir().unwrap();
    let pool = mirror::open_writer(&dir.path().join("mirror.db"), Duration::from_secs(5)).await.unwrap();
    mirror::migrate(&pool).await.unwrap();
    (dir, pool)
}

fn checkpoint(slot: u64) -> Checkpoint {
    Checkpoint {
        source: "solana:amm".into(),
        chain: "solana".into(),
        slot,
        cursor: Some(format!("sig{slot}")),
        head_slot: Some(slot + 5),
    }
}

fn batch_of(events: &[mirror::PoolEventRow], slot: u64) -> Batch {
    Batch { rows: events.iter().cloned().map(Row::Event).collect(), checkpoint: Some(checkpoint(slot)), urgent: false }
}

#[tokio::test]
async fn replaying_events_is_a_no_op() {
    let (_dir, pool) = fresh().await;
    let events = synthetic_events(500);
    let first = mirror::write_batches(&pool, &[batch_of(&events, 10)]).await.unwrap();
    assert_eq!((first.events_inserted, first.events_duplicate), (500, 0));
    let dump = |pool: SqlitePool| async move {
        sqlx::query_as::<_, (String, i64, i64, String)>(
            "SELECT tx_id, ix_index, event_index, data FROM pool_events ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let before = dump(pool.clone()).await;
    // The same events again, in another order and split differently: nothing changes.
    let mut shuffled = events.clone();
    shuffled.reverse();
    let again =
        mirror::write_batches(&pool, &[batch_of(&shuffled[..250], 10), batch_of(&shuffled[250..], 10)]).await.unwrap();
    assert_eq!((again.events_inserted, again.events_duplicate), (0, 500));
    assert_eq!(dump(pool.clone()).await, before);
    assert_eq!(mirror::counts(&pool).await.unwrap().pool_events, 500);
}

#[tokio::test]
async fn a_failed_batch_rolls_back_its_rows_and_its_checkpoint() {
    let (_dir, pool) = fresh().await;
    let good = synthetic_events(10);
    mirror::write_batches(&pool, &[batch_of(&good[..5], 1)]).await.unwrap();
    // A row the schema refuses (an amount that is not a decimal integer) in the middle of a batch.
    let mut bad = good[5..].to_vec();
    bad[2].amount_in = Some("-5".into());
    let err = mirror::write_batches(&pool, &[batch_of(&bad, 2)]).await.unwrap_err();
    assert!(matches!(err, MirrorError::Database(_)), "{err}");
    assert_eq!(mirror::counts(&pool).await.unwrap().pool_events, 5, "no row of the failed batch remains");
    assert_eq!(mirror::checkpoint(&pool, "solana:amm").await.unwrap().unwrap().slot, 1, "checkpoint did not advance");
}

#[tokio::test]
async fn pools_tokens_and_reserves_follow_the_newest_slot() {
    let (_dir, pool) = fresh().await;
    let p = PoolRow {
        chain: "solana".into(),
        venue: "amm".into(),
        address: "P1".into(),
        token_a: "A".into(),
        token_b: "B".into(),
        reserve_a: "100".into(),
        reserve_b: "400".into(),
        lp_supply: Some("200".into()),
        fee_bps: Some(30),
        created_slot: Some(10),
        created_tx: Some("sig".into()),
        created_block_time: Some(1),
        ..Default::default()
    };
    let token = |symbol: Option<&str>| TokenRow {
        chain: "solana".into(),
        address: "A".into(),
        symbol: symbol.map(Into::into),
        name: None,
        decimals: Some(6),
        total_supply: Some("18446744073709551615".into()),
    };
    let reserves = |a: &str, slot: u64| {
        Row::Reserves(ReservesUpdate {
            chain: "solana".into(),
            address: "P1".into(),
            reserve_a: a.into(),
            reserve_b: "1".into(),
            lp_supply: None,
            slot,
        })
    };
    let rows = vec![Row::Token(token(Some("AAA"))), Row::Token(token(None)), Row::Pool(p.clone()), reserves("150", 12)];
    mirror::write_batches(&pool, &[Batch::of(rows)]).await.unwrap();
    // A re-discovery does not reset the pool; an older reserve reading does not win.
    let rows = vec![Row::Pool(p), reserves("120", 11), reserves("170", 12)];
    mirror::write_batches(&pool, &[Batch::of(rows)]).await.unwrap();
    let (ra, rs, lp): (String, i64, Option<String>) =
        sqlx::query_as("SELECT reserve_a, reserves_slot, lp_supply FROM pools WHERE address = 'P1'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((ra.as_str(), rs, lp.as_deref()), ("170", 12, Some("200")));
    let (symbol, supply): (Option<String>, String) =
        sqlx::query_as("SELECT symbol, total_supply FROM tokens WHERE address = 'A'").fetch_one(&pool).await.unwrap();
    assert_eq!(symbol.as_deref(), Some("AAA"), "a later row without metadata keeps what is known");
    assert_eq!(supply, u64::MAX.to_string(), "u64 amounts are stored exactly");
}

/// Every event type of the program maps to a row the schema accepts.
#[tokio::test]
async fn every_amm_event_kind_is_stored() {
    let (_dir, pool) = fresh().await;
    let k = Pubkey::new_unique();
    let r = Reserves { reserve_a: u64::MAX, reserve_b: 2, lp_supply: 3 };
    let events = [
        AmmEvent::ConfigCreated(amm::ConfigCreated {
            config: k,
            index: 0,
            admin: k,
            trade_fee_bps: 30,
            protocol_fee_share_bps: 0,
        }),
        AmmEvent::ConfigUpdated(amm::ConfigUpdated {
            config: k,
            old_admin: k,
            new_admin: k,
            old_trade_fee_bps: 30,
            new_trade_fee_bps: 25,
            old_protocol_fee_share_bps: 0,
            new_protocol_fee_share_bps: 0,
        }),
        AmmEvent::PoolCreated(amm::PoolCreated {
            pool: k,
            config: k,
            creator: k,
            mint_a: k,
            mint_b: k,
            vault_a: k,
            vault_b: k,
            lp_mint: k,
            open_time: 0,
            lp_to_creator: 1,
            before: Reserves::default(),
            after: r,
        }),
        AmmEvent::LiquidityAdded(amm::LiquidityAdded {
            pool: k,
            owner: k,
            lp_amount: 1,
            amount_a: 1,
            amount_b: 1,
            before: r,
            after: r,
        }),
        AmmEvent::LiquidityRemoved(amm::LiquidityRemoved {
            pool: k,
            owner: k,
            lp_amount: 1,
            amount_a: 1,
            amount_b: 1,
            before: r,
            after: r,
        }),
        AmmEvent::Swapped(amm::Swapped {
            pool: k,
            trader: k,
            a_to_b: true,
            exact_in: true,
            amount_in: 1,
            amount_out: 1,
            trade_fee: 0,
            protocol_fee: 0,
            before: r,
            after: r,
        }),
        AmmEvent::PoolStatusChanged(amm::PoolStatusChanged {
            pool: k,
            old_status: 0,
            new_status: 4,
            before: r,
            after: r,
        }),
        AmmEvent::ProtocolFeesCollected(amm::ProtocolFeesCollected {
            pool: k,
            recipient_a: k,
            recipient_b: k,
            amount_a: 1,
            amount_b: 0,
            remaining_a: 0,
            remaining_b: 0,
            before: r,
            after: r,
        }),
    ];
    let rows: Vec<Row> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let pos = EventPosition {
                chain: "solana",
                tx_id: "sig",
                ix_index: 1,
                event_index: u32::try_from(i).unwrap(),
                slot: 7,
                block_time: None,
            };
            Row::Event(event_row(pos, e))
        })
        .collect();
    let stats = mirror::write_batches(&pool, &[Batch::of(rows)]).await.unwrap();
    assert_eq!(stats.events_inserted, 8);
    let kinds: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, reserve_a_after FROM pool_events ORDER BY event_index")
            .fetch_all(&pool)
            .await
            .unwrap();
    let names: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "config_created",
            "config_updated",
            "pool_created",
            "liquidity_added",
            "liquidity_removed",
            "swap",
            "status_changed",
            "fees_collected"
        ]
    );
    assert_eq!(kinds[5].1.as_deref(), Some("18446744073709551615"));
    assert_eq!(kinds[0].1, None, "config events carry no reserves");
}

/// With a channel of one slot the senders wait; every batch still lands, in one or more
/// transactions, and cancelling the writer commits everything already handed over.
#[tokio::test]
async fn the_writer_applies_backpressure_and_drains_on_shutdown() {
    let (_dir, pool) = fresh().await;
    let (handle, rx) = mirror::writer_channel(1);
    let cancel = CancellationToken::new();
    let config = WriterConfig { max_rows: 64, max_delay: Duration::from_millis(5) };
    let writer = tokio::spawn(mirror::run_writer(pool.clone(), rx, config, None, cancel.clone()));
    let events = synthetic_events(2_000);
    for (i, chunk) in events.chunks(10).enumerate() {
        handle.send(batch_of(chunk, u64::try_from(i).unwrap())).await.unwrap();
    }
    cancel.cancel();
    let stats = tokio::time::timeout(Duration::from_secs(5), writer).await.unwrap().unwrap().unwrap();
    assert_eq!(stats.events_inserted, 2_000);
    assert!(stats.transactions > 1 && stats.transactions < 200, "batched: {} transactions", stats.transactions);
    assert_eq!(mirror::counts(&pool).await.unwrap().pool_events, 2_000);
    assert_eq!(mirror::checkpoint(&pool, "solana:amm").await.unwrap().unwrap().slot, 199);
    assert!(handle.send(Batch::default()).await.is_err(), "a stopped writer refuses new work instead of losing it");
}

#[tokio::test]
async fn readers_see_committed_data_while_the_writer_holds_the_file() {
    let (dir, pool) = fresh().await;
    mirror::write_batches(&pool, &[batch_of(&synthetic_events(100), 3)]).await.unwrap();
    let reader = mirror::open_reader(&dir.path().join("mirror.db"), Duration::from_secs(1), 2).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("DELETE FROM pool_events").execute(&mut *tx).await.unwrap();
    // The reader is not blocked by the open write transaction and does not see it.
    assert_eq!(mirror::counts(&reader).await.unwrap().pool_events, 100);
    tx.rollback().await.unwrap();
    assert!(sqlx::query("DELETE FROM pool_events").execute(&reader).await.is_err(), "the reader is read-only");
}

#[tokio::test]
async fn a_schema_from_a_newer_keeper_is_refused() {
    let (_dir, pool) = fresh().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29991231000000, 'from the future', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    match mirror::migrate(&pool).await {
        Err(MirrorError::UnknownMigration(v)) => assert_eq!(v, 29991231000000),
        other => panic!("expected UnknownMigration, got {other:?}"),
    }
}
