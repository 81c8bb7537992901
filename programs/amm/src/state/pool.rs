use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;

use crate::{errors::AmmError, math};

/// Seed of a [`Pool`] PDA: `["pool", config, mint_a, mint_b]` with `mint_a < mint_b`.
#[constant]
pub const POOL_SEED: &[u8] = b"pool";
/// Seed of a pool's authority PDA, which owns its vaults and mints its LP token: `["authority", pool]`.
#[constant]
pub const AUTHORITY_SEED: &[u8] = b"authority";
/// Seed of a pool's vault PDAs: `["vault", pool, mint]`.
#[constant]
pub const VAULT_SEED: &[u8] = b"vault";
/// Seed of a pool's LP mint PDA: `["lp_mint", pool]`.
#[constant]
pub const LP_MINT_SEED: &[u8] = b"lp_mint";
/// Decimals of every LP mint.
#[constant]
pub const LP_MINT_DECIMALS: u8 = 9;

/// Bits of [`Pool::status`]: a set bit disables that action.
pub mod status {
    pub const DEPOSIT_DISABLED: u8 = 1 << 0;
    pub const WITHDRAW_DISABLED: u8 = 1 << 1;
    pub const SWAP_DISABLED: u8 = 1 << 2;
    pub const ALL: u8 = DEPOSIT_DISABLED | WITHDRAW_DISABLED | SWAP_DISABLED;
}

/// A constant-product pool of two classic SPL tokens.
///
/// Reserves are tracked in this account, not read from the vaults: tokens sent straight to a
/// vault ("donations") never change the price or the LP share value, which closes the
/// donation/share-inflation attack by construction. `vault balance = reserve + protocol fees`
/// (plus any donation).
#[account]
#[derive(InitSpace, Debug)]
pub struct Pool {
    pub config: Pubkey,
    pub creator: Pubkey,
    pub mint_a: Pubkey,
    pub mint_b: Pubkey,
    pub vault_a: Pubkey,
    pub vault_b: Pubkey,
    pub lp_mint: Pubkey,
    /// Tokens of A backing the LP supply.
    pub reserve_a: u64,
    /// Tokens of B backing the LP supply.
    pub reserve_b: u64,
    /// LP supply including the permanently locked [`math::MINIMUM_LIQUIDITY`].
    pub lp_supply: u64,
    /// Protocol fees accrued in the vaults and not yet collected.
    pub protocol_fees_a: u64,
    pub protocol_fees_b: u64,
    /// Bit set of [`status`] flags.
    pub status: u8,
    /// Unix time before which swaps are refused.
    pub open_time: i64,
    /// Seconds-weighted sum of the Q64.64 price of A in B (wraps modulo 2^128).
    pub price_a_cumulative: u128,
    /// Seconds-weighted sum of the Q64.64 price of B in A (wraps modulo 2^128).
    pub price_b_cumulative: u128,
    /// Unix time of the last accumulator update.
    pub last_update_timestamp: i64,
    pub bump: u8,
    pub authority_bump: u8,
    pub mint_a_decimals: u8,
    pub mint_b_decimals: u8,
}

impl Pool {
    pub fn is_disabled(&self, flag: u8) -> bool {
        self.status & flag != 0
    }

    /// Fold the time since the last update into the TWAP accumulators, using the reserves that
    /// held over that time. Call before every reserve change.
    pub fn update_twap(&mut self, now: i64) -> Result<()> {
        if now > self.last_update_timestamp && self.reserve_a > 0 && self.reserve_b > 0 {
            let elapsed = u64::try_from(now - self.last_update_timestamp).map_err(|_| AmmError::MathOverflow)?;
            let price_a = math::price_q64(self.reserve_a, self.reserve_b)?;
            let price_b = math::price_q64(self.reserve_b, self.reserve_a)?;
            self.price_a_cumulative = math::accumulate(self.price_a_cumulative, price_a, elapsed);
            self.price_b_cumulative = math::accumulate(self.price_b_cumulative, price_b, elapsed);
        }
        if now > self.last_update_timestamp {
            self.last_update_timestamp = now;
        }
        Ok(())
    }

    /// Moves the pool to new reserves at unix time `now`, first folding the time since the last
    /// update into the TWAP with the reserves that held over it.
    pub fn set_reserves(&mut self, after: Reserves, now: i64) -> Result<()> {
        self.update_twap(now)?;
        self.reserve_a = after.reserve_a;
        self.reserve_b = after.reserve_b;
        self.lp_supply = after.lp_supply;
        Ok(())
    }

    /// Every vault must hold at least the reserve plus the uncollected protocol fees. Called
    /// after each instruction that moves tokens, as a last line of defence.
    pub fn check_backing(&self, vault_a: &TokenAccount, vault_b: &TokenAccount) -> Result<()> {
        let need_a = math::SafeMath::safe_add(self.reserve_a, self.protocol_fees_a)?;
        let need_b = math::SafeMath::safe_add(self.reserve_b, self.protocol_fees_b)?;
        require!(vault_a.amount >= need_a && vault_b.amount >= need_b, AmmError::InvariantViolated);
        Ok(())
    }

    pub fn reserves(&self) -> Reserves {
        Reserves { reserve_a: self.reserve_a, reserve_b: self.reserve_b, lp_supply: self.lp_supply }
    }
}

/// A snapshot of a pool's reserves, carried before and after by every event.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, Default, InitSpace)]
pub struct Reserves {
    pub reserve_a: u64,
    pub reserve_b: u64,
    pub lp_supply: u64,
}
