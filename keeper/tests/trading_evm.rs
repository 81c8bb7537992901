//! Guarded execution on a real anvil with real Uniswap V2: live snipes in the next block, bad
//! tokens never bought, every limit, the circuit breaker, exits when other traders move the
//! price, a transaction that never lands replaced, a crash between sending and recording
//! reconciled without a second buy, and all of it in dry-run with nothing sent.

#[path = "common/fake_api.rs"]
mod fake_api;
#[path = "common/keeper.rs"]
mod keeper_run;
#[path = "common/reconcile.rs"]
mod reconcile;

use std::time::Duration;

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use keeper::{
    app::{App, AppBuilder, Secrets},
    config::{trading::RelayMethod, Config},
    external::{oneinch::OneInch, zeroex::ZeroEx, ServiceConfig},
    risk::worker::Recovery,
    trade::{
        enrich::Aggregators,
        guards::Refused,
        keys::EvmKey,
        trader::{Choice, Trader},
        ChainBudget, TradingConfig,
    },
};
use keeper_run::Running;
use localnet::evm::{e18, EvmEnv, Launch, TokenKind};
use sqlx::SqlitePool;
use test_utils::{wait_for, RangeLimitedRpc, SendFault};

struct Net {
    env: EvmEnv,
    /// The trader's RPC goes through this proxy (fault injection); discovery talks to anvil.
    proxy: RangeLimitedRpc,
    config: Config,
    db: SqlitePool,
    key: PrivateKeySigner,
    _dir: tempfile::TempDir,
}

impl Net {
    /// The network and a keeper config whose privilege search always runs to the end (a search
    /// cut short by the machine's load is a high finding, which would change what is bought).
    async fn start() -> Self {
        Self::start_with("sandbox_budget_ms = 600000\n").await
    }

    /// The same, with `risk` as the config's `[risk]` table.
    async fn start_with(risk: &str) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .try_init();
        let env = EvmEnv::start().await;
        let proxy = RangeLimitedRpc::start(env.http_url(), 100_000).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keeper.toml");
        let toml = format!(
            "[risk]\n{risk}[database]\npath = \"{}\"\n[solana]\nenabled = false\n{}max_log_range = 64\n",
            dir.path().join("keeper.db").display(),
            env.keeper_toml("local")
        );
        std::fs::write(&path, toml).unwrap();
        let config = Config::load(Some(&path), Vec::new()).expect("config");
        let db = mirror::open_writer(&config.database.path, Duration::from_secs(5)).await.unwrap();
        mirror::migrate(&db).await.unwrap();
        let key = PrivateKeySigner::from(env.anvil.keys()[7].clone());
        Self { env, proxy, config, db, key, _dir: dir }
    }

    /// The keeper as `keeper run` builds it, trading with `t`: the trader's RPC goes through the
    /// fault proxy, keyed only when live.
    fn builder(&self, t: TradingConfig) -> AppBuilder {
        let config = Config { trading: t, ..self.config.clone() };
        let secrets = Secrets { evm: Some(EvmKey(self.key.clone())), ..Secrets::default() };
        App::builder(&config, secrets)
            .database(self.db.clone())
            .trade_rpc("local", &self.proxy.url)
            .evm_poll_interval(Duration::from_millis(200))
            .recovery(Recovery {
                rescore_empty_after: Duration::from_secs(3600),
                watch_every: Duration::from_secs(3600),
                ..Recovery::default()
            })
    }

    /// A trader built the same way, not running: for replaying a report.
    async fn trader(&self, t: TradingConfig) -> std::sync::Arc<Trader> {
        self.builder(t).build().await.unwrap().trader().expect("trading is on")
    }

    fn wallet(&self) -> Address {
        self.key.address()
    }

    async fn nonce(&self) -> u64 {
        self.env.provider.get_transaction_count(self.wallet()).await.unwrap()
    }

    async fn set_controls(&self, paused: bool, limits: &str) {
        sqlx::query("UPDATE keeper_controls SET paused = ?, limits = ? WHERE id = 1")
            .bind(paused)
            .bind(limits)
            .execute(&self.db)
            .await
            .unwrap();
    }
}

fn budget(buy: U256, max_buy: U256, daily: U256) -> ChainBudget {
    ChainBudget { buy_amount: buy, max_buy, daily_budget: daily, min_liquidity: e18(1), quote_tokens: vec![] }
}

fn trading(live: bool) -> TradingConfig {
    let mut t = TradingConfig {
        enabled: true,
        live,
        max_risk_score: 40,
        exit_poll_ms: 100,
        cooldown_secs: 0,
        ..Default::default()
    };
    t.chains.insert("local".into(), budget(e18(1) / U256::from(10u8), e18(1), e18(100)));
    t.evm.replace_after_ms = 1_500;
    t.evm.receipt_poll_ms = 50;
    t
}

/// Starts the keeper.
async fn start(net: &Net, t: TradingConfig) -> Running {
    keeper_run::start(net.builder(t)).await
}

fn hex(a: Address) -> String {
    format!("{a:#x}")
}

#[derive(Debug, sqlx::FromRow)]
struct Pos {
    id: i64,
    status: String,
    size: String,
    cost: String,
    proceeds: String,
    peak_value: Option<String>,
    exit_reason: Option<String>,
}

