use anchor_lang::prelude::*;
use anchor_spl::token::{Token, TokenAccount};

use crate::{errors::AmmError, events::ProtocolFeesCollected, math::SafeMath, state::*, utils};

#[event_cpi]
#[derive(Accounts)]
pub struct CollectProtocolFees<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ AmmError::Unauthorized)]
    pub config: Account<'info, AmmConfig>,
    #[account(
        mut,
        seeds = [POOL_SEED, pool.config.as_ref(), pool.mint_a.as_ref(), pool.mint_b.as_ref()],
        bump = pool.bump,
        has_one = config @ AmmError::InvalidConfig,
        has_one = vault_a @ AmmError::InvalidVault,
        has_one = vault_b @ AmmError::InvalidVault,
    )]
    pub pool: Box<Account<'info, Pool>>,
    /// CHECK: PDA that owns the vaults; checked by seeds.
    #[account(seeds = [AUTHORITY_SEED, pool.key().as_ref()], bump = pool.authority_bump)]
    pub authority: UncheckedAccount<'info>,
    #[account(mut)]
    pub vault_a: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub vault_b: Box<Account<'info, TokenAccount>>,
    /// Any token account of mint A chosen by the admin.
    #[account(mut, constraint = recipient_a.mint == pool.mint_a @ AmmError::InvalidTokenMint)]
    pub recipient_a: Box<Account<'info, TokenAccount>>,
    /// Any token account of mint B chosen by the admin.
    #[account(mut, constraint = recipient_b.mint == pool.mint_b @ AmmError::InvalidTokenMint)]
    pub recipient_b: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Sends up to `max_amount_a` / `max_amount_b` of the accrued protocol fees to the recipients.
pub fn handler(ctx: Context<CollectProtocolFees>, max_amount_a: u64, max_amount_b: u64) -> Result<()> {
    let accounts = &ctx.accounts;
    let pool_key = accounts.pool.key();
    let amount_a = max_amount_a.min(accounts.pool.protocol_fees_a);
    let amount_b = max_amount_b.min(accounts.pool.protocol_fees_b);
    require!(amount_a > 0 || amount_b > 0, AmmError::ZeroAmount);
    let token_program = accounts.token_program.to_account_info();
    let authority = accounts.authority.to_account_info();
    let bump = accounts.pool.authority_bump;
    utils::transfer_from_vault(
        &token_program,
        accounts.vault_a.to_account_info(),
        accounts.recipient_a.to_account_info(),
        authority.clone(),
        &pool_key,
        bump,
        amount_a,
    )?;
    utils::transfer_from_vault(
        &token_program,
        accounts.vault_b.to_account_info(),
        accounts.recipient_b.to_account_info(),
        authority,
        &pool_key,
        bump,
        amount_b,
    )?;
    let recipients = (accounts.recipient_a.key(), accounts.recipient_b.key());
    let pool = &mut ctx.accounts.pool;
    pool.protocol_fees_a = pool.protocol_fees_a.safe_sub(amount_a)?;
    pool.protocol_fees_b = pool.protocol_fees_b.safe_sub(amount_b)?;
    let reserves = pool.reserves();
    let event = ProtocolFeesCollected {
        pool: pool_key,
        recipient_a: recipients.0,
        recipient_b: recipients.1,
        amount_a,
        amount_b,
        remaining_a: pool.protocol_fees_a,
        remaining_b: pool.protocol_fees_b,
        before: reserves,
        after: reserves,
    };
    emit_cpi!(event);
    Ok(())
}
