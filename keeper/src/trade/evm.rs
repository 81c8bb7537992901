//! EVM execution through a Uniswap V2-style router's fee-on-transfer-aware functions: exact
//! quotes from the pair's reserves, a nonce manager, EIP-1559 fees under a cap, replacement of a
//! transaction that does not land, and receipts turned into fills.
//!
//! Safety rule: a trade is only ever concluded from chain evidence (a receipt of one of its
//! transactions, or its nonce consumed by another transaction). Every signed transaction is in
//! the mirror before it is broadcast, so a restart resumes tracking it.

use std::{collections::HashMap, time::Duration, time::Instant};

use alloy::{
    eips::{BlockNumberOrTag, Encodable2718},
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolEvent},
    transports::RpcError,
};
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use tokio::sync::Mutex;

use super::{
    amount,
    executor::{OtherRoute, SellCheck, Simulated},
    store::{self, PositionRow, Signed, TradeRow},
    EvmExecConfig, Mode, Outcome, TradeError,
};
use crate::{
    chains::evm::{
        abi::{IERC20Approve, IUniswapV2Pair, IUniswapV2Router, IERC20, IWETH},
        behaviour::{fund_token, simulate_sale, token_balance, Sale, Venue, Wallets},
    },
    config::{EvmChainConfig, FactoryKind},
    sandbox::{RpcState, Sandbox, StateMemory},
};

/// A call to sign (again): persisted with the trade so replacements and restarts rebuild it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub to: Address,
    pub value: U256,
    pub input: Bytes,
    pub gas: u64,
    /// The least tip and fee cap per gas to sign with (a sale that must land ahead of a pending
    /// transaction: above its fees); `None`: the configured fees.
    #[serde(default)]
    pub ahead: Option<(u128, u128)>,
    /// A buy right after a pending launch: signed first with exactly the launch's fees, and
    /// replaced (with higher ones) only once the launch is mined, since higher fees would put it
    /// ahead of the launch, where it reverts.
    #[serde(default)]
    pub after: Option<After>,
}

/// The pending launch a buy follows.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct After {
    pub tx: B256,
    pub tip: u128,
    pub max_fee: u128,
}

fn rpc(e: impl std::fmt::Display) -> TradeError {
    TradeError::Rpc(e.to_string())
}

fn parse_addr(s: &str) -> Result<Address, TradeError> {
    s.parse().map_err(|_| TradeError::Invalid(format!("bad address {s}")))
}

/// One EVM chain's venue and executor.
pub struct EvmTrader {
    pub chain: String,
    http: DynProvider,
    chain_id: u64,
    pub weth: Address,
    /// The v2 router of each venue (factory name).
    routers: HashMap<String, Address>,
    /// The v2 factory of each venue that has a router, in config order: the other routes a
    /// trapped position's exit may take.
    factories: Vec<(String, Address)>,
    wallet: Option<EthereumWallet>,
    pub address: Address,
    cfg: EvmExecConfig,
    /// The next nonce to use, once known. Held while a transaction is signed, recorded and
    /// broadcast, so nonces are handed out without gaps.
    nonce: Mutex<Option<u64>>,
    /// Pair fee in basis points (Uniswap V2: 30).
    pub fee_bps: u32,
    /// The watchdog's view of the chain: the newest block it simulated sales at, and that
    /// block's lazily read state, shared by every position and size checked at that block.
    watch: std::sync::Mutex<Option<(u64, u64, RpcState)>>,
    memory: StateMemory,
    /// Approve the router for a token as soon as it is bought (the anti-rug watch is on): a sale
    /// ahead of a pending rug must not first wait a block for its approval.
    approve_on_buy: bool,
    /// Live transactions go to this relay instead of the public node.
    relay: Option<super::relay::Relay>,
}

