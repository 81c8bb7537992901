//! `[trading]`: what the trader may buy, how much, and when it sells. Validated at load with
//! the field named (`trading.<field>`).

use std::collections::BTreeMap;

use alloy::primitives::U256;
use serde::{Deserialize, Serialize};

/// `[trading]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradingConfig {
    /// Run the strategy at all (paper trades unless `live`).
    pub enabled: bool,
    /// Send real transactions. Needs a key (see [`keys`]).
    pub live: bool,
    /// Files holding the trading keys (EVM: hex private key; Solana: a solana-keygen JSON
    /// array). Empty: the `KEEPER_EVM_KEY` / `KEEPER_SOLANA_KEY` environment variables.
    pub evm_key_file: String,
    pub solana_key_file: String,
    /// Filters.
    pub max_risk_score: u8,
    pub max_buy_tax_bps: u32,
    pub max_sell_tax_bps: u32,
    pub max_token_age_secs: u64,
    /// Risk checks that rule a token out whenever they find anything (above info), whatever
    /// the score: e.g. a blacklist function means the owner can trap any buyer.
    pub never_buy: Vec<String>,
    /// When not empty, only these tokens are bought. Tokens in `deny` never are.
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    /// Guards.
    pub max_open_positions: u32,
    pub cooldown_secs: u64,
    pub max_consecutive_failures: u32,
    pub breaker_cooldown_secs: u64,
    /// Slippage tolerance on the exact quote, and the slippage a paper fill assumes.
    pub slippage_bps: u32,
    pub paper_slippage_bps: u32,
    /// Exits (0 disables a rule).
    pub take_profit_bps: u32,
    pub stop_loss_bps: u32,
    pub trailing_stop_bps: u32,
    pub max_hold_secs: u64,
    pub exit_poll_ms: u64,
    /// Sell a held position when the anomaly watch flags its pool with one of these kinds
    /// (`liquidity_drop`, `sell_tax_jump`, `concentration_jump`, `volume_spike`); empty: never.
    pub exit_on_anomaly: Vec<String>,
    /// Per chain: sizing and budgets in the chain's quote token base units.
    pub chains: BTreeMap<String, ChainBudget>,
    pub evm: EvmExecConfig,
    pub solana: SolanaExecConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainBudget {
    /// Spend this much quote token per buy...
    #[serde(with = "super::values::amount")]
    pub buy_amount: U256,
    /// ...never more than this in one trade...
    #[serde(with = "super::values::amount")]
    pub max_buy: U256,
    /// ...and never more than this per UTC day.
    #[serde(with = "super::values::amount")]
    pub daily_budget: U256,
    /// Skip pools with less quote token than this.
    #[serde(with = "super::values::amount")]
    pub min_liquidity: U256,
    /// Quote tokens buys may pay with; empty: the chain's wrapped native (EVM) or any configured
    /// quote mint (Solana).
    #[serde(default)]
    pub quote_tokens: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmExecConfig {
    /// Priority fee (tip) per gas, and the cap on the total fee per gas, in wei.
    #[serde(with = "super::values::amount")]
    pub priority_fee_wei: U256,
    #[serde(with = "super::values::amount")]
    pub max_fee_wei: U256,
    /// A transaction without a receipt after this long is replaced at the same nonce with fees
    /// raised by `fee_bump_bps` (at least 10% for nodes to accept it), up to the cap.
    pub replace_after_ms: u64,
    pub fee_bump_bps: u32,
    /// The router's deadline for a swap, from signing.
    pub deadline_secs: u64,
    pub receipt_poll_ms: u64,
    /// Anti-rug: every pending transaction to a held token, its pair or the router (seen in the
    /// chain's mempool, `[evm.<chain>] mempool`) is simulated, then our sale after it; when the
    /// sale would revert, or return `front_run_drop_bps` less than it does now, the position is
    /// sold at once, with a tip `front_run_tip_bump_bps` above the pending transaction's so that
    /// fee ordering puts our sale first (exit reason `front_ran_rug`).
    pub front_run_rugs: bool,
    pub front_run_drop_bps: u32,
    pub front_run_tip_bump_bps: u32,
    /// Block-0 buys: a pending launch (liquidity added through one of the chain's v2 routers,
    /// seen in the chain's mempool) is scored on the state it would leave, and a tradeable token
    /// is bought right after it, with the launch's own fees so that fee ordering places the buy
    /// in the launch's block, next after it; never before it.
    pub launch_buys: bool,
    /// Gas limit of a buy after a pending launch (it cannot be estimated on the chain before the
    /// launch lands; unused gas is not paid).
    pub launch_buy_gas: u64,
    /// A Flashbots-compatible relay that live transactions are sent to instead of the public
    /// node; empty: the public node (the default).
    pub private_relay_url: String,
    /// How: `private_transaction` (`eth_sendPrivateTransaction`, valid 25 blocks) or `bundle`
    /// (`eth_sendBundle` of the one transaction, for each of the next 5 blocks).
    #[serde(default)]
    pub private_relay_method: RelayMethod,
}

/// How live transactions go to the private relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayMethod {
    /// `eth_sendPrivateTransaction`.
    #[default]
    PrivateTransaction,
    /// `eth_sendBundle`, one bundle per block.
    Bundle,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolanaExecConfig {
    pub compute_unit_limit: u32,
    /// Priority fee, in micro-lamports per compute unit: the fee paid, or with
    /// `priority_fee_percentile` the least paid.
    pub priority_micro_lamports: u64,
    /// Take the priority fee from the network instead: this percentile (1-100) of the
    /// compute-unit prices `getRecentPrioritizationFees` reports for the accounts a swap writes
    /// (its pool and vaults), at least `priority_micro_lamports`, at most
    /// `max_priority_micro_lamports`. 0: always `priority_micro_lamports`.
    #[serde(default)]
    pub priority_fee_percentile: u8,
    #[serde(default = "default_max_priority")]
    pub max_priority_micro_lamports: u64,
    /// A Jito-style block engine's bundle endpoint: live swaps on our AMM carry a tip of
    /// `jito_tip_lamports` to one of its tip accounts and go there as bundles (`sendBundle`)
    /// instead of the RPC's `sendTransaction`. Empty: off.
    #[serde(default)]
    pub jito_url: String,
    #[serde(default = "default_jito_tip")]
    pub jito_tip_lamports: u64,
    pub confirm_poll_ms: u64,
}

fn default_jito_tip() -> u64 {
    10_000
}

fn default_max_priority() -> u64 {
    1_000_000
}

impl Default for TradingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            live: false,
            evm_key_file: String::new(),
            solana_key_file: String::new(),
            max_risk_score: 30,
            max_buy_tax_bps: 1_000,
            max_sell_tax_bps: 1_000,
            max_token_age_secs: 600,
            never_buy: default_never_buy(),
            allow: Vec::new(),
            deny: Vec::new(),
            max_open_positions: 5,
            cooldown_secs: 3_600,
            max_consecutive_failures: 3,
            breaker_cooldown_secs: 600,
            slippage_bps: 500,
            paper_slippage_bps: 50,
            take_profit_bps: 10_000,
            stop_loss_bps: 3_000,
            trailing_stop_bps: 2_000,
            max_hold_secs: 3_600,
            exit_poll_ms: 1_000,
            exit_on_anomaly: Vec::new(),
            chains: BTreeMap::new(),
            evm: EvmExecConfig {
                priority_fee_wei: U256::from(1_500_000_000u64),
                max_fee_wei: U256::from(200_000_000_000u64),
                replace_after_ms: 6_000,
                fee_bump_bps: 1_250,
                deadline_secs: 120,
                receipt_poll_ms: 100,
                front_run_rugs: true,
                front_run_drop_bps: 3_000,
                front_run_tip_bump_bps: 5_000,
                launch_buys: true,
                launch_buy_gas: 500_000,
                private_relay_url: String::new(),
                private_relay_method: Default::default(),
            },
            solana: SolanaExecConfig {
                compute_unit_limit: 200_000,
                priority_micro_lamports: 10_000,
                priority_fee_percentile: 0,
                max_priority_micro_lamports: default_max_priority(),
                jito_url: String::new(),
                jito_tip_lamports: default_jito_tip(),
                confirm_poll_ms: 250,
            },
        }
    }
}

