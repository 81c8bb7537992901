//! Accounts and the final bookkeeping shared by `deposit` and `withdraw`.

use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::{errors::AmmError, state::*};

#[event_cpi]
#[derive(Accounts)]
pub struct Liquidity<'info> {
    pub owner: Signer<'info>,
    #[account(
        mut,
        seeds = [POOL_SEED, pool.config.as_ref(), pool.mint_a.as_ref(), pool.mint_b.as_ref()],
        bump = pool.bump,
        has_one = vault_a @ AmmError::InvalidVault,
        has_one = vault_b @ AmmError::InvalidVault,
        has_one = lp_mint @ AmmError::InvalidLpMint,
    )]
    pub pool: Box<Account<'info, Pool>>,
    /// CHECK: PDA that owns the vaults and mints LP tokens; checked by seeds.
    #[account(seeds = [AUTHORITY_SEED, pool.key().as_ref()], bump = pool.authority_bump)]
    pub authority: UncheckedAccount<'info>,
    #[account(mut)]
    pub vault_a: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub vault_b: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub lp_mint: Box<Account<'info, Mint>>,
    /// Pays token A on deposit, receives it on withdraw (any account of mint A).
    #[account(mut, constraint = owner_token_a.mint == pool.mint_a @ AmmError::InvalidTokenMint)]
    pub owner_token_a: Box<Account<'info, TokenAccount>>,
    /// Pays token B on deposit, receives it on withdraw (any account of mint B).
    #[account(mut, constraint = owner_token_b.mint == pool.mint_b @ AmmError::InvalidTokenMint)]
    pub owner_token_b: Box<Account<'info, TokenAccount>>,
    #[account(mut, constraint = owner_lp.mint == pool.lp_mint @ AmmError::InvalidTokenMint)]
    pub owner_lp: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

impl<'info> Liquidity<'info> {
    /// Records the pool's new reserves and re-checks that the vaults back them.
    pub fn commit(&mut self, after: Reserves) -> Result<()> {
        self.pool.set_reserves(after, Clock::get()?.unix_timestamp)?;
        self.vault_a.reload()?;
        self.vault_b.reload()?;
        self.pool.check_backing(&self.vault_a, &self.vault_b)
    }
}
