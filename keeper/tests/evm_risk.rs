//! The risk scorer against the whole test-token zoo on a real anvil with real Uniswap V2: the
//! launch-state tricks of `Tokens.sol`, the latent scams of `Latent.sol` (armed only by a
//! privileged call, under names that say nothing), and the legitimate controls that must not
//! come out critical.

use alloy::primitives::U256;
use keeper::{
    chains::evm::probe::{EvmRiskEngine, PoolRef},
    config::{Config, EvmChainConfig},
    risk::{Assessment, Severity, Verdict},
};
use localnet::evm::{e18, EvmEnv, Launch, TokenKind};

fn chain_config(env: &EvmEnv) -> EvmChainConfig {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.toml");
    std::fs::write(&path, env.keeper_toml("local")).unwrap();
    let config = Config::load(Some(&path), Vec::new()).expect("config");
    config.evm["local"].clone()
}

/// What a user relies on for one token.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Never bought: a critical verdict.
    Critical,
    /// Risky, maybe refused by the default limits, but not a certain loss.
    NotCritical,
    /// Clean: tradeable with a low score.
    Clean,
}

struct Case {
    name: &'static str,
    launch: Launch,
    /// Checks that must be among the findings at or above `Low`.
    must: &'static [&'static str],
    expect: Expect,
}

