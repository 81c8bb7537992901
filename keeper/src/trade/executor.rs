//! What the trader needs of a chain: exact quotes, a simulated sale of a held position, token
//! decimals, and executing or resuming a recorded trade. One implementation per chain kind
//! (`evm::EvmTrader`, `solana::SolanaTrader`).

use std::time::Instant;

use alloy::primitives::U256;
use futures::future::BoxFuture;
use sqlx::SqlitePool;

use mirror::trading::{PositionRow, TradeRow};

use super::{Mode, Outcome, TradeError};
use crate::pipeline::{LaunchState, PendingTx, PoolRecord};

/// What `amount_in` of the quote token buys, and the pool's quote reserve when the venue tells
/// it (Jupiter-routed pools do not).
pub type Quoted = Result<(U256, Option<U256>), TradeError>;

/// What selling part or all of a position would do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellCheck {
    /// The venue's quote for the size, before the token's taxes (the sell's minimum output is
    /// computed from it).
    pub quoted: U256,
    /// The block or slot the check read, when known.
    pub block: Option<u64>,
    /// The sale simulated from our wallet, where the chain can simulate it.
    pub simulated: Option<Simulated>,
}

/// A sale simulated from our wallet on the chain's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Simulated {
    /// It succeeds: the wallet receives `received` of the quote token, after the token's taxes;
    /// `fee` is what the transaction itself would cost, in the quote token when it is the
    /// chain's native token (0 otherwise).
    Sold { received: U256, fee: U256 },
    /// It reverts.
    Reverts { reason: String },
    /// Our wallet holds less of the token than the position's size: something took it.
    /// `received` is what selling what is left would return.
    Short { held: U256, received: U256 },
}

/// A venue and pool other than a position's own that trade its token against its quote token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherRoute {
    pub venue: String,
    pub pool_address: String,
}

pub trait Executor: Send + Sync {
    /// An exact quote of buying `token` with `amount_in` of `quote_token` in `pool`.
    fn quote_buy<'a>(
        &'a self,
        pool: &'a PoolRecord,
        token: &'a str,
        quote_token: &'a str,
        amount_in: U256,
    ) -> BoxFuture<'a, Quoted>;

    /// What selling `size` of the position's token would do now: the venue's quote, and the sale
    /// simulated from our wallet (in `Mode::DryRun`, from a wallet given the position's tokens in
    /// the simulation).
    fn check_sell<'a>(
        &'a self,
        p: &'a PositionRow,
        size: U256,
        mode: Mode,
    ) -> BoxFuture<'a, Result<SellCheck, TradeError>>;

    fn decimals<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<u8, TradeError>>;

    /// Signs, records (before broadcasting) and sends a trade, then waits for its outcome.
    fn execute<'a>(
        &'a self,
        db: &'a SqlitePool,
        t: &'a TradeRow,
        seen_at: Option<Instant>,
    ) -> BoxFuture<'a, Result<Outcome, TradeError>>;

    /// Settles a trade that may already be on chain, from chain evidence only.
    fn resume<'a>(&'a self, db: &'a SqlitePool, t: &'a TradeRow) -> BoxFuture<'a, Result<Outcome, TradeError>>;

    /// Other pools trading the position's token against its quote token, on venues other than
    /// the position's own: where a trapped position's exit goes when its own pool takes no sale.
    fn other_routes<'a>(&'a self, _p: &'a PositionRow) -> BoxFuture<'a, Result<Vec<OtherRoute>, TradeError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// The EVM chain id, for aggregator comparisons (`None` on other chains).
    fn evm_chain_id(&self) -> Option<u64> {
        None
    }

    /// Whether `pending` (not ours) is sent to the position's token, its pool, or its router
    /// naming the token: the transactions the anti-rug watch simulates. No mempool: never.
    fn touches(&self, _p: &PositionRow, _pending: &PendingTx) -> bool {
        false
    }

    /// [`Executor::check_sell`] after `pending` (simulated first).
    fn check_sell_after<'a>(
        &'a self,
        _p: &'a PositionRow,
        _size: U256,
        _mode: Mode,
        _pending: &'a PendingTx,
    ) -> BoxFuture<'a, Result<SellCheck, TradeError>> {
        Box::pin(async { Err(TradeError::Invalid("no pending-transaction simulation on this chain".into())) })
    }

    /// A buy right after a pending launch, quoted on the reserves the launch leaves. No pending
    /// launches on this chain: an error.
    fn quote_buy_after<'a>(
        &'a self,
        _pool: &'a PoolRecord,
        _amount_in: U256,
        _launch: &'a LaunchState,
    ) -> BoxFuture<'a, Quoted> {
        Box::pin(async { Err(TradeError::Invalid("no pending launches on this chain".into())) })
    }

    /// [`Executor::execute`] for a buy right after a pending launch: with the launch's fees, so
    /// that fee ordering places it next after the launch.
    fn execute_after<'a>(
        &'a self,
        db: &'a SqlitePool,
        t: &'a TradeRow,
        seen_at: Option<Instant>,
        _launch: &'a LaunchState,
    ) -> BoxFuture<'a, Result<Outcome, TradeError>> {
        self.execute(db, t, seen_at)
    }

    /// [`Executor::execute`], with fees that land it ahead of `pending`.
    fn execute_ahead<'a>(
        &'a self,
        db: &'a SqlitePool,
        t: &'a TradeRow,
        _pending: &'a PendingTx,
    ) -> BoxFuture<'a, Result<Outcome, TradeError>> {
        self.execute(db, t, None)
    }
}
