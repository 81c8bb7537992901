//! What a token *does*, measured in the sandbox (`crate::sandbox`), never what its functions are
//! called:
//!
//! - round trips from an EOA through the venue's router (buy, wallet transfer, sell), with the
//!   token's calls, DELEGATECALLs, `tx.origin` reads and silent balance changes recorded;
//! - the privilege search: every selector in the token's dispatcher, called by every candidate
//!   privileged caller with a small set of argument patterns; after each call that changes state,
//!   our sell, our transfer, our balance and the supply are measured again.
//!
//! Synchronous (revm is): the engine runs it on a blocking thread. The scoring is in
//! `crate::risk::rules::evm`.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    sol,
    sol_types::{SolCall, SolEvent},
};
use serde::{Deserialize, Serialize};

use super::bytecode::{pushed_addresses, pushed_selectors, revert_reason, selector, DEAD, EIP1967_IMPLEMENTATION_SLOT};
use crate::{
    risk::shortfall_bps,
    sandbox::{CallKind, Outcome, Sandbox, SandboxError, Trace},
};

sol! {
    interface IProbeRouter {
        function getAmountsOut(uint256 amountIn, address[] path) external view returns (uint256[] amounts);
        function swapExactETHForTokensSupportingFeeOnTransferTokens(uint256 amountOutMin, address[] path, address to, uint256 deadline) external payable;
        function swapExactTokensForETHSupportingFeeOnTransferTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline) external;
        function swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline) external;
    }
    interface IProbeToken {
        function balanceOf(address who) external view returns (uint256);
        function totalSupply() external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
        function approve(address spender, uint256 value) external returns (bool);
    }
}

/// One buy -> wallet transfer -> sell round trip from an EOA through the pool's router, run in the
/// sandbox. Amounts of the quote are in its smallest unit (wei for the wrapped native token).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeProbe {
    pub eth_in: U256,
    pub buy_ok: bool,
    pub buy_quote: U256,
    pub bought: U256,
    pub transfer_ok: bool,
    pub transfer_sent: U256,
    pub transfer_received: U256,
    pub sell_ok: bool,
    pub sold: U256,
    pub sell_quote: U256,
    pub eth_back: U256,
    pub tiny_sell_ok: bool,
    pub buy_error: Option<String>,
    pub sell_error: Option<String>,
}

impl TradeProbe {
    pub fn buy_tax_bps(&self) -> u32 {
        shortfall_bps(self.buy_quote, self.bought)
    }
    pub fn sell_tax_bps(&self) -> u32 {
        shortfall_bps(self.sell_quote, self.eth_back)
    }
    pub fn transfer_tax_bps(&self) -> u32 {
        shortfall_bps(self.transfer_sent, self.transfer_received)
    }
}

/// The pool a token is probed through.
#[derive(Debug, Clone, Copy)]
pub struct Venue {
    pub router: Address,
    pub pair: Address,
    pub token: Address,
    /// The pair's other side (wrapped native or a stablecoin).
    pub quote: Address,
    pub wrapped_native: Address,
}

/// Our two simulated wallets: plain EOAs nobody has a key for.
#[derive(Debug, Clone, Copy)]
pub struct Wallets {
    pub buyer: Address,
    pub friend: Address,
}

impl Default for Wallets {
    fn default() -> Self {
        Self {
            buyer: Address::from_word(keccak256(b"amm-sniper sandbox buyer v2")),
            friend: Address::from_word(keccak256(b"amm-sniper sandbox friend v2")),
        }
    }
}

/// Who might hold a privileged power, and why we think so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `owner()`.
    Owner,
    /// The receiver of the first mint (the deployer in practice).
    Deployer,
    /// Whoever sent the transaction that created the pool / added the first liquidity.
    LiquidityAdder,
    /// An address hard-coded in the token's bytecode.
    HardCoded,
    /// An address stored in one of the token's first storage slots.
    StorageSlot,
}

/// What one successful privileged call did to us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Our sell reverts afterwards (it worked before).
    SellReverts {
        error: String,
        /// The caller can still sell its own tokens in that state: the power spares its holder.
        caller_can_sell: bool,
        /// The call emitted a log naming our wallet (announced, as regulated issuers do).
        announced: bool,
    },
    /// Our wallet-to-wallet transfer reverts afterwards.
    TransfersBlocked { caller_can_sell: bool, announced: bool },
    /// Our sell's tax, in basis points, against the baseline's.
    SellTax { bps: u32, baseline_bps: u32 },
    /// Our balance fell without us sending anything.
    BalanceTaken { before: String, after: String },
    /// Supply (or the sum of the balances we watch) rose without a transfer from anyone.
    Minted { amount: String, supply: String, share_bps: u32 },
    /// The code our sell runs through changed (an implementation or helper swapped).
    CodeChanged { before: Vec<String>, after: Vec<String> },
}