impl EvmTrader {
    pub fn new(
        chain: &str,
        http: DynProvider,
        c: &EvmChainConfig,
        key: Option<PrivateKeySigner>,
        cfg: EvmExecConfig,
    ) -> Self {
        let routers = c
            .factories
            .iter()
            .filter(|f| f.kind == FactoryKind::V2)
            .filter_map(|f| Some((f.name.clone(), f.router?)))
            .collect();
        let factories = c
            .factories
            .iter()
            .filter(|f| f.kind == FactoryKind::V2 && f.router.is_some())
            .map(|f| (f.name.clone(), f.address))
            .collect();
        let address = key.as_ref().map(|k| k.address()).unwrap_or_default();
        let approve_on_buy = c.mempool && cfg.front_run_rugs;
        let relay = match (&key, cfg.private_relay_url.as_str()) {
            (Some(k), url) if !url.is_empty() => {
                Some(super::relay::Relay::new(url, cfg.private_relay_method, k.clone()))
            }
            _ => None,
        };
        Self {
            chain: chain.to_string(),
            http,
            chain_id: c.chain_id,
            weth: c.wrapped_native,
            routers,
            factories,
            wallet: key.map(EthereumWallet::from),
            address,
            cfg,
            nonce: Mutex::new(None),
            watch: std::sync::Mutex::new(None),
            memory: StateMemory::default(),
            approve_on_buy,
            relay,
            fee_bps: if c.factories.iter().any(|f| f.name.starts_with("pancakeswap")) { 25 } else { 30 },
        }
    }

