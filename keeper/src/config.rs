//! Keeper configuration: a TOML file, overridden by `KEEPER_*` environment variables
//! (`KEEPER_DATABASE__PATH` sets `database.path`). Every field is documented in
//! [`DEFAULT_CONFIG`], which `keeper init` writes out. An invalid config is refused with an
//! error naming the field and the reason.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    providers::{Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

/// The commented default configuration written by `keeper init`. Parsing it yields `Config::default()`.
pub const DEFAULT_CONFIG: &str = r#"# keeper configuration. Every setting can also be given as an environment variable:
# KEEPER_<SECTION>__<KEY>, e.g. KEEPER_DATABASE__PATH=/var/lib/keeper/keeper.db.
# Secrets (trading keys) are never read from this file or from command-line flags.

[database]
# SQLite file of the mirror; created and migrated on start.
path = "keeper.db"
# How long a connection waits for a lock before failing, in milliseconds.
busy_timeout_ms = 5000
# The writer commits a transaction when it holds this many rows...
batch_max_rows = 2000
# ...or when the oldest pending row has waited this long, in milliseconds.
batch_max_delay_ms = 25
# Capacity of the bounded channel from sources to the writer (backpressure, never drops).
channel_capacity = 8192

[log]
# "human" or "json".
format = "human"
# A tracing filter, e.g. "info" or "keeper=debug,info".
filter = "info"

[metrics]
# Serve Prometheus metrics on this local address; empty to disable.
listen = "127.0.0.1:9464"

[supervisor]
# A failing source restarts after an exponential backoff with jitter between these bounds.
restart_backoff_initial_ms = 250
restart_backoff_max_ms = 30000
# On SIGINT/SIGTERM, tasks get this long to finish before the process exits.
shutdown_timeout_ms = 5000

[solana]
# Index our AMM on Solana.
enabled = true
# Name of the chain in the mirror and the API.
chain = "solana"
# JSON-RPC and websocket endpoints.
rpc_url = "http://127.0.0.1:8899"
ws_url = "ws://127.0.0.1:8900"
# The AMM program to index.
program_id = "Fg6PaFpoGXkYsidMpWTK6W2BeZ7FEfcYkg476zPFsLnS"
# "processed", "confirmed" or "finalized".
commitment = "confirmed"
# Signatures fetched per getSignaturesForAddress page while backfilling (1..=1000).
backfill_page_size = 1000
# Concurrent getTransaction requests while backfilling.
backfill_concurrency = 16
# Live notifications (logsSubscribe on ws_url) wake the indexer at once; it also looks for new
# transactions this often, in milliseconds, in case a notification is lost.
poll_interval_ms = 5000
"#;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub supervisor: SupervisorConfig,
    pub solana: SolanaConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub path: PathBuf,
    pub busy_timeout_ms: u64,
    pub batch_max_rows: usize,
    pub batch_max_delay_ms: u64,
    pub channel_capacity: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorConfig {
    pub restart_backoff_initial_ms: u64,
    pub restart_backoff_max_ms: u64,
    pub shutdown_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Commitment {
    Processed,
    Confirmed,
    Finalized,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolanaConfig {
    pub enabled: bool,
    pub chain: String,
    pub rpc_url: String,
    pub ws_url: String,
    pub program_id: String,
    pub commitment: Commitment,
    pub backfill_page_size: usize,
    pub backfill_concurrency: usize,
    pub poll_interval_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database: DatabaseConfig {
                path: PathBuf::from("keeper.db"),
                busy_timeout_ms: 5_000,
                batch_max_rows: 2_000,
                batch_max_delay_ms: 25,
                channel_capacity: 8_192,
            },
            log: LogConfig { format: LogFormat::Human, filter: "info".into() },
            metrics: MetricsConfig { listen: "127.0.0.1:9464".into() },
            supervisor: SupervisorConfig {
                restart_backoff_initial_ms: 250,
                restart_backoff_max_ms: 30_000,
                shutdown_timeout_ms: 5_000,
            },
            solana: SolanaConfig {
                enabled: true,
                chain: "solana".into(),
                rpc_url: "http://127.0.0.1:8899".into(),
                ws_url: "ws://127.0.0.1:8900".into(),
                program_id: amm::ID.to_string(),
                commitment: Commitment::Confirmed,
                backfill_page_size: 1_000,
                backfill_concurrency: 16,
                poll_interval_ms: 5_000,
            },
        }
    }
}

