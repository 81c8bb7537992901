//! Every way an attacker or a careless client could try to break the pool. Each case asserts
//! the specific named error AND that no balance or state changed.

use amm::{
    client::{self, PoolAddresses},
    math::{self, Fees, MINIMUM_LIQUIDITY},
    state::status,
    AmmError,
};
use anchor_lang::{error::ErrorCode as AnchorError, solana_program::instruction::Instruction, AccountSerialize};
use anchor_spl::token_2022::spl_token_2022;
use solana_sdk::{
    account::Account,
    pubkey::Pubkey,
    signature::{Keypair, Signer},
};
use test_utils::*;

/// Runs a transaction that must fail with `expected`, and checks that none of `watched` changed.
async fn refused(env: &mut TestEnv, watched: &[Pubkey], ixs: &[Instruction], signers: &[&Keypair], expected: u32) {
    let before = env.snapshot(watched).await;
    let err = env.execute(ixs, signers).await.expect_err("the transaction must be refused");
    assert_eq!(custom_error(&err), Some(expected), "wrong error: {err:?}");
    assert_eq!(env.snapshot(watched).await, before, "a refused transaction changed state");
}

async fn refused_in(f: &mut Fixture, ixs: &[Instruction], signers: &[&Keypair], expected: u32) {
    let watched = f.watched();
    refused(&mut f.env, &watched, ixs, signers, expected).await;
}

fn amm(e: AmmError) -> u32 {
    amm_error_code(e)
}

fn anchor(e: AnchorError) -> u32 {
    e.into()
}

/// A second pool of the same two mints under another config: its vaults hold the very tokens
/// an attacker would want to drain through this pool.
async fn second_pool(f: &mut Fixture) -> PoolAddresses {
    let config = f.env.create_config(1, 30, 0).await;
    let p = PoolAddresses::derive(config, f.pool.mint_a, f.pool.mint_b);
    let creator = f.env.new_user(&p, 2_000_000, 2_000_000).await;
    let u = creator.accounts;
    let ix = client::initialize_pool(u.owner, &p, u.token_a, u.token_b, 2_000_000, 2_000_000, 0);
    f.env.ok(&[ix], &[&creator.keypair]).await;
    p
}

fn swap_a_to_b(p: &PoolAddresses, user: &User, amount_in: u64, min_out: u64) -> Instruction {
    let u = &user.accounts;
    client::swap_exact_in(p, u.owner, true, u.token_a, u.token_b, amount_in, min_out)
}

#[tokio::test]
async fn vault_from_another_pool_is_refused() {
    let mut f = Fixture::new().await;
    let other = second_pool(&mut f).await;
    let alice = f.alice.keypair.insecure_clone();
    let mut p = f.pool;
    p.vault_a = other.vault_a;
    let deposit = client::deposit(&p, &f.alice.accounts, 1_000, u64::MAX, u64::MAX);
    refused_in(&mut f, &[deposit], &[&alice], amm(AmmError::InvalidVault)).await;
    let withdraw = client::withdraw(&p, &f.creator.accounts, 1_000, 0, 0);
    let creator = f.creator.keypair.insecure_clone();
    refused_in(&mut f, &[withdraw], &[&creator], amm(AmmError::InvalidVault)).await;
    // A swap whose output vault belongs to another pool (same mints would be needed to drain it).
    let u = f.alice.accounts;
    let swap = client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 1_000, 1);
    refused_in(&mut f, &[swap], &[&alice], amm(AmmError::InvalidVault)).await;
}

#[tokio::test]
async fn swap_with_the_same_vault_twice_is_refused() {
    let mut f = Fixture::new().await;
    let alice = f.alice.keypair.insecure_clone();
    let mut ix = swap_a_to_b(&f.pool, &f.alice, 1_000, 1);
    // accounts: trader, config, pool, authority, input_vault, output_vault, ...
    ix.accounts[5] = ix.accounts[4].clone();
    ix.accounts[7] = ix.accounts[6].clone(); // output token account of the same mint
                                             // Anchor refuses the same writable account twice before our own checks run.
    refused_in(&mut f, &[ix], &[&alice], anchor(AnchorError::ConstraintDuplicateMutableAccount)).await;
}

