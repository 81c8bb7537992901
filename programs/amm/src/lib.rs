//! A constant-product (x*y=k) AMM.
//!
//! Pools hold two classic SPL tokens in vaults owned by a per-pool authority PDA, mint LP tokens
//! from a PDA mint, charge a trade fee on the input (part of which may go to the protocol), keep
//! a Uniswap V2-style TWAP oracle, and emit one event per state change through `emit_cpi!`.
//! See the README for accounts, seeds, instructions, errors and events.

use anchor_lang::prelude::*;

pub mod errors;
pub mod events;
pub mod instructions;
pub mod math;
pub mod state;
pub mod utils;

#[cfg(feature = "client")]
pub mod client;

pub use errors::AmmError;
pub use events::*;
use instructions::*;
pub use state::*;

declare_id!("Fg6PaFpoGXkYsidMpWTK6W2BeZ7FEfcYkg476zPFsLnS");

#[program]
pub mod amm {
    use super::*;

    /// Creates fee config `index` (signed by the program's upgrade authority, who becomes admin).
    /// `trade_fee_bps`: fee on swap input (at most 1000); `protocol_fee_share_bps`: protocol's share of it.
    pub fn create_config(
        ctx: Context<CreateConfig>,
        index: u16,
        trade_fee_bps: u16,
        protocol_fee_share_bps: u16,
    ) -> Result<()> {
        instructions::admin::create_config::handler(ctx, index, trade_fee_bps, protocol_fee_share_bps)
    }

    /// Admin: changes the fees and/or hands the config to `new_admin`. `None` keeps a value.
    pub fn update_config(
        ctx: Context<UpdateConfig>,
        trade_fee_bps: Option<u16>,
        protocol_fee_share_bps: Option<u16>,
        new_admin: Option<Pubkey>,
    ) -> Result<()> {
        instructions::admin::update_config::handler(ctx, trade_fee_bps, protocol_fee_share_bps, new_admin)
    }

    /// Admin: sets the pool's status bits (1 = deposits off, 2 = withdrawals off, 4 = swaps off).
    pub fn set_pool_status(ctx: Context<SetPoolStatus>, status: u8) -> Result<()> {
        instructions::admin::set_pool_status::handler(ctx, status)
    }

    /// Admin: sends up to `max_amount_a` / `max_amount_b` of accrued protocol fees to chosen accounts.
    pub fn collect_protocol_fees(
        ctx: Context<CollectProtocolFees>,
        max_amount_a: u64,
        max_amount_b: u64,
    ) -> Result<()> {
        instructions::admin::collect_protocol_fees::handler(ctx, max_amount_a, max_amount_b)
    }

    /// Creates the pool for (`mint_a` < `mint_b`) under a config, seeded with `amount_a` and
    /// `amount_b`; swaps open at unix time `open_time`. Mints `sqrt(a*b) - MINIMUM_LIQUIDITY` LP to the creator.
    pub fn initialize_pool(ctx: Context<InitializePool>, amount_a: u64, amount_b: u64, open_time: i64) -> Result<()> {
        instructions::initialize_pool::handler(ctx, amount_a, amount_b, open_time)
    }

    /// Mints exactly `lp_amount` LP tokens for at most `max_amount_a` of A and `max_amount_b` of B.
    pub fn deposit(ctx: Context<Liquidity>, lp_amount: u64, max_amount_a: u64, max_amount_b: u64) -> Result<()> {
        instructions::deposit::handler(ctx, lp_amount, max_amount_a, max_amount_b)
    }

    /// Burns exactly `lp_amount` LP tokens for at least `min_amount_a` of A and `min_amount_b` of B.
    pub fn withdraw(ctx: Context<Liquidity>, lp_amount: u64, min_amount_a: u64, min_amount_b: u64) -> Result<()> {
        instructions::withdraw::handler(ctx, lp_amount, min_amount_a, min_amount_b)
    }

    /// Sells exactly `amount_in` of the input vault's token for at least `min_amount_out`.
    pub fn swap_exact_in(ctx: Context<Swap>, amount_in: u64, min_amount_out: u64) -> Result<()> {
        instructions::swap_exact_in::handler(ctx, amount_in, min_amount_out)
    }

    /// Buys exactly `amount_out` of the output vault's token for at most `max_amount_in`.
    pub fn swap_exact_out(ctx: Context<Swap>, amount_out: u64, max_amount_in: u64) -> Result<()> {
        instructions::swap_exact_out::handler(ctx, amount_out, max_amount_in)
    }
}
