//! The keeper's SQLite mirror, owned in one place.
//!
//! Everything that touches the schema lives here, so the keeper and app-api can never disagree
//! about it:
//! - the migrations (`migrations/`, embedded as [`MIGRATOR`]) and connection setup;
//! - row types ([`writer`]) and the enums stored as text ([`types`]);
//! - the `keeper_controls` JSON type ([`types::Limits`]), once;
//! - every SQL statement, compile-time checked with `sqlx::query!` against `.sqlx/`, grouped by
//!   the table that owns it ([`risk`], [`trading`], ...); the API's hot reads ([`direct`]) run
//!   outside sqlx and are checked by the build script against the migrated schema.
//!
//! Each table has one write path: the [`writer`] task for what the chain sources produce
//! (tokens, pools, pool events, EVM blocks, checkpoints); the risk stage for reports; the trader
//! for positions, trades, decisions and its breaker state; the market task for token markets;
//! the notifier for notifications and its state; the anomaly watch for anomalies; `keeper backtest`
//! and `keeper hyperopt` for backtests and studies;
//! app-api for users and sessions; the operators' path (`mirror::api`, from app-api and the
//! keeper's Telegram bot) for controls, exit requests and the audit log.

pub mod anomalies;
pub mod api;
pub mod backtests;
pub mod decisions;
pub mod direct;
pub mod history;
pub mod markets;
pub mod notify;
pub mod reads;
pub mod risk;
pub mod tasks;
pub mod trading;
pub mod types;
pub mod writer;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Sqlite, SqlitePool, Transaction,
};

pub use types::*;
pub use writer::*;

/// The migrations in this crate's `migrations/`, embedded in every binary that opens the mirror.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database has migration {0} which this binary does not know; upgrade it")]
    UnknownMigration(i64),
    #[error("the writer has stopped")]
    WriterStopped,
    #[error("the writer could not commit the batch: {0}")]
    Rejected(String),
    /// A direct read would have waited for a lock (see [`direct`]); retry.
    #[error("the database is busy; retry")]
    Busy,
    #[error("direct read: {0}")]
    Direct(String),
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

/// Opens (creating if needed) the mirror for writing: one connection, shared by every write
/// path of a process, so writes of one process never contend with each other.
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

/// A write transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`). A deferred
/// transaction that reads first and writes later fails with "database is locked" when another
/// process (app-api) wrote in between, whatever the busy timeout; an immediate one waits its
/// turn instead. Every write transaction in this crate starts here.
pub async fn begin_write(pool: &SqlitePool) -> sqlx::Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// Milliseconds since the unix epoch, by this machine's clock.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A u64 (slot, block, amount of time) as SQLite's i64, saturating.
pub fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// An i64 column back to u64 (negative values, which the schema never stores, read as 0).
pub fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
