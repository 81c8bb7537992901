//! Every happy path of the AMM program, natively on solana-program-test with the real SPL Token
//! program. Each test asserts token balances, so a CPI that silently did nothing fails it.

use amm::{
    client::{self, AmmEvent},
    math::{self, Fees, MINIMUM_LIQUIDITY},
    state::status,
    AmmConfig, Reserves,
};
use anchor_lang::solana_program::program_pack::Pack;
use anchor_spl::token::spl_token;
use solana_sdk::signature::Signer;
use test_utils::*;

#[tokio::test]
async fn config_is_created_by_the_upgrade_authority_and_updated_by_its_admin() {
    let mut env = TestEnv::start().await;
    let admin = env.upgrade_authority.insecure_clone();
    let out = env.ok(&[client::create_config(admin.pubkey(), 7, 30, 1_500)], &[&admin]).await;
    let config = client::config_address(7);
    assert_eq!(
        out.events,
        vec![AmmEvent::ConfigCreated(amm::ConfigCreated {
            config,
            index: 7,
            admin: admin.pubkey(),
            trade_fee_bps: 30,
            protocol_fee_share_bps: 1_500,
        })]
    );
    let state: AmmConfig = env.anchor_account(config).await;
    assert_eq!(
        (state.index, state.admin, state.trade_fee_bps, state.protocol_fee_share_bps),
        (7, admin.pubkey(), 30, 1_500)
    );

    let new_admin = solana_sdk::signature::Keypair::new();
    let out = env
        .ok(&[client::update_config(admin.pubkey(), config, Some(25), None, Some(new_admin.pubkey()))], &[&admin])
        .await;
    assert_eq!(
        out.events,
        vec![AmmEvent::ConfigUpdated(amm::ConfigUpdated {
            config,
            old_admin: admin.pubkey(),
            new_admin: new_admin.pubkey(),
            old_trade_fee_bps: 30,
            new_trade_fee_bps: 25,
            old_protocol_fee_share_bps: 1_500,
            new_protocol_fee_share_bps: 1_500,
        })]
    );
    let state: AmmConfig = env.anchor_account(config).await;
    assert_eq!((state.admin, state.trade_fee_bps), (new_admin.pubkey(), 25));
}

#[tokio::test]
async fn initialize_pool_locks_minimum_liquidity_and_hands_pdas_the_keys() {
    let mut env = TestEnv::start().await;
    let config = env.create_config(0, 30, 0).await;
    let (mint_a, mint_b) = env.create_sorted_mints().await;
    let p = client::PoolAddresses::derive(config, mint_a, mint_b);
    let creator = env.new_user(&p, 5_000_000, 20_000_000).await;
    let ix = client::initialize_pool(
        creator.pubkey(),
        &p,
        creator.accounts.token_a,
        creator.accounts.token_b,
        1_000_000,
        4_000_000,
        42,
    );
    let out = env.ok(&[ix], &[&creator.keypair]).await;

    // sqrt(1e6 * 4e6) = 2e6, of which MINIMUM_LIQUIDITY stays locked forever.
    let lp_total = 2_000_000;
    assert_eq!(env.balance(p.vault_a).await, 1_000_000);
    assert_eq!(env.balance(p.vault_b).await, 4_000_000);
    assert_eq!(env.balance(creator.accounts.token_a).await, 4_000_000);
    assert_eq!(env.balance(creator.accounts.token_b).await, 16_000_000);
    assert_eq!(env.balance(creator.accounts.lp).await, lp_total - MINIMUM_LIQUIDITY);
    assert_eq!(env.mint_supply(p.lp_mint).await, lp_total - MINIMUM_LIQUIDITY);

    let pool = env.pool(p.pool).await;
    assert_eq!((pool.reserve_a, pool.reserve_b, pool.lp_supply), (1_000_000, 4_000_000, lp_total));
    assert_eq!((pool.mint_a, pool.mint_b, pool.config, pool.open_time), (mint_a, mint_b, config, 42));
    let decimals = |acc: solana_sdk::account::Account| spl_token::state::Mint::unpack(&acc.data).unwrap().decimals;
    let (dec_a, dec_b) = (decimals(env.account(mint_a).await.unwrap()), decimals(env.account(mint_b).await.unwrap()));
    assert_eq!((pool.mint_a_decimals, pool.mint_b_decimals), (dec_a, dec_b));
    assert_ne!(dec_a, dec_b, "the harness makes one 6- and one 9-decimal mint");

    // The authority PDA owns both vaults and is the LP mint's only authority.
    for vault in [p.vault_a, p.vault_b] {
        let acc = env.account(vault).await.unwrap();
        assert_eq!(acc.owner, spl_token::ID);
        assert_eq!(spl_token::state::Account::unpack(&acc.data).unwrap().owner, p.authority);
    }
    let lp = spl_token::state::Mint::unpack(&env.account(p.lp_mint).await.unwrap().data).unwrap();
    assert_eq!(lp.mint_authority, Some(p.authority).into());
    assert_eq!(lp.freeze_authority, None.into());

    let AmmEvent::PoolCreated(ev) = &out.events[0] else { panic!("expected PoolCreated, got {:?}", out.events) };
    assert_eq!(out.events.len(), 1);
    assert_eq!((ev.pool, ev.mint_a, ev.mint_b, ev.lp_mint, ev.open_time), (p.pool, mint_a, mint_b, p.lp_mint, 42));
    assert_eq!(ev.lp_to_creator, lp_total - MINIMUM_LIQUIDITY);
    assert_eq!(ev.before, Reserves::default());
    assert_eq!(ev.after, Reserves { reserve_a: 1_000_000, reserve_b: 4_000_000, lp_supply: lp_total });
}

