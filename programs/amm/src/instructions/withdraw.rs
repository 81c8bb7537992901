use anchor_lang::prelude::*;

use crate::{
    errors::AmmError, events::LiquidityRemoved, instructions::Liquidity, math, math::SafeMath, state::*, utils,
};

/// Burns exactly `lp_amount` LP tokens for at least `min_amount_a` / `min_amount_b`, rounding the
/// amounts paid down.
pub fn handler(ctx: Context<Liquidity>, lp_amount: u64, min_amount_a: u64, min_amount_b: u64) -> Result<()> {
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

    let event =
        LiquidityRemoved { pool: pool_key, owner: accounts.owner.key(), lp_amount, amount_a, amount_b, before, after };
    ctx.accounts.commit(after)?;
    emit_cpi!(event);
    Ok(())
}
