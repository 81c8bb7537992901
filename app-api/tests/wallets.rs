//! The wallet routes against a real localnet: balances and LP positions read from the chain,
//! and every transaction builder (create-pool, swap, deposit, withdraw, transfer, Solana Actions)
//! returning an unsigned transaction that, signed by the wallet's key and sent, does what its
//! response said, within the integer bounds the response named.

mod common;

use amm::{
    client::PoolAddresses,
    math::{
        curve::{swap_exact_in, swap_exact_out},
        liquidity::{lp_for_max_amounts, withdraw_amounts},
    },
    AmmConfig, Pool,
};
use anchor_lang::{prelude::Pubkey, AccountDeserialize};
use axum::{
    body::Body,
    http::{Request, StatusCode},
    Router,
};
use common::{fixture, get, on_localnet, send};
use http_body_util::BodyExt;
use localnet::sim::Launcher;
use serde_json::{json, Value};
use solana_sdk::{signature::Keypair, signer::Signer, transaction::VersionedTransaction};
use tower::ServiceExt;

/// The response's unsigned transaction, signed by `key`.
fn signed(resp: &Value, key: &Keypair) -> VersionedTransaction {
    let b64 = resp["transaction"].as_str().unwrap_or_else(|| panic!("no transaction in {resp}"));
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
    let unsigned: VersionedTransaction = bincode::deserialize(&bytes).unwrap();
    assert!(matches!(unsigned.message, solana_sdk::message::VersionedMessage::V0(_)), "a v0 message");
    assert_eq!(unsigned.message.static_account_keys()[0], key.pubkey(), "the wallet pays");
    assert_eq!(unsigned.message.header().num_required_signatures, 1, "and is the only signer");
    VersionedTransaction::try_new(unsigned.message, &[key]).unwrap()
}

fn pool_and_config(net: &localnet::Localnet, pool: &Pubkey) -> (Pool, AmmConfig) {
    let chain = net.chain();
    let p = Pool::try_deserialize(&mut chain.svm.get_account(pool).unwrap().data.as_slice()).unwrap();
    let c = AmmConfig::try_deserialize(&mut chain.svm.get_account(&p.config).unwrap().data.as_slice()).unwrap();
    (p, c)
}

fn n(v: &Value) -> u64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an integer string: {v}"))
}

/// `amount` less `bps` basis points, rounded down.
fn less(amount: u64, bps: u64) -> u64 {
    u64::try_from(u128::from(amount) * u128::from(10_000 - bps) / 10_000).unwrap()
}

