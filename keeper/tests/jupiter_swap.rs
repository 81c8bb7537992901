//! A Solana swap through Jupiter, end to end on the localnet: a fake Jupiter on 127.0.0.1 (the
//! service cannot be reached from here) answers `/quote` and `/swap` with documented shapes, and
//! its swap transaction is a real one built against the in-process chain (a route through a
//! pool of our AMM). The keeper simulates, checks, signs, sends and confirms it. Transactions
//! that do not match their quote are refused unsigned, and nothing moves.

#[path = "common/fake_api.rs"]
mod fake_api;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use amm::client::PoolAddresses;
use anchor_spl::{associated_token, token::spl_token};
use fake_api::{FakeApi, Reply};
use keeper::{
    external::{
        jupiter::{Jupiter, QuoteRequest},
        ServiceConfig,
    },
    trade::jupiter::{default_allowed_programs, JupiterSwapError, JupiterSwapper},
};
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_sdk::{
    instruction::Instruction,
    message::{v0, VersionedMessage},
    pubkey::Pubkey,
    signature::{Keypair, Signature, Signer},
    transaction::VersionedTransaction,
};
use tests::localnet::{
    serve,
    sim::{swap_instructions, Launcher, SolLaunch},
    Chain, Localnet,
};

/// What the fake `/swap` builds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Route {
    /// The quoted swap, with the quote's threshold as the on-chain minimum.
    Honest,
    /// Someone else pays the fee (and so would sign).
    OtherFeePayer,
    /// The swap plus a transfer of the wallet's quote tokens to a stranger.
    Skims,
    /// Swaps a tenth of the amount: delivers less than the quote's minimum.
    Short,
}

/// The addresses a route needs.
#[derive(Clone, Copy)]
struct Addrs {
    quote_mint: Pubkey,
    token: Pubkey,
    pool: PoolAddresses,
}

struct World {
    net: Localnet,
    wallet: Keypair,
    quote_mint: Pubkey,
    token: Pubkey,
    addrs: Addrs,
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
    World { net, wallet, quote_mint, token, addrs: Addrs { quote_mint, token, pool } }
}

fn balance(net: &Localnet, owner: &Pubkey, mint: &Pubkey) -> u64 {
    Launcher { net, payer: &Keypair::new() }.balance(owner, mint)
}

/// A buy of `token` with `amount` quote tokens in the pool, paid by `user`.
fn swap_ixs(w: &Addrs, user: &Pubkey, amount: u64, min_out: u64) -> Vec<Instruction> {
    swap_instructions(&w.pool, user, &w.token, true, amount, min_out)
}

/// An unsigned v0 transaction, as Jupiter serializes it.
fn unsigned(chain: &Chain, payer: &Pubkey, ixs: &[Instruction]) -> VersionedTransaction {
    let message = v0::Message::try_compile(payer, ixs, &[], chain.svm.latest_blockhash()).unwrap();
    let n = usize::from(message.header.num_required_signatures);
    VersionedTransaction { signatures: vec![Signature::default(); n], message: VersionedMessage::V0(message) }
}

