//! Measures an EVM token for the risk scorer: reads the chain (owner, reserves, LP and holder
//! logs, metadata) concurrently, then runs the token in the sandbox (`super::behaviour`: EOA
//! round trips through the pool's router and the privilege search) on a blocking thread.

use std::{collections::HashMap, time::Instant};

use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};

use futures::{future::BoxFuture, FutureExt};
use mirror::Row;

use super::bytecode::{pushed_addresses, pushed_selectors, selector, EIP1967_IMPLEMENTATION_SLOT};
use super::{
    abi::{IUniswapV2Pair, IERC20},
    addr,
    behaviour::{self, Budget, SearchCache, Venue, Wallets},
    bytecode::is_burn_address,
    logs::get_logs_adaptive,
};
use crate::{
    config::EvmChainConfig,
    pipeline::{PendingLaunch, PendingTx, PoolRecord},
    risk::{
        engine::{Evaluation, LaunchEvaluation, RiskEngine, RiskError},
        rules::evm::{assess, Capabilities, EvmFacts, LpClass, LpHolder},
        Assessment, RiskPolicy,
    },
    sandbox::{RpcState, Sandbox, StateMemory},
};

/// Privileged functions looked for in a token's code, by kind.
const MINT: &[&str] = &["mint(address,uint256)", "mint(uint256)", "mintTo(address,uint256)", "issue(uint256)"];
const BLACKLIST: &[&str] = &[
    "blacklist(address,bool)",
    "blacklist(address)",
    "addToBlacklist(address)",
    "addBlacklist(address)",
    "setBlacklist(address,bool)",
    "blacklistAddress(address,bool)",
    "setBots(address[],bool)",
    "setBot(address,bool)",
    "isBlacklisted(address)",
];
const PAUSE: &[&str] = &["pause()", "unpause()", "setPaused(bool)", "setTradingEnabled(bool)"];
const FEE_SETTER: &[&str] = &[
    "setTaxes(uint256,uint256)",
    "setFees(uint256,uint256)",
    "setFee(uint256)",
    "setFees(uint256)",
    "setBuyTax(uint256)",
    "setSellTax(uint256)",
    "setBuyFee(uint256)",
    "setSellFee(uint256)",
    "updateFees(uint256,uint256)",
    "setTaxFeePercent(uint256)",
];
const LIMIT_SETTER: &[&str] =
    &["setMaxTxAmount(uint256)", "setMaxTx(uint256)", "setMaxWalletSize(uint256)", "setMaxWallet(uint256)"];

/// Which privileged functions a contract's code exposes.
pub fn capabilities(codes: &[&[u8]]) -> Capabilities {
    let mut selectors = std::collections::HashSet::new();
    for code in codes {
        selectors.extend(pushed_selectors(code));
    }
    let found = |sigs: &[&str]| -> Vec<String> {
        sigs.iter().filter(|s| selectors.contains(&selector(s))).map(|s| s.to_string()).collect()
    };
    Capabilities {
        mint: found(MINT),
        blacklist: found(BLACKLIST),
        pause: found(PAUSE),
        fee_setter: found(FEE_SETTER),
        limit_setter: found(LIMIT_SETTER),
    }
}

/// Balances reconstructed from ERC-20 `Transfer` logs (exact for ordinary tokens).
pub fn balances_from_transfers(logs: &[Log]) -> HashMap<Address, U256> {
    let mut balances: HashMap<Address, U256> = HashMap::new();
    for log in logs {
        let Ok(t) = log.log_decode::<IERC20::Transfer>() else { continue };
        let t = t.inner.data;
        if t.from != Address::ZERO {
            let b = balances.entry(t.from).or_default();
            *b = b.saturating_sub(t.value);
        }
        let b = balances.entry(t.to).or_default();
        *b = b.saturating_add(t.value);
    }
    balances
}

/// The chain as a pending launch would leave it, read in the sandbox where the launch ran.
#[derive(Clone)]
struct LaunchView {
    /// The sandbox after the launch (one block on from the latest).
    sandbox: Sandbox,
    /// The launch's sender: the pool's creator and liquidity adder (`None`: a transaction that
    /// does not create the pool; its creator is read from the chain).
    from: Option<Address>,
    pair: Address,
    token0: Address,
    token1: Address,
    reserves: (U256, U256),
    lp_total: U256,
    owner: Option<Address>,
    supply: U256,
    /// LP balances of the launch's LP receiver and the burn addresses.
    lp: Vec<(Address, U256)>,
}