    pub fn router(&self, venue: &str) -> Option<Address> {
        self.routers.get(venue).copied()
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// An ERC-20's `decimals()`.
    pub async fn decimals(&self, token: &str) -> Result<u8, TradeError> {
        crate::chains::evm::abi::IERC20::new(parse_addr(token)?, &self.http).decimals().call().await.map_err(rpc)
    }

    /// The pair's reserves as (quote side, token side).
    async fn reserves(&self, pool: Address, token: Address) -> Result<(U256, U256), TradeError> {
        self.reserves_at(pool, token, None).await
    }

    /// The pair's reserves at block `at` (the latest when `None`): (quote, token).
    async fn reserves_at(&self, pool: Address, token: Address, at: Option<u64>) -> Result<(U256, U256), TradeError> {
        let pair = IUniswapV2Pair::new(pool, &self.http);
        let block = at.map_or(alloy::eips::BlockId::latest(), alloy::eips::BlockId::number);
        let (reserves, token0) = (pair.getReserves().block(block), pair.token0().block(block));
        let (r, token0) = tokio::try_join!(reserves.call(), token0.call()).map_err(rpc)?;
        let (r0, r1) = (U256::from(r.reserve0), U256::from(r.reserve1));
        Ok(if token0 == token { (r1, r0) } else { (r0, r1) })
    }

    /// Exact output of buying `token` with `amount_in` wrapped native, before any token tax, and
    /// the pool's quote reserve.
    pub async fn quote_buy(&self, pool: &str, token: &str, amount_in: U256) -> Result<(U256, U256), TradeError> {
        let (rq, rt) = self.reserves(parse_addr(pool)?, parse_addr(token)?).await?;
        Ok((super::strategy::v2_amount_out(amount_in, rq, rt, self.fee_bps), rq))
    }

    /// Exact wrapped native out for selling `size` tokens at block `at` (the latest when
    /// `None`), before the token's sell tax.
    pub async fn quote_sell(&self, pool: &str, token: &str, size: U256, at: Option<u64>) -> Result<U256, TradeError> {
        let (rq, rt) = self.reserves_at(parse_addr(pool)?, parse_addr(token)?, at).await?;
        Ok(super::strategy::v2_amount_out(size, rt, rq, self.fee_bps))
    }

    /// The latest block's number, timestamp and base fee, and its state for the sandbox (one
    /// state per block, shared by all the checks at that block).
    async fn watch_state(&self) -> Result<(u64, u64, u128, RpcState), TradeError> {
        let header = self
            .http
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(rpc)?
            .ok_or_else(|| TradeError::Rpc("no latest block".into()))?
            .header;
        let (number, timestamp) = (header.number, header.timestamp);
        let base_fee = u128::from(header.base_fee_per_gas.unwrap_or(0));
        let mut w = self.watch.lock().unwrap_or_else(|e| e.into_inner());
        match &*w {
            Some((n, t, state)) if *n == number => Ok((number, *t, base_fee, state.clone())),
            _ => {
                let state = RpcState::new(self.http.clone(), number, self.memory.clone());
                *w = Some((number, timestamp, state.clone()));
                Ok((number, timestamp, base_fee, state))
            }
        }
    }

    /// The pairs of the position's token and quote token on the chain's other v2 venues
    /// (`getPair` of each other factory), holding reserves.
    pub async fn other_routes(&self, p: &PositionRow) -> Result<Vec<OtherRoute>, TradeError> {
        use crate::chains::evm::abi::IUniswapV2Factory;
        let (token, quote) = (parse_addr(&p.token)?, parse_addr(&p.quote_token)?);
        let mut routes = Vec::new();
        for (venue, factory) in self.factories.iter().filter(|(v, _)| *v != p.venue) {
            let pair = IUniswapV2Factory::new(*factory, &self.http).getPair(token, quote).call().await.map_err(rpc)?;
            if pair == Address::ZERO {
                continue;
            }
            let (rq, rt) = self.reserves(pair, token).await?;
            if !rq.is_zero() && !rt.is_zero() {
                routes.push(OtherRoute { venue: venue.clone(), pool_address: format!("{pair:#x}") });
            }
        }
        Ok(routes)
    }

    /// Quotes selling `size` of a position and simulates the sale from our wallet at the latest
    /// block through the position's router: live, from what the wallet really holds; in dry-run,
    /// from the wallet given the position's tokens in the simulation (the token's balance slot;
    /// when it cannot be found, the quote alone values the position).
    pub async fn check_sell(&self, p: &PositionRow, size: U256, mode: Mode) -> Result<SellCheck, TradeError> {
        self.check_sell_with(p, size, mode, None).await
    }

    /// [`Self::check_sell`] in the state `pending` would leave if it were mined first: the
    /// pending transaction runs in the sandbox (from its sender), then our sale.
    pub async fn check_sell_with(
        &self,
        p: &PositionRow,
        size: U256,
        mode: Mode,
        pending: Option<&PendingTx>,
    ) -> Result<SellCheck, TradeError> {
        let Some(router) = self.router(&p.venue) else {
            let quoted = self.quote_sell(&p.pool_address, &p.token, size, None).await?;
            return Ok(SellCheck { quoted, block: None, simulated: None });
        };
        let venue = Venue {
            router,
            pair: parse_addr(&p.pool_address)?,
            token: parse_addr(&p.token)?,
            quote: parse_addr(&p.quote_token)?,
            wrapped_native: self.weth,
        };
        let (block, timestamp, base_fee, state) = self.watch_state().await?;
        // The quote at the block the sale is simulated at: a quote from one block and a sale
        // from the next would misjudge the tax, and the paper fill, whenever a trade lands
        // between the two reads.
        let quoted = self.quote_sell(&p.pool_address, &p.token, size, Some(block)).await?;
        let who = if self.address == Address::ZERO { Wallets::default().buyer } else { self.address };
        let (chain_id, native) = (self.chain_id, venue.quote == self.weth);
        let first = pending.and_then(|t| Some((t.from, t.to?, t.input.clone(), t.value)));
        let lane = crate::sandbox::priority::current();
        let sim = tokio::task::spawn_blocking(move || -> Result<Option<Simulated>, String> {
            let mut sb = Sandbox::new(state, chain_id, timestamp).in_lane(lane);
            let mut load = vec![venue.token, venue.pair, venue.router, venue.quote, who];
            load.extend(first.iter().flat_map(|(from, to, ..)| [*from, *to]));
            let _ = sb.prefetch(&load);
            let mut held = token_balance(&mut sb, &venue, who).map_err(|e| e.to_string())?;
            let amount = match mode {
                Mode::Live => held.min(size),
                Mode::DryRun => {
                    if fund_token(&mut sb, venue.token, who, size).is_err() {
                        return Ok(None);
                    }
                    size
                }
            };
            if let Some((from, to, input, value)) = first {
                // Whether it succeeds or not, what it leaves is what our sale would meet.
                sb.send(from, to, input, value).map_err(|e| e.to_string())?;
                held = token_balance(&mut sb, &venue, who).map_err(|e| e.to_string())?;
                if held < amount {
                    // It took tokens from us (a sweep): what is left is what can be sold.
                    let sale = simulate_sale(&sb, &venue, who, held).map_err(|e| e.to_string())?;
                    return Ok(Some(Simulated::Short {
                        held,
                        received: if sale.ok { sale.received } else { U256::ZERO },
                    }));
                }
            }
            if amount.is_zero() {
                return Ok(Some(Simulated::Short { held, received: U256::ZERO }));
            }
            let sale = simulate_sale(&sb, &venue, who, amount).map_err(|e| e.to_string())?;
            let fee = if native { U256::from(sale.gas_used) * U256::from(base_fee) } else { U256::ZERO };
            Ok(Some(match sale {
                Sale { ok: false, error, .. } => Simulated::Reverts { reason: error.unwrap_or_default() },
                Sale { received, .. } if amount < size => Simulated::Short { held, received },
                Sale { received, .. } => Simulated::Sold { received, fee },
            }))
        })
        .await
        .map_err(|e| TradeError::Rpc(format!("sale simulation panicked: {e}")))?;
        match sim {
            Ok(simulated) => Ok(SellCheck { quoted, block: Some(block), simulated }),
            Err(e) => Err(TradeError::Rpc(format!("sale simulation: {e}"))),
        }
    }

    fn deadline(&self) -> U256 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        U256::from(now.saturating_add(self.cfg.deadline_secs))
    }

