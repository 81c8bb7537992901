//! app-api: the REST API over the keeper's SQLite mirror.
//!
//! `router(state)` builds the whole service from one router per resource, behind the security
//! layers (body limit, timeout, CORS allowlist, security headers). Reads go through a read-only
//! pool, so they never block the keeper's writer (WAL).

pub mod auth;
pub mod cache;
pub mod dashboard;
pub mod error;
pub mod evm;
pub mod json;
pub mod metrics;
pub mod params;
pub mod ratelimit;
pub mod routes;
pub mod solana_rpc;
pub mod wallet_tx;

use std::{str::FromStr, time::Duration};

use axum::{
    http::{header, HeaderName, HeaderValue, Method},
    Router,
};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
    SqlitePool,
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
};

/// The migrations shared with the keeper (owned by the `mirror` crate).
pub use mirror::MIGRATOR;

#[derive(Clone)]
pub struct AppState {
    /// Read-only pool over the mirror.
    pub db: SqlitePool,
    /// One read-write connection for the API's own tables (users, sessions, audit, controls).
    pub writer: SqlitePool,
    pub limiter: std::sync::Arc<ratelimit::RateLimiter>,
    /// Session lifetime.
    pub session_ttl: Duration,
    pub metrics: std::sync::Arc<metrics::Metrics>,
    pub stream: std::sync::Arc<routes::stream::Stream>,
    /// The mirror's name for our Solana chain, and a JSON-RPC URL for recent blockhashes.
    pub solana_chain: String,
    pub solana_rpc: Option<String>,
    /// The EVM chains transactions can be built for: an RPC and the routers of the venues.
    pub evm: std::sync::Arc<evm::EvmChains>,
    pub cache: std::sync::Arc<cache::ResponseCache>,
    /// Read-only connections for the hot list reads, outside sqlx (see [`mirror::direct`]).
    pub direct: std::sync::Arc<mirror::direct::DirectReader>,
    /// Password hashing, on blocking threads with bounded concurrency.
    pub hasher: std::sync::Arc<auth::Hasher>,
}

/// Milliseconds since the unix epoch.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Appends to the audit log; a failure is logged, never fatal to the request.
pub async fn audit(
    state: &AppState,
    user: Option<(i64, &str)>,
    ip: std::net::IpAddr,
    action: &str,
    detail: serde_json::Value,
) {
    let result = mirror::api::audit(&state.writer, user, &ip.to_string(), action, &detail.to_string()).await;
    if let Err(e) = result {
        tracing::error!(error = %e, action, "audit log write failed");
    }
}

/// Service settings that are not routes.
#[derive(Debug, Clone)]
pub struct Limits {
    pub body_limit: usize,
    pub timeout: Duration,
    /// Origins allowed by CORS (exact match); empty allows none.
    pub cors_origins: Vec<String>,
    /// The built dashboard (`dashboard/dist`) to serve at `/`, if any.
    pub dashboard: Option<std::path::PathBuf>,
}

impl Default for Limits {
    fn default() -> Self {
        Self { body_limit: 64 * 1024, timeout: Duration::from_secs(10), cors_origins: vec![], dashboard: None }
    }
}

/// Requests per minute per IP before 429.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 6_000;

pub fn router(state: AppState, limits: &Limits) -> Router {
    let api = Router::new()
        .merge(routes::health::router())
        .merge(routes::pools::router())
        .merge(routes::tokens::router())
        .merge(routes::trades::router())
        .merge(routes::quote::router())
        .merge(routes::stream::router())
        .merge(routes::tx::router())
        .merge(routes::wallets::router())
        .merge(routes::auth::router())
        .merge(routes::keeper::router())
        .merge(routes::audit::router())
        .merge(routes::performance::router())
        .merge(routes::backtests::router())
        .merge(routes::docs::router())
        .merge(metrics::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), cache::serve))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track));
    let origins: Vec<HeaderValue> = limits.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);
    let fixed = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::overriding(HeaderName::from_static(name), HeaderValue::from_static(value))
    };
    // Solana Actions keep their own CORS policy (any origin, as the spec requires), outside the
    // API's.
    let actions = routes::actions::router(state.clone())
        .layer(axum::middleware::from_fn_with_state(state.clone(), ratelimit::limit))
        .with_state(state.clone())
        .layer(routes::actions::cors());
    let rest = Router::new()
        .nest("/api/v1", api)
        .fallback(|| async { error::ApiError::NotFound("route".into()) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), ratelimit::limit))
        .with_state(state)
        .layer(cors);
    let site = match &limits.dashboard {
        Some(dir) => dashboard::router(dir),
        None => Router::new(),
    };
    actions
        .merge(site)
        .merge(rest)
        .layer(RequestBodyLimitLayer::new(limits.body_limit))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, limits.timeout))
        .layer(fixed("x-content-type-options", "nosniff"))
        .layer(fixed("x-frame-options", "DENY"))
        .layer(fixed("referrer-policy", "no-referrer"))
        // The dashboard's files set their own caching; everything else is never cached.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database has migration {0} which this app-api does not know; upgrade app-api")]
    UnknownMigration(i64),
}

/// Applies pending migrations (refusing a schema from a newer release), then opens the read-only
/// pool the handlers use and the single writer connection for the API's own tables.
pub async fn open(path: &std::path::Path, connections: u32) -> Result<AppState, StartError> {
    let rw = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let writer = SqlitePoolOptions::new().max_connections(1).connect_with(rw).await?;
    MIGRATOR.run(&writer).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => StartError::UnknownMigration(v),
        other => other.into(),
    })?;
    let ro = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .read_only(true)
        .busy_timeout(Duration::from_secs(5));
    let db = SqlitePoolOptions::new().max_connections(connections).connect_with(ro).await?;
    Ok(AppState {
        db,
        writer,
        limiter: std::sync::Arc::new(ratelimit::RateLimiter::new(DEFAULT_RATE_PER_MINUTE)),
        session_ttl: Duration::from_secs(24 * 3600),
        metrics: Default::default(),
        stream: Default::default(),
        solana_chain: "solana".into(),
        solana_rpc: None,
        evm: Default::default(),
        cache: std::sync::Arc::new(cache::ResponseCache::new(Duration::ZERO)),
        direct: std::sync::Arc::new(mirror::direct::DirectReader::new(path, usize::try_from(connections).unwrap_or(8))),
        hasher: Default::default(),
    })
}
