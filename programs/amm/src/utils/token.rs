//! Token CPIs. Outflows from vaults and LP mints are signed by the pool's authority PDA.

use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, MintTo, Transfer};

use crate::state::AUTHORITY_SEED;

/// Move `amount` from a user's token account, signed by the user.
pub fn transfer_from_user<'info>(
    token_program: &AccountInfo<'info>,
    from: AccountInfo<'info>,
    to: AccountInfo<'info>,
    owner: AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    token::transfer(CpiContext::new(token_program.key(), Transfer { from, to, authority: owner }), amount)
}

/// Move `amount` out of a vault, signed by the pool authority PDA.
pub fn transfer_from_vault<'info>(
    token_program: &AccountInfo<'info>,
    vault: AccountInfo<'info>,
    to: AccountInfo<'info>,
    authority: AccountInfo<'info>,
    pool: &Pubkey,
    authority_bump: u8,
    amount: u64,
) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    let seeds: &[&[u8]] = &[AUTHORITY_SEED, pool.as_ref(), &[authority_bump]];
    token::transfer(
        CpiContext::new_with_signer(token_program.key(), Transfer { from: vault, to, authority }, &[seeds]),
        amount,
    )
}

/// Mint LP tokens, signed by the pool authority PDA.
pub fn mint_lp<'info>(
    token_program: &AccountInfo<'info>,
    mint: AccountInfo<'info>,
    to: AccountInfo<'info>,
    authority: AccountInfo<'info>,
    pool: &Pubkey,
    authority_bump: u8,
    amount: u64,
) -> Result<()> {
    let seeds: &[&[u8]] = &[AUTHORITY_SEED, pool.as_ref(), &[authority_bump]];
    token::mint_to(CpiContext::new_with_signer(token_program.key(), MintTo { mint, to, authority }, &[seeds]), amount)
}

/// Burn LP tokens from a user's account, signed by the user.
pub fn burn_lp<'info>(
    token_program: &AccountInfo<'info>,
    mint: AccountInfo<'info>,
    from: AccountInfo<'info>,
    owner: AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    token::burn(CpiContext::new(token_program.key(), Burn { mint, from, authority: owner }), amount)
}
