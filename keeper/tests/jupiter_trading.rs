//! Trading a token that has no pool on our AMM, end to end on the Solana localnet. DexScreener's
//! newest profiles name the token and its deepest pair is on another venue ("raydium"); the
//! keeper mirrors that pair with its reserves, enriches it (USD liquidity, socials), scores the
//! token, buys it live through Jupiter, values the position in USD with CoinGecko's price of
//! the quote token, and sells it through Jupiter when its maximum hold is reached. A token whose
//! Jupiter transaction would skim the wallet is never bought: the trade fails with nothing
//! signed or moved.
//!
//! DexScreener, Jupiter and CoinGecko cannot be reached from here: they are fakes on 127.0.0.1
//! answering with the documented shapes. Jupiter's swap transactions are real ones on the
//! in-process chain, routed through a pool of our AMM standing in for the other venue.

#[path = "common/fake_api.rs"]
mod fake_api;
#[path = "common/fake_jupiter.rs"]
mod fake_jupiter;
#[path = "common/keeper.rs"]
mod keeper_run;
#[path = "common/solana_world.rs"]
mod solana_world;

use std::{
    collections::BTreeMap,
    ops::Deref,
    sync::{Arc, Mutex},
    time::Duration,
};

use amm::{client::PoolAddresses, state::Pool};
use anchor_lang::AccountDeserialize;
use fake_api::{FakeApi, Reply};
use fake_jupiter::{FakeJupiter, Market, Route};
use keeper::external::{ExternalConfig, ServiceConfig, Usd};
use keeper_run::Running;
use localnet::{sim::SolLaunch, Localnet};
use solana_sdk::{
    pubkey::Pubkey,
    signature::{Signature, Signer},
};
use solana_world::{SolWorld, MIN_QUOTE};
use sqlx::SqlitePool;
use test_utils::wait_for;

/// CoinGecko's price of the quote token in the fake.
const QUOTE_USD: &str = "150.25";

fn service(url: &str) -> ServiceConfig {
    ServiceConfig { enabled: true, ..ServiceConfig::new(url, "", 60_000) }
}

/// `units` base units of a 6-decimal token as DexScreener writes whole tokens.
fn whole(units: u64) -> String {
    format!("{}.{:06}", units / 1_000_000, units % 1_000_000)
}

/// The fake DexScreener: profiles of `listed` tokens; each one's pair on "raydium" (really our
/// AMM pool), with the pool's current reserves as liquidity.
fn fake_dexscreener(api: &FakeApi, net: &Localnet, listed: Arc<Mutex<Vec<Market>>>) {
    let l = listed.clone();
    api.respond("/token-profiles/latest/v1", move |_| {
        let mut items = vec![
            // Another chain's token: not Solana, ignored.
            r#"{"url":"https://dexscreener.com/ethereum/0xabc","chainId":"ethereum","tokenAddress":"0x00000000000000000000000000000000000000ab","icon":null,"description":null,"links":[]}"#.to_string(),
        ];
        for m in l.lock().unwrap().iter() {
            items.push(format!(
                r#"{{"url":"https://dexscreener.com/solana/{t}","chainId":"solana","tokenAddress":"{t}","icon":"https://cdn.example/{t}.png","description":"a new token","links":[{{"type":"twitter","url":"https://x.com/tok"}}]}}"#,
                t = m.token
            ));
        }
        Reply::json(format!("[{}]", items.join(",")))
    });
    let chain = net.chain.clone();
    api.respond_prefix("/tokens/v1/solana/", move |seen| {
        let asked: Vec<&str> = seen.path.trim_start_matches("/tokens/v1/solana/").split(',').collect();
        let chain = chain.lock().unwrap();
        let pairs: Vec<String> = listed
            .lock()
            .unwrap()
            .iter()
            .filter(|m| asked.contains(&m.token.to_string().as_str()))
            .map(|m| {
                let acc = chain.svm.get_account(&m.pool.pool).unwrap();
                let p = Pool::try_deserialize(&mut acc.data.as_slice()).unwrap();
                let (base, quote) = if p.mint_a == m.token { (p.reserve_a, p.reserve_b) } else { (p.reserve_b, p.reserve_a) };
                format!(
                    r#"{{"chainId":"solana","dexId":"raydium","url":"https://dexscreener.com/solana/{pair}","pairAddress":"{pair}",
                    "labels":["CPMM"],"baseToken":{{"address":"{t}","name":"Test Token","symbol":"TEST"}},
                    "quoteToken":{{"address":"{q}","name":"Quote","symbol":"QUO"}},"priceNative":"0.001","priceUsd":"0.15025",
                    "txns":{{"m5":{{"buys":3,"sells":0}}}},"volume":{{"h24":1200.5}},"priceChange":{{"h1":12.5}},
                    "liquidity":{{"usd":3000.5,"base":{},"quote":{}}},"fdv":150250,"marketCap":150250,"pairCreatedAt":{},
                    "info":{{"imageUrl":"https://cdn.example/t.png","websites":[{{"url":"https://test.example"}}],
                    "socials":[{{"platform":"twitter","handle":"https://x.com/tok"}}]}}}}"#,
                    whole(base),
                    whole(quote),
                    mirror::now_ms(),
                    pair = m.pool.pool,
                    t = m.token,
                    q = m.quote_mint,
                )
            })
            .collect();
        Reply::json(format!("[{}]", pairs.join(",")))
    });
}

