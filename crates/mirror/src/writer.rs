//! The writer: the single write path of what the chain sources produce (tokens, pools, pool
//! events, EVM blocks, checkpoints).
//!
//! Exactly-once: every event row has a natural unique key (transaction id, instruction or log
//! index, event index) and is inserted with `ON CONFLICT DO NOTHING` on that key, so replaying
//! is a no-op while a malformed row still fails loudly. A source hands the writer a [`Batch`] of
//! rows together with the checkpoint those rows complete; both are committed in one
//! transaction, so after a crash the checkpoint never runs ahead of the data.
//!
//! One way: a pool the writer inserts for the first time is announced as a [`NewPool`] after
//! its transaction commits, so the risk stage never sees a pool the mirror does not have.

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::{begin_write, i64_of, now_ms, u64_of, EventKind, MirrorError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TokenRow {
    pub chain: String,
    pub address: String,
    pub symbol: Option<String>,
    pub name: Option<String>,
    pub decimals: Option<u8>,
    pub total_supply: Option<String>,
}

/// A pool as a source found it. First discovery wins; later reserve changes arrive as
/// [`Row::Reserves`]. One exception: a pool first seen in a pending launch (no `created_slot`)
/// takes its creation from the first row that has one (the mined creation), and is announced
/// again then, so that it is scored on the chain's state too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PoolRow {
    pub chain: String,
    pub venue: String,
    pub address: String,
    pub token_a: String,
    pub token_b: String,
    pub reserve_a: String,
    pub reserve_b: String,
    pub lp_supply: Option<String>,
    pub fee_bps: Option<u32>,
    pub created_slot: Option<u64>,
    pub created_tx: Option<String>,
    pub created_block_time: Option<i64>,
    /// EVM: the creating log's block hash and index (reorg bookkeeping).
    pub created_block_hash: Option<String>,
    pub created_log_index: Option<u64>,
    /// The token being evaluated, when the source knows which side it is.
    pub base_token: Option<String>,
    /// When the creation reached the keeper (live discoveries), for latency figures.
    #[serde(skip)]
    pub seen_at: Option<Instant>,
}

/// A pool as the mirror holds it: what the risk stage scores and the trader trades.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PoolRecord {
    pub id: i64,
    pub chain: String,
    pub venue: String,
    pub address: String,
    pub token_a: String,
    pub token_b: String,
    pub base_token: Option<String>,
    pub created_slot: Option<i64>,
    pub created_tx: Option<String>,
    /// Unix seconds of the creating block, when known (Solana indexer).
    pub created_block_time: Option<i64>,
    pub first_seen_at_ms: i64,
}

/// A pool the writer has just inserted for the first time, announced after its commit.
#[derive(Debug, Clone)]
pub struct NewPool {
    pub pool: PoolRecord,
    /// When its creation reached the keeper (live discoveries; `None` for backfills).
    pub seen_at: Option<Instant>,
}

/// One pool event. `(chain, tx_id, ix_index, event_index)` is its natural key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PoolEventRow {
    pub chain: String,
    pub pool_address: Option<String>,
    pub tx_id: String,
    pub ix_index: u32,
    pub event_index: u32,
    pub slot: u64,
    pub block_time: Option<i64>,
    pub kind: Option<EventKind>,
    pub actor: Option<String>,
    pub a_to_b: Option<bool>,
    pub amount_in: Option<String>,
    pub amount_out: Option<String>,
    pub amount_a: Option<String>,
    pub amount_b: Option<String>,
    pub lp_amount: Option<String>,
    pub reserve_a_after: Option<String>,
    pub reserve_b_after: Option<String>,
    pub lp_supply_after: Option<String>,
    /// The whole decoded event as JSON.
    pub data: String,
}