/// Why a configuration was refused. Always names the offending field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid config: `{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    Unreadable { path: String, reason: String },
}

fn invalid(field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field: field.into(), reason: reason.into() }
}

impl Config {
    /// Loads defaults, then the TOML file (if given), then `KEEPER_*` variables from `env`,
    /// and validates the result.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::Unreadable { path: path.display().to_string(), reason: e.to_string() })?;
            figment = figment.merge(Toml::string(&text));
        }
        // The caller passes the environment (std::env::vars() in the binary), so tests control
        // exactly what is seen. `KEEPER_A__B` sets `a.b`; values parse as TOML scalars.
        let vars: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with("KEEPER_")).collect();
        for (key, value) in vars {
            let path = key.trim_start_matches("KEEPER_").to_ascii_lowercase().replace("__", ".");
            if path.is_empty() || path == "config" {
                continue;
            }
            let parsed: figment::value::Value =
                value.parse::<figment::value::Value>().unwrap_or_else(|_| figment::value::Value::from(value.clone()));
            figment = figment.merge(Serialized::default(&path, parsed));
        }
        let config: Config = figment.extract().map_err(|e| {
            let field = e.path.join(".");
            let reason = e.kind.to_string();
            invalid(if field.is_empty() { "<root>" } else { &field }, reason)
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.database;
        if d.path.as_os_str().is_empty() {
            return Err(invalid("database.path", "must not be empty"));
        }
        if d.busy_timeout_ms == 0 || d.busy_timeout_ms > 600_000 {
            return Err(invalid("database.busy_timeout_ms", "must be between 1 and 600000"));
        }
        if d.batch_max_rows == 0 || d.batch_max_rows > 100_000 {
            return Err(invalid("database.batch_max_rows", "must be between 1 and 100000"));
        }
        if d.batch_max_delay_ms > 60_000 {
            return Err(invalid("database.batch_max_delay_ms", "must be at most 60000"));
        }
        if d.channel_capacity == 0 || d.channel_capacity > 1_000_000 {
            return Err(invalid("database.channel_capacity", "must be between 1 and 1000000"));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.filter)
            .map_err(|e| invalid("log.filter", format!("not a tracing filter: {e}")))?;
        if !self.metrics.listen.is_empty() {
            let addr: SocketAddr = self
                .metrics
                .listen
                .parse()
                .map_err(|_| invalid("metrics.listen", "must be an address like 127.0.0.1:9464, or empty"))?;
            if addr.port() == 0 {
                return Err(invalid("metrics.listen", "port must not be 0"));
            }
        }
        let s = &self.supervisor;
        if s.restart_backoff_initial_ms == 0 {
            return Err(invalid("supervisor.restart_backoff_initial_ms", "must be at least 1"));
        }
        if s.restart_backoff_max_ms < s.restart_backoff_initial_ms {
            return Err(invalid("supervisor.restart_backoff_max_ms", "must be at least restart_backoff_initial_ms"));
        }
        if s.shutdown_timeout_ms == 0 || s.shutdown_timeout_ms > 60_000 {
            return Err(invalid("supervisor.shutdown_timeout_ms", "must be between 1 and 60000"));
        }
        let sol = &self.solana;
        if sol.enabled {
            if !valid_chain_name(&sol.chain) {
                return Err(invalid("solana.chain", "must be 1-32 characters of a-z, 0-9, '-' or '_'"));
            }
            check_url("solana.rpc_url", &sol.rpc_url, &["http", "https"])?;
            check_url("solana.ws_url", &sol.ws_url, &["ws", "wss"])?;
            sol.program_id
                .parse::<anchor_lang::prelude::Pubkey>()
                .map_err(|_| invalid("solana.program_id", "must be a base58 public key"))?;
            if sol.backfill_page_size == 0 || sol.backfill_page_size > 1_000 {
                return Err(invalid("solana.backfill_page_size", "must be between 1 and 1000 (the RPC limit)"));
            }
            if sol.backfill_concurrency == 0 || sol.backfill_concurrency > 256 {
                return Err(invalid("solana.backfill_concurrency", "must be between 1 and 256"));
            }
            if sol.poll_interval_ms == 0 || sol.poll_interval_ms > 60_000 {
                return Err(invalid("solana.poll_interval_ms", "must be between 1 and 60000"));
            }
        }
        Ok(())
    }
}