/// A privileged call that changed something that matters to a holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivilegedCall {
    /// The contract called: the token, or a helper contract its transfers consult.
    pub contract: Address,
    /// `0x`-prefixed 4-byte selector.
    pub selector: String,
    pub caller: Address,
    pub role: Role,
    /// The argument words tried, as decimal or address strings.
    pub args: Vec<String>,
    pub effects: Vec<Effect>,
}

/// How much of the privilege search ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchStats {
    pub selectors: usize,
    pub callers: usize,
    pub simulations: u64,
    /// The budget ran out before every combination was tried.
    pub exhausted: bool,
    /// Only the combinations that mattered for the same code before were retried.
    pub cached: bool,
    pub micros: u64,
}

/// What the token's code did during our transfer and sell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathFacts {
    /// `ORIGIN` read by the token while it moved our tokens.
    pub origin_read: bool,
    /// Contracts the token called during our transfer or sell, other than the pair, the router,
    /// the quote and the wrapped native token.
    pub external_calls: Vec<Address>,
    /// Code the token DELEGATECALLed into.
    pub delegates: Vec<Address>,
    /// The EIP-1967 implementation slot's value, if set.
    pub eip1967_implementation: Option<Address>,
    pub selfdestructed: bool,
    /// Tokens that appeared during a plain wallet transfer (the watched balances rose by more
    /// than the supply did): fee math that credits more than it debits.
    pub inflation: U256,
}

/// Everything the sandbox measured about one token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    pub small: Option<TradeProbe>,
    pub large: Option<TradeProbe>,
    pub probe_error: Option<String>,
    pub path: PathFacts,
    pub privileged: Vec<PrivilegedCall>,
    pub search: SearchStats,
    /// The candidate callers considered, with their role.
    pub callers: Vec<(Role, Address)>,
    /// JSON-RPC reads the sandbox made.
    pub state_reads: u64,
    /// Round trips to the node those reads took (prefetched ones are batched).
    pub state_round_trips: u64,
}

/// Limits of one privilege search.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_simulations: u64,
    pub time: Duration,
}

/// Combinations that had an effect, per code hash, from searches that ran to the end: a clone of
/// a known token retries only those.
#[derive(Debug, Clone, Default)]
pub struct SearchCache(Arc<Mutex<HashMap<B256, Vec<Combination>>>>);

/// One tried call: target index, selector, caller role and its index among that role, pattern.
type Combination = (usize, [u8; 4], Role, usize, usize);

impl SearchCache {
    fn get(&self, h: &B256) -> Option<Vec<Combination>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(h).cloned()
    }
    fn put(&self, h: B256, hits: Vec<Combination>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(h, hits);
    }
}

/// The standard ERC-20 functions (reads and the transfers the probes already exercise).
const STANDARD: &[&str] = &[
    "name()",
    "symbol()",
    "decimals()",
    "totalSupply()",
    "balanceOf(address)",
    "allowance(address,address)",
    "transfer(address,uint256)",
    "approve(address,uint256)",
    "transferFrom(address,address,uint256)",
    "owner()",
];

const DEADLINE: U256 = U256::MAX;

fn word_u256(data: &[u8]) -> Option<U256> {
    data.get(..32).map(U256::from_be_slice)
}

/// Reads the token's balance of `who` (zero if the call fails).
fn balance(sb: &mut Sandbox, token: Address, who: Address) -> Result<U256, SandboxError> {
    let o = sb.call(who, token, IProbeToken::balanceOfCall { who }.abi_encode().into())?;
    Ok(if o.success { word_u256(&o.output).unwrap_or_default() } else { U256::ZERO })
}

fn supply(sb: &mut Sandbox, token: Address) -> Result<U256, SandboxError> {
    let o = sb.call(Address::ZERO, token, IProbeToken::totalSupplyCall {}.abi_encode().into())?;
    Ok(if o.success { word_u256(&o.output).unwrap_or_default() } else { U256::ZERO })
}

fn quote_out(sb: &mut Sandbox, v: &Venue, amount: U256, path: Vec<Address>) -> Result<U256, SandboxError> {
    let o = sb.call(
        Address::ZERO,
        v.router,
        IProbeRouter::getAmountsOutCall { amountIn: amount, path }.abi_encode().into(),
    )?;
    if !o.success {
        return Ok(U256::ZERO);
    }
    Ok(IProbeRouter::getAmountsOutCall::abi_decode_returns(&o.output)
        .ok()
        .and_then(|a| a.last().copied())
        .unwrap_or_default())
}