async fn position(db: &SqlitePool, token: Address) -> Option<Pos> {
    sqlx::query_as(
        "SELECT id, status, size, cost, proceeds, peak_value, exit_reason FROM positions WHERE token = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(hex(token))
    .fetch_optional(db)
    .await
    .unwrap()
}

async fn wait_status(db: &SqlitePool, token: Address, status: &str) -> Pos {
    wait_for(&format!("position {token} {status}"), || async {
        position(db, token).await.filter(|p| p.status == status)
    })
    .await
}

/// Waits for the trader's decision on the token and returns why it skipped it (`None`: bought).
async fn wait_decided(db: &SqlitePool, token: Address) -> Option<String> {
    keeper_run::decision(db, "local", &hex(token)).await.reason
}

#[derive(Debug, sqlx::FromRow)]
struct Trade {
    id: i64,
    status: String,
    amount_in: String,
    quoted_out: String,
    min_out: String,
    amount_out: Option<String>,
    tx_ids: String,
    tx_id: Option<String>,
    block: Option<i64>,
    latency_us: Option<i64>,
}

async fn trades(db: &SqlitePool, position_id: i64) -> Vec<Trade> {
    sqlx::query_as(
        "SELECT id, status, amount_in, quoted_out, min_out, amount_out, tx_ids, tx_id, block, latency_us FROM trades WHERE position_id = ? ORDER BY id",
    )
    .bind(position_id)
    .fetch_all(db)
    .await
    .unwrap()
}

fn u(s: &str) -> U256 {
    s.parse().unwrap()
}

/// LP kept by the creator and ownership kept, so adding liquidity is the launch's last
/// transaction and the keeper's buy can be the next one.
fn last_tx_is_liquidity() -> Launch {
    Launch { burn_lp: false, renounce: false, ..Launch::clean(TokenKind::Standard) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_snipe_in_next_block_bad_tokens_never_and_exits_fire() {
    let net = Net::start().await;
    // Up to "high" risk (the stop-loss launch below leaves half the supply with its deployer);
    // critical findings (honeypots) are never bought whatever the score limit.
    let k = start(&net, TradingConfig { max_risk_score: 80, ..trading(true) }).await;
    let env = &net.env;

    // A healthy launch is bought in the block right after it.
    let a = env.launch("alpha", &last_tx_is_liquidity()).await;
    let pos = wait_status(&net.db, a.token, "open").await;
    // The latency is written beside the broadcast, off the hot path: wait for it.
    let t = &wait_for("the buy's latency", || async {
        let t = trades(&net.db, pos.id).await.into_iter().next()?;
        t.latency_us.is_some().then_some(t)
    })
    .await;
    assert_eq!(t.status, "confirmed");
    assert_eq!(t.block, Some(i64::try_from(a.block).unwrap() + 1), "bought in the next block");
    assert_eq!(u(&t.amount_in), e18(1) / U256::from(10u8));
    assert!(u(t.amount_out.as_deref().unwrap()) >= u(&t.min_out));
    assert_eq!(env.balance_of(a.token, net.wallet()).await, u(&pos.size), "position size is what the wallet holds");
    assert_eq!(pos.cost, t.amount_in);
    let latency = t.latency_us.expect("discovery -> broadcast latency recorded for a live buy");
    assert!(latency > 0 && latency < 5_000_000, "{latency} us");

    // Bad tokens are never bought.
    let hp = env.launch("honey", &Launch::clean(TokenKind::Honeypot)).await;
    let bl = env.launch("black", &Launch::clean(TokenKind::Blacklist)).await;
    let tiny = env.launch("tiny", &Launch::clean(TokenKind::TinySell)).await;
    for bad in [hp.token, bl.token, tiny.token] {
        let reason = wait_decided(&net.db, bad).await;
        assert!(reason.is_some(), "{bad} skipped");
        let reports: Vec<(i64, String)> = sqlx::query_as("SELECT tradeable, summary FROM risk_reports WHERE token = ?")
            .bind(hex(bad))
            .fetch_all(&net.db)
            .await
            .unwrap();
        assert!(position(&net.db, bad).await.is_none(), "{bad} must never be bought: {reports:?}");
        assert_eq!(env.balance_of(bad, net.wallet()).await, U256::ZERO);
    }

    // Take-profit: another trader pumps the price past +100%.
    env.trader_buy(a.token, e18(40)).await;
    let closed = wait_status(&net.db, a.token, "closed").await;
    let history = keeper_run::position_events(&net.db, closed.id).await;
    assert_eq!(closed.exit_reason.as_deref(), Some("take_profit"), "{closed:?}, its history: {history:?}");
    let sell = trades(&net.db, closed.id).await.pop().unwrap();
    assert_eq!(sell.latency_us, None, "a sell has no discovery latency");
    assert!(u(&closed.proceeds) > u(&closed.cost) * U256::from(2u8), "{closed:?}");
    assert_eq!(env.balance_of(a.token, net.wallet()).await, U256::ZERO, "everything sold");

    // Stop-loss: the deployer, holding half the supply, dumps a quarter of it.
    let b = env.launch("beta", &Launch { distribute: false, ..Launch::clean(TokenKind::Standard) }).await;
    wait_status(&net.db, b.token, "open").await;
    env.trader_sell(b.token, e18(250_000)).await;
    let closed = wait_status(&net.db, b.token, "closed").await;
    assert_eq!(closed.exit_reason.as_deref(), Some("stop_loss"));
    assert!(u(&closed.proceeds) < u(&closed.cost));

    // Trailing stop: a +40% run, then the buyer sells back; not a stop-loss, not a take-profit.
    let c = env.launch("gamma", &Launch::clean(TokenKind::Standard)).await;
    let open = wait_status(&net.db, c.token, "open").await;
    env.trader_buy(c.token, e18(2)).await;
    let cost = u(&open.cost);
    wait_for("peak recorded", || async {
        let p = position(&net.db, c.token).await?;
        p.peak_value.map(|v| u(&v)).filter(|v| *v > cost * U256::from(13u8) / U256::from(10u8))
    })
    .await;
    let bought = env.balance_of(c.token, env.deployer).await;
    env.trader_sell(c.token, bought).await;
    let closed = wait_status(&net.db, c.token, "closed").await;
    assert_eq!(closed.exit_reason.as_deref(), Some("trailing_stop"));
    k.stop().await;

    // One transaction per buy, plus an approval and a sell per exit; nothing else.
    assert_eq!(net.nonce().await, 3 + 3 * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_limit_stops_buying_and_operators_change_them_live() {
    let net = Net::start().await;
    let mut t = trading(true);
    t.take_profit_bps = 0;
    t.stop_loss_bps = 0;
    t.trailing_stop_bps = 0;
    t.max_hold_secs = 0;
    t.max_consecutive_failures = 2;
    // Config: 0.1 per buy, at most 1 per trade, 0.1 per day.
    t.chains.insert("local".into(), budget(e18(1) / U256::from(10u8), e18(1), e18(1) / U256::from(10u8)));
    let k = start(&net, t).await;
    let env = &net.env;
    let launch = |name: &'static str| async move { env.launch(name, &Launch::clean(TokenKind::Standard)).await };

    // An operator lowers the per-trade maximum to 0.05 without a restart.
    net.set_controls(false, r#"{"budgets":{"local":{"max_buy":"50000000000000000"}}}"#).await;
    let l1 = launch("one").await;
    let p1 = wait_status(&net.db, l1.token, "open").await;
    assert_eq!(u(&trades(&net.db, p1.id).await[0].amount_in), e18(1) / U256::from(20u8));
    let l2 = launch("two").await;
    wait_status(&net.db, l2.token, "open").await;
    // Daily budget (0.1) exhausted.
    let l3 = launch("three").await;
    assert_eq!(wait_decided(&net.db, l3.token).await.as_deref(), Some("daily_budget"));
    assert!(position(&net.db, l3.token).await.is_none(), "daily budget must stop the third buy");

    // The operator raises the budget and caps open positions at 3.
    net.set_controls(
        false,
        r#"{"max_open_positions":3,"budgets":{"local":{"max_buy":"50000000000000000","daily_budget":"10000000000000000000"}}}"#,
    )
    .await;
    let l4 = launch("four").await;
    wait_status(&net.db, l4.token, "open").await;
    let l5 = launch("five").await;
    assert_eq!(wait_decided(&net.db, l5.token).await.as_deref(), Some("max_open_positions"));
    assert!(position(&net.db, l5.token).await.is_none(), "max open positions must stop the fourth position");

    // Paused: nothing is bought.
    let open = r#"{"max_open_positions":50,"budgets":{"local":{"daily_budget":"10000000000000000000"}}}"#;
    net.set_controls(true, open).await;
    let l6 = launch("six").await;
    assert_eq!(wait_decided(&net.db, l6.token).await.as_deref(), Some("paused"));
    assert!(position(&net.db, l6.token).await.is_none(), "paused");

    // Circuit breaker: two failed buys (the node refuses), then no attempt even once it works.
    net.set_controls(false, open).await;
    net.proxy.set_send_fault(SendFault::Refuse);
    for name in ["seven", "eight"] {
        let l = launch(name).await;
        let p = wait_status(&net.db, l.token, "failed").await;
        assert_eq!(trades(&net.db, p.id).await[0].status, "failed");
    }
    net.proxy.set_send_fault(SendFault::None);
    let l9 = launch("nine").await;
    assert_eq!(wait_decided(&net.db, l9.token).await.as_deref(), Some("breaker_open"));
    assert!(position(&net.db, l9.token).await.is_none(), "breaker open");
    let (failures, until): (i64, i64) =
        sqlx::query_as("SELECT consecutive_failures, breaker_open_until_ms FROM trading_state WHERE chain = 'local'")
            .fetch_one(&net.db)
            .await
            .unwrap();
    assert_eq!(failures, 2);
    assert!(until > mirror::now_ms(), "persisted until the cooldown ends");
    k.stop().await;
    assert_eq!(net.nonce().await, 3, "three buys landed, nothing else was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_transaction_is_replaced_and_a_crash_after_sending_never_buys_twice() {
    let net = Net::start().await;
    let mut t = trading(true);
    t.take_profit_bps = 0;
    t.stop_loss_bps = 0;
    t.trailing_stop_bps = 0;
    t.max_hold_secs = 0;
    let env = &net.env;

    // The first broadcast never reaches the node: replaced at the same nonce, higher fees.
    let k = start(&net, t.clone()).await;
    net.proxy.set_send_fault(SendFault::SwallowOnce);
    let a = env.launch("stuck", &Launch::clean(TokenKind::Standard)).await;
    let pos = wait_status(&net.db, a.token, "open").await;
    let tr = &trades(&net.db, pos.id).await[0];
    let ids: Vec<String> = serde_json::from_str(&tr.tx_ids).unwrap();
    assert_eq!(ids.len(), 2, "replaced once: {ids:?}");
    assert_eq!(tr.tx_id.as_deref(), Some(ids[1].as_str()), "the replacement landed");
    assert_eq!(net.nonce().await, 1);

    // Crash between sending a buy and recording its result: the keeper stops while its
    // transaction is out (the node has not got it yet), then a new keeper starts.
    let mut slow = t.clone();
    slow.evm.replace_after_ms = 600_000;
    k.stop().await;
    let k = start(&net, slow.clone()).await;
    net.proxy.set_send_fault(SendFault::SwallowOnce);
    let b = env.launch("crash", &Launch::clean(TokenKind::Standard)).await;
    wait_for("buy sent", || async {
        let s: Option<String> = sqlx::query_scalar("SELECT status FROM trades WHERE token = ?")
            .bind(hex(b.token))
            .fetch_optional(&net.db)
            .await
            .unwrap();
        (s.as_deref() == Some("sent")).then_some(())
    })
    .await;
    k.stop().await; // the result was never recorded
    assert_eq!(position(&net.db, b.token).await.unwrap().status, "opening");
    let k = start(&net, slow).await;
    let pos = wait_status(&net.db, b.token, "open").await;
    assert_eq!(env.balance_of(b.token, net.wallet()).await, u(&pos.size));
    // Reconciled from the chain after the restart (the position is open): still one buy.
    k.stop().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM trades WHERE token = ? AND side = 'buy'")
        .bind(hex(b.token))
        .fetch_one(&net.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(net.nonce().await, 2, "exactly one transaction per buy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_records_paper_trades_and_sends_nothing() {
    let net = Net::start().await;
    let mut t = trading(false);
    // A daily budget of exactly one buy.
    t.chains.insert("local".into(), budget(e18(1) / U256::from(10u8), e18(1), e18(1) / U256::from(10u8)));
    let k = start(&net, t).await;
    let env = &net.env;
    let balance = env.provider.get_balance(net.wallet()).await.unwrap();

    let a = env.launch("paper", &Launch::clean(TokenKind::Standard)).await;
    let pos = wait_status(&net.db, a.token, "open").await;
    let tr = &trades(&net.db, pos.id).await[0];
    assert_eq!(tr.tx_id, None);
    assert_eq!(tr.tx_ids, "[]");
    assert!(u(&pos.size) > U256::ZERO);
    let hp = env.launch("honey", &Launch::clean(TokenKind::Honeypot)).await;
    assert!(wait_decided(&net.db, hp.token).await.is_some());
    assert!(position(&net.db, hp.token).await.is_none());
    let b = env.launch("over-budget", &Launch::clean(TokenKind::Standard)).await;
    assert_eq!(wait_decided(&net.db, b.token).await.as_deref(), Some("daily_budget"));
    assert!(position(&net.db, b.token).await.is_none(), "the paper budget is enforced too");

    env.trader_buy(a.token, e18(40)).await;
    let closed = wait_status(&net.db, a.token, "closed").await;
    assert_eq!(closed.exit_reason.as_deref(), Some("take_profit"));
    assert!(u(&closed.proceeds) > u(&closed.cost));
    k.stop().await;

    assert_eq!(net.nonce().await, 0, "no transaction reached the chain");
    assert_eq!(env.provider.get_balance(net.wallet()).await.unwrap(), balance);
}

/// Every EVM buy is compared with what 0x and 1inch quote for the same input (fakes on
/// 127.0.0.1 with the documented shapes), beside the buy: the differences are recorded, a failing
/// aggregator leaves its error, and the buy itself goes ahead either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buys_are_compared_with_0x_and_1inch_quotes() {
    let net = Net::start().await;
    let api = fake_api::FakeApi::start().await;
    api.respond("/swap/allowance-holder/price", |seen| {
        let q = &seen.query;
        fake_api::Reply::json(format!(
            r#"{{"blockNumber":"1","buyAmount":"123456789000000000000","buyToken":"{}","fees":{{"integratorFee":null,"zeroExFee":null,"gasFee":null}},
            "gas":"150000","gasPrice":"1000000000","issues":{{"allowance":null,"balance":null,"simulationIncomplete":false,"invalidSourcesPassed":[]}},
            "liquidityAvailable":true,"minBuyAmount":"122222221110000000000","route":{{"fills":[],"tokens":[]}},
            "sellAmount":"{}","sellToken":"{}","totalNetworkFee":"150000000000000","zid":"0x1"}}"#,
            q["buyToken"].to_lowercase(),
            q["sellAmount"],
            q["sellToken"].to_lowercase()
        ))
    });
    api.default("/swap/v6.0/31337/quote", fake_api::Reply::status(500, r#"{"error":"Internal Server Error"}"#));
    let service = ServiceConfig { enabled: true, max_retries: 0, ..ServiceConfig::new(&api.url, "", 60_000) };
    let aggregators = Aggregators {
        zeroex: Some(ZeroEx::new(&service, None).unwrap()),
        oneinch: Some(OneInch::new(&service, None).unwrap()),
    };
    let k = keeper_run::start(net.builder(trading(false)).aggregators(aggregators)).await;
    let a = net.env.launch("compared", &Launch::clean(TokenKind::Standard)).await;
    let pos = wait_status(&net.db, a.token, "open").await;
    let buy = &trades(&net.db, pos.id).await[0];
    /// service, our_out, their_out, diff_bps, error
    type Compared = (String, String, Option<String>, Option<i64>, Option<String>);
    let rows: Vec<Compared> = wait_for("both quotes", || async {
        let rows: Vec<Compared> = sqlx::query_as(
            "SELECT service, our_out, their_out, diff_bps, error FROM aggregator_quotes WHERE trade_id = ? ORDER BY service",
        )
        .bind(buy.id)
        .fetch_all(&net.db)
        .await
        .unwrap();
        (rows.len() == 2).then_some(rows)
    })
    .await;
    let (quoted, theirs) = (u(&buy.quoted_out), U256::from(123_456_789u64) * U256::from(10u64).pow(U256::from(12u8)));
    let expected = (alloy::primitives::I256::from_raw(theirs) - alloy::primitives::I256::from_raw(quoted))
        * alloy::primitives::I256::try_from(10_000).unwrap()
        / alloy::primitives::I256::from_raw(quoted);
    assert_eq!(rows[1].0, "zeroex");
    assert_eq!(rows[1].1, buy.quoted_out, "against the keeper's own exact quote");
    assert_eq!(rows[1].2.as_deref(), Some(theirs.to_string().as_str()));
    assert_eq!(rows[1].3, Some(i64::try_from(expected).unwrap()));
    assert_eq!(rows[0].0, "oneinch");
    assert_eq!((rows[0].2.as_deref(), rows[0].3), (None, None));
    assert!(rows[0].4.as_deref().unwrap_or_default().contains("500"), "{:?}", rows[0].4);
    let seen = &api.seen("/swap/allowance-holder/price")[0];
    assert_eq!(seen.query["chainId"], "31337");
    assert_eq!(seen.query["sellAmount"], buy.amount_in);
    k.stop().await;
}

/// A token is not bought again while its position is open nor within `cooldown_secs` of the
/// last buy (the same report replayed to the trader); maximum holding time sells on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_and_cooled_down_tokens_are_not_bought_again_and_max_hold_sells() {
    let net = Net::start().await;
    let mut t = trading(false);
    t.take_profit_bps = 0;
    t.stop_loss_bps = 0;
    t.trailing_stop_bps = 0;
    t.max_hold_secs = 3;
    t.cooldown_secs = 3_600;
    let k = start(&net, t.clone()).await;
    let a = net.env.launch("held", &Launch::clean(TokenKind::Standard)).await;
    let open = wait_status(&net.db, a.token, "open").await;
    let report = k.report(&hex(a.token)).expect("report");
    let replay = net.trader(t.clone()).await;
    assert_eq!(replay.on_report(&report).await.unwrap(), Choice::Refused(Refused::AlreadyHeld));

    let closed = wait_status(&net.db, a.token, "closed").await;
    assert_eq!(closed.id, open.id);
    assert_eq!(closed.exit_reason.as_deref(), Some("max_hold"));
    assert_eq!(replay.on_report(&report).await.unwrap(), Choice::Refused(Refused::Cooldown));
    k.stop().await;

    // Once the cooldown is over (here: none configured), the same report buys again.
    let again = net.trader(TradingConfig { cooldown_secs: 0, ..t }).await;
    assert!(matches!(again.on_report(&report).await.unwrap(), Choice::Bought { .. }));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM positions WHERE token = ?")
        .bind(hex(a.token))
        .fetch_one(&net.db)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

/// An exit whose sell fails (the node refuses it) stays open and is retried with backoff until
/// it goes through: the take-profit still happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sell_is_retried_with_backoff_until_the_exit_happens() {
    let net = Net::start().await;
    let k = start(&net, TradingConfig { stop_loss_bps: 0, trailing_stop_bps: 0, ..trading(true) }).await;
    let env = &net.env;
    let a = env.launch("retry", &Launch::clean(TokenKind::Standard)).await;
    let pos = wait_status(&net.db, a.token, "open").await;

    net.proxy.set_send_fault(SendFault::Refuse);
    env.trader_buy(a.token, e18(40)).await;
    // Two sells refused, the position back to open with a growing wait before the next try.
    let attempts = wait_for("two failed sells", || async {
        let (n, next, now): (i64, i64, i64) = sqlx::query_as(
            "SELECT exit_attempts, next_exit_at_ms, CAST(unixepoch('subsec') * 1000 AS INTEGER) FROM positions WHERE id = ?",
        )
        .bind(pos.id)
        .fetch_one(&net.db)
        .await
        .unwrap();
        (n >= 2).then_some((n, next - now))
    })
    .await;
    assert!(attempts.1 > 0, "waits before retrying: {attempts:?}");
    assert_eq!(position(&net.db, a.token).await.unwrap().status, "open");
    net.proxy.set_send_fault(SendFault::None);

    let closed = wait_status(&net.db, a.token, "closed").await;
    assert_eq!(closed.exit_reason.as_deref(), Some("take_profit"));
    assert_eq!(env.balance_of(a.token, net.wallet()).await, U256::ZERO, "everything sold");
    let sells: Vec<String> =
        sqlx::query_scalar("SELECT status FROM trades WHERE position_id = ? AND side = 'sell' ORDER BY id")
            .bind(pos.id)
            .fetch_all(&net.db)
            .await
            .unwrap();
    assert!(sells.len() >= 3 && sells.last().map(String::as_str) == Some("confirmed"), "{sells:?}");
    assert!(sells[..sells.len() - 1].iter().all(|s| s == "failed"), "{sells:?}");
    k.stop().await;
}

alloy::sol! {
    interface IGate {
        function enableTrading() external;
    }
}

alloy::sol! {
    interface ILatent {
        function updateRewards(uint256 bps) external;
        function claim(address who) external;
        function retire(address pool) external;
    }

    interface ISecondVenue {
        function approve(address spender, uint256 value) external returns (bool);
        function addLiquidityETH(address token, uint256 amountTokenDesired, uint256 amountTokenMin, uint256 amountETHMin, address to, uint256 deadline) external payable returns (uint256, uint256, uint256);
    }
}

/// The watchdog. Two latent scams get past the risk engine (its privilege search is given a
/// single simulation, so it is cut short, and the score limit lets that high finding through),
/// and are bought. Then each owner arms its token: a 99% sell fee, and a blacklist of our wallet.
/// Positions are valued by simulating the sale of all of them from our wallet, so each one is
/// marked trapped at the very block its owner's transaction landed in, with a finding in its
/// history, and an exit is attempted: the taxed one is sold for what it still returns, and the
/// blacklisted one, which no size can sell, stays trapped valued at nothing: its PnL is the loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_is_trapped_at_the_block_its_owner_arms_the_token_and_an_exit_is_attempted() {
    use alloy::sol_types::SolCall;

    let net = Net::start_with("sandbox_max_simulations = 1\n").await;
    let k = start(&net, TradingConfig { max_risk_score: 80, ..trading(true) }).await;
    let env = &net.env;

    // A post-launch fee switch.
    let fee = env.launch("rewards", &Launch::clean(TokenKind::Zoo("RewardsToken"))).await;
    let open = wait_status(&net.db, fee.token, "open").await;
    let report = k.report(&hex(fee.token)).expect("report");
    assert!(
        report.assessment.findings.iter().any(|f| f.check == "privilege_search_incomplete"),
        "the search was cut short, and the report says so: {}",
        report.assessment.summary
    );
    let armed =
        env.call(fee.token, ILatent::updateRewardsCall { bps: U256::from(9_900u32) }.abi_encode(), U256::ZERO).await;
    let armed_at = i64::try_from(armed.block_number.unwrap()).unwrap();
    let trapped = wait_for("the fee switch traps the position", || async {
        keeper_run::position_events(&net.db, open.id).await.into_iter().find(|e| e.kind == "trapped")
    })
    .await;
    assert_eq!(trapped.block, Some(armed_at), "trapped at the block the owner's call landed in");
    let finding: serde_json::Value = serde_json::from_str(&trapped.finding).unwrap();
    assert_eq!(finding["severity"], "critical");
    let why = finding["explanation"].as_str().unwrap();
    assert!(why.contains("sell tax") && (why.contains("9899 bps") || why.contains("9900 bps")), "{why}");
    // The exit: all of it sells, for about 1% of its value.
    let closed = wait_status(&net.db, fee.token, "closed").await;
    assert_eq!(closed.exit_reason.as_deref(), Some("trapped"));
    assert_eq!(env.balance_of(fee.token, net.wallet()).await, U256::ZERO, "everything sold");
    let (cost, proceeds) = (u(&closed.cost), u(&closed.proceeds));
    assert!(!proceeds.is_zero() && proceeds < cost / U256::from(50u8), "sold at the 99% fee: {closed:?}");
    let sell = trades(&net.db, closed.id).await.pop().unwrap();
    assert_eq!(sell.status, "confirmed");

    // A blacklist of our wallet.
    let black = env.launch("claim", &Launch::clean(TokenKind::Zoo("ClaimToken"))).await;
    let skipped = wait_decided(&net.db, black.token).await;
    assert_eq!(skipped, None, "bought: {:?}", k.report(&hex(black.token)).map(|r| r.assessment.summary));
    let open = wait_status(&net.db, black.token, "open").await;
    let armed = env.call(black.token, ILatent::claimCall { who: net.wallet() }.abi_encode(), U256::ZERO).await;
    let armed_at = i64::try_from(armed.block_number.unwrap()).unwrap();
    let blocked = wait_for("the blacklist traps the position and no size sells", || async {
        let e = keeper_run::position_events(&net.db, open.id).await;
        e.iter().any(|e| e.kind == "exit_blocked").then_some(e)
    })
    .await;
    assert_eq!(blocked[0].kind, "trapped");
    assert_eq!(blocked[0].block, Some(armed_at), "trapped at the block the owner's call landed in");
    assert!(blocked[0].finding.contains("reverts"), "{}", blocked[0].finding);
    let held = wait_status(&net.db, black.token, "trapped").await;
    assert_eq!(held.size, open.size, "nothing could be sold");
    // Valued by the simulated sale: nothing, so the unrealized PnL is the whole cost.
    let value: Option<String> = sqlx::query_scalar("SELECT last_value FROM positions WHERE id = ?")
        .bind(held.id)
        .fetch_one(&net.db)
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("0"));
    let sells: i64 = sqlx::query_scalar("SELECT count(*) FROM trades WHERE position_id = ? AND side = 'sell'")
        .bind(held.id)
        .fetch_one(&net.db)
        .await
        .unwrap();
    assert_eq!(sells, 0, "no transaction is sent that the simulation says reverts");
    k.stop().await;
}

/// Another route. The owner of a held token makes its launch pair refuse the token (every sale
/// through it reverts, at every size), but the token also trades on a second Uniswap V2
/// deployment (another venue of the chain's config). The trapped position's exit finds that
/// pool and sells all of it there: the sell trade records the venue and pool it went through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapped_position_is_sold_through_another_venue_when_its_own_pool_takes_no_sale() {
    use alloy::sol_types::{SolCall, SolValue};
    use keeper::config::{FactoryConfig, FactoryKind};

    let mut net = Net::start_with("sandbox_max_simulations = 1\n").await;
    let env = &net.env;
    let factory = env.deploy("UniswapV2Factory", env.deployer.abi_encode().into()).await;
    let router = env.deploy("UniswapV2Router02", (factory, env.weth).abi_encode_params().into()).await;
    let second =
        FactoryConfig { name: "second_v2".into(), kind: FactoryKind::V2, address: factory, router: Some(router) };
    net.config.evm.get_mut("local").unwrap().factories.push(second);
    let net = net;
    let env = &net.env;
    let k = start(&net, TradingConfig { max_risk_score: 80, ..trading(true) }).await;

    let l = env.launch("retire", &Launch::clean(TokenKind::Zoo("RetireToken"))).await;
    let open = wait_status(&net.db, l.token, "open").await;
    // The same token, paired with the same wrapped native, on the second venue (the deployer
    // buys some on the launch pair to seed it).
    env.trader_buy(l.token, e18(1)).await;
    env.call(l.token, ISecondVenue::approveCall { spender: router, value: U256::MAX }.abi_encode(), U256::ZERO).await;
    let add = ISecondVenue::addLiquidityETHCall {
        token: l.token,
        amountTokenDesired: env.balance_of(l.token, env.deployer).await,
        amountTokenMin: U256::ZERO,
        amountETHMin: U256::ZERO,
        to: env.deployer,
        deadline: U256::from(u64::MAX),
    };
    env.call(router, add.abi_encode(), e18(5)).await;

    env.call(l.token, ILatent::retireCall { pool: l.pair }.abi_encode(), U256::ZERO).await;
    keeper_run::wait_position_event(&net.db, open.id, "trapped").await;
    let closed = wait_status(&net.db, l.token, "closed").await;
    assert_eq!((closed.id, closed.exit_reason.as_deref()), (open.id, Some("trapped")));
    assert_eq!(env.balance_of(l.token, net.wallet()).await, U256::ZERO, "everything sold");
    assert!(!u(&closed.proceeds).is_zero());
    let (venue, pool, status): (Option<String>, Option<String>, String) =
        sqlx::query_as("SELECT venue, pool_address, status FROM trades WHERE position_id = ? AND side = 'sell'")
            .bind(open.id)
            .fetch_one(&net.db)
            .await
            .unwrap();
    let pair = keeper::chains::evm::abi::IUniswapV2Factory::new(factory, &env.provider)
        .getPair(l.token, env.weth)
        .call()
        .await
        .unwrap();
    assert_eq!((venue.as_deref(), pool, status.as_str()), (Some("second_v2"), Some(hex(pair)), "confirmed"));
    k.stop().await;
}

/// The buy's recorded discovery-to-broadcast latency.
async fn buy_latency(db: &SqlitePool, token: Address) -> i64 {
    let pos = wait_status(db, token, "open").await;
    wait_for("the buy's latency", || async { trades(db, pos.id).await.into_iter().next().and_then(|t| t.latency_us) })
        .await
}

/// A dead notification channel never slows a snipe, because the trader never waits on the
/// notifier (which only reads the mirror). Two live snipes in one run: the first with no
/// notifications, the second while Telegram hangs ten seconds on every message (one is in
/// flight when the launch lands) and a webhook points at a closed port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_notification_channel_leaves_the_snipe_latency_unchanged() {
    use keeper::notify::{telegram::BotToken, webhook::WebhookUrl, NotifySecrets};

    let net = Net::start().await;
    let env = &net.env;
    let k = start(&net, trading(true)).await;
    let calm = env.launch("calm", &Launch::clean(TokenKind::Standard)).await;
    let baseline = buy_latency(&net.db, calm.token).await;
    k.stop().await;

    let telegram = fake_api::FakeApi::start().await;
    let hanging = fake_api::Reply::json(r#"{"ok":true,"result":{}}"#).delayed(Duration::from_secs(10));
    telegram.default("/bot1:dead/sendMessage", hanging);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut notify = keeper::config::notify::NotifyConfig { enabled: true, poll_ms: 20, ..Default::default() };
    notify.telegram.enabled = true;
    notify.telegram.commands = false;
    notify.telegram.api_url = telegram.url.clone();
    notify.telegram.chat_ids = vec![1];
    notify.webhooks.push(keeper::config::notify::WebhookConfig {
        name: "dead".into(),
        format: keeper::config::notify::WebhookFormat::Discord,
        url_file: Default::default(),
        template: String::new(),
        timeout_ms: 10_000,
        retries: 4,
        backoff_ms: 1_000,
        types: Default::default(),
    });
    let secrets = NotifySecrets {
        telegram: Some(BotToken("1:dead".into())),
        webhooks: [("dead".to_string(), WebhookUrl(format!("http://{closed}/hook")))].into(),
        smtp_password: None,
    };
    let builder = net.builder(trading(true)).configure(move |c| c.notify = notify).notify_secrets(secrets);
    let k = keeper_run::start(builder).await;
    // Something to send, so both channels are stuck while the next launch is sniped.
    wait_for("the channels' cursors", || async {
        let t = mirror::notify::state(&net.db, "channel:telegram").await.unwrap();
        let w = mirror::notify::state(&net.db, "channel:webhook:dead").await.unwrap();
        (t.is_some() && w.is_some()).then_some(())
    })
    .await;
    let note = mirror::notify::NewNotification {
        kind: "health",
        dedupe_key: "test:stuck".into(),
        title: "stuck".into(),
        body: "a message the channels cannot deliver".into(),
        fields: "{}".into(),
        profit: None,
    };
    mirror::notify::insert(&net.db, &note).await.unwrap();
    wait_for("telegram hanging on a message", || async {
        (!telegram.seen("/bot1:dead/sendMessage").is_empty()).then_some(())
    })
    .await;
    let stormy = env.launch("stormy", &Launch::clean(TokenKind::Standard)).await;
    let with_dead_channels = buy_latency(&net.db, stormy.token).await;
    assert!(
        with_dead_channels <= (4 * baseline).max(baseline + 500_000),
        "snipe latency {with_dead_channels} us with dead channels, {baseline} us without"
    );
    k.stop().await;
}

alloy::sol! {
    interface IRugRouter {
        function removeLiquidityETH(address token, uint256 liquidity, uint256 amountTokenMin, uint256 amountETHMin, address to, uint256 deadline) external returns (uint256, uint256);
        function swapExactETHForTokens(uint256 amountOutMin, address[] path, address to, uint256 deadline) external payable returns (uint256[] memory);
    }
    #[sol(rpc)]
    interface IRugPair {
        function approve(address spender, uint256 value) external returns (bool);
        function balanceOf(address who) external view returns (uint256);
    }
}

/// The next verdict of the anti-rug watch on `tx` (others are skipped).
async fn verdict_on(
    rx: &mut tokio::sync::broadcast::Receiver<keeper::pipeline::PendingVerdict>,
    tx: alloy::primitives::B256,
) -> keeper::pipeline::PendingVerdict {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match rx.recv().await {
                Ok(v) if v.tx == tx => return v,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the watch stopped: {e}"),
            }
        }
    })
    .await
    .expect("a verdict on the pending transaction within 60 s")
}

/// Anti-rug, on anvil mining a block a second with fee ordering (its default). Three held
/// positions; their owner's rug transactions go to the mempool: a 99% sell fee, a blacklist of
/// our wallet, and pulling the liquidity. Each is simulated before it is mined, our sale lands
/// ahead of it (earlier in the same block, or before it), and the position closes with the reason
/// `front_ran_rug`. Another trader's pending buy, and the owner's LP approval, trigger nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_rugs_are_front_run_and_harmless_pending_transactions_are_not() {
    use alloy::{
        network::TransactionBuilder,
        primitives::B256,
        providers::ext::AnvilApi,
        rpc::types::{TransactionReceipt, TransactionRequest},
        sol_types::SolCall,
    };

    let mut net = Net::start_with("sandbox_max_simulations = 1\n").await;
    net.config.evm.get_mut("local").unwrap().mempool = true;
    // No exit rule fires on its own: only the anti-rug watch sells.
    let t = TradingConfig {
        max_risk_score: 80,
        take_profit_bps: 1_000_000,
        stop_loss_bps: 9_999,
        trailing_stop_bps: 0,
        max_hold_secs: 0,
        ..trading(true)
    };
    let k = start(&net, t).await;
    let mut verdicts = k.trader.as_ref().expect("trading").pending_verdicts();
    let env = &net.env;
    let fee = env.launch("rewards", &Launch::clean(TokenKind::Zoo("RewardsToken"))).await;
    let black = env.launch("claim", &Launch::clean(TokenKind::Zoo("ClaimToken"))).await;
    let pulled = env.launch("pulled", &last_tx_is_liquidity()).await;
    let mut open = Vec::new();
    for l in [&fee, &black, &pulled] {
        assert_eq!(wait_decided(&net.db, l.token).await, None, "bought {}", l.token);
        open.push(wait_status(&net.db, l.token, "open").await);
    }
    let lp = IRugPair::new(pulled.pair, &env.provider).balanceOf(env.deployer).call().await.unwrap();
    assert!(!lp.is_zero(), "the owner kept its LP");

    // From here anvil mines a block a second: pending transactions wait in its mempool.
    env.provider.anvil_set_auto_mine(false).await.unwrap();
    env.provider.anvil_set_interval_mining(1).await.unwrap();
    let pending = |from: Address, to: Address, input: Vec<u8>, value: U256| async move {
        let tx = TransactionRequest::default().with_from(from).with_to(to).with_input(input).with_value(value);
        *env.provider.send_transaction(tx).await.expect("sent to the mempool").tx_hash()
    };
    let receipt = |hash: B256| async move {
        wait_for("the transaction is mined", || async { env.provider.get_transaction_receipt(hash).await.unwrap() })
            .await
    };
    let deadline = U256::from(u64::MAX);

    // Harmless: another trader's buy, and the owner approving the router for its LP.
    let trader = env.anvil.addresses()[3];
    let buy = IRugRouter::swapExactETHForTokensCall {
        amountOutMin: U256::ZERO,
        path: vec![env.weth, fee.token],
        to: trader,
        deadline,
    };
    let buy = pending(trader, env.router, buy.abi_encode(), e18(1)).await;
    let v = verdict_on(&mut verdicts, buy).await;
    assert_eq!((v.position_id, v.harm.as_deref(), v.trade_id), (open[0].id, None, None), "{v:?}");
    let approve = IRugPair::approveCall { spender: env.router, value: U256::MAX }.abi_encode();
    let approve = pending(env.deployer, pulled.pair, approve, U256::ZERO).await;
    let v = verdict_on(&mut verdicts, approve).await;
    assert_eq!((v.harm.as_deref(), v.trade_id), (None, None), "{v:?}");
    receipt(buy).await;
    receipt(approve).await;
    assert_eq!(position(&net.db, fee.token).await.unwrap().status, "open", "nothing was sold");

    // The rugs.
    let rugs = [
        (&fee, ILatent::updateRewardsCall { bps: U256::from(9_900u32) }.abi_encode(), fee.token, "cut our sale"),
        (&black, ILatent::claimCall { who: net.wallet() }.abi_encode(), black.token, "revert"),
        (
            &pulled,
            IRugRouter::removeLiquidityETHCall {
                token: pulled.token,
                liquidity: lp,
                amountTokenMin: U256::ZERO,
                amountETHMin: U256::ZERO,
                to: env.deployer,
                deadline,
            }
            .abi_encode(),
            env.router,
            "",
        ),
    ];
    for (i, (l, input, to, says)) in rugs.into_iter().enumerate() {
        let rug = pending(env.deployer, to, input, U256::ZERO).await;
        let v = verdict_on(&mut verdicts, rug).await;
        assert_eq!(v.position_id, open[i].id);
        let harm = v.harm.clone().unwrap_or_else(|| panic!("rug {i} judged harmless: {v:?}"));
        assert!(harm.contains(says), "{harm}");
        let trade_id = v.trade_id.expect("a sale ahead of it");
        let rug: TransactionReceipt = receipt(rug).await;
        assert!(rug.status(), "the rug itself landed");
        let closed = wait_status(&net.db, l.token, "closed").await;
        assert_eq!(closed.exit_reason.as_deref(), Some("front_ran_rug"));
        let sell = trades(&net.db, closed.id).await.into_iter().find(|t| t.id == trade_id).unwrap();
        assert_eq!(sell.status, "confirmed", "{sell:?}");
        assert!(sell.latency_us.is_some(), "the pending rug seen -> our sale sent is recorded: {sell:?}");
        let ours = receipt(sell.tx_id.as_deref().unwrap().parse().unwrap()).await;
        let (a, b) = ((ours.block_number, ours.transaction_index), (rug.block_number, rug.transaction_index));
        assert!(a < b, "our sale (block, index) {a:?} lands before the rug's {b:?}");
        assert!(!u(&closed.proceeds).is_zero(), "sold for what it was worth before the rug: {closed:?}");
        assert_eq!(env.balance_of(l.token, net.wallet()).await, U256::ZERO, "everything sold");
    }
    let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM trades WHERE side = 'sell' ORDER BY id")
        .fetch_all(&net.db)
        .await
        .unwrap();
    assert_eq!(reasons, ["front_ran_rug"; 3], "no other sale");
    env.provider.anvil_set_auto_mine(true).await.unwrap();
    k.stop().await;
}

