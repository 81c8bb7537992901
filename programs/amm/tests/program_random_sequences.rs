//! Randomized operation sequences on the bank. After every operation, successful or refused:
//! each vault holds exactly its reserve plus uncollected protocol fees, every token is
//! conserved across all holders, the LP mint supply matches the pool's books, and `k` only
//! moves the way the operation allows. Set `AMM_RANDOM_SEED` to replay a run.

use amm::{client, math::MINIMUM_LIQUIDITY};
use rand::{rngs::StdRng, Rng, SeedableRng};
use solana_sdk::{pubkey::Pubkey, signature::Signer};
use test_utils::*;

const USERS: usize = 4;
const OPERATIONS: usize = 400;

#[derive(Debug, Clone, Copy)]
enum Op {
    SwapExactIn { a_to_b: bool, amount: u64 },
    SwapExactOut { a_to_b: bool, amount: u64 },
    Deposit { lp: u64 },
    Withdraw { lp: u64 },
    CollectFees,
    Wait { seconds: i64 },
}

fn random_op(rng: &mut StdRng, reserve_a: u64, reserve_b: u64, held_lp: u64) -> Op {
    // Sizes span dust to more than the pool holds, so refusals are exercised too.
    let a_to_b = rng.gen::<bool>();
    let mut size = |reserve: u64| -> u64 {
        match rng.gen_range(0..10) {
            0 => rng.gen_range(0..=10),
            1..=7 => rng.gen_range(1..=reserve / 10 + 1),
            _ => rng.gen_range(1..=reserve.saturating_mul(2)),
        }
    };
    let (r_in, r_out) = if a_to_b { (reserve_a, reserve_b) } else { (reserve_b, reserve_a) };
    let (size_in, size_out) = (size(r_in), size(r_out));
    match rng.gen_range(0..100) {
        0..=34 => Op::SwapExactIn { a_to_b, amount: size_in },
        35..=59 => Op::SwapExactOut { a_to_b, amount: size_out },
        60..=74 => Op::Deposit { lp: rng.gen_range(1..=held_lp.max(1_000_000)) },
        75..=89 => Op::Withdraw { lp: rng.gen_range(0..=held_lp.saturating_add(10)) },
        90..=94 => Op::CollectFees,
        _ => Op::Wait { seconds: rng.gen_range(1..=600) },
    }
}

