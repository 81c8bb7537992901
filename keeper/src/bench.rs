//! `keeper bench ingest`: ingest synthetic events into a fresh mirror through the real writer
//! path (bounded channel -> batching writer -> one transaction per batch group, checkpoints
//! included), next to a raw baseline in the same run: plain multi-row INSERTs of the same rows in
//! transactions of the same size, with no channel, no checkpoints and no conflict handling.

// Throughput figures are rates for display, not amounts: floats are fine here.
#![allow(clippy::float_arithmetic, clippy::cast_precision_loss)]

use std::{path::Path, time::Instant};

use amm::{client::AmmEvent, Reserves, Swapped};
use anchor_lang::prelude::Pubkey;
use tokio_util::sync::CancellationToken;

use mirror::{Batch, Checkpoint, PoolEventRow, Row, WriterConfig};

use crate::chains::solana::event_rows::{event_row, EventPosition};

/// Figures of one benchmark run.
#[derive(Debug, Clone, Copy)]
pub struct IngestFigures {
    pub events: usize,
    pub keeper_events_per_sec: f64,
    pub baseline_events_per_sec: f64,
}

impl IngestFigures {
    pub fn ratio(&self) -> f64 {
        self.keeper_events_per_sec / self.baseline_events_per_sec
    }
}

/// `n` distinct swap events spread over 64 pools, one per transaction, 4 transactions per slot.
pub fn synthetic_events(n: usize) -> Vec<PoolEventRow> {
    let pools: Vec<Pubkey> = (0..64).map(|_| Pubkey::new_unique()).collect();
    (0..n)
        .map(|i| {
            let i64_i = i64::try_from(i).unwrap_or(i64::MAX);
            let u = u64::try_from(i).unwrap_or(u64::MAX);
            let ev = AmmEvent::Swapped(Swapped {
                pool: pools[i % pools.len()],
                trader: pools[(i / 7) % pools.len()],
                a_to_b: i % 2 == 0,
                exact_in: i % 3 != 0,
                amount_in: 1_000 + u,
                amount_out: 990 + u,
                trade_fee: 3,
                protocol_fee: 0,
                before: Reserves { reserve_a: 1_000_000 + u, reserve_b: 2_000_000 - u % 1_000, lp_supply: 1_414_213 },
                after: Reserves { reserve_a: 1_001_000 + u, reserve_b: 1_999_010 - u % 1_000, lp_supply: 1_414_213 },
            });
            let tx = format!("bench-tx-{i:012}");
            let pos = EventPosition {
                chain: "solana",
                tx_id: &tx,
                ix_index: 0,
                event_index: 0,
                slot: u / 4,
                block_time: Some(1_700_000_000 + i64_i / 8),
            };
            event_row(pos, &ev)
        })
        .collect()
}

async fn fresh_db(path: &Path) -> anyhow::Result<sqlx::SqlitePool> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let pool = mirror::open_writer(path, std::time::Duration::from_secs(5)).await?;
    mirror::migrate(&pool).await?;
    Ok(pool)
}

async fn baseline(path: &Path, rows: &[PoolEventRow], tx_rows: usize) -> anyhow::Result<f64> {
    let pool = fresh_db(path).await?;
    let start = Instant::now();
    let now = mirror::now_ms();
    for chunk in rows.chunks(tx_rows) {
        let mut tx = pool.begin().await?;
        // Plain multi-row INSERTs: no channel, no conflict clause, no checkpoint.
        for part in chunk.chunks(mirror::EVENT_CHUNK) {
            let refs: Vec<&PoolEventRow> = part.iter().collect();
            mirror::event_insert(&refs, now).build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    let secs = start.elapsed().as_secs_f64();
    pool.close().await;
    Ok(rows.len() as f64 / secs)
}

async fn keeper_path(path: &Path, rows: Vec<PoolEventRow>, writer: WriterConfig) -> anyhow::Result<f64> {
    let pool = fresh_db(path).await?;
    let n = rows.len();
    // A source hands over 100 events per batch with its checkpoint, as the indexer does.
    let batches: Vec<Batch> = rows
        .chunks(100)
        .map(|c| Batch {
            urgent: false,
            checkpoint: c.last().map(|last| Checkpoint {
                source: "bench".into(),
                chain: "solana".into(),
                slot: last.slot,
                cursor: Some(last.tx_id.clone()),
                head_slot: None,
            }),
            rows: c.iter().cloned().map(Row::Event).collect(),
        })
        .collect();
    let (handle, rx) = mirror::writer_channel(8_192);
    let cancel = CancellationToken::new();
    let start = Instant::now();
    let writer_task = tokio::spawn(mirror::run_writer(pool.clone(), rx, writer, None, cancel));
    for b in batches {
        handle.send(b).await?;
    }
    drop(handle);
    let stats = writer_task.await??;
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(stats.events_inserted == n as u64, "writer inserted {} of {n}", stats.events_inserted);
    pool.close().await;
    Ok(n as f64 / secs)
}

/// Runs both paths on `n` events in files under `dir` and returns the figures.
pub async fn ingest(dir: &Path, n: usize, writer: WriterConfig) -> anyhow::Result<IngestFigures> {
    let rows = synthetic_events(n);
    let baseline_events_per_sec = baseline(&dir.join("bench-baseline.db"), &rows, writer.max_rows).await?;
    let keeper_events_per_sec = keeper_path(&dir.join("bench-keeper.db"), rows, writer).await?;
    Ok(IngestFigures { events: n, keeper_events_per_sec, baseline_events_per_sec })
}
