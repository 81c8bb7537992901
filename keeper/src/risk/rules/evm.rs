//! EVM findings from raw measurements (pure; gathered by `crate::chains::evm::probe`).

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use crate::chains::evm::behaviour::TradeProbe;
use crate::{
    chains::evm::{
        behaviour::{Behaviour, Effect, PrivilegedCall, Role},
        bytecode::is_burn_address,
    },
    risk::{pct, share_bps, Assessment, Finding, RiskPolicy, Severity},
};

/// Well-known privileged functions found in the token's runtime code (by selector), by kind.
/// Reported for information only: names prove nothing, the privilege search measures effects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub mint: Vec<String>,
    pub blacklist: Vec<String>,
    pub pause: Vec<String>,
    pub fee_setter: Vec<String>,
    pub limit_setter: Vec<String>,
}

/// Everything measured about one EVM token in one pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmFacts {
    /// A small and a large round trip; `None` when the simulation itself could not run.
    pub small: Option<TradeProbe>,
    pub large: Option<TradeProbe>,
    pub probe_error: Option<String>,
    /// What the sandbox saw the token do (paths, privileged calls).
    pub behaviour: Behaviour,
    /// The pair's other side, whether it is the wrapped native token, and its reserve.
    pub quote: Address,
    pub quote_is_native: bool,
    pub quote_reserve: U256,
    /// `owner()` if the token has one.
    pub owner: Option<Address>,
    pub capabilities: Capabilities,
    /// The EIP-1967 implementation, when the token is a proxy.
    pub proxy_implementation: Option<Address>,
    /// The pool's reserve of the wrapped native token, and the minimum the policy wants.
    pub native_reserve: U256,
    pub min_native_reserve: U256,
    /// LP tokens: total supply, held by burn addresses (incl. Uniswap's locked minimum), and
    /// every other holder with its class (from the pair's `Transfer` logs).
    pub lp_total: U256,
    pub lp_burned: U256,
    pub lp_holders: Vec<LpHolder>,
    pub creator: Option<Address>,
    /// Token supply and the balances of the largest holders outside pools and burn addresses.
    pub total_supply: U256,
    pub top_holders: Vec<(Address, U256)>,
}

/// Who holds LP tokens, and what that means for the liquidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LpClass {
    /// A configured locker contract (`evm.<chain>.lp_lockers`): cannot be pulled.
    Locked,
    /// The pool's creator, the token's owner or the first receiver of its supply.
    Deployer,
    /// A contract that names one of those in its code or its first storage slots (a vault or
    /// "locker" of the deployer's own).
    DeployerContract,
    /// A wallet we cannot link to the deployer (which may still be one of its own).
    Other,
    /// A contract we cannot link to the deployer.
    OtherContract,
}

/// One LP holder outside the burn addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LpHolder {
    pub address: Address,
    pub amount: U256,
    pub class: LpClass,
}

fn dec(v: U256) -> String {
    v.to_string()
}

/// Turns measurements into findings and a score.
pub fn assess(facts: &EvmFacts, policy: &RiskPolicy) -> Assessment {
    let mut out = Vec::new();
    trade_findings(facts, policy, &mut out);
    behaviour_findings(facts, policy, &mut out);
    static_findings(facts, policy, &mut out);
    Assessment::from_findings(out)
}