/// Chain names are identifiers in the mirror and the API.
pub fn valid_chain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn check_url(field: &str, url: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(invalid(field, format!("must be a URL starting with {}://", schemes.join("://, "))));
    };
    if !schemes.contains(&scheme) {
        return Err(invalid(field, format!("scheme must be one of {}", schemes.join(", "))));
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid(field, "must name a host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_toml(toml: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keeper.toml");
        std::fs::write(&path, toml).unwrap();
        Config::load(Some(&path), Vec::new())
    }

    #[test]
    fn the_commented_default_file_is_the_default_config() {
        assert_eq!(load_toml(DEFAULT_CONFIG).unwrap(), Config::default());
        assert_eq!(Config::load(None, Vec::new()).unwrap(), Config::default());
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keeper.toml");
        std::fs::write(&path, "[database]\npath = \"from-file.db\"\nbatch_max_rows = 10\n").unwrap();
        let env = vec![
            ("KEEPER_DATABASE__PATH".to_string(), "/tmp/from-env.db".to_string()),
            ("KEEPER_LOG__FORMAT".to_string(), "json".to_string()),
            ("KEEPER_SOLANA__BACKFILL_CONCURRENCY".to_string(), "4".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let c = Config::load(Some(&path), env).unwrap();
        assert_eq!(c.database.path, PathBuf::from("/tmp/from-env.db"));
        assert_eq!(c.database.batch_max_rows, 10);
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.solana.backfill_concurrency, 4);
    }

    /// Every invalid field yields an error naming exactly that field.
    #[test]
    fn every_invalid_field_is_named() {
        let cases: &[(&str, &str)] = &[
            ("[database]\npath = \"\"", "database.path"),
            ("[database]\nbusy_timeout_ms = 0", "database.busy_timeout_ms"),
            ("[database]\nbatch_max_rows = 0", "database.batch_max_rows"),
            ("[database]\nbatch_max_rows = -1", "database.batch_max_rows"),
            ("[database]\nbatch_max_delay_ms = 70000", "database.batch_max_delay_ms"),
            ("[database]\nchannel_capacity = 0", "database.channel_capacity"),
            ("[database]\nunknown_knob = 1", "database.unknown_knob"),
            ("[log]\nformat = \"xml\"", "log.format"),
            ("[log]\nfilter = \"keeper=loud\"", "log.filter"),
            ("[metrics]\nlisten = \"localhost\"", "metrics.listen"),
            ("[metrics]\nlisten = \"127.0.0.1:0\"", "metrics.listen"),
            ("[supervisor]\nrestart_backoff_initial_ms = 0", "supervisor.restart_backoff_initial_ms"),
            ("[supervisor]\nrestart_backoff_max_ms = 1", "supervisor.restart_backoff_max_ms"),
            ("[supervisor]\nshutdown_timeout_ms = 0", "supervisor.shutdown_timeout_ms"),
            ("[solana]\nchain = \"Sol Ana\"", "solana.chain"),
            ("[solana]\nrpc_url = \"ftp://x\"", "solana.rpc_url"),
            ("[solana]\nrpc_url = \"127.0.0.1:8899\"", "solana.rpc_url"),
            ("[solana]\nws_url = \"http://127.0.0.1:8900\"", "solana.ws_url"),
            ("[solana]\nprogram_id = \"not-a-key\"", "solana.program_id"),
            ("[solana]\ncommitment = \"soon\"", "solana.commitment"),
            ("[solana]\nbackfill_page_size = 1001", "solana.backfill_page_size"),
            ("[solana]\nbackfill_concurrency = 0", "solana.backfill_concurrency"),
            ("[solana]\nenabled = \"yes\"", "solana.enabled"),
            ("[solana]\npoll_interval_ms = 0", "solana.poll_interval_ms"),
        ];
        for (toml, field) in cases {
            match load_toml(toml) {
                Err(ConfigError::Invalid { field: got, reason }) => {
                    assert_eq!(&got, field, "for {toml:?} (reason: {reason})");
                    assert!(!reason.is_empty());
                }
                other => panic!("{toml:?} should be refused naming {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_environment_values_are_named_too() {
        let env = vec![("KEEPER_DATABASE__BATCH_MAX_ROWS".to_string(), "lots".to_string())];
        let err = Config::load(None, env).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { ref field, .. } if field == "database.batch_max_rows"), "{err}");
        assert!(err.to_string().contains("database.batch_max_rows"));
    }

    #[test]
    fn a_disabled_solana_section_is_not_validated() {
        let c = load_toml("[solana]\nenabled = false\nrpc_url = \"nope\"").unwrap();
        assert!(!c.solana.enabled);
    }
}