/// What [`EvmRiskEngine::chain_reads`] read from the node (`None`: the call failed or reverted,
/// or a pending launch provides it).
struct ChainReads {
    code: Bytes,
    /// The EIP-1967 implementation, when the token is such a proxy, and its code.
    implementation: Option<Address>,
    impl_code: Bytes,
    owner: Option<Address>,
    reserves: Option<(U256, U256)>,
    token0: Option<Address>,
    token1: Option<Address>,
    lp_total: Option<U256>,
    lp_logs: Vec<Log>,
    holder_logs: Vec<Log>,
    /// The sender of the pool's creating transaction.
    sender: Option<Address>,
    supply: Option<U256>,
    /// The measured block's timestamp (0 after a launch: the sandbox has its own).
    timestamp: u64,
    name: Option<String>,
    symbol: Option<String>,
    decimals: Option<u8>,
    /// The reserves at the pool's creation block.
    initial: Option<(U256, U256)>,
}

/// `f`'s value when `yes`; `None` without polling it (so without its request) otherwise.
async fn only_if<T>(yes: bool, f: impl std::future::Future<Output = Option<T>>) -> Option<T> {
    if yes {
        f.await
    } else {
        None
    }
}

/// A view call in the sandbox, decoded (`None` when it reverts or returns something else).
fn view_call<C: alloy::sol_types::SolCall>(sb: &mut Sandbox, to: Address, call: C) -> Option<C::Return> {
    let o = sb.call(Address::ZERO, to, call.abi_encode().into()).ok()?;
    if !o.success {
        return None;
    }
    C::abi_decode_returns(&o.output).ok()
}

/// Runs a pending launch in a sandbox on top of `sb`'s block (as the next block would mine it)
/// and reads the pair it leaves; `Ok(None)` when the launch reverts or leaves no funded pair.
fn simulate_launch(
    sb: Sandbox,
    launch: &PendingLaunch,
    wrapped_native: Address,
) -> Result<Option<LaunchView>, crate::sandbox::SandboxError> {
    use super::abi::IUniswapV2Factory;
    let Some(mut sb) = run_pending(sb, &launch.tx, &[launch.token, launch.factory, wrapped_native])? else {
        return Ok(None);
    };
    let pair = view_call(
        &mut sb,
        launch.factory,
        IUniswapV2Factory::getPairCall { tokenA: launch.token, tokenB: wrapped_native },
    );
    let Some(pair) = pair.filter(|p| *p != Address::ZERO) else { return Ok(None) };
    Ok(read_pair(sb, pair, launch.token, Some(launch.lp_to)).map(|v| LaunchView { from: Some(launch.tx.from), ..v }))
}

/// `sb` after `tx`, run as the next block would mine it; `None` when it reverts. The sender,
/// the target and `also` (the contracts it will touch) are loaded first, in one concurrent batch.
fn run_pending(
    mut sb: Sandbox,
    tx: &PendingTx,
    also: &[Address],
) -> Result<Option<Sandbox>, crate::sandbox::SandboxError> {
    let Some(to) = tx.to else { return Ok(None) };
    let mut load = vec![tx.from, to];
    load.extend_from_slice(also);
    let _ = sb.prefetch(&load);
    sb.advance(1);
    Ok(sb.send(tx.from, to, tx.input.clone(), tx.value)?.success.then_some(sb))
}

/// The pair `pair` of `token` as `sb` holds it, with the LP balances of `lp_to` (a launch's LP
/// receiver) and the burn addresses; `None` when it is not a funded pair.
fn read_pair(mut sb: Sandbox, pair: Address, token: Address, lp_to: Option<Address>) -> Option<LaunchView> {
    let (Some(r), Some(token0), Some(token1)) = (
        view_call(&mut sb, pair, IUniswapV2Pair::getReservesCall {}),
        view_call(&mut sb, pair, IUniswapV2Pair::token0Call {}),
        view_call(&mut sb, pair, IUniswapV2Pair::token1Call {}),
    ) else {
        return None;
    };
    let reserves = (U256::from(r.reserve0), U256::from(r.reserve1));
    if reserves.0.is_zero() || reserves.1.is_zero() {
        return None;
    }
    let lp_total = view_call(&mut sb, pair, IUniswapV2Pair::totalSupplyCall {}).unwrap_or_default();
    let owner = view_call(&mut sb, token, IERC20::ownerCall {});
    let supply = view_call(&mut sb, token, IERC20::totalSupplyCall {}).unwrap_or_default();
    let mut lp = Vec::new();
    for who in lp_to.into_iter().chain([Address::ZERO, super::bytecode::DEAD]) {
        let b = view_call(&mut sb, pair, IUniswapV2Pair::balanceOfCall { owner: who }).unwrap_or_default();
        if !b.is_zero() {
            lp.push((who, b));
        }
    }
    Some(LaunchView { sandbox: sb, from: None, pair, token0, token1, reserves, lp_total, owner, supply, lp })
}

/// What the engine needs to know about a pool.
#[derive(Debug, Clone)]
pub struct PoolRef {
    pub pool: Address,
    pub base_token: Address,
    pub created_block: u64,
    pub created_tx: Option<B256>,
}