fn trade_findings(facts: &EvmFacts, policy: &RiskPolicy, out: &mut Vec<Finding>) {
    let Some(small) = &facts.small else {
        let reason = facts.probe_error.clone().unwrap_or_else(|| "unknown".into());
        out.push(Finding::new(
            "simulation_failed",
            Severity::Critical,
            format!("The buy/sell simulation could not run ({reason}), so nothing is known about selling."),
            json!({ "error": reason }),
        ));
        return;
    };
    if !small.buy_ok {
        out.push(Finding::new(
            "buy_reverts",
            Severity::Critical,
            format!("Buying with {} wei reverts: the token cannot be bought.", small.eth_in),
            json!({ "eth_in": dec(small.eth_in), "error": small.buy_error }),
        ));
        return;
    }
    if small.bought.is_zero() {
        out.push(Finding::new(
            "buy_reverts",
            Severity::Critical,
            "A buy succeeds but delivers no tokens.",
            json!({ "eth_in": dec(small.eth_in), "buy_quote": dec(small.buy_quote) }),
        ));
        return;
    }
    let buy_tax = small.buy_tax_bps();
    out.push(Finding::new(
        "buy_tax",
        policy.tax_severity(buy_tax),
        format!("Buy tax {}: {} tokens quoted, {} received.", pct(buy_tax), small.buy_quote, small.bought),
        json!({ "bps": buy_tax, "quoted": dec(small.buy_quote), "received": dec(small.bought) }),
    ));
    if small.transfer_ok {
        let t = small.transfer_tax_bps();
        out.push(Finding::new(
            "transfer_tax",
            policy.tax_severity(t),
            format!("Wallet-to-wallet transfer tax {}.", pct(t)),
            json!({ "bps": t, "sent": dec(small.transfer_sent), "received": dec(small.transfer_received) }),
        ));
    } else {
        out.push(Finding::new(
            "transfer_reverts",
            Severity::High,
            "Moving bought tokens to another wallet reverts.",
            json!({ "sent": dec(small.transfer_sent) }),
        ));
    }
    if small.sell_ok {
        let sell_tax = small.sell_tax_bps();
        out.push(Finding::new(
            "sell_tax",
            policy.tax_severity(sell_tax),
            format!("Sell tax {}: {} wei quoted, {} received.", pct(sell_tax), small.sell_quote, small.eth_back),
            json!({ "bps": sell_tax, "quoted": dec(small.sell_quote), "received": dec(small.eth_back) }),
        ));
    } else if small.tiny_sell_ok {
        out.push(Finding::new(
            "tiny_sells_only",
            Severity::Critical,
            format!(
                "Honeypot: selling {} tokens reverts while selling a thousandth of that works, so a buyer can never get out.",
                small.sold
            ),
            json!({ "sold": dec(small.sold), "error": small.sell_error }),
        ));
    } else {
        out.push(Finding::new(
            "sell_reverts",
            Severity::Critical,
            format!(
                "Honeypot: buying works but selling reverts ({}).",
                small.sell_error.as_deref().unwrap_or("no reason given")
            ),
            json!({ "sold": dec(small.sold), "error": small.sell_error }),
        ));
    }
    if let Some(large) = &facts.large {
        if !large.buy_ok {
            out.push(Finding::new(
                "max_transaction",
                Severity::Medium,
                format!(
                    "A buy of {} wei reverts while a buy of {} wei works: the token caps transaction size.",
                    large.eth_in, small.eth_in
                ),
                json!({ "small_eth_in": dec(small.eth_in), "large_eth_in": dec(large.eth_in), "error": large.buy_error }),
            ));
        } else if !large.sell_ok && small.sell_ok {
            out.push(Finding::new(
                "large_sells_revert",
                Severity::High,
                format!("Selling the {} tokens a large buy returns reverts: big holders cannot exit.", large.sold),
                json!({ "sold": dec(large.sold), "error": large.sell_error }),
            ));
        }
    }
}