/// Block-0 buys, on anvil with fee ordering and its mining paused (a block then holds what the
/// mempool had when it is mined). A healthy launch sent to the mempool is scored on the state it
/// would leave and bought right after it, in its own block, at the next index; the buy is sent
/// only once the launch is seen, never before it. A latent scam (a renamed blacklist) launched
/// the same way is refused on its pre-launch report, and nothing is sent for it. The keeper
/// restarts while a third launch and its buy are still pending, and buys it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_launches_are_bought_in_their_own_block_scams_are_not_and_a_restart_buys_once() {
    use alloy::{primitives::B256, providers::ext::AnvilApi, rpc::types::TransactionReceipt};

    let mut net = Net::start().await;
    net.config.evm.get_mut("local").unwrap().mempool = true;
    let t = TradingConfig { max_risk_score: 80, ..trading(true) };
    let k = start(&net, t.clone()).await;
    let env = &net.env;
    let spread = Launch { burn_lp: false, renounce: false, ..Launch::clean(TokenKind::Standard) };
    let healthy = env.deploy_token(TokenKind::Standard, "zero", spread.supply).await;
    let healthy_launch = env.prepare_launch(healthy, &spread).await;
    let scam = env.deploy_token(TokenKind::Zoo("ClaimToken"), "claim", spread.supply).await;
    let scam_launch = env.prepare_launch(scam, &Launch { kind: TokenKind::Zoo("ClaimToken"), ..spread.clone() }).await;
    let later = env.deploy_token(TokenKind::Standard, "later", spread.supply).await;
    let later_launch = env.prepare_launch(later, &spread).await;
    let nonce = net.nonce().await;

    // From here nothing is mined until the test says so.
    env.provider.anvil_set_auto_mine(false).await.unwrap();
    let to_mempool =
        |tx| async move { *env.provider.send_transaction(tx).await.expect("sent to the mempool").tx_hash() };
    let receipt = |hash: B256| async move {
        wait_for("the transaction is mined", || async { env.provider.get_transaction_receipt(hash).await.unwrap() })
            .await
    };
    // The buy of `token`, once signed and sent.
    let db = &net.db;
    let sent_buy = |token: Address| async move {
        wait_for("the buy is sent", || async {
            let p = position(db, token).await?;
            let t = trades(db, p.id).await.into_iter().next()?;
            let signed: Vec<String> = serde_json::from_str(&t.tx_ids).unwrap();
            let hash = signed.first()?.parse::<B256>().unwrap();
            Some((p, t, hash))
        })
        .await
    };

    let launch = to_mempool(healthy_launch).await;
    let (_, buy, hash) = sent_buy(healthy).await;
    assert!(env.provider.get_transaction_receipt(launch).await.unwrap().is_none(), "the launch is still pending");
    let report: (i64, String) =
        sqlx::query_as("SELECT tradeable, findings FROM risk_reports WHERE token = ? ORDER BY id LIMIT 1")
            .bind(hex(healthy))
            .fetch_one(&net.db)
            .await
            .unwrap();
    assert_eq!(report.0, 1);
    assert!(report.1.contains("pre_launch"), "scored on the launch's state: {}", report.1);
    env.provider.anvil_mine(Some(1), None).await.unwrap();
    let (l, b): (TransactionReceipt, TransactionReceipt) = (receipt(launch).await, receipt(hash).await);
    assert!(l.status() && b.status(), "both landed: {l:?} {b:?}");
    assert_eq!(b.block_number, l.block_number, "bought in the launch's own block");
    assert_eq!(b.transaction_index, l.transaction_index.map(|i| i + 1), "right after the launch");
    let pos = wait_status(&net.db, healthy, "open").await;
    assert_eq!(env.balance_of(healthy, net.wallet()).await, u(&pos.size));
    assert!(u(buy.amount_out.as_deref().unwrap_or(&pos.size)) >= u(&buy.min_out));

    // A latent scam: refused before it is mined; nothing sent.
    let scam_tx = to_mempool(scam_launch).await;
    let reason = wait_decided(&net.db, scam).await;
    assert!(reason.is_some(), "the scam is not bought");
    assert!(position(&net.db, scam).await.is_none());
    env.provider.anvil_mine(Some(1), None).await.unwrap();
    assert!(receipt(scam_tx).await.status());

    // A restart while a launch and the buy after it are pending: bought once.
    let launch = to_mempool(later_launch).await;
    let (p, _, hash) = sent_buy(later).await;
    k.stop().await;
    let k = start(&net, t).await;
    env.provider.anvil_mine(Some(1), None).await.unwrap();
    let (l, b) = (receipt(launch).await, receipt(hash).await);
    assert_eq!((b.block_number, b.transaction_index), (l.block_number, l.transaction_index.map(|i| i + 1)));
    // Mined, the pair is discovered and scored again: the trader refuses a second buy.
    let refused = wait_for("the mined pair's decision", || async {
        sqlx::query_scalar::<_, String>(
            "SELECT reason FROM decisions WHERE token = ? AND action = 'skip' AND reason IS NOT NULL",
        )
        .bind(hex(later))
        .fetch_optional(&net.db)
        .await
        .unwrap()
    })
    .await;
    assert_eq!(refused, "already_held");
    assert_eq!(wait_status(&net.db, later, "open").await.id, p.id);
    // The keeper stopped before the buy settled: the decision to buy was recorded with the
    // position it opened, and comes before the later report's refusal.
    let decided: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT action, position_id FROM decisions WHERE token = ? ORDER BY id")
            .bind(hex(later))
            .fetch_all(&net.db)
            .await
            .unwrap();
    assert_eq!(decided.first(), Some(&("buy".to_string(), Some(p.id))), "{decided:?}");
    let buys: i64 = sqlx::query_scalar("SELECT count(*) FROM trades WHERE token = ? AND side = 'buy'")
        .bind(hex(later))
        .fetch_one(&net.db)
        .await
        .unwrap();
    assert_eq!(buys, 1);
    env.provider.anvil_set_auto_mine(true).await.unwrap();
    k.stop().await;
    // Two buys and the first one's router approval (a buy settled after a restart approves at
    // its sale); nothing for the scam.
    assert_eq!(net.nonce().await, nonce + 3);
}