/// Token metadata read while measuring, for the mirror's `tokens` row.
#[derive(Debug, Clone, Default)]
pub struct TokenMeta {
    pub name: Option<String>,
    pub symbol: Option<String>,
    pub decimals: Option<u8>,
    pub total_supply: U256,
    /// The pool's reserves (token0, token1) at the block it was created.
    pub initial_reserves: Option<(U256, U256)>,
    /// The pool's reserves (token0, token1) at the block measured.
    pub reserves: Option<(U256, U256)>,
    /// Who sent the transaction that created the pool.
    pub creator: Option<Address>,
    /// What the report rests on, to tell when it is due again.
    pub watch: Watch,
}

/// What a report's conclusions rest on, read again to tell when the token must be scored again:
/// the LP supply (liquidity added or removed), the nonces of the callers known before the
/// privilege search (the owner, the first receiver of the supply, the liquidity adder: any
/// transaction they send, to the token or anything else), and the balances of the three largest
/// LP holders (LP tokens moved).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Watch {
    pub lp_total: U256,
    pub nonces: Vec<(Address, u64)>,
    pub lp: Vec<(Address, U256)>,
}

/// Measures and scores EVM tokens on one chain.
pub struct EvmRiskEngine {
    http: DynProvider,
    router: Option<Address>,
    wrapped_native: Address,
    probe_small: U256,
    probe_large: U256,
    min_liquidity: U256,
    lookback: u64,
    policy: RiskPolicy,
    chain_id: u64,
    memory: StateMemory,
    searches: SearchCache,
    lp_lockers: Vec<Address>,
}

/// LP holders classified at most (the largest; the rest hold little).
const LP_HOLDERS: usize = 10;

impl EvmRiskEngine {
    pub fn new(http: DynProvider, cfg: &EvmChainConfig, policy: RiskPolicy) -> Self {
        let router = cfg.factories.iter().find_map(|f| f.router);
        Self {
            http,
            router,
            wrapped_native: cfg.wrapped_native,
            probe_small: cfg.probe_small_wei,
            probe_large: cfg.probe_large_wei,
            min_liquidity: cfg.min_liquidity_wei,
            lookback: cfg.max_log_range,
            policy,
            chain_id: cfg.chain_id,
            memory: StateMemory::default(),
            searches: SearchCache::default(),
            lp_lockers: cfg.lp_lockers.clone(),
        }
    }

    /// The pair's largest LP holders outside the burn addresses and the pair itself, classified:
    /// a configured locker; the deployer (`linked`: the pool's creator, the owner, the first
    /// receiver of the supply); a contract naming one of those in its code or its first four
    /// storage slots; or someone we cannot link.
    async fn lp_holders(
        &self,
        balances: &HashMap<Address, U256>,
        pair: Address,
        linked: &[Address],
        at: BlockId,
    ) -> Vec<LpHolder> {
        let http = &self.http;
        let mut held: Vec<(Address, U256)> = balances
            .iter()
            .filter(|(a, b)| !b.is_zero() && !is_burn_address(**a) && **a != pair)
            .map(|(a, b)| (*a, *b))
            .collect();
        held.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        held.truncate(LP_HOLDERS);
        let classify = |address: Address| async move {
            if self.lp_lockers.contains(&address) {
                return LpClass::Locked;
            }
            if linked.contains(&address) {
                return LpClass::Deployer;
            }
            let code = http.get_code_at(address).block_id(at).await.unwrap_or_default();
            if code.is_empty() {
                return LpClass::Other;
            }
            if pushed_addresses(&code).iter().any(|a| linked.contains(a)) {
                return LpClass::DeployerContract;
            }
            let slots = futures::future::join_all(
                (0u8..4).map(|i| async move { http.get_storage_at(address, U256::from(i)).block_id(at).await.ok() }),
            )
            .await;
            let names_deployer =
                slots.into_iter().flatten().any(|w| linked.contains(&Address::from_word(B256::from(w))));
            if names_deployer {
                LpClass::DeployerContract
            } else {
                LpClass::OtherContract
            }
        };
        futures::future::join_all(
            held.into_iter()
                .map(|(address, amount)| async move { LpHolder { address, amount, class: classify(address).await } }),
        )
        .await
    }

    /// Measures the token and scores it. Returns the assessment, the block measured and metadata.
    pub async fn evaluate(
        &self,
        p: &PoolRef,
    ) -> Result<(Assessment, u64, TokenMeta), alloy::transports::TransportError> {
        let (facts, block, meta) = self.measure(p).await?;
        Ok((assess(&facts, &self.policy), block, meta))
    }