/// What our wallet holds of the quote (native balance when the quote is the wrapped native
/// token, which the router unwraps).
fn quote_balance(sb: &mut Sandbox, v: &Venue, who: Address) -> Result<U256, SandboxError> {
    if v.quote == v.wrapped_native {
        sb.native_balance(who)
    } else {
        balance(sb, v.quote, who)
    }
}

/// Gives `who` `amount` of the quote: native balance, or the quote token's balance slot (see
/// [`fund_token`]).
pub fn fund_quote(sb: &mut Sandbox, v: &Venue, who: Address, amount: U256) -> Result<(), String> {
    let err = |e: SandboxError| e.to_string();
    if v.quote == v.wrapped_native {
        let have = sb.native_balance(who).map_err(err)?;
        return sb.set_balance(who, have.saturating_add(amount)).map_err(err);
    }
    fund_token(sb, v.quote, who, amount)
}

/// Sets `who`'s balance of `token` to `amount` through its balance slot, found by trying the usual
/// mapping layouts (Solidity and Vyper, slots 0..32) and checking `balanceOf`.
pub fn fund_token(sb: &mut Sandbox, token: Address, who: Address, amount: U256) -> Result<(), String> {
    let err = |e: SandboxError| e.to_string();
    for idx in 0u64..32 {
        let idx = U256::from(idx);
        for slot in [
            keccak256([who.into_word().as_slice(), &idx.to_be_bytes::<32>()].concat()),
            keccak256([&idx.to_be_bytes::<32>()[..], who.into_word().as_slice()].concat()),
        ] {
            let slot = U256::from_be_bytes(slot.0);
            let old = sb.storage(token, slot).map_err(err)?;
            sb.set_storage(token, slot, amount).map_err(err)?;
            if balance(sb, token, who).map_err(err)? == amount {
                return Ok(());
            }
            sb.set_storage(token, slot, old).map_err(err)?;
        }
    }
    Err(format!("cannot find the balance slot of token {token}"))
}

/// One simulated sale from a wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    pub ok: bool,
    /// The router's quote for the amount, before the token's taxes.
    pub quote: U256,
    /// What the wallet received, in the quote (native when the quote is the wrapped native).
    pub received: U256,
    pub error: Option<String>,
    /// Gas the sale's transaction used.
    pub gas_used: u64,
}

/// What `who` holds of the venue's token.
pub fn token_balance(sb: &mut Sandbox, v: &Venue, who: Address) -> Result<U256, SandboxError> {
    balance(sb, v.token, who)
}

/// Sells `amount` of the venue's token from `who` through the router, on a fork of `sb` (which is
/// left as it was).
pub fn simulate_sale(sb: &Sandbox, v: &Venue, who: Address, amount: U256) -> Result<Sale, SandboxError> {
    let mut f = sb.clone();
    f.watch(v.token);
    f.advance(1);
    let l = sell(&mut f, v, who, amount)?;
    Ok(Sale { ok: l.ok, quote: l.quote, received: l.got, error: l.error, gas_used: l.gas_used })
}

struct Leg {
    ok: bool,
    quote: U256,
    got: U256,
    error: Option<String>,
    gas_used: u64,
    trace: Trace,
}

fn reason(o: &Outcome) -> String {
    revert_reason(&o.output)
}

fn buy(sb: &mut Sandbox, v: &Venue, who: Address, amount_in: U256) -> Result<Leg, SandboxError> {
    let quote = quote_out(sb, v, amount_in, vec![v.quote, v.token])?;
    let before = balance(sb, v.token, who)?;
    let path = vec![v.quote, v.token];
    let o = if v.quote == v.wrapped_native {
        let call = IProbeRouter::swapExactETHForTokensSupportingFeeOnTransferTokensCall {
            amountOutMin: U256::ZERO,
            path,
            to: who,
            deadline: DEADLINE,
        };
        sb.send(who, v.router, call.abi_encode().into(), amount_in)?
    } else {
        let approve = IProbeToken::approveCall { spender: v.router, value: U256::MAX }.abi_encode();
        sb.send(who, v.quote, approve.into(), U256::ZERO)?;
        let call = IProbeRouter::swapExactTokensForTokensSupportingFeeOnTransferTokensCall {
            amountIn: amount_in,
            amountOutMin: U256::ZERO,
            path,
            to: who,
            deadline: DEADLINE,
        };
        sb.send(who, v.router, call.abi_encode().into(), U256::ZERO)?
    };
    let got = if o.success { balance(sb, v.token, who)?.saturating_sub(before) } else { U256::ZERO };
    Ok(Leg { ok: o.success, quote, got, error: (!o.success).then(|| reason(&o)), gas_used: o.gas_used, trace: o.trace })
}

