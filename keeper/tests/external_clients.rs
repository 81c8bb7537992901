//! The external clients against real HTTP servers on 127.0.0.1 that answer like each service's
//! documentation: shapes, keys, retries on 429 (honouring `Retry-After`) and 5xx, malformed JSON,
//! timeouts, the circuit breaker, the client-side rate limit and the price cache.

#[path = "common/fake_api.rs"]
mod fake_api;

use std::time::{Duration, Instant};

use alloy::primitives::{address, U256};
use fake_api::{FakeApi, Reply};
use keeper::external::{
    coingecko::CoinGecko,
    dexscreener::DexScreener,
    jupiter::{Jupiter, QuoteRequest},
    oneinch::OneInch,
    zeroex::ZeroEx,
    Failure, Service, ServiceConfig, Usd,
};

fn cfg(api: &FakeApi) -> ServiceConfig {
    ServiceConfig {
        enabled: true,
        timeout_ms: 2_000,
        backoff_initial_ms: 20,
        backoff_max_ms: 2_000,
        requests_per_minute: 60_000,
        ..ServiceConfig::new(&api.url, "", 60)
    }
}

const SOL_QUOTE_MINT: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
const TOKEN: &str = "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN";

/// A `/quote` answer as documented (extra fields included: they must be tolerated).
fn quote_json(in_amount: u64, out: u64, threshold: u64, slippage_bps: u32) -> String {
    format!(
        r#"{{"inputMint":"{SOL_QUOTE_MINT}","inAmount":"{in_amount}","outputMint":"{TOKEN}","outAmount":"{out}",
        "otherAmountThreshold":"{threshold}","swapMode":"ExactIn","slippageBps":{slippage_bps},"platformFee":null,
        "priceImpactPct":"0.0012","routePlan":[{{"swapInfo":{{"ammKey":"5BKxfWMbmYBAEWvyPZS9esPducUba9GqyMjtLCfbaqyF",
        "label":"Meteora DLMM","inputMint":"{SOL_QUOTE_MINT}","outputMint":"{TOKEN}","inAmount":"{in_amount}",
        "outAmount":"{out}","feeAmount":"24825","feeMint":"{SOL_QUOTE_MINT}"}},"percent":100}}],
        "contextSlot":299283763,"timeTaken":0.015257836}}"#
    )
}

fn quote_request(amount: u64) -> QuoteRequest {
    QuoteRequest {
        input_mint: SOL_QUOTE_MINT.parse().unwrap(),
        output_mint: TOKEN.parse().unwrap(),
        amount,
        slippage_bps: 100,
    }
}

