//! One event per state change, emitted with `emit_cpi!` (a self-CPI whose data is
//! `EVENT_IX_TAG_LE || discriminator || borsh(event)`), so indexers can rebuild the full history
//! from inner instructions even when an RPC provider truncates logs.

use anchor_lang::prelude::*;

use crate::state::Reserves;

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigCreated {
    pub config: Pubkey,
    pub index: u16,
    pub admin: Pubkey,
    pub trade_fee_bps: u16,
    pub protocol_fee_share_bps: u16,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigUpdated {
    pub config: Pubkey,
    pub old_admin: Pubkey,
    pub new_admin: Pubkey,
    pub old_trade_fee_bps: u16,
    pub new_trade_fee_bps: u16,
    pub old_protocol_fee_share_bps: u16,
    pub new_protocol_fee_share_bps: u16,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolCreated {
    pub pool: Pubkey,
    pub config: Pubkey,
    pub creator: Pubkey,
    pub mint_a: Pubkey,
    pub mint_b: Pubkey,
    pub vault_a: Pubkey,
    pub vault_b: Pubkey,
    pub lp_mint: Pubkey,
    pub open_time: i64,
    /// LP tokens minted to the creator (the rest of `after.lp_supply` is locked forever).
    pub lp_to_creator: u64,
    pub before: Reserves,
    pub after: Reserves,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiquidityAdded {
    pub pool: Pubkey,
    pub owner: Pubkey,
    pub lp_amount: u64,
    pub amount_a: u64,
    pub amount_b: u64,
    pub before: Reserves,
    pub after: Reserves,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiquidityRemoved {
    pub pool: Pubkey,
    pub owner: Pubkey,
    pub lp_amount: u64,
    pub amount_a: u64,
    pub amount_b: u64,
    pub before: Reserves,
    pub after: Reserves,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swapped {
    pub pool: Pubkey,
    pub trader: Pubkey,
    /// True when the trader paid token A and received token B.
    pub a_to_b: bool,
    /// True for `swap_exact_in`, false for `swap_exact_out`.
    pub exact_in: bool,
    pub amount_in: u64,
    pub amount_out: u64,
    pub trade_fee: u64,
    pub protocol_fee: u64,
    pub before: Reserves,
    pub after: Reserves,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolStatusChanged {
    pub pool: Pubkey,
    pub old_status: u8,
    pub new_status: u8,
    pub before: Reserves,
    pub after: Reserves,
}

#[event]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolFeesCollected {
    pub pool: Pubkey,
    pub recipient_a: Pubkey,
    pub recipient_b: Pubkey,
    pub amount_a: u64,
    pub amount_b: u64,
    /// Protocol fees still uncollected after this instruction.
    pub remaining_a: u64,
    pub remaining_b: u64,
    pub before: Reserves,
    pub after: Reserves,
}
