use anchor_lang::prelude::*;
use anchor_spl::{
    associated_token::AssociatedToken,
    token::{self, Token, TokenAccount},
    token_interface::Mint as MintInterface,
};

use crate::{errors::AmmError, events::PoolCreated, math, state::*, utils};

#[event_cpi]
#[derive(Accounts)]
pub struct InitializePool<'info> {
    /// Pays for the accounts and provides the initial liquidity.
    #[account(mut)]
    pub creator: Signer<'info>,
    pub config: Box<Account<'info, AmmConfig>>,
    /// Token A. Must be a classic SPL Token mint: Token-2022 mints are refused, since their
    /// transfer fees and hooks break the vault accounting peer AMMs rely on.
    pub mint_a: Box<InterfaceAccount<'info, MintInterface>>,
    /// Token B, with `mint_a < mint_b` (canonical order, so each pair has exactly one pool per config).
    pub mint_b: Box<InterfaceAccount<'info, MintInterface>>,
    #[account(
        init,
        payer = creator,
        space = 8 + Pool::INIT_SPACE,
        seeds = [POOL_SEED, config.key().as_ref(), mint_a.key().as_ref(), mint_b.key().as_ref()],
        bump,
        // The mint checks live on the first `init` account: Anchor creates `init` accounts before
        // it checks plain constraints, and a bad mint would otherwise fail inside a vault's
        // creation (identical mints collide in the vault PDAs) with a less useful error.
        constraint = mint_a.key() != mint_b.key() @ AmmError::IdenticalMints,
        constraint = mint_a.key() < mint_b.key() @ AmmError::MintsNotSorted,
        constraint = *mint_a.to_account_info().owner == token::ID @ AmmError::UnsupportedTokenProgram,
        constraint = *mint_b.to_account_info().owner == token::ID @ AmmError::UnsupportedTokenProgram,
    )]
    pub pool: Box<Account<'info, Pool>>,
    /// CHECK: PDA that owns the vaults and the LP mint; it holds no data.
    #[account(seeds = [AUTHORITY_SEED, pool.key().as_ref()], bump)]
    pub authority: UncheckedAccount<'info>,
    #[account(
        init,
        payer = creator,
        seeds = [LP_MINT_SEED, pool.key().as_ref()],
        bump,
        mint::decimals = LP_MINT_DECIMALS,
        mint::authority = authority,
        mint::token_program = token_program,
    )]
    pub lp_mint: Box<Account<'info, token::Mint>>,
    #[account(
        init,
        payer = creator,
        seeds = [VAULT_SEED, pool.key().as_ref(), mint_a.key().as_ref()],
        bump,
        token::mint = mint_a,
        token::authority = authority,
        token::token_program = token_program,
    )]
    pub vault_a: Box<Account<'info, TokenAccount>>,
    #[account(
        init,
        payer = creator,
        seeds = [VAULT_SEED, pool.key().as_ref(), mint_b.key().as_ref()],
        bump,
        token::mint = mint_b,
        token::authority = authority,
        token::token_program = token_program,
    )]
    pub vault_b: Box<Account<'info, TokenAccount>>,
    #[account(mut, constraint = creator_token_a.mint == mint_a.key() @ AmmError::InvalidTokenMint)]
    pub creator_token_a: Box<Account<'info, TokenAccount>>,
    #[account(mut, constraint = creator_token_b.mint == mint_b.key() @ AmmError::InvalidTokenMint)]
    pub creator_token_b: Box<Account<'info, TokenAccount>>,
    /// The creator's LP associated token account, created here.
    #[account(
        init,
        payer = creator,
        associated_token::mint = lp_mint,
        associated_token::authority = creator,
        associated_token::token_program = token_program,
    )]
    pub creator_lp: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub associated_token_program: Program<'info, AssociatedToken>,
    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<InitializePool>, amount_a: u64, amount_b: u64, open_time: i64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let liquidity = math::initial_liquidity(amount_a, amount_b)?;
    let accounts = &ctx.accounts;
    let pool_key = accounts.pool.key();
    let token_program = accounts.token_program.to_account_info();
    let creator = accounts.creator.to_account_info();

    utils::transfer_from_user(
        &token_program,
        accounts.creator_token_a.to_account_info(),
        accounts.vault_a.to_account_info(),
        creator.clone(),
        amount_a,
    )?;
    utils::transfer_from_user(
        &token_program,
        accounts.creator_token_b.to_account_info(),
        accounts.vault_b.to_account_info(),
        creator,
        amount_b,
    )?;
    utils::mint_lp(
        &token_program,
        accounts.lp_mint.to_account_info(),
        accounts.creator_lp.to_account_info(),
        accounts.authority.to_account_info(),
        &pool_key,
        ctx.bumps.authority,
        liquidity.lp_to_creator,
    )?;

    let pool = Pool {
        config: accounts.config.key(),
        creator: accounts.creator.key(),
        mint_a: accounts.mint_a.key(),
        mint_b: accounts.mint_b.key(),
        vault_a: accounts.vault_a.key(),
        vault_b: accounts.vault_b.key(),
        lp_mint: accounts.lp_mint.key(),
        reserve_a: amount_a,
        reserve_b: amount_b,
        lp_supply: liquidity.lp_supply,
        protocol_fees_a: 0,
        protocol_fees_b: 0,
        status: 0,
        open_time,
        price_a_cumulative: 0,
        price_b_cumulative: 0,
        last_update_timestamp: now,
        bump: ctx.bumps.pool,
        authority_bump: ctx.bumps.authority,
        mint_a_decimals: accounts.mint_a.decimals,
        mint_b_decimals: accounts.mint_b.decimals,
    };
    let event = PoolCreated {
        pool: pool_key,
        config: pool.config,
        creator: pool.creator,
        mint_a: pool.mint_a,
        mint_b: pool.mint_b,
        vault_a: pool.vault_a,
        vault_b: pool.vault_b,
        lp_mint: pool.lp_mint,
        open_time,
        lp_to_creator: liquidity.lp_to_creator,
        before: Reserves::default(),
        after: pool.reserves(),
    };
    ctx.accounts.pool.set_inner(pool);
    ctx.accounts.vault_a.reload()?;
    ctx.accounts.vault_b.reload()?;
    ctx.accounts.pool.check_backing(&ctx.accounts.vault_a, &ctx.accounts.vault_b)?;
    emit_cpi!(event);
    Ok(())
}