#[tokio::test]
async fn wrong_lp_mint_is_refused() {
    let mut f = Fixture::new().await;
    let other = second_pool(&mut f).await;
    let alice = f.alice.keypair.insecure_clone();
    let mut p = f.pool;
    p.lp_mint = other.lp_mint;
    let ix = client::deposit(&p, &f.alice.accounts, 1_000, u64::MAX, u64::MAX);
    refused_in(&mut f, &[ix], &[&alice], amm(AmmError::InvalidLpMint)).await;
}

#[tokio::test]
async fn fake_pool_with_wrong_owner_is_refused() {
    let mut f = Fixture::new().await;
    let real = f.env.account(f.pool.pool).await.unwrap();
    let fake = Pubkey::new_unique();
    f.env.set_account(fake, Account { owner: anchor_lang::system_program::ID, ..real });
    let alice = f.alice.keypair.insecure_clone();
    let mut p = f.pool;
    p.pool = fake;
    let ix = swap_a_to_b(&p, &f.alice, 1_000, 1);
    refused_in(&mut f, &[ix], &[&alice], anchor(AnchorError::AccountOwnedByWrongProgram)).await;
}

/// An attacker-written account owned by the program but not at the pool PDA (for example one
/// that names the attacker's own vaults) fails the seeds check.
#[tokio::test]
async fn fake_pool_that_is_not_the_pda_is_refused() {
    let mut f = Fixture::new().await;
    let mut forged = f.env.pool(f.pool.pool).await;
    forged.reserve_b = 1; // pretend the pool is nearly empty on one side
    let mut data = Vec::new();
    forged.try_serialize(&mut data).unwrap();
    let real = f.env.account(f.pool.pool).await.unwrap();
    let fake = Pubkey::new_unique();
    f.env.set_account(fake, Account { data, ..real });
    let alice = f.alice.keypair.insecure_clone();
    let mut p = f.pool;
    p.pool = fake;
    let u = f.alice.accounts;
    let ix = client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 1_000, 1);
    refused_in(&mut f, &[ix], &[&alice], anchor(AnchorError::ConstraintSeeds)).await;
}

#[tokio::test]
async fn non_admin_cannot_call_any_admin_instruction() {
    let mut f = Fixture::new().await;
    let mallory = Keypair::new();
    let m = mallory.pubkey();
    let payer = f.env.payer();
    f.env.ok(&[anchor_lang::solana_program::system_instruction::transfer(&payer, &m, 1_000_000_000)], &[]).await;
    let to_a = f.alice.accounts.token_a;
    let to_b = f.alice.accounts.token_b;
    let p = f.pool;
    let config = f.config;
    let cases = [
        (client::update_config(m, config, Some(1_000), None, Some(m)), amm(AmmError::Unauthorized)),
        (client::set_pool_status(m, &p, status::WITHDRAW_DISABLED), amm(AmmError::Unauthorized)),
        (client::collect_protocol_fees(m, &p, to_a, to_b, u64::MAX, u64::MAX), amm(AmmError::Unauthorized)),
        // Only the program's upgrade authority may create configs.
        (client::create_config(m, 9, 0, 10_000), amm(AmmError::Unauthorized)),
    ];
    let mut watched = f.watched();
    watched.push(client::config_address(9));
    for (ix, code) in cases {
        refused(&mut f.env, &watched, &[ix], &[&mallory], code).await;
    }
}

/// A config admin controls only the pools of their own config.
#[tokio::test]
async fn admin_of_another_config_cannot_touch_this_pool() {
    let mut f = Fixture::new().await;
    let admin = f.env.upgrade_authority.insecure_clone();
    let mallory = Keypair::new();
    let other = f.env.create_config(1, 30, 10_000).await;
    f.env.ok(&[client::update_config(admin.pubkey(), other, None, None, Some(mallory.pubkey()))], &[&admin]).await;
    let mut p = f.pool;
    p.config = other;
    let (to_a, to_b) = (f.bob.accounts.token_a, f.bob.accounts.token_b);
    let collect = client::collect_protocol_fees(mallory.pubkey(), &p, to_a, to_b, u64::MAX, u64::MAX);
    refused_in(&mut f, &[collect], &[&mallory], amm(AmmError::InvalidConfig)).await;
    let pause = client::set_pool_status(mallory.pubkey(), &p, status::ALL);
    refused_in(&mut f, &[pause], &[&mallory], amm(AmmError::InvalidConfig)).await;
    // Nor can a swap be priced with another config's fees.
    let swap = swap_a_to_b(&p, &f.alice, 1_000, 1);
    let alice = f.alice.keypair.insecure_clone();
    refused_in(&mut f, &[swap], &[&alice], amm(AmmError::InvalidConfig)).await;
}

