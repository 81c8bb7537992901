use anchor_lang::prelude::*;

use crate::{errors::AmmError, instructions::Swap, math};

/// Buys exactly `amount_out` for at most `max_amount_in`.
pub fn handler(ctx: Context<Swap>, amount_out: u64, max_amount_in: u64) -> Result<()> {
    let sides = ctx.accounts.sides()?;
    let quote = math::swap_exact_out(amount_out, sides.reserve_in, sides.reserve_out, ctx.accounts.config.fees())?;
    require_gte!(max_amount_in, quote.amount_in, AmmError::SlippageExceeded);
    let event = ctx.accounts.settle(quote, sides.a_to_b, false)?;
    emit_cpi!(event);
    Ok(())
}