/// Reserves read at `slot`; applied only if no newer state was mirrored already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReservesUpdate {
    pub chain: String,
    pub address: String,
    pub reserve_a: String,
    pub reserve_b: String,
    pub lp_supply: Option<String>,
    pub slot: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub source: String,
    pub chain: String,
    pub slot: u64,
    pub cursor: Option<String>,
    pub head_slot: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// Inserted, or its known fields filled in (a `None` never erases a value).
    Token(TokenRow),
    Pool(PoolRow),
    Event(PoolEventRow),
    Reserves(ReservesUpdate),
    /// A pair created empty and measured funded later: its first reserves, applied only while
    /// the mirror still has it empty.
    InitialReserves {
        chain: String,
        address: String,
        reserve_a: String,
        reserve_b: String,
    },
    /// Reserves of a pool on another venue, as a market data service reports them: applied only
    /// to the pool of that venue and tokens (pools our indexers follow keep what they read).
    VenueReserves {
        chain: String,
        address: String,
        venue: String,
        token_a: String,
        token_b: String,
        reserve_a: String,
        reserve_b: String,
    },
    /// Who created the pool, once measured.
    PoolCreator {
        chain: String,
        address: String,
        creator: String,
    },
    /// An EVM block hash kept for reorg detection; hashes below `keep_from` are dropped.
    EvmBlock {
        chain: String,
        number: u64,
        hash: String,
        keep_from: u64,
    },
    /// A creation log that was reorged out (`removed: true`).
    RemovePool {
        chain: String,
        address: String,
        block_hash: String,
    },
    /// Pools stored from blocks `from..=to` whose creation is not in `keep` (the canonical logs
    /// of that range): their blocks were reorged out.
    RemoveStalePools {
        chain: String,
        from: u64,
        to: u64,
        keep: Vec<String>,
    },
    /// Everything an EVM chain discovered above `above`, and the block hashes there: a reorg
    /// unwound to its common ancestor.
    Unwind {
        chain: String,
        above: u64,
    },
}

/// Rows a source has produced, and the checkpoint they complete (committed atomically with them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub rows: Vec<Row>,
    pub checkpoint: Option<Checkpoint>,
    /// Commit at once instead of waiting for more rows (live discoveries on the hot path).
    pub urgent: bool,
}

impl Batch {
    pub fn of(rows: Vec<Row>) -> Self {
        Self { rows, ..Default::default() }
    }
}

/// Rows per multi-row INSERT: 20 bound columns each, well under SQLite's 32766 parameters.
pub const EVENT_CHUNK: usize = 1_000;

/// A multi-row `INSERT INTO pool_events` for `events` (at most [`EVENT_CHUNK`] rows). The writer
/// adds the conflict clause; the benchmark's raw baseline uses it as is.
pub fn event_insert<'a>(events: &[&'a PoolEventRow], now: i64) -> QueryBuilder<'a, Sqlite> {
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO pool_events (chain, pool_address, tx_id, ix_index, event_index, slot, block_time, \
         kind, actor, a_to_b, amount_in, amount_out, amount_a, amount_b, lp_amount, reserve_a_after, \
         reserve_b_after, lp_supply_after, data, ingested_at_ms) ",
    );
    qb.push_values(events.iter().copied(), |mut b, e| {
        b.push_bind(&e.chain)
            .push_bind(&e.pool_address)
            .push_bind(&e.tx_id)
            .push_bind(i64::from(e.ix_index))
            .push_bind(i64::from(e.event_index))
            .push_bind(i64_of(e.slot))
            .push_bind(e.block_time)
            .push_bind(e.kind.map(EventKind::as_str))
            .push_bind(&e.actor)
            .push_bind(e.a_to_b.map(i64::from))
            .push_bind(&e.amount_in)
            .push_bind(&e.amount_out)
            .push_bind(&e.amount_a)
            .push_bind(&e.amount_b)
            .push_bind(&e.lp_amount)
            .push_bind(&e.reserve_a_after)
            .push_bind(&e.reserve_b_after)
            .push_bind(&e.lp_supply_after)
            .push_bind(&e.data)
            .push_bind(now);
    });
    qb
}

async fn insert_events(tx: &mut Transaction<'_, Sqlite>, events: &[&PoolEventRow], now: i64) -> Result<u64> {
    let mut inserted = 0;
    for chunk in events.chunks(EVENT_CHUNK) {
        let mut qb = event_insert(chunk, now);
        // Only a duplicate natural key is skipped. (`INSERT OR IGNORE` would also silently drop
        // rows that violate a CHECK constraint: data loss instead of an error.)
        qb.push(" ON CONFLICT (chain, tx_id, ix_index, event_index) DO NOTHING");
        inserted += qb.build().execute(&mut **tx).await?.rows_affected();
    }
    Ok(inserted)
}

/// What one committed transaction did.
#[derive(Debug, Default, Clone)]
pub struct WriteStats {
    pub events_inserted: u64,
    pub events_duplicate: u64,
    pub transactions: u64,
    /// Pools inserted for the first time (announced after the commit).
    pub new_pools: Vec<NewPool>,
    /// Pools removed by reorg bookkeeping.
    pub pools_removed: u64,
    /// How many new pools each batch of the group inserted, in order.
    pub new_per_batch: Vec<usize>,
}

