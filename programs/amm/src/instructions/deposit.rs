use anchor_lang::prelude::*;

use crate::{errors::AmmError, events::LiquidityAdded, instructions::Liquidity, math, math::SafeMath, state::*, utils};

/// Mints exactly `lp_amount` LP tokens for at most `max_amount_a` / `max_amount_b`, rounding the
/// amounts owed up.
pub fn handler(ctx: Context<Liquidity>, lp_amount: u64, max_amount_a: u64, max_amount_b: u64) -> Result<()> {
    let accounts = &ctx.accounts;
    let pool = &accounts.pool;
    require!(!pool.is_disabled(status::DEPOSIT_DISABLED), AmmError::DepositDisabled);
    let before = pool.reserves();
    let (amount_a, amount_b) = math::deposit_amounts(lp_amount, pool.reserve_a, pool.reserve_b, pool.lp_supply)?;
    require_gte!(max_amount_a, amount_a, AmmError::SlippageExceeded);
    require_gte!(max_amount_b, amount_b, AmmError::SlippageExceeded);
    let after = Reserves {
        reserve_a: before.reserve_a.safe_add(amount_a)?,
        reserve_b: before.reserve_b.safe_add(amount_b)?,
        lp_supply: before.lp_supply.safe_add(lp_amount)?,
    };
    // The vaults also hold protocol fees: make sure their balances cannot overflow either.
    pool.protocol_fees_a.safe_add(after.reserve_a)?;
    pool.protocol_fees_b.safe_add(after.reserve_b)?;

    let pool_key = pool.key();
    let token_program = accounts.token_program.to_account_info();
    let owner = accounts.owner.to_account_info();
    utils::transfer_from_user(
        &token_program,
        accounts.owner_token_a.to_account_info(),
        accounts.vault_a.to_account_info(),
        owner.clone(),
        amount_a,
    )?;
    utils::transfer_from_user(
        &token_program,
        accounts.owner_token_b.to_account_info(),
        accounts.vault_b.to_account_info(),
        owner,
        amount_b,
    )?;
    utils::mint_lp(
        &token_program,
        accounts.lp_mint.to_account_info(),
        accounts.owner_lp.to_account_info(),
        accounts.authority.to_account_info(),
        &pool_key,
        pool.authority_bump,
        lp_amount,
    )?;

    let event =
        LiquidityAdded { pool: pool_key, owner: accounts.owner.key(), lp_amount, amount_a, amount_b, before, after };
    ctx.accounts.commit(after)?;
    emit_cpi!(event);
    Ok(())
}