fn case(name: &'static str, launch: Launch, must: &'static [&'static str], expect: Expect) -> Case {
    Case { name, launch, must, expect }
}

fn zoo(kind: &'static str) -> Launch {
    Launch::clean(TokenKind::Zoo(kind))
}

fn renounced(kind: &'static str) -> Launch {
    Launch { renounce: true, ..zoo(kind) }
}

async fn score(env: &EvmEnv, engine: &EvmRiskEngine, c: &Case) -> Assessment {
    let l = env.launch(c.name, &c.launch).await;
    let pool = PoolRef { pool: l.pair, base_token: l.token, created_block: l.block, created_tx: Some(l.tx) };
    let (facts, _, meta) = engine.measure(&pool).await.expect("measure");
    assert_eq!(meta.symbol.as_deref(), Some(c.name.to_uppercase().as_str()), "metadata read");
    keeper::risk::rules::evm::assess(&facts, &Default::default())
}

fn check(c: &Case, a: &Assessment, failures: &mut Vec<String>) {
    println!(
        "{:>14}: score {:>3} {:?} tradeable={} tripped={:?}",
        c.name,
        a.score,
        a.verdict,
        a.tradeable,
        a.tripped()
    );
    if let Some(f) = a.findings.iter().find(|f| f.check == "privilege_search") {
        println!("{:>14}  {}", "", f.measured);
    }
    let tripped = a.tripped();
    let missing: Vec<&&str> = c.must.iter().filter(|m| !tripped.contains(m)).collect();
    if !missing.is_empty() {
        failures.push(format!("{}: missing {missing:?}\n{}", c.name, a.summary));
    }
    let ok = match c.expect {
        Expect::Critical => !a.tradeable && a.verdict == Verdict::Critical,
        Expect::NotCritical => {
            a.verdict != Verdict::Critical && a.findings.iter().all(|f| f.severity < Severity::Critical)
        }
        Expect::Clean => a.tradeable && a.score < 20,
    };
    if !ok {
        failures.push(format!(
            "{}: expected {:?}, got {:?} (score {})\n{}",
            c.name, c.expect, a.verdict, a.score, a.summary
        ));
    }
    // The verdict and `tradeable` never contradict each other.
    assert!(!(a.verdict == Verdict::Critical && a.tradeable), "{}: a critical verdict is never tradeable", c.name);
}

fn engine(env: &EvmEnv) -> EvmRiskEngine {
    let cfg = chain_config(env);
    // A deterministic search: bounded by its simulation count, not by a clock that a loaded
    // machine (or a debug build) would hit first.
    let policy = keeper::risk::RiskPolicy { sandbox_budget_ms: 600_000, ..Default::default() };
    EvmRiskEngine::new(keeper::chains::evm::http_provider(&env.http_url()).unwrap(), &cfg, policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scorer_classifies_the_launch_state_zoo() {
    let env = EvmEnv::start().await;
    let engine = engine(&env);
    let clean = Launch::clean;
    use Expect::*;
    let cases = vec![
        case("standard", clean(TokenKind::Standard), &[], Clean),
        case(
            "tax5",
            clean(TokenKind::Tax { buy_bps: 500, sell_bps: 500 }),
            &["buy_tax", "sell_tax", "privileged_fee_switch"],
            Critical,
        ),
        case("tax50", clean(TokenKind::Tax { buy_bps: 5_000, sell_bps: 5_000 }), &["sell_tax"], Critical),
        case("honeypot", clean(TokenKind::Honeypot), &["sell_reverts"], Critical),
        case("tinysell", clean(TokenKind::TinySell), &["tiny_sells_only"], Critical),
        case("maxtx", clean(TokenKind::MaxTx), &["max_transaction"], Critical),
        case("blacklist", clean(TokenKind::Blacklist), &["privileged_sell_block"], Critical),
        case("mintable", clean(TokenKind::Mintable), &["privileged_mint"], Critical),
        case("pausable", clean(TokenKind::Pausable), &["privileged_sell_block"], Critical),
        case("proxy", clean(TokenKind::Proxy), &["upgradeable_proxy", "privileged_sell_block"], Critical),
        case("lpkept", Launch { burn_lp: false, ..clean(TokenKind::Standard) }, &["lp_not_burned"], NotCritical),
        case(
            "whale",
            Launch { distribute: false, ..clean(TokenKind::Standard) },
            &["holder_concentration"],
            NotCritical,
        ),
        case(
            "thin",
            Launch { eth: e18(1) / U256::from(10u8), ..clean(TokenKind::Standard) },
            &["thin_liquidity"],
            NotCritical,
        ),
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let a = score(&env, &engine, c).await;
        check(c, &a, &mut failures);
        let measured = |check: &str| a.findings.iter().find(|f| f.check == check).map(|f| f.measured.clone());
        match c.name {
            "tax5" => {
                let buy = measured("buy_tax").unwrap()["bps"].as_u64().unwrap();
                let sell = measured("sell_tax").unwrap()["bps"].as_u64().unwrap();
                assert!((495..=505).contains(&buy) && (495..=520).contains(&sell), "buy {buy} sell {sell}");
            }
            "standard" => {
                assert_eq!(a.score, 0, "{}", a.summary);
                assert_eq!(measured("buy_tax").unwrap()["bps"], 0);
                assert_eq!(measured("sell_tax").unwrap()["bps"], 0);
                assert_eq!(measured("transfer_tax").unwrap()["bps"], 0);
                assert!(measured("lp_not_burned").unwrap()["burned_bps"].as_u64().unwrap() >= 9_999);
            }
            "honeypot" => {
                assert_eq!(measured("sell_reverts").unwrap()["error"], "TransferHelper: TRANSFER_FROM_FAILED");
            }
            _ => {}
        }
    }
    assert!(failures.is_empty(), "misclassified:\n{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scorer_finds_every_latent_scam_by_behaviour_and_spares_the_legitimate_controls() {
    let env = EvmEnv::start().await;
    let engine = engine(&env);
    use Expect::*;
    let cases = vec![
        // 1. renamed mint
        case("farm", zoo("FarmToken"), &["privileged_mint"], Critical),
        case("liqmint", zoo("LiquidityMintToken"), &["privileged_mint"], Critical),
        // 2. renamed blacklist (one in an external helper)
        case("claim", zoo("ClaimToken"), &["privileged_sell_block"], Critical),
        case("girl", zoo("GirlToken"), &["privileged_sell_block", "external_calls"], Critical),
        // 3. post-launch fee switch (one in assembly)
        case("rewards", zoo("RewardsToken"), &["privileged_fee_switch"], Critical),
        case("configure", zoo("ConfigureToken"), &["privileged_fee_switch"], Critical),
        // 4. hidden-role cooldown, owner renounced
        case("tune", renounced("TuneToken"), &["privileged_sell_block", "hidden_roles"], Critical),
        case("rebalance", renounced("RebalanceToken"), &["privileged_sell_block", "hidden_roles"], Critical),
        // 5. tx.origin backdoor
        case("airdrop", zoo("AirdropToken"), &["privileged_balance_taken", "origin_check"], Critical),
        case("multicall", zoo("MulticallToken"), &["privileged_balance_taken", "origin_check"], Critical),
        // 6. external balance oracle
        case("oracle", zoo("OracleToken"), &["external_calls", "privileged_sell_block"], Critical),
        case("pricing", zoo("PricingToken"), &["external_calls", "privileged_sell_block"], Critical),
        // 7. a central account that moves anyone's tokens (one kept in storage, owner renounced)
        case("rescue", renounced("RescueToken"), &["privileged_balance_taken", "hidden_roles"], Critical),
        case("execute", zoo("ExecuteToken"), &["privileged_balance_taken"], Critical),
        case("sweep", renounced("SweepToken"), &["privileged_balance_taken", "hidden_roles"], Critical),
        // 8. custom-slot proxy whose logic is swapped
        case("setup", zoo("SetupProxy"), &["custom_proxy", "privileged_sell_block"], Critical),
        case("migrate", zoo("MigrateProxy"), &["custom_proxy", "privileged_sell_block"], Critical),
        // 9. transfers from contracts silently skipped (one armed later)
        case("quiet", zoo("QuietToken"), &["sell_reverts"], Critical),
        case("silent", zoo("SilentToken"), &["privileged_sell_block"], Critical),
        // 10. EOA-only trap (one armed later)
        case("wallettrap", zoo("WalletTrapToken"), &["sell_reverts"], Critical),
        case("humantrap", zoo("HumanTrapToken"), &["privileged_sell_block"], Critical),
        // 11. fee-math mint
        case("marketing", zoo("MarketingToken"), &["balance_inflation"], Critical),
        case("dividend", zoo("DividendToken"), &["balance_inflation"], Critical),
        // Legitimate controls.
        case("cappedmint", zoo("CappedMintToken"), &[], NotCritical),
        case("reflection", renounced("ReflectionToken"), &["sell_tax"], NotCritical),
        case("stable", zoo("CentralStable"), &["privileged_sell_block"], NotCritical),
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let a = score(&env, &engine, c).await;
        check(c, &a, &mut failures);
        // A privileged finding names the selector, the caller and the effect in plain words.
        for f in a.findings.iter().filter(|f| f.check.starts_with("privileged_")) {
            assert!(f.explanation.contains(f.measured["selector"].as_str().unwrap()), "{}", f.explanation);
            assert!(f.measured["caller"].as_str().unwrap().starts_with("0x"));
        }
        match c.name {
            "cappedmint" => assert!(a.tradeable && a.score < 20, "a capped, time-locked mint is no rug: {}", a.summary),
            "stable" => {
                let blocks: Vec<_> = a.findings.iter().filter(|f| f.check == "privileged_sell_block").collect();
                assert!(blocks.iter().all(|f| f.severity == Severity::High), "bounded powers are high: {}", a.summary);
                assert!(blocks.len() >= 2, "both the blacklist and the pause are found: {}", a.summary);
            }
            _ => {}
        }
    }
    assert!(failures.is_empty(), "misclassified:\n{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stablecoin_quoted_pair_is_scored_and_traded_on_the_token_side() {
    let env = EvmEnv::start().await;
    let engine = engine(&env);
    let usd = env.deploy_token(TokenKind::Zoo("CentralStable"), "usd", e18(10_000_000)).await;
    let quotes = [env.weth, usd];
    for (name, kind, expect) in [
        ("stabletok", TokenKind::Standard, Expect::NotCritical),
        ("stablehp", TokenKind::Zoo("QuietToken"), Expect::Critical),
    ] {
        let token = env.deploy_token(kind, name, e18(1_000_000)).await;
        let l = env.pair_with(token, usd, e18(500_000), e18(100_000)).await;
        // Discovery scores the side that is not a quote, whichever order the pair sorts them in.
        let (t0, t1) = if token < usd { (token, usd) } else { (usd, token) };
        assert_eq!(keeper::sources::evm_discovery::base_token(&quotes, t0, t1), token);
        let pool = PoolRef { pool: l.pair, base_token: token, created_block: l.block, created_tx: Some(l.tx) };
        let (facts, _, _) = engine.measure(&pool).await.expect("measure");
        assert_eq!(facts.quote, usd, "the stablecoin is the quote");
        let a = keeper::risk::rules::evm::assess(&facts, &Default::default());
        let c = Case { name, launch: Launch::clean(kind), must: &[], expect };
        let mut failures = Vec::new();
        check(&c, &a, &mut failures);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        let small = facts.small.expect("the round trip ran through the stablecoin");
        // 0.5% of the pool's 100,000 USD.
        assert_eq!(small.eth_in, e18(500));
        if name == "stabletok" {
            assert!(small.buy_ok && !small.bought.is_zero(), "bought with the stablecoin: {small:?}");
            assert!(small.sell_ok && small.eth_back > U256::ZERO, "sold back for the stablecoin: {small:?}");
            assert!(a.findings.iter().any(|f| f.check == "quote_reserve"), "{}", a.summary);
            // Only the launch's shape is flagged (the deployer kept the LP, the rest of the supply
            // and the ownership): no tax, no failed sell, no privileged effect.
            assert_eq!(
                a.tripped(),
                vec!["holder_concentration", "lp_not_burned", "owner_not_renounced"],
                "{}",
                a.summary
            );
        }
    }
}

/// LP tokens are judged by who holds them, from the pair's `Transfer` logs, not by whether the
/// pool's creator still does: moved to a vault of the deployer's own (a contract that stores the
/// deployer) they can still be pulled; in a configured locker they cannot; with a wallet we cannot
/// link to the deployer, they are a medium risk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lp_tokens_are_judged_by_who_holds_them() {
    use alloy::sol_types::SolCall;

    let env = EvmEnv::start().await;
    let vault = env.deploy("LpVault", Default::default()).await;
    let locker = env.deploy("LpLocker", Default::default()).await;
    let mut cfg = chain_config(&env);
    cfg.lp_lockers = vec![locker];
    let policy = keeper::risk::RiskPolicy { sandbox_budget_ms: 600_000, ..Default::default() };
    let engine = EvmRiskEngine::new(keeper::chains::evm::http_provider(&env.http_url()).unwrap(), &cfg, policy);
    let stranger = alloy::primitives::Address::repeat_byte(0x5a);
    for (name, to, class, severity, unlinked) in [
        ("vaulted", vault, "deployer_contract", Severity::High, false),
        ("locked", locker, "locked", Severity::Info, false),
        ("handed", stranger, "other", Severity::Info, true),
    ] {
        let l = env.launch(name, &Launch { burn_lp: false, ..Launch::clean(TokenKind::Standard) }).await;
        let lp = ILp::new(l.pair, &env.provider).balanceOf(env.deployer).call().await.unwrap();
        env.call(l.pair, ILp::transferCall { to, value: lp }.abi_encode(), U256::ZERO).await;
        let pool = PoolRef { pool: l.pair, base_token: l.token, created_block: l.block, created_tx: Some(l.tx) };
        let (facts, _, _) = engine.measure(&pool).await.expect("measure");
        let a = keeper::risk::rules::evm::assess(&facts, &Default::default());
        let f = a.findings.iter().find(|f| f.check == "lp_not_burned").expect("an LP finding");
        assert_eq!(f.severity, severity, "{name}: {}", a.summary);
        let holders = f.measured["holders"].as_array().unwrap();
        assert_eq!(holders.len(), 1, "{name}: {holders:?}");
        assert_eq!(holders[0]["address"], to.to_string());
        assert_eq!(holders[0]["class"], class, "{name}");
        assert_eq!(a.tripped().contains(&"lp_unlinked_holders"), unlinked, "{name}: {}", a.summary);
    }
}

alloy::sol! {
    #[sol(rpc)]
    interface ILp {
        function balanceOf(address who) external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
        function approve(address spender, uint256 value) external returns (bool);
    }
}

/// A report's watch (what it rests on) tells when the token must be scored again: nothing
/// changed; the deployer sent a transaction; liquidity was added; LP tokens moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reports_watch_sees_the_deployers_transactions_added_liquidity_and_moved_lp() {
    use alloy::sol_types::SolCall;

    let env = EvmEnv::start().await;
    let engine = engine(&env);
    let l = env
        .launch("watched", &Launch { burn_lp: false, distribute: false, ..Launch::clean(TokenKind::Standard) })
        .await;
    let pool = PoolRef { pool: l.pair, base_token: l.token, created_block: l.block, created_tx: Some(l.tx) };
    let watch = || async { engine.measure(&pool).await.expect("measure").2.watch };
    let changed = |w: keeper::chains::evm::probe::Watch| {
        let engine = &engine;
        async move { engine.changed_since(l.pair, &w).await.expect("read the watch") }
    };

    let w = watch().await;
    assert!(w.nonces.iter().any(|(a, _)| *a == env.deployer), "the deployer is watched: {w:?}");
    assert_eq!(changed(w.clone()).await, None, "nothing changed");
    env.call(l.token, ILp::approveCall { spender: env.router, value: U256::MAX }.abi_encode(), U256::ZERO).await;
    let what = changed(w).await.expect("the deployer's transaction");
    assert!(what.contains("sent a transaction"), "{what}");

    let w = watch().await;
    env.send(env.add_liquidity_tx(l.token)).await;
    let what = changed(w).await.expect("liquidity added");
    assert!(what.contains("liquidity was added"), "{what}");

    let w = watch().await;
    let lp = ILp::new(l.pair, &env.provider).balanceOf(env.deployer).call().await.unwrap();
    let stranger = alloy::primitives::Address::repeat_byte(0x5b);
    env.call(l.pair, ILp::transferCall { to: stranger, value: lp / U256::from(2u8) }.abi_encode(), U256::ZERO).await;
    let what = changed(w).await.expect("LP moved");
    assert!(what.contains("LP tokens moved"), "{what}");
}

alloy::sol! {
    interface ISweep {
        function sweep(address from, uint256 value) external;
    }
}

/// A caller only the privilege search finds (an address kept in the token's storage, which
/// never touched the token) is watched like the deployer: its first transaction to the token
/// makes the report due again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_found_only_by_the_search_is_watched() {
    use alloy::{
        providers::{ext::AnvilApi, Provider},
        sol_types::SolCall,
    };

    let env = EvmEnv::start().await;
    let engine = engine(&env);
    let l = env.launch("sweep", &Launch { renounce: true, ..Launch::clean(TokenKind::Zoo("SweepToken")) }).await;
    let slot = env.provider.get_storage_at(l.token, U256::from(6u8)).await.unwrap();
    let sweeper = alloy::primitives::Address::from_word(slot.into());
    assert!(![env.deployer, l.token, l.pair].contains(&sweeper));
    let pool = PoolRef { pool: l.pair, base_token: l.token, created_block: l.block, created_tx: Some(l.tx) };
    let (facts, _, meta) = engine.measure(&pool).await.expect("measure");
    assert!(
        facts.behaviour.callers.iter().any(|(_, a)| *a == sweeper),
        "the search found it: {:?}",
        facts.behaviour.callers
    );
    let w = meta.watch;
    assert!(w.nonces.iter().any(|(a, _)| *a == sweeper), "the sweeper is watched: {w:?}");
    assert_eq!(engine.changed_since(l.pair, &w).await.unwrap(), None, "nothing changed");

    // The sweeper acts (anvil lets the test send as it): the report is due again.
    env.provider.anvil_impersonate_account(sweeper).await.unwrap();
    env.provider.anvil_set_balance(sweeper, e18(1)).await.unwrap();
    let data = ISweep::sweepCall { from: l.pair, value: U256::from(1u8) }.abi_encode();
    let tx = serde_json::json!({ "from": sweeper, "to": l.token, "gas": "0x30000", "data": alloy::primitives::Bytes::from(data) });
    let hash: alloy::primitives::B256 = env.provider.raw_request("eth_sendTransaction".into(), (tx,)).await.unwrap();
    let receipt = test_utils::wait_for("the sweeper's transaction mined", || async {
        env.provider.get_transaction_receipt(hash).await.unwrap()
    })
    .await;
    assert!(receipt.status());
    let what = engine.changed_since(l.pair, &w).await.unwrap().expect("the sweeper's transaction");
    assert!(what.contains("sent a transaction"), "{what}");
}