/// Trading opened by the token's own call, recognised by its effect: a funded pair whose buys
/// revert (trading not open yet) is refused; its owner's pending `enableTrading` (a function the
/// keeper knows by no name) is run in the sandbox, the buy succeeds after it, and the keeper buys
/// right after it, in its block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_call_that_opens_trading_is_bought_right_after_it() {
    use alloy::{
        network::TransactionBuilder, primitives::B256, providers::ext::AnvilApi, rpc::types::TransactionRequest,
        sol_types::SolCall,
    };

    let mut net = Net::start().await;
    net.config.evm.get_mut("local").unwrap().mempool = true;
    let k = start(&net, TradingConfig { max_risk_score: 80, ..trading(true) }).await;
    let env = &net.env;
    let l = env.launch("gated", &Launch::clean(TokenKind::Zoo("GatedToken"))).await;
    assert_eq!(wait_decided(&net.db, l.token).await.as_deref(), Some("not_tradeable"), "buys revert until it opens");

    env.provider.anvil_set_auto_mine(false).await.unwrap();
    let open = TransactionRequest::default()
        .with_from(env.deployer)
        .with_to(l.token)
        .with_input(IGate::enableTradingCall {}.abi_encode());
    let open = *env.provider.send_transaction(open).await.unwrap().tx_hash();
    let (pos, hash) = wait_for("the buy is sent", || async {
        let p = position(&net.db, l.token).await?;
        let t = trades(&net.db, p.id).await.into_iter().next()?;
        let signed: Vec<String> = serde_json::from_str(&t.tx_ids).unwrap();
        Some((p, signed.first()?.parse::<B256>().unwrap()))
    })
    .await;
    assert!(env.provider.get_transaction_receipt(open).await.unwrap().is_none(), "trading is not open yet");
    env.provider.anvil_mine(Some(1), None).await.unwrap();
    let receipt = |h: B256| async move {
        wait_for("mined", || async { env.provider.get_transaction_receipt(h).await.unwrap() }).await
    };
    let (o, b) = (receipt(open).await, receipt(hash).await);
    assert!(o.status() && b.status(), "{o:?} {b:?}");
    assert_eq!((b.block_number, b.transaction_index), (o.block_number, o.transaction_index.map(|i| i + 1)));
    assert_eq!(wait_status(&net.db, l.token, "open").await.id, pos.id);
    let findings: String = sqlx::query_scalar(
        "SELECT r.findings FROM risk_reports r JOIN decisions d ON d.report_id = r.id WHERE d.position_id = ?",
    )
    .bind(pos.id)
    .fetch_one(&net.db)
    .await
    .unwrap();
    assert!(findings.contains("pre_open"), "bought on the report of the state it leaves: {findings}");
    env.provider.anvil_set_auto_mine(true).await.unwrap();
    k.stop().await;
}