/// What [`WriterHandle::commit`] reports back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    /// Pools the batch inserted for the first time.
    pub new_pools: usize,
}

impl WriteStats {
    fn add(&mut self, other: WriteStats) {
        self.events_inserted += other.events_inserted;
        self.events_duplicate += other.events_duplicate;
        self.transactions += other.transactions;
        self.pools_removed += other.pools_removed;
    }
}

async fn write_row(tx: &mut Transaction<'_, Sqlite>, row: &Row, now: i64, stats: &mut WriteStats) -> Result<()> {
    match row {
        Row::Token(t) => {
            let decimals = t.decimals.map(i64::from);
            sqlx::query!(
                "INSERT INTO tokens (chain, address, symbol, name, decimals, total_supply, first_seen_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (chain, address) DO UPDATE SET
                    symbol = COALESCE(excluded.symbol, symbol),
                    name = COALESCE(excluded.name, name),
                    decimals = COALESCE(excluded.decimals, decimals),
                    total_supply = COALESCE(excluded.total_supply, total_supply)",
                t.chain,
                t.address,
                t.symbol,
                t.name,
                decimals,
                t.total_supply,
                now
            )
            .execute(&mut **tx)
            .await?;
        }
        Row::Pool(p) => {
            let fee = p.fee_bps.map(i64::from);
            let slot = p.created_slot.map(i64_of);
            let reserves_slot = slot.unwrap_or(0);
            let log_index = p.created_log_index.map(i64_of);
            let id = sqlx::query_scalar!(
                "INSERT INTO pools (chain, venue, address, token_a, token_b, reserve_a, reserve_b, lp_supply,
                    fee_bps, created_slot, created_tx, created_block_time, first_seen_at_ms, reserves_slot,
                    created_block_hash, created_log_index, base_token)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (chain, address) DO UPDATE SET
                    created_slot = excluded.created_slot, created_tx = excluded.created_tx,
                    created_block_time = COALESCE(excluded.created_block_time, created_block_time),
                    created_block_hash = excluded.created_block_hash, created_log_index = excluded.created_log_index,
                    reserves_slot = max(reserves_slot, excluded.reserves_slot)
                 WHERE pools.created_slot IS NULL AND excluded.created_slot IS NOT NULL
                 RETURNING id",
                p.chain,
                p.venue,
                p.address,
                p.token_a,
                p.token_b,
                p.reserve_a,
                p.reserve_b,
                p.lp_supply,
                fee,
                slot,
                p.created_tx,
                p.created_block_time,
                now,
                reserves_slot,
                p.created_block_hash,
                log_index,
                p.base_token
            )
            .fetch_optional(&mut **tx)
            .await?;
            if let Some(id) = id {
                let pool = PoolRecord {
                    id,
                    chain: p.chain.clone(),
                    venue: p.venue.clone(),
                    address: p.address.clone(),
                    token_a: p.token_a.clone(),
                    token_b: p.token_b.clone(),
                    base_token: p.base_token.clone(),
                    created_slot: slot,
                    created_tx: p.created_tx.clone(),
                    created_block_time: p.created_block_time,
                    first_seen_at_ms: now,
                };
                stats.new_pools.push(NewPool { pool, seen_at: p.seen_at });
            }
        }
        Row::Reserves(r) => {
            let slot = i64_of(r.slot);
            sqlx::query!(
                "UPDATE pools SET reserve_a = ?, reserve_b = ?, lp_supply = COALESCE(?, lp_supply), reserves_slot = ?
                 WHERE chain = ? AND address = ? AND reserves_slot <= ?",
                r.reserve_a,
                r.reserve_b,
                r.lp_supply,
                slot,
                r.chain,
                r.address,
                slot
            )
            .execute(&mut **tx)
            .await?;
        }
        Row::InitialReserves { chain, address, reserve_a, reserve_b } => {
            sqlx::query!(
                "UPDATE pools SET reserve_a = ?, reserve_b = ?
                 WHERE chain = ? AND address = ? AND reserve_a = '0' AND reserve_b = '0'",
                reserve_a,
                reserve_b,
                chain,
                address
            )
            .execute(&mut **tx)
            .await?;
        }
        Row::VenueReserves { chain, address, venue, token_a, token_b, reserve_a, reserve_b } => {
            sqlx::query!(
                "UPDATE pools SET reserve_a = ?, reserve_b = ?
                 WHERE chain = ? AND address = ? AND venue = ? AND token_a = ? AND token_b = ?",
                reserve_a,
                reserve_b,
                chain,
                address,
                venue,
                token_a,
                token_b
            )
            .execute(&mut **tx)
            .await?;
        }
        Row::PoolCreator { chain, address, creator } => {
            sqlx::query!("UPDATE pools SET creator = ? WHERE chain = ? AND address = ?", creator, chain, address)
                .execute(&mut **tx)
                .await?;
        }
        Row::EvmBlock { chain, number, hash, keep_from } => {
            let (number, keep_from) = (i64_of(*number), i64_of(*keep_from));
            sqlx::query!(
                "INSERT INTO evm_blocks (chain, number, hash) VALUES (?, ?, ?)
                 ON CONFLICT (chain, number) DO UPDATE SET hash = excluded.hash",
                chain,
                number,
                hash
            )
            .execute(&mut **tx)
            .await?;
            sqlx::query!("DELETE FROM evm_blocks WHERE chain = ? AND number < ?", chain, keep_from)
                .execute(&mut **tx)
                .await?;
        }
        Row::RemovePool { chain, address, block_hash } => {
            stats.pools_removed += sqlx::query!(
                "DELETE FROM pools WHERE chain = ? AND address = ? AND created_block_hash = ?",
                chain,
                address,
                block_hash
            )
            .execute(&mut **tx)
            .await?
            .rows_affected();
        }
        Row::RemoveStalePools { chain, from, to, keep } => {
            let (from, to) = (i64_of(*from), i64_of(*to));
            let stale = sqlx::query!(
                "SELECT id, address FROM pools WHERE chain = ? AND created_block_hash IS NOT NULL
                 AND created_slot BETWEEN ? AND ?",
                chain,
                from,
                to
            )
            .fetch_all(&mut **tx)
            .await?;
            for r in stale.into_iter().filter(|r| !keep.contains(&r.address)) {
                tracing::warn!(%chain, pool = %r.address, "pool's block was reorged out; removing it");
                sqlx::query!("DELETE FROM pools WHERE id = ?", r.id).execute(&mut **tx).await?;
                stats.pools_removed += 1;
            }
        }
        Row::Unwind { chain, above } => {
            let above = i64_of(*above);
            stats.pools_removed += sqlx::query!(
                "DELETE FROM pools WHERE chain = ? AND created_block_hash IS NOT NULL AND created_slot > ?",
                chain,
                above
            )
            .execute(&mut **tx)
            .await?
            .rows_affected();
            sqlx::query!("DELETE FROM evm_blocks WHERE chain = ? AND number > ?", chain, above)
                .execute(&mut **tx)
                .await?;
            // The reserve changes of reorged blocks (a pool's later events are mirrored again
            // from the canonical chain).
            sqlx::query!("DELETE FROM pool_events WHERE chain = ? AND slot > ?", chain, above)
                .execute(&mut **tx)
                .await?;
        }
        Row::Event(_) => {}
    }
    Ok(())
}