/// The fake Jupiter: `/quote` prices the swap by running it on the chain; `/swap` builds the
/// transaction `route` says.
fn fake_jupiter(api: &FakeApi, w: &World, route: Arc<Mutex<Route>>) {
    let chain = w.net.chain.clone();
    let addrs = w.addrs;
    let Addrs { quote_mint, token, pool } = addrs;
    let wallet = w.wallet.pubkey();
    api.respond("/quote", move |seen| {
        let w = addrs;
        let amount: u64 = seen.query["amount"].parse().unwrap();
        let slippage: u64 = seen.query["slippageBps"].parse().unwrap();
        let mut chain = chain.lock().unwrap();
        let out_ata = associated_token::get_associated_token_address(&wallet, &token);
        let tx = unsigned(&chain, &wallet, &swap_ixs(&w, &wallet, amount, 0));
        let (record, after) = chain.simulate_with_accounts(tx, &[out_ata], false);
        assert!(record.result.is_ok(), "{:?}", record.meta.logs);
        use anchor_lang::solana_program::program_pack::Pack;
        let out = spl_token::state::Account::unpack(&after[0].as_ref().unwrap().data).unwrap().amount;
        let threshold = out * (10_000 - slippage) / 10_000;
        Reply::json(format!(
            r#"{{"inputMint":"{quote_mint}","inAmount":"{amount}","outputMint":"{token}","outAmount":"{out}",
            "otherAmountThreshold":"{threshold}","swapMode":"ExactIn","slippageBps":{slippage},"platformFee":null,
            "priceImpactPct":"0.01","routePlan":[{{"swapInfo":{{"ammKey":"{}","label":"amm-sniper AMM","inputMint":"{quote_mint}",
            "outputMint":"{token}","inAmount":"{amount}","outAmount":"{out}","feeAmount":"0","feeMint":"{quote_mint}"}},"percent":100}}],
            "contextSlot":{},"timeTaken":0.002}}"#,
            pool.pool,
            chain.slot()
        ))
    });
    let chain = w.net.chain.clone();
    api.respond("/swap", move |seen| {
        let w = addrs;
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
        let user: Pubkey = body["userPublicKey"].as_str().unwrap().parse().unwrap();
        let q = &body["quoteResponse"];
        let amount: u64 = q["inAmount"].as_str().unwrap().parse().unwrap();
        let min_out: u64 = q["otherAmountThreshold"].as_str().unwrap().parse().unwrap();
        let chain = chain.lock().unwrap();
        let tx = match *route.lock().unwrap() {
            Route::Honest => unsigned(&chain, &user, &swap_ixs(&w, &user, amount, min_out)),
            Route::OtherFeePayer => {
                let stranger = Pubkey::new_unique();
                unsigned(&chain, &stranger, &swap_ixs(&w, &user, amount, min_out))
            }
            Route::Skims => {
                // The quoted swap plus as much again of the wallet's quote tokens sent elsewhere
                // (here: into a vault, an account anyone can pay into).
                let mut ixs = swap_ixs(&w, &user, amount, min_out);
                let from = associated_token::get_associated_token_address(&user, &w.quote_mint);
                let elsewhere = if w.pool.mint_a == w.quote_mint { w.pool.vault_a } else { w.pool.vault_b };
                ixs.push(spl_token::instruction::transfer(&spl_token::ID, &from, &elsewhere, &user, &[], amount).unwrap());
                unsigned(&chain, &user, &ixs)
            }
            Route::Short => unsigned(&chain, &user, &swap_ixs(&w, &user, amount / 10, 0)),
        };
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bincode::serialize(&tx).unwrap());
        Reply::json(format!(
            r#"{{"swapTransaction":"{b64}","lastValidBlockHeight":{},"prioritizationFeeLamports":0,"computeUnitLimit":200000,
            "prioritizationType":{{"computeBudget":{{"microLamports":0,"estimatedMicroLamports":0}}}},"dynamicSlippageReport":null,"simulationError":null}}"#,
            chain.slot() + 150
        ))
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jupiter_swap_is_checked_signed_sent_and_confirmed_and_a_mismatched_one_refused() {
    let w = world().await;
    let api = FakeApi::start().await;
    let route = Arc::new(Mutex::new(Route::Honest));
    fake_jupiter(&api, &w, route.clone());
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
        *route.lock().unwrap() = bad;
        match swapper.swap(&req).await {
            Err(JupiterSwapError::Refused(reason)) => assert!(reason.contains(why), "{bad:?}: {reason}"),
            other => panic!("{bad:?} must be refused, got {other:?}"),
        }
        assert_eq!(balance(&w.net, &me, &w.quote_mint), quote_before, "{bad:?}");
        assert_eq!(balance(&w.net, &me, &w.token), 0, "{bad:?}");
        assert_eq!(w.net.chain().ledger().len(), ledger, "{bad:?}: nothing sent");
    }

    // The honest route: signed by the wallet, sent, confirmed; amounts as quoted.
    *route.lock().unwrap() = Route::Honest;
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