    /// The router call of a trade row.
    pub fn request(&self, t: &TradeRow) -> Result<Request, TradeError> {
        let router =
            self.router(&t.venue).ok_or_else(|| TradeError::Invalid(format!("no v2 router for {}", t.venue)))?;
        let token = parse_addr(&t.token)?;
        let (input, value) = if t.is_buy() {
            let call = IUniswapV2Router::swapExactETHForTokensSupportingFeeOnTransferTokensCall {
                amountOutMin: amount(&t.min_out),
                path: vec![self.weth, token],
                to: self.address,
                deadline: self.deadline(),
            };
            (call.abi_encode(), amount(&t.amount_in))
        } else {
            let call = IUniswapV2Router::swapExactTokensForETHSupportingFeeOnTransferTokensCall {
                amountIn: amount(&t.amount_in),
                amountOutMin: amount(&t.min_out),
                path: vec![token, self.weth],
                to: self.address,
                deadline: self.deadline(),
            };
            (call.abi_encode(), U256::ZERO)
        };
        Ok(Request { to: router, value, input: input.into(), gas: 0, ahead: None, after: None })
    }

    /// `req` as an unsigned call from the wallet.
    fn call(&self, req: &Request) -> TransactionRequest {
        TransactionRequest::default()
            .with_from(self.address)
            .with_to(req.to)
            .with_value(req.value)
            .with_input(req.input.clone())
    }

    /// The next nonce to use (the caller holds the lock while it signs and broadcasts).
    async fn next_nonce(&self, next: &Option<u64>) -> Result<u64, TradeError> {
        match *next {
            Some(n) => Ok(n),
            None => self.http.get_transaction_count(self.address).pending().await.map_err(rpc),
        }
    }

    /// Signs `req` at `nonce` with the `level`-th fees: (hash, raw transaction).
    async fn sign(&self, req: &Request, nonce: u64, level: u32) -> Result<(B256, Vec<u8>), TradeError> {
        let wallet = self.wallet.as_ref().ok_or_else(|| TradeError::Invalid("live trading without a key".into()))?;
        let (max_fee, tip) = self.fees_of(level, req).await?;
        let tx = self
            .call(req)
            .with_nonce(nonce)
            .with_chain_id(self.chain_id)
            .with_gas_limit(req.gas)
            .with_max_fee_per_gas(max_fee)
            .with_max_priority_fee_per_gas(tip);
        let envelope = tx.build(wallet).await.map_err(|e| TradeError::Invalid(format!("signing: {e}")))?;
        Ok((*envelope.tx_hash(), envelope.encoded_2718()))
    }

    /// Gas for a request, with a margin; an error means the call would revert now.
    async fn estimate(&self, req: &Request) -> Result<u64, String> {
        // A sale ahead of a pending transaction is estimated on the latest block: a node that
        // estimates on its pending block would run the very transaction we are getting ahead of.
        let call = self.http.estimate_gas(self.call(req));
        let call = if req.ahead.is_some() { call.block(alloy::eips::BlockId::latest()) } else { call };
        let gas = call.await.map_err(|e| e.to_string())?;
        // Unused gas is not paid for. The fixed part covers state the estimate could not see: the
        // first swap in a later block writes the pair's price accumulators (two fresh slots,
        // ~44k gas) when the estimate ran in the launch block.
        Ok(gas.saturating_mul(13) / 10 + 60_000)
    }

    /// [`Self::fees`] for `req`: a buy after a pending launch signs first with exactly the
    /// launch's fees (capped), later attempts bump from them.
    async fn fees_of(&self, level: u32, req: &Request) -> Result<(u128, u128), TradeError> {
        match (&req.after, level) {
            (Some(a), 0) => {
                let cap = u128::try_from(self.cfg.max_fee_wei).unwrap_or(u128::MAX);
                let max = a.max_fee.min(cap);
                Ok((max, a.tip.min(max)))
            }
            (Some(a), _) => self.fees(level, Some((a.tip, a.max_fee))).await,
            (None, _) => self.fees(level, req.ahead).await,
        }
    }

