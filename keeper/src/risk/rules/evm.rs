//! EVM findings from raw measurements (pure; gathered by `crate::chains::evm::probe`).

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::risk::{pct, share_bps, shortfall_bps, Assessment, Finding, RiskPolicy, Severity};

/// One buy -> wallet transfer -> sell round trip, simulated by the RiskProbe in an `eth_call`.
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

/// Privileged functions found in the token's runtime code (by selector), by kind.
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
    /// `owner()` if the token has one.
    pub owner: Option<Address>,
    pub capabilities: Capabilities,
    /// The EIP-1967 implementation, when the token is a proxy.
    pub proxy_implementation: Option<Address>,
    /// The pool's reserve of the wrapped native token, and the minimum the policy wants.
    pub native_reserve: U256,
    pub min_native_reserve: U256,
    /// LP tokens: total supply, held by burn addresses (incl. Uniswap's locked minimum), held by
    /// the address that created the pool.
    pub lp_total: U256,
    pub lp_burned: U256,
    pub lp_creator: U256,
    pub creator: Option<Address>,
    /// Token supply and the balances of the largest holders outside pools and burn addresses.
    pub total_supply: U256,
    pub top_holders: Vec<(Address, U256)>,
}

fn dec(v: U256) -> String {
    v.to_string()
}

/// Turns measurements into findings and a score.
pub fn assess(facts: &EvmFacts, policy: &RiskPolicy) -> Assessment {
    let mut out = Vec::new();
    trade_findings(facts, policy, &mut out);
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
    let capability = |check: &str, severity: Severity, what: &str, found: &Vec<String>, out: &mut Vec<Finding>| {
        if !found.is_empty() {
            out.push(Finding::new(
                check,
                severity,
                format!("The contract has {what} ({}).", found.join(", ")),
                json!({ "functions": found }),
            ));
        }
    };
    capability("mint_function", Severity::High, "a function to mint new supply", &caps.mint, out);
    capability("blacklist_function", Severity::High, "a function to blacklist holders", &caps.blacklist, out);
    capability("pause_function", Severity::High, "a function to pause transfers", &caps.pause, out);
    capability("fee_setter", Severity::Medium, "a function to change its taxes", &caps.fee_setter, out);
    capability("limit_setter", Severity::Low, "a function to change transaction limits", &caps.limit_setter, out);
    if let Some(imp) = facts.proxy_implementation {
        out.push(Finding::new(
            "upgradeable_proxy",
            Severity::High,
            format!("The token is an EIP-1967 proxy (implementation {imp}): its code can be replaced at any time."),
            json!({ "implementation": imp.to_string() }),
        ));
    }
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
    if !facts.lp_total.is_zero() {
        let burned = share_bps(facts.lp_burned, facts.lp_total);
        let creator = share_bps(facts.lp_creator, facts.lp_total);
        out.push(Finding::new(
            "lp_not_burned",
            policy.lp_creator_severity(creator),
            format!(
                "{} of the LP tokens are burned; the pool's creator holds {} and can pull that much liquidity.",
                pct(burned),
                pct(creator)
            ),
            json!({
                "lp_total": dec(facts.lp_total), "lp_burned": dec(facts.lp_burned), "lp_creator": dec(facts.lp_creator),
                "burned_bps": burned, "creator_bps": creator,
                "creator": facts.creator.map(|a| a.to_string()),
            }),
        ));
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

/// Addresses nobody controls: the zero address and the conventional `0x…dEaD`.
pub fn is_burn_address(a: Address) -> bool {
    a == Address::ZERO || a == DEAD
}

pub const DEAD: Address = alloy::primitives::address!("0x000000000000000000000000000000000000dEaD");

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
        let mut f = clean();
        f.capabilities.mint = vec!["mint(address,uint256)".into()];
        assert_eq!(assess(&f, &p).tripped(), vec!["mint_function"]);
        let mut f = clean();
        f.proxy_implementation = Some(Address::with_last_byte(9));
        assert_eq!(assess(&f, &p).tripped(), vec!["upgradeable_proxy"]);
        let mut f = clean();
        f.native_reserve = e18(1) / U256::from(10u8);
        assert_eq!(assess(&f, &p).tripped(), vec!["thin_liquidity"]);
        let mut f = clean();
        f.lp_burned = U256::from(1000u64);
        f.lp_creator = e18(999);
        assert_eq!(assess(&f, &p).tripped(), vec!["lp_not_burned"]);
        let mut f = clean();
        f.top_holders = vec![(Address::with_last_byte(1), e18(500_000))];
        assert_eq!(assess(&f, &p).tripped(), vec!["holder_concentration"]);
    }
}