/// A Flashbots-compatible relay on 127.0.0.1, answering `eth_sendPrivateTransaction` as the
/// relays document it (`{"result": "<hash>"}`), and putting each transaction on the chain it
/// fronts (anvil), as a builder would. It keeps every request: its body and signature header.
struct FakeRelay {
    url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<(serde_json::Value, String)>>>,
}

impl FakeRelay {
    async fn start(chain: String) -> Self {
        use axum::{extract::State, http::HeaderMap, routing::post, Router};
        type Shared = (String, std::sync::Arc<std::sync::Mutex<Vec<(serde_json::Value, String)>>>);
        async fn handle(State(s): State<std::sync::Arc<Shared>>, headers: HeaderMap, body: String) -> String {
            let req: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let sig = headers.get("x-flashbots-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            s.1.lock().unwrap().push((req.clone(), format!("{sig}\n{body}")));
            // The builder's part, played by anvil: the transaction goes into its pool (a bundle
            // for a later block is the same transaction again, "already known").
            let node = s.0.clone();
            let forward = |raw: serde_json::Value| {
                let node = node.clone();
                async move {
                    let forward = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                        "params": [raw]});
                    let answer: serde_json::Value =
                        reqwest::Client::new().post(&node).json(&forward).send().await.unwrap().json().await.unwrap();
                    answer
                }
            };
            match req["method"].as_str() {
                Some("eth_sendPrivateTransaction") => {
                    let answer = forward(req["params"][0]["tx"].clone()).await;
                    serde_json::json!({"jsonrpc": "2.0", "id": req["id"], "result": answer["result"]}).to_string()
                }
                Some("eth_sendBundle") => {
                    for raw in req["params"][0]["txs"].as_array().cloned().unwrap_or_default() {
                        forward(raw).await;
                    }
                    let hash = alloy::primitives::keccak256(body.as_bytes());
                    serde_json::json!({"jsonrpc": "2.0", "id": req["id"], "result": {"bundleHash": hash}}).to_string()
                }
                _ => serde_json::json!({"jsonrpc": "2.0", "id": req["id"],
                    "error": {"code": -32601, "message": "method not found"}})
                .to_string(),
            }
        }
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = Router::new().route("/", post(handle)).with_state(std::sync::Arc::new((chain, requests.clone())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, requests }
    }
}