fn sell(sb: &mut Sandbox, v: &Venue, who: Address, amount: U256) -> Result<Leg, SandboxError> {
    let approve = IProbeToken::approveCall { spender: v.router, value: U256::MAX }.abi_encode();
    sb.send(who, v.token, approve.into(), U256::ZERO)?;
    let quote = quote_out(sb, v, amount, vec![v.token, v.quote])?;
    let before = quote_balance(sb, v, who)?;
    let path = vec![v.token, v.quote];
    let data = if v.quote == v.wrapped_native {
        IProbeRouter::swapExactTokensForETHSupportingFeeOnTransferTokensCall {
            amountIn: amount,
            amountOutMin: U256::ZERO,
            path,
            to: who,
            deadline: DEADLINE,
        }
        .abi_encode()
    } else {
        IProbeRouter::swapExactTokensForTokensSupportingFeeOnTransferTokensCall {
            amountIn: amount,
            amountOutMin: U256::ZERO,
            path,
            to: who,
            deadline: DEADLINE,
        }
        .abi_encode()
    };
    let o = sb.send(who, v.router, data.into(), U256::ZERO)?;
    let got = if o.success { quote_balance(sb, v, who)?.saturating_sub(before) } else { U256::ZERO };
    Ok(Leg { ok: o.success, quote, got, error: (!o.success).then(|| reason(&o)), gas_used: o.gas_used, trace: o.trace })
}

fn transfer(
    sb: &mut Sandbox,
    token: Address,
    from: Address,
    to: Address,
    amount: U256,
) -> Result<Outcome, SandboxError> {
    sb.send(from, token, IProbeToken::transferCall { to, value: amount }.abi_encode().into(), U256::ZERO)
}

/// A buy (next block), a tenth moved to another wallet, and the rest sold (the block after).
/// Leaves the sandbox in the state after the sell. Also returns the transfer's and the sell's
/// traces.
fn round_trip(sb: &mut Sandbox, v: &Venue, w: &Wallets, amount_in: U256) -> Result<(TradeProbe, Vec<Trace>), String> {
    let e = |e: SandboxError| e.to_string();
    fund_quote(sb, v, w.buyer, amount_in)?;
    sb.advance(1);
    let b = buy(sb, v, w.buyer, amount_in).map_err(e)?;
    let mut t = TradeProbe {
        eth_in: amount_in,
        buy_ok: b.ok,
        buy_quote: b.quote,
        bought: b.got,
        buy_error: b.error,
        ..Default::default()
    };
    let mut traces = vec![b.trace];
    if !b.ok || b.got.is_zero() {
        return Ok((t, traces));
    }
    t.transfer_sent = b.got / U256::from(10u8);
    let friend_before = balance(sb, v.token, w.friend).map_err(e)?;
    let o = transfer(sb, v.token, w.buyer, w.friend, t.transfer_sent).map_err(e)?;
    t.transfer_ok = o.success;
    if o.success {
        t.transfer_received = balance(sb, v.token, w.friend).map_err(e)?.saturating_sub(friend_before);
    }
    traces.push(o.trace);
    sb.advance(1);
    t.sold = balance(sb, v.token, w.buyer).map_err(e)?;
    let before_sell = sb.clone();
    let s = sell(sb, v, w.buyer, t.sold).map_err(e)?;
    t.sell_ok = s.ok;
    t.sell_quote = s.quote;
    t.eth_back = s.got;
    t.sell_error = s.error;
    traces.push(s.trace);
    if !s.ok {
        let mut tiny = before_sell;
        t.tiny_sell_ok = sell(&mut tiny, v, w.buyer, t.sold / U256::from(1_000u32)).map_err(e)?.ok;
    }
    Ok((t, traces))
}

/// The contracts a token's code reached during `traces` (calls and delegatecalls), by kind.
fn reached(traces: &[Trace]) -> BTreeSet<(CallKind, Address)> {
    traces.iter().flat_map(|t| t.calls.iter().map(|c| (c.kind, c.code))).collect()
}

/// An address-looking value in a storage word: the low 20 bytes, when the bytes above them (save
/// a packed flag byte) are zero and it is not a small number.
fn slot_address(word: U256) -> Option<Address> {
    let b = word.to_be_bytes::<32>();
    if b[..11] != [0u8; 11] {
        return None;
    }
    let a = Address::from_slice(&b[12..]);
    (a.0[..6] != [0u8; 6]).then_some(a)
}