#[tokio::test]
async fn deposit_and_withdraw_are_proportional() {
    let mut f = Fixture::new().await;
    let (p, alice) = (f.pool, &f.alice);
    let before = f.env.pool(p.pool).await.reserves();

    // 10% of the supply.
    let lp = before.lp_supply / 10;
    let (need_a, need_b) = math::deposit_amounts(lp, before.reserve_a, before.reserve_b, before.lp_supply).unwrap();
    let out = f.env.ok(&[client::deposit(&p, &alice.accounts, lp, need_a, need_b)], &[&alice.keypair]).await;
    assert_eq!(f.env.balance(alice.accounts.lp).await, lp);
    assert_eq!(f.env.balance(alice.accounts.token_a).await, FIXTURE_USER_BALANCE - need_a);
    assert_eq!(f.env.balance(alice.accounts.token_b).await, FIXTURE_USER_BALANCE - need_b);
    assert_eq!(f.env.balance(p.vault_a).await, before.reserve_a + need_a);
    let after = Reserves {
        reserve_a: before.reserve_a + need_a,
        reserve_b: before.reserve_b + need_b,
        lp_supply: before.lp_supply + lp,
    };
    assert_eq!(
        out.events,
        vec![AmmEvent::LiquidityAdded(amm::LiquidityAdded {
            pool: p.pool,
            owner: alice.pubkey(),
            lp_amount: lp,
            amount_a: need_a,
            amount_b: need_b,
            before,
            after,
        })]
    );

    let (get_a, get_b) = math::withdraw_amounts(lp, after.reserve_a, after.reserve_b, after.lp_supply).unwrap();
    let out = f.env.ok(&[client::withdraw(&p, &alice.accounts, lp, get_a, get_b)], &[&alice.keypair]).await;
    assert!(get_a <= need_a && get_b <= need_b);
    assert_eq!(f.env.balance(alice.accounts.lp).await, 0);
    assert_eq!(f.env.balance(alice.accounts.token_a).await, FIXTURE_USER_BALANCE - need_a + get_a);
    assert_eq!(f.env.balance(alice.accounts.token_b).await, FIXTURE_USER_BALANCE - need_b + get_b);
    let AmmEvent::LiquidityRemoved(ev) = &out.events[0] else { panic!("{:?}", out.events) };
    assert_eq!((ev.amount_a, ev.amount_b, ev.lp_amount, ev.before), (get_a, get_b, lp, after));
    assert_eq!(f.env.pool(p.pool).await.reserves(), ev.after);
}