    /// Fees per gas for the `level`-th attempt: (2 x base fee + tip), each attempt `fee_bump_bps`
    /// higher, never above the cap; at least `ahead` (tip, fee cap) when the sale must land
    /// ahead of a pending transaction.
    async fn fees(&self, level: u32, ahead: Option<(u128, u128)>) -> Result<(u128, u128), TradeError> {
        let block = self.http.get_block_by_number(BlockNumberOrTag::Latest).await.map_err(rpc)?;
        let base = u128::from(block.and_then(|b| b.header.base_fee_per_gas).unwrap_or(1_000_000_000));
        let cap = u128::try_from(self.cfg.max_fee_wei).unwrap_or(u128::MAX);
        let (least_tip, least_max) = ahead.unwrap_or((0, 0));
        let mut tip = u128::try_from(self.cfg.priority_fee_wei).unwrap_or(0).max(least_tip);
        let mut max = base.saturating_mul(2).saturating_add(tip).max(least_max);
        for _ in 0..level {
            tip = tip.saturating_mul(10_000 + u128::from(self.cfg.fee_bump_bps)) / 10_000 + 1;
            max = max.saturating_mul(10_000 + u128::from(self.cfg.fee_bump_bps)) / 10_000 + 1;
        }
        let max = max.min(cap);
        Ok((max, tip.min(max)))
    }

    /// Signs `req` at `nonce` with the `level`-th fees; records it; broadcasts it. Returns the
    /// hash and whether the node definitely refused it.
    async fn sign_record_send(
        &self,
        db: &SqlitePool,
        trade_id: i64,
        req: &Request,
        nonce: u64,
        level: u32,
        seen_at: Option<Instant>,
    ) -> Result<(B256, Option<String>), TradeError> {
        let (hash, raw) = self.sign(req, nonce, level).await?;
        let request = serde_json::to_string(req).map_err(|e| TradeError::Invalid(e.to_string()))?;
        let raw_hex = alloy::hex::encode_prefixed(&raw);
        store::record_signed(
            db,
            trade_id,
            &Signed {
                tx_id: &hash.to_string(),
                raw: &raw_hex,
                request: &request,
                nonce: Some(nonce),
                valid_until: None,
            },
        )
        .await?;
        let at = Instant::now();
        let refused = self.broadcast(&raw).await;
        store::record_latency(db, &self.chain, trade_id, seen_at, at, req.ahead.is_some()).await;
        Ok((hash, refused))
    }

    /// Broadcasts; `Some(reason)` when the node refused it for good.
    async fn broadcast(&self, raw: &[u8]) -> Option<String> {
        if let Some(relay) = &self.relay {
            let head = self.http.get_block_number().await.unwrap_or(0);
            return match relay.send(raw, head).await {
                Ok(()) => None,
                Err(super::relay::RelayError::Refused(e)) => Some(e),
                Err(e) => {
                    tracing::warn!(chain = %self.chain, error = %e, "private send failed in transport; tracking the transaction");
                    None
                }
            };
        }
        match self.http.send_raw_transaction(raw).await {
            Ok(_) => None,
            Err(RpcError::ErrorResp(e)) => {
                let m = e.message.to_ascii_lowercase();
                // Already in the pool (a rebroadcast) is fine.
                (!(m.contains("already known") || m.contains("already imported") || m.contains("known transaction")))
                    .then(|| e.message.to_string())
            }
            // Transport trouble: it may or may not have reached the node; tracking decides.
            Err(e) => {
                tracing::warn!(chain = %self.chain, error = %e, "broadcast failed in transport; tracking the transaction");
                None
            }
        }
    }

    /// Executes a fresh trade: gas estimate (a call that would revert is never sent), nonce,
    /// sign, record, broadcast, then tracking until the chain settles it.
    pub async fn execute(
        &self,
        db: &SqlitePool,
        t: &TradeRow,
        seen_at: Option<Instant>,
    ) -> Result<Outcome, TradeError> {
        self.execute_with(db, t, seen_at, None, None).await
    }

    /// The fees that land a transaction ahead of `pending` under fee ordering: its tip and cap
    /// raised by `front_run_tip_bump_bps`, plus one wei.
    pub fn ahead_of(&self, pending: &PendingTx) -> (u128, u128) {
        let bump = |v: u128| v.saturating_mul(10_000 + u128::from(self.cfg.front_run_tip_bump_bps)) / 10_000 + 1;
        (bump(pending.tip), bump(pending.max_fee))
    }