/// Everything [`measure`] needs besides the sandbox.
pub struct Probe {
    pub venue: Venue,
    pub wallets: Wallets,
    pub small_in: U256,
    pub large_in: U256,
    /// `owner()`, the first mint's receiver and the liquidity adder, when known.
    pub owner: Option<Address>,
    pub deployer: Option<Address>,
    pub liquidity_adder: Option<Address>,
    pub budget: Budget,
    pub cache: SearchCache,
}

/// Measures a token's behaviour in `sb` (the state at the decision block).
pub fn measure(sb: &Sandbox, p: &Probe) -> Behaviour {
    let started = Instant::now();
    let mut out = Behaviour::default();
    let v = p.venue;
    let _ = sb.prefetch(&[v.token, v.pair, v.router, v.quote, v.wrapped_native]);
    let mut base = sb.clone();
    base.watch(v.token);

    // Round trips: a small one (the report's main measurement) and a large one. The large one
    // runs on a second thread, beside the small one and the privilege search after it (a fork
    // with its own transaction count: the search's budget counts the search alone).
    let large = base.fork();
    let (large_in, wallets) = (p.large_in, p.wallets);
    std::thread::scope(|scope| {
        let large = scope.spawn(move || {
            let mut large = large;
            round_trip(&mut large, &v, &wallets, large_in).ok().map(|(t, _)| t)
        });
        small_and_search(&base, p, &mut out);
        out.large = large.join().unwrap_or_default();
    });
    out.search.micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    out.state_reads = sb.reads();
    out.state_round_trips = sb.round_trips();
    out
}

/// The small round trip, its path facts, and the privilege search on the state where we hold
/// the small buy.
fn small_and_search(base: &Sandbox, p: &Probe, out: &mut Behaviour) {
    let v = p.venue;
    let mut after_small = base.clone();
    match round_trip(&mut after_small, &v, &p.wallets, p.small_in) {
        Ok((t, traces)) => {
            let mut watch: Vec<Address> = [p.owner, p.deployer, p.liquidity_adder].into_iter().flatten().collect();
            if let Ok(code) = after_small.code(v.token) {
                watch.extend(pushed_addresses(&code));
            }
            path_facts(&mut after_small, &v, &p.wallets, &traces, &watch, &mut out.path);
            out.small = Some(t);
        }
        Err(e) => out.probe_error = Some(e),
    }

    // The privilege search runs on the state where we hold the small buy.
    if let Some(small) = out.small.clone().filter(|t| t.buy_ok && !t.bought.is_zero()) {
        let mut held = base.clone();
        let bought = fund_quote(&mut held, &v, p.wallets.buyer, p.small_in)
            .ok()
            .map(|_| {
                held.advance(1);
                buy(&mut held, &v, p.wallets.buyer, p.small_in).map(|l| l.ok && !l.got.is_zero()).unwrap_or(false)
            })
            .unwrap_or(false);
        if bought {
            held.advance(1);
            search(&mut held, p, &small, out);
        }
    }
}

/// Reads the path facts from the small round trip's transfer and sell traces.
fn path_facts(sb: &mut Sandbox, v: &Venue, w: &Wallets, traces: &[Trace], watch: &[Address], out: &mut PathFacts) {
    let known = [v.pair, v.router, v.quote, v.wrapped_native, v.token];
    let implementation = sb
        .storage(v.token, U256::from_be_bytes(EIP1967_IMPLEMENTATION_SLOT.0))
        .ok()
        .map(|w| Address::from_word(B256::from(w)))
        .filter(|a| *a != Address::ZERO);
    out.eip1967_implementation = implementation;
    for t in traces {
        out.origin_read |= t.origin_read;
        out.selfdestructed |= !t.selfdestructs.is_empty();
        for c in &t.calls {
            match c.kind {
                CallKind::Delegate => {
                    if !out.delegates.contains(&c.code) {
                        out.delegates.push(c.code)
                    }
                }
                _ if known.contains(&c.code) => {}
                _ => {
                    if !out.external_calls.contains(&c.code) {
                        out.external_calls.push(c.code)
                    }
                }
            }
        }
    }
    // A plain transfer between two wallets, measured over every address it touched.
    let Ok(before_supply) = supply(sb, v.token) else { return };
    let amount = balance(sb, v.token, w.friend).unwrap_or_default() / U256::from(2u8);
    if amount.is_zero() {
        return;
    }
    let mut fork = sb.clone();
    let Ok(o) = transfer(&mut fork, v.token, w.friend, w.buyer, amount) else { return };
    if !o.success {
        return;
    }
    let mut watched: Vec<Address> = vec![w.friend, w.buyer, v.pair];
    watched.extend(watch.iter().filter(|a| !watched.contains(a)).copied().collect::<Vec<_>>());
    for log in &o.trace.logs {
        for topic in log.data.topics().iter().skip(1) {
            if let Some(a) = slot_address(U256::from_be_bytes(topic.0)) {
                if !watched.contains(&a) {
                    watched.push(a);
                }
            }
        }
    }
    let mut before = U256::ZERO;
    let mut after = U256::ZERO;
    for a in &watched {
        before = before.saturating_add(balance(sb, v.token, *a).unwrap_or_default());
        after = after.saturating_add(balance(&mut fork, v.token, *a).unwrap_or_default());
    }
    let supply_rise = supply(&mut fork, v.token).unwrap_or(before_supply).saturating_sub(before_supply);
    out.inflation = after.saturating_sub(before).saturating_sub(supply_rise);
}