/// A relay request as the fake relay recorded it (`<X-Flashbots-Signature>\n<body>`) is signed by
/// `wallet`: the header names it, and its EIP-191 signature of the body's keccak256 recovers it.
fn assert_signed_by(signed: &str, wallet: Address) {
    let (header, body) = signed.split_once('\n').unwrap();
    let (who, sig) = header.split_once(':').expect("address:signature");
    let sig: alloy::primitives::Signature = sig.parse().unwrap();
    let digest = format!("{:#x}", alloy::primitives::keccak256(body.as_bytes()));
    let signer = sig.recover_address_from_msg(digest.as_bytes()).unwrap();
    assert_eq!((who.parse::<Address>().unwrap(), signer), (wallet, wallet));
}

/// A keeper sending through `relay` by `method` while the public node refuses every transaction,
/// and a launch it buys: the keeper, the confirmed buy and its raw transaction.
async fn bought_through_relay(
    net: &Net,
    relay: &FakeRelay,
    method: RelayMethod,
    name: &str,
) -> (Running, Trade, String) {
    net.proxy.set_send_fault(SendFault::Refuse);
    let mut t = trading(true);
    t.evm.private_relay_url = relay.url.clone();
    t.evm.private_relay_method = method;
    let k = start(net, t).await;
    let l = net.env.launch(name, &last_tx_is_liquidity()).await;
    assert_eq!(wait_decided(&net.db, l.token).await, None, "bought");
    let open = wait_status(&net.db, l.token, "open").await;
    let buy = trades(&net.db, open.id).await.remove(0);
    assert_eq!(buy.status, "confirmed", "{buy:?}");
    let raw: String =
        sqlx::query_scalar("SELECT raw_tx FROM trades WHERE id = ?").bind(buy.id).fetch_one(&net.db).await.unwrap();
    (k, buy, raw)
}

