//! Guarded execution on the Solana localnet (real SPL Token, our AMM): a live snipe through the
//! AMM's swap instruction whose first transaction never lands and whose blockhash then expires
//! (signed again, bought once), a freeze-authority token never bought, a take-profit exit when
//! another trader moves the price, and the same in dry-run with nothing sent.

#[path = "common/keeper.rs"]
mod keeper_run;
#[path = "common/reconcile.rs"]
mod reconcile;
#[path = "common/solana_world.rs"]
mod solana_world;

use std::{ops::Deref, time::Duration};

use amm::client::{self, PoolAddresses};
use anchor_spl::associated_token::get_associated_token_address;
use keeper_run::Running;
use localnet::sim::SolLaunch;
use solana_sdk::{pubkey::Pubkey, signature::Signer};
use solana_world::{SolWorld, MIN_QUOTE};
use sqlx::SqlitePool;
use test_utils::{wait_for, RangeLimitedRpc, SendFault};

/// The shared world, with the keeper's RPC behind a proxy that can swallow a transaction.
struct Net {
    world: SolWorld,
    proxy: RangeLimitedRpc,
}

impl Deref for Net {
    type Target = SolWorld;
    fn deref(&self) -> &SolWorld {
        &self.world
    }
}

impl Net {
    async fn start() -> Self {
        let world = SolWorld::start().await;
        let proxy = RangeLimitedRpc::start(world.net.url.clone(), u64::MAX).await;
        Self { world, proxy }
    }

    /// Another trader (the launcher) buys `token` with `quote` through our AMM.
    fn trader_buy(&self, token: &Pubkey, p: &PoolAddresses, quote: u64) {
        let mine = get_associated_token_address(&self.payer.pubkey(), token);
        let a_to_b = p.mint_a == self.quote_mint;
        let ix = client::swap_exact_in(p, self.payer.pubkey(), a_to_b, self.quote_ata, mine, quote, 0);
        self.launcher().send(&[ix], &[]).unwrap();
    }

