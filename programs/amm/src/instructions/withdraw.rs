use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::{errors::AmmError, events::LiquidityRemoved, math, math::SafeMath, state::*, utils};

#[event_cpi]
#[derive(Accounts)]
pub struct Withdraw<'info> {
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
    /// CHECK: PDA that owns the vaults; checked by seeds.
    #[account(seeds = [AUTHORITY_SEED, pool.key().as_ref()], bump = pool.authority_bump)]
    pub authority: UncheckedAccount<'info>,
    #[account(mut)]
    pub vault_a: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub vault_b: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub lp_mint: Box<Account<'info, Mint>>,
    /// Receives token A (any account of mint A).
    #[account(mut, constraint = owner_token_a.mint == pool.mint_a @ AmmError::InvalidTokenMint)]
    pub owner_token_a: Box<Account<'info, TokenAccount>>,
    /// Receives token B (any account of mint B).
    #[account(mut, constraint = owner_token_b.mint == pool.mint_b @ AmmError::InvalidTokenMint)]
    pub owner_token_b: Box<Account<'info, TokenAccount>>,
    #[account(mut, constraint = owner_lp.mint == pool.lp_mint @ AmmError::InvalidTokenMint)]
    pub owner_lp: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Burns exactly `lp_amount` LP tokens for at least `min_amount_a` / `min_amount_b`, rounding the
/// amounts paid down.
pub fn handler(ctx: Context<Withdraw>, lp_amount: u64, min_amount_a: u64, min_amount_b: u64) -> Result<()> {
    let accounts = &ctx.accounts;
    let pool = &accounts.pool;
    require!(!pool.is_disabled(status::WITHDRAW_DISABLED), AmmError::WithdrawDisabled);
    require!(lp_amount > 0, AmmError::ZeroAmount);
    require_gte!(accounts.owner_lp.amount, lp_amount, AmmError::InsufficientLpTokens);
    let before = pool.reserves();
    let (amount_a, amount_b) = math::withdraw_amounts(lp_amount, pool.reserve_a, pool.reserve_b, pool.lp_supply)?;
    require_gte!(amount_a, min_amount_a, AmmError::SlippageExceeded);
    require_gte!(amount_b, min_amount_b, AmmError::SlippageExceeded);
    let after = Reserves {
        reserve_a: before.reserve_a.safe_sub(amount_a)?,
        reserve_b: before.reserve_b.safe_sub(amount_b)?,
        lp_supply: before.lp_supply.safe_sub(lp_amount)?,
    };

    let pool_key = pool.key();
    let token_program = accounts.token_program.to_account_info();
    let authority = accounts.authority.to_account_info();
    utils::burn_lp(
        &token_program,
        accounts.lp_mint.to_account_info(),
        accounts.owner_lp.to_account_info(),
        accounts.owner.to_account_info(),
        lp_amount,
    )?;
    utils::transfer_from_vault(
        &token_program,
        accounts.vault_a.to_account_info(),
        accounts.owner_token_a.to_account_info(),
        authority.clone(),
        &pool_key,
        pool.authority_bump,
        amount_a,
    )?;
    utils::transfer_from_vault(
        &token_program,
        accounts.vault_b.to_account_info(),
        accounts.owner_token_b.to_account_info(),
        authority,
        &pool_key,
        pool.authority_bump,
        amount_b,
    )?;

    let now = Clock::get()?.unix_timestamp;
    let event =
        LiquidityRemoved { pool: pool_key, owner: accounts.owner.key(), lp_amount, amount_a, amount_b, before, after };
    let accounts = &mut *ctx.accounts;
    accounts.pool.update_twap(now)?;
    accounts.pool.reserve_a = after.reserve_a;
    accounts.pool.reserve_b = after.reserve_b;
    accounts.pool.lp_supply = after.lp_supply;
    accounts.vault_a.reload()?;
    accounts.vault_b.reload()?;
    accounts.pool.check_backing(&accounts.vault_a, &accounts.vault_b)?;
    emit_cpi!(event);
    Ok(())
}