/// Private submission: with `private_relay_url` set, live transactions go to the relay, signed
/// in `X-Flashbots-Signature` with the trading key, and not to the public node (which refuses
/// every transaction here): the snipe still lands, through the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_transactions_go_through_a_private_relay_when_one_is_set() {
    let net = Net::start().await;
    let relay = FakeRelay::start(net.env.http_url()).await;
    let (k, _, raw) = bought_through_relay(&net, &relay, RelayMethod::PrivateTransaction, "private").await;
    let requests = relay.requests.lock().unwrap().clone();
    let (req, signed) =
        requests.iter().find(|(r, _)| r["params"][0]["tx"] == raw.as_str()).expect("the buy went to the relay");
    assert_eq!(req["method"], "eth_sendPrivateTransaction");
    assert!(req["params"][0]["maxBlockNumber"].as_str().unwrap().starts_with("0x"));
    assert_signed_by(signed, net.wallet());
    k.stop().await;
}

/// The owner pulls most of the liquidity while we hold (a price-neutral rug: no stop loss
/// fires). The risk watch scores the pool again, the anomaly watch flags the quote reserve's
/// drop, and with `exit_on_anomaly = ["liquidity_drop"]` the position is sold with the reason
/// `anomaly`; the anomaly stays in the pool's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_liquidity_drop_is_flagged_and_sells_the_position_when_configured() {
    use alloy::sol_types::SolCall;

    let mut net = Net::start().await;
    net.config.anomaly.every_ms = 100;
    // No exit rule fires on its own: only the anomaly sells.
    let t = TradingConfig {
        take_profit_bps: 1_000_000,
        stop_loss_bps: 9_999,
        trailing_stop_bps: 0,
        max_hold_secs: 0,
        exit_on_anomaly: vec!["liquidity_drop".into()],
        ..trading(false)
    };
    let recovery = Recovery {
        rescore_empty_after: Duration::from_secs(3600),
        watch_every: Duration::from_millis(200),
        ..Recovery::default()
    };
    let k = keeper_run::start(net.builder(t).recovery(recovery)).await;
    let env = &net.env;
    let pulled = env.launch("drained", &last_tx_is_liquidity()).await;
    let open = wait_status(&net.db, pulled.token, "open").await;

    // The owner takes 60% of the liquidity out.
    let lp = IRugPair::new(pulled.pair, &env.provider).balanceOf(env.deployer).call().await.unwrap();
    env.call(pulled.pair, IRugPair::approveCall { spender: env.router, value: U256::MAX }.abi_encode(), U256::ZERO)
        .await;
    let remove = IRugRouter::removeLiquidityETHCall {
        token: pulled.token,
        liquidity: lp * U256::from(6u8) / U256::from(10u8),
        amountTokenMin: U256::ZERO,
        amountETHMin: U256::ZERO,
        to: env.deployer,
        deadline: U256::from(u64::MAX),
    };
    env.call(env.router, remove.abi_encode(), U256::ZERO).await;

    let closed = wait_status(&net.db, pulled.token, "closed").await;
    assert_eq!((closed.id, closed.exit_reason.as_deref()), (open.id, Some("anomaly")));
    let (kind, finding): (String, String) =
        sqlx::query_as("SELECT kind, finding FROM anomalies WHERE token = ? ORDER BY id LIMIT 1")
            .bind(hex(pulled.token))
            .fetch_one(&net.db)
            .await
            .unwrap();
    assert_eq!(kind, "liquidity_drop");
    let f: serde_json::Value = serde_json::from_str(&finding).unwrap();
    let drop = f["measured"]["drop_bps"].as_u64().unwrap();
    // The pool had the launch's liquidity plus our buy; 60% of the LP left with the owner.
    assert!((5_500..=6_000).contains(&drop), "{f}");
    k.stop().await;
}

