//! Keeper configuration: a TOML file, overridden by `KEEPER_*` environment variables
//! (`KEEPER_DATABASE__PATH` sets `database.path`). Every field is documented in
//! [`DEFAULT_CONFIG`], which `keeper init` writes out. An invalid config is refused with an
//! error naming the field and the reason.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use alloy::primitives::{address, Address, U256};
use anchor_lang::prelude::Pubkey;
use figment::{
    providers::{Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

pub mod anomaly;
pub mod notify;
pub mod trading;
pub mod values;

pub use trading::TradingConfig;

use crate::risk::RiskPolicy;

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
# A critical task (writer, risk worker, trader) failing this many times in a row stops the
# keeper with its error and a non-zero exit.
max_failures = 5

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
# Quote mints: the other side of a pool is the token being evaluated. A pool whose quote reserve
# is below min_reserve (base units) is flagged as thin.
quote_mints = [
  { mint = "So11111111111111111111111111111111111111112", min_reserve = 5000000000 },  # wSOL, 5 SOL
  { mint = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", min_reserve = 1000000000 }, # USDC, 1000
]

[risk]
# Risk score thresholds (basis points). A tax above tax_medium_bps is a medium finding, above
# tax_high_bps high, above tax_critical_bps critical (never trade).
tax_medium_bps = 100
tax_high_bps = 1000
tax_critical_bps = 2500
# Share of the supply held by the top_holders_count largest holders outside pools and burn
# addresses: above top_holders_medium_bps is medium, above top_holders_high_bps high.
top_holders_medium_bps = 2000
top_holders_high_bps = 4000
top_holders_count = 10
# The pool creator holding more than this share of the LP tokens is a high finding.
lp_creator_high_bps = 5000
# Concurrent risk evaluations.
concurrency = 8
# The EVM privilege search (every function of the token called by every candidate privileged
# caller, then our sell re-tried) stops after this many sandbox simulations or milliseconds; a
# search cut short is a high finding (the powers it did not try are unknown).
sandbox_max_simulations = 4000
sandbox_budget_ms = 250

# EVM chains, one table each; set enabled = true and your own RPC URLs to use one. Amounts are wei
# as decimal strings. Factories: kind "v2" (PairCreated; needs the router used to simulate trades)
# or "v3" (PoolCreated; simulated through the chain's first v2 router when a v2 pair exists).
[evm.ethereum]
enabled = false
chain_id = 1
http_url = "https://ethereum-rpc.publicnode.com"
ws_url = "wss://ethereum-rpc.publicnode.com"
wrapped_native = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
# The quote side of a pair besides wrapped_native (the other side is the token scored and
# traded): USDC, USDT, DAI.
quote_tokens = ["0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "0xdAC17F958D2ee523a2206206994597C13D831ec7", "0x6B175474E89094C44Da98b954EedeAC495271d0F"]
# Contracts that lock LP tokens (lockers): LP held there cannot be pulled. None is shipped:
# add only lockers whose code you have verified.
lp_lockers = []
# Blocks after which a discovery is final; reorgs up to this deep are unwound.
confirmations = 12
# Backfill from this block when there is no checkpoint; 0 starts at the current head.
start_block = 0
# Largest eth_getLogs block range; halved when the provider refuses a range, regrown on success.
max_log_range = 2000
# The buy/sell simulation buys with these amounts.
probe_small_wei = "10000000000000000"
probe_large_wei = "1000000000000000000"
# A pool with less wrapped native than this is flagged as thin.
min_liquidity_wei = "5000000000000000000"
# Follow pending transactions over ws_url, so that held positions are sold ahead of a pending
# rug ([trading.evm] front_run_rugs); needs a node that serves newPendingTransactions.
mempool = false
# Mirror every reserve change of the V2 pairs first seen this long ago or less (their reserve
# history: the API's charts, the anomaly watch, backtests); 0 for none.
track_reserves_secs = 86400
factories = [
  { name = "uniswap_v2", kind = "v2", address = "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f", router = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D" },
  { name = "uniswap_v3", kind = "v3", address = "0x1F98431c8aD98523631AE4a59f267346ea31F984" },
]

[evm.bsc]
enabled = false
chain_id = 56
http_url = "https://bsc-rpc.publicnode.com"
ws_url = "wss://bsc-rpc.publicnode.com"
wrapped_native = "0xbb4CdB9CBd36B01bD1cBaEBF2De08d9173bc095c"
# USDT, USDC, BUSD.
quote_tokens = ["0x55d398326f99059fF775485246999027B3197955", "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", "0xe9e7CEA3DedcA5984780Bafc599bD69ADd087D56"]
lp_lockers = []
confirmations = 15
start_block = 0
max_log_range = 2000
probe_small_wei = "50000000000000000"
probe_large_wei = "5000000000000000000"
min_liquidity_wei = "20000000000000000000"
mempool = false
factories = [
  { name = "pancakeswap_v2", kind = "v2", address = "0xcA143Ce32Fe78f1f7019d7d551a6402fC5350c73", router = "0x10ED43C718714eb63d5aA57B78B54704E256024E" },
  { name = "pancakeswap_v3", kind = "v3", address = "0x0BFbCF9fa4f9C56B0F40a671Ad40E0805A091865" },
]

[evm.polygon]
enabled = false
chain_id = 137
http_url = "https://polygon-bor-rpc.publicnode.com"
ws_url = "wss://polygon-bor-rpc.publicnode.com"
wrapped_native = "0x0d500B1d8E8eF31E21C99d1Db9A6444d3ADf1270"
# USDC, USDC.e, USDT, DAI.
quote_tokens = ["0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174", "0xc2132D05D31c914a87C6611C10748AEb04B58e8F", "0x8f3Cf7ad23Cd3CaDbD9735AFf958023239c6A063"]
lp_lockers = []
confirmations = 64
start_block = 0
max_log_range = 2000
probe_small_wei = "50000000000000000000"
probe_large_wei = "5000000000000000000000"
min_liquidity_wei = "20000000000000000000000"
mempool = false
factories = [
  { name = "quickswap_v2", kind = "v2", address = "0x5757371414417b8C6CAad45bAeF941aBc7d3Ab32", router = "0xa5E0829CaCEd8fFDD4De3c43696c57F7D7A678ff" },
  { name = "uniswap_v3", kind = "v3", address = "0x1F98431c8aD98523631AE4a59f267346ea31F984" },
]

# Guarded execution. Dry-run (paper fills, nothing sent) unless live = true; live trading also
# needs a key: a file named here, or the KEEPER_EVM_KEY / KEEPER_SOLANA_KEY environment variable
# (hex private key / solana-keygen JSON or base58). Keys are never logged or stored.
[trading]
enabled = false
live = false
evm_key_file = ""
solana_key_file = ""
# Filters: the risk report's score (0-100) and measured taxes, token age (0: any age), and
# optional allow / deny lists of token addresses.
max_risk_score = 30
max_buy_tax_bps = 1000
max_sell_tax_bps = 1000
max_token_age_secs = 600
# Risk checks that rule a token out whenever they find anything, whatever the score.
never_buy = ["blacklist_function", "transfer_reverts", "large_sells_revert", "freeze_authority", "permanent_delegate", "transfer_hook"]
allow = []
deny = []
# Guards, persisted in the database: open positions at most, no new buy of a token within
# cooldown_secs of the last, and after max_consecutive_failures failed buys on a chain no buy
# there for breaker_cooldown_secs. Operators can pause buying and override limits through the API.
max_open_positions = 5
cooldown_secs = 3600
max_consecutive_failures = 3
breaker_cooldown_secs = 600
# Accept at most this slippage off the exact quote (after the token's measured tax); paper fills
# assume paper_slippage_bps.
slippage_bps = 500
paper_slippage_bps = 50
# Exits (0 disables one): take profit at +100%, stop loss at -30%, trailing stop 20% under the
# highest value once in profit, sell after max_hold_secs. Positions are valued every exit_poll_ms.
take_profit_bps = 10000
stop_loss_bps = 3000
trailing_stop_bps = 2000
max_hold_secs = 3600
exit_poll_ms = 1000
# Also sell a held position when the anomaly watch flags its pool with one of these kinds:
# "liquidity_drop", "sell_tax_jump", "concentration_jump", "volume_spike". Empty: never.
exit_on_anomaly = []

# Sizing and budgets per chain, in base units of the quote token (wei for wrapped native):
# [trading.chains.ethereum]
# buy_amount = "50000000000000000"
# max_buy = "100000000000000000"
# daily_budget = "500000000000000000"
# min_liquidity = "5000000000000000000"
# quote_tokens = []   # empty: wrapped native (EVM) or any solana.quote_mints mint
[trading.chains]

[trading.evm]
# EIP-1559: tip per gas and the cap on the total fee per gas, in wei.
priority_fee_wei = "1500000000"
max_fee_wei = "200000000000"
# Replace a transaction that has no receipt after this long, at the same nonce, with fees raised
# by fee_bump_bps, up to the cap.
replace_after_ms = 6000
fee_bump_bps = 1250
# The router deadline of a swap, from signing.
deadline_secs = 120
receipt_poll_ms = 100
# Anti-rug (on chains whose [evm.<chain>] mempool is on): a pending transaction to a held token,
# its pair or the router is simulated, then our sale after it. When the sale would revert or
# return front_run_drop_bps less, the position is sold at once with a tip front_run_tip_bump_bps
# above the pending transaction's, so that fee ordering lands our sale first.
front_run_rugs = true
front_run_drop_bps = 3000
front_run_tip_bump_bps = 5000
# Block-0 buys (on chains whose mempool is on): a pending launch (liquidity added through one of
# the chain's v2 routers) is scored on the state it would leave, and a tradeable token is bought
# right after it with the launch's own fees, so that the buy lands in the launch's block.
launch_buys = true
# The gas limit of such a buy (it cannot be estimated before the launch lands).
launch_buy_gas = 500000
# Send live transactions privately through a Flashbots-compatible relay (eth_sendPrivateTransaction,
# signed with the trading key in X-Flashbots-Signature) instead of the public node; empty: off.
private_relay_url = ""
# "private_transaction" (eth_sendPrivateTransaction, valid 25 blocks) or "bundle" (eth_sendBundle
# of the transaction for each of the next 5 blocks).
private_relay_method = "private_transaction"

[trading.solana]
compute_unit_limit = 200000
# Priority fee in micro-lamports per compute unit.
priority_micro_lamports = 10000
# Or pay this percentile (1-100) of what getRecentPrioritizationFees reports recently paid for
# the swap's pool and vaults, at least priority_micro_lamports and at most
# max_priority_micro_lamports; 0 pays priority_micro_lamports always.
priority_fee_percentile = 0
max_priority_micro_lamports = 1000000
# Send live swaps on our AMM as Jito-style bundles to this block engine (its bundles endpoint,
# e.g. https://mainnet.block-engine.jito.wtf/api/v1/bundles), each with a tip of
# jito_tip_lamports to one of its tip accounts; empty: the RPC's sendTransaction.
jito_url = ""
jito_tip_lamports = 10000
confirm_poll_ms = 250

# Third-party services, each off until enabled. Every [external.<service>] also takes:
# api_key (prefer api_key_env: the environment variable holding the key, which wins; keys are
# never logged), timeout_ms = 3000, max_retries = 2 (on timeouts, transport errors, 429 and
# 5xx; Retry-After is honoured up to backoff_max_ms), backoff_initial_ms = 200,
# backoff_max_ms = 5000 (exponential with jitter), breaker_failures = 5 and
# breaker_open_ms = 30000 (stop calling a failing service for a while; 0 failures disables),
# cache_ttl_ms = 30000 (prices).
[external]
# Also discover pairs from DexScreener's newest token profiles (needs external.dexscreener).
dexscreener_discovery = false
dexscreener_poll_ms = 10000
# Markets of tokens whose pool is under a day old are fetched again after this many seconds
# (0: once); pools DexScreener discovery found get their reserves refreshed with them.
dexscreener_refresh_secs = 300
# Our chain names -> DexScreener chain ids, and -> CoinGecko asset platforms.
dexscreener_chains = { ethereum = "ethereum", bsc = "bsc", polygon = "polygon", solana = "solana" }
coingecko_platforms = { ethereum = "ethereum", bsc = "binance-smart-chain", polygon = "polygon-pos", solana = "solana" }
# Jupiter swap transactions may invoke the runtime's programs, the token programs and Jupiter's
# aggregator; add DEX programs it calls directly here. Any other program: refused unsigned.
jupiter_extra_programs = []
# Lamports a Jupiter swap may cost beyond its input (fees, new token accounts).
jupiter_max_lamports = 10000000

# Solana swaps for tokens without a pool on our AMM (quote, then a swap transaction the keeper
# checks before signing). https://api.jup.ag/swap/v1 with a key.
[external.jupiter]
enabled = false
base_url = "https://lite-api.jup.ag/swap/v1"
api_key_env = "JUPITER_API_KEY"
requests_per_minute = 60

# Discovery enrichment (liquidity in USD, socials, age) and an optional discovery source.
[external.dexscreener]
enabled = false
base_url = "https://api.dexscreener.com"
api_key_env = ""
requests_per_minute = 60

# USD prices for PnL.
[external.coingecko]
enabled = false
base_url = "https://api.coingecko.com/api/v3"
api_key_env = "COINGECKO_API_KEY"
requests_per_minute = 30

# EVM aggregator quotes compared with the keeper's own pair quote on every buy.
[external.zeroex]
enabled = false
base_url = "https://api.0x.org"
api_key_env = "ZEROEX_API_KEY"
requests_per_minute = 60

[external.oneinch]
enabled = false
base_url = "https://api.1inch.dev"
api_key_env = "ONEINCH_API_KEY"
requests_per_minute = 60

# Alerts and remote control, off unless enabled. Each channel sets every notification type
# (buy, sell, trapped, breaker, health, daily, anomaly) to "on", "silent" or "off". Secrets never go
# here: the bot token comes from telegram.token_file or KEEPER_TELEGRAM_TOKEN, a webhook's URL
# from its url_file or KEEPER_WEBHOOK_URL_<NAME>, the SMTP password from email.password_file or
# KEEPER_SMTP_PASSWORD.
[notify]
enabled = false
# How often the mirror is read for new events, in milliseconds.
poll_ms = 500
# The most notifications a channel may be behind; older ones are dropped (and counted).
queue = 1000
# A task not running for this many seconds is reported down (and again when it is back).
down_after_secs = 60
# The daily summary, HH:MM in UTC ("" for none).
daily_at_utc = "08:00"
# [[notify.webhooks]] entries: name, format ("generic", "discord" or "slack"), url_file,
# template (generic: a JSON body with {kind}, {title}, {body} and the notification's fields),
# timeout_ms = 5000, retries = 4, backoff_ms = 500, and a types table.
webhooks = []

# Telegram: notifications to chat_ids, and commands from them only (/help lists them).
[notify.telegram]
enabled = false
api_url = "https://api.telegram.org"
token_file = ""
chat_ids = []
commands = true
poll_timeout_secs = 30
min_interval_ms = 1000
timeout_ms = 10000
types = { buy = "on", sell = "on", trapped = "on", breaker = "on", health = "on", daily = "silent", anomaly = "on" }

# Email over SMTP: tls = "starttls" (required, never downgraded), "implicit" (port 465) or
# "none" (plain text, only with allow_plaintext = true).
[notify.email]
enabled = false
host = ""
port = 587
tls = "starttls"
allow_plaintext = false
username = ""
password_file = ""
from = ""
to = []
timeout_ms = 10000
types = { buy = "off", sell = "off", trapped = "on", breaker = "on", health = "on", daily = "on", anomaly = "on" }

# Anomaly detection on the pools under young_for_secs old and on held positions, read from the
# mirror every every_ms. Each anomaly is recorded in the pool's history (the API), alerted on the
# channels whose types take "anomaly", and sells a held position when [trading] exit_on_anomaly
# lists its kind. Windows are in blocks (EVM) or slots (Solana).
[anomaly]
enabled = true
every_ms = 2000
young_for_secs = 86400
# The quote side's reserve falling by this share from its highest within liquidity_window.
liquidity_drop_bps = 3000
liquidity_window = 50
# The measured sell tax, or the largest holders' share, rising this much between two reports.
sell_tax_jump_bps = 1000
concentration_jump_bps = 1500
# One window's quote volume at volume_spike_ratio times the average of the pool's earlier
# windows, once it has volume_min_windows of them.
volume_window = 25
volume_spike_ratio = 5
volume_min_windows = 4

# A local anvil (scripts/localnet.sh fills in the factory it deploys).
[evm.local]
enabled = false
chain_id = 31337
http_url = "http://127.0.0.1:8545"
ws_url = "ws://127.0.0.1:8545"
wrapped_native = "0x0000000000000000000000000000000000000000"
quote_tokens = []
lp_lockers = []
confirmations = 12
start_block = 0
max_log_range = 2000
probe_small_wei = "10000000000000000"
probe_large_wei = "1000000000000000000"
min_liquidity_wei = "1000000000000000000"
mempool = false
factories = []
"#;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub supervisor: SupervisorConfig,
    pub solana: SolanaConfig,
    pub risk: RiskPolicy,
    /// EVM chains by name.
    pub evm: BTreeMap<String, EvmChainConfig>,
    pub trading: TradingConfig,
    pub external: crate::external::ExternalConfig,
    pub notify: notify::NotifyConfig,
    pub anomaly: anomaly::AnomalyConfig,
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
    /// A critical task (the writer, the risk worker, the trader) failing this many times in a
    /// row stops the keeper with its error.
    pub max_failures: u32,
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
    #[serde(with = "values::pubkey")]
    pub program_id: Pubkey,
    pub commitment: Commitment,
    pub backfill_page_size: usize,
    pub backfill_concurrency: usize,
    pub poll_interval_ms: u64,
    pub quote_mints: Vec<QuoteMint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteMint {
    #[serde(with = "values::pubkey")]
    pub mint: Pubkey,
    pub min_reserve: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FactoryKind {
    V2,
    V3,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactoryConfig {
    /// Venue name in the mirror, e.g. uniswap_v2.
    pub name: String,
    pub kind: FactoryKind,
    #[serde(with = "values::address")]
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "values::opt_address")]
    pub router: Option<Address>,
}

/// The swap fee of the V2 venue `name`: Uniswap V2 and QuickSwap charge 0.30%, PancakeSwap V2
/// 0.25%.
pub fn v2_fee_bps(name: &str) -> u32 {
    if name.starts_with("pancakeswap") {
        25
    } else {
        30
    }
}

/// `[evm.<chain>]`: one EVM chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmChainConfig {
    pub enabled: bool,
    pub chain_id: u64,
    pub http_url: String,
    pub ws_url: String,
    #[serde(with = "values::address")]
    pub wrapped_native: Address,
    /// Tokens that are the quote side of a pair besides the wrapped native one (the major
    /// stablecoins): the other side is the token scored and traded.
    pub quote_tokens: Vec<Address>,
    /// LP lockers: contracts whose LP holdings cannot be withdrawn by the deployer.
    #[serde(default)]
    pub lp_lockers: Vec<Address>,
    pub confirmations: u64,
    pub start_block: u64,
    pub max_log_range: u64,
    #[serde(with = "values::amount")]
    pub probe_small_wei: U256,
    #[serde(with = "values::amount")]
    pub probe_large_wei: U256,
    #[serde(with = "values::amount")]
    pub min_liquidity_wei: U256,
    pub factories: Vec<FactoryConfig>,
    /// Follow the node's pending transactions (`eth_subscribe` `newPendingTransactions`) over
    /// `ws_url`, for the anti-rug watch of held positions (`[trading.evm] front_run_rugs`).
    #[serde(default)]
    pub mempool: bool,
    /// Mirror the reserve changes (`Sync`, with its `Swap`, `Mint` or `Burn`) of the V2 pairs
    /// first seen this long ago or less: their reserve history (API, anomaly watch, backtests).
    /// 0: none.
    #[serde(default = "default_track_reserves_secs")]
    pub track_reserves_secs: u64,
}

fn default_track_reserves_secs() -> u64 {
    86_400
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
                max_failures: 5,
            },
            solana: SolanaConfig {
                enabled: true,
                chain: "solana".into(),
                rpc_url: "http://127.0.0.1:8899".into(),
                ws_url: "ws://127.0.0.1:8900".into(),
                program_id: amm::ID,
                commitment: Commitment::Confirmed,
                backfill_page_size: 1_000,
                backfill_concurrency: 16,
                poll_interval_ms: 5_000,
                quote_mints: vec![
                    QuoteMint {
                        mint: anchor_lang::pubkey!("So11111111111111111111111111111111111111112"),
                        min_reserve: 5_000_000_000,
                    },
                    QuoteMint {
                        mint: anchor_lang::pubkey!("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
                        min_reserve: 1_000_000_000,
                    },
                ],
            },
            risk: RiskPolicy::default(),
            evm: default_evm_chains(),
            trading: TradingConfig::default(),
            external: crate::external::ExternalConfig::default(),
            notify: notify::NotifyConfig::default(),
            anomaly: anomaly::AnomalyConfig::default(),
        }
    }
}

fn v2(name: &str, address: Address, router: Address) -> FactoryConfig {
    FactoryConfig { name: name.into(), kind: FactoryKind::V2, address, router: Some(router) }
}

fn v3(name: &str, address: Address) -> FactoryConfig {
    FactoryConfig { name: name.into(), kind: FactoryKind::V3, address, router: None }
}

/// Ethereum, BSC, Polygon and a local anvil, all disabled until switched on.
fn default_evm_chains() -> BTreeMap<String, EvmChainConfig> {
    let wei = |v: &str| values::amount::parse(v).unwrap_or_default();
    let chain =
        |chain_id: u64, rpc: &str, weth: Address, confirmations: u64, probe: (&str, &str, &str)| EvmChainConfig {
            enabled: false,
            chain_id,
            http_url: format!("http{rpc}"),
            ws_url: format!("ws{rpc}"),
            wrapped_native: weth,
            quote_tokens: vec![],
            lp_lockers: vec![],
            confirmations,
            start_block: 0,
            max_log_range: 2_000,
            probe_small_wei: wei(probe.0),
            probe_large_wei: wei(probe.1),
            min_liquidity_wei: wei(probe.2),
            factories: vec![],
            mempool: false,
            track_reserves_secs: default_track_reserves_secs(),
        };
    let mut ethereum = chain(
        1,
        "s://ethereum-rpc.publicnode.com",
        address!("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
        12,
        ("10000000000000000", "1000000000000000000", "5000000000000000000"),
    );
    ethereum.factories = vec![
        v2(
            "uniswap_v2",
            address!("0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"),
            address!("0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"),
        ),
        v3("uniswap_v3", address!("0x1F98431c8aD98523631AE4a59f267346ea31F984")),
    ];
    ethereum.quote_tokens = vec![
        address!("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
        address!("0xdAC17F958D2ee523a2206206994597C13D831ec7"),
        address!("0x6B175474E89094C44Da98b954EedeAC495271d0F"),
    ];
    let mut bsc = chain(
        56,
        "s://bsc-rpc.publicnode.com",
        address!("0xbb4CdB9CBd36B01bD1cBaEBF2De08d9173bc095c"),
        15,
        ("50000000000000000", "5000000000000000000", "20000000000000000000"),
    );
    bsc.factories = vec![
        v2(
            "pancakeswap_v2",
            address!("0xcA143Ce32Fe78f1f7019d7d551a6402fC5350c73"),
            address!("0x10ED43C718714eb63d5aA57B78B54704E256024E"),
        ),
        v3("pancakeswap_v3", address!("0x0BFbCF9fa4f9C56B0F40a671Ad40E0805A091865")),
    ];
    bsc.quote_tokens = vec![
        address!("0x55d398326f99059fF775485246999027B3197955"),
        address!("0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d"),
        address!("0xe9e7CEA3DedcA5984780Bafc599bD69ADd087D56"),
    ];
    let mut polygon = chain(
        137,
        "s://polygon-bor-rpc.publicnode.com",
        address!("0x0d500B1d8E8eF31E21C99d1Db9A6444d3ADf1270"),
        64,
        ("50000000000000000000", "5000000000000000000000", "20000000000000000000000"),
    );
    polygon.factories = vec![
        v2(
            "quickswap_v2",
            address!("0x5757371414417b8C6CAad45bAeF941aBc7d3Ab32"),
            address!("0xa5E0829CaCEd8fFDD4De3c43696c57F7D7A678ff"),
        ),
        v3("uniswap_v3", address!("0x1F98431c8aD98523631AE4a59f267346ea31F984")),
    ];
    polygon.quote_tokens = vec![
        address!("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"),
        address!("0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"),
        address!("0xc2132D05D31c914a87C6611C10748AEb04B58e8F"),
        address!("0x8f3Cf7ad23Cd3CaDbD9735AFf958023239c6A063"),
    ];
    let local = chain(
        31337,
        "://127.0.0.1:8545",
        address!("0x0000000000000000000000000000000000000000"),
        12,
        ("10000000000000000", "1000000000000000000", "1000000000000000000"),
    );
    BTreeMap::from([
        ("ethereum".to_string(), ethereum),
        ("bsc".to_string(), bsc),
        ("polygon".to_string(), polygon),
        ("local".to_string(), local),
    ])
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
    /// The quote tokens each traded chain buys with when its budget names none: an EVM chain's
    /// wrapped native token, Solana's quote mints. The live trader and the backtest read this.
    pub fn default_quotes(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> =
            self.evm.iter().map(|(name, c)| (name.clone(), vec![format!("{:#x}", c.wrapped_native)])).collect();
        out.insert(self.solana.chain.clone(), self.solana.quote_mints.iter().map(|q| q.mint.to_string()).collect());
        out
    }

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
            // Trading keys are secrets, not settings (see trade::keys).
            let secret = ["evm_key", "solana_key", "telegram_token", "smtp_password"].contains(&path.as_str())
                || path.starts_with("webhook_url_");
            if path.is_empty() || path == "config" || secret {
                continue;
            }
            let parsed: figment::value::Value =
                value.parse::<figment::value::Value>().unwrap_or_else(|_| figment::value::Value::from(value.clone()));
            figment = figment.merge(Serialized::default(&path, parsed));
        }
        let config: Config = figment.extract().map_err(|e| {
            // `a.b.0.c` is written `a.b[0].c`, as the validation names list items.
            let mut field = String::new();
            for part in &e.path {
                if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                    field.push_str(&format!("[{part}]"));
                } else {
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(part);
                }
            }
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
        if s.max_failures == 0 || s.max_failures > 1_000 {
            return Err(invalid("supervisor.max_failures", "must be between 1 and 1000"));
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
        notify::validate(&self.notify).map_err(|(field, reason)| invalid(&field, reason))?;
        if let Some((field, reason)) = self.anomaly.invalid() {
            return Err(invalid(&field, reason));
        }
        if let Some((field, reason)) = self.external.invalid_field() {
            return Err(invalid(&field, reason));
        }
        if let Some((field, reason)) = self.risk.invalid_field() {
            return Err(invalid(field, reason));
        }
        if self.risk.concurrency == 0 || self.risk.concurrency > 256 {
            return Err(invalid("risk.concurrency", "must be between 1 and 256"));
        }
        for (name, c) in &self.evm {
            let field = |f: &str| format!("evm.{name}.{f}");
            if !valid_chain_name(name) {
                return Err(invalid(&format!("evm.{name}"), "chain names are 1-32 characters of a-z, 0-9, '-' or '_'"));
            }
            if !c.enabled {
                continue;
            }
            if c.chain_id == 0 {
                return Err(invalid(&field("chain_id"), "must not be 0"));
            }
            check_url(&field("http_url"), &c.http_url, &["http", "https"])?;
            check_url(&field("ws_url"), &c.ws_url, &["ws", "wss"])?;
            if c.confirmations == 0 || c.confirmations > 1_000 {
                return Err(invalid(&field("confirmations"), "must be between 1 and 1000"));
            }
            if c.max_log_range == 0 || c.max_log_range > 100_000 {
                return Err(invalid(&field("max_log_range"), "must be between 1 and 100000"));
            }
            if c.probe_small_wei.is_zero() {
                return Err(invalid(&field("probe_small_wei"), "must be more than 0"));
            }
            if c.probe_large_wei <= c.probe_small_wei {
                return Err(invalid(&field("probe_large_wei"), "must be more than probe_small_wei"));
            }
            if c.factories.is_empty() {
                return Err(invalid(&field("factories"), "an enabled chain needs at least one factory"));
            }
            for (i, f) in c.factories.iter().enumerate() {
                let ff = |x: &str| field(&format!("factories[{i}].{x}"));
                if !valid_chain_name(&f.name) {
                    return Err(invalid(&ff("name"), "must be 1-32 characters of a-z, 0-9, '-' or '_'"));
                }
                if f.kind == FactoryKind::V2 && f.router.is_none() {
                    return Err(invalid(&ff("router"), "a v2 factory needs its router"));
                }
            }
        }
        let mut chains: Vec<String> = self.evm.iter().filter(|(_, c)| c.enabled).map(|(n, _)| n.clone()).collect();
        if self.solana.enabled {
            chains.push(self.solana.chain.clone());
        }
        if let Some((field, reason)) = self.trading.invalid_field(&chains) {
            return Err(invalid(&field, reason));
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
    fn values_are_parsed_into_their_types_at_load() {
        let c = load_toml(
            "[evm.local]\nwrapped_native = \"0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\"\nprobe_small_wei = 7\n\
             [trading.evm]\npriority_fee_wei = \"2000000000\"",
        )
        .unwrap();
        let local = &c.evm["local"];
        assert_eq!(local.wrapped_native, address!("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"));
        assert_eq!(local.probe_small_wei, U256::from(7u8), "a TOML integer is an amount too");
        assert_eq!(c.trading.evm.priority_fee_wei, U256::from(2_000_000_000u64));
        assert_eq!(c.solana.program_id, amm::ID);
        // Written back as text (the defaults reach figment this way, and are read again).
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["evm"]["local"]["probe_small_wei"], "7");
        assert_eq!(json["evm"]["local"]["wrapped_native"], "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2");
        assert_eq!(json["solana"]["program_id"], amm::ID.to_string());
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
            ("[solana]\nquote_mints = [{ mint = \"x\", min_reserve = 1 }]", "solana.quote_mints[0].mint"),
            ("[risk]\ntax_high_bps = 50", "risk.tax_high_bps"),
            ("[risk]\nconcurrency = 0", "risk.concurrency"),
            ("[risk]\nsurprise = 1", "risk.surprise"),
            ("[evm.ethereum]\nenabled = true\nhttp_url = \"x\"", "evm.ethereum.http_url"),
            ("[evm.ethereum]\nenabled = true\nws_url = \"https://x\"", "evm.ethereum.ws_url"),
            ("[evm.bsc]\nenabled = true\nwrapped_native = \"0x12\"", "evm.bsc.wrapped_native"),
            ("[evm.bsc]\nenabled = true\nconfirmations = 0", "evm.bsc.confirmations"),
            ("[evm.bsc]\nenabled = true\nprobe_small_wei = \"1.5\"", "evm.bsc.probe_small_wei"),
            ("[evm.bsc]\nenabled = true\nprobe_large_wei = \"1\"", "evm.bsc.probe_large_wei"),
            ("[evm.polygon]\nenabled = true\nfactories = []", "evm.polygon.factories"),
            (
                "[evm.polygon]\nenabled = true\nfactories = [{ name = \"q\", kind = \"v2\", address = \"0x5757371414417b8C6CAad45bAeF941aBc7d3Ab32\" }]",
                "evm.polygon.factories[0].router",
            ),
            ("[evm.polygon]\nchain_id = \"one\"", "evm.polygon.chain_id"),
            ("[trading]\nmax_risk_score = 101", "trading.max_risk_score"),
            ("[trading]\nslippage_bps = 0", "trading.slippage_bps"),
            ("[trading]\nstop_loss_bps = 10000", "trading.stop_loss_bps"),
            ("[trading]\nmax_open_positions = 0", "trading.max_open_positions"),
            ("[trading.evm]\nprivate_relay_url = \"ftp://relay\"", "trading.evm.private_relay_url"),
            ("[trading.evm]\nfront_run_drop_bps = 0", "trading.evm.front_run_drop_bps"),
            ("[trading]\nlive = \"yes\"", "trading.live"),
            ("[trading]\nprivate_key = \"0x12\"", "trading.private_key"),
            ("[trading.chains.nowhere]\nbuy_amount = \"1\"\nmax_buy = \"1\"\ndaily_budget = \"1\"\nmin_liquidity = \"0\"", "trading.chains.nowhere"),
            ("[trading.chains.solana]\nbuy_amount = \"0.5\"\nmax_buy = \"1\"\ndaily_budget = \"1\"\nmin_liquidity = \"0\"", "trading.chains.solana.buy_amount"),
            ("[trading.chains.solana]\nbuy_amount = \"0\"\nmax_buy = \"1\"\ndaily_budget = \"1\"\nmin_liquidity = \"0\"", "trading.chains.solana.buy_amount"),
            ("[trading.evm]\nfee_bump_bps = 500", "trading.evm.fee_bump_bps"),
            ("[trading.evm]\nmax_fee_wei = \"1\"", "trading.evm.max_fee_wei"),
            ("[trading.evm]\npriority_fee_wei = \"-1\"", "trading.evm.priority_fee_wei"),
            (
                "[evm.bsc]\nfactories = [{ name = \"p\", kind = \"v2\", address = \"0x12\", router = \"0x10ED43C718714eb63d5aA57B78B54704E256024E\" }]",
                "evm.bsc.factories[0].address",
            ),
            (
                "[evm.bsc]\nfactories = [{ name = \"p\", kind = \"v2\", address = \"0x10ED43C718714eb63d5aA57B78B54704E256024E\", router = \"10ED43C718714eb63d5aA57B78B54704E256024E\" }]",
                "evm.bsc.factories[0].router",
            ),
            ("[trading.solana]\ncompute_unit_limit = 1", "trading.solana.compute_unit_limit"),
            ("[external.jupiter]\nenabled = true\nbase_url = \"ftp://x\"", "external.jupiter.base_url"),
            ("[external.coingecko]\nenabled = true\ntimeout_ms = 0", "external.coingecko.timeout_ms"),
            ("[external.zeroex]\nenabled = true\nrequests_per_minute = 0", "external.zeroex.requests_per_minute"),
            ("[external.oneinch]\nenabled = true\nbackoff_max_ms = 1", "external.oneinch.backoff_max_ms"),
            ("[external]\ndexscreener_discovery = true", "external.dexscreener_discovery"),
            ("[external]\njupiter_extra_programs = [\"x\"]", "external.jupiter_extra_programs[0]"),
            ("[external.dexscreener]\nsecret = 1", "external.dexscreener.secret"),
            ("[notify]\ndaily_at_utc = \"25:00\"", "notify.daily_at_utc"),
            ("[trading]\nexit_on_anomaly = [\"rug\"]", "trading.exit_on_anomaly"),
            ("[trading.solana]\npriority_fee_percentile = 101", "trading.solana.priority_fee_percentile"),
            (
                "[trading.solana]\npriority_micro_lamports = 5000\nmax_priority_micro_lamports = 10",
                "trading.solana.max_priority_micro_lamports",
            ),
            ("[trading.solana]\njito_url = \"ftp://x\"", "trading.solana.jito_url"),
            ("[trading.solana]\njito_url = \"http://x\"\njito_tip_lamports = 1", "trading.solana.jito_tip_lamports"),
            ("[trading.evm]\nprivate_relay_method = \"carrier_pigeon\"", "trading.evm.private_relay_method"),
            ("[evm.bsc]\ntrack_reserves_secs = \"forever\"", "evm.bsc.track_reserves_secs"),
            ("[anomaly]\nliquidity_drop_bps = 0", "anomaly.liquidity_drop_bps"),
            ("[anomaly]\nvolume_spike_ratio = 1", "anomaly.volume_spike_ratio"),
            ("[anomaly]\nvolume_window = 0", "anomaly.volume_window"),
            ("[anomaly]\nevery_ms = 1", "anomaly.every_ms"),
            ("[notify]\nqueue = 0", "notify.queue"),
            ("[notify.telegram]\nenabled = true", "notify.telegram.chat_ids"),
            ("[notify.telegram]\ntoken = \"123:abc\"", "notify.telegram.token"),
            ("[notify.telegram.types]\nbuy = \"loud\"", "notify.telegram.types.buy"),
            (
                "[notify.email]\nenabled = true\nhost = \"h\"\ntls = \"none\"\nfrom = \"k@e.org\"\nto = [\"o@e.org\"]",
                "notify.email.tls",
            ),
            ("[notify.email]\nenabled = true\nhost = \"h\"\nfrom = \"k@e.org\"\nto = [\"nobody\"]", "notify.email.to[0]"),
            ("[[notify.webhooks]]\nname = \"a b\"\nformat = \"discord\"", "notify.webhooks[0].name"),
            (
                "[[notify.webhooks]]\nname = \"g\"\nformat = \"generic\"\ntemplate = \"{not json\"",
                "notify.webhooks[0].template",
            ),
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
