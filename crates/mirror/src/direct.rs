//! Direct, synchronous reads for the API's hottest endpoints (`/pools`, `/discoveries`, one
//! pool).
//!
//! sqlx runs each SQLite connection on its own thread and hands every command and row across
//! channels; for a 50-item page that is several thread wake-ups per request, which profiling
//! showed costs more than the query itself. These reads run on read-only `rusqlite` connections
//! in the calling task instead: each is one bounded index-range query (at most 201 rows, tens of
//! microseconds), and a WAL reader never waits for the keeper's writer. A connection that would
//! wait anyway (a WAL reset in progress) gives up after [`BUSY_TIMEOUT`] with
//! [`MirrorError::Busy`].
//!
//! The statements are composed from a closed set of shapes (`pool_list_sql.rs`); the build
//! script prepares every one of them against the migrated schema, so they are checked at
//! compile time like the crate's `sqlx::query!` statements.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use rusqlite::{types::Value, Connection, OpenFlags, Row};
use serde::Serialize;

use crate::{MirrorError, Result};

// `every_shape` and `POOL_COLUMNS` are for build.rs, which checks every statement.
#[allow(dead_code)]
#[path = "pool_list_sql.rs"]
mod sql;
pub use sql::{PoolShape, PoolSort};

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
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match idle {
            Some(c) => c,
            None => self.open().map_err(into_mirror)?,
        };
        let out = f(&conn).map_err(into_mirror);
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < self.max_idle {
                v.push(conn);
            }
        }
        out
    }

    /// Visits one page of pools, in order, with at most `limit + 1` rows (the extra one only
    /// tells that more exist); `visit` returns false to stop.
    pub fn pools(&self, q: &PoolQuery<'_>, limit: i64, mut visit: impl FnMut(&Pool<'_>) -> bool) -> Result<()> {
        let shape = q.shape();
        let mut args: Vec<Value> = Vec::with_capacity(sql::pool_list_params(shape));
        for v in [q.chain, q.venue].into_iter().flatten() {
            args.push(Value::Text(v.to_string()));
        }
        if let Some(t) = q.token {
            args.extend([Value::Text(t.to_string()), Value::Text(t.to_string())]);
        }
        match &q.after {
            None => {}
            Some(After::Age { first_seen_at_ms, id }) => {
                args.extend([Value::Integer(*first_seen_at_ms), Value::Integer(*id)])
            }
            Some(After::Liquidity { quote_reserve, id }) => args.extend([
                Value::Integer(i64::try_from(quote_reserve.len()).unwrap_or(i64::MAX)),
                Value::Text(quote_reserve.clone()),
                Value::Integer(*id),
            ]),
        }
        args.push(Value::Integer(limit.saturating_add(1)));
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql::pool_list(shape))?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
            while let Some(r) = rows.next()? {
                if !visit(&Pool::from_row(r)?) {
                    break;
                }
            }
            Ok(())
        })
    }

    /// One pool by chain and address, handed to `f`.
    pub fn pool<T>(&self, chain: &str, address: &str, f: impl FnOnce(&Pool<'_>) -> T) -> Result<Option<T>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql::pool_by_address())?;
            let mut rows = stmt.query(rusqlite::params![chain, address])?;
            match rows.next()? {
                None => Ok(None),
                Some(r) => Ok(Some(f(&Pool::from_row(r)?))),
            }
        })
    }
}

fn into_mirror(e: rusqlite::Error) -> MirrorError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => MirrorError::Busy,
        _ => MirrorError::Direct(e.to_string()),
    }
}

/// A page request: filters, the sort, and where the previous page ended.
#[derive(Debug, Clone)]
pub struct PoolQuery<'a> {
    pub chain: Option<&'a str>,
    pub venue: Option<&'a str>,
    /// Pools holding this token on either side.
    pub token: Option<&'a str>,
    pub sort: PoolSort,
    pub after: Option<After>,
}

impl PoolQuery<'_> {
    fn shape(&self) -> PoolShape {
        PoolShape {
            chain: self.chain.is_some(),
            venue: self.venue.is_some(),
            token: self.token.is_some(),
            sort: self.sort,
            after: self.after.is_some(),
        }
    }
}

/// The last item of the previous page, in the sort's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Age {
        first_seen_at_ms: i64,
        id: i64,
    },
    /// `quote_reserve` is a decimal string of digits.
    Liquidity {
        quote_reserve: String,
        id: i64,
    },
}

/// The latest risk assessment of a pool's token.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RiskSummary<'a> {
    pub score: i64,
    pub verdict: &'a str,
    pub tradeable: bool,
    pub summary: &'a str,
    pub created_at_ms: i64,
}