    /// Scores a pending launch's token on the state the launch would leave (the next block on
    /// top of the latest): the pair it funds (as the mirror's row), the assessment, the block
    /// the launch would be mined in, metadata, and the pair's reserves (token, wrapped native)
    /// after it. `None` when the launch would revert, or funds no pair with the wrapped native
    /// token.
    pub async fn evaluate_launch(
        &self,
        launch: &PendingLaunch,
    ) -> Result<Option<(PoolRef, Assessment, u64, TokenMeta, (U256, U256))>, alloy::transports::TransportError> {
        let started = Instant::now();
        let http = &self.http;
        let (block, timestamp) = self.latest().await?;
        let sandbox = Sandbox::new(RpcState::new(http.clone(), block, self.memory.clone()), self.chain_id, timestamp);
        let (l, weth) = (launch.clone(), self.wrapped_native);
        let simulated = async {
            let since = Instant::now();
            let view = match tokio::task::spawn_blocking(move || simulate_launch(sandbox, &l, weth)).await {
                Ok(v) => {
                    v.map_err(|e| alloy::transports::TransportErrorKind::custom_str(&format!("launch simulation: {e}")))
                }
                Err(e) => {
                    Err(alloy::transports::TransportErrorKind::custom_str(&format!("launch simulation panicked: {e}")))
                }
            };
            (view, since.elapsed())
        };
        // The token's reads do not depend on the pair the launch creates: made meanwhile.
        let mut p = PoolRef {
            pool: Address::ZERO,
            base_token: launch.token,
            created_block: block + 1,
            created_tx: Some(launch.tx.hash),
        };
        let reads = async {
            let since = Instant::now();
            (self.chain_reads(&p, block, true).await, since.elapsed())
        };
        let ((view, simulated), (reads, read)) = tokio::join!(simulated, reads);
        let Some(view) = view? else { return Ok(None) };
        let reads = reads?;
        let token_first = view.token0 == launch.token;
        let reserves = if token_first { view.reserves } else { (view.reserves.1, view.reserves.0) };
        p.pool = view.pair;
        let before_probes = started.elapsed();
        let (launch_reads, launch_trips) = (view.sandbox.reads(), view.sandbox.round_trips());
        let (facts, measured, meta) = self.measure_with(&p, block, reads, Some(view), started).await;
        tracing::debug!(token = %launch.token, tx = %launch.tx.hash,
            launch_us = simulated.as_micros(), reads_us = read.as_micros(), before_probes_us = before_probes.as_micros(),
            probes_us = facts.behaviour.search.micros, total_us = started.elapsed().as_micros(),
            launch_reads, launch_trips, reads = facts.behaviour.state_reads, trips = facts.behaviour.state_round_trips,
            "pending launch measured");
        Ok(Some((p, assess(&facts, &self.policy), measured + 1, meta, reserves)))
    }

    /// Scores a mirrored pool's token on the state a pending transaction `tx` would leave (the
    /// next block on top of the latest): the assessment, the block it would be mined in,
    /// metadata, and the pair's reserves (token, quote) after it. `None` when `tx` would revert.
    pub async fn evaluate_after(
        &self,
        p: &PoolRef,
        tx: &PendingTx,
    ) -> Result<Option<(Assessment, u64, TokenMeta, (U256, U256))>, alloy::transports::TransportError> {
        let http = &self.http;
        let (block, timestamp) = self.latest().await?;
        let sandbox = Sandbox::new(RpcState::new(http.clone(), block, self.memory.clone()), self.chain_id, timestamp);
        let (tx, pair, token) = (tx.clone(), p.pool, p.base_token);
        let view = tokio::task::spawn_blocking(move || {
            run_pending(sandbox, &tx, &[token, pair]).map(|sb| sb.and_then(|sb| read_pair(sb, pair, token, None)))
        })
        .await
        .map_err(|e| alloy::transports::TransportErrorKind::custom_str(&format!("simulation panicked: {e}")))?
        .map_err(|e| alloy::transports::TransportErrorKind::custom_str(&format!("simulation: {e}")))?;
        let Some(view) = view else { return Ok(None) };
        let reserves = if view.token0 == p.base_token { view.reserves } else { (view.reserves.1, view.reserves.0) };
        let (facts, measured, meta) = self.measure_at(p, block, Some(view)).await?;
        Ok(Some((assess(&facts, &self.policy), measured + 1, meta, reserves)))
    }

