use anchor_lang::prelude::*;

use crate::{errors::AmmError, events::ConfigUpdated, math::Fees, state::*};

#[event_cpi]
#[derive(Accounts)]
pub struct UpdateConfig<'info> {
    pub admin: Signer<'info>,
    #[account(
        mut,
        seeds = [AMM_CONFIG_SEED, &config.index.to_le_bytes()],
        bump = config.bump,
        has_one = admin @ AmmError::Unauthorized,
    )]
    pub config: Account<'info, AmmConfig>,
}

pub fn handler(
    ctx: Context<UpdateConfig>,
    trade_fee_bps: Option<u16>,
    protocol_fee_share_bps: Option<u16>,
    new_admin: Option<Pubkey>,
) -> Result<()> {
    let config = &mut ctx.accounts.config;
    let old = (config.admin, config.trade_fee_bps, config.protocol_fee_share_bps);
    let fees = Fees {
        trade_fee_bps: trade_fee_bps.unwrap_or(config.trade_fee_bps),
        protocol_fee_share_bps: protocol_fee_share_bps.unwrap_or(config.protocol_fee_share_bps),
    };
    fees.validate()?;
    config.trade_fee_bps = fees.trade_fee_bps;
    config.protocol_fee_share_bps = fees.protocol_fee_share_bps;
    if let Some(new_admin) = new_admin {
        require_keys_neq!(new_admin, Pubkey::default(), AmmError::Unauthorized);
        config.admin = new_admin;
    }
    let event = ConfigUpdated {
        config: config.key(),
        old_admin: old.0,
        new_admin: config.admin,
        old_trade_fee_bps: old.1,
        new_trade_fee_bps: config.trade_fee_bps,
        old_protocol_fee_share_bps: old.2,
        new_protocol_fee_share_bps: config.protocol_fee_share_bps,
    };
    emit_cpi!(event);
    Ok(())
}
