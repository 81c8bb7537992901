//! The risk scorer against the whole test-token zoo on a real anvil with real Uniswap V2: every
//! check has a token that trips it and one (the clean standard token) that does not.

use alloy::primitives::U256;
use keeper::{
    chains::evm::probe::{EvmRiskEngine, PoolRef},
    config::{Config, EvmChainConfig},
    risk::Verdict,
};
use localnet::evm::{e18, EvmEnv, Launch, TokenKind};

fn chain_config(env: &EvmEnv) -> EvmChainConfig {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeper.toml");
    std::fs::write(&path, env.keeper_toml("local")).unwrap();
    let config = Config::load(Some(&path), Vec::new()).expect("config");
    config.evm["local"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scorer_classifies_the_whole_token_zoo() {
    let env = EvmEnv::start().await;
    let cfg = chain_config(&env);
    let engine =
        EvmRiskEngine::new(keeper::chains::evm::http_provider(&env.http_url()).unwrap(), &cfg, Default::default());

    let clean = Launch::clean;
    let zoo: Vec<(&str, Launch, Vec<&str>)> = vec![
        ("standard", clean(TokenKind::Standard), vec![]),
        (
            "tax5",
            clean(TokenKind::Tax { buy_bps: 500, sell_bps: 500 }),
            vec!["buy_tax", "fee_setter", "owner_not_renounced", "sell_tax"],
        ),
        (
            "tax50",
            clean(TokenKind::Tax { buy_bps: 5_000, sell_bps: 5_000 }),
            vec!["buy_tax", "fee_setter", "owner_not_renounced", "sell_tax"],
        ),
        ("honeypot", clean(TokenKind::Honeypot), vec!["owner_not_renounced", "sell_reverts"]),
        ("tinysell", clean(TokenKind::TinySell), vec!["owner_not_renounced", "tiny_sells_only"]),
        ("maxtx", clean(TokenKind::MaxTx), vec!["limit_setter", "max_transaction", "owner_not_renounced"]),
        ("blacklist", clean(TokenKind::Blacklist), vec!["blacklist_function", "owner_not_renounced"]),
        ("mintable", clean(TokenKind::Mintable), vec!["mint_function", "owner_not_renounced"]),
        ("pausable", clean(TokenKind::Pausable), vec!["owner_not_renounced", "pause_function"]),
        ("proxy", clean(TokenKind::Proxy), vec!["owner_not_renounced", "upgradeable_proxy"]),
        ("lpkept", Launch { burn_lp: false, ..clean(TokenKind::Standard) }, vec!["lp_not_burned"]),
        ("whale", Launch { distribute: false, ..clean(TokenKind::Standard) }, vec!["holder_concentration"]),
        ("thin", Launch { eth: e18(1) / U256::from(10u8), ..clean(TokenKind::Standard) }, vec!["thin_liquidity"]),
    ];

    let mut failures = Vec::new();
    for (name, launch, expected) in &zoo {
        let l = env.launch(name, launch).await;
        let pool = PoolRef { pool: l.pair, base_token: l.token, created_block: l.block, created_tx: Some(l.tx) };
        let (facts, _, meta) = engine.measure(&pool).await.expect("measure");
        let a = keeper::risk::rules::evm::assess(&facts, &Default::default());
        println!("{name:>9}: score {:>3} {:?} tradeable={} tripped={:?}", a.score, a.verdict, a.tradeable, a.tripped());
        if a.tripped() != *expected {
            failures.push(format!("{name}: expected {expected:?}, got {:?}\n{}", a.tripped(), a.summary));
        }
        assert_eq!(meta.symbol.as_deref(), Some(name.to_uppercase().as_str()), "metadata read");
        assert_eq!(meta.total_supply, launch.supply);
        // The verdicts a user relies on.
        match *name {
            "standard" => assert!(a.tradeable && a.score == 0 && a.verdict == Verdict::Low),
            "honeypot" | "tinysell" | "tax50" => assert!(!a.tradeable && a.verdict == Verdict::Critical, "{name}"),
            _ => assert!(a.tradeable, "{name} is risky but not a certain loss: {}", a.summary),
        }
        // Raw measurements are reported with the finding.
        let measured = |check: &str| a.findings.iter().find(|f| f.check == check).map(|f| f.measured.clone());
        match *name {
            "tax5" => {
                let buy = measured("buy_tax").unwrap()["bps"].as_u64().unwrap();
                let sell = measured("sell_tax").unwrap()["bps"].as_u64().unwrap();
                assert!((495..=505).contains(&buy) && (495..=520).contains(&sell), "buy {buy} sell {sell}");
            }
            "tax50" => {
                let sell = measured("sell_tax").unwrap()["bps"].as_u64().unwrap();
                assert!((4_950..=5_050).contains(&sell), "sell {sell}");
            }
            "standard" => {
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
