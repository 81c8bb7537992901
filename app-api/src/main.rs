//! `app-api --db PATH --listen ADDR`: serves the API until SIGINT/SIGTERM (graceful shutdown).

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "app-api", version, about = "REST API over the keeper's SQLite mirror")]
struct Args {
    /// The keeper's mirror (SQLite); pending migrations are applied on start.
    #[arg(long, env = "APP_API_DB", default_value = "keeper.db")]
    db: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "APP_API_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Origins allowed by CORS, comma-separated (none by default).
    #[arg(long, env = "APP_API_CORS_ORIGINS", value_delimiter = ',')]
    cors_origin: Vec<String>,
    /// Read connections.
    #[arg(long, env = "APP_API_DB_CONNECTIONS", default_value_t = 8)]
    db_connections: u32,
    /// Solana JSON-RPC used for recent blockhashes in built transactions (optional).
    #[arg(long, env = "APP_API_SOLANA_RPC")]
    solana_rpc: Option<String>,
    /// An EVM chain's JSON-RPC, as CHAIN=URL with the mirror's chain name (repeatable; comma-separated
    /// in the environment), for `POST /tx/evm/swap`.
    #[arg(long, env = "APP_API_EVM_RPC", value_delimiter = ',')]
    evm_rpc: Vec<String>,
    /// The router of a Uniswap V2-style venue, as CHAIN/VENUE=0xROUTER with the mirror's chain and
    /// venue (the keeper's factory name) (repeatable; comma-separated in the environment).
    #[arg(long, env = "APP_API_EVM_ROUTER", value_delimiter = ',')]
    evm_router: Vec<String>,
    /// The mirror's name for the Solana chain of our AMM.
    #[arg(long, env = "APP_API_SOLANA_CHAIN", default_value = "solana")]
    solana_chain: String,
    /// Anonymous GETs of pools, discoveries and tokens are served from memory for this long
    /// (milliseconds; 0 disables).
    #[arg(long, env = "APP_API_CACHE_MS", default_value_t = 250)]
    cache_ms: u64,
    /// The built dashboard to serve at `/` (`dashboard/dist`, built by scripts/); none when unset.
    #[arg(long, env = "APP_API_DASHBOARD")]
    dashboard: Option<std::path::PathBuf>,
    /// Requests per minute per client IP before 429.
    #[arg(long, env = "APP_API_RATE_PER_MINUTE", default_value_t = app_api::DEFAULT_RATE_PER_MINUTE)]
    rate_per_minute: u32,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Give an existing (registered) user the operator role, then exit.
    MakeOperator { username: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut state =
        app_api::open(&args.db, args.db_connections).await.with_context(|| format!("opening {}", args.db.display()))?;
    if let Some(Command::MakeOperator { username }) = &args.command {
        let done = mirror::api::make_operator(&state.writer, username).await?;
        anyhow::ensure!(done, "no user `{username}`: register first (POST /api/v1/auth/register)");
        let detail = serde_json::json!({ "username": username });
        app_api::audit(&state, None, std::net::Ipv4Addr::LOCALHOST.into(), "make_operator", detail).await;
        println!("{username} is now an operator");
        return Ok(());
    }
    state.limiter = std::sync::Arc::new(app_api::ratelimit::RateLimiter::new(args.rate_per_minute));
    state.solana_rpc = args.solana_rpc.clone();
    state.evm = std::sync::Arc::new(
        app_api::evm::EvmChains::parse(&args.evm_rpc, &args.evm_router).map_err(anyhow::Error::msg)?,
    );
    state.cache =
        std::sync::Arc::new(app_api::cache::ResponseCache::new(std::time::Duration::from_millis(args.cache_ms)));
    state.solana_chain = args.solana_chain.clone();
    let limits = app_api::Limits {
        cors_origins: args.cors_origin.clone(),
        dashboard: args.dashboard.clone(),
        ..Default::default()
    };
    let app = app_api::router(state, &limits);
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(addr = %args.listen, db = %args.db.display(), "app-api listening");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await?;
    tracing::info!("app-api stopped");
    Ok(())
}

async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
