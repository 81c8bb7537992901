use anchor_lang::prelude::*;

use crate::{errors::AmmError, events::PoolStatusChanged, state::*};

#[event_cpi]
#[derive(Accounts)]
pub struct SetPoolStatus<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ AmmError::Unauthorized)]
    pub config: Account<'info, AmmConfig>,
    #[account(
        mut,
        seeds = [POOL_SEED, pool.config.as_ref(), pool.mint_a.as_ref(), pool.mint_b.as_ref()],
        bump = pool.bump,
        has_one = config @ AmmError::InvalidConfig,
    )]
    pub pool: Box<Account<'info, Pool>>,
}

/// `status` is a bit set of [`crate::state::status`] flags; a set bit disables that action.
pub fn handler(ctx: Context<SetPoolStatus>, new_status: u8) -> Result<()> {
    require!(new_status & !status::ALL == 0, AmmError::InvalidStatus);
    let pool = &mut ctx.accounts.pool;
    let old_status = pool.status;
    pool.status = new_status;
    let reserves = pool.reserves();
    emit_cpi!(PoolStatusChanged { pool: pool.key(), old_status, new_status, before: reserves, after: reserves });
    Ok(())
}
