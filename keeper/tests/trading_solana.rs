//! Guarded execution on the Solana localnet (real SPL Token, our AMM): a live snipe through the
//! AMM's swap instruction whose first transaction never lands and whose blockhash then expires
//! (signed again, bought once), a freeze-authority token never bought, a take-profit exit when
//! another trader moves the price, and the same in dry-run with nothing sent.

#[path = "common/keeper.rs"]
mod keeper_run;
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
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT reason FROM trades WHERE position_id = ? AND side = 'sell' AND status = 'confirmed' ORDER BY id",
    )
    .bind(pos.id)
    .fetch_all(&n.db)
    .await
    .unwrap();
    match reasons.as_slice() {
        [only] => assert_eq!(only, "take_profit"),
        // Swaps reopened between an exit round's full-size check and its smaller sizes: part of
        // it was sold as trapped, and the rest by an exit rule afterwards.
        [first, .., last] => {
            assert_eq!(first, "trapped", "{reasons:?}");
            assert_eq!(Some(last.as_str()), closed.exit_reason.as_deref(), "{reasons:?}");
        }
        [] => panic!("closed without a confirmed sell"),
    }
    assert_eq!(n.balance(&token), 0);
    k.stop().await;
}