/// What the sandbox saw: the transfer path, and every privileged call with an effect.
///
/// Semantics (documented in `docs/risk.md`):
/// - a privileged call that makes our sell or transfer fail while its holder can still sell, takes
///   our balance, mints at least the whole supply again, or swaps the code so that our sell fails,
///   is **critical**;
/// - a freeze that stops everyone alike (a pause that binds its holder too), or a targeted freeze
///   the contract announces with an event naming us (as regulated issuers do), is **high**;
/// - a fee switch is scored by the tax it reaches ([`RiskPolicy::tax_severity`]): a fee capped by
///   the code at 10% is medium, one that reaches the critical tax is critical;
/// - a mint is scored by the share of supply it can create now: under 5% low, under 20% medium,
///   under 100% high, at least 100% critical. A mint the simulation cannot execute now (a
///   time lock) produces no effect, so no finding.
fn behaviour_findings(facts: &EvmFacts, policy: &RiskPolicy, out: &mut Vec<Finding>) {
    let b = &facts.behaviour;
    let path = &b.path;
    if path.origin_read {
        out.push(Finding::new(
            "origin_check",
            Severity::High,
            "The token reads tx.origin while it moves tokens: it can treat wallets differently from contracts, or let one wallet bypass its rules.",
            json!({}),
        ));
    }
    if !path.external_calls.is_empty() {
        out.push(Finding::new(
            "external_calls",
            Severity::High,
            format!(
                "Moving the token calls other contracts ({}), whose answers can change at any time.",
                path.external_calls.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
            ),
            json!({ "contracts": path.external_calls.iter().map(|a| a.to_string()).collect::<Vec<_>>() }),
        ));
    }
    let custom: Vec<&Address> = path.delegates.iter().filter(|d| Some(**d) != path.eip1967_implementation).collect();
    if !custom.is_empty() {
        out.push(Finding::new(
            "custom_proxy",
            Severity::High,
            format!(
                "The token runs its logic by DELEGATECALL into {}, an address kept outside the EIP-1967 slot: its code can be swapped without the usual upgrade event.",
                custom.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
            ),
            json!({ "delegates": custom.iter().map(|a| a.to_string()).collect::<Vec<_>>() }),
        ));
    }
    if path.selfdestructed {
        out.push(Finding::new(
            "selfdestruct",
            Severity::Critical,
            "A transfer destroys a contract (SELFDESTRUCT).",
            json!({}),
        ));
    }
    if !path.inflation.is_zero() {
        out.push(Finding::new(
            "balance_inflation",
            Severity::Critical,
            format!(
                "A plain wallet-to-wallet transfer created {} tokens out of nothing: the fee math credits more than it debits, so some holder's balance grows on every trade.",
                path.inflation
            ),
            json!({ "created": dec(path.inflation) }),
        ));
    }
    for call in &b.privileged {
        for effect in &call.effects {
            out.push(privileged_finding(call, effect, policy));
        }
    }
    let renounced = facts.owner.is_none_or(is_burn_address);
    let hidden: Vec<&PrivilegedCall> = b.privileged.iter().filter(|c| c.role != Role::Owner && renounced).collect();
    if !hidden.is_empty() {
        out.push(Finding::new(
            "hidden_roles",
            Severity::High,
            format!(
                "The token has no owner (or renounced it), yet {} can still change how it behaves.",
                hidden
                    .iter()
                    .map(|c| c.caller.to_string())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            json!({ "callers": hidden.iter().map(|c| c.caller.to_string()).collect::<Vec<_>>() }),
        ));
    }
    if b.search.exhausted {
        out.push(Finding::new(
            "privilege_search_incomplete",
            Severity::High,
            format!(
                "The search of the token's privileged functions was cut short by its budget after {} simulations: \
                 powers it did not try are unknown, so this report cannot vouch for them.",
                b.search.simulations
            ),
            json!({ "simulations": b.search.simulations, "micros": b.search.micros, "selectors": b.search.selectors,
                    "callers": b.search.callers }),
        ));
    }
    out.push(Finding::new(
        "privilege_search",
        Severity::Info,
        format!(
            "Privilege search: {} functions x {} candidate callers, {} simulations in {} us{}.",
            b.search.selectors,
            b.search.callers,
            b.search.simulations,
            b.search.micros,
            if b.search.exhausted { ", cut short by its budget" } else { "" }
        ),
        json!({
            "selectors": b.search.selectors, "callers": b.callers.iter().map(|(r, a)| json!([r, a.to_string()])).collect::<Vec<_>>(),
            "simulations": b.search.simulations, "micros": b.search.micros, "exhausted": b.search.exhausted,
            "cached": b.search.cached, "state_reads": b.state_reads,
            "state_round_trips": b.state_round_trips,
        }),
    ));
}

/// Who can pull the liquidity: the deployer and contracts linked to it (high above
/// `lp_creator_high_bps`), and holders we cannot link (medium above it: they may be the
/// deployer's own wallets). Burned and locked LP cannot be pulled.
fn lp_findings(facts: &EvmFacts, policy: &RiskPolicy, out: &mut Vec<Finding>) {
    let sum = |classes: &[LpClass]| -> U256 {
        facts.lp_holders.iter().filter(|h| classes.contains(&h.class)).map(|h| h.amount).sum()
    };
    let total = facts.lp_total;
    let burned = share_bps(facts.lp_burned, total);
    let locked = share_bps(sum(&[LpClass::Locked]), total);
    let deployer = share_bps(sum(&[LpClass::Deployer, LpClass::DeployerContract]), total);
    let others = share_bps(sum(&[LpClass::Other, LpClass::OtherContract]), total);
    let holders: Vec<serde_json::Value> = facts
        .lp_holders
        .iter()
        .map(|h| json!({ "address": h.address.to_string(), "amount": dec(h.amount), "class": h.class }))
        .collect();
    out.push(Finding::new(
        "lp_not_burned",
        policy.lp_creator_severity(deployer),
        format!(
            "{} of the LP tokens are burned and {} locked; the deployer and contracts linked to it hold {} and can pull \
             that much liquidity.",
            pct(burned),
            pct(locked),
            pct(deployer)
        ),
        json!({
            "lp_total": dec(total), "lp_burned": dec(facts.lp_burned), "burned_bps": burned, "locked_bps": locked,
            "deployer_bps": deployer, "others_bps": others, "holders": holders,
            "creator": facts.creator.map(|a| a.to_string()),
        }),
    ));
    if others > policy.lp_creator_high_bps {
        out.push(Finding::new(
            "lp_unlinked_holders",
            Severity::Medium,
            format!(
                "{} of the LP tokens are held by addresses we cannot link to the deployer, neither burned nor locked: \
                 they can pull that much liquidity, and they may be the deployer's own.",
                pct(others)
            ),
            json!({ "others_bps": others }),
        ));
    }
}

fn short(a: &Address) -> String {
    let s = a.to_string();
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

/// One finding for one effect of one privileged call.
fn privileged_finding(call: &PrivilegedCall, effect: &Effect, policy: &RiskPolicy) -> Finding {
    let who = format!("`{}` called by {} ({})", call.selector, short(&call.caller), role_name(call.role));
    let measured = json!({ "selector": call.selector, "caller": call.caller.to_string(), "role": call.role, "args": call.args, "effect": effect });
    let code_swapped = call.effects.iter().any(|e| matches!(e, Effect::CodeChanged { .. }));
    let freeze = |what: &str, caller_can_sell: bool, announced: bool| {
        if code_swapped {
            (Severity::Critical, format!("{who} swaps the token's code, after which {what}."))
        } else if caller_can_sell && !announced {
            (Severity::Critical, format!("{who} makes {what}, while the caller can still sell its own tokens."))
        } else if announced {
            (Severity::High, format!("{who} makes {what}; the contract announces it with an event naming the wallet, as regulated issuers do."))
        } else {
            (Severity::High, format!("{who} makes {what} for everyone, the caller included (a pause)."))
        }
    };
    let (check, (severity, text)) = match effect {
        Effect::SellReverts { caller_can_sell, announced, .. } => {
            ("privileged_sell_block", freeze("your sell revert", *caller_can_sell, *announced))
        }
        Effect::TransfersBlocked { caller_can_sell, announced } => {
            ("privileged_transfer_block", freeze("your transfers revert", *caller_can_sell, *announced))
        }
        Effect::SellTax { bps, baseline_bps } => (
            "privileged_fee_switch",
            (
                policy.tax_severity(*bps),
                format!("{who} raises your sell tax from {} to {}.", pct(*baseline_bps), pct(*bps)),
            ),
        ),
        Effect::BalanceTaken { before, after } => (
            "privileged_balance_taken",
            (Severity::Critical, format!("{who} takes your tokens: your balance falls from {before} to {after}.")),
        ),
        Effect::Minted { amount, share_bps, .. } => {
            let severity = match *share_bps {
                10_000.. => Severity::Critical,
                2_000.. => Severity::High,
                500.. => Severity::Medium,
                _ => Severity::Low,
            };
            (
                "privileged_mint",
                (severity, format!("{who} creates {amount} new tokens ({} of the supply).", pct(*share_bps))),
            )
        }
        Effect::CodeChanged { after, .. } => (
            "privileged_code_change",
            (Severity::High, format!("{who} changes the code your sell runs through (now {}).", after.join(", "))),
        ),
    };
    Finding::new(check, severity, text, measured)
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Owner => "the owner",
        Role::Deployer => "the deployer",
        Role::LiquidityAdder => "the liquidity adder",
        Role::HardCoded => "an address hard-coded in the bytecode",
        Role::StorageSlot => "an address kept in the token's storage",
    }
}

fn static_findings(facts: &EvmFacts, policy: &RiskPolicy, out: &mut Vec<Finding>) {
    if let Some(owner) = facts.owner {
        if !is_burn_address(owner) {
            out.push(Finding::new(
                "owner_not_renounced",
                Severity::Low,
                format!("Ownership is not renounced: {owner} still controls the owner-only functions."),
                json!({ "owner": owner.to_string() }),
            ));
        }
    }
    let caps = &facts.capabilities;
    let names: Vec<&String> = [&caps.mint, &caps.blacklist, &caps.pause, &caps.fee_setter, &caps.limit_setter]
        .into_iter()
        .flatten()
        .collect();
    if !names.is_empty() {
        out.push(Finding::new(
            "declared_functions",
            Severity::Info,
            format!(
                "The code declares well-known privileged functions ({}); what they can do is measured by the privilege search.",
                names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
            json!({ "mint": caps.mint, "blacklist": caps.blacklist, "pause": caps.pause, "fee_setter": caps.fee_setter, "limit_setter": caps.limit_setter }),
        ));
    }
    if let Some(imp) = facts.proxy_implementation {
        out.push(Finding::new(
            "upgradeable_proxy",
            Severity::High,
            format!("The token is an EIP-1967 proxy (implementation {imp}): its code can be replaced at any time."),
            json!({ "implementation": imp.to_string() }),
        ));
    }
    if facts.quote_is_native {
        let thin = facts.native_reserve < facts.min_native_reserve;
        out.push(Finding::new(
            "thin_liquidity",
            if thin { Severity::High } else { Severity::Info },
            format!(
                "The pool holds {} wei of the wrapped native token (minimum wanted {}).",
                facts.native_reserve, facts.min_native_reserve
            ),
            json!({ "native_reserve": dec(facts.native_reserve), "minimum": dec(facts.min_native_reserve) }),
        ));
    } else {
        out.push(Finding::new(
            "quote_reserve",
            Severity::Info,
            format!("The pool is quoted in {}, of which it holds {} base units.", facts.quote, facts.quote_reserve),
            json!({ "quote": facts.quote.to_string(), "reserve": dec(facts.quote_reserve) }),
        ));
    }
    if !facts.lp_total.is_zero() {
        lp_findings(facts, policy, out);
    }
    let top: U256 = facts.top_holders.iter().take(policy.top_holders_count).map(|(_, b)| *b).sum();
    let top_bps = share_bps(top, facts.total_supply);
    out.push(Finding::new(
        "holder_concentration",
        policy.holders_severity(top_bps),
        format!(
            "The {} largest holders outside pools own {} of the supply.",
            facts.top_holders.len().min(policy.top_holders_count),
            pct(top_bps)
        ),
        json!({
            "top_bps": top_bps, "total_supply": dec(facts.total_supply),
            "holders": facts.top_holders.iter().take(policy.top_holders_count)
                .map(|(a, b)| json!([a.to_string(), dec(*b)])).collect::<Vec<_>>(),
        }),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e18(n: u64) -> U256 {
        U256::from(n) * U256::from(10u64).pow(U256::from(18u8))
    }

    fn clean_trade(eth_in: U256) -> TradeProbe {
        TradeProbe {
            eth_in,
            buy_ok: true,
            buy_quote: e18(100),
            bought: e18(100),
            transfer_ok: true,
            transfer_sent: e18(10),
            transfer_received: e18(10),
            sell_ok: true,
            sold: e18(90),
            sell_quote: e18(1),
            eth_back: e18(1),
            ..Default::default()
        }
    }

    fn clean() -> EvmFacts {
        EvmFacts {
            small: Some(clean_trade(e18(1) / U256::from(100u8))),
            large: Some(clean_trade(e18(1))),
            owner: Some(Address::ZERO),
            quote_is_native: true,
            native_reserve: e18(10),
            min_native_reserve: e18(1),
            lp_total: e18(1000),
            lp_burned: e18(1000),
            total_supply: e18(1_000_000),
            top_holders: vec![(Address::with_last_byte(1), e18(10_000))],
            ..Default::default()
        }
    }

    #[test]
    fn a_clean_token_trips_nothing() {
        let a = assess(&clean(), &RiskPolicy::default());
        assert_eq!(a.tripped(), Vec::<&str>::new(), "{a:#?}");
        assert_eq!(a.score, 0);
        assert!(a.tradeable);
        // Measurements are still reported.
        assert!(a.findings.iter().any(|f| f.check == "sell_tax" && f.measured["bps"] == 0));
    }

    #[test]
    fn each_trade_check_trips_on_its_own() {
        let p = RiskPolicy::default();
        let mut f = clean();
        f.small.as_mut().unwrap().eth_back = e18(1) / U256::from(2u8);
        let a = assess(&f, &p);
        assert_eq!(a.tripped(), vec!["sell_tax"]);
        assert!(!a.tradeable, "a 50% sell tax is confiscatory");

        let mut f = clean();
        f.small.as_mut().unwrap().bought = e18(95);
        let a = assess(&f, &p);
        assert_eq!(a.tripped(), vec!["buy_tax"]);
        assert!(a.tradeable && a.findings[0].measured["bps"] == 500);

        let mut f = clean();
        let s = f.small.as_mut().unwrap();
        s.sell_ok = false;
        s.sell_error = Some("TRANSFER_FROM_FAILED".into());
        assert_eq!(assess(&f, &p).tripped(), vec!["sell_reverts"]);
        f.small.as_mut().unwrap().tiny_sell_ok = true;
        assert_eq!(assess(&f, &p).tripped(), vec!["tiny_sells_only"]);

        let mut f = clean();
        f.large.as_mut().unwrap().buy_ok = false;
        let a = assess(&f, &p);
        assert_eq!(a.tripped(), vec!["max_transaction"]);
        assert!(a.tradeable);

        let mut f = clean();
        f.small = None;
        f.probe_error = Some("execution reverted".into());
        assert_eq!(assess(&f, &p).tripped(), vec!["simulation_failed"]);
    }

    #[test]
    fn each_static_check_trips_on_its_own() {
        let p = RiskPolicy::default();
        let mut f = clean();
        f.owner = Some(Address::with_last_byte(7));
        assert_eq!(assess(&f, &p).tripped(), vec!["owner_not_renounced"]);
        // A name proves nothing: reported for information, never scored.
        let mut f = clean();
        f.capabilities.mint = vec!["mint(address,uint256)".into()];
        let a = assess(&f, &p);
        assert_eq!(a.tripped(), Vec::<&str>::new());
        assert!(a.findings.iter().any(|f| f.check == "declared_functions" && f.severity == Severity::Info));
        let mut f = clean();
        f.proxy_implementation = Some(Address::with_last_byte(9));
        assert_eq!(assess(&f, &p).tripped(), vec!["upgradeable_proxy"]);
        let mut f = clean();
        f.native_reserve = e18(1) / U256::from(10u8);
        assert_eq!(assess(&f, &p).tripped(), vec!["thin_liquidity"]);
        let mut f = clean();
        f.lp_burned = U256::from(1000u64);
        let holder = |class| vec![LpHolder { address: Address::with_last_byte(3), amount: e18(999), class }];
        f.lp_holders = holder(LpClass::Deployer);
        assert_eq!(assess(&f, &p).tripped(), vec!["lp_not_burned"]);
        f.lp_holders = holder(LpClass::DeployerContract);
        assert_eq!(assess(&f, &p).tripped(), vec!["lp_not_burned"], "a vault of the deployer's own is no lock");
        f.lp_holders = holder(LpClass::Locked);
        assert_eq!(assess(&f, &p).tripped(), Vec::<&str>::new(), "locked LP cannot be pulled");
        f.lp_holders = holder(LpClass::Other);
        assert_eq!(assess(&f, &p).tripped(), vec!["lp_unlinked_holders"]);
        let mut f = clean();
        f.top_holders = vec![(Address::with_last_byte(1), e18(500_000))];
        assert_eq!(assess(&f, &p).tripped(), vec!["holder_concentration"]);
    }

    fn privileged(effect: Effect) -> EvmFacts {
        let mut f = clean();
        f.owner = Some(Address::with_last_byte(7));
        f.behaviour.privileged = vec![PrivilegedCall {
            contract: Address::with_last_byte(9),
            selector: "0x8a8c523c".into(),
            caller: Address::with_last_byte(7),
            role: Role::Owner,
            args: vec![],
            effects: vec![effect],
        }];
        f
    }

    fn severity_of(f: &EvmFacts, check: &str) -> Severity {
        let a = assess(f, &RiskPolicy::default());
        a.findings.iter().find(|x| x.check == check).unwrap_or_else(|| panic!("{check}: {a:#?}")).severity
    }

    #[test]
    fn privileged_effects_mean_what_they_say() {
        let block = |caller_can_sell, announced| Effect::SellReverts { error: "x".into(), caller_can_sell, announced };
        // A trap that spares its holder is critical, and never tradeable.
        let f = privileged(block(true, false));
        assert_eq!(severity_of(&f, "privileged_sell_block"), Severity::Critical);
        let a = assess(&f, &RiskPolicy::default());
        assert!(!a.tradeable && a.verdict == crate::risk::Verdict::Critical);
        assert!(a.findings[0].explanation.contains("0x8a8c523c"), "names the selector: {}", a.findings[0].explanation);
        // A pause that binds everyone, or an announced targeted freeze, is high.
        assert_eq!(severity_of(&privileged(block(false, false)), "privileged_sell_block"), Severity::High);
        assert_eq!(severity_of(&privileged(block(true, true)), "privileged_sell_block"), Severity::High);
        // Fee switches by the tax they reach.
        let fee = |bps| privileged(Effect::SellTax { bps, baseline_bps: 0 });
        assert_eq!(severity_of(&fee(9_900), "privileged_fee_switch"), Severity::Critical);
        assert_eq!(severity_of(&fee(500), "privileged_fee_switch"), Severity::Medium);
        // Mints by the share of supply they create.
        let mint = |share_bps| privileged(Effect::Minted { amount: "1".into(), supply: "1".into(), share_bps });
        assert_eq!(severity_of(&mint(10_000), "privileged_mint"), Severity::Critical);
        assert_eq!(severity_of(&mint(3_000), "privileged_mint"), Severity::High);
        assert_eq!(severity_of(&mint(200), "privileged_mint"), Severity::Low);
        assert_eq!(
            severity_of(
                &privileged(Effect::BalanceTaken { before: "2".into(), after: "1".into() }),
                "privileged_balance_taken"
            ),
            Severity::Critical
        );
    }
}