    async fn execute_with(
        &self,
        db: &SqlitePool,
        t: &TradeRow,
        seen_at: Option<Instant>,
        ahead: Option<(u128, u128)>,
        after: Option<After>,
    ) -> Result<Outcome, TradeError> {
        let mut req = self.request(t)?;
        req.ahead = ahead;
        req.after = after;
        if !t.is_buy() {
            if let Err(e) = self.ensure_allowance(&t.token, req.to, amount(&t.amount_in), ahead).await {
                return Ok(Outcome::Failed { tx_id: None, error: e });
            }
        }
        req.gas = match after {
            // Before the launch lands the pair has no liquidity and an estimate would revert (and
            // cost a round trip on the buy's path): the sandbox ran the buy after the launch when
            // the token was scored.
            Some(_) => self.cfg.launch_buy_gas,
            None => match self.estimate(&req).await {
                Ok(g) => g,
                Err(e) => return Ok(Outcome::Failed { tx_id: None, error: format!("would revert: {e}") }),
            },
        };
        let mut next = self.nonce.lock().await;
        let nonce = self.next_nonce(&next).await?;
        let (hash, refused) = self.sign_record_send(db, t.id, &req, nonce, 0, seen_at).await?;
        if let Some(reason) = refused {
            *next = None; // resynchronise from the node next time
            drop(next);
            return Ok(Outcome::Failed { tx_id: None, error: format!("refused by the node: {reason}") });
        }
        *next = Some(nonce + 1);
        drop(next);
        let outcome = self.track(db, t, &req, nonce, vec![hash], 0).await?;
        if let (true, true, Outcome::Confirmed { amount_out, .. }) = (self.approve_on_buy, t.is_buy(), &outcome) {
            if let Err(e) = self.ensure_allowance(&t.token, req.to, *amount_out, None).await {
                tracing::warn!(chain = %self.chain, token = %t.token, error = %e,
                    "cannot approve the router after the buy; the sale will approve first");
            }
        }
        Ok(outcome)
    }

    /// Resumes a trade found unsettled after a restart.
    pub async fn resume(&self, db: &SqlitePool, t: &TradeRow) -> Result<Outcome, TradeError> {
        let hashes: Vec<B256> = t.tx_ids().iter().filter_map(|h| h.parse().ok()).collect();
        let (Some(nonce), Some(request)) = (t.nonce, t.request.as_deref()) else {
            // Crashed before anything was signed: nothing can be on chain.
            return Ok(Outcome::Failed { tx_id: None, error: "not sent before the keeper stopped".into() });
        };
        let nonce = u64::try_from(nonce).map_err(|_| TradeError::Invalid("negative nonce".into()))?;
        let req: Request = serde_json::from_str(request).map_err(|e| TradeError::Invalid(e.to_string()))?;
        {
            // Never hand this nonce (or a lower one) out again.
            let mut next = self.nonce.lock().await;
            let pending = self.http.get_transaction_count(self.address).pending().await.map_err(rpc)?;
            *next = Some(next.unwrap_or(0).max(pending).max(nonce + 1));
        }
        if let Some(raw) = t.raw_tx.as_deref().and_then(|r| alloy::hex::decode(r).ok()) {
            let _ = self.broadcast(&raw).await;
        }
        let level = u32::try_from(hashes.len().saturating_sub(1)).unwrap_or(0);
        self.track(db, t, &req, nonce, hashes, level).await
    }

