//! Accounts and settlement shared by `swap_exact_in` and `swap_exact_out`. The direction is
//! given by which vault is the input: `input_vault == pool.vault_a` swaps A for B.

use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::{
    errors::AmmError,
    events::Swapped,
    math::{self, SafeMath, SwapQuote},
    state::*,
    utils,
};

#[event_cpi]
#[derive(Accounts)]
pub struct Swap<'info> {
    pub trader: Signer<'info>,
    #[account(address = pool.config @ AmmError::InvalidConfig)]
    pub config: Box<Account<'info, AmmConfig>>,
    #[account(
        mut,
        seeds = [POOL_SEED, pool.config.as_ref(), pool.mint_a.as_ref(), pool.mint_b.as_ref()],
        bump = pool.bump,
    )]
    pub pool: Box<Account<'info, Pool>>,
    /// CHECK: PDA that owns the vaults; checked by seeds.
    #[account(seeds = [AUTHORITY_SEED, pool.key().as_ref()], bump = pool.authority_bump)]
    pub authority: UncheckedAccount<'info>,
    /// The vault the trader pays into: `pool.vault_a` or `pool.vault_b`.
    #[account(mut)]
    pub input_vault: Box<Account<'info, TokenAccount>>,
    /// The other vault of the same pool.
    #[account(mut)]
    pub output_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, constraint = input_token_account.mint == input_vault.mint @ AmmError::InvalidTokenMint)]
    pub input_token_account: Box<Account<'info, TokenAccount>>,
    #[account(mut, constraint = output_token_account.mint == output_vault.mint @ AmmError::InvalidTokenMint)]
    pub output_token_account: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// What a swap handler needs to quote: the direction and the reserves on each side.
pub struct SwapSides {
    pub a_to_b: bool,
    pub reserve_in: u64,
    pub reserve_out: u64,
}

impl<'info> Swap<'info> {
    /// Refuses a swap the pool does not allow now, and works out its direction.
    pub fn sides(&self) -> Result<SwapSides> {
        let pool = &self.pool;
        require!(!pool.is_disabled(status::SWAP_DISABLED), AmmError::SwapDisabled);
        let now = Clock::get()?.unix_timestamp;
        require!(now >= pool.open_time, AmmError::PoolNotOpen);
        let (input, output) = (self.input_vault.key(), self.output_vault.key());
        if input == pool.vault_a && output == pool.vault_b {
            Ok(SwapSides { a_to_b: true, reserve_in: pool.reserve_a, reserve_out: pool.reserve_b })
        } else if input == pool.vault_b && output == pool.vault_a {
            Ok(SwapSides { a_to_b: false, reserve_in: pool.reserve_b, reserve_out: pool.reserve_a })
        } else {
            err!(AmmError::InvalidVault)
        }
    }

    /// Moves the tokens of a checked quote, updates reserves, fees and the TWAP, and re-checks
    /// that `k` did not decrease. Returns the event for the handler to emit.
    pub fn settle(&mut self, quote: SwapQuote, a_to_b: bool, exact_in: bool) -> Result<Swapped> {
        let pool_key = self.pool.key();
        let token_program = self.token_program.to_account_info();
        utils::transfer_from_user(
            &token_program,
            self.input_token_account.to_account_info(),
            self.input_vault.to_account_info(),
            self.trader.to_account_info(),
            quote.amount_in,
        )?;
        utils::transfer_from_vault(
            &token_program,
            self.output_vault.to_account_info(),
            self.output_token_account.to_account_info(),
            self.authority.to_account_info(),
            &pool_key,
            self.pool.authority_bump,
            quote.amount_out,
        )?;

        let now = Clock::get()?.unix_timestamp;
        let pool = &mut self.pool;
        let before = pool.reserves();
        let (reserve_a, reserve_b) = if a_to_b {
            (quote.new_reserve_in, quote.new_reserve_out)
        } else {
            (quote.new_reserve_out, quote.new_reserve_in)
        };
        pool.set_reserves(Reserves { reserve_a, reserve_b, lp_supply: before.lp_supply }, now)?;
        if a_to_b {
            pool.protocol_fees_a = pool.protocol_fees_a.safe_add(quote.protocol_fee)?;
        } else {
            pool.protocol_fees_b = pool.protocol_fees_b.safe_add(quote.protocol_fee)?;
        }
        let after = pool.reserves();
        // k = reserve_a * reserve_b must never decrease.
        math::check_k(before.reserve_a, before.reserve_b, after.reserve_a, after.reserve_b)?;

        self.input_vault.reload()?;
        self.output_vault.reload()?;
        let (vault_a, vault_b) =
            if a_to_b { (&self.input_vault, &self.output_vault) } else { (&self.output_vault, &self.input_vault) };
        self.pool.check_backing(vault_a, vault_b)?;

        Ok(Swapped {
            pool: pool_key,
            trader: self.trader.key(),
            a_to_b,
            exact_in,
            amount_in: quote.amount_in,
            amount_out: quote.amount_out,
            trade_fee: quote.trade_fee,
            protocol_fee: quote.protocol_fee,
            before,
            after,
        })
    }
}
