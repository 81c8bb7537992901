//! Off-chain helpers shared by the keeper, the API and the tests: PDA derivation, instruction
//! builders and event decoding. Compiled only with the `client` feature, never on-chain.

use anchor_lang::{
    prelude::Pubkey,
    solana_program::{bpf_loader_upgradeable, instruction::Instruction},
    AnchorDeserialize, Discriminator, InstructionData, ToAccountMetas,
};
use anchor_spl::{associated_token::get_associated_token_address, token};

use crate::{events::*, state::*};

/// Every address of one pool, derived from its config and mints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolAddresses {
    pub config: Pubkey,
    pub mint_a: Pubkey,
    pub mint_b: Pubkey,
    pub pool: Pubkey,
    pub authority: Pubkey,
    pub vault_a: Pubkey,
    pub vault_b: Pubkey,
    pub lp_mint: Pubkey,
}

pub fn config_address(index: u16) -> Pubkey {
    Pubkey::find_program_address(&[AMM_CONFIG_SEED, &index.to_le_bytes()], &crate::ID).0
}

/// The ProgramData account of the deployed program (names its upgrade authority).
pub fn program_data_address() -> Pubkey {
    Pubkey::find_program_address(&[crate::ID.as_ref()], &bpf_loader_upgradeable::ID).0
}

pub fn event_authority() -> Pubkey {
    crate::EVENT_AUTHORITY_AND_BUMP.0
}

/// Puts two mints in the canonical order pools use; returns `None` for identical mints.
pub fn sort_mints(x: Pubkey, y: Pubkey) -> Option<(Pubkey, Pubkey)> {
    match x.cmp(&y) {
        core::cmp::Ordering::Less => Some((x, y)),
        core::cmp::Ordering::Greater => Some((y, x)),
        core::cmp::Ordering::Equal => None,
    }
}

impl PoolAddresses {
    /// Derives every PDA of the pool; `mint_a` and `mint_b` must already be in canonical order.
    pub fn derive(config: Pubkey, mint_a: Pubkey, mint_b: Pubkey) -> Self {
        let pool =
            Pubkey::find_program_address(&[POOL_SEED, config.as_ref(), mint_a.as_ref(), mint_b.as_ref()], &crate::ID).0;
        let pda = |seeds: &[&[u8]]| Pubkey::find_program_address(seeds, &crate::ID).0;
        Self {
            config,
            mint_a,
            mint_b,
            pool,
            authority: pda(&[AUTHORITY_SEED, pool.as_ref()]),
            vault_a: pda(&[VAULT_SEED, pool.as_ref(), mint_a.as_ref()]),
            vault_b: pda(&[VAULT_SEED, pool.as_ref(), mint_b.as_ref()]),
            lp_mint: pda(&[LP_MINT_SEED, pool.as_ref()]),
        }
    }

    /// Builds the addresses from a fetched pool account.
    pub fn from_pool(pool_address: Pubkey, pool: &Pool) -> Self {
        Self {
            config: pool.config,
            mint_a: pool.mint_a,
            mint_b: pool.mint_b,
            pool: pool_address,
            authority: Pubkey::create_program_address(
                &[AUTHORITY_SEED, pool_address.as_ref(), &[pool.authority_bump]],
                &crate::ID,
            )
            .unwrap_or_default(),
            vault_a: pool.vault_a,
            vault_b: pool.vault_b,
            lp_mint: pool.lp_mint,
        }
    }
}

/// An ExactIn swap of `amount` in `pool` as the program would price it now: buying `token` with
/// the pool's other mint (`buy`) or selling `token`. Also gives the pool's reserve of the other
/// mint (the quote side).
pub fn quote_exact_in(
    pool: &Pool,
    config: &AmmConfig,
    token: &Pubkey,
    buy: bool,
    amount: u64,
) -> crate::math::MathResult<(crate::math::curve::SwapQuote, u64)> {
    let (r_token, r_quote) =
        if pool.mint_b == *token { (pool.reserve_b, pool.reserve_a) } else { (pool.reserve_a, pool.reserve_b) };
    let (r_in, r_out) = if buy { (r_quote, r_token) } else { (r_token, r_quote) };
    Ok((crate::math::curve::swap_exact_in(amount, r_in, r_out, config.fees())?, r_quote))
}

fn ix(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction { program_id: crate::ID, accounts: accounts.to_account_metas(None), data: data.data() }
}

