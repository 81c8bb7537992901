//! What the trader needs of a chain: exact quotes, token decimals, and executing or resuming a
//! recorded trade. One implementation per chain kind (`evm::EvmTrader`, `solana::SolanaTrader`).

use std::time::Instant;

use alloy::primitives::U256;
use futures::future::BoxFuture;
use sqlx::SqlitePool;

use super::{
    store::{PositionRow, TradeRow},
    Outcome, TradeError,
};
use crate::pipeline::PoolRecord;

/// What `amount_in` of the quote token buys, and the pool's quote reserve when the venue tells
/// it (Jupiter-routed pools do not).
pub type Quoted = Result<(U256, Option<U256>), TradeError>;

pub trait Executor: Send + Sync {
    /// An exact quote of buying `token` with `amount_in` of `quote_token` in `pool`.
    fn quote_buy<'a>(
        &'a self,
        pool: &'a PoolRecord,
        token: &'a str,
        quote_token: &'a str,
        amount_in: U256,
    ) -> BoxFuture<'a, Quoted>;

    /// What selling `size` of the position's token would return, in its quote token.
    fn quote_sell<'a>(&'a self, p: &'a PositionRow, size: U256) -> BoxFuture<'a, Result<U256, TradeError>>;

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

    /// The EVM chain id, for aggregator comparisons (`None` on other chains).
    fn evm_chain_id(&self) -> Option<u64> {
        None
    }
}