fn default_never_buy() -> Vec<String> {
    [
        "blacklist_function",
        "transfer_reverts",
        "large_sells_revert",
        "freeze_authority",
        "permanent_delegate",
        "transfer_hook",
    ]
    .map(String::from)
    .to_vec()
}

impl TradingConfig {
    /// The first invalid field and why. `chain_names` are the chains configured elsewhere.
    pub fn invalid_field(&self, chain_names: &[String]) -> Option<(String, String)> {
        let bad = |f: &str, r: &str| Some((format!("trading.{f}"), r.to_string()));
        if self.max_risk_score > 100 {
            return bad("max_risk_score", "must be 0-100");
        }
        for (f, v) in [
            ("max_buy_tax_bps", self.max_buy_tax_bps),
            ("max_sell_tax_bps", self.max_sell_tax_bps),
            ("slippage_bps", self.slippage_bps),
            ("paper_slippage_bps", self.paper_slippage_bps),
            ("stop_loss_bps", self.stop_loss_bps),
            ("trailing_stop_bps", self.trailing_stop_bps),
        ] {
            if v >= 10_000 {
                return bad(f, "must be below 10000 (100%)");
            }
        }
        if self.slippage_bps == 0 {
            return bad("slippage_bps", "must be at least 1");
        }
        if self.paper_slippage_bps > self.slippage_bps {
            return bad("paper_slippage_bps", "must not exceed slippage_bps");
        }
        if self.take_profit_bps > 1_000_000 {
            return bad("take_profit_bps", "must be at most 1000000 (100x)");
        }
        if let Some(k) = self.exit_on_anomaly.iter().find(|k| !super::anomaly::KINDS.contains(&k.as_str())) {
            let known = super::anomaly::KINDS.join(", ");
            return bad("exit_on_anomaly", &format!("unknown anomaly kind {k:?} (known: {known})"));
        }
        if self.max_open_positions == 0 || self.max_open_positions > 1_000 {
            return bad("max_open_positions", "must be between 1 and 1000");
        }
        if self.max_consecutive_failures == 0 {
            return bad("max_consecutive_failures", "must be at least 1");
        }
        if !(1..=10_000).contains(&self.evm.front_run_drop_bps) {
            return bad("evm.front_run_drop_bps", "must be between 1 and 10000");
        }
        if !(21_000..=30_000_000).contains(&self.evm.launch_buy_gas) {
            return bad("evm.launch_buy_gas", "must be between 21000 and 30000000");
        }
        let relay = &self.evm.private_relay_url;
        if !(relay.is_empty() || relay.starts_with("http://") || relay.starts_with("https://")) {
            return bad("evm.private_relay_url", "must be an http:// or https:// URL, or empty");
        }
        if self.evm.front_run_tip_bump_bps > 100_000 {
            return bad("evm.front_run_tip_bump_bps", "must be at most 100000 (10x)");
        }
        if self.exit_poll_ms < 50 || self.exit_poll_ms > 600_000 {
            return bad("exit_poll_ms", "must be between 50 and 600000");
        }
        for (i, t) in self.allow.iter().enumerate() {
            if t.trim().is_empty() {
                return bad(&format!("allow[{i}]"), "must be a token address");
            }
        }
        for (i, t) in self.deny.iter().enumerate() {
            if t.trim().is_empty() {
                return bad(&format!("deny[{i}]"), "must be a token address");
            }
        }
        for (name, b) in &self.chains {
            if !chain_names.contains(name) {
                return bad(&format!("chains.{name}"), "names no configured chain (evm.<name> or solana.chain)");
            }
            if b.buy_amount.is_zero() {
                return bad(&format!("chains.{name}.buy_amount"), "must be more than 0");
            }
        }
        let e = &self.evm;
        if e.max_fee_wei < e.priority_fee_wei {
            return bad("evm.max_fee_wei", "must be at least priority_fee_wei");
        }
        if e.fee_bump_bps < 1_000 {
            return bad("evm.fee_bump_bps", "must be at least 1000 (nodes refuse replacements below +10%)");
        }
        if e.replace_after_ms < 100 {
            return bad("evm.replace_after_ms", "must be at least 100");
        }
        if e.deadline_secs < 10 {
            return bad("evm.deadline_secs", "must be at least 10");
        }
        if e.receipt_poll_ms == 0 || e.receipt_poll_ms > 60_000 {
            return bad("evm.receipt_poll_ms", "must be between 1 and 60000");
        }
        let s = &self.solana;
        if s.compute_unit_limit < 10_000 || s.compute_unit_limit > 1_400_000 {
            return bad("solana.compute_unit_limit", "must be between 10000 and 1400000");
        }
        if s.priority_fee_percentile > 100 {
            return bad("solana.priority_fee_percentile", "must be 0 (off) to 100");
        }
        if s.max_priority_micro_lamports < s.priority_micro_lamports {
            return bad("solana.max_priority_micro_lamports", "must be at least priority_micro_lamports");
        }
        if !(s.jito_url.is_empty() || s.jito_url.starts_with("http://") || s.jito_url.starts_with("https://")) {
            return bad("solana.jito_url", "must be an http:// or https:// URL, or empty");
        }
        if !s.jito_url.is_empty() && !(1_000..=100_000_000).contains(&s.jito_tip_lamports) {
            return bad("solana.jito_tip_lamports", "must be between 1000 and 100000000 (0.1 SOL)");
        }
        if s.confirm_poll_ms == 0 || s.confirm_poll_ms > 60_000 {
            return bad("solana.confirm_poll_ms", "must be between 1 and 60000");
        }
        None
    }
}

impl TradingConfig {
    /// What the mirror records of these settings at start, for the API and the dashboard.
    pub fn settings(&self) -> mirror::tasks::KeeperSettings {
        mirror::tasks::KeeperSettings {
            take_profit_bps: self.take_profit_bps,
            stop_loss_bps: self.stop_loss_bps,
            trailing_stop_bps: self.trailing_stop_bps,
            max_hold_secs: self.max_hold_secs,
            max_risk_score: self.max_risk_score,
            max_open_positions: self.max_open_positions,
            budgets: self
                .chains
                .iter()
                .map(|(chain, b)| {
                    let settings = mirror::tasks::ChainSettings {
                        buy_amount: b.buy_amount.to_string(),
                        max_buy: b.max_buy.to_string(),
                        daily_budget: b.daily_budget.to_string(),
                    };
                    (chain.clone(), settings)
                })
                .collect(),
        }
    }
}