/// `private_relay_method = "bundle"`: each live transaction goes to the relay as
/// `eth_sendBundle` of that one transaction for the next blocks (one bundle per block, as a
/// bundle targets one), signed like any relay request; the public node refuses everything, and
/// the snipe lands through the bundle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_transactions_go_as_bundles_when_the_relay_method_is_bundle() {
    let net = Net::start().await;
    let relay = FakeRelay::start(net.env.http_url()).await;
    let (k, buy, raw) = bought_through_relay(&net, &relay, RelayMethod::Bundle, "bundled").await;
    let requests = relay.requests.lock().unwrap().clone();
    let bundles: Vec<&(serde_json::Value, String)> =
        requests.iter().filter(|(r, _)| r["params"][0]["txs"][0] == raw.as_str()).collect();
    let block = |r: &serde_json::Value| {
        u64::from_str_radix(r["params"][0]["blockNumber"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    // One bundle for each of the 5 blocks after the head it was signed at.
    let targets: Vec<u64> = bundles.iter().take(5).map(|(r, _)| block(r)).collect();
    assert_eq!(targets.len(), 5, "{targets:?}");
    assert!(targets.windows(2).all(|w| w[1] == w[0] + 1), "{targets:?}");
    let (req, signed) = bundles[0];
    assert_eq!(req["method"], "eth_sendBundle");
    assert_eq!(req["params"][0]["txs"].as_array().unwrap().len(), 1);
    let landed = u64::try_from(buy.block.unwrap()).unwrap();
    assert!((targets[0]..=targets[4]).contains(&landed), "bundled for {targets:?}, landed in {landed}");
    assert_signed_by(signed, net.wallet());
    k.stop().await;
}

/// The backtest's honesty check on EVM: a dry-run on anvil is recorded in the mirror (pairs,
/// their reserve changes, reports, paper trades), then the same period is replayed by
/// `keeper backtest`'s engine with the same settings, filling at the reserves each report
/// measured. The same tokens are bought, and sold for the same reasons; each buy and sale is the
/// paper fill to within one base unit per swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backtest_of_an_evm_dry_run_reproduces_its_paper_fills() {
    use keeper::backtest::{run, History, LiveStrategy, Settings};

    let net = Net::start().await;
    let t = TradingConfig { trailing_stop_bps: 0, take_profit_bps: 5_000, ..trading(false) };
    let from = mirror::now_ms();
    let k = start(&net, t.clone()).await;
    let env = &net.env;
    let up = env.launch("riser", &Launch::clean(TokenKind::Standard)).await;
    let held = env.launch("holder", &Launch::clean(TokenKind::Standard)).await;
    let honey = env.launch("honey", &Launch::clean(TokenKind::Honeypot)).await;
    wait_status(&net.db, up.token, "open").await;
    wait_status(&net.db, held.token, "open").await;
    assert!(wait_decided(&net.db, honey.token).await.is_some(), "the honeypot is skipped");
    env.trader_buy(up.token, e18(40)).await;
    wait_status(&net.db, up.token, "closed").await;
    // Every reserve change of the closed pool is mirrored before the replay reads them.
    let pair = hex(up.pair);
    wait_for("the take-profit's swap mirrored", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pool_events WHERE pool_address = ? AND kind = 'swap'")
            .bind(&pair)
            .fetch_one(&net.db)
            .await
            .unwrap();
        (n >= 1).then_some(())
    })
    .await;
    k.stop().await;

    let history = History::load(&net.db, Some("local"), from, mirror::now_ms() + 1).await.unwrap();
    let settings = Settings {
        trading: t.clone(),
        default_quotes: net.config.default_quotes(),
        fill_delay_blocks: 0,
        fee_per_trade: Default::default(),
        capital: e18(100),
    };
    let report = run(&history, &settings, &LiveStrategy(&t)).unwrap();
    reconcile::assert_reproduces_paper(&net.db, &report).await;
    assert_eq!((report.metrics.trades, report.trades[0].exit_reason.as_str()), (1, "take_profit"));
}