/// Swaps both ways, exact-in and exact-out, each checked against the pure math.
#[tokio::test]
async fn swaps_in_both_directions_and_both_kinds_match_the_math() {
    let mut f = Fixture::new().await;
    let p = f.pool;
    let fees = Fees { trade_fee_bps: 30, protocol_fee_share_bps: 2_000 };
    let u = &f.alice.accounts;
    // (a_to_b, exact_in, amount)
    for (a_to_b, exact_in, amount) in
        [(true, true, 10_000u64), (false, true, 55_555), (true, false, 33_333), (false, false, 7_777)]
    {
        let pool = f.env.pool(p.pool).await;
        let (r_in, r_out) = if a_to_b { (pool.reserve_a, pool.reserve_b) } else { (pool.reserve_b, pool.reserve_a) };
        let q = if exact_in {
            math::swap_exact_in(amount, r_in, r_out, fees).unwrap()
        } else {
            math::swap_exact_out(amount, r_in, r_out, fees).unwrap()
        };
        let (user_in, user_out) = if a_to_b { (u.token_a, u.token_b) } else { (u.token_b, u.token_a) };
        let (vault_in, vault_out) = if a_to_b { (p.vault_a, p.vault_b) } else { (p.vault_b, p.vault_a) };
        let bal = (
            f.env.balance(user_in).await,
            f.env.balance(user_out).await,
            f.env.balance(vault_in).await,
            f.env.balance(vault_out).await,
        );
        let ix = if exact_in {
            client::swap_exact_in(&p, u.owner, a_to_b, user_in, user_out, amount, q.amount_out)
        } else {
            client::swap_exact_out(&p, u.owner, a_to_b, user_in, user_out, amount, q.amount_in)
        };
        let out = f.env.ok(&[ix], &[&f.alice.keypair]).await;

        assert_eq!(f.env.balance(user_in).await, bal.0 - q.amount_in);
        assert_eq!(f.env.balance(user_out).await, bal.1 + q.amount_out);
        assert_eq!(f.env.balance(vault_in).await, bal.2 + q.amount_in);
        assert_eq!(f.env.balance(vault_out).await, bal.3 - q.amount_out);

        let after = f.env.pool(p.pool).await;
        let (new_in, new_out) =
            if a_to_b { (after.reserve_a, after.reserve_b) } else { (after.reserve_b, after.reserve_a) };
        assert_eq!((new_in, new_out), (q.new_reserve_in, q.new_reserve_out));
        assert!(
            u128::from(after.reserve_a) * u128::from(after.reserve_b)
                >= u128::from(pool.reserve_a) * u128::from(pool.reserve_b)
        );
        assert_eq!(
            out.events,
            vec![AmmEvent::Swapped(amm::Swapped {
                pool: p.pool,
                trader: u.owner,
                a_to_b,
                exact_in,
                amount_in: q.amount_in,
                amount_out: q.amount_out,
                trade_fee: q.trade_fee,
                protocol_fee: q.protocol_fee,
                before: pool.reserves(),
                after: after.reserves(),
            })]
        );
    }
}

#[tokio::test]
async fn protocol_fees_accrue_and_only_the_admin_collects_them_to_any_account() {
    let mut f = Fixture::new().await;
    let p = f.pool;
    let u = f.alice.accounts;
    f.env.ok(&[client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 500_000, 1)], &[&f.alice.keypair]).await;
    f.env.ok(&[client::swap_exact_in(&p, u.owner, false, u.token_b, u.token_a, 900_000, 1)], &[&f.alice.keypair]).await;
    let pool = f.env.pool(p.pool).await;
    let fees = Fees { trade_fee_bps: 30, protocol_fee_share_bps: 2_000 };
    assert_eq!(pool.protocol_fees_a, math::protocol_fee(500_000, fees).unwrap());
    assert_eq!(pool.protocol_fees_b, math::protocol_fee(900_000, fees).unwrap());
    assert_eq!(f.env.balance(p.vault_a).await, pool.reserve_a + pool.protocol_fees_a);
    assert_eq!(f.env.balance(p.vault_b).await, pool.reserve_b + pool.protocol_fees_b);

    let treasury = solana_sdk::signature::Keypair::new().pubkey();
    let to_a = f.env.create_token_account(p.mint_a, treasury).await;
    let to_b = f.env.create_token_account(p.mint_b, treasury).await;
    let admin = f.env.upgrade_authority.insecure_clone();
    // Collect part of A and all of B.
    let out =
        f.env.ok(&[client::collect_protocol_fees(admin.pubkey(), &p, to_a, to_b, 100, u64::MAX)], &[&admin]).await;
    assert_eq!(f.env.balance(to_a).await, 100);
    assert_eq!(f.env.balance(to_b).await, pool.protocol_fees_b);
    let after = f.env.pool(p.pool).await;
    assert_eq!((after.protocol_fees_a, after.protocol_fees_b), (pool.protocol_fees_a - 100, 0));
    assert_eq!(after.reserves(), pool.reserves(), "collecting fees never touches the reserves");
    assert_eq!(
        out.events,
        vec![AmmEvent::ProtocolFeesCollected(amm::ProtocolFeesCollected {
            pool: p.pool,
            recipient_a: to_a,
            recipient_b: to_b,
            amount_a: 100,
            amount_b: pool.protocol_fees_b,
            remaining_a: pool.protocol_fees_a - 100,
            remaining_b: 0,
            before: pool.reserves(),
            after: pool.reserves(),
        })]
    );
}