#[tokio::test]
async fn random_operations_keep_vaults_reserves_and_supplies_consistent() {
    let seed = std::env::var("AMM_RANDOM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random::<u64>);
    println!("AMM_RANDOM_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let mut f = Fixture::new().await;
    let p = f.pool;
    let admin = f.env.upgrade_authority.insecure_clone();
    let treasury = solana_sdk::signature::Keypair::new().pubkey();
    let treasury_a = f.env.create_token_account(p.mint_a, treasury).await;
    let treasury_b = f.env.create_token_account(p.mint_b, treasury).await;
    let mut users = vec![f.creator, f.alice, f.bob];
    while users.len() < USERS {
        let u = f.env.new_user(&p, 50_000_000, 200_000_000).await;
        f.env.open_lp_account(&p, &u).await;
        users.push(u);
    }
    let mut holders_a: Vec<Pubkey> = users.iter().map(|u| u.accounts.token_a).collect();
    holders_a.extend([p.vault_a, treasury_a]);
    let mut holders_b: Vec<Pubkey> = users.iter().map(|u| u.accounts.token_b).collect();
    holders_b.extend([p.vault_b, treasury_b]);
    let lp_holders: Vec<Pubkey> = users.iter().map(|u| u.accounts.lp).collect();

    let supply_a = f.env.mint_supply(p.mint_a).await;
    let supply_b = f.env.mint_supply(p.mint_b).await;
    let (mut succeeded, mut refused) = (0, 0);
    for step in 0..OPERATIONS {
        let before = f.env.pool(p.pool).await;
        let user = &users[rng.gen_range(0..users.len())];
        let u = user.accounts;
        let held_lp = f.env.balance(u.lp).await;
        let op = random_op(&mut rng, before.reserve_a, before.reserve_b, held_lp);
        let a_to_b = matches!(op, Op::SwapExactIn { a_to_b: true, .. } | Op::SwapExactOut { a_to_b: true, .. });
        let (user_in, user_out) = if a_to_b { (u.token_a, u.token_b) } else { (u.token_b, u.token_a) };
        let (ix, signer) = match op {
            Op::SwapExactIn { a_to_b, amount } => {
                (client::swap_exact_in(&p, u.owner, a_to_b, user_in, user_out, amount, 0), &user.keypair)
            }
            Op::SwapExactOut { a_to_b, amount } => {
                (client::swap_exact_out(&p, u.owner, a_to_b, user_in, user_out, amount, u64::MAX), &user.keypair)
            }
            Op::Deposit { lp } => (client::deposit(&p, &u, lp, u64::MAX, u64::MAX), &user.keypair),
            Op::Withdraw { lp } => (client::withdraw(&p, &u, lp, 0, 0), &user.keypair),
            Op::CollectFees => {
                (client::collect_protocol_fees(admin.pubkey(), &p, treasury_a, treasury_b, u64::MAX, u64::MAX), &admin)
            }
            Op::Wait { seconds } => {
                f.env.advance_time(seconds).await;
                continue;
            }
        };
        let result = f.env.execute(&[ix], &[signer]).await;
        let after = f.env.pool(p.pool).await;
        match &result {
            Ok(out) => {
                succeeded += 1;
                assert_eq!(out.events.len(), 1, "step {step} {op:?}: one event per state change");
                assert_eq!(
                    out.events[0].reserves_after(),
                    Some(after.reserves()),
                    "step {step}: event matches the chain"
                );
            }
            Err(_) => {
                refused += 1;
                assert_eq!(after.reserves(), before.reserves(), "step {step} {op:?}: refused yet changed");
                assert_eq!(
                    (after.protocol_fees_a, after.protocol_fees_b),
                    (before.protocol_fees_a, before.protocol_fees_b)
                );
            }
        }

        // Vaults hold exactly reserves + uncollected protocol fees.
        assert_eq!(f.env.balance(p.vault_a).await, after.reserve_a + after.protocol_fees_a, "step {step} {op:?}");
        assert_eq!(f.env.balance(p.vault_b).await, after.reserve_b + after.protocol_fees_b, "step {step} {op:?}");
        // Every token is conserved across all its holders.
        let mut sum_a = 0u64;
        for h in &holders_a {
            sum_a += f.env.balance(*h).await;
        }
        let mut sum_b = 0u64;
        for h in &holders_b {
            sum_b += f.env.balance(*h).await;
        }
        assert_eq!((sum_a, sum_b), (supply_a, supply_b), "step {step} {op:?}: tokens created or destroyed");
        // LP books: mint supply = sum of holdings = pool supply minus the locked minimum.
        let mut lp_sum = 0u64;
        for h in &lp_holders {
            lp_sum += f.env.balance(*h).await;
        }
        assert_eq!(f.env.mint_supply(p.lp_mint).await, lp_sum, "step {step}");
        assert_eq!(after.lp_supply, lp_sum + MINIMUM_LIQUIDITY, "step {step}");
        // k never decreases on a swap; the value per LP share never decreases on any operation.
        let k = |r: &amm::Pool| u128::from(r.reserve_a) * u128::from(r.reserve_b);
        if matches!(op, Op::SwapExactIn { .. } | Op::SwapExactOut { .. }) {
            assert!(k(&after) >= k(&before), "step {step} {op:?}: k decreased");
        }
        // sqrt(k)/supply non-decreasing <=> k_after * s_before^2 >= k_before * s_after^2 (in U256).
        use amm::math::U256;
        let lhs = U256::from(k(&after)) * U256::from(before.lp_supply) * U256::from(before.lp_supply);
        let rhs = U256::from(k(&before)) * U256::from(after.lp_supply) * U256::from(after.lp_supply);
        assert!(lhs >= rhs, "step {step} {op:?}: LP share value fell");
    }
    println!("{succeeded} operations succeeded, {refused} were refused");
    assert!(succeeded > OPERATIONS / 2, "the sequence must mostly exercise real state changes");
    assert!(refused > 0, "the sequence must also exercise refusals");
}
