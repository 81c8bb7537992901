use anchor_lang::prelude::*;

use crate::math::Fees;

/// Seed of an [`AmmConfig`] PDA: `["amm_config", index.to_le_bytes()]`.
#[constant]
pub const AMM_CONFIG_SEED: &[u8] = b"amm_config";

/// Fee schedule and admin shared by every pool created under it.
///
/// Creating a config is permissionless (like Orca's `WhirlpoolsConfig`): its creator becomes its
/// admin and controls only the pools created under that config. Pools name their config in their
/// PDA seeds, so a pool can never move to another config.
#[account]
#[derive(InitSpace, Debug)]
pub struct AmmConfig {
    /// Index in the config PDA seeds.
    pub index: u16,
    /// May update this config, pause its pools and collect their protocol fees.
    pub admin: Pubkey,
    /// Trade fee on the swap input, in basis points (30 = 0.3%).
    pub trade_fee_bps: u16,
    /// Share of the trade fee that goes to the protocol, in basis points of the fee.
    pub protocol_fee_share_bps: u16,
    pub bump: u8,
}

impl AmmConfig {
    pub fn fees(&self) -> Fees {
        Fees { trade_fee_bps: self.trade_fee_bps, protocol_fee_share_bps: self.protocol_fee_share_bps }
    }
}