/// Writes batches in one transaction: their rows in order, then each source's newest checkpoint.
/// Within one transaction only the last checkpoint of a source matters, and events of
/// consecutive batches go into shared multi-row INSERTs.
pub async fn write_batches(pool: &SqlitePool, batches: &[Batch]) -> Result<WriteStats> {
    let now = now_ms();
    let mut tx = begin_write(pool).await?;
    let mut stats = WriteStats { transactions: 1, ..Default::default() };
    let mut pending_events: Vec<&PoolEventRow> = Vec::new();
    let mut checkpoints: Vec<&Checkpoint> = Vec::new();
    for batch in batches {
        if let Some(c) = &batch.checkpoint {
            match checkpoints.iter_mut().find(|seen| seen.source == c.source) {
                Some(seen) => *seen = c,
                None => checkpoints.push(c),
            }
        }
        let before = stats.new_pools.len();
        for row in &batch.rows {
            if let Row::Event(e) = row {
                pending_events.push(e);
                continue;
            }
            // Keep row order: flush buffered events before any other kind of row.
            if !pending_events.is_empty() {
                let n = insert_events(&mut tx, &pending_events, now).await?;
                stats.events_inserted += n;
                stats.events_duplicate += pending_events.len() as u64 - n;
                pending_events.clear();
            }
            write_row(&mut tx, row, now, &mut stats).await?;
        }
        stats.new_per_batch.push(stats.new_pools.len() - before);
    }
    if !pending_events.is_empty() {
        let n = insert_events(&mut tx, &pending_events, now).await?;
        stats.events_inserted += n;
        stats.events_duplicate += pending_events.len() as u64 - n;
    }
    for c in checkpoints {
        if let Some(head) = c.head_slot {
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!("keeper_checkpoint_lag_slots", "source" => c.source.clone())
                .set(head.saturating_sub(c.slot) as f64);
        }
        let slot = i64_of(c.slot);
        let head = c.head_slot.map(i64_of);
        sqlx::query!(
            "INSERT INTO checkpoints (source, chain, slot, cursor, head_slot, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (source) DO UPDATE SET chain = excluded.chain, slot = excluded.slot,
                    cursor = excluded.cursor, head_slot = COALESCE(excluded.head_slot, head_slot),
                    updated_at_ms = excluded.updated_at_ms",
            c.source,
            c.chain,
            slot,
            c.cursor,
            head,
            now
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    metrics::counter!("keeper_events_ingested_total").increment(stats.events_inserted);
    metrics::counter!("keeper_events_duplicate_total").increment(stats.events_duplicate);
    metrics::counter!("keeper_writer_transactions_total").increment(1);
    Ok(stats)
}

/// Reads a source's checkpoint.
pub async fn checkpoint(pool: &SqlitePool, source: &str) -> Result<Option<Checkpoint>> {
    let row = sqlx::query!(
        r#"SELECT source, chain, slot AS "slot: i64", cursor, head_slot AS "head_slot: i64" FROM checkpoints WHERE source = ?"#,
        source
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Checkpoint {
        source: r.source,
        chain: r.chain,
        slot: u64_of(r.slot),
        cursor: r.cursor,
        head_slot: r.head_slot.map(u64_of),
    }))
}

/// The block hash an EVM chain's discovery stored for `number`, if it kept one.
pub async fn evm_block_hash(pool: &SqlitePool, chain: &str, number: u64) -> Result<Option<String>> {
    let number = i64_of(number);
    Ok(sqlx::query_scalar!("SELECT hash FROM evm_blocks WHERE chain = ? AND number = ?", chain, number)
        .fetch_optional(pool)
        .await?)
}

/// The stored EVM block hashes below `number`, newest first (finding a common ancestor).
pub async fn evm_blocks_below(pool: &SqlitePool, chain: &str, number: u64) -> Result<Vec<(u64, String)>> {
    let number = i64_of(number);
    let rows = sqlx::query!(
        "SELECT number, hash FROM evm_blocks WHERE chain = ? AND number < ? ORDER BY number DESC",
        chain,
        number
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (u64_of(r.number), r.hash)).collect())
}

