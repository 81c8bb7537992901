//! The EVM sandbox: `revm` over chain state read lazily from the node ([`state::RpcState`]).
//! Probes run here as ordinary transactions from an EOA (caller and `tx.origin` a plain address
//! with no code), nothing is ever sent, and a state can be forked to try "what if" calls (an
//! owner's function, then our sell) without touching the chain.
//!
//! The sandbox is synchronous (revm is): run it on a blocking thread.

pub mod inspector;
pub mod priority;
pub mod state;

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use alloy::primitives::{Address, Bytes, U256};
use revm::{
    context::TxEnv,
    context_interface::result::{ExecutionResult, Output},
    database::CacheDB,
    database_interface::DatabaseCommit,
    primitives::TxKind,
    state::AccountInfo,
    Context, InspectEvm, MainBuilder, MainContext,
};

pub use inspector::{CallKind, ExternalCall, Trace};
pub use state::{RpcState, StateError, StateMemory};

/// Gas for every sandbox transaction (under Osaka's per-transaction cap).
pub const TX_GAS: u64 = 16_000_000;

/// Seconds between simulated blocks when the sandbox advances time.
pub const BLOCK_SECONDS: u64 = 12;

/// Why a sandbox transaction could not be executed at all (not a revert: the node did not
/// answer a state read, or the transaction is invalid).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("invalid sandbox transaction: {0}")]
    Invalid(String),
}

/// One executed transaction.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub success: bool,
    /// Return data, or the revert data.
    pub output: Bytes,
    /// Whether the storage of any contract changed.
    pub changed_state: bool,
    pub gas_used: u64,
    pub trace: Trace,
}

/// A simulated chain at one block, forkable.
#[derive(Clone)]
pub struct Sandbox {
    db: CacheDB<RpcState>,
    chain_id: u64,
    number: u64,
    timestamp: u64,
    /// Transactions executed (committed or not) by this sandbox and every fork of it: one
    /// counter shared by the forks, for budgets and the report.
    executed: Arc<AtomicU64>,
    /// The contract whose behaviour the inspector records (default: each transaction's target).
    watched: Option<Address>,
    /// Whether this state's transactions wait for urgent work ([`priority`]).
    lane: priority::Lane,
}

impl Sandbox {
    /// The state at `state.block()`, whose timestamp is `timestamp`, in the current task's lane
    /// ([`priority::current`]).
    pub fn new(state: RpcState, chain_id: u64, timestamp: u64) -> Self {
        let number = state.block();
        Self {
            db: CacheDB::new(state),
            chain_id,
            number,
            timestamp,
            executed: Arc::default(),
            watched: None,
            lane: priority::current(),
        }
    }

    /// The same state in `lane` (for a sandbox created on a blocking thread, whose lane is the
    /// async task's that started it).
    pub fn in_lane(mut self, lane: priority::Lane) -> Self {
        self.lane = lane;
        self
    }

    pub fn block(&self) -> u64 {
        self.number
    }

    /// Transactions executed so far by this sandbox and all its forks.
    pub fn executed(&self) -> u64 {
        self.executed.load(Ordering::Relaxed)
    }

    /// JSON-RPC reads made by this state so far.
    pub fn reads(&self) -> u64 {
        self.db.db.reads()
    }

    /// Round trips to the node made by this state so far (see [`RpcState::round_trips`]).
    pub fn round_trips(&self) -> u64 {
        self.db.db.round_trips()
    }

    /// Loads accounts in one concurrent batch (an optimisation; reads are lazy anyway).
    pub fn prefetch(&self, addresses: &[Address]) -> Result<(), SandboxError> {
        Ok(self.db.db.prefetch(addresses)?)
    }

    /// The lane this state's transactions run in ([`priority`]).
    pub fn lane(&self) -> priority::Lane {
        self.lane
    }

    /// A fork of this state with its own count of executed transactions (for work beside a
    /// budgeted search on another thread). The chain's reads stay shared.
    pub fn fork(&self) -> Self {
        Self { executed: Arc::default(), ..self.clone() }
    }

    /// Moves to a later block (number and timestamp), as the chain would by the time we sell.
    pub fn advance(&mut self, blocks: u64) {
        self.number += blocks;
        self.timestamp += blocks * BLOCK_SECONDS;
    }

    /// Records what `contract` does in every later transaction.
    pub fn watch(&mut self, contract: Address) {
        self.watched = Some(contract);
    }