#[tokio::test]
async fn missing_signer_is_refused() {
    let mut f = Fixture::new().await;
    let unsign = |mut ix: Instruction, key: Pubkey| {
        for m in ix.accounts.iter_mut().filter(|m| m.pubkey == key) {
            m.is_signer = false;
        }
        ix
    };
    let bob = f.bob.accounts;
    // Mallory (the fee payer) tries to spend Bob's tokens without Bob's signature.
    let swap = unsign(client::swap_exact_in(&f.pool, bob.owner, true, bob.token_a, bob.token_b, 1_000, 1), bob.owner);
    refused_in(&mut f, &[swap], &[], anchor(AnchorError::AccountNotSigner)).await;
    let deposit = unsign(client::deposit(&f.pool, &bob, 1_000, u64::MAX, u64::MAX), bob.owner);
    refused_in(&mut f, &[deposit], &[], anchor(AnchorError::AccountNotSigner)).await;
    let creator = f.creator.accounts;
    let withdraw = unsign(client::withdraw(&f.pool, &creator, 1_000, 0, 0), creator.owner);
    refused_in(&mut f, &[withdraw], &[], anchor(AnchorError::AccountNotSigner)).await;
    let admin = f.env.upgrade_authority.pubkey();
    let pause = unsign(client::set_pool_status(admin, &f.pool, status::ALL), admin);
    refused_in(&mut f, &[pause], &[], anchor(AnchorError::AccountNotSigner)).await;
}

async fn try_initialize(
    env: &mut TestEnv,
    config: Pubkey,
    mint_a: Pubkey,
    mint_b: Pubkey,
    a: u64,
    b: u64,
    expected: u32,
) {
    let p = PoolAddresses::derive(config, mint_a, mint_b);
    let creator = Keypair::new();
    let payer = env.payer();
    env.ok(&[anchor_lang::solana_program::system_instruction::transfer(&payer, &creator.pubkey(), 1_000_000_000)], &[])
        .await;
    let token_a = env.create_token_account(mint_a, creator.pubkey()).await;
    let token_b = env.create_token_account(mint_b, creator.pubkey()).await;
    if a > 0 {
        env.mint_to(mint_a, token_a, a).await;
    }
    if b > 0 {
        env.mint_to(mint_b, token_b, b).await;
    }
    let ix = client::initialize_pool(creator.pubkey(), &p, token_a, token_b, a, b, 0);
    let watched = [p.pool, p.vault_a, p.vault_b, p.lp_mint, token_a, token_b, creator.pubkey()];
    refused(env, &watched, &[ix], &[&creator], expected).await;
}

#[tokio::test]
async fn identical_unsorted_and_token_2022_mints_are_refused() {
    let mut env = TestEnv::start().await;
    let config = env.create_config(0, 30, 0).await;
    let (a, b) = env.create_sorted_mints().await;
    try_initialize(&mut env, config, b, a, 1_000_000, 1_000_000, amm(AmmError::MintsNotSorted)).await;

    // Identical mints: build the instruction by hand (the pair cannot be funded twice).
    let p = PoolAddresses::derive(config, a, a);
    let creator = Keypair::new();
    let payer = env.payer();
    env.ok(&[anchor_lang::solana_program::system_instruction::transfer(&payer, &creator.pubkey(), 1_000_000_000)], &[])
        .await;
    let token = env.create_token_account(a, creator.pubkey()).await;
    env.mint_to(a, token, 2_000_000).await;
    let ix = client::initialize_pool(creator.pubkey(), &p, token, token, 1_000_000, 1_000_000, 0);
    refused(&mut env, &[p.pool, token], &[ix], &[&creator], amm(AmmError::IdenticalMints)).await;

    // A real Token-2022 mint, on either side.
    let t22 = env.create_mint_with(spl_token_2022::ID, 6, None).await;
    let classic = env.create_mint(6).await;
    let (x, y) = client::sort_mints(t22, classic).unwrap();
    let p = PoolAddresses::derive(config, x, y);
    let creator = Keypair::new();
    env.ok(&[anchor_lang::solana_program::system_instruction::transfer(&payer, &creator.pubkey(), 1_000_000_000)], &[])
        .await;
    let classic_acc = env.create_token_account(classic, creator.pubkey()).await;
    env.mint_to(classic, classic_acc, 1_000_000).await;
    // No classic token account of a Token-2022 mint can exist; any classic account stands in.
    let other_mint = env.create_mint(6).await;
    let other_acc = env.create_token_account(other_mint, creator.pubkey()).await;
    let (ta, tb) = if x == classic { (classic_acc, other_acc) } else { (other_acc, classic_acc) };
    let ix = client::initialize_pool(creator.pubkey(), &p, ta, tb, 1_000_000, 1_000_000, 0);
    let err = env.execute(&[ix], &[&creator]).await.expect_err("token-2022 refused");
    assert_eq!(custom_error(&err), Some(amm(AmmError::UnsupportedTokenProgram)), "{err:?}");
    assert!(env.account(p.pool).await.is_none());
    assert_eq!(env.balance(classic_acc).await, 1_000_000);
}