/// The words of the argument patterns: our wallet, the pair, the caller, true/false and the
/// usual numbers (0, 1, 99, 100, 9,900, 10,000), the maximum, and a thousand times the supply.
fn patterns(buyer: Address, pair: Address, caller: Address, supply: U256) -> Vec<[U256; 3]> {
    let a = |x: Address| U256::from_be_bytes(x.into_word().0);
    let n = |x: u64| U256::from(x);
    let big = supply.saturating_mul(n(1_000)).max(n(1u64 << 60));
    let (w, p, c) = (a(buyer), a(pair), a(caller));
    vec![
        [w, n(1), n(1)],
        [w, n(0), n(0)],
        [n(0), n(0), n(0)],
        [n(1), n(1), n(1)],
        [n(9_900), n(9_900), n(9_900)],
        [n(99), n(99), n(99)],
        [big, big, big],
        [c, big, n(0)],
        [w, c, n(1)],
        [p, n(1), n(1)],
        [w, p, n(1)],
        [n(100), n(100), n(100)],
        [n(10_000), n(10_000), n(10_000)],
        [U256::MAX, U256::MAX, U256::MAX],
        [p, n(0), n(0)],
        [w, U256::MAX, n(0)],
    ]
}

fn describe(words: &[U256; 3]) -> Vec<String> {
    words
        .iter()
        .map(|w| match slot_address(*w) {
            Some(a) => a.to_string(),
            None => w.to_string(),
        })
        .collect()
}

/// Sells `who`'s whole balance on a fork; `(ok, proceeds, error, trace)`.
fn sell_all(sb: &Sandbox, v: &Venue, who: Address) -> Result<(bool, U256, U256, String, Trace), SandboxError> {
    let mut f = sb.clone();
    let amount = balance(&mut f, v.token, who)?;
    let l = sell(&mut f, v, who, amount)?;
    Ok((l.ok, l.quote, l.got, l.error.unwrap_or_default(), l.trace))
}