    /// `who`'s native balance.
    pub fn native_balance(&mut self, who: Address) -> Result<U256, SandboxError> {
        use revm::Database;
        Ok(self.db.basic(who).map_err(SandboxError::State)?.map(|i| i.balance).unwrap_or_default())
    }

    /// Gives `who` a native balance (keeping its code and nonce).
    pub fn set_balance(&mut self, who: Address, wei: U256) -> Result<(), SandboxError> {
        let mut info = self.db.load_account(who).map_err(SandboxError::State)?.info().unwrap_or_default();
        info.balance = wei;
        self.db.insert_account_info(who, info);
        Ok(())
    }

    /// Writes one storage slot.
    pub fn set_storage(&mut self, who: Address, slot: U256, value: U256) -> Result<(), SandboxError> {
        self.db.insert_account_storage(who, slot, value).map_err(SandboxError::State)
    }

    /// Reads one storage slot.
    pub fn storage(&mut self, who: Address, slot: U256) -> Result<U256, SandboxError> {
        use revm::Database;
        self.db.storage(who, slot).map_err(SandboxError::State)
    }

    /// An account's code (empty for an EOA).
    pub fn code(&mut self, who: Address) -> Result<Bytes, SandboxError> {
        use revm::Database;
        let info: Option<AccountInfo> = self.db.basic(who).map_err(SandboxError::State)?;
        let Some(info) = info else { return Ok(Bytes::new()) };
        match info.code {
            Some(code) => Ok(code.original_bytes()),
            None => Ok(self.db.code_by_hash(info.code_hash).map_err(SandboxError::State)?.original_bytes()),
        }
    }

    /// Runs a transaction and keeps its effects when it succeeds.
    pub fn send(&mut self, from: Address, to: Address, data: Bytes, value: U256) -> Result<Outcome, SandboxError> {
        self.exec(from, to, data, value, true)
    }

    /// Runs a transaction and throws its effects away (an `eth_call`).
    pub fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Outcome, SandboxError> {
        self.exec(from, to, data, U256::ZERO, false)
    }

    fn exec(
        &mut self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
        commit: bool,
    ) -> Result<Outcome, SandboxError> {
        if self.lane == priority::Lane::Background {
            priority::wait_turn();
        }
        self.executed.fetch_add(1, Ordering::Relaxed);
        let (chain_id, number, timestamp) = (self.chain_id, self.number, self.timestamp);
        let watched = self.watched.unwrap_or(to);
        let ctx = Context::mainnet()
            .with_db(&mut self.db)
            .modify_cfg_chained(|c| {
                c.chain_id = chain_id;
                c.disable_nonce_check = true;
                c.disable_base_fee = true;
                // An owner may be a contract (a multisig): it still sends transactions through
                // its own wallet logic, so let it call directly here.
                c.disable_eip3607 = true;
            })
            .modify_block_chained(|b| {
                b.number = U256::from(number);
                b.timestamp = U256::from(timestamp);
                b.basefee = 0;
                b.gas_limit = TX_GAS * 4;
            });
        let mut evm = ctx.build_mainnet_with_inspector(inspector::Recorder::new(watched));
        let tx = TxEnv::builder()
            .caller(from)
            .kind(TxKind::Call(to))
            .data(data)
            .value(value)
            .gas_limit(TX_GAS)
            .gas_price(0)
            .chain_id(Some(chain_id))
            .build()
            .map_err(|e| SandboxError::Invalid(format!("{e:?}")))?;
        let result = evm.inspect_tx(tx);
        let trace = std::mem::take(&mut evm.inspector.trace);
        drop(evm);
        let r = result.map_err(|e| match e {
            revm::context_interface::result::EVMError::Database(s) => SandboxError::State(s),
            other => SandboxError::Invalid(other.to_string()),
        })?;
        let (success, output) = match &r.result {
            ExecutionResult::Success { output: Output::Call(b), .. } => (true, b.clone()),
            ExecutionResult::Success { .. } => (true, Bytes::new()),
            ExecutionResult::Revert { output, .. } => (false, output.clone()),
            ExecutionResult::Halt { .. } => (false, Bytes::new()),
        };
        let gas_used = r.result.tx_gas_used();
        let changed_state =
            success && r.state.iter().any(|(a, acc)| *a != from && acc.changed_storage_slots().next().is_some());
        if commit && success {
            self.db.commit(r.state);
        }
        Ok(Outcome { success, output, changed_state, gas_used, trace })
    }
}
