//! A Solana swap through Jupiter, end to end on the localnet: a fake Jupiter on 127.0.0.1 (the
//! service cannot be reached from here) answers `/quote` and `/swap` with documented shapes, and
//! its swap transaction is a real one built against the in-process chain (a route through a
//! pool of our AMM). The keeper simulates, checks, signs, sends and confirms it. Transactions
//! that do not match their quote are refused unsigned, and nothing moves.

#[path = "common/fake_api.rs"]
mod fake_api;
#[path = "common/fake_jupiter.rs"]
mod fake_jupiter;

use std::time::Duration;

use fake_api::FakeApi;
use fake_jupiter::{FakeJupiter, Market, Route};
use keeper::{
    external::{
        jupiter::{Jupiter, QuoteRequest},
        ServiceConfig,
    },
    trade::jupiter::{default_allowed_programs, JupiterSwapError, JupiterSwapper},
};
use localnet::{
    serve,
    sim::{Launcher, SolLaunch},
    Chain, Localnet,
};
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_sdk::{
    pubkey::Pubkey,
    signature::{Keypair, Signer},
};

struct World {
    net: Localnet,
    wallet: Keypair,
    quote_mint: Pubkey,
    token: Pubkey,
    market: Market,
}

async fn world() -> World {
    let payer = Keypair::new();
    let mut chain = Chain::new(&payer.pubkey()).await;
    chain.svm.airdrop(&payer.pubkey(), 1_000_000_000_000).unwrap();
    let wallet = Keypair::new();
    chain.svm.airdrop(&wallet.pubkey(), 10_000_000_000).unwrap();
    let net = serve(chain, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (quote_mint, token, pool) = {
        let sol = Launcher { net: &net, payer: &payer };
        sol.ensure_config().unwrap();
        let quote_mint = sol.mint(false).unwrap();
        let quote_ata = sol.mint_to(&quote_mint, &payer.pubkey(), 1_000_000_000_000).unwrap();
        sol.mint_to(&quote_mint, &wallet.pubkey(), 5_000_000_000).unwrap();
        let (token, pool) = sol.launch(&quote_mint, &quote_ata, SolLaunch::clean(10_000_000_000)).unwrap();
        (quote_mint, token, pool)
    };
    World { net, wallet, quote_mint, token, market: Market { quote_mint, token, pool } }
}

fn balance(net: &Localnet, owner: &Pubkey, mint: &Pubkey) -> u64 {
    Launcher { net, payer: &Keypair::new() }.balance(owner, mint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jupiter_swap_is_checked_signed_sent_and_confirmed_and_a_mismatched_one_refused() {
    let w = world().await;
    let api = FakeApi::start().await;
    let fake = FakeJupiter::serve(&api, &w.net);
    fake.add(w.market);
    let jupiter =
        Jupiter::new(&ServiceConfig { enabled: true, ..ServiceConfig::new(&api.url, "", 60_000) }, None).unwrap();
    let rpc = RpcClient::new_with_commitment(w.net.url.clone(), CommitmentConfig::confirmed());
    let mut allowed = default_allowed_programs();
    allowed.push(amm::ID);
    let swapper = JupiterSwapper {
        jupiter: &jupiter,
        rpc: &rpc,
        wallet: &w.wallet,
        allowed_programs: allowed,
        max_lamports: 10_000_000,
        confirm_poll: Duration::from_millis(50),
    };
    let req = QuoteRequest { input_mint: w.quote_mint, output_mint: w.token, amount: 100_000_000, slippage_bps: 100 };
    let me = w.wallet.pubkey();

    // Mismatched transactions: refused before signing; nothing moves, nothing lands.
    let ledger = w.net.chain().ledger().len();
    let quote_before = balance(&w.net, &me, &w.quote_mint);
    for (bad, why) in [(Route::OtherFeePayer, "fee payer"), (Route::Skims, "spends"), (Route::Short, "delivers")] {
        fake.set_route(bad);
        match swapper.swap(&req).await {
            Err(JupiterSwapError::Refused(reason)) => assert!(reason.contains(why), "{bad:?}: {reason}"),
            other => panic!("{bad:?} must be refused, got {other:?}"),
        }
        assert_eq!(balance(&w.net, &me, &w.quote_mint), quote_before, "{bad:?}");
        assert_eq!(balance(&w.net, &me, &w.token), 0, "{bad:?}");
        assert_eq!(w.net.chain().ledger().len(), ledger, "{bad:?}: nothing sent");
    }

    // The honest route: signed by the wallet, sent, confirmed; amounts as quoted.
    fake.set_route(Route::Honest);
    let fill = swapper.swap(&req).await.unwrap();
    let landed = w.net.chain().transaction(&fill.signature).cloned().expect("on chain");
    assert!(landed.result.is_ok());
    assert_eq!(landed.transaction.message.static_account_keys()[0], me);
    let got = balance(&w.net, &me, &w.token);
    assert_eq!(got, fill.quote.out_amount, "the chain did not move between quote and swap");
    assert!(got >= fill.quote.other_amount_threshold);
    assert_eq!(fill.simulated.received, got);
    assert_eq!(balance(&w.net, &me, &w.quote_mint), quote_before - req.amount);
    let posted: serde_json::Value = serde_json::from_slice(&api.seen("/swap").last().unwrap().body).unwrap();
    assert_eq!(posted["userPublicKey"], me.to_string());
    assert_eq!(posted["quoteResponse"]["otherAmountThreshold"], fill.quote.other_amount_threshold.to_string());
}
