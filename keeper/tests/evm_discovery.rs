//! EVM discovery on a real anvil with real Uniswap V2: backfill through a provider that refuses
//! wide `eth_getLogs` ranges, live `PairCreated` over the websocket with a risk report each,
//! resume after a restart without duplicates, and a reorg unwound from the mirror.

#[path = "common/keeper.rs"]
mod keeper_run;

use std::time::Duration;

use alloy::{
    primitives::{keccak256, Address, U256},
    providers::{ext::AnvilApi, Provider},
};
use keeper::{
    app::{App, Secrets},
    config::Config,
    risk::worker::Recovery,
};
use keeper_run::Running;
use localnet::evm::{EvmEnv, Launch, TokenKind};
use sqlx::SqlitePool;
use test_utils::{wait_for, RangeLimitedRpc};

/// Discovery on `http_url` (a proxy, or anvil itself) with the risk stage, no trading.
fn config(env: &EvmEnv, http_url: &str, dir: &std::path::Path) -> Config {
    let path = dir.join("keeper.toml");
    let toml = format!(
        "[database]\npath = \"{}\"\n[solana]\nenabled = false\n{}max_log_range = 64\n",
        dir.join("keeper.db").display(),
        env.keeper_toml("local").replace(&env.http_url(), http_url)
    );
    std::fs::write(&path, toml).unwrap();
    Config::load(Some(&path), Vec::new()).expect("config")
}

fn fresh(i: u64) -> Address {
    Address::from_word(keccak256(i.to_be_bytes()))
}