#[tokio::test]
async fn zero_and_dust_initial_liquidity_is_refused() {
    let mut env = TestEnv::start().await;
    let config = env.create_config(0, 30, 0).await;
    let (a, b) = env.create_sorted_mints().await;
    try_initialize(&mut env, config, a, b, 0, 1_000_000, amm(AmmError::ZeroAmount)).await;
    // sqrt(1000 * 1000) = MINIMUM_LIQUIDITY: nothing would be left for the creator.
    try_initialize(
        &mut env,
        config,
        a,
        b,
        MINIMUM_LIQUIDITY,
        MINIMUM_LIQUIDITY,
        amm(AmmError::InsufficientInitialLiquidity),
    )
    .await;
}

#[tokio::test]
async fn zero_amounts_are_refused() {
    let mut f = Fixture::new().await;
    let alice = f.alice.keypair.insecure_clone();
    let creator = f.creator.keypair.insecure_clone();
    let u = f.alice.accounts;
    let p = f.pool;
    let zero_in = client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 0, 0);
    refused_in(&mut f, &[zero_in], &[&alice], amm(AmmError::ZeroAmount)).await;
    let zero_out = client::swap_exact_out(&p, u.owner, false, u.token_b, u.token_a, 0, u64::MAX);
    refused_in(&mut f, &[zero_out], &[&alice], amm(AmmError::ZeroAmount)).await;
    let deposit = client::deposit(&p, &u, 0, u64::MAX, u64::MAX);
    refused_in(&mut f, &[deposit], &[&alice], amm(AmmError::ZeroAmount)).await;
    let withdraw = client::withdraw(&p, &f.creator.accounts, 0, 0, 0);
    refused_in(&mut f, &[withdraw], &[&creator], amm(AmmError::ZeroAmount)).await;
    // An input too small to buy one unit is refused, not silently absorbed.
    let dust = client::swap_exact_in(&p, u.owner, false, u.token_b, u.token_a, 1, 0);
    refused_in(&mut f, &[dust], &[&alice], amm(AmmError::ZeroTradingTokens)).await;
}

#[tokio::test]
async fn slippage_is_enforced_on_both_swap_kinds_and_on_liquidity() {
    let mut f = Fixture::new().await;
    let alice = f.alice.keypair.insecure_clone();
    let creator = f.creator.keypair.insecure_clone();
    let u = f.alice.accounts;
    let p = f.pool;
    let fees = Fees { trade_fee_bps: 30, protocol_fee_share_bps: 2_000 };
    let pool = f.env.pool(p.pool).await;

    let out = math::get_amount_out(10_000, pool.reserve_a, pool.reserve_b, fees).unwrap();
    let exact_in = client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 10_000, out + 1);
    refused_in(&mut f, &[exact_in], &[&alice], amm(AmmError::SlippageExceeded)).await;

    let need = math::get_amount_in(10_000, pool.reserve_b, pool.reserve_a, fees).unwrap();
    let exact_out = client::swap_exact_out(&p, u.owner, false, u.token_b, u.token_a, 10_000, need - 1);
    refused_in(&mut f, &[exact_out], &[&alice], amm(AmmError::SlippageExceeded)).await;

    let (da, db) = math::deposit_amounts(50_000, pool.reserve_a, pool.reserve_b, pool.lp_supply).unwrap();
    let deposit_a = client::deposit(&p, &u, 50_000, da - 1, db);
    refused_in(&mut f, &[deposit_a], &[&alice], amm(AmmError::SlippageExceeded)).await;
    let deposit_b = client::deposit(&p, &u, 50_000, da, db - 1);
    refused_in(&mut f, &[deposit_b], &[&alice], amm(AmmError::SlippageExceeded)).await;

    let (wa, wb) = math::withdraw_amounts(50_000, pool.reserve_a, pool.reserve_b, pool.lp_supply).unwrap();
    let withdraw_a = client::withdraw(&p, &f.creator.accounts, 50_000, wa + 1, wb);
    refused_in(&mut f, &[withdraw_a], &[&creator], amm(AmmError::SlippageExceeded)).await;
    let withdraw_b = client::withdraw(&p, &f.creator.accounts, 50_000, wa, wb + 1);
    refused_in(&mut f, &[withdraw_b], &[&creator], amm(AmmError::SlippageExceeded)).await;
}