    /// The keeper as `keeper run` builds it: indexer, risk worker and trader (+50% take-profit).
    async fn keeper(&self, live: bool) -> Running {
        let mut t = SolWorld::trading(live);
        t.take_profit_bps = 5_000;
        keeper_run::start(self.world.keeper(t, &self.proxy.url)).await
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Pos {
    id: i64,
    status: String,
    size: String,
    cost: String,
    proceeds: String,
    exit_reason: Option<String>,
}

async fn position(db: &SqlitePool, token: &Pubkey) -> Option<Pos> {
    sqlx::query_as(
        "SELECT id, status, size, cost, proceeds, exit_reason FROM positions WHERE token = ? ORDER BY id DESC",
    )
    .bind(token.to_string())
    .fetch_optional(db)
    .await
    .unwrap()
}

/// The reasons of a position's confirmed sales, in order.
async fn sold_for(db: &SqlitePool, position_id: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT reason FROM trades WHERE position_id = ? AND side = 'sell' AND status = 'confirmed' ORDER BY id",
    )
    .bind(position_id)
    .fetch_all(db)
    .await
    .unwrap()
}

async fn wait_status(db: &SqlitePool, token: &Pubkey, status: &str) -> Pos {
    wait_for(&format!("position {token} {status}"), || async {
        position(db, token).await.filter(|p| p.status == status)
    })
    .await
}

/// Waits for the trader's decision on the token; returns why it skipped (`None`: bought).
async fn wait_decided(db: &SqlitePool, token: &Pubkey) -> Option<String> {
    keeper_run::decision(db, "solana", &token.to_string()).await.reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_snipe_survives_an_expired_blockhash_and_exits_on_take_profit() {
    let n = Net::start().await;
    let k = n.keeper(true).await;

    // The first transaction never reaches the chain; its blockhash then expires. The keeper
    // signs again with a fresh blockhash: one buy.
    n.proxy.set_send_fault(SendFault::SwallowOnce);
    let (token, pool) = n.launch(SolLaunch::clean(10 * MIN_QUOTE));
    wait_for("buy sent", || async {
        let s: Option<String> = sqlx::query_scalar("SELECT status FROM trades WHERE token = ?")
            .bind(token.to_string())
            .fetch_optional(&n.db)
            .await
            .unwrap();
        (s.as_deref() == Some("sent")).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    n.net.chain().expire_blockhash();
    let pos = wait_status(&n.db, &token, "open").await;
    let (tx_ids, tx_id, amount_in): (String, Option<String>, String) =
        sqlx::query_as("SELECT tx_ids, tx_id, amount_in FROM trades WHERE position_id = ?")
            .bind(pos.id)
            .fetch_one(&n.db)
            .await
            .unwrap();
    let ids: Vec<String> = serde_json::from_str(&tx_ids).unwrap();
    assert_eq!(ids.len(), 2, "signed again after the blockhash expired: {ids:?}");
    assert_eq!(tx_id.as_deref(), Some(ids[1].as_str()));
    assert_eq!(amount_in, MIN_QUOTE.to_string());
    assert_eq!(n.balance(&token).to_string(), pos.size, "bought exactly once");
    assert_eq!(n.balance(&n.quote_mint), 999 * MIN_QUOTE);

    // A token whose mint can freeze holders' accounts is never bought.
    let (frozen, _) = n.launch(SolLaunch { freeze_authority: true, ..SolLaunch::clean(10 * MIN_QUOTE) });
    assert!(wait_decided(&n.db, &frozen).await.is_some(), "skipped");
    assert!(position(&n.db, &frozen).await.is_none());

    // Take-profit (+50%): another trader buys with the pool's whole quote reserve again.
    n.trader_buy(&token, &pool, 10 * MIN_QUOTE);
    let closed = wait_status(&n.db, &token, "closed").await;
    assert_eq!(closed.exit_reason.as_deref(), Some("take_profit"));
    assert!(closed.proceeds.parse::<u64>().unwrap() > closed.cost.parse::<u64>().unwrap());
    assert_eq!(n.balance(&token), 0);
    assert_eq!(
        n.balance(&n.quote_mint).to_string(),
        (999 * MIN_QUOTE + closed.proceeds.parse::<u64>().unwrap()).to_string()
    );
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_on_solana_sends_nothing() {
    let n = Net::start().await;
    let k = n.keeper(false).await;
    let mode = wait_for("the keeper says how it runs", || async { mirror::tasks::mode(&n.db).await.unwrap() }).await;
    assert_eq!((mode.trading, mode.mode.as_str()), (true, "dry_run"));
    let (token, pool) = n.launch(SolLaunch::clean(10 * MIN_QUOTE));
    let pos = wait_status(&n.db, &token, "open").await;
    assert!(pos.size.parse::<u64>().unwrap() > 0);
    n.trader_buy(&token, &pool, 10 * MIN_QUOTE);
    let closed = wait_status(&n.db, &token, "closed").await;
    assert_eq!(closed.exit_reason.as_deref(), Some("take_profit"));
    k.stop().await;
    assert_eq!(n.balance(&token), 0, "nothing bought on chain");
    assert_eq!(n.balance(&n.quote_mint), 1_000 * MIN_QUOTE, "nothing spent");
    let sigs = n.net.chain().signatures_for_address(&n.wallet.pubkey(), None, None, 100).len();
    assert_eq!(sigs, 1, "only the funding transaction touches the wallet");
}

/// The watchdog on Solana: a live position is valued every poll by `simulateTransaction` of our
/// real sell. When the pool's admin stops its swaps, the position is marked trapped with the
/// program's error, an exit is attempted at every smaller size (`exit_blocked`), and nothing is
/// sent. When swaps open again it recovers, and its exit rule sells it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_position_whose_sell_stops_simulating_is_trapped_then_recovers_and_is_sold() {
    let n = Net::start().await;
    let k = n.keeper(true).await;
    let (token, pool) = n.launch(SolLaunch::clean(10 * MIN_QUOTE));
    let pos = wait_status(&n.db, &token, "open").await;
    let held = n.balance(&token);
    assert_eq!(held.to_string(), pos.size);

    let status = |s: u8| client::set_pool_status(n.payer.pubkey(), &pool, s);
    n.launcher().send(&[status(amm::state::status::SWAP_DISABLED)], &[]).unwrap();
    let trapped = keeper_run::wait_position_event(&n.db, pos.id, "trapped").await;
    assert!(trapped.finding.contains("custom program error"), "names the simulated failure: {}", trapped.finding);
    let blocked = keeper_run::wait_position_event(&n.db, pos.id, "exit_blocked").await;
    let finding: serde_json::Value = serde_json::from_str(&blocked.finding).unwrap();
    assert!(finding["measured"]["sizes"].as_array().unwrap().len() > 1, "smaller sizes tried: {finding}");
    assert_eq!(wait_status(&n.db, &token, "trapped").await.id, pos.id);
    assert_eq!(n.balance(&token), held, "nothing sold while no sale succeeds");

    n.launcher().send(&[status(0)], &[]).unwrap();
    keeper_run::wait_position_event(&n.db, pos.id, "recovered").await;
    n.trader_buy(&token, &pool, 10 * MIN_QUOTE);
    let closed = wait_status(&n.db, &token, "closed").await;
    assert_eq!(closed.id, pos.id);
    let reasons = sold_for(&n.db, pos.id).await;
    match reasons.as_slice() {
        [only] => assert_eq!(only, "take_profit"),
        // Swaps reopened between an exit round's full-size check and its smaller sizes: part of
        // it was sold as trapped, and the rest by the take profit afterwards (judged with what
        // the first part returned, never as a loss against the whole cost).
        [first, .., last] => {
            assert_eq!(first, "trapped", "{reasons:?}");
            assert_eq!(
                (last.as_str(), closed.exit_reason.as_deref()),
                ("take_profit", Some("take_profit")),
                "{reasons:?}"
            );
        }
        [] => panic!("closed without a confirmed sell"),
    }
    assert_eq!(n.balance(&token), 0);
    k.stop().await;
}

/// A position sold in parts: half of its tokens leave the wallet (as a token's owner could take
/// them), so it is trapped and what the wallet still holds is sold at once (reason `trapped`);
/// the tokens come back and the position recovers. The rest, alone worth about half the cost,
/// is judged with what the first part returned: no stop loss fires on it, and the take profit
/// sells it once another trader lifts the price.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_sold_trapped_position_is_judged_by_all_it_returned() {
    use anchor_spl::token::spl_token;

    let n = Net::start().await;
    let k = n.keeper(true).await;
    let (token, pool) = n.launch(SolLaunch::clean(10 * MIN_QUOTE));
    let pos = wait_status(&n.db, &token, "open").await;
    let held = n.balance(&token);
    let (ours, theirs) = (
        get_associated_token_address(&n.wallet.pubkey(), &token),
        get_associated_token_address(&n.payer.pubkey(), &token),
    );
    let away = held / 2;
    let transfer = |from: &Pubkey, to: &Pubkey, owner: &Pubkey| {
        spl_token::instruction::transfer(&spl_token::ID, from, to, owner, &[], away).unwrap()
    };
    n.launcher().send(&[transfer(&ours, &theirs, &n.wallet.pubkey())], &[&n.wallet]).unwrap();
    let (sold_in, sold_out): (String, String) = wait_for("the part still held sold", || async {
        sqlx::query_as(
            "SELECT amount_in, amount_out FROM trades
             WHERE position_id = ? AND side = 'sell' AND status = 'confirmed' AND reason = 'trapped'",
        )
        .bind(pos.id)
        .fetch_optional(&n.db)
        .await
        .unwrap()
    })
    .await;
    assert_eq!(sold_in, (held - away).to_string());
    let part: u64 = sold_out.parse().unwrap();
    let cost: u64 = pos.cost.parse().unwrap();
    assert!(part < cost * 7 / 10, "the first part alone is below the stop loss: {part} of {cost}");

    n.launcher().send(&[transfer(&theirs, &ours, &n.payer.pubkey())], &[]).unwrap();
    keeper_run::wait_position_event(&n.db, pos.id, "recovered").await;
    n.trader_buy(&token, &pool, 10 * MIN_QUOTE);
    let closed = wait_status(&n.db, &token, "closed").await;
    let reasons = sold_for(&n.db, pos.id).await;
    assert_eq!(reasons, ["trapped", "take_profit"], "the rest was never stop-lossed as a loss of the whole cost");
    assert_eq!(closed.exit_reason.as_deref(), Some("take_profit"));
    assert!(closed.proceeds.parse::<u64>().unwrap() > part, "{closed:?}");
    assert_eq!(n.balance(&token), 0);
    k.stop().await;
}

/// The backtest's honesty check: a dry-run on the localnet is recorded in the mirror, then the
/// same period is replayed by `keeper backtest`'s engine with the same trading settings, filling
/// at the reserves each report saw (`fill_delay_blocks = 0`). The same tokens are bought, and
/// sold for the same reasons; each buy and sale is the paper fill to within one base unit per
/// swap (the fill model's tolerance).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backtest_of_a_dry_run_reproduces_its_paper_fills() {
    use std::collections::BTreeMap;

    use alloy::primitives::U256;
    use keeper::backtest::{run, History, LiveStrategy, Settings};

    let n = Net::start().await;
    let mut t = SolWorld::trading(false);
    t.take_profit_bps = 5_000;
    let from = mirror::now_ms();
    let k = keeper_run::start(n.world.keeper(t.clone(), &n.proxy.url)).await;
    let (up, up_pool) = n.launch(SolLaunch::clean(10 * MIN_QUOTE));
    let (held, _) = n.launch(SolLaunch::clean(20 * MIN_QUOTE));
    let (frozen, _) = n.launch(SolLaunch { freeze_authority: true, ..SolLaunch::clean(10 * MIN_QUOTE) });
    wait_status(&n.db, &up, "open").await;
    wait_status(&n.db, &held, "open").await;
    assert!(wait_decided(&n.db, &frozen).await.is_some(), "skipped");
    n.trader_buy(&up, &up_pool, 10 * MIN_QUOTE);
    wait_status(&n.db, &up, "closed").await;
    k.stop().await;

    let history = History::load(&n.db, Some("solana"), from, mirror::now_ms() + 1).await.unwrap();
    assert_eq!(history.pools.len(), 3);
    let settings = Settings {
        trading: t.clone(),
        default_quotes: BTreeMap::from([("solana".to_string(), vec![n.quote_mint.to_string()])]),
        fill_delay_blocks: 0,
        fee_per_trade: BTreeMap::new(),
        capital: U256::from(100 * MIN_QUOTE),
    };
    let report = run(&history, &settings, &LiveStrategy(&t)).unwrap();
    reconcile::assert_reproduces_paper(&n.db, &report).await;
    assert_eq!(report.metrics.trades, 1);
    assert_eq!(report.trades[0].exit_reason, "take_profit");
}

/// The compute-unit price a recorded transaction set (0: none).
fn price_paid(n: &Net, signature: &str) -> u64 {
    let sig: solana_sdk::signature::Signature = signature.parse().unwrap();
    let chain = n.net.chain();
    let tx = &chain.transaction(&sig).expect("the transaction is on the ledger").transaction;
    let keys = tx.message.static_account_keys();
    let budget: Pubkey = "ComputeBudget111111111111111111111111111111".parse().unwrap();
    tx.message
        .instructions()
        .iter()
        .filter(|ix| keys.get(usize::from(ix.program_id_index)) == Some(&budget))
        .find(|ix| ix.data.first() == Some(&3))
        .and_then(|ix| ix.data.get(1..9))
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        .unwrap_or(0)
}

/// With `priority_fee_percentile`, a live swap pays that percentile of what
/// `getRecentPrioritizationFees` reports recently paid for its pool and vaults, at least the
/// configured floor: the buy of a fresh pool pays the floor (its launch paid nothing), the sale
/// after other traders paid up pays the 75th percentile of their prices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_swaps_pay_a_percentile_of_the_recent_priority_fees() {
    use solana_rpc_client::nonblocking::rpc_client::RpcClient;

    let n = Net::start().await;
    let mut t = SolWorld::trading(true);
    t.take_profit_bps = 5_000;
    t.solana.priority_fee_percentile = 75;
    t.solana.priority_micro_lamports = 10_000;
    let k = keeper_run::start(n.world.keeper(t, &n.proxy.url)).await;
    let (token, pool) = n.launch(SolLaunch::clean(10 * MIN_QUOTE));
    let open = wait_status(&n.db, &token, "open").await;
    let buy_tx: String = sqlx::query_scalar("SELECT tx_id FROM trades WHERE position_id = ? AND side = 'buy'")
        .bind(open.id)
        .fetch_one(&n.db)
        .await
        .unwrap();
    assert_eq!(price_paid(&n, &buy_tx), 10_000, "nothing paid for the new pool yet: the floor");

    // Other traders pay 20,000 to 80,000 micro-lamports for the pool; the last buy sets off the
    // take profit.
    let mine = get_associated_token_address(&n.payer.pubkey(), &token);
    let a_to_b = pool.mint_a == n.quote_mint;
    for (price, quote) in
        [(20_000u64, MIN_QUOTE / 10), (40_000, MIN_QUOTE / 10), (60_000, MIN_QUOTE / 10), (80_000, 10 * MIN_QUOTE)]
    {
        let mut data = vec![3u8];
        data.extend_from_slice(&price.to_le_bytes());
        let budget = solana_sdk::instruction::Instruction {
            program_id: "ComputeBudget111111111111111111111111111111".parse().unwrap(),
            accounts: vec![],
            data,
        };
        let swap = client::swap_exact_in(&pool, n.payer.pubkey(), a_to_b, n.quote_ata, mine, quote, 0);
        n.launcher().send(&[budget, swap], &[]).unwrap();
    }
    let closed = wait_status(&n.db, &token, "closed").await;
    assert_eq!(closed.exit_reason.as_deref(), Some("take_profit"));
    let (sell_tx, sell_slot): (String, i64) =
        sqlx::query_as("SELECT tx_id, block FROM trades WHERE position_id = ? AND side = 'sell'")
            .bind(closed.id)
            .fetch_one(&n.db)
            .await
            .unwrap();
    k.stop().await;

    // What the network reported before the sale, as the keeper asked for it.
    let rpc = RpcClient::new(n.net.url.clone());
    let fees = rpc.get_recent_prioritization_fees(&[pool.pool, pool.vault_a, pool.vault_b]).await.unwrap();
    let before: Vec<u64> =
        fees.iter().filter(|f| f.slot < u64::try_from(sell_slot).unwrap()).map(|f| f.prioritization_fee).collect();
    let want = keeper::trade::solana::priority_price(before.clone(), 75, 10_000, 1_000_000);
    assert!(want >= 40_000, "the traders' prices count: {before:?}");
    assert_eq!(price_paid(&n, &sell_tx), want, "the 75th percentile of {before:?}");
}

/// A Jito-style block engine on 127.0.0.1 answering `getTipAccounts` and `sendBundle` in the
/// shapes Jito documents; it plays the block engine's part by handing each bundled transaction
/// to the localnet.
struct FakeJito {
    url: String,
    tip_accounts: Vec<Pubkey>,
    bundles: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
}

impl FakeJito {
    async fn start(rpc: String) -> Self {
        use axum::{extract::State, routing::post, Router};
        type Shared = (String, Vec<Pubkey>, std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>);
        async fn handle(State(s): State<std::sync::Arc<Shared>>, body: String) -> String {
            let req: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let result = match req["method"].as_str() {
                Some("getTipAccounts") => serde_json::json!(s.1.iter().map(|k| k.to_string()).collect::<Vec<_>>()),
                Some("sendBundle") if req["params"][1]["encoding"] == "base64" => {
                    let txs: Vec<String> =
                        req["params"][0].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
                    for tx in &txs {
                        let send = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "sendTransaction",
                            "params": [tx, {"encoding": "base64"}]});
                        reqwest::Client::new().post(&s.0).json(&send).send().await.unwrap();
                    }
                    s.2.lock().unwrap().push(txs);
                    serde_json::json!("2id3YC2jpJfS3f6cEGFZYUGt5qZ1fFRHJJJ5QpVyL1wQ")
                }
                _ => {
                    return serde_json::json!({"jsonrpc": "2.0", "id": req["id"],
                        "error": {"code": -32601, "message": "method not found"}})
                    .to_string()
                }
            };
            serde_json::json!({"jsonrpc": "2.0", "id": req["id"], "result": result}).to_string()
        }
        let tip_accounts: Vec<Pubkey> = (0..8).map(|_| Pubkey::new_unique()).collect();
        let bundles = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let state = std::sync::Arc::new((rpc, tip_accounts.clone(), bundles.clone()));
        let app = Router::new().route("/api/v1/bundles", post(handle)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v1/bundles", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, tip_accounts, bundles }
    }
}