/// The decimals of those of `tokens` the mirror knows them for.
pub async fn token_decimals(pool: &SqlitePool, chain: &str, tokens: &[&str]) -> Result<Vec<(String, u8)>> {
    let mut out = Vec::new();
    for token in tokens {
        let d = sqlx::query_scalar!("SELECT decimals FROM tokens WHERE chain = ? AND address = ?", chain, token)
            .fetch_optional(pool)
            .await?
            .flatten();
        if let Some(d) = d.and_then(|d| u8::try_from(d).ok()) {
            out.push(((*token).to_string(), d));
        }
    }
    Ok(out)
}

/// Tuning of the writer task.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    pub max_rows: usize,
    pub max_delay: Duration,
}

/// What the writer receives: a batch, and where to say it was committed.
#[derive(Debug)]
pub struct Message {
    pub batch: Batch,
    ack: Option<oneshot::Sender<Result<Committed, String>>>,
}

/// The sending side sources use. Sending waits when the channel is full (backpressure); it
/// never drops a batch.
#[derive(Clone, Debug)]
pub struct WriterHandle {
    tx: mpsc::Sender<Message>,
}

impl WriterHandle {
    /// Hands a batch over; the writer commits it with the next group.
    pub async fn send(&self, batch: Batch) -> Result<()> {
        self.tx.send(Message { batch, ack: None }).await.map_err(|_| MirrorError::WriterStopped)
    }

    /// Hands a batch over and waits until it is committed: for sources that read back what
    /// they wrote (EVM discovery's checkpoint and block hashes). The batch is committed at once.
    pub async fn commit(&self, mut batch: Batch) -> Result<Committed> {
        batch.urgent = true;
        let (ack, done) = oneshot::channel();
        self.tx.send(Message { batch, ack: Some(ack) }).await.map_err(|_| MirrorError::WriterStopped)?;
        match done.await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(MirrorError::Rejected(e)),
            Err(_) => Err(MirrorError::WriterStopped),
        }
    }
}