async fn count(db: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

const ONE_HOUR: Duration = Duration::from_secs(3600);

/// Discovery + risk worker, as `keeper run` builds them; empty pairs are scored again
/// `rescore_empty_after` after their last report, and reports' watches are checked every
/// `watch_every` (both long where a test counts reports).
async fn start(config: &Config, db: &SqlitePool, rescore_empty_after: Duration, watch_every: Duration) -> Running {
    let recovery =
        Recovery { rescore_empty_after, rescore_every: Duration::from_millis(200), watch_every, ..Recovery::default() };
    let builder = App::builder(config, Secrets::default())
        .database(db.clone())
        .evm_poll_interval(Duration::from_millis(200))
        .recovery(recovery);
    let k = keeper_run::start(builder).await;
    keeper_run::following(db, "evm:local").await;
    k
}

/// A fresh anvil and a keeper on it that re-scores pairs not tradeable yet every 300 ms.
async fn rescoring_keeper() -> (EvmEnv, tempfile::TempDir, SqlitePool, Running) {
    let env = EvmEnv::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = mirror::open_writer(&dir.path().join("keeper.db"), Duration::from_secs(5)).await.unwrap();
    mirror::migrate(&db).await.unwrap();
    let cfg = config(&env, &env.http_url(), dir.path());
    let keeper = start(&cfg, &db, Duration::from_millis(300), Duration::from_millis(300)).await;
    (env, dir, db, keeper)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_live_restart_and_reorg() {
    let env = EvmEnv::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = mirror::open_writer(&dir.path().join("keeper.db"), Duration::from_secs(5)).await.unwrap();
    mirror::migrate(&db).await.unwrap();

    // History before the keeper starts: a real launch and three bare pairs, spread over ~40 blocks.
    let early = env.launch("early", &Launch::clean(TokenKind::Standard)).await;
    for i in 0..3 {
        env.create_pair(fresh(i), fresh(100 + i)).await;
        env.provider.anvil_mine(Some(12), None).await.unwrap();
    }
    // The provider refuses eth_getLogs over more than 5 blocks; the keeper asks for 64 at first.
    let proxy = RangeLimitedRpc::start(env.http_url(), 5).await;
    let cfg = config(&env, &proxy.url, dir.path());
    let keeper = start(&cfg, &db, ONE_HOUR, ONE_HOUR).await;

    wait_for("the backfilled pools and their reports", || async {
        (count(&db, "SELECT count(*) FROM pools p JOIN risk_reports r ON r.pool_id = p.id").await == 4).then_some(())
    })
    .await;
    assert!(
        proxy.refused.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "wide ranges were refused and retried smaller"
    );
    let early_addr = format!("{:#x}", early.pair);
    let (block, venue, hash, reserve_a): (i64, String, String, String) =
        sqlx::query_as("SELECT created_slot, venue, created_block_hash, reserve_a FROM pools WHERE address = ?")
            .bind(&early_addr)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(block as u64, early.block);
    assert_eq!(venue, "uniswap_v2");
    let canonical = env.provider.get_block_by_number(early.block.into()).await.unwrap().unwrap().header.hash;
    assert_eq!(hash, canonical.to_string());
    assert_ne!(reserve_a, "0", "initial reserves are mirrored");
    let creator: Option<String> = sqlx::query_scalar("SELECT creator FROM pools WHERE address = ?")
        .bind(&early_addr)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(creator, Some(format!("{:#x}", env.deployer)));
    let symbol: Option<String> = sqlx::query_scalar("SELECT symbol FROM tokens WHERE address = ?")
        .bind(format!("{:#x}", early.token))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(symbol.as_deref(), Some("EARLY"));
    let verdict: String =
        sqlx::query_scalar("SELECT verdict FROM risk_reports r JOIN pools p ON p.id = r.pool_id WHERE p.address = ?")
            .bind(&early_addr)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(verdict, "low", "the clean launch scores low");

    // Live: a honeypot launch arrives over the websocket and is scored critical.
    let honey = env.launch("honey", &Launch::clean(TokenKind::Honeypot)).await;
    let honey_addr = format!("{:#x}", honey.pair);
    let (score, tradeable): (i64, bool) = wait_for("the live honeypot's report", || async {
        sqlx::query_as("SELECT score, tradeable FROM risk_reports WHERE pool_address = ?")
            .bind(&honey_addr)
            .fetch_optional(&db)
            .await
            .unwrap()
    })
    .await;
    assert_eq!((score, tradeable), (100, false));

    // Restart: pairs created while the keeper is down are backfilled; nothing is doubled.
    keeper.stop().await;
    env.create_pair(fresh(7), fresh(8)).await;
    let keeper = start(&cfg, &db, ONE_HOUR, ONE_HOUR).await;
    wait_for("the pair created while down, and its report", || async {
        (count(&db, "SELECT count(DISTINCT pool_id) FROM risk_reports").await == 6).then_some(())
    })
    .await;
    assert_eq!(count(&db, "SELECT count(*) FROM pools").await, 6);
    assert_eq!(
        count(&db, "SELECT count(DISTINCT pool_id) FROM risk_reports").await,
        count(&db, "SELECT count(*) FROM risk_reports").await
    );

    // Reorg: a pair is created, mirrored and scored, then its block is replaced.
    let snapshot = env.provider.anvil_snapshot().await.unwrap();
    let receipt = env.create_pair(fresh(20), fresh(21)).await;
    let orphan_block = receipt.block_number.unwrap();
    wait_for("the soon-orphaned pair and its report", || async {
        (count(&db, "SELECT count(*) FROM pools p JOIN risk_reports r ON r.pool_id = p.id").await == 7).then_some(())
    })
    .await;
    assert!(env.provider.anvil_revert(snapshot).await.unwrap());
    env.provider.anvil_mine(Some(3), None).await.unwrap();
    wait_for("the reorged pair to be unwound", || async {
        (count(&db, "SELECT count(*) FROM pools").await == 6).then_some(())
    })
    .await;
    assert_eq!(count(&db, "SELECT count(*) FROM risk_reports").await, 6, "its report went with it");
    // The checkpoint moves on along the new chain, with the new hash at the orphaned height.
    let head = env.provider.get_block_number().await.unwrap();
    let new_hash = env.provider.get_block_by_number(orphan_block.into()).await.unwrap().unwrap().header.hash;
    wait_for("the checkpoint at the new head", || async {
        let cp: Option<(i64,)> = sqlx::query_as("SELECT slot FROM checkpoints WHERE source = 'evm:local'")
            .fetch_optional(&db)
            .await
            .unwrap();
        (cp.map(|c| c.0 as u64) == Some(head)).then_some(())
    })
    .await;
    let stored: Option<String> = sqlx::query_scalar("SELECT hash FROM evm_blocks WHERE chain = 'local' AND number = ?")
        .bind(orphan_block as i64)
        .fetch_optional(&db)
        .await
        .unwrap();
    if let Some(stored) = stored {
        assert_eq!(stored, new_hash.to_string());
    }
    // A pair created on the new chain is found as usual.
    env.create_pair(fresh(30), fresh(31)).await;
    wait_for("a pair after the reorg", || async {
        (count(&db, "SELECT count(*) FROM pools").await == 7).then_some(())
    })
    .await;
    keeper.stop().await;
}

/// A common launch pattern: the pair is created empty, liquidity comes in a later transaction.
/// The first report (nothing to buy) is not the last word: the pool is scored again once funded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_created_empty_is_scored_again_once_funded() {
    let (env, _dir, db, keeper) = rescoring_keeper().await;

    let token = env.deploy_token(TokenKind::Standard, "late", localnet::evm::e18(1_000_000)).await;
    env.create_pair(token, env.weth).await;
    let pair = format!("{:#x}", env.pair_for(token));
    let first: (bool, String) = wait_for("the empty pair's report", || async {
        sqlx::query_as("SELECT tradeable, findings FROM risk_reports WHERE pool_address = ? ORDER BY id LIMIT 1")
            .bind(&pair)
            .fetch_optional(&db)
            .await
            .unwrap()
    })
    .await;
    assert!(!first.0 && first.1.contains("buy_reverts"), "nothing can be bought from an empty pair: {}", first.1);

    env.fund(token, &Launch::clean(TokenKind::Standard)).await;
    wait_for("a tradeable report after funding", || async {
        let t: Option<bool> = sqlx::query_scalar(
            "SELECT tradeable FROM risk_reports WHERE pool_address = ? AND tradeable = 1 ORDER BY id DESC LIMIT 1",
        )
        .bind(&pair)
        .fetch_optional(&db)
        .await
        .unwrap();
        t
    })
    .await;
    let reserves: (String, String) = sqlx::query_as("SELECT reserve_a, reserve_b FROM pools WHERE address = ?")
        .bind(&pair)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(reserves.0 != "0" && reserves.1 != "0", "the funded reserves are mirrored: {reserves:?}");
    // Funded pools leave the re-scoring set: what the worker reads to re-score no longer
    // has it, however long it waits.
    let due = mirror::risk::empty_and_due(&db, "local", 0, 3_600_000, 1_000).await.unwrap();
    assert!(due.iter().all(|p| p.address != pair), "a funded pair is not scored again");
    keeper.stop().await;
}

alloy::sol! {
    interface IGated {
        function enableTrading() external;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_opens_trading_after_its_liquidity_is_scored_again_when_it_opens() {
    use alloy::sol_types::SolCall;

    let (env, _dir, db, keeper) = rescoring_keeper().await;

    let l = env.launch("gated", &Launch::clean(TokenKind::Zoo("GatedToken"))).await;
    let token = format!("{:#x}", l.token);
    let has = |r: &keeper::pipeline::RiskReport, check: &str| r.assessment.findings.iter().any(|f| f.check == check);
    wait_for("a first report: liquidity is in, but buying reverts", || async {
        keeper.reports.lock().unwrap().iter().any(|r| r.token == token && has(r, "buy_reverts")).then_some(())
    })
    .await;
    assert!(!keeper.report(&token).unwrap().assessment.tradeable);

    // The owner opens trading a few blocks later.
    env.provider.anvil_mine(Some(3), None).await.unwrap();
    env.call(l.token, IGated::enableTradingCall {}.abi_encode(), alloy::primitives::U256::ZERO).await;
    let opened = wait_for("a new report once trading is open", || async {
        keeper.reports.lock().unwrap().iter().rev().find(|r| r.token == token && !has(r, "buy_reverts")).cloned()
    })
    .await;
    assert!(opened.assessment.tradeable, "{}", opened.assessment.summary);
    assert!(has(&opened, "sell_tax"), "the round trip ran: {}", opened.assessment.summary);
    // Every report is kept in the history.
    let kept = count(&db, "SELECT count(*) FROM risk_reports").await;
    assert!(kept >= 2, "{kept} reports");
    keeper.stop().await;
}

/// A funded, tradeable token whose report rests on state that changes is scored again when it
/// changes: here its deployer adds liquidity some blocks after the launch. The new report is
/// kept beside the earlier ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_scored_again_when_liquidity_is_added_later() {
    let (env, _dir, db, keeper) = rescoring_keeper().await;
    let l = env.launch("later", &Launch { distribute: false, ..Launch::clean(TokenKind::Standard) }).await;
    let token = format!("{:#x}", l.token);
    let latest_measured = |sql: &'static str| {
        let (db, token) = (db.clone(), token.clone());
        async move { sqlx::query_scalar::<_, Option<i64>>(sql).bind(token).fetch_one(&db).await.unwrap().unwrap_or(-1) }
    };
    const MEASURED: &str = "SELECT max(measured_slot) FROM risk_reports WHERE token = ?";
    // A report of the state after the whole launch (its LP burn and renunciation are later
    // transactions of the deployer, which make earlier reports due again).
    let launched = i64::try_from(env.provider.get_block_number().await.unwrap()).unwrap();
    wait_for("a report of the launched state", || async {
        (latest_measured(MEASURED).await >= launched).then_some(())
    })
    .await;
    let added = env.send(env.add_liquidity_tx(l.token)).await;
    let added = i64::try_from(added.block_number.unwrap()).unwrap();
    wait_for("a report of the state after the liquidity was added", || async {
        (latest_measured(MEASURED).await >= added).then_some(())
    })
    .await;
    let kept = count(&db, &format!("SELECT count(*) FROM risk_reports WHERE token = '{token}'")).await;
    assert!(kept >= 2, "every report is kept: {kept}");
    keeper.stop().await;
}

/// The reserve changes of a young V2 pair are mirrored as pool events in the discovery's own
/// ranges: the launch's liquidity (`Sync` + `Mint`), a buy and a sell (`Sync` + `Swap`, with
/// the amounts in and out), each with the pair's reserves after it, and the pool's current
/// reserves follow. A reorg takes a reorged block's events out with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_young_pairs_reserve_changes_are_mirrored_and_a_reorg_unwinds_them() {
    use localnet::evm::e18;

    let env = EvmEnv::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = mirror::open_writer(&dir.path().join("keeper.db"), Duration::from_secs(5)).await.unwrap();
    mirror::migrate(&db).await.unwrap();
    let cfg = config(&env, &env.http_url(), dir.path());
    let keeper = start(&cfg, &db, ONE_HOUR, ONE_HOUR).await;
    let l = env.launch("tracked", &Launch::clean(TokenKind::Standard)).await;
    env.trader_buy(l.token, e18(1)).await;
    let pair = format!("{:#x}", l.pair);
    type Ev = (String, Option<bool>, Option<String>, Option<String>, String, String);
    let events = |n: usize| {
        let (db, pair) = (db.clone(), pair.clone());
        async move {
            wait_for(&format!("{n} reserve changes of the pair"), || async {
                let rows: Vec<Ev> = sqlx::query_as(
                    "SELECT kind, a_to_b, amount_in, amount_out, reserve_a_after, reserve_b_after FROM pool_events
                     WHERE chain = 'local' AND pool_address = ? ORDER BY slot, ix_index",
                )
                .bind(&pair)
                .fetch_all(&db)
                .await
                .unwrap();
                (rows.len() == n).then_some(rows)
            })
            .await
        }
    };
    let rows = events(2).await;
    assert_eq!(rows[0].0, "liquidity_added", "{rows:?}");
    assert_eq!(rows[1].0, "swap", "{rows:?}");
    // The buy paid 1 ETH of WETH into the pair: WETH is token0 when its address is lower.
    let weth_is_0 = env.weth < l.token;
    assert_eq!(rows[1].1, Some(weth_is_0), "{rows:?}");
    assert_eq!(rows[1].2.as_deref(), Some(e18(1).to_string().as_str()));
    let reserves = |rows: &[Ev]| rows.last().map(|r| (r.4.clone(), r.5.clone())).unwrap();
    let on_chain = || async {
        let r =
            keeper::chains::evm::abi::IUniswapV2Pair::new(l.pair, &env.provider).getReserves().call().await.unwrap();
        (r.reserve0.to_string(), r.reserve1.to_string())
    };
    assert_eq!(reserves(&rows), on_chain().await);
    wait_for("the pool's reserves", || async {
        let r: (String, String) = sqlx::query_as("SELECT reserve_a, reserve_b FROM pools WHERE address = ?")
            .bind(&pair)
            .fetch_one(&db)
            .await
            .unwrap();
        (r == reserves(&rows)).then_some(())
    })
    .await;

    // A sell in a block that is then reorged out: its event goes, the chain's next one comes.
    let snapshot = env.provider.anvil_snapshot().await.unwrap();
    env.trader_sell(l.token, U256::from(1_000_000u64)).await;
    let rows = events(3).await;
    assert_eq!((rows[2].0.as_str(), rows[2].1), ("swap", Some(!weth_is_0)), "{rows:?}");
    assert!(env.provider.anvil_revert(snapshot).await.unwrap());
    env.provider.anvil_mine(Some(3), None).await.unwrap();
    events(2).await;
    env.trader_buy(l.token, e18(2)).await;
    let rows = events(3).await;
    assert_eq!(rows[2].2.as_deref(), Some(e18(2).to_string().as_str()));
    assert_eq!(reserves(&rows), on_chain().await);
    keeper.stop().await;
}