#[tokio::test]
async fn withdrawing_more_lp_than_held_is_refused() {
    let mut f = Fixture::new().await;
    let creator = f.creator.keypair.insecure_clone();
    let held = f.env.balance(f.creator.accounts.lp).await;
    let ix = client::withdraw(&f.pool, &f.creator.accounts, held + 1, 0, 0);
    refused_in(&mut f, &[ix], &[&creator], amm(AmmError::InsufficientLpTokens)).await;
    // Withdrawing everything held works and leaves the locked minimum behind.
    f.env.ok(&[client::withdraw(&f.pool, &f.creator.accounts, held, 0, 0)], &[&creator]).await;
    let pool = f.env.pool(f.pool.pool).await;
    assert_eq!(pool.lp_supply, MINIMUM_LIQUIDITY);
    assert!(pool.reserve_a > 0 && pool.reserve_b > 0);
}

#[tokio::test]
async fn each_paused_action_is_refused_and_the_others_still_work() {
    let mut f = Fixture::new().await;
    let admin = f.env.upgrade_authority.insecure_clone();
    let alice = f.alice.keypair.insecure_clone();
    let creator = f.creator.keypair.insecure_clone();
    let u = f.alice.accounts;
    let p = f.pool;
    let swap = client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 1_000, 1);
    let deposit = client::deposit(&p, &u, 1_000, u64::MAX, u64::MAX);
    let withdraw = client::withdraw(&p, &f.creator.accounts, 1_000, 0, 0);
    let cases = [
        (status::SWAP_DISABLED, swap.clone(), &alice, AmmError::SwapDisabled),
        (status::DEPOSIT_DISABLED, deposit.clone(), &alice, AmmError::DepositDisabled),
        (status::WITHDRAW_DISABLED, withdraw.clone(), &creator, AmmError::WithdrawDisabled),
    ];
    for (flag, ix, signer, error) in cases {
        f.env.ok(&[client::set_pool_status(admin.pubkey(), &p, flag)], &[&admin]).await;
        refused_in(&mut f, &[ix], &[signer], amm(error)).await;
        // The other two actions are unaffected.
        for (other, other_signer) in [(&swap, &alice), (&deposit, &alice), (&withdraw, &creator)] {
            let refused_kind = match flag {
                status::SWAP_DISABLED => other == &swap,
                status::DEPOSIT_DISABLED => other == &deposit,
                _ => other == &withdraw,
            };
            if !refused_kind {
                f.env.ok(std::slice::from_ref(other), &[other_signer]).await;
            }
        }
    }
    let bad = client::set_pool_status(admin.pubkey(), &p, 0b1000);
    refused_in(&mut f, &[bad], &[&admin], amm(AmmError::InvalidStatus)).await;
}

#[tokio::test]
async fn swap_before_open_time_is_refused() {
    let mut env = TestEnv::start().await;
    let config = env.create_config(0, 30, 0).await;
    let now = env.clock().await.unix_timestamp;
    let (p, _creator) = env.create_pool(config, 1_000_000, 1_000_000, now + 3_600).await;
    let trader = env.new_user(&p, 100_000, 0).await;
    let u = trader.accounts;
    let ix = client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 10_000, 1);
    let watched = [p.pool, p.vault_a, p.vault_b, u.token_a, u.token_b];
    refused(&mut env, &watched, std::slice::from_ref(&ix), &[&trader.keypair], amm(AmmError::PoolNotOpen)).await;
    env.set_time(now + 3_599).await;
    refused(&mut env, &watched, std::slice::from_ref(&ix), &[&trader.keypair], amm(AmmError::PoolNotOpen)).await;
    env.set_time(now + 3_600).await;
    env.ok(&[ix], &[&trader.keypair]).await;
    assert!(env.balance(u.token_b).await > 0);
}

