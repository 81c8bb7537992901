//! The SQLite mirror: connection setup, migrations, row types and the single writer task.
//!
//! Exactly-once: every event row has a natural unique key (transaction id, instruction or log
//! index, event index) and is inserted with `ON CONFLICT DO NOTHING` on that key, so replaying
//! is a no-op while a malformed row still fails loudly. A source
//! hands the writer a [`Batch`] of rows together with the checkpoint those rows complete; both are
//! committed in one transaction, so after a crash the checkpoint never runs ahead of the data.

use std::{path::Path, str::FromStr, time::Duration};

use serde::Serialize;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    QueryBuilder, Sqlite, SqlitePool, Transaction,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The migrations in `migrations/` at the workspace root, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database has migration {0} which this keeper does not know; upgrade the keeper")]
    UnknownMigration(i64),
    #[error("the writer has stopped")]
    WriterStopped,
}

pub type Result<T, E = MirrorError> = std::result::Result<T, E>;

fn connect_options(path: &Path, busy_timeout: Duration) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // In WAL mode NORMAL is durable against crashes of the process (the case we test) and
        // loses at most the last transactions on power loss; sources then replay from the checkpoint.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(busy_timeout)
        .foreign_keys(true)
        // 64 MiB page cache and in-memory temporaries: fewer page writes per batch.
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory")
        // Checkpoint the WAL into the database every ~40 MiB instead of every 4 MiB.
        .pragma("wal_autocheckpoint", "10000")
}

/// Opens (creating if needed) the mirror for writing: one connection, used by the writer task
/// and short administrative statements.
pub async fn open_writer(path: &Path, busy_timeout: Duration) -> Result<SqlitePool> {
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(connect_options(path, busy_timeout)).await?;
    Ok(pool)
}

/// Opens the mirror read-only, for status queries and the API; never blocks the writer (WAL).
pub async fn open_reader(path: &Path, busy_timeout: Duration, connections: u32) -> Result<SqlitePool> {
    let options =
        SqliteConnectOptions::from_str("sqlite://")?.filename(path).read_only(true).busy_timeout(busy_timeout);
    Ok(SqlitePoolOptions::new().max_connections(connections).connect_with(options).await?)
}

/// Applies pending migrations; refuses a database that has migrations this binary does not know.
pub async fn migrate(pool: &SqlitePool) -> Result<()> {
    MIGRATOR.run(pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => MirrorError::UnknownMigration(v),
        other => other.into(),
    })
}

/// Milliseconds since the unix epoch, by the keeper's clock.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    pub chain: String,
    pub address: String,
    pub symbol: Option<String>,
    pub name: Option<String>,
    pub decimals: Option<u8>,
    pub total_supply: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ConfigCreated,
    ConfigUpdated,
    PoolCreated,
    LiquidityAdded,
    LiquidityRemoved,
    Swap,
    StatusChanged,
    FeesCollected,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ConfigCreated => "config_created",
            EventKind::ConfigUpdated => "config_updated",
            EventKind::PoolCreated => "pool_created",
            EventKind::LiquidityAdded => "liquidity_added",
            EventKind::LiquidityRemoved => "liquidity_removed",
            EventKind::Swap => "swap",
            EventKind::StatusChanged => "status_changed",
            EventKind::FeesCollected => "fees_collected",
        }
    }
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
    Token(TokenRow),
    Pool(PoolRow),
    Event(PoolEventRow),
    Reserves(ReservesUpdate),
}

/// Rows a source has produced, and the checkpoint they complete (committed atomically with them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub rows: Vec<Row>,
    pub checkpoint: Option<Checkpoint>,
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
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
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    pub events_inserted: u64,
    pub events_duplicate: u64,
    pub transactions: u64,
}

/// Writes batches in one transaction: their rows in order, then each source's newest checkpoint.
/// Within one transaction only the last checkpoint of a source matters, and events of
/// consecutive batches go into shared multi-row INSERTs.
pub async fn write_batches(pool: &SqlitePool, batches: &[Batch]) -> Result<WriteStats> {
    let now = now_ms();
    let mut tx = pool.begin().await?;
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
                    .execute(&mut *tx)
                    .await?;
                }
                Row::Pool(p) => {
                    let fee = p.fee_bps.map(i64::from);
                    let slot = p.created_slot.map(i64_of);
                    let reserves_slot = slot.unwrap_or(0);
                    // First discovery wins; later reserve changes arrive as `Row::Reserves`.
                    sqlx::query!(
                        "INSERT INTO pools (chain, venue, address, token_a, token_b, reserve_a, reserve_b, lp_supply,
                            fee_bps, created_slot, created_tx, created_block_time, first_seen_at_ms, reserves_slot)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                         ON CONFLICT (chain, address) DO NOTHING",
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
                        reserves_slot
                    )
                    .execute(&mut *tx)
                    .await?;
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
                    .execute(&mut *tx)
                    .await?;
                }
                Row::Event(_) => {}
            }
        }
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
        slot: u64::try_from(r.slot).unwrap_or(0),
        cursor: r.cursor,
        head_slot: r.head_slot.and_then(|h| u64::try_from(h).ok()),
    }))
}

/// Tuning of the writer task.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    pub max_rows: usize,
    pub max_delay: Duration,
}

/// The sending side sources use. Sending waits when the channel is full (backpressure); it
/// never drops a batch.
#[derive(Clone, Debug)]
pub struct WriterHandle {
    tx: mpsc::Sender<Batch>,
}

impl WriterHandle {
    pub async fn send(&self, batch: Batch) -> Result<()> {
        self.tx.send(batch).await.map_err(|_| MirrorError::WriterStopped)
    }
}

/// Creates the channel between sources and the writer.
pub fn writer_channel(capacity: usize) -> (WriterHandle, mpsc::Receiver<Batch>) {
    let (tx, rx) = mpsc::channel(capacity);
    (WriterHandle { tx }, rx)
}

fn rows_in(batches: &[Batch]) -> usize {
    batches.iter().map(|b| b.rows.len().max(1)).sum()
}

/// The single writer: gathers batches until `max_rows` rows or `max_delay` has passed since the
/// first one, then commits them in one transaction. On cancellation it stops taking new work
/// after committing everything already received; it also stops when every sender is gone.
pub async fn run_writer(
    pool: SqlitePool,
    mut rx: mpsc::Receiver<Batch>,
    config: WriterConfig,
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
        let mut pending = vec![first];
        let deadline = tokio::time::Instant::now() + config.max_delay;
        while rows_in(&pending) < config.max_rows {
            match rx.try_recv() {
                Ok(b) => pending.push(b),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(b)) => pending.push(b),
                    Ok(None) | Err(_) => break,
                },
            }
        }
        let stats = write_batches(&pool, &pending).await?;
        total.events_inserted += stats.events_inserted;
        total.events_duplicate += stats.events_duplicate;
        total.transactions += 1;
    }
    // Commit whatever the sources already handed over before shutting down.
    rx.close();
    let mut rest = Vec::new();
    while let Ok(b) = rx.try_recv() {
        rest.push(b);
    }
    if !rest.is_empty() {
        let stats = write_batches(&pool, &rest).await?;
        total.events_inserted += stats.events_inserted;
        total.events_duplicate += stats.events_duplicate;
        total.transactions += 1;
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
            slot: u64::try_from(r.slot).unwrap_or(0),
            cursor: r.cursor,
            head_slot: r.head_slot.and_then(|h| u64::try_from(h).ok()),
        })
        .collect())
}