#[tokio::test]
async fn pause_and_unpause_each_action() {
    let mut f = Fixture::new().await;
    let p = f.pool;
    let u = f.alice.accounts;
    let admin = f.env.upgrade_authority.insecure_clone();
    let out = f.env.ok(&[client::set_pool_status(admin.pubkey(), &p, status::ALL)], &[&admin]).await;
    let reserves = f.env.pool(p.pool).await.reserves();
    assert_eq!(
        out.events,
        vec![AmmEvent::PoolStatusChanged(amm::PoolStatusChanged {
            pool: p.pool,
            old_status: 0,
            new_status: status::ALL,
            before: reserves,
            after: reserves,
        })]
    );
    let swap = client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 1_000, 1);
    let err = f.env.execute(std::slice::from_ref(&swap), &[&f.alice.keypair]).await.unwrap_err();
    assert_eq!(custom_error(&err), Some(amm_error_code(amm::AmmError::SwapDisabled)));

    f.env.ok(&[client::set_pool_status(admin.pubkey(), &p, 0)], &[&admin]).await;
    f.env.ok(&[swap], &[&f.alice.keypair]).await;
    f.env.ok(&[client::deposit(&p, &u, 1_000, u64::MAX, u64::MAX)], &[&f.alice.keypair]).await;
    f.env.ok(&[client::withdraw(&p, &u, 1_000, 0, 0)], &[&f.alice.keypair]).await;
    assert_eq!(f.env.balance(u.lp).await, 0);
}

/// The TWAP accumulators advance with the clock by (price x seconds), using the reserves that
/// held during those seconds, and the average over a window equals the time-weighted price.
#[tokio::test]
async fn twap_advances_with_the_clock() {
    let mut f = Fixture::new().await;
    let p = f.pool;
    let u = f.alice.accounts;
    let start = f.env.pool(p.pool).await;
    let t0 = start.last_update_timestamp;

    // 100 s at the initial price, then a swap.
    let t1 = t0 + 100;
    f.env.set_time(t1).await;
    f.env.ok(&[client::swap_exact_in(&p, u.owner, true, u.token_a, u.token_b, 250_000, 1)], &[&f.alice.keypair]).await;
    let mid = f.env.pool(p.pool).await;
    let price_a0 = math::price_q64(start.reserve_a, start.reserve_b).unwrap();
    let price_b0 = math::price_q64(start.reserve_b, start.reserve_a).unwrap();
    assert_eq!(mid.last_update_timestamp, t1);
    assert_eq!(mid.price_a_cumulative, math::accumulate(start.price_a_cumulative, price_a0, 100));
    assert_eq!(mid.price_b_cumulative, math::accumulate(start.price_b_cumulative, price_b0, 100));

    // 300 s at the new price, then a deposit (any reserve change updates the oracle).
    let t2 = t1 + 300;
    f.env.set_time(t2).await;
    f.env.ok(&[client::deposit(&p, &u, 10_000, u64::MAX, u64::MAX)], &[&f.alice.keypair]).await;
    let end = f.env.pool(p.pool).await;
    let price_a1 = math::price_q64(mid.reserve_a, mid.reserve_b).unwrap();
    assert_eq!(end.price_a_cumulative, math::accumulate(mid.price_a_cumulative, price_a1, 300));

    let avg = math::average_price_q64(start.price_a_cumulative, end.price_a_cumulative, t0, t2).unwrap();
    assert_eq!(avg, (price_a0 * 100 + price_a1 * 300) / 400);
    assert!(price_a1 < avg && avg < price_a0, "selling A lowers A's price; the average lies between");
}