/// The shared Solana world with fake DexScreener, Jupiter and CoinGecko servers.
struct World {
    world: SolWorld,
    api: FakeApi,
    jupiter: FakeJupiter,
    listed: Arc<Mutex<Vec<Market>>>,
}

impl Deref for World {
    type Target = SolWorld;
    fn deref(&self) -> &SolWorld {
        &self.world
    }
}

impl World {
    async fn start() -> Self {
        let world = SolWorld::start().await;
        let api = FakeApi::start().await;
        let jupiter = FakeJupiter::serve(&api, &world.net);
        let listed = Arc::new(Mutex::new(Vec::new()));
        fake_dexscreener(&api, &world.net, listed.clone());
        api.respond("/simple/token_price/solana", move |seen| {
            let asked = seen.query["contract_addresses"].clone();
            Reply::json(format!(r#"{{"{asked}":{{"usd":{QUOTE_USD}}}}}"#))
        });
        Self { world, api, jupiter, listed }
    }

    /// A token launched (in a pool of our AMM that the keeper does not index: for it, the token
    /// lives on "raydium") and listed on DexScreener.
    fn list(&self) -> Pubkey {
        let (token, pool) = self.launch(SolLaunch::clean(10 * MIN_QUOTE));
        let m = Market { quote_mint: self.quote_mint, token, pool };
        self.jupiter.add(m);
        self.listed.lock().unwrap().push(m);
        token
    }

    /// DexScreener discovery and enrichment, the risk worker and a live trader with Jupiter and
    /// USD valuation, as `keeper run` builds them. Our AMM's own indexer follows no program here:
    /// every pool comes from DexScreener, and is bought through Jupiter.
    async fn keeper(&self) -> Running {
        self.keeper_with(|t| t.max_hold_secs = 3).await
    }

    /// The same keeper, its trading limits changed by `change`.
    async fn keeper_with(&self, change: impl FnOnce(&mut keeper::trade::TradingConfig)) -> Running {
        let mut t = SolWorld::trading(true);
        change(&mut t);
        let builder = self.world.keeper(t, &self.net.url);
        let ext = ExternalConfig {
            jupiter: service(&self.api.url),
            dexscreener: service(&self.api.url),
            coingecko: service(&self.api.url),
            dexscreener_discovery: true,
            dexscreener_poll_ms: 200,
            dexscreener_chains: BTreeMap::from([("solana".to_string(), "solana".to_string())]),
            coingecko_platforms: BTreeMap::from([("solana".to_string(), "solana".to_string())]),
            // The venue the fake routes through.
            jupiter_extra_programs: vec![keeper::config::values::Key(amm::ID)],
            jupiter_max_lamports: 10_000_000,
            ..ExternalConfig::default()
        };
        let builder = builder.configure(|c| {
            c.external = ext;
            c.solana.program_id = Pubkey::new_unique();
        });
        keeper_run::start(builder.usd_every(Duration::from_millis(200)).market_refresh(Duration::from_millis(300)))
            .await
    }
}

impl World {
    /// A keeper that indexes our AMM and trades its pools directly, with Jupiter enabled: the
    /// other route of a trapped position. Only the stop loss among the exit rules (the price
    /// only rises here).
    async fn amm_keeper(&self) -> Running {
        let mut t = SolWorld::trading(true);
        (t.take_profit_bps, t.trailing_stop_bps, t.max_hold_secs) = (0, 0, 0);
        let ext = ExternalConfig {
            jupiter: service(&self.api.url),
            jupiter_extra_programs: vec![keeper::config::values::Key(amm::ID)],
            jupiter_max_lamports: 10_000_000,
            ..ExternalConfig::default()
        };
        keeper_run::start(self.world.keeper(t, &self.net.url).configure(|c| c.external = ext)).await
    }

    /// A second pool of `token` against the quote mint, under AMM config 1, funded with tokens
    /// the launcher buys from `first` for `quote`: the other venue Jupiter routes through.
    fn second_pool(&self, token: &Pubkey, first: &PoolAddresses, quote: u64) -> PoolAddresses {
        let l = self.launcher();
        l.send(&[amm::client::create_config(self.payer.pubkey(), 1, 30, 0)], &[]).unwrap();
        l.swap(first, token, true, quote).unwrap();
        let tokens = l.balance(&self.payer.pubkey(), token);
        let (a, b) = amm::client::sort_mints(*token, self.quote_mint).unwrap();
        let p = PoolAddresses::derive(amm::client::config_address(1), a, b);
        let mine = anchor_spl::associated_token::get_associated_token_address(&self.payer.pubkey(), token);
        let (ata_a, ata_b, amount_a, amount_b) =
            if a == *token { (mine, self.quote_ata, tokens, quote) } else { (self.quote_ata, mine, quote, tokens) };
        l.send(&[amm::client::initialize_pool(self.payer.pubkey(), &p, ata_a, ata_b, amount_a, amount_b, 0)], &[])
            .unwrap();
        p
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Pos {
    id: i64,
    status: String,
    venue: String,
    size: String,
    cost: String,
    proceeds: String,
    exit_reason: Option<String>,
    cost_usd: Option<String>,
    proceeds_usd: Option<String>,
    pnl_usd: Option<String>,
}

async fn wait_status(db: &SqlitePool, token: &Pubkey, status: &str) -> Pos {
    wait_position(db, token, status, |p| p.status == status).await
}

/// The newest position in `token` once `ready` holds for it.
async fn wait_position(db: &SqlitePool, token: &Pubkey, what: &str, ready: impl Fn(&Pos) -> bool) -> Pos {
    wait_for(&format!("position {token} {what}"), || async {
        let p: Option<Pos> = sqlx::query_as(
            "SELECT id, status, venue, size, cost, proceeds, exit_reason, cost_usd, proceeds_usd, pnl_usd
             FROM positions WHERE token = ? ORDER BY id DESC",
        )
        .bind(token.to_string())
        .fetch_optional(db)
        .await
        .unwrap();
        p.filter(|p| ready(p))
    })
    .await
}

#[derive(Debug, sqlx::FromRow)]
struct TradeRow {
    status: String,
    amount_in: String,
    amount_out: Option<String>,
    tx_ids: String,
    tx_id: Option<String>,
    error: Option<String>,
}

async fn trade(db: &SqlitePool, position: i64, side: &str) -> TradeRow {
    sqlx::query_as(
        "SELECT status, amount_in, amount_out, tx_ids, tx_id, error FROM trades WHERE position_id = ? AND side = ?",
    )
    .bind(position)
    .bind(side)
    .fetch_one(db)
    .await
    .unwrap()
}

/// `units` base units of the 6-decimal quote token at the fake's USD price.
fn usd_of(units: &str) -> String {
    Usd::parse(QUOTE_USD).unwrap().value_of(units.parse().unwrap(), 6).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_on_another_venue_is_found_on_dexscreener_bought_and_sold_through_jupiter_and_valued_in_usd() {
    let w = World::start().await;
    let k = w.keeper().await;
    let me = w.wallet.pubkey();
    let token = w.list();

    // Discovered from DexScreener with the pair's venue and reserves, enriched, scored.
    let pos = wait_status(&w.db, &token, "open").await;
    assert_eq!(pos.venue, "raydium");
    let market = w.listed.lock().unwrap()[0];
    let (venue, address, reserve_quote): (String, String, String) =
        sqlx::query_as("SELECT venue, address, CASE WHEN token_a = ?1 THEN reserve_b ELSE reserve_a END FROM pools WHERE base_token = ?1")
            .bind(token.to_string())
            .fetch_one(&w.db)
            .await
            .unwrap();
    assert_eq!((venue.as_str(), address), ("raydium", market.pool.pool.to_string()));
    assert_eq!(reserve_quote, (10 * MIN_QUOTE).to_string(), "DexScreener's whole tokens, back in base units");
    let (listed, liquidity, socials): (bool, Option<String>, String) =
        sqlx::query_as("SELECT listed, liquidity_usd, socials FROM token_markets WHERE chain = 'solana' AND token = ?")
            .bind(token.to_string())
            .fetch_one(&w.db)
            .await
            .unwrap();
    assert!(listed);
    assert_eq!(liquidity.as_deref(), Some("3000.5"));
    assert_eq!(socials, r#"["twitter:https://x.com/tok"]"#);
    let findings: String = sqlx::query_scalar("SELECT findings FROM risk_reports WHERE token = ?")
        .bind(token.to_string())
        .fetch_one(&w.db)
        .await
        .unwrap();
    assert!(findings.contains("foreign_venue"), "{findings}");

    // Bought live through Jupiter: the recorded signature is the wallet's transaction on chain,
    // and the fill is what the wallet received.
    let buy = trade(&w.db, pos.id, "buy").await;
    assert_eq!(buy.status, "confirmed");
    let sig: Signature = buy.tx_id.as_deref().unwrap().parse().unwrap();
    let landed = w.net.chain().transaction(&sig).cloned().expect("the buy is on chain");
    assert!(landed.result.is_ok());
    assert_eq!(landed.transaction.message.static_account_keys()[0], me);
    assert_eq!(buy.tx_ids, format!(r#"["{sig}"]"#), "recorded before it was sent, signed once");
    assert_eq!(w.balance(&token).to_string(), pos.size);
    assert_eq!(buy.amount_out.as_deref(), Some(pos.size.as_str()));
    assert_eq!(buy.amount_in, MIN_QUOTE.to_string());
    let posted: serde_json::Value = serde_json::from_slice(&w.api.seen("/swap")[0].body).unwrap();
    assert_eq!(posted["userPublicKey"], me.to_string());
    assert_eq!(posted["wrapAndUnwrapSol"], false);

    // Refreshed while the pool is young: the buy (and later the sell) moved the pool's quote
    // reserve away from the 10 MIN_QUOTE it was discovered with, and the mirror follows
    // DexScreener's liquidity.
    wait_for("reserves refreshed", || async {
        let r: String = sqlx::query_scalar("SELECT reserve_b FROM pools WHERE base_token = ?")
            .bind(token.to_string())
            .fetch_one(&w.db)
            .await
            .unwrap();
        (r != (10 * MIN_QUOTE).to_string()).then_some(())
    })
    .await;

    // USD, by the trader's own rounds: the cost at CoinGecko's price of the quote token.
    let priced = wait_position(&w.db, &token, "valued in USD", |p| p.status == "open" && p.cost_usd.is_some()).await;
    assert_eq!(priced.cost_usd, Some(usd_of(&priced.cost)));
    assert_eq!(usd_of(&priced.cost), "150250", "1000 quote tokens (6 decimals) at $150.25");
    assert!(priced.pnl_usd.is_some());

    // Maximum hold: sold through Jupiter; the wallet holds none of the token and got the
    // proceeds in its quote account.
    let closed = wait_status(&w.db, &token, "closed").await;
    assert_eq!(closed.exit_reason.as_deref(), Some("max_hold"));
    let sell = trade(&w.db, closed.id, "sell").await;
    assert_eq!(sell.status, "confirmed");
    assert_eq!(w.balance(&token), 0);
    assert_eq!(sell.amount_out.as_deref(), Some(closed.proceeds.as_str()));
    let proceeds: u64 = closed.proceeds.parse().unwrap();
    assert_eq!(w.balance(&w.quote_mint), 999 * MIN_QUOTE + proceeds);
    let exit_usd = usd_of(&closed.proceeds);
    let priced =
        wait_position(&w.db, &token, "exit in USD", |p| p.proceeds_usd.as_deref() == Some(exit_usd.as_str())).await;
    let pnl = Usd::parse(&usd_of(&closed.proceeds)).unwrap().0 - Usd::parse(&usd_of(&closed.cost)).unwrap().0;
    assert_eq!(priced.pnl_usd, Some(Usd(pnl).to_string()));

    // A token whose Jupiter transaction would also move the wallet's quote tokens elsewhere:
    // refused unsigned, the buy fails, nothing moves.
    w.jupiter.set_route(Route::Skims);
    let quote_before = w.balance(&w.quote_mint);
    let ledger = w.net.chain().ledger().len();
    let skimmer = w.list();
    let failed = wait_status(&w.db, &skimmer, "failed").await;
    let buy = trade(&w.db, failed.id, "buy").await;
    assert_eq!(buy.status, "failed");
    assert!(buy.error.as_deref().unwrap_or_default().contains("refused Jupiter's swap transaction"), "{buy:?}");
    assert_eq!(buy.tx_ids, "[]", "nothing signed");
    assert_eq!(w.balance(&skimmer), 0);
    assert_eq!(w.balance(&w.quote_mint), quote_before);
    let wallet_txs = w.net.chain().ledger()[ledger..]
        .iter()
        .filter(|r| r.transaction.message.static_account_keys()[0] == me)
        .count();
    assert_eq!(wallet_txs, 0, "the wallet sent nothing");

    k.stop().await;
}

/// The watchdog on another venue: a live position routed through Jupiter is valued each poll by
/// simulating Jupiter's own transaction for its sale from our wallet. When the venue stops
/// taking the sale, the position is trapped with the simulated failure and nothing is sent;
/// when the venue takes it again the position recovers, and its take-profit sells it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_on_another_venue_whose_jupiter_sale_stops_simulating_is_trapped() {
    let w = World::start().await;
    let k = w.keeper_with(|t| t.take_profit_bps = 5_000).await;
    let token = w.list();
    let pos = wait_status(&w.db, &token, "open").await;
    let market = w.listed.lock().unwrap()[0];
    let status = |s: u8| amm::client::set_pool_status(w.payer.pubkey(), &market.pool, s);
    let swaps_before = w.api.seen("/swap").len();
    w.launcher().send(&[status(amm::state::status::SWAP_DISABLED)], &[]).unwrap();
    let trapped = keeper_run::wait_position_event(&w.db, pos.id, "trapped").await;
    assert!(trapped.finding.contains("fails in simulation"), "{}", trapped.finding);
    assert!(w.api.seen("/swap").len() > swaps_before, "valued by Jupiter's transaction for the sale");
    keeper_run::wait_position_event(&w.db, pos.id, "exit_blocked").await;
    assert_eq!(w.balance(&token).to_string(), pos.size, "nothing sold while no sale succeeds");

    w.launcher().send(&[status(0)], &[]).unwrap();
    keeper_run::wait_position_event(&w.db, pos.id, "recovered").await;
    w.launcher().swap(&market.pool, &token, true, 10 * MIN_QUOTE).unwrap();
    let closed = wait_status(&w.db, &token, "closed").await;
    assert_eq!((closed.id, closed.exit_reason.as_deref()), (pos.id, Some("take_profit")));
    assert_eq!(w.balance(&token), 0);
    k.stop().await;
}

/// Another route on Solana: a live position on our AMM whose pool stops taking its sale (swaps
/// disabled) is trapped; no smaller size sells there, so its exit goes through Jupiter, which
/// routes the sale over another pool of the same token (a second AMM config's pool, standing in
/// for another venue). It is sold in full with reason `trapped`, the trade naming the route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapped_position_on_our_amm_is_sold_through_jupiter_over_another_pool() {
    let w = World::start().await;
    let k = w.amm_keeper().await;
    let (token, pool) = w.launch(SolLaunch::clean(10 * MIN_QUOTE));
    let pos = wait_status(&w.db, &token, "open").await;
    assert_eq!(pos.venue, "amm");
    let other = w.second_pool(&token, &pool, 5 * MIN_QUOTE);
    w.jupiter.add(Market { quote_mint: w.quote_mint, token, pool: other });
    let swaps_before = w.api.seen("/swap").len();

    let status = amm::client::set_pool_status(w.payer.pubkey(), &pool, amm::state::status::SWAP_DISABLED);
    w.launcher().send(&[status], &[]).unwrap();
    let closed = wait_status(&w.db, &token, "closed").await;
    assert_eq!((closed.id, closed.exit_reason.as_deref()), (pos.id, Some("trapped")));
    let (venue, pool_address, amount_in, amount_out): (String, String, String, Option<String>) = sqlx::query_as(
        "SELECT venue, pool_address, amount_in, amount_out FROM trades
         WHERE position_id = ? AND side = 'sell' AND status = 'confirmed'",
    )
    .bind(pos.id)
    .fetch_one(&w.db)
    .await
    .unwrap();
    assert_eq!((venue.as_str(), pool_address), ("jupiter", pool.pool.to_string()));
    assert_eq!(amount_in, pos.size, "all of it, through the other route");
    assert_eq!(amount_out.as_deref(), Some(closed.proceeds.as_str()));
    assert!(closed.proceeds.parse::<u64>().unwrap() > 0);
    assert!(w.api.seen("/swap").len() > swaps_before, "Jupiter built the sale");
    assert_eq!(w.balance(&token), 0);
    let blocked = keeper_run::wait_position_event(&w.db, pos.id, "trapped").await;
    assert!(blocked.finding.contains("SwapDisabled") || blocked.finding.contains("0x1780"), "{}", blocked.finding);
    k.stop().await;
}
