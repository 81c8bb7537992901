//! A fake Jupiter (the service cannot be reached from here) on a [`FakeApi`]: `/quote` and
//! `/swap` answer with the documented shapes, and the swap transaction is a real one built
//! against the in-process Solana chain, routed through a pool of our AMM standing in for the
//! venue Jupiter would use. `route` chooses an honest transaction or one of the ways a
//! transaction can fail to match its quote.

// Shared by several test binaries, each using part of it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use amm::client::PoolAddresses;
use anchor_spl::{associated_token, token::spl_token};
use localnet::{
    sim::{quote_out, swap_instructions},
    Chain, Localnet,
};
use solana_sdk::{
    instruction::Instruction,
    message::{v0, VersionedMessage},
    pubkey::Pubkey,
    signature::Signature,
    transaction::VersionedTransaction,
};

use super::fake_api::{FakeApi, Reply};

/// What the fake `/swap` builds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route {
    /// The quoted swap, with the quote's threshold as the on-chain minimum.
    Honest,
    /// Someone else pays the fee (and so would sign).
    OtherFeePayer,
    /// The swap plus a transfer of as much again of the wallet's input tokens to a stranger.
    Skims,
    /// Swaps a tenth of the amount: delivers less than the quote's minimum.
    Short,
}

/// A market Jupiter can route: `token` against `quote_mint` in `pool`.
#[derive(Clone, Copy)]
pub struct Market {
    pub quote_mint: Pubkey,
    pub token: Pubkey,
    pub pool: PoolAddresses,
}

#[derive(Clone)]
pub struct FakeJupiter {
    pub markets: Arc<Mutex<Vec<Market>>>,
    pub route: Arc<Mutex<Route>>,
}

/// An unsigned v0 transaction, as Jupiter serializes it.
pub fn unsigned(chain: &Chain, payer: &Pubkey, ixs: &[Instruction]) -> VersionedTransaction {
    let message = v0::Message::try_compile(payer, ixs, &[], chain.svm.latest_blockhash()).unwrap();
    let n = usize::from(message.header.num_required_signatures);
    VersionedTransaction { signatures: vec![Signature::default(); n], message: VersionedMessage::V0(message) }
}

fn param<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} missing"))
}

impl FakeJupiter {
    /// Serves `/quote` and `/swap` on `api` for the markets added with [`Self::add`].
    pub fn serve(api: &FakeApi, net: &Localnet) -> Self {
        let fake = Self { markets: Arc::default(), route: Arc::new(Mutex::new(Route::Honest)) };
        let (chain, me) = (net.chain.clone(), fake.clone());
        api.respond("/quote", move |seen| {
            let (input, output): (Pubkey, Pubkey) =
                (seen.query["inputMint"].parse().unwrap(), seen.query["outputMint"].parse().unwrap());
            let (m, buy) = me.market(&input, &output);
            let amount: u64 = seen.query["amount"].parse().unwrap();
            let slippage: u64 = seen.query["slippageBps"].parse().unwrap();
            let chain = chain.lock().unwrap();
            let out = quote_out(&chain, &m.pool, &m.token, buy, amount).expect("the pool quotes");
            let threshold = out * (10_000 - slippage) / 10_000;
            Reply::json(format!(
                r#"{{"inputMint":"{input}","inAmount":"{amount}","outputMint":"{output}","outAmount":"{out}",
                "otherAmountThreshold":"{threshold}","swapMode":"ExactIn","slippageBps":{slippage},"platformFee":null,
                "priceImpactPct":"0.01","routePlan":[{{"swapInfo":{{"ammKey":"{}","label":"amm-sniper AMM","inputMint":"{input}",
                "outputMint":"{output}","inAmount":"{amount}","outAmount":"{out}","feeAmount":"0","feeMint":"{input}"}},"percent":100}}],
                "contextSlot":{},"timeTaken":0.002}}"#,
                m.pool.pool,
                chain.slot()
            ))
        });
        let (chain, me) = (net.chain.clone(), fake.clone());
        api.respond("/swap", move |seen| {
            let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
            let user: Pubkey = param(&body, "userPublicKey").parse().unwrap();
            let q = &body["quoteResponse"];
            let (input, output): (Pubkey, Pubkey) =
                (param(q, "inputMint").parse().unwrap(), param(q, "outputMint").parse().unwrap());
            let (m, buy) = me.market(&input, &output);
            let amount: u64 = param(q, "inAmount").parse().unwrap();
            let min_out: u64 = param(q, "otherAmountThreshold").parse().unwrap();
            let chain = chain.lock().unwrap();
            let swap = |amount, min_out| swap_instructions(&m.pool, &user, &m.token, buy, amount, min_out);
            let tx = match *me.route.lock().unwrap() {
                Route::Honest => unsigned(&chain, &user, &swap(amount, min_out)),
                Route::OtherFeePayer => unsigned(&chain, &Pubkey::new_unique(), &swap(amount, min_out)),
                Route::Skims => {
                    // Into the pool's vault of the input: an account anyone can pay into.
                    let mut ixs = swap(amount, min_out);
                    let from = associated_token::get_associated_token_address(&user, &input);
                    let elsewhere = if m.pool.mint_a == input { m.pool.vault_a } else { m.pool.vault_b };
                    ixs.push(
                        spl_token::instruction::transfer(&spl_token::ID, &from, &elsewhere, &user, &[], amount).unwrap(),
                    );
                    unsigned(&chain, &user, &ixs)
                }
                Route::Short => unsigned(&chain, &user, &swap(amount / 10, 0)),
            };
            let b64 =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bincode::serialize(&tx).unwrap());
            Reply::json(format!(
                r#"{{"swapTransaction":"{b64}","lastValidBlockHeight":{},"prioritizationFeeLamports":0,"computeUnitLimit":200000,
                "prioritizationType":{{"computeBudget":{{"microLamports":0,"estimatedMicroLamports":0}}}},"dynamicSlippageReport":null,"simulationError":null}}"#,
                chain.slot() + 150
            ))
        });
        fake
    }

    pub fn add(&self, m: Market) {
        self.markets.lock().unwrap().push(m);
    }

    pub fn set_route(&self, r: Route) {
        *self.route.lock().unwrap() = r;
    }

    /// The market of a pair of mints, and whether the swap buys its token.
    fn market(&self, input: &Pubkey, output: &Pubkey) -> (Market, bool) {
        let markets = self.markets.lock().unwrap();
        let m = markets
            .iter()
            .find(|m| (m.quote_mint, m.token) == (*input, *output) || (m.token, m.quote_mint) == (*input, *output))
            .copied()
            .unwrap_or_else(|| panic!("no route for {input} -> {output}"));
        (m, m.quote_mint == *input)
    }
}