/// A pool's whole life through the builders, each transaction signed by the wallet and sent:
/// create-pool seeds the pool with exactly the amounts asked for; swaps receive exactly the
/// quote, and a stale one is refused by the bound written into it; a deposit takes what it said
/// and mints the LP tokens it said; a withdrawal pays what it said, at least its minima. Bad
/// input is a 400 naming the field, an unknown pool a 404, a second pool of the same mints a
/// 409, and a withdrawal beyond the wallet's LP tokens fails its simulation (422, with logs).
#[tokio::test]
async fn liquidity_and_swaps_are_built_for_the_wallet_and_land_when_signed() {
    let f = fixture().await;
    let (net, payer, app) = on_localnet(&f).await;
    let launcher = Launcher { net: &net, payer: &payer };
    launcher.ensure_config().unwrap();
    let me = payer.pubkey();
    let (x, y) = (launcher.mint(false).unwrap(), launcher.mint(false).unwrap());
    launcher.mint_to(&x, &me, 10_000_000_000).unwrap();
    launcher.mint_to(&y, &me, 10_000_000_000).unwrap();

    let create = json!({"wallet": me.to_string(), "mint_x": x.to_string(), "mint_y": y.to_string(),
        "amount_x": "2000000000", "amount_y": "500000000"});
    let (status, created) = send(&app, "POST", "/api/v1/tx/create-pool", None, Some(create.clone())).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    net.chain().execute(signed(&created, &payer), false).expect("the pool creation lands");
    let pool_key: Pubkey = created["pool"].as_str().unwrap().parse().unwrap();
    let (pool, config) = pool_and_config(&net, &pool_key);
    let (a, b) = (pool.mint_a, pool.mint_b);
    assert_eq!(
        (created["mint_a"].as_str(), created["mint_b"].as_str()),
        (Some(&*a.to_string()), Some(&*b.to_string()))
    );
    let (want_a, want_b) = if a == x { (2_000_000_000, 500_000_000) } else { (500_000_000, 2_000_000_000) };
    assert_eq!((pool.reserve_a, pool.reserve_b), (want_a, want_b), "seeded with exactly the amounts asked for");
    assert_eq!(n(&created["lp_amount"]), 1_000_000_000 - 1_000, "sqrt(a * b) less the locked 1,000");
    assert_eq!(launcher.balance(&me, &pool.lp_mint), 999_999_000);
    let (status, again) = send(&app, "POST", "/api/v1/tx/create-pool", None, Some(create.clone())).await;
    assert_eq!((status, again["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{again}");
    let addresses = PoolAddresses::from_pool(pool_key, &pool);

    // A swap receives exactly its quote, which is the program's math on the reserves on chain.
    let swap = json!({"pool": pool_key.to_string(), "wallet": me.to_string(), "a_to_b": true,
        "amount": "10000000", "slippage_bps": 100});
    let (status, quoted) = send(&app, "POST", "/api/v1/tx/swap", None, Some(swap.clone())).await;
    assert_eq!(status, StatusCode::OK, "{quoted}");
    let q = swap_exact_in(10_000_000, pool.reserve_a, pool.reserve_b, config.fees()).unwrap();
    assert_eq!(n(&quoted["quoted_amount_out"]), q.amount_out);
    assert_eq!(n(&quoted["other_amount_threshold"]), less(q.amount_out, 100));
    assert_eq!(quoted["input_mint"], a.to_string());
    let before = launcher.balance(&me, &b);
    net.chain().execute(signed(&quoted, &payer), false).expect("the swap lands");
    assert_eq!(launcher.balance(&me, &b) - before, q.amount_out, "received exactly the quote");

    // exact_out: the maximum spent is the quote plus the tolerance, rounded up.
    let mut exact_out = swap.clone();
    exact_out["mode"] = "exact_out".into();
    exact_out["a_to_b"] = false.into();
    let (pool, _) = pool_and_config(&net, &pool_key);
    let (status, out) = send(&app, "POST", "/api/v1/tx/swap", None, Some(exact_out)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let q = swap_exact_out(10_000_000, pool.reserve_b, pool.reserve_a, config.fees()).unwrap();
    assert_eq!(n(&out["other_amount_threshold"]), (q.amount_in * 10_100).div_ceil(10_000));
    let before = launcher.balance(&me, &a);
    net.chain().execute(signed(&out, &payer), false).expect("the exact-out swap lands");
    assert_eq!(launcher.balance(&me, &a) - before, 10_000_000, "received exactly the amount asked for");

    // The bound is real: a swap built before someone else moved the price is refused on chain.
    let mut tight = swap.clone();
    tight["slippage_bps"] = 10.into();
    let (status, stale) = send(&app, "POST", "/api/v1/tx/swap", None, Some(tight)).await;
    assert_eq!(status, StatusCode::OK, "{stale}");
    launcher.swap(&addresses, &b, true, 300_000_000).unwrap();
    let refused = net.chain().execute(signed(&stale, &payer), false).expect_err("the stale swap is refused");
    let slippage = anchor_lang::error::ERROR_CODE_OFFSET + amm::AmmError::SlippageExceeded as u32;
    assert!(
        matches!(refused.result, Err(solana_sdk::transaction::TransactionError::InstructionError(_,
            solana_sdk::instruction::InstructionError::Custom(c))) if c == slippage),
        "refused by the slippage bound: {:?}",
        refused.result
    );

    // A deposit takes what it said (within the maxima) and mints the LP tokens it said.
    let (pool, _) = pool_and_config(&net, &pool_key);
    let deposit = json!({"pool": pool_key.to_string(), "wallet": me.to_string(),
        "max_amount_a": "100000000", "max_amount_b": "100000000", "slippage_bps": 100});
    let (status, dep) = send(&app, "POST", "/api/v1/tx/deposit", None, Some(deposit.clone())).await;
    assert_eq!(status, StatusCode::OK, "{dep}");
    let lp = less(
        lp_for_max_amounts(100_000_000, 100_000_000, pool.reserve_a, pool.reserve_b, pool.lp_supply).unwrap(),
        100,
    );
    assert_eq!(n(&dep["lp_amount"]), lp);
    let (ba, bb, blp) = (launcher.balance(&me, &a), launcher.balance(&me, &b), launcher.balance(&me, &pool.lp_mint));
    net.chain().execute(signed(&dep, &payer), false).expect("the deposit lands");
    let spent = (ba - launcher.balance(&me, &a), bb - launcher.balance(&me, &b));
    assert_eq!(spent, (n(&dep["amount_a"]), n(&dep["amount_b"])), "took what it said");
    assert!(spent.0 <= 100_000_000 && spent.1 <= 100_000_000, "within the maxima");
    assert_eq!(launcher.balance(&me, &pool.lp_mint) - blp, lp, "minted what it said");

    // A withdrawal pays what it said, at least its minima.
    let (pool, _) = pool_and_config(&net, &pool_key);
    let withdraw = json!({"pool": pool_key.to_string(), "wallet": me.to_string(), "lp_amount": lp.to_string()});
    let (status, wd) = send(&app, "POST", "/api/v1/tx/withdraw", None, Some(withdraw.clone())).await;
    assert_eq!(status, StatusCode::OK, "{wd}");
    let (out_a, out_b) = withdraw_amounts(lp, pool.reserve_a, pool.reserve_b, pool.lp_supply).unwrap();
    assert_eq!((n(&wd["amount_a"]), n(&wd["amount_b"])), (out_a, out_b));
    assert_eq!((n(&wd["min_amount_a"]), n(&wd["min_amount_b"])), (less(out_a, 50), less(out_b, 50)));
    let (ba, bb) = (launcher.balance(&me, &a), launcher.balance(&me, &b));
    net.chain().execute(signed(&wd, &payer), false).expect("the withdrawal lands");
    assert_eq!((launcher.balance(&me, &a) - ba, launcher.balance(&me, &b) - bb), (out_a, out_b));

    // LP tokens the wallet does not hold: the simulation fails, and says why.
    let stranger = Keypair::new();
    net.chain().svm.airdrop(&stranger.pubkey(), 1_000_000_000).unwrap();
    let mut too_much = withdraw.clone();
    too_much["wallet"] = stranger.pubkey().to_string().into();
    let (status, resp) = send(&app, "POST", "/api/v1/tx/withdraw", None, Some(too_much)).await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("simulation_failed")),
        "{resp}"
    );
    assert!(resp["logs"].as_array().is_some_and(|l| !l.is_empty()), "{resp}");

    // Bad input names its field; an unknown pool is a 404.
    let cases: [(&str, &Value, &str, Value); 7] = [
        ("/api/v1/tx/deposit", &deposit, "max_amount_a", "0".into()),
        ("/api/v1/tx/deposit", &deposit, "slippage_bps", 9_000.into()),
        ("/api/v1/tx/withdraw", &withdraw, "lp_amount", "x".into()),
        ("/api/v1/tx/withdraw", &withdraw, "min_amount_a", "-1".into()),
        ("/api/v1/tx/create-pool", &create, "mint_y", x.to_string().into()),
        ("/api/v1/tx/create-pool", &create, "amount_x", "1".into()),
        ("/api/v1/tx/swap", &swap, "mode", "sideways".into()),
    ];
    for (route, body, field, value) in cases {
        let mut bad = body.clone();
        bad[field] = value;
        if field == "amount_x" {
            bad["amount_y"] = "1".into();
        }
        let (status, resp) = send(&app, "POST", route, None, Some(bad)).await;
        assert_eq!((status, resp["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{route}: {resp}");
    }
    for (route, body) in
        [("/api/v1/tx/deposit", &deposit), ("/api/v1/tx/withdraw", &withdraw), ("/api/v1/tx/swap", &swap)]
    {
        let mut unknown = body.clone();
        unknown["pool"] = Pubkey::new_unique().to_string().into();
        let (status, resp) = send(&app, "POST", route, None, Some(unknown)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{route}: {resp}");
    }
    let mut no_config = create;
    no_config["config_index"] = 9.into();
    let (status, resp) = send(&app, "POST", "/api/v1/tx/create-pool", None, Some(no_config)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{resp}");
    // Without a Solana RPC nothing can be built: 503, not a transaction with a made-up blockhash.
    let (status, resp) = send(&f.app, "POST", "/api/v1/tx/swap", None, Some(swap)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{resp}");
}

/// A raw request through the router, for the headers.
async fn raw(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A non-empty string field.
fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().filter(|s| !s.is_empty()).unwrap_or_else(|| panic!("{field} must be a non-empty string: {v}"))
}

/// The Solana Actions routes against the spec's shapes (Actions 2.4): `actions.json` rules, the
/// GET metadata with an absolute icon URL and linked actions with parameters, the POST
/// transaction that a wallet signs and sends, the spec's headers on every response, open CORS
/// with the Actions headers allowed and exposed, and errors as `ActionError` bodies.
#[tokio::test]
async fn solana_actions_follow_the_spec_and_their_transactions_land() {
    let f = fixture().await;
    let (net, payer, app) = on_localnet(&f).await;
    let launcher = Launcher { net: &net, payer: &payer };
    launcher.ensure_config().unwrap();
    let quote = launcher.mint(false).unwrap();
    let quote_ata = launcher.mint_to(&quote, &payer.pubkey(), 1_000_000_000_000).unwrap();
    let (token, p) = launcher.launch(&quote, &quote_ata, localnet::sim::SolLaunch::clean(7_000_000_000)).unwrap();
    let genesis = app_api::solana_rpc::call(&net.url, "getGenesisHash", json!([])).await.unwrap();
    let genesis = genesis.as_str().unwrap();

    let (status, headers, rules) = raw(&app, Request::get("/actions.json").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], "*");
    let rule = &rules["rules"][0];
    assert!(text(rule, "pathPattern").starts_with('/') && text(rule, "apiPath").starts_with('/'), "{rules}");

    let path = format!("/api/v1/actions/swap/{}", p.pool);
    let get = Request::get(&path).header("host", "blinks.example:8080").body(Body::empty()).unwrap();
    let (status, headers, meta) = raw(&app, get).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert_eq!(headers["x-action-version"], "2.4");
    assert_eq!(headers["x-blockchain-ids"].to_str().unwrap(), format!("solana:{}", &genesis[..32.min(genesis.len())]));
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(meta["type"], "action");
    assert_eq!(text(&meta, "icon"), "http://blinks.example:8080/api/v1/actions/icon.svg", "an absolute URL");
    for field in ["title", "description", "label"] {
        text(&meta, field);
    }
    let actions = meta["links"]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{meta}");
    for a in actions {
        assert_eq!(a["type"], "transaction");
        text(a, "label");
        assert!(text(a, "href").starts_with(&path) && a["href"].as_str().unwrap().contains("{amount}"), "{a}");
        let param = &a["parameters"][0];
        assert_eq!((text(param, "name"), param["required"].as_bool()), ("amount", Some(true)), "{a}");
        text(param, "label");
    }
    let (status, headers, _) = raw(&app, Request::get("/api/v1/actions/icon.svg").body(Body::empty()).unwrap()).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "image/svg+xml"));

    // A browser's preflight from any site is allowed, with the Actions headers.
    let preflight = Request::options(&path)
        .header("origin", "https://dial.to")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-action-version,x-blockchain-ids")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = raw(&app, preflight).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("x-action-version") && allowed.contains("x-blockchain-ids"), "{allowed}");
    assert!(headers["access-control-allow-methods"].to_str().unwrap().contains("POST"));

    // POST the buy link: 0.25 of the quote token (6 decimals) for the launched token.
    let a_to_b = p.mint_a == quote;
    let side = if a_to_b { "a_to_b" } else { "b_to_a" };
    let href = format!("{path}?side={side}&amount=0.25");
    let post = |account: String| {
        Request::post(&href)
            .header("content-type", "application/json")
            .body(Body::from(json!({ "account": account }).to_string()))
            .unwrap()
    };
    let buyer = Keypair::new();
    net.chain().svm.airdrop(&buyer.pubkey(), 1_000_000_000).unwrap();
    launcher.mint_to(&quote, &buyer.pubkey(), 1_000_000).unwrap();
    let (status, headers, tx) = raw(&app, post(buyer.pubkey().to_string())).await;
    assert_eq!(status, StatusCode::OK, "{tx}");
    assert_eq!(headers["x-action-version"], "2.4");
    assert_eq!(tx["type"], "transaction");
    text(&tx, "message");
    let before = launcher.balance(&buyer.pubkey(), &token);
    net.chain().execute(signed(&tx, &buyer), false).expect("the action's transaction lands");
    assert_eq!(launcher.balance(&buyer.pubkey(), &quote), 750_000, "spent exactly 0.25");
    assert!(launcher.balance(&buyer.pubkey(), &token) > before, "and received the token");

    // Errors are ActionError bodies with a message.
    for (href, body) in [
        (format!("{path}?side={side}&amount=0.0000001"), json!({"account": buyer.pubkey().to_string()})),
        (format!("{path}?side=up&amount=1"), json!({"account": buyer.pubkey().to_string()})),
        (format!("{path}?side={side}&amount=1"), json!({"account": "nope"})),
    ] {
        let req =
            Request::post(&href).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
        let (status, headers, err) = raw(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{href}: {err}");
        assert_eq!(headers["access-control-allow-origin"], "*");
        text(&err, "message");
    }
    let (status, _, err) =
        raw(&app, Request::get(format!("/api/v1/actions/swap/{}", Pubkey::new_unique())).body(Body::empty()).unwrap())
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    text(&err, "message");
}

/// A wallet's balances from the configured Solana RPC (a real localnet): SOL, and each token
/// account with its mint's decimals, exact amounts as strings, and the symbol the mirror knows.
/// Without an RPC the route answers 503; a bad address is a 400 naming it.
#[tokio::test]
async fn wallet_balances_come_from_the_chain_with_the_mirrors_symbols() {
    use anchor_lang::solana_program::{program_pack::Pack, system_instruction};
    use anchor_spl::{associated_token, token::spl_token};
    use solana_sdk::{signature::Keypair, signer::Signer, transaction::Transaction};

    let f = fixture().await;
    let (status, body, _) = get(&f.app, "/api/v1/wallets/solana/11111111111111111111111111111111/balances").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")), "{body}");

    let payer = Keypair::new();
    let net =
        localnet::serve(localnet::Chain::new(&payer.pubkey()).await, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let wallet = Keypair::new();
    let mint = Keypair::new();
    let ata = associated_token::get_associated_token_address(&wallet.pubkey(), &mint.pubkey());
    {
        let mut chain = net.chain();
        chain.svm.airdrop(&payer.pubkey(), 10_000_000_000).unwrap();
        chain.svm.airdrop(&wallet.pubkey(), 1_500_000_000).unwrap();
        let rent = chain.svm.minimum_balance_for_rent_exemption(spl_token::state::Mint::LEN);
        let ixs = [
            system_instruction::create_account(
                &payer.pubkey(),
                &mint.pubkey(),
                rent,
                spl_token::state::Mint::LEN as u64,
                &spl_token::ID,
            ),
            spl_token::instruction::initialize_mint2(&spl_token::ID, &mint.pubkey(), &payer.pubkey(), None, 6).unwrap(),
            associated_token::spl_associated_token_account::instruction::create_associated_token_account(
                &payer.pubkey(),
                &wallet.pubkey(),
                &mint.pubkey(),
                &spl_token::ID,
            ),
            spl_token::instruction::mint_to(&spl_token::ID, &mint.pubkey(), &ata, &payer.pubkey(), &[], 2_500_001)
                .unwrap(),
        ];
        let hash = chain.svm.latest_blockhash();
        let tx = Transaction::new_signed_with_payer(&ixs, Some(&payer.pubkey()), &[&payer, &mint], hash);
        chain.execute(tx.into(), false).expect("mint and fund the wallet");
    }
    sqlx::query("INSERT INTO tokens (chain, address, symbol, name, decimals, first_seen_at_ms) VALUES ('solana', ?, '<b>PEN</b>', 'Pen', 6, 1)")
        .bind(mint.pubkey().to_string())
        .execute(&f.state.writer)
        .await
        .unwrap();
    let mut state = f.state.clone();
    state.solana_rpc = Some(net.url.clone());
    let app = app_api::router(state, &app_api::Limits::default());
    let (status, body, _) = get(&app, &format!("/api/v1/wallets/solana/{}/balances", wallet.pubkey())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["lamports"].as_str(), body["sol"].as_str()), (Some("1500000000"), Some("1.5")));
    let tokens = body["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{body}");
    let t = &tokens[0];
    assert_eq!(t["account"], ata.to_string());
    assert_eq!(t["mint"], mint.pubkey().to_string());
    assert_eq!(
        (t["amount"].as_str(), t["ui_amount"].as_str(), t["decimals"].as_u64()),
        (Some("2500001"), Some("2.500001"), Some(6))
    );
    assert_eq!(t["symbol"], "<b>PEN</b>", "chain text is returned as JSON text, for the client to render as text");
    assert_eq!(t["state"], "initialized");

    let (status, body, _) = get(&app, "/api/v1/wallets/solana/not-a-key/balances").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("address")));
    let (status, body, _) = get(&app, &format!("/api/v1/wallets/bsc/{}/balances", wallet.pubkey())).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("chain")));
}

