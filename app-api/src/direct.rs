//! Direct, synchronous reads for the hottest list endpoints (`/pools`, `/discoveries`).
//!
//! sqlx runs each SQLite connection on its own thread and hands every command and row across
//! channels; for a 50-item page that is several thread wake-ups per request, which profiling
//! showed costs more than the query itself. These reads run on read-only `rusqlite` connections
//! in the calling task instead: each is one bounded index-range query (at most 201 rows, tens of
//! microseconds), and a WAL reader never waits for the keeper's writer. A connection that would
//! wait anyway (a WAL reset in progress) gives up after [`BUSY_TIMEOUT`] with a 503.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use rusqlite::{Connection, OpenFlags};

use crate::error::ApiError;

pub const BUSY_TIMEOUT: Duration = Duration::from_millis(100);

/// A small free-list of read-only connections; more are opened on demand and at most
/// `max_idle` are kept.
pub struct DirectReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl DirectReader {
    pub fn new(path: &Path, max_idle: usize) -> Self {
        Self { path: path.to_path_buf(), idle: Mutex::new(Vec::new()), max_idle }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// Runs `f` on an idle connection (or a new one).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, ApiError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match idle {
            Some(c) => c,
            None => self.open().map_err(into_api)?,
        };
        let out = f(&conn).map_err(into_api);
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < self.max_idle {
                v.push(conn);
            }
        }
        out
    }
}

fn into_api(e: rusqlite::Error) -> ApiError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            ApiError::Unavailable("the database is busy; retry".into())
        }
        _ => ApiError::Internal(format!("sqlite: {e}")),
    }
}