/// With `jito_url` set, a live swap on our AMM carries a tip to one of the block engine's tip
/// accounts and goes to the engine as a bundle: the RPC refuses every `sendTransaction` here, and
/// the snipe and its take-profit sale still land, each tipping once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_swaps_go_as_tipped_jito_bundles_when_a_block_engine_is_set() {
    use base64::Engine;

    let n = Net::start().await;
    let jito = FakeJito::start(n.net.url.clone()).await;
    // Tip accounts exist on chain (a transfer into a new account below rent exemption fails).
    for a in &jito.tip_accounts {
        n.net.chain().svm.airdrop(a, 1_000_000_000).unwrap();
    }
    n.proxy.set_send_fault(SendFault::Refuse);
    let mut t = SolWorld::trading(true);
    t.take_profit_bps = 5_000;
    t.solana.jito_url = jito.url.clone();
    t.solana.jito_tip_lamports = 25_000;
    let k = keeper_run::start(n.world.keeper(t, &n.proxy.url)).await;
    let (token, pool) = n.launch(SolLaunch::clean(10 * MIN_QUOTE));
    let open = wait_status(&n.db, &token, "open").await;
    n.trader_buy(&token, &pool, 10 * MIN_QUOTE);
    let closed = wait_status(&n.db, &token, "closed").await;
    assert_eq!((closed.id, closed.exit_reason.as_deref()), (open.id, Some("take_profit")));
    k.stop().await;

    let landed: Vec<String> = sqlx::query_scalar("SELECT tx_id FROM trades WHERE position_id = ? ORDER BY id")
        .bind(open.id)
        .fetch_all(&n.db)
        .await
        .unwrap();
    assert_eq!(landed.len(), 2, "the buy and the sale");
    let bundles = jito.bundles.lock().unwrap().clone();
    let signatures: Vec<String> = bundles
        .iter()
        .flatten()
        .map(|b64| {
            let raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
            let tx: solana_sdk::transaction::VersionedTransaction = bincode::deserialize(&raw).unwrap();
            tx.signatures[0].to_string()
        })
        .collect();
    assert!(bundles.iter().all(|b| b.len() == 1), "one-transaction bundles");
    for sig in &landed {
        assert!(signatures.contains(sig), "{sig} went as a bundle: {signatures:?}");
    }
    // Each landed swap tipped 25,000 lamports to the engine's tip accounts, in turn.
    let chain = n.net.chain();
    let tipped: u64 = jito.tip_accounts.iter().map(|a| chain.svm.get_balance(a).unwrap_or(0) - 1_000_000_000).sum();
    assert_eq!(tipped, 2 * 25_000);
}