#[tokio::test]
async fn amounts_near_u64_max_fail_with_named_errors() {
    let mut env = TestEnv::start().await;
    let config = env.create_config(0, 30, 0).await;
    let big = u64::MAX - 10;
    let (p, creator) = env.create_pool(config, big, big, 0).await;
    let pool = env.pool(p.pool).await;
    assert_eq!(pool.reserve_a, big);
    let creator_kp = creator.keypair.insecure_clone();
    let u = creator.accounts;
    let watched = [p.pool, p.vault_a, p.vault_b, p.lp_mint, u.token_a, u.token_b, u.lp];
    // Depositing would push the reserves past u64::MAX.
    let deposit = client::deposit(&p, &u, pool.lp_supply / 2, u64::MAX, u64::MAX);
    refused(&mut env, &watched, &[deposit], &[&creator_kp], amm(AmmError::MathOverflow)).await;
    // Swapping u64::MAX into a pool that already holds almost u64::MAX.
    let swap = client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, u64::MAX, 0);
    refused(&mut env, &watched, &[swap], &[&creator_kp], amm(AmmError::MathOverflow)).await;
    // Asking for the whole output reserve.
    let all = client::swap_exact_out(&p, u.owner, true, u.token_a, u.token_b, big, u64::MAX);
    refused(&mut env, &watched, &[all], &[&creator_kp], amm(AmmError::InsufficientReserve)).await;
}

#[tokio::test]
async fn fee_settings_out_of_range_are_refused() {
    let mut f = Fixture::new().await;
    let admin = f.env.upgrade_authority.insecure_clone();
    let too_high = client::update_config(admin.pubkey(), f.config, Some(1_001), None, None);
    refused_in(&mut f, &[too_high], &[&admin], amm(AmmError::InvalidTradeFee)).await;
    let share = client::update_config(admin.pubkey(), f.config, None, Some(10_001), None);
    refused_in(&mut f, &[share], &[&admin], amm(AmmError::InvalidProtocolFeeShare)).await;
    let create = client::create_config(admin.pubkey(), 3, 5_000, 0);
    refused(&mut f.env, &[client::config_address(3)], &[create], &[&admin], amm(AmmError::InvalidTradeFee)).await;
}

#[tokio::test]
async fn token_account_of_the_wrong_mint_is_refused() {
    let mut f = Fixture::new().await;
    let alice = f.alice.keypair.insecure_clone();
    let u = f.alice.accounts;
    let stranger_mint = f.env.create_mint(6).await;
    let stranger = f.env.create_token_account(stranger_mint, u.owner).await;
    // Output into an account of an unrelated mint.
    let ix = client::swap_exact_in(&f.pool, u.owner, true, u.token_a, stranger, 1_000, 1);
    refused_in(&mut f, &[ix], &[&alice], amm(AmmError::InvalidTokenMint)).await;
    let ix = client::swap_exact_in(&f.pool, u.owner, true, stranger, u.token_b, 1_000, 1);
    refused_in(&mut f, &[ix], &[&alice], amm(AmmError::InvalidTokenMint)).await;
    let mut swapped = u;
    swapped.token_a = stranger;
    let ix = client::deposit(&f.pool, &swapped, 1_000, u64::MAX, u64::MAX);
    refused_in(&mut f, &[ix], &[&alice], amm(AmmError::InvalidTokenMint)).await;
}