pub fn create_config(admin: Pubkey, index: u16, trade_fee_bps: u16, protocol_fee_share_bps: u16) -> Instruction {
    ix(
        crate::accounts::CreateConfig {
            admin,
            program_data: program_data_address(),
            config: config_address(index),
            system_program: anchor_lang::system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        crate::instruction::CreateConfig { index, trade_fee_bps, protocol_fee_share_bps },
    )
}

pub fn update_config(
    admin: Pubkey,
    config: Pubkey,
    trade_fee_bps: Option<u16>,
    protocol_fee_share_bps: Option<u16>,
    new_admin: Option<Pubkey>,
) -> Instruction {
    ix(
        crate::accounts::UpdateConfig { admin, config, event_authority: event_authority(), program: crate::ID },
        crate::instruction::UpdateConfig { trade_fee_bps, protocol_fee_share_bps, new_admin },
    )
}

pub fn set_pool_status(admin: Pubkey, p: &PoolAddresses, status: u8) -> Instruction {
    ix(
        crate::accounts::SetPoolStatus {
            admin,
            config: p.config,
            pool: p.pool,
            event_authority: event_authority(),
            program: crate::ID,
        },
        crate::instruction::SetPoolStatus { status },
    )
}

pub fn collect_protocol_fees(
    admin: Pubkey,
    p: &PoolAddresses,
    recipient_a: Pubkey,
    recipient_b: Pubkey,
    max_amount_a: u64,
    max_amount_b: u64,
) -> Instruction {
    ix(
        crate::accounts::CollectProtocolFees {
            admin,
            config: p.config,
            pool: p.pool,
            authority: p.authority,
            vault_a: p.vault_a,
            vault_b: p.vault_b,
            recipient_a,
            recipient_b,
            token_program: token::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        crate::instruction::CollectProtocolFees { max_amount_a, max_amount_b },
    )
}

/// The creator's LP tokens go to their associated token account, created by this instruction.
#[allow(clippy::too_many_arguments)]
pub fn initialize_pool(
    creator: Pubkey,
    p: &PoolAddresses,
    creator_token_a: Pubkey,
    creator_token_b: Pubkey,
    amount_a: u64,
    amount_b: u64,
    open_time: i64,
) -> Instruction {
    ix(
        crate::accounts::InitializePool {
            creator,
            config: p.config,
            mint_a: p.mint_a,
            mint_b: p.mint_b,
            pool: p.pool,
            authority: p.authority,
            lp_mint: p.lp_mint,
            vault_a: p.vault_a,
            vault_b: p.vault_b,
            creator_token_a,
            creator_token_b,
            creator_lp: get_associated_token_address(&creator, &p.lp_mint),
            token_program: token::ID,
            associated_token_program: anchor_spl::associated_token::ID,
            system_program: anchor_lang::system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        crate::instruction::InitializePool { amount_a, amount_b, open_time },
    )
}

/// A user's token accounts for one pool.
#[derive(Clone, Copy, Debug)]
pub struct UserAccounts {
    pub owner: Pubkey,
    pub token_a: Pubkey,
    pub token_b: Pubkey,
    pub lp: Pubkey,
}

fn liquidity_accounts(p: &PoolAddresses, u: &UserAccounts) -> crate::accounts::Liquidity {
    crate::accounts::Liquidity {
        owner: u.owner,
        pool: p.pool,
        authority: p.authority,
        vault_a: p.vault_a,
        vault_b: p.vault_b,
        lp_mint: p.lp_mint,
        owner_token_a: u.token_a,
        owner_token_b: u.token_b,
        owner_lp: u.lp,
        token_program: token::ID,
        event_authority: event_authority(),
        program: crate::ID,
    }
}

pub fn deposit(
    p: &PoolAddresses,
    u: &UserAccounts,
    lp_amount: u64,
    max_amount_a: u64,
    max_amount_b: u64,
) -> Instruction {
    ix(liquidity_accounts(p, u), crate::instruction::Deposit { lp_amount, max_amount_a, max_amount_b })
}

pub fn withdraw(
    p: &PoolAddresses,
    u: &UserAccounts,
    lp_amount: u64,
    min_amount_a: u64,
    min_amount_b: u64,
) -> Instruction {
    ix(liquidity_accounts(p, u), crate::instruction::Withdraw { lp_amount, min_amount_a, min_amount_b })
}

fn swap_accounts(
    p: &PoolAddresses,
    trader: Pubkey,
    a_to_b: bool,
    user_in: Pubkey,
    user_out: Pubkey,
) -> crate::accounts::Swap {
    let (input_vault, output_vault) = if a_to_b { (p.vault_a, p.vault_b) } else { (p.vault_b, p.vault_a) };
    crate::accounts::Swap {
        trader,
        config: p.config,
        pool: p.pool,
        authority: p.authority,
        input_vault,
        output_vault,
        input_token_account: user_in,
        output_token_account: user_out,
        token_program: token::ID,
        event_authority: event_authority(),
        program: crate::ID,
    }
}

/// Swap exactly `amount_in`; `user_in` / `user_out` are the trader's accounts of the input and output tokens.
pub fn swap_exact_in(
    p: &PoolAddresses,
    trader: Pubkey,
    a_to_b: bool,
    user_in: Pubkey,
    user_out: Pubkey,
    amount_in: u64,
    min_amount_out: u64,
) -> Instruction {
    ix(
        swap_accounts(p, trader, a_to_b, user_in, user_out),
        crate::instruction::SwapExactIn { amount_in, min_amount_out },
    )
}

/// Swap for exactly `amount_out`.
pub fn swap_exact_out(
    p: &PoolAddresses,
    trader: Pubkey,
    a_to_b: bool,
    user_in: Pubkey,
    user_out: Pubkey,
    amount_out: u64,
    max_amount_in: u64,
) -> Instruction {
    ix(
        swap_accounts(p, trader, a_to_b, user_in, user_out),
        crate::instruction::SwapExactOut { amount_out, max_amount_in },
    )
}

/// Any event the program emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmmEvent {
    ConfigCreated(ConfigCreated),
    ConfigUpdated(ConfigUpdated),
    PoolCreated(PoolCreated),
    LiquidityAdded(LiquidityAdded),
    LiquidityRemoved(LiquidityRemoved),
    Swapped(Swapped),
    PoolStatusChanged(PoolStatusChanged),
    ProtocolFeesCollected(ProtocolFeesCollected),
}

impl AmmEvent {
    /// The pool an event concerns, if any.
    pub fn pool(&self) -> Option<Pubkey> {
        match self {
            AmmEvent::ConfigCreated(_) | AmmEvent::ConfigUpdated(_) => None,
            AmmEvent::PoolCreated(e) => Some(e.pool),
            AmmEvent::LiquidityAdded(e) => Some(e.pool),
            AmmEvent::LiquidityRemoved(e) => Some(e.pool),
            AmmEvent::Swapped(e) => Some(e.pool),
            AmmEvent::PoolStatusChanged(e) => Some(e.pool),
            AmmEvent::ProtocolFeesCollected(e) => Some(e.pool),
        }
    }

    /// Reserves after the event, for events that concern a pool.
    pub fn reserves_after(&self) -> Option<Reserves> {
        match self {
            AmmEvent::ConfigCreated(_) | AmmEvent::ConfigUpdated(_) => None,
            AmmEvent::PoolCreated(e) => Some(e.after),
            AmmEvent::LiquidityAdded(e) => Some(e.after),
            AmmEvent::LiquidityRemoved(e) => Some(e.after),
            AmmEvent::Swapped(e) => Some(e.after),
            AmmEvent::PoolStatusChanged(e) => Some(e.after),
            AmmEvent::ProtocolFeesCollected(e) => Some(e.after),
        }
    }
}

fn decode_as<E: AnchorDeserialize + Discriminator>(body: &[u8]) -> Option<E> {
    let mut rest = body.strip_prefix(E::DISCRIMINATOR)?;
    E::deserialize(&mut rest).ok()
}

/// Decodes the data of an `emit_cpi!` inner instruction (`EVENT_IX_TAG_LE || discriminator || borsh`).
/// Returns `None` for any other instruction data.
pub fn decode_event_cpi(ix_data: &[u8]) -> Option<AmmEvent> {
    let body = ix_data.strip_prefix(anchor_lang::event::EVENT_IX_TAG_LE)?;
    decode_event_body(body)
}

/// Decodes `discriminator || borsh` (the payload of an `emit_cpi!` instruction or of an
/// `emit!` "Program data:" log line).
pub fn decode_event_body(body: &[u8]) -> Option<AmmEvent> {
    None.or_else(|| decode_as(body).map(AmmEvent::ConfigCreated))
        .or_else(|| decode_as(body).map(AmmEvent::ConfigUpdated))
        .or_else(|| decode_as(body).map(AmmEvent::PoolCreated))
        .or_else(|| decode_as(body).map(AmmEvent::LiquidityAdded))
        .or_else(|| decode_as(body).map(AmmEvent::LiquidityRemoved))
        .or_else(|| decode_as(body).map(AmmEvent::Swapped))
        .or_else(|| decode_as(body).map(AmmEvent::PoolStatusChanged))
        .or_else(|| decode_as(body).map(AmmEvent::ProtocolFeesCollected))
}