    /// The latest block's number and timestamp, in one round trip.
    async fn latest(&self) -> Result<(u64, u64), alloy::transports::TransportError> {
        let header = self
            .http
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| alloy::transports::TransportErrorKind::custom_str("the node has no latest block"))?
            .header;
        Ok((header.number, header.timestamp))
    }

    /// The engine's view of a mirrored pool.
    pub fn pool_ref(p: &PoolRecord) -> Result<PoolRef, RiskError> {
        let malformed = || RiskError::Malformed(p.id);
        Ok(PoolRef {
            pool: p.address.parse().map_err(|_| malformed())?,
            base_token: p.base_token.as_deref().unwrap_or(&p.token_a).parse().map_err(|_| malformed())?,
            created_block: p.created_slot.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            created_tx: p.created_tx.as_deref().and_then(|h| h.parse().ok()),
        })
    }

    pub async fn measure(&self, p: &PoolRef) -> Result<(EvmFacts, u64, TokenMeta), alloy::transports::TransportError> {
        let block = self.http.get_block_number().await?;
        self.measure_at(p, block, None).await
    }

    /// The chain reads a measurement makes at `block`, all at once: the token's code, proxy
    /// slot and implementation code, transfer logs and metadata, and, unless a pending launch
    /// provides them (`launched`: the pair does not exist yet), the pair's reserves, tokens, LP
    /// supply and transfer logs, the token's owner and supply, the pool's creator and its first
    /// reserves. A launch's reads do not depend on the pair: they run while the launch is
    /// simulated.
    async fn chain_reads(
        &self,
        p: &PoolRef,
        block: u64,
        launched: bool,
    ) -> Result<ChainReads, alloy::transports::TransportError> {
        let http = &self.http;
        let token = IERC20::new(p.base_token, http);
        let pair = IUniswapV2Pair::new(p.pool, http);
        let at = BlockId::number(block);
        let transfer_logs = |address: Address| {
            let filter = Filter::new().address(address).event_signature(IERC20::Transfer::SIGNATURE_HASH);
            let from = p.created_block.saturating_sub(self.lookback);
            async move { get_logs_adaptive(http, &filter, from, block, self.lookback.max(1)).await }
        };
        let (mined, pair) = (!launched, &pair);
        let implementation = async {
            let slot = http.get_storage_at(p.base_token, EIP1967_IMPLEMENTATION_SLOT.into()).block_id(at).await?;
            let i = Address::from_word(B256::from(slot));
            let code = match i != Address::ZERO {
                true => http.get_code_at(i).block_id(at).await?,
                false => Bytes::new(),
            };
            Ok::<_, alloy::transports::TransportError>(((i != Address::ZERO).then_some(i), code))
        };
        // What a pending launch provides is not read (a future not awaited sends nothing).
        let reserves_at = |at: BlockId| {
            only_if(mined, async move {
                let r = pair.getReserves().block(at).call().await.ok()?;
                Some((U256::from(r.reserve0), U256::from(r.reserve1)))
            })
        };
        let (code, implementation, owner, reserves, token0, token1, lp_total, lp_logs, holder_logs, sender, supply) = tokio::join!(
            http.get_code_at(p.base_token).block_id(at),
            implementation,
            only_if(mined, async { token.owner().block(at).call().await.ok() }),
            reserves_at(at),
            only_if(mined, async { pair.token0().block(at).call().await.ok() }),
            only_if(mined, async { pair.token1().block(at).call().await.ok() }),
            only_if(mined, async { pair.totalSupply().block(at).call().await.ok() }),
            async {
                match mined {
                    true => transfer_logs(p.pool).await,
                    false => Ok(Vec::new()),
                }
            },
            transfer_logs(p.base_token),
            async {
                match (mined, p.created_tx) {
                    (true, Some(h)) => http.get_transaction_by_hash(h).await.ok().flatten().map(|t| t.inner.signer()),
                    _ => None,
                }
            },
            only_if(mined, async { token.totalSupply().block(at).call().await.ok() }),
        );
        let (name, symbol, decimals, initial, header) = tokio::join!(
            async { token.name().call().await.ok() },
            async { token.symbol().call().await.ok() },
            async { token.decimals().call().await.ok() },
            reserves_at(BlockId::number(p.created_block)),
            async {
                if mined {
                    http.get_block_by_number(block.into()).await.map(|b| b.map(|b| b.header.timestamp))
                } else {
                    Ok(None)
                }
            },
        );
        let (implementation, impl_code) = implementation?;
        Ok(ChainReads {
            code: code?,
            implementation,
            impl_code,
            owner,
            reserves,
            token0,
            token1,
            lp_total,
            lp_logs: lp_logs?,
            holder_logs: holder_logs?,
            sender,
            supply,
            timestamp: header?.unwrap_or_default(),
            name,
            symbol,
            decimals,
            initial,
        })
    }

    /// Measures the pool at `block`, or, with `launch`, on the state a pending launch would leave
    /// on top of it: the pair's reserves, LP supply and LP holders, the token's owner, supply and
    /// largest balances, and every sandbox probe, are read after the launch.
    async fn measure_at(
        &self,
        p: &PoolRef,
        block: u64,
        launch: Option<LaunchView>,
    ) -> Result<(EvmFacts, u64, TokenMeta), alloy::transports::TransportError> {
        let started = Instant::now();
        let reads = self.chain_reads(p, block, launch.is_some()).await?;
        Ok(self.measure_with(p, block, reads, launch, started).await)
    }

    /// [`Self::measure_at`] with its chain reads made: the sandbox's probes and privilege search
    /// start at once, while the LP holders are classified, the largest holders are read after a
    /// launch, and the callers' nonces are read.
    async fn measure_with(
        &self,
        p: &PoolRef,
        block: u64,
        reads: ChainReads,
        launch: Option<LaunchView>,
        started: Instant,
    ) -> (EvmFacts, u64, TokenMeta) {
        let http = &self.http;
        let at = BlockId::number(block);
        let ChainReads {
            code,
            implementation: proxy_implementation,
            impl_code,
            owner,
            reserves,
            token0,
            token1,
            lp_total,
            lp_logs,
            holder_logs,
            sender,
            supply,
            timestamp,
            name,
            symbol,
            decimals,
            initial,
        } = reads;
        // After a pending launch, what the launch changes is read from the sandbox instead.
        let (owner, reserves, token0, token1, lp_total, supply, sender) = match &launch {
            Some(l) => (
                l.owner,
                Some(l.reserves),
                Some(l.token0),
                Some(l.token1),
                Some(l.lp_total),
                Some(l.supply),
                l.from.or(sender),
            ),
            None => (owner, reserves, token0, token1, lp_total, supply, sender),
        };
        let capabilities = capabilities(&[&code, &impl_code]);

        let current = reserves;
        // The quote is the pair's other side; its reserve sizes the probes.
        let quote = match (token0, token1) {
            (Some(t0), Some(t1)) => Some(if t0 == p.base_token { t1 } else { t0 }),
            _ => None,
        };
        let quote_reserve = match (current, token0) {
            (Some((r0, r1)), Some(t0)) => {
                if t0 == p.base_token {
                    r1
                } else {
                    r0
                }
            }
            _ => U256::ZERO,
        };
        let native_reserve = if quote == Some(self.wrapped_native) { quote_reserve } else { U256::ZERO };
        let mut lp_balances = balances_from_transfers(&lp_logs);
        if let Some(l) = &launch {
            lp_balances.extend(l.lp.iter().copied());
        }
        let lp_burned = lp_balances.iter().filter(|(a, _)| is_burn_address(**a)).map(|(_, b)| *b).sum();
        let first_mint = holder_logs.iter().find_map(|l| {
            let t = l.log_decode::<IERC20::Transfer>().ok()?.inner.data;
            (t.from == Address::ZERO).then_some(t.to)
        });
        let mut linked: Vec<Address> =
            [sender, owner, first_mint].into_iter().flatten().filter(|a| !is_burn_address(*a)).collect();
        linked.sort();
        linked.dedup();
        let mut holders: Vec<(Address, U256)> = balances_from_transfers(&holder_logs)
            .into_iter()
            .filter(|(a, b)| !b.is_zero() && !is_burn_address(*a) && *a != p.pool)
            .collect();
        holders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let top_holders = async {
            let Some(l) = &launch else { return holders };
            // The launch moves the launcher's tokens into the pair: the largest holders' balances
            // are read again after it.
            holders.truncate(self.policy.top_holders_count.saturating_mul(2).max(8));
            let (sandbox, token, pool) = (l.sandbox.clone(), p.base_token, p.pool);
            let mut holders = tokio::task::spawn_blocking(move || {
                let mut sb = sandbox;
                holders
                    .into_iter()
                    .map(|(a, b)| (a, view_call(&mut sb, token, IERC20::balanceOfCall { owner: a }).unwrap_or(b)))
                    .filter(|(a, b)| !b.is_zero() && *a != pool)
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            holders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            holders
        };
        let total_supply = supply.unwrap_or_default();

        let behaviour = async {
            match (self.router, quote) {
                (Some(router), Some(quote)) => {
                    let venue =
                        Venue { router, pair: p.pool, token: p.base_token, quote, wrapped_native: self.wrapped_native };
                    let (small_in, large_in) = if quote == self.wrapped_native {
                        (self.probe_small, self.probe_large)
                    } else {
                        (quote_reserve / U256::from(200u16), quote_reserve / U256::from(20u16))
                    };
                    let probe = behaviour::Probe {
                        venue,
                        wallets: Wallets::default(),
                        small_in,
                        large_in,
                        owner,
                        deployer: first_mint,
                        liquidity_adder: sender,
                        budget: Budget {
                            max_simulations: self.policy.sandbox_max_simulations,
                            time: std::time::Duration::from_millis(self.policy.sandbox_budget_ms),
                        },
                        cache: self.searches.clone(),
                    };
                    let sandbox = match &launch {
                        Some(l) => l.sandbox.clone(),
                        None => Sandbox::new(
                            RpcState::new(http.clone(), block, self.memory.clone()),
                            self.chain_id,
                            timestamp,
                        ),
                    };
                    tokio::task::spawn_blocking(move || behaviour::measure(&sandbox, &probe)).await.unwrap_or_else(
                        |e| behaviour::Behaviour {
                            probe_error: Some(format!("sandbox panicked: {e}")),
                            ..Default::default()
                        },
                    )
                }
                (None, _) => behaviour::Behaviour {
                    probe_error: Some("no v2 router configured for this chain".into()),
                    ..Default::default()
                },
                (_, None) => behaviour::Behaviour {
                    probe_error: Some("the pair's tokens could not be read".into()),
                    ..Default::default()
                },
            }
        };
        // The nonces of the callers: any transaction they send later makes the report due
        // again (see `Watch`). Those known before the search are read while the sandbox runs;
        // those only the search found (hard-coded or stored addresses) after it, at the same block.
        let nonces_of = |callers: Vec<Address>| {
            futures::future::join_all(
                callers
                    .into_iter()
                    .map(|a| async move { http.get_transaction_count(a).block_id(at).await.ok().map(|n| (a, n)) }),
            )
        };
        let (behaviour, mut nonces, lp_holders, mut holders) = tokio::join!(
            behaviour,
            nonces_of(linked.clone()),
            self.lp_holders(&lp_balances, p.pool, &linked, at),
            top_holders
        );
        holders.truncate(self.policy.top_holders_count);
        let found: Vec<Address> = behaviour.callers.iter().map(|(_, a)| *a).filter(|a| !linked.contains(a)).collect();
        nonces.extend(nonces_of(found).await);
        let mut lp_largest: Vec<(Address, U256)> = lp_holders.iter().take(3).map(|h| (h.address, h.amount)).collect();
        lp_largest.sort();
        let watch = Watch {
            lp_total: lp_total.unwrap_or_default(),
            nonces: nonces.into_iter().flatten().collect(),
            lp: lp_largest,
        };
        let facts = EvmFacts {
            small: behaviour.small.clone(),
            large: behaviour.large.clone(),
            probe_error: behaviour.probe_error.clone(),
            behaviour,
            owner,
            capabilities,
            proxy_implementation,
            quote: quote.unwrap_or_default(),
            quote_is_native: quote == Some(self.wrapped_native),
            quote_reserve,
            native_reserve,
            min_native_reserve: self.min_liquidity,
            lp_total: lp_total.unwrap_or_default(),
            lp_burned,
            lp_holders,
            creator: sender,
            total_supply,
            top_holders: holders,
        };
        let meta = TokenMeta {
            name,
            symbol,
            decimals,
            total_supply,
            initial_reserves: match &launch {
                Some(l) => Some(l.reserves),
                None => initial,
            },
            reserves: current,
            creator: sender,
            watch,
        };
        metrics::histogram!("keeper_risk_measure_seconds", "kind" => "evm").record(started.elapsed().as_secs_f64());
        (facts, block, meta)
    }
}

/// What a measurement learnt for the mirror: token metadata, the pool's creator, and its first
/// funded reserves (a pair created empty gets the reserves seen when it is first measured
/// funded, which takes it out of the re-scoring set).
fn meta_rows(chain: &str, address: &str, token: &str, meta: &TokenMeta) -> Vec<Row> {
    let mut rows = vec![Row::Token(mirror::TokenRow {
        chain: chain.to_string(),
        address: token.to_string(),
        symbol: meta.symbol.clone(),
        name: meta.name.clone(),
        decimals: meta.decimals,
        total_supply: Some(meta.total_supply.to_string()),
    })];
    if let Some(creator) = meta.creator {
        rows.push(Row::PoolCreator { chain: chain.to_string(), address: address.to_string(), creator: addr(creator) });
    }
    let funded = |r: Option<(U256, U256)>| r.filter(|(a, b)| !a.is_zero() && !b.is_zero());
    if let Some((r0, r1)) = funded(meta.initial_reserves).or(funded(meta.reserves)) {
        rows.push(Row::InitialReserves {
            chain: chain.to_string(),
            address: address.to_string(),
            reserve_a: r0.to_string(),
            reserve_b: r1.to_string(),
        });
    }
    rows
}

impl RiskEngine for EvmRiskEngine {
    fn evaluate<'a>(&'a self, p: &'a PoolRecord) -> BoxFuture<'a, Result<Evaluation, RiskError>> {
        async move {
            let pool_ref = Self::pool_ref(p)?;
            let (assessment, block, meta) =
                EvmRiskEngine::evaluate(self, &pool_ref).await.map_err(|e| RiskError::Rpc(e.to_string()))?;
            let token = addr(pool_ref.base_token);
            let rows = meta_rows(&p.chain, &p.address, &token, &meta);
            let watch = serde_json::to_string(&meta.watch).ok();
            Ok(Evaluation { token, assessment, measured_slot: block, rows, watch })
        }
        .boxed()
    }

    fn evaluate_after<'a>(
        &'a self,
        pool: &'a PoolRecord,
        tx: &'a PendingTx,
    ) -> BoxFuture<'a, Result<Option<LaunchEvaluation>, RiskError>> {
        async move {
            let p = Self::pool_ref(pool)?;
            let found = EvmRiskEngine::evaluate_after(self, &p, tx).await.map_err(|e| RiskError::Rpc(e.to_string()))?;
            let Some((assessment, block, meta, reserves)) = found else { return Ok(None) };
            let token = addr(p.base_token);
            let rows = meta_rows(&pool.chain, &pool.address, &token, &meta);
            let watch = serde_json::to_string(&meta.watch).ok();
            let evaluation = Evaluation { token, assessment, measured_slot: block, rows, watch };
            Ok(Some(LaunchEvaluation { pool_address: pool.address.clone(), evaluation, reserves }))
        }
        .boxed()
    }

    fn evaluate_launch<'a>(
        &'a self,
        launch: &'a PendingLaunch,
    ) -> BoxFuture<'a, Result<Option<LaunchEvaluation>, RiskError>> {
        async move {
            let found =
                EvmRiskEngine::evaluate_launch(self, launch).await.map_err(|e| RiskError::Rpc(e.to_string()))?;
            let Some((p, assessment, block, meta, reserves)) = found else { return Ok(None) };
            let (token, pool_address) = (addr(p.base_token), addr(p.pool));
            let rows = meta_rows(&launch.tx.chain, &pool_address, &token, &meta);
            let watch = serde_json::to_string(&meta.watch).ok();
            let evaluation = Evaluation { token, assessment, measured_slot: block, rows, watch };
            Ok(Some(LaunchEvaluation { pool_address, evaluation, reserves }))
        }
        .boxed()
    }

    fn changed<'a>(&'a self, p: &'a PoolRecord, watch: &'a str) -> BoxFuture<'a, Result<Option<String>, RiskError>> {
        async move {
            let Ok(w) = serde_json::from_str::<Watch>(watch) else { return Ok(None) };
            let pool = Self::pool_ref(p)?.pool;
            self.changed_since(pool, &w).await.map_err(|e| RiskError::Rpc(e.to_string()))
        }
        .boxed()
    }
}