fn search(held: &mut Sandbox, p: &Probe, small: &TradeProbe, out: &mut Behaviour) {
    // The simulation budget counts the whole search, its baseline measurements included.
    let started_at = held.executed();
    let v = p.venue;
    let w = p.wallets;
    let Ok(code) = held.code(v.token) else { return };
    let mut codes = vec![code.clone()];
    for d in out.path.delegates.clone() {
        if let Ok(c) = held.code(d) {
            codes.push(c);
        }
    }
    let standard: Vec<[u8; 4]> = STANDARD.iter().map(|s| selector(s)).collect();
    let own = |codes: &[Bytes]| -> Vec<[u8; 4]> {
        let mut v: Vec<[u8; 4]> =
            codes.iter().flat_map(|c| pushed_selectors(c)).filter(|s| !standard.contains(s)).collect();
        v.sort();
        v.dedup();
        v
    };
    // The token's functions (its own and its implementation's), and those of the helper
    // contracts its transfers consult: a power can live in either.
    let mut targets: Vec<(Address, Vec<[u8; 4]>)> = vec![(v.token, own(&codes))];
    for helper in out.path.external_calls.clone() {
        if let Ok(c) = held.code(helper) {
            codes.push(c.clone());
            targets.push((helper, own(&[c])));
        }
    }
    let selectors: usize = targets.iter().map(|(_, s)| s.len()).sum();

    // Candidate callers.
    let mut callers: Vec<(Role, Address)> = Vec::new();
    let add = |role: Role, a: Option<Address>, callers: &mut Vec<(Role, Address)>| {
        if let Some(a) = a {
            let useless = a == Address::ZERO || a == DEAD;
            let ours = [w.buyer, w.friend, v.pair, v.router, v.token, v.quote, v.wrapped_native].contains(&a);
            if !useless && !ours && !callers.iter().any(|(_, b)| *b == a) {
                callers.push((role, a));
            }
        }
    };
    add(Role::Owner, p.owner, &mut callers);
    add(Role::Deployer, p.deployer, &mut callers);
    add(Role::LiquidityAdder, p.liquidity_adder, &mut callers);
    for c in &codes {
        for a in pushed_addresses(c).into_iter().take(6) {
            add(Role::HardCoded, Some(a), &mut callers);
        }
    }
    for slot in 0u64..16 {
        let word = held.storage(v.token, U256::from(slot)).unwrap_or_default();
        add(Role::StorageSlot, slot_address(word), &mut callers);
    }
    callers.truncate(10);
    out.callers = callers.clone();
    out.search.selectors = selectors;
    out.search.callers = callers.len();

    // Give every caller a few of our tokens, so we can tell whether a power spares its holder.
    let share = small.bought / U256::from(100u8);
    for (_, c) in &callers {
        let _ = transfer(held, v.token, w.buyer, *c, share);
    }
    let Ok(base_supply) = supply(held, v.token) else { return };
    let Ok(base_balance) = balance(held, v.token, w.buyer) else { return };
    let Ok((base_sell_ok, base_quote, base_got, _, base_trace)) = sell_all(held, &v, w.buyer) else { return };
    if !base_sell_ok {
        // Nothing to compare with: the round trip's findings already say the sell fails.
        return;
    }
    let base_tax = shortfall_bps(base_quote, base_got);
    let base_path = reached(&[base_trace]);
    let base_transfer_ok = {
        let mut f = held.clone();
        transfer(&mut f, v.token, w.buyer, w.friend, U256::from(1u8)).map(|o| o.success).unwrap_or(false)
    };

    let code_hash = keccak256(codes.iter().flat_map(|c| c.iter().copied()).collect::<Vec<u8>>());
    let cached = p.cache.get(&code_hash);
    out.search.cached = cached.is_some();
    let role_index = |role: Role, i: usize| callers.iter().filter(|(r, _)| *r == role).nth(i).map(|(_, a)| *a);
    let mut plan: Vec<Combination> = Vec::new();
    match &cached {
        Some(hits) => plan.extend(hits.iter().copied()),
        None => {
            for (ti, (_, sels)) in targets.iter().enumerate() {
                for s in sels {
                    for (ci, (role, _)) in callers.iter().enumerate() {
                        let nth = callers[..ci].iter().filter(|(r, _)| r == role).count();
                        for t in 0..16 {
                            plan.push((ti, *s, *role, nth, t));
                        }
                    }
                }
            }
        }
    }

    // The budget counts from the search's start (the round trips before it are not searched).
    let deadline = Instant::now() + p.budget.time;
    let mut hits = Vec::new();
    let mut critical_selectors: BTreeSet<(usize, [u8; 4])> = BTreeSet::new();
    let sims = |sb: &Sandbox| sb.executed() - started_at;
    let mut caller_balances: HashMap<Address, U256> = HashMap::new();
    for (ti, selector, role, nth, t) in plan {
        let Some(&(target, _)) = targets.get(ti) else { continue };
        if sims(held) >= p.budget.max_simulations || Instant::now() >= deadline {
            out.search.exhausted = true;
            break;
        }
        if critical_selectors.contains(&(ti, selector)) {
            continue;
        }
        let Some(caller) = role_index(role, nth) else { continue };
        let words = patterns(w.buyer, v.pair, caller, base_supply)[t];
        let mut data = selector.to_vec();
        for word in &words {
            data.extend_from_slice(&word.to_be_bytes::<32>());
        }
        let mut f = held.clone();
        let Ok(o) = f.send(caller, target, Bytes::from(data), U256::ZERO) else { continue };
        if !o.success || !o.changed_state {
            continue;
        }
        let announced = o.trace.logs.iter().any(|l| l.data.topics().iter().skip(1).any(|t| *t == w.buyer.into_word()));
        let transfer_topic = crate::chains::evm::abi::IERC20::Transfer::SIGNATURE_HASH;
        let caller_credited_by_transfer = o.trace.logs.iter().any(|l| {
            let t = l.data.topics();
            t.len() == 3 && t[0] == transfer_topic && t[2] == caller.into_word()
        });
        let caller_balance =
            *caller_balances.entry(caller).or_insert_with(|| balance(held, v.token, caller).unwrap_or_default());
        let effects = effects_after(
            &f,
            &v,
            &w,
            Baseline {
                supply: base_supply,
                balance: base_balance,
                tax: base_tax,
                path: &base_path,
                transfer_ok: base_transfer_ok,
                announced,
                caller,
                caller_balance,
                caller_credited_by_transfer,
            },
        );
        if effects.is_empty() {
            continue;
        }
        if effects.iter().any(|e| {
            matches!(e, Effect::SellReverts { .. } | Effect::BalanceTaken { .. } | Effect::TransfersBlocked { .. })
        }) {
            critical_selectors.insert((ti, selector));
        }
        hits.push((ti, selector, role, nth, t));
        // One finding per selector and effect kind is enough.
        let kinds: Vec<std::mem::Discriminant<Effect>> = effects.iter().map(std::mem::discriminant).collect();
        let seen = out.privileged.iter().any(|c| {
            c.contract == target
                && c.selector == format!("0x{}", alloy::primitives::hex::encode(selector))
                && c.effects.iter().map(std::mem::discriminant).collect::<Vec<_>>() == kinds
        });
        if !seen {
            out.privileged.push(PrivilegedCall {
                contract: target,
                selector: format!("0x{}", alloy::primitives::hex::encode(selector)),
                caller,
                role,
                args: describe(&words),
                effects,
            });
        }
    }
    out.search.simulations = sims(held);
    if !out.search.exhausted && cached.is_none() {
        p.cache.put(code_hash, hits);
    }
}