/// What DexScreener knew of the pool's token when the keeper looked (USD as exact decimal
/// strings).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarketSummary<'a> {
    /// false: DexScreener lists no pair for the token.
    pub listed: bool,
    pub dex: Option<&'a str>,
    pub pair_address: Option<&'a str>,
    pub url: Option<&'a str>,
    pub price_usd: Option<&'a str>,
    pub liquidity_usd: Option<&'a str>,
    pub fdv_usd: Option<&'a str>,
    pub market_cap_usd: Option<&'a str>,
    pub pair_created_at_ms: Option<i64>,
    pub websites: Vec<String>,
    /// "platform:handle".
    pub socials: Vec<String>,
    pub fetched_at_ms: i64,
}

// Borrowed straight from SQLite's row buffers: serialised without a copy per field. The doc
// line below is the OpenAPI description.
/// A pool as every endpoint returns it.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pool<'a> {
    pub id: i64,
    pub chain: &'a str,
    /// amm (ours), uniswap_v2, pancakeswap_v2, quickswap_v2, uniswap_v3...
    pub venue: &'a str,
    pub address: &'a str,
    pub token_a: &'a str,
    pub token_b: &'a str,
    /// Base units, exact decimal strings.
    pub reserve_a: &'a str,
    pub reserve_b: &'a str,
    pub lp_supply: Option<&'a str>,
    pub fee_bps: Option<i64>,
    pub created_slot: Option<i64>,
    pub created_tx: Option<&'a str>,
    pub created_block_time: Option<i64>,
    pub first_seen_at_ms: i64,
    /// The side being evaluated (EVM discoveries): the token that is not the wrapped native one.
    pub base_token: Option<&'a str>,
    pub creator: Option<&'a str>,
    pub risk: Option<RiskSummary<'a>>,
    /// DexScreener enrichment (when the keeper has it enabled).
    pub market: Option<MarketSummary<'a>>,
    /// The base token's symbol and name as its contract or metadata gives them: untrusted text,
    /// to be shown as text only. `null` until the keeper has read them.
    pub base_symbol: Option<&'a str>,
    pub base_name: Option<&'a str>,
    /// Decimals of the base token and of the quote token (the other side), when known.
    pub base_decimals: Option<i64>,
    pub quote_decimals: Option<i64>,
    /// The quote-side reserve (the liquidity sort key).
    #[serde(skip)]
    pub quote_reserve: &'a str,
}

impl<'a> Pool<'a> {
    /// Where the next page starts after this item, sorted by `sort`.
    pub fn after(&self, sort: PoolSort) -> After {
        match sort {
            PoolSort::Age => After::Age { first_seen_at_ms: self.first_seen_at_ms, id: self.id },
            PoolSort::Liquidity => After::Liquidity { quote_reserve: self.quote_reserve.to_string(), id: self.id },
        }
    }

    /// The columns of `sql::POOL_COLUMNS`, by position.
    fn from_row(r: &'a Row<'a>) -> rusqlite::Result<Self> {
        let text = |i: usize| -> rusqlite::Result<&'a str> { Ok(r.get_ref(i)?.as_str()?) };
        let opt_text = |i: usize| -> rusqlite::Result<Option<&'a str>> { Ok(r.get_ref(i)?.as_str_or_null()?) };
        let risk = match r.get::<_, Option<i64>>(16)? {
            None => None,
            Some(_) => Some(RiskSummary {
                score: r.get(17)?,
                verdict: text(18)?,
                tradeable: r.get(19)?,
                summary: text(20)?,
                created_at_ms: r.get(21)?,
            }),
        };
        let list = |i: usize| -> rusqlite::Result<Vec<String>> {
            serde_json::from_str(text(i)?)
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
        };
        let market = match r.get::<_, Option<bool>>(23)? {
            None => None,
            Some(listed) => Some(MarketSummary {
                listed,
                dex: opt_text(24)?,
                pair_address: opt_text(25)?,
                url: opt_text(26)?,
                price_usd: opt_text(27)?,
                liquidity_usd: opt_text(28)?,
                fdv_usd: opt_text(29)?,
                market_cap_usd: opt_text(30)?,
                pair_created_at_ms: r.get(31)?,
                websites: list(32)?,
                socials: list(33)?,
                fetched_at_ms: r.get(34)?,
            }),
        };
        Ok(Self {
            id: r.get(0)?,
            chain: text(1)?,
            venue: text(2)?,
            address: text(3)?,
            token_a: text(4)?,
            token_b: text(5)?,
            reserve_a: text(6)?,
            reserve_b: text(7)?,
            lp_supply: opt_text(8)?,
            fee_bps: r.get(9)?,
            created_slot: r.get(10)?,
            created_tx: opt_text(11)?,
            created_block_time: r.get(12)?,
            first_seen_at_ms: r.get(13)?,
            base_token: opt_text(14)?,
            creator: opt_text(15)?,
            risk,
            market,
            base_symbol: opt_text(35)?,
            base_name: opt_text(36)?,
            base_decimals: r.get(37)?,
            quote_decimals: r.get(38)?,
            quote_reserve: text(22)?,
        })
    }
}