/// A wallet's LP positions in our pools, read from a real localnet: its LP tokens, its share of
/// the pool and what they redeem for now, each exact and in integers; a wallet without LP tokens
/// has none.
#[tokio::test]
async fn wallet_liquidity_is_the_lp_share_of_each_pool_on_chain() {
    use anchor_lang::{solana_program::program_pack::Pack, AccountDeserialize};
    use anchor_spl::{associated_token, token::spl_token};
    use solana_sdk::{signature::Keypair, signer::Signer};

    let f = fixture().await;
    let (net, payer, app) = on_localnet(&f).await;
    let launcher = localnet::sim::Launcher { net: &net, payer: &payer };
    launcher.ensure_config().unwrap();
    let quote = launcher.mint(false).unwrap();
    let quote_ata = launcher.mint_to(&quote, &payer.pubkey(), 1_000_000_000_000).unwrap();
    let launch =
        localnet::sim::SolLaunch { burn_lp: false, whale: true, ..localnet::sim::SolLaunch::clean(7_000_000_000) };
    let (token, p) = launcher.launch(&quote, &quote_ata, launch).unwrap();
    // Someone else trades, so the reserves are not the launch's round numbers.
    launcher.swap(&p, &token, true, 123_456_789).unwrap();
    let (pool, lp) = {
        let chain = net.chain();
        let pool = amm::Pool::try_deserialize(&mut chain.svm.get_account(&p.pool).unwrap().data.as_slice()).unwrap();
        let lp_account = associated_token::get_associated_token_address(&payer.pubkey(), &p.lp_mint);
        let lp = spl_token::state::Account::unpack(&chain.svm.get_account(&lp_account).unwrap().data).unwrap().amount;
        (pool, lp)
    };
    let (status, body, _) = get(&app, &format!("/api/v1/wallets/solana/{}/liquidity", payer.pubkey())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let positions = body["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 1, "{body}");
    let pos = &positions[0];
    assert_eq!(
        (pos["pool"].as_str(), pos["lp_mint"].as_str()),
        (Some(p.pool.to_string().as_str()), Some(p.lp_mint.to_string().as_str()))
    );
    assert_eq!(
        (pos["lp_amount"].as_str(), pos["lp_supply"].as_str()),
        (Some(lp.to_string().as_str()), Some(pool.lp_supply.to_string().as_str()))
    );
    assert!(lp < pool.lp_supply, "the locked minimum liquidity is not the creator's");
    let part = |reserve: u64| (u128::from(lp) * u128::from(reserve) / u128::from(pool.lp_supply)).to_string();
    assert_eq!(pos["token_a"]["amount"], part(pool.reserve_a));
    assert_eq!(pos["token_b"]["amount"], part(pool.reserve_b));
    assert_eq!(pos["token_a"]["reserve"], pool.reserve_a.to_string());
    let share = u128::from(lp) * 1_000_000_000 / u128::from(pool.lp_supply);
    assert_eq!(pos["share"], format!("0.{share:09}").trim_end_matches('0'));
    let a: u128 = part(pool.reserve_a).parse().unwrap();
    let b: u128 = part(pool.reserve_b).parse().unwrap();
    assert_eq!(pos["value_in_b"], (b + a * u128::from(pool.reserve_b) / u128::from(pool.reserve_a)).to_string());

    let (status, body, _) = get(&app, &format!("/api/v1/wallets/solana/{}/liquidity", Keypair::new().pubkey())).await;
    assert_eq!((status, body["positions"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{body}");
    let (status, body, _) = get(&app, "/api/v1/wallets/solana/nope/liquidity").await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("address")));
}

/// `POST /tx/transfer` against a real localnet: the unsigned v0 transaction, signed by the
/// wallet's key and sent, moves the tokens to the recipient's new associated account; the compute
/// limit is what the simulation measured; a transfer the wallet cannot cover is a 422 with the
/// program's logs, and bad input a 400 naming the field.
#[tokio::test]
async fn transfers_are_built_simulated_and_land_when_signed() {
    use anchor_lang::solana_program::program_pack::Pack;
    use anchor_spl::{associated_token, token::spl_token};
    use solana_sdk::{signature::Keypair, signer::Signer, transaction::VersionedTransaction};

    let f = fixture().await;
    let (net, payer, app) = on_localnet(&f).await;
    let launcher = localnet::sim::Launcher { net: &net, payer: &payer };
    let mint = launcher.mint(false).unwrap();
    launcher.mint_to(&mint, &payer.pubkey(), 5_000_000).unwrap();
    let to = Keypair::new().pubkey();
    let body = serde_json::json!({"wallet": payer.pubkey().to_string(), "mint": mint.to_string(),
        "to": to.to_string(), "amount": "1234567", "priority_fee_micro_lamports": 1000});
    let (status, resp) = send(&app, "POST", "/api/v1/tx/transfer", None, Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let limit = resp["computeUnitLimit"].as_u64().unwrap();
    let used = resp["simulatedUnits"].as_u64().unwrap();
    assert!(used > 0 && limit >= used && limit <= used + used / 10 + 1_000, "{resp}");
    assert_eq!(resp["prioritizationFeeLamports"].as_u64(), Some((limit * 1000).div_ceil(1_000_000)));
    assert!(resp["lastValidBlockHeight"].as_u64().unwrap() > 0);
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, resp["transaction"].as_str().unwrap())
            .unwrap();
    let unsigned: VersionedTransaction = bincode::deserialize(&bytes).unwrap();
    assert!(matches!(unsigned.message, solana_sdk::message::VersionedMessage::V0(_)), "a v0 message");
    assert_eq!(unsigned.message.static_account_keys()[0], payer.pubkey(), "the wallet pays");
    let signed = VersionedTransaction::try_new(unsigned.message, &[&payer]).unwrap();
    net.chain().execute(signed, false).expect("the signed transfer lands");
    let ata = associated_token::get_associated_token_address(&to, &mint);
    let got = spl_token::state::Account::unpack(&net.chain().svm.get_account(&ata).unwrap().data).unwrap();
    assert_eq!((got.owner, got.amount), (to, 1_234_567));

    let mut too_much = body.clone();
    too_much["amount"] = "9000000".into();
    let (status, resp) = send(&app, "POST", "/api/v1/tx/transfer", None, Some(too_much)).await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("simulation_failed")),
        "{resp}"
    );
    assert!(resp["message"].as_str().unwrap().contains("Custom"), "the program's error: {resp}");
    assert!(resp["logs"].as_array().is_some_and(|l| !l.is_empty()), "with the logs: {resp}");
    for (field, value) in [("to", "nope"), ("amount", "0"), ("mint", "x")] {
        let mut bad = body.clone();
        bad[field] = value.into();
        let (status, resp) = send(&app, "POST", "/api/v1/tx/transfer", None, Some(bad)).await;
        assert_eq!((status, resp["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{resp}");
    }
    let mut unknown = body;
    unknown["mint"] = Keypair::new().pubkey().to_string().into();
    let (status, _) = send(&app, "POST", "/api/v1/tx/transfer", None, Some(unknown)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `POST /tx/evm/swap` against anvil with the real Uniswap V2 contracts: the calldata, sent by a
/// plain anvil account to the router, receives at least `amountOutMin` (exactly the router's
/// quote, as nobody else trades); selling an ERC-20 first hands over the `approve` it needs; a
/// swap that would revert is a 422, bad input a 400 naming the field, an unmirrored pair a 404,
/// and a chain without an RPC a 503.
#[tokio::test]
async fn evm_swap_calldata_sent_through_the_real_router_receives_at_least_the_minimum() {
    use alloy::{
        network::TransactionBuilder,
        primitives::{Address, U256},
        providers::Provider,
        rpc::types::TransactionRequest,
    };
    use localnet::evm::{e18, EvmEnv, Launch, TokenKind};
    alloy::sol! {
        #[sol(rpc)]
        interface IBalance { function balanceOf(address who) external view returns (uint256); }
    }

    let f = fixture().await;
    let env = EvmEnv::start().await;
    let launched = env.launch("Wallet", &Launch::clean(TokenKind::Standard)).await;
    let (t0, t1) = if launched.token < env.weth { (launched.token, env.weth) } else { (env.weth, launched.token) };
    let rw =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", f._dir.path().join("keeper.db").display())).await.unwrap();
    sqlx::query("INSERT INTO pools (chain, venue, address, token_a, token_b, first_seen_at_ms) VALUES ('local', 'uniswap_v2', ?, ?, ?, 1)")
        .bind(format!("{:#x}", launched.pair)).bind(format!("{t0:#x}")).bind(format!("{t1:#x}"))
        .execute(&rw).await.unwrap();
    let mut state = f.state.clone();
    state.evm = std::sync::Arc::new(
        app_api::evm::EvmChains::parse(
            &[format!("local={}", env.http_url())],
            &[format!("local/uniswap_v2={:#x}", env.router)],
        )
        .unwrap(),
    );
    let app = app_api::router(state, &app_api::Limits::default());
    let wallet: Address = env.anvil.addresses()[7];
    let balance = |who: Address| {
        let token = IBalance::new(launched.token, &env.provider);
        async move { token.balanceOf(who).call().await.unwrap() }
    };
    // Sends the response's transaction from the wallet, with the gas it estimated.
    let send_from = |tx: Value| {
        let env = &env;
        async move {
            let req = TransactionRequest::default()
                .with_from(wallet)
                .with_to(tx["to"].as_str().unwrap().parse::<Address>().unwrap())
                .with_input(alloy::hex::decode(tx["data"].as_str().unwrap()).unwrap())
                .with_value(U256::from_str_radix(tx["value"].as_str().unwrap(), 10).unwrap())
                .with_gas_limit(n(&tx["gas"]));
            env.try_send(req).await
        }
    };

    // Buy with 1 ETH.
    let buy = json!({"chain": "local", "pool": format!("{:#x}", launched.pair), "wallet": format!("{wallet:#x}"),
        "token_in": format!("{:#x}", env.weth), "amount_in": e18(1).to_string(), "native": true, "slippage_bps": 100});
    let (status, resp) = send(&app, "POST", "/api/v1/tx/evm/swap", None, Some(buy.clone())).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(resp["to"].as_str().unwrap().parse::<Address>().unwrap(), env.router);
    assert_eq!((resp["value"].as_str(), resp["approval"].is_null()), (Some(&*e18(1).to_string()), true), "{resp}");
    let quoted = U256::from_str_radix(resp["quoted_amount_out"].as_str().unwrap(), 10).unwrap();
    let min_out = U256::from_str_radix(resp["amount_out_min"].as_str().unwrap(), 10).unwrap();
    assert_eq!(min_out, quoted * U256::from(9_900) / U256::from(10_000));
    send_from(resp.clone()).await.expect("the buy lands");
    let got = balance(wallet).await;
    assert!(got >= min_out, "received {got}, at least {min_out}");
    assert_eq!(got, quoted, "nobody else traded: exactly the router's quote");

    // Sell half back for ETH: the router needs an allowance first.
    let mut sell = buy.clone();
    sell["token_in"] = format!("{:#x}", launched.token).into();
    sell["amount_in"] = (got / U256::from(2)).to_string().into();
    let (status, resp) = send(&app, "POST", "/api/v1/tx/evm/swap", None, Some(sell.clone())).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert!(resp["gas"].is_null() && resp["native_out"] == true, "{resp}");
    send_from(resp["approval"].clone()).await.expect("the approval lands");
    let (status, resp) = send(&app, "POST", "/api/v1/tx/evm/swap", None, Some(sell.clone())).await;
    assert_eq!((status, resp["approval"].is_null()), (StatusCode::OK, true), "{resp}");
    let min_eth = U256::from_str_radix(resp["amount_out_min"].as_str().unwrap(), 10).unwrap();
    let before = env.provider.get_balance(wallet).await.unwrap();
    let receipt = send_from(resp.clone()).await.expect("the sell lands");
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    let after = env.provider.get_balance(wallet).await.unwrap();
    assert!(after + fee >= before + min_eth, "received at least {min_eth} wei");
    assert_eq!(balance(wallet).await, got - got / U256::from(2));

    // A swap that would revert (a wallet without the ETH) is reported, not handed over.
    let mut broke = buy.clone();
    broke["wallet"] = format!("{:#x}", Address::repeat_byte(0x42)).into();
    let (status, resp) = send(&app, "POST", "/api/v1/tx/evm/swap", None, Some(broke)).await;
    assert_eq!(
        (status, resp["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("simulation_failed")),
        "{resp}"
    );
    for (field, value) in [
        ("wallet", json!("0x12")),
        ("token_in", json!(format!("{:#x}", Address::repeat_byte(1)))),
        ("amount_in", json!("0")),
        ("slippage_bps", json!(6_000)),
        ("chain", json!("Not A Chain")),
    ] {
        let mut bad = buy.clone();
        bad[field] = value;
        let (status, resp) = send(&app, "POST", "/api/v1/tx/evm/swap", None, Some(bad)).await;
        assert_eq!((status, resp["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{resp}");
    }
    let mut unknown = buy.clone();
    unknown["pool"] = format!("{:#x}", Address::repeat_byte(9)).into();
    let (status, _) = send(&app, "POST", "/api/v1/tx/evm/swap", None, Some(unknown)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, resp) = send(&f.app, "POST", "/api/v1/tx/evm/swap", None, Some(buy)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "no EVM RPC configured: {resp}");
}

/// The official npm clients (`@solana/web3.js`, `@solana/spl-token`, `@anchor-lang/core`, pinned
/// in package-lock.json) against a real localnet and app-api on real sockets: the node:test suite
/// in `wallet-clients/` airdrops, creates mints and ATAs, runs a pool's life through the IDL with
/// every event decoded, lists pools and token accounts as wallets do, waits on an
/// `onAccountChange` notification, and signs and sends every API builder's transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_typescript_clients_drive_the_localnet_and_every_builder() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    assert!(
        root.join("node_modules/@anchor-lang/core/package.json").exists(),
        "the npm clients are not installed: run scripts/test.sh (it runs npm ci)"
    );
    let f = fixture().await;
    let (net, payer, app) = on_localnet(&f).await;
    Launcher { net: &net, payer: &payer }.ensure_config().unwrap();
    let api = common::serve(app).await;
    let suite = root.join("app-api/tests/wallet-clients/wallets.test.mjs");
    // Each node test has its own timeout, so the run is bounded; the servers keep running on
    // this runtime's workers meanwhile.
    let mut node = std::process::Command::new("node");
    node.args(["--test", "--test-reporter=tap"])
        .arg(&suite)
        .env("LOCALNET_RPC", &net.url)
        .env("LOCALNET_WS", &net.ws_url)
        .env("API_URL", &api);
    let out = tokio::task::spawn_blocking(move || node.output()).await.unwrap().expect("node runs");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the node:test suite failed:\n{report}");
    assert!(report.contains("# pass 7") && report.contains("# fail 0"), "every test ran and passed:\n{report}");
}