/// First-depositor attack: the attacker seeds a pool with the least liquidity allowed, then
/// donates a large amount straight into a vault hoping to inflate the LP share price so the
/// victim's deposit rounds down to nothing. Reserves are tracked, so the donation changes neither
/// price nor share value, and the victim gets back what they put in (up to rounding units).
#[tokio::test]
async fn donation_before_the_second_depositor_does_not_rob_the_victim() {
    let mut env = TestEnv::start().await;
    let config = env.create_config(0, 30, 0).await;
    let (p, attacker) = env.create_pool(config, 1_001, 1_001, 0).await;
    // 1_001 units each -> sqrt = 1_001 LP, of which 1_000 are locked; the attacker holds 1.
    assert_eq!(env.balance(attacker.accounts.lp).await, 1);
    let donation = 1_000_000_000_000;
    env.mint_to(p.mint_a, attacker.accounts.token_a, donation).await;
    env.mint_to(p.mint_b, attacker.accounts.token_b, donation).await;
    let before = env.pool(p.pool).await;
    env.transfer(attacker.accounts.token_a, p.vault_a, &attacker.keypair, donation).await;
    env.transfer(attacker.accounts.token_b, p.vault_b, &attacker.keypair, donation).await;
    assert_eq!(env.pool(p.pool).await.reserves(), before.reserves(), "a donation does not move reserves");

    let victim_funds = 10_000_000;
    let victim = env.new_user(&p, victim_funds, victim_funds).await;
    env.open_lp_account(&p, &victim).await;
    let pool = env.pool(p.pool).await;
    let lp =
        math::lp_for_max_amounts(victim_funds, victim_funds, pool.reserve_a, pool.reserve_b, pool.lp_supply).unwrap();
    assert!(lp > 0, "the victim's deposit is not rounded away");
    env.ok(&[client::deposit(&p, &victim.accounts, lp, victim_funds, victim_funds)], &[&victim.keypair]).await;
    // The attacker exits with their one LP token.
    env.ok(&[client::withdraw(&p, &attacker.accounts, 1, 0, 0)], &[&attacker.keypair]).await.events.len();
    let held = env.balance(victim.accounts.lp).await;
    env.ok(&[client::withdraw(&p, &victim.accounts, held, 0, 0)], &[&victim.keypair]).await;
    let back_a = env.balance(victim.accounts.token_a).await;
    let back_b = env.balance(victim.accounts.token_b).await;
    // Lost at most the share of the locked minimum plus rounding: 0.02% here.
    let max_loss = victim_funds / 5_000;
    assert!(victim_funds - back_a <= max_loss, "victim lost {} of A", victim_funds - back_a);
    assert!(victim_funds - back_b <= max_loss, "victim lost {} of B", victim_funds - back_b);
}

/// Thousands of units extracted through rounding would show up as a trader ending richer at the
/// starting price, or as k falling. Many tiny round trips leave the trader poorer and k higher.
#[tokio::test]
async fn many_tiny_swaps_cannot_extract_value_through_rounding() {
    let mut f = Fixture::new().await;
    let alice = f.alice.keypair.insecure_clone();
    let u = f.alice.accounts;
    let p = f.pool;
    let start = f.env.pool(p.pool).await;
    let k0 = u128::from(start.reserve_a) * u128::from(start.reserve_b);
    let (a0, b0) = (f.env.balance(u.token_a).await, f.env.balance(u.token_b).await);
    let value =
        |a: u64, b: u64| u128::from(a) * u128::from(start.reserve_b) + u128::from(b) * u128::from(start.reserve_a);

    let mut ixs = Vec::new();
    for i in 0..120u64 {
        // Smallest outputs possible, alternating directions and kinds.
        ixs.push(match i % 4 {
            0 => client::swap_exact_out(&p, u.owner, true, u.token_a, u.token_b, 1, u64::MAX),
            1 => client::swap_exact_out(&p, u.owner, false, u.token_b, u.token_a, 1, u64::MAX),
            2 => client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 1, 1),
            _ => client::swap_exact_in(&p, u.owner, false, u.token_b, u.token_a, 1, 0),
        });
    }
    let mut refused = 0;
    for chunk in ixs.chunks(6) {
        for ix in chunk {
            if f.env.execute(std::slice::from_ref(ix), &[&alice]).await.is_err() {
                refused += 1; // a 1-unit exact-in that buys nothing is refused, never absorbed
            }
        }
    }
    let end = f.env.pool(p.pool).await;
    let (a1, b1) = (f.env.balance(u.token_a).await, f.env.balance(u.token_b).await);
    assert!(value(a1, b1) < value(a0, b0), "the trader must not gain: {a0},{b0} -> {a1},{b1}");
    assert!(u128::from(end.reserve_a) * u128::from(end.reserve_b) > k0, "k grew from the rounding");
    // Every 1-unit B->A exact-in (worth 0.25 A) buys nothing and is refused, not absorbed.
    assert_eq!(refused, 30);
}