impl EvmRiskEngine {
    /// What changed since `w` was read, in plain words (`None`: nothing the report rests on).
    pub async fn changed_since(&self, pool: Address, w: &Watch) -> Result<Option<String>, alloy::contract::Error> {
        let http = &self.http;
        let pair = IUniswapV2Pair::new(pool, http);
        let lp = IERC20::new(pool, http);
        let (total, nonces, balances) = tokio::join!(
            async { pair.totalSupply().call().await },
            futures::future::join_all(
                w.nonces.iter().map(|(a, _)| async move { http.get_transaction_count(*a).await })
            ),
            futures::future::join_all(w.lp.iter().map(|(a, _)| {
                let lp = &lp;
                async move { lp.balanceOf(*a).call().await }
            })),
        );
        let total = total?;
        if total > w.lp_total {
            return Ok(Some(format!("liquidity was added (LP supply {} -> {total})", w.lp_total)));
        }
        if total < w.lp_total {
            return Ok(Some(format!("liquidity was removed (LP supply {} -> {total})", w.lp_total)));
        }
        for ((a, before), now) in w.lp.iter().zip(balances) {
            let now = now?;
            if now != *before {
                return Ok(Some(format!("LP tokens moved ({a}: {before} -> {now})")));
            }
        }
        for ((a, before), now) in w.nonces.iter().zip(nonces) {
            let now = now.map_err(alloy::contract::Error::TransportError)?;
            if now > *before {
                return Ok(Some(format!("{a} sent a transaction")));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;

    #[test]
    fn selectors_skip_push_data() {
        // PUSH4 0x40c10f19 (mint(address,uint256)), then PUSH32 whose data contains 0x63 + a
        // selector that must not be read.
        let mint = keccak256("mint(address,uint256)");
        let pause = keccak256("pause()");
        let mut code = vec![0x63, mint[0], mint[1], mint[2], mint[3], 0x7f];
        let mut data = [0u8; 32];
        data[0] = 0x63;
        data[1..5].copy_from_slice(&pause[..4]);
        code.extend_from_slice(&data);
        code.push(0x00);
        let caps = capabilities(&[&code]);
        assert_eq!(caps.mint, vec!["mint(address,uint256)".to_string()]);
        assert!(caps.pause.is_empty(), "push data is not code");
    }
}