struct Baseline<'a> {
    supply: U256,
    balance: U256,
    tax: u32,
    path: &'a BTreeSet<(CallKind, Address)>,
    transfer_ok: bool,
    announced: bool,
    caller: Address,
    caller_balance: U256,
    caller_credited_by_transfer: bool,
}

/// Measures what a privileged call changed, on the state right after it.
fn effects_after(f: &Sandbox, v: &Venue, w: &Wallets, b: Baseline) -> Vec<Effect> {
    let mut effects = Vec::new();
    let mut f = f.clone();
    let supply_now = supply(&mut f, v.token).unwrap_or(b.supply);
    let ours = balance(&mut f, v.token, w.buyer).unwrap_or(b.balance);
    let caller_now = balance(&mut f, v.token, b.caller).unwrap_or(b.caller_balance);
    if ours < b.balance {
        effects.push(Effect::BalanceTaken { before: b.balance.to_string(), after: ours.to_string() });
    }
    // Minted: the supply rose, or the caller's balance rose with no Transfer log naming it.
    let credited = if b.caller_credited_by_transfer { U256::ZERO } else { caller_now.saturating_sub(b.caller_balance) };
    let minted = supply_now.saturating_sub(b.supply).max(credited);
    if !minted.is_zero() {
        effects.push(Effect::Minted {
            amount: minted.to_string(),
            supply: b.supply.to_string(),
            share_bps: crate::risk::share_bps(minted, b.supply.max(U256::from(1u8))),
        });
    }
    let caller_can_sell =
        || -> bool { sell_all(&f, v, b.caller).map(|(ok, _, got, _, _)| ok && !got.is_zero()).unwrap_or(false) };
    let sold = sell_all(&f, v, w.buyer);
    match sold {
        Ok((true, quote, got, _, trace)) => {
            let tax = shortfall_bps(quote, got);
            if tax > b.tax.saturating_add(100) {
                effects.push(Effect::SellTax { bps: tax, baseline_bps: b.tax });
            }
            let path = reached(&[trace]);
            if &path != b.path {
                effects.push(code_changed(b.path, &path));
            }
        }
        Ok((false, _, _, error, trace)) => {
            let path = reached(&[trace]);
            if &path != b.path {
                effects.push(code_changed(b.path, &path));
            }
            effects.push(Effect::SellReverts { error, caller_can_sell: caller_can_sell(), announced: b.announced });
        }
        Err(_) => {}
    }
    if b.transfer_ok {
        let mut t = f.clone();
        let ok = transfer(&mut t, v.token, w.buyer, w.friend, U256::from(1u8)).map(|o| o.success).unwrap_or(true);
        if !ok && !effects.iter().any(|e| matches!(e, Effect::SellReverts { .. })) {
            effects.push(Effect::TransfersBlocked { caller_can_sell: caller_can_sell(), announced: b.announced });
        }
    }
    effects
}

fn code_changed(before: &BTreeSet<(CallKind, Address)>, after: &BTreeSet<(CallKind, Address)>) -> Effect {
    let list = |s: &BTreeSet<(CallKind, Address)>| s.iter().map(|(_, a)| a.to_string()).collect::<Vec<_>>();
    Effect::CodeChanged { before: list(before), after: list(after) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_storage_words() {
        let a = Address::repeat_byte(0x42);
        assert_eq!(slot_address(U256::from_be_bytes(a.into_word().0)), Some(a));
        // A packed flag byte above the address is allowed.
        let packed = U256::from_be_bytes(a.into_word().0) | (U256::from(1u8) << 160);
        assert_eq!(slot_address(packed), Some(a));
        assert_eq!(slot_address(U256::from(12_345u32)), None);
        assert_eq!(slot_address(U256::MAX), None);
    }
}