/// Moves tokio's clock forward at once (the breaker and the caches follow it), then lets it run
/// again for the real HTTP exchanges that follow.
async fn advance(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

#[tokio::test]
async fn jupiter_quotes_are_typed_keyed_and_checked_against_the_request() {
    let api = FakeApi::start().await;
    let jup = Jupiter::new(&cfg(&api), Some("jup-key".into())).unwrap();
    api.script("/quote", [Reply::json(quote_json(1_000_000, 52_000_000, 51_480_000, 100))]);
    let q = jup.quote(&quote_request(1_000_000)).await.unwrap();
    assert_eq!(
        (q.in_amount, q.out_amount, q.other_amount_threshold, q.slippage_bps),
        (1_000_000, 52_000_000, 51_480_000, 100)
    );
    assert_eq!(q.route_plan[0].swap_info.label, "Meteora DLMM");
    let seen = &api.seen("/quote")[0];
    assert_eq!(seen.headers["x-api-key"], "jup-key");
    assert_eq!(seen.query["inputMint"], SOL_QUOTE_MINT);
    assert_eq!(seen.query["amount"], "1000000");
    assert_eq!(seen.query["slippageBps"], "100");

    // A threshold below the quoted output minus the slippage asked for: refused.
    api.script("/quote", [Reply::json(quote_json(1_000_000, 52_000_000, 40_000_000, 100))]);
    let e = jup.quote(&quote_request(1_000_000)).await.unwrap_err();
    assert_eq!(e.service, Service::Jupiter);
    assert!(matches!(&e.failure, Failure::Rejected(m) if m.contains("threshold")), "{e}");
    // A quote for another amount: refused.
    api.script("/quote", [Reply::json(quote_json(999, 52_000_000, 51_480_000, 100))]);
    assert!(matches!(jup.quote(&quote_request(1_000_000)).await.unwrap_err().failure, Failure::Rejected(_)));
    // Amounts must be whole decimal strings.
    api.script(
        "/quote",
        [Reply::json(quote_json(1_000_000, 52_000_000, 51_480_000, 100).replace("\"52000000\"", "52000000.5"))],
    );
    assert!(matches!(jup.quote(&quote_request(1_000_000)).await.unwrap_err().failure, Failure::Malformed(_)));
}

#[tokio::test]
async fn dexscreener_profiles_pairs_and_search_with_the_deepest_market_cached() {
    let api = FakeApi::start().await;
    let ds = DexScreener::new(&ServiceConfig { cache_ttl_ms: 60_000, ..cfg(&api) }).unwrap();
    api.default(
        "/token-profiles/latest/v1",
        Reply::json(
            r#"[{"url":"https://dexscreener.com/solana/abc","chainId":"solana","tokenAddress":"AbC111","icon":"https://x/i.png",
            "header":"https://x/h.png","description":"a token","links":[{"type":"twitter","url":"https://x.com/t"},{"label":"Website","url":"https://t.io"}]}]"#,
        ),
    );
    let profiles = ds.latest_profiles().await.unwrap();
    assert_eq!(profiles[0].token_address, "AbC111");
    assert_eq!(profiles[0].links.len(), 2);

    let pair = |addr: &str, liq: &str| {
        format!(
            r#"{{"chainId":"ethereum","dexId":"uniswap","url":"https://dexscreener.com/ethereum/{addr}","pairAddress":"{addr}",
            "labels":["v2"],"baseToken":{{"address":"0xTok","name":"Tok","symbol":"TOK"}},"quoteToken":{{"address":"0xC02a","name":"Wrapped Ether","symbol":"WETH"}},
            "priceNative":"0.0000001","priceUsd":"0.0003412","txns":{{"m5":{{"buys":3,"sells":1}}}},"volume":{{"h24":1234.5}},
            "priceChange":{{"h1":-12.5}},"liquidity":{{"usd":{liq},"base":100,"quote":2}},"fdv":341200,"marketCap":341200,
            "pairCreatedAt":1732000000000,"info":{{"imageUrl":"https://x/i.png","websites":[{{"url":"https://tok.io"}}],
            "socials":[{{"platform":"twitter","handle":"tok"}}]}},"boosts":{{"active":1}}}}"#
        )
    };
    api.default(
        "/tokens/v1/ethereum/0xTok",
        Reply::json(format!("[{},{}]", pair("0xA", "1500.25"), pair("0xB", "98000.5"))),
    );
    let m = ds.market("ethereum", "0xTok").await.unwrap().unwrap();
    assert_eq!(m.pair, "0xB", "the deepest pair");
    assert_eq!(m.liquidity_usd, Usd::parse("98000.5"));
    assert_eq!(m.price_usd, Usd::parse("0.0003412"));
    assert_eq!(
        (m.websites.clone(), m.socials.clone()),
        (vec!["https://tok.io".to_string()], vec!["twitter:tok".to_string()])
    );
    assert_eq!(m.pair_created_at_ms, Some(1_732_000_000_000));
    assert_eq!(ds.market("ethereum", "0xTok").await.unwrap().unwrap(), m);
    assert_eq!(api.seen("/tokens/v1/ethereum/0xTok").len(), 1, "served from the cache");

    api.default(
        "/latest/dex/search",
        Reply::json(format!(r#"{{"schemaVersion":"1.0.0","pairs":[{}]}}"#, pair("0xA", "1"))),
    );
    let found = ds.search("TOK").await.unwrap();
    assert_eq!(found[0].base_token.symbol, "TOK");
    assert_eq!(api.seen("/latest/dex/search")[0].query["q"], "TOK");
    api.default("/latest/dex/search", Reply::json(r#"{"schemaVersion":"1.0.0","pairs":null}"#));
    assert!(ds.search("nothing").await.unwrap().is_empty());
}

#[tokio::test]
async fn coingecko_prices_are_exact_keyed_and_cached_for_their_ttl() {
    let api = FakeApi::start().await;
    let cg = CoinGecko::new(&ServiceConfig { cache_ttl_ms: 300, ..cfg(&api) }, Some("cg-key".into())).unwrap();
    api.default("/simple/price", Reply::json(r#"{"ethereum":{"usd":3012.45},"solana":{"usd":1.234e2}}"#));
    let p = cg.simple_price(&["ethereum", "solana", "unknown-coin"]).await.unwrap();
    assert_eq!(p["ethereum"], Usd::parse("3012.45").unwrap());
    assert_eq!(p["solana"], Usd::parse("123.4").unwrap());
    assert!(!p.contains_key("unknown-coin"));
    assert_eq!(api.seen("/simple/price")[0].headers["x-cg-demo-api-key"], "cg-key");
    assert_eq!(api.seen("/simple/price")[0].query["vs_currencies"], "usd");
    cg.simple_price(&["ethereum", "solana", "unknown-coin"]).await.unwrap();
    assert_eq!(api.seen("/simple/price").len(), 1, "fresh prices come from the cache");
    advance(Duration::from_millis(350)).await;
    cg.simple_price(&["ethereum"]).await.unwrap();
    assert_eq!(api.seen("/simple/price").len(), 2, "stale prices are fetched again");

    let weth = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2";
    api.default(
        "/simple/token_price/ethereum",
        Reply::json(r#"{"0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2":{"usd":3011.9}}"#),
    );
    let t = cg.token_price("ethereum", &[weth]).await.unwrap();
    assert_eq!(t[&weth.to_ascii_lowercase()], Usd::parse("3011.9").unwrap());
    assert_eq!(api.seen("/simple/token_price/ethereum")[0].query["contract_addresses"], weth);
}

#[tokio::test]
async fn zeroex_and_oneinch_quotes_send_their_headers_and_parse_amounts() {
    let api = FakeApi::start().await;
    let (weth, token) =
        (address!("C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"), address!("6B175474E89094C44Da98b954EedeAC495271d0F"));
    let zx = ZeroEx::new(&cfg(&api), Some("zx-key".into())).unwrap();
    api.script(
        "/swap/allowance-holder/price",
        [
            Reply::json(format!(
                r#"{{"blockNumber":"20114692","buyAmount":"3410000000000000000000","buyToken":"{token:#x}","fees":{{"integratorFee":null,"zeroExFee":null,"gasFee":null}},
                "gas":"288095","gasPrice":"7062490000","issues":{{"allowance":null,"balance":null,"simulationIncomplete":false,"invalidSourcesPassed":[]}},
                "liquidityAvailable":true,"minBuyAmount":"3375900000000000000000","route":{{"fills":[{{"from":"{weth:#x}","to":"{token:#x}","source":"Uniswap_V2","proportionBps":"10000"}}],"tokens":[]}},
                "sellAmount":"1000000000000000000","sellToken":"{weth:#x}","totalNetworkFee":"2034668056550000","zid":"0x111"}}"#
            )),
            Reply::json(r#"{"liquidityAvailable":false,"zid":"0x222"}"#),
        ],
    );
    let out = zx.price(1, weth, token, U256::from(10u64).pow(U256::from(18u8))).await.unwrap();
    assert_eq!(out, Some(U256::from(3_410u64) * U256::from(10u64).pow(U256::from(18u8))));
    let seen = &api.seen("/swap/allowance-holder/price")[0];
    assert_eq!(
        (seen.headers["0x-api-key"].to_str().unwrap(), seen.headers["0x-version"].to_str().unwrap()),
        ("zx-key", "v2")
    );
    assert_eq!(seen.query["chainId"], "1");
    assert_eq!(zx.price(1, weth, token, U256::from(1u8)).await.unwrap(), None, "no liquidity");

    let inch = OneInch::new(&cfg(&api), Some("inch-key".into())).unwrap();
    api.default("/swap/v6.0/56/quote", Reply::json(r#"{"dstAmount":"3398000000000000000000","gas":187000}"#));
    let out = inch.quote(56, weth, token, U256::from(1u8)).await.unwrap();
    assert_eq!(out, U256::from(3_398u64) * U256::from(10u64).pow(U256::from(18u8)));
    assert_eq!(api.seen("/swap/v6.0/56/quote")[0].headers["authorization"], "Bearer inch-key");
    assert_eq!(api.seen("/swap/v6.0/56/quote")[0].query["src"], weth.to_checksum(None));
}

#[tokio::test]
async fn retries_honour_retry_after_and_back_off_on_server_errors() {
    let api = FakeApi::start().await;
    let cg = CoinGecko::new(&ServiceConfig { max_retries: 2, cache_ttl_ms: 0, ..cfg(&api) }, None).unwrap();
    let ok = Reply::json(r#"{"ethereum":{"usd":1}}"#);

    // 429 asking for 1 s, then success: the client waits that long, then succeeds.
    api.script(
        "/simple/price",
        [Reply::status(429, r#"{"status":{"error_code":429}}"#).header("retry-after", "1"), ok.clone()],
    );
    let started = Instant::now();
    cg.simple_price(&["ethereum"]).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured: {:?}", started.elapsed());
    assert_eq!(api.seen("/simple/price").len(), 2);

    // 500 and 502, then success on the third attempt.
    api.script("/simple/price", [Reply::status(500, "oops"), Reply::status(502, "bad gateway"), ok.clone()]);
    cg.simple_price(&["ethereum"]).await.unwrap();
    assert_eq!(api.seen("/simple/price").len(), 5);

    // Three 503s: retries exhausted, the error names the service and the status.
    api.script("/simple/price", [Reply::status(503, "down"), Reply::status(503, "down"), Reply::status(503, "down")]);
    let e = cg.simple_price(&["ethereum"]).await.unwrap_err();
    assert_eq!(e.to_string(), "coingecko: HTTP 503: down");
    assert_eq!(api.seen("/simple/price").len(), 8);

    // Retry-After beyond the backoff ceiling: no point waiting, give up at once.
    api.script("/simple/price", [Reply::status(429, "{}").header("retry-after", "3600")]);
    let e = cg.simple_price(&["ethereum"]).await.unwrap_err();
    assert_eq!(e.failure, Failure::RateLimited { retry_after: Some(Duration::from_secs(3600)) });
    assert_eq!(api.seen("/simple/price").len(), 9);

    // Malformed JSON and a 404 are not retried.
    api.script("/simple/price", [Reply::json(r#"{"ethereum":{"usd":"#)]);
    assert!(matches!(cg.simple_price(&["ethereum"]).await.unwrap_err().failure, Failure::Malformed(_)));
    assert_eq!(api.seen("/simple/price").len(), 10);
    let e = cg.token_price("nowhere", &["0x1"]).await.unwrap_err();
    assert!(matches!(e.failure, Failure::Status { status: 404, .. }), "{e}");
    assert_eq!(api.seen("/simple/token_price/nowhere").len(), 1);
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let api = FakeApi::start().await;
    let ds = DexScreener::new(&ServiceConfig { timeout_ms: 200, max_retries: 0, ..cfg(&api) }).unwrap();
    api.default("/token-profiles/latest/v1", Reply::json("[]").delayed(Duration::from_secs(3)));
    let started = Instant::now();
    let e = ds.latest_profiles().await.unwrap_err();
    assert_eq!(e.failure, Failure::Timeout(Duration::from_millis(200)));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(e.to_string(), "dexscreener: no answer within 200ms");
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_failures_and_closes_after_a_good_trial() {
    let api = FakeApi::start().await;
    let c = ServiceConfig { max_retries: 0, breaker_failures: 2, breaker_open_ms: 400, ..cfg(&api) };
    let zx = ZeroEx::new(&c, None).unwrap();
    let (a, b) =
        (address!("C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"), address!("6B175474E89094C44Da98b954EedeAC495271d0F"));
    let path = "/swap/allowance-holder/price";
    api.script(path, [Reply::status(500, "x"), Reply::status(500, "x")]);
    api.default(path, Reply::json(r#"{"liquidityAvailable":false}"#));
    for _ in 0..2 {
        assert!(matches!(
            zx.price(1, a, b, U256::from(1u8)).await.unwrap_err().failure,
            Failure::Status { status: 500, .. }
        ));
    }
    // Open: refused without a request.
    let e = zx.price(1, a, b, U256::from(1u8)).await.unwrap_err();
    assert!(matches!(e.failure, Failure::CircuitOpen { failures: 2, .. }), "{e}");
    assert!(zx.http().circuit_open());
    assert_eq!(api.seen(path).len(), 2);
    // After the open period one trial goes through; it succeeds and the breaker closes.
    advance(Duration::from_millis(450)).await;
    assert_eq!(zx.price(1, a, b, U256::from(1u8)).await.unwrap(), None);
    assert!(!zx.http().circuit_open());
    assert_eq!(zx.price(1, a, b, U256::from(1u8)).await.unwrap(), None);
    assert_eq!(api.seen(path).len(), 4);
    // A failed trial opens it again at once.
    api.script(path, [Reply::status(500, "x"), Reply::status(500, "x"), Reply::status(500, "x")]);
    for _ in 0..2 {
        zx.price(1, a, b, U256::from(1u8)).await.unwrap_err();
    }
    advance(Duration::from_millis(450)).await;
    assert!(matches!(zx.price(1, a, b, U256::from(1u8)).await.unwrap_err().failure, Failure::Status { .. }));
    assert!(matches!(zx.price(1, a, b, U256::from(1u8)).await.unwrap_err().failure, Failure::CircuitOpen { .. }));
}

#[tokio::test]
async fn requests_are_spaced_by_the_rate_limit_and_disabled_services_are_not_called() {
    let api = FakeApi::start().await;
    let one = OneInch::new(&ServiceConfig { requests_per_minute: 600, ..cfg(&api) }, None).unwrap();
    api.default("/swap/v6.0/1/quote", Reply::json(r#"{"dstAmount":"1"}"#));
    let (a, b) =
        (address!("C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"), address!("6B175474E89094C44Da98b954EedeAC495271d0F"));
    let start = std::time::Instant::now();
    let calls = (0..5).map(|_| one.quote(1, a, b, U256::from(1u8)));
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    // The limiter lets the k-th request go no earlier than k periods after the first, which went
    // no earlier than the start: a loaded machine only delays arrivals, so each is checked
    // against the start (two neighbours' gap shrinks when the first of them is delayed).
    let mut seen = api.seen("/swap/v6.0/1/quote");
    seen.sort_by_key(|r| r.at);
    assert_eq!(seen.len(), 5);
    for (k, r) in seen.iter().enumerate() {
        let after = r.at.duration_since(start);
        let earliest = Duration::from_millis(90) * u32::try_from(k).unwrap();
        assert!(after >= earliest, "600/min means 100 ms apart: request {k} arrived {after:?} after the start");
    }

    let off = OneInch::new(&ServiceConfig { enabled: false, ..cfg(&api) }, None).unwrap();
    assert_eq!(off.quote(1, a, b, U256::from(1u8)).await.unwrap_err().failure, Failure::Disabled);
    assert_eq!(api.seen("/swap/v6.0/1/quote").len(), 5);
}