    /// Waits for a receipt of any of `hashes`; replaces the transaction with higher fees when it
    /// does not land in time; fails only when another transaction took the nonce.
    async fn track(
        &self,
        db: &SqlitePool,
        t: &TradeRow,
        req: &Request,
        nonce: u64,
        mut hashes: Vec<B256>,
        mut level: u32,
    ) -> Result<Outcome, TradeError> {
        let poll = Duration::from_millis(self.cfg.receipt_poll_ms);
        let replace_after = Duration::from_millis(self.cfg.replace_after_ms);
        let mut last_sent = Instant::now();
        loop {
            if let Some(outcome) = self.receipt_of(t, req, &hashes).await? {
                return Ok(outcome);
            }
            if last_sent.elapsed() >= replace_after {
                let mined = self.http.get_transaction_count(self.address).latest().await.map_err(rpc)?;
                if mined > nonce {
                    // The nonce is used: by one of ours (receipt just now) or by something else.
                    if let Some(outcome) = self.receipt_of(t, req, &hashes).await? {
                        return Ok(outcome);
                    }
                    return Ok(Outcome::Failed { tx_id: None, error: "nonce used by another transaction".into() });
                }
                if let Some(a) = &req.after {
                    if self.http.get_transaction_receipt(a.tx).await.map_err(rpc)?.is_none() {
                        // The launch is still pending: ours waits behind it.
                        last_sent = Instant::now();
                        tokio::time::sleep(poll).await;
                        continue;
                    }
                }
                let (max_now, _) = self.fees_of(level, req).await?;
                let (max_next, _) = self.fees_of(level + 1, req).await?;
                if max_next > max_now {
                    level += 1;
                    let (hash, refused) = self.sign_record_send(db, t.id, req, nonce, level, None).await?;
                    metrics::counter!("keeper_evm_replacements_total", "chain" => self.chain.clone()).increment(1);
                    tracing::info!(chain = %self.chain, trade = t.id, nonce, %hash, level, "replacing a transaction that did not land");
                    if let Some(reason) = refused {
                        tracing::warn!(chain = %self.chain, trade = t.id, %reason, "replacement refused");
                    }
                    hashes.push(hash);
                } else if let Some(raw) = store::trade(db, t.id).await?.raw_tx.and_then(|r| alloy::hex::decode(r).ok())
                {
                    // At the fee cap: keep the last one in the pool.
                    let _ = self.broadcast(&raw).await;
                }
                last_sent = Instant::now();
            }
            tokio::time::sleep(poll).await;
        }
    }

    async fn receipt_of(&self, t: &TradeRow, req: &Request, hashes: &[B256]) -> Result<Option<Outcome>, TradeError> {
        for h in hashes.iter().rev() {
            if let Some(r) = self.http.get_transaction_receipt(*h).await.map_err(rpc)? {
                let mut outcome = self.outcome(t, &r);
                if let (Outcome::Failed { error, .. }, Some(block)) = (&mut outcome, r.block_number) {
                    // Why: the same call replayed on the state before that block.
                    let at = alloy::eips::BlockId::number(block.saturating_sub(1));
                    if let Err(e) = self.http.call(self.call(req)).block(at).await {
                        error.push_str(&format!(": {e}"));
                    }
                }
                return Ok(Some(outcome));
            }
        }
        Ok(None)
    }

    /// A receipt as a fill: tokens that reached the wallet (buys), wrapped native the router
    /// unwrapped for it (sells).
    fn outcome(&self, t: &TradeRow, r: &TransactionReceipt) -> Outcome {
        let tx_id = r.transaction_hash.to_string();
        if !r.status() {
            return Outcome::Failed { tx_id: Some(tx_id), error: format!("reverted (gas used {})", r.gas_used) };
        }
        let token: Address = t.token.parse().unwrap_or_default();
        let mut out = U256::ZERO;
        for log in r.inner.logs() {
            if t.is_buy() && log.address() == token {
                if let Ok(e) = IERC20::Transfer::decode_log_data(log.data()) {
                    if e.to == self.address {
                        out = out.saturating_add(e.value);
                    }
                }
            } else if !t.is_buy() && log.address() == self.weth {
                if let Ok(e) = IWETH::Withdrawal::decode_log_data(log.data()) {
                    out = out.saturating_add(e.wad);
                }
            }
        }
        let fee = U256::from(r.gas_used).saturating_mul(U256::from(r.effective_gas_price));
        Outcome::Confirmed { tx_id, block: r.block_number.unwrap_or(0), amount_out: out, fee_paid: fee }
    }

    /// Lets the router spend the wallet's tokens before a sell (one approval per token).
    async fn ensure_allowance(
        &self,
        token: &str,
        router: Address,
        need: U256,
        ahead: Option<(u128, u128)>,
    ) -> Result<(), String> {
        let token = parse_addr(token).map_err(|e| e.to_string())?;
        let erc20 = IERC20Approve::new(token, &self.http);
        let allowance = erc20.allowance(self.address, router).call().await.map_err(|e| e.to_string())?;
        if allowance >= need {
            return Ok(());
        }
        let req = Request {
            to: token,
            value: U256::ZERO,
            input: IERC20Approve::approveCall { spender: router, amount: U256::MAX }.abi_encode().into(),
            gas: 0,
            ahead,
            after: None,
        };
        let req = Request { gas: self.estimate(&req).await?, ..req };
        let mut next = self.nonce.lock().await;
        let nonce = self.next_nonce(&next).await.map_err(|e| e.to_string())?;
        let (hash, raw) = self.sign(&req, nonce, 0).await.map_err(|e| e.to_string())?;
        if let Some(reason) = self.broadcast(&raw).await {
            *next = None;
            return Err(format!("approval refused: {reason}"));
        }
        *next = Some(nonce + 1);
        drop(next);
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(self.cfg.replace_after_ms.saturating_mul(5)) {
            if let Some(r) = self.http.get_transaction_receipt(hash).await.map_err(|e| e.to_string())? {
                return if r.status() { Ok(()) } else { Err("approval reverted".into()) };
            }
            tokio::time::sleep(Duration::from_millis(self.cfg.receipt_poll_ms)).await;
        }
        Err("approval not mined yet".into())
    }
}

