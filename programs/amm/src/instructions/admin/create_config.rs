use anchor_lang::prelude::*;
use anchor_lang::solana_program::bpf_loader_upgradeable;

use crate::{errors::AmmError, events::ConfigCreated, math::Fees, state::*};

#[event_cpi]
#[derive(Accounts)]
#[instruction(index: u16)]
pub struct CreateConfig<'info> {
    /// The program's upgrade authority; becomes the config's admin.
    #[account(mut)]
    pub admin: Signer<'info>,
    /// The program's ProgramData account (`[program_id]` under the upgradeable loader), which
    /// names the upgrade authority.
    #[account(
        seeds = [crate::ID.as_ref()],
        bump,
        seeds::program = bpf_loader_upgradeable::ID,
        constraint = program_data.upgrade_authority_address == Some(admin.key()) @ AmmError::Unauthorized,
    )]
    pub program_data: Account<'info, ProgramData>,
    #[account(
        init,
        payer = admin,
        space = 8 + AmmConfig::INIT_SPACE,
        seeds = [AMM_CONFIG_SEED, &index.to_le_bytes()],
        bump,
    )]
    pub config: Account<'info, AmmConfig>,
    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<CreateConfig>, index: u16, trade_fee_bps: u16, protocol_fee_share_bps: u16) -> Result<()> {
    let fees = Fees { trade_fee_bps, protocol_fee_share_bps };
    fees.validate()?;
    let config = &mut ctx.accounts.config;
    config.set_inner(AmmConfig {
        index,
        admin: ctx.accounts.admin.key(),
        trade_fee_bps,
        protocol_fee_share_bps,
        bump: ctx.bumps.config,
    });
    emit_cpi!(ConfigCreated {
        config: ctx.accounts.config.key(),
        index,
        admin: ctx.accounts.admin.key(),
        trade_fee_bps,
        protocol_fee_share_bps,
    });
    Ok(())
}
