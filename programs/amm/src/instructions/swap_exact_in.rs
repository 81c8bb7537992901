use anchor_lang::prelude::*;

use crate::{errors::AmmError, instructions::Swap, math};

/// Sells exactly `amount_in` for at least `min_amount_out`.
pub fn handler(ctx: Context<Swap>, amount_in: u64, min_amount_out: u64) -> Result<()> {
    let sides = ctx.accounts.sides()?;
    let quote = math::swap_exact_in(amount_in, sides.reserve_in, sides.reserve_out, ctx.accounts.config.fees())?;
    require_gte!(quote.amount_out, min_amount_out, AmmError::SlippageExceeded);
    let event = ctx.accounts.settle(quote, sides.a_to_b, true)?;
    emit_cpi!(event);
    Ok(())
}