use futures::{future::BoxFuture, FutureExt};

use crate::pipeline::{LaunchState, PendingTx, PoolRecord};

impl super::executor::Executor for EvmTrader {
    fn check_sell_after<'a>(
        &'a self,
        p: &'a PositionRow,
        size: U256,
        mode: Mode,
        pending: &'a PendingTx,
    ) -> BoxFuture<'a, Result<SellCheck, TradeError>> {
        self.check_sell_with(p, size, mode, Some(pending)).boxed()
    }

    fn execute_ahead<'a>(
        &'a self,
        db: &'a SqlitePool,
        t: &'a TradeRow,
        pending: &'a PendingTx,
    ) -> BoxFuture<'a, Result<Outcome, TradeError>> {
        // Its latency runs from the pending transaction reaching the keeper.
        self.execute_with(db, t, Some(pending.seen_at), Some(self.ahead_of(pending)), None).boxed()
    }

    fn quote_buy_after<'a>(
        &'a self,
        _pool: &'a PoolRecord,
        amount_in: U256,
        launch: &'a LaunchState,
    ) -> BoxFuture<'a, super::executor::Quoted> {
        let (reserve_token, reserve_quote) = launch.reserves;
        let out = super::strategy::v2_amount_out(amount_in, reserve_quote, reserve_token, self.fee_bps);
        async move { Ok((out, Some(reserve_quote))) }.boxed()
    }

    fn execute_after<'a>(
        &'a self,
        db: &'a SqlitePool,
        t: &'a TradeRow,
        seen_at: Option<Instant>,
        launch: &'a LaunchState,
    ) -> BoxFuture<'a, Result<Outcome, TradeError>> {
        let after = After { tx: launch.tx, tip: launch.tip, max_fee: launch.max_fee };
        self.execute_with(db, t, seen_at, None, Some(after)).boxed()
    }

    fn touches(&self, p: &PositionRow, pending: &PendingTx) -> bool {
        let Some(to) = pending.to else { return false };
        if pending.from == self.address && self.address != Address::ZERO {
            return false; // our own sale or approval
        }
        let (Ok(token), Ok(pair)) = (parse_addr(&p.token), parse_addr(&p.pool_address)) else { return false };
        // A router call that names the token (a swap path, removeLiquidity).
        let names_token = pending.input.windows(20).any(|w| w == token.as_slice());
        to == token || to == pair || (self.router(&p.venue) == Some(to) && names_token)
    }

    fn quote_buy<'a>(
        &'a self,
        pool: &'a PoolRecord,
        token: &'a str,
        _quote_token: &'a str,
        amount_in: U256,
    ) -> BoxFuture<'a, super::executor::Quoted> {
        async move { self.quote_buy(&pool.address, token, amount_in).await.map(|(out, r)| (out, Some(r))) }.boxed()
    }

    fn check_sell<'a>(
        &'a self,
        p: &'a PositionRow,
        size: U256,
        mode: Mode,
    ) -> BoxFuture<'a, Result<SellCheck, TradeError>> {
        self.check_sell(p, size, mode).boxed()
    }

    fn decimals<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<u8, TradeError>> {
        self.decimals(token).boxed()
    }

    fn other_routes<'a>(&'a self, p: &'a PositionRow) -> BoxFuture<'a, Result<Vec<OtherRoute>, TradeError>> {
        self.other_routes(p).boxed()
    }

    fn execute<'a>(
        &'a self,
        db: &'a SqlitePool,
        t: &'a TradeRow,
        seen_at: Option<Instant>,
    ) -> BoxFuture<'a, Result<Outcome, TradeError>> {
        self.execute(db, t, seen_at).boxed()
    }

    fn resume<'a>(&'a self, db: &'a SqlitePool, t: &'a TradeRow) -> BoxFuture<'a, Result<Outcome, TradeError>> {
        self.resume(db, t).boxed()
    }

    fn evm_chain_id(&self) -> Option<u64> {
        Some(self.chain_id())
    }
}