/// Creates the channel between sources and the writer.
pub fn writer_channel(capacity: usize) -> (WriterHandle, mpsc::Receiver<Message>) {
    let (tx, rx) = mpsc::channel(capacity);
    (WriterHandle { tx }, rx)
}

fn rows_in(batches: &[Message]) -> usize {
    batches.iter().map(|m| m.batch.rows.len().max(1)).sum()
}

/// Commits one group and tells everyone concerned: each waiting sender, then the risk stage of
/// every new pool. A failed group fails its waiting senders with the error too.
async fn commit_group(
    pool: &SqlitePool,
    group: Vec<Message>,
    announce: Option<&mpsc::UnboundedSender<NewPool>>,
) -> Result<WriteStats> {
    let (batches, acks): (Vec<Batch>, Vec<_>) = group.into_iter().map(|m| (m.batch, m.ack)).unzip();
    let result = write_batches(pool, &batches).await;
    for (i, ack) in acks.into_iter().enumerate() {
        let Some(ack) = ack else { continue };
        let outcome = match &result {
            Ok(stats) => Ok(Committed { new_pools: stats.new_per_batch.get(i).copied().unwrap_or(0) }),
            Err(e) => Err(e.to_string()),
        };
        let _ = ack.send(outcome);
    }
    let mut stats = result?;
    if let Some(announce) = announce {
        for p in std::mem::take(&mut stats.new_pools) {
            metrics::counter!("keeper_pairs_discovered_total", "chain" => p.pool.chain.clone()).increment(1);
            // The risk stage gone means the keeper is stopping; its recovery sweep finds the pool.
            let _ = announce.send(p);
        }
    }
    Ok(stats)
}

/// The single writer: gathers batches until `max_rows` rows or `max_delay` has passed since the
/// first one (an urgent batch commits at once), then commits them in one transaction and
/// announces the pools it inserted on `announce`. On cancellation it stops taking new work after
/// committing everything already received; it also stops when every sender is gone.
pub async fn run_writer(
    pool: SqlitePool,
    mut rx: mpsc::Receiver<Message>,
    config: WriterConfig,
    announce: Option<mpsc::UnboundedSender<NewPool>>,
    cancel: CancellationToken,
) -> Result<WriteStats> {
    let mut total = WriteStats::default();
    loop {
        let first = tokio::select! {
            biased;
            b = rx.recv() => b,
            () = cancel.cancelled() => None,
        };
        let Some(first) = first else { break };
        let mut urgent = first.batch.urgent;
        let mut pending = vec![first];
        let deadline = tokio::time::Instant::now() + config.max_delay;
        while !urgent && rows_in(&pending) < config.max_rows {
            let next = match rx.try_recv() {
                Ok(m) => m,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(m)) => m,
                    Ok(None) | Err(_) => break,
                },
            };
            urgent = next.batch.urgent;
            pending.push(next);
        }
        total.add(commit_group(&pool, pending, announce.as_ref()).await?);
    }
    // Commit whatever the sources already handed over before shutting down.
    rx.close();
    let mut rest = Vec::new();
    while let Ok(m) = rx.try_recv() {
        rest.push(m);
    }
    if !rest.is_empty() {
        total.add(commit_group(&pool, rest, announce.as_ref()).await?);
    }
    Ok(total)
}

/// Counts for `keeper status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorCounts {
    pub tokens: i64,
    pub pools: i64,
    pub pool_events: i64,
}

pub async fn counts(pool: &SqlitePool) -> Result<MirrorCounts> {
    let r = sqlx::query!(
        r#"SELECT (SELECT COUNT(*) FROM tokens) AS "tokens!: i64",
                  (SELECT COUNT(*) FROM pools) AS "pools!: i64",
                  (SELECT COUNT(*) FROM pool_events) AS "pool_events!: i64""#
    )
    .fetch_one(pool)
    .await?;
    Ok(MirrorCounts { tokens: r.tokens, pools: r.pools, pool_events: r.pool_events })
}

/// Every checkpoint, for `keeper status` and health.
pub async fn checkpoints(pool: &SqlitePool) -> Result<Vec<Checkpoint>> {
    let rows = sqlx::query!(
        r#"SELECT source, chain, slot AS "slot: i64", cursor, head_slot AS "head_slot: i64" FROM checkpoints ORDER BY source"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Checkpoint {
            source: r.source,
            chain: r.chain,
            slot: u64_of(r.slot),
            cursor: r.cursor,
            head_slot: r.head_slot.map(u64_of),
        })
        .collect())
}
