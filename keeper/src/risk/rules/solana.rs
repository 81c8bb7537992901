//! Solana findings from raw measurements (pure; gathered by `crate::chains::solana::probe`).

use alloy::primitives::U256;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::risk::{pct, share_bps, Assessment, Finding, RiskPolicy, Severity};

/// Token-2022 extensions that change what holding the token means.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extensions {
    /// Transfer fee in basis points (the newer of the two configured fees), if the extension is set.
    pub transfer_fee_bps: Option<u16>,
    /// Program that runs on every transfer and can make it fail.
    pub transfer_hook_program: Option<String>,
    /// An authority that can move or burn anyone's tokens.
    pub permanent_delegate: Option<String>,
    pub non_transferable: bool,
    /// Every extension type present, by name, for display.
    pub present: Vec<String>,
}

/// Everything measured about one SPL token in one pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolanaFacts {
    pub mint: String,
    pub token_2022: bool,
    pub mint_authority: Option<String>,
    pub freeze_authority: Option<String>,
    pub supply: u64,
    pub decimals: u8,
    pub extensions: Extensions,
    /// Largest token accounts outside the pool's vaults: (account, amount).
    pub top_holders: Vec<(String, u64)>,
    /// LP tokens ever issued by the pool (its `lp_supply`, including the locked minimum), those
    /// still in circulation (the LP mint's supply) and those the pool's creator holds.
    pub lp_total: u64,
    pub lp_outstanding: u64,
    pub lp_creator: u64,
    /// The pool's reserve of its quote token (wSOL, USDC...) when the other side is a known quote
    /// mint, and the policy's minimum for it.
    pub quote_reserve: Option<u64>,
    pub min_quote_reserve: u64,
    /// The pool's venue when it is not our AMM (its LP and reserves were not measured).
    #[serde(default)]
    pub venue: String,
}

pub fn assess(facts: &SolanaFacts, policy: &RiskPolicy) -> Assessment {
    let mut out = Vec::new();
    if let Some(a) = &facts.mint_authority {
        out.push(Finding::new(
            "mint_authority",
            Severity::High,
            format!("The mint authority is still set ({a}): new supply can be minted at any time."),
            json!({ "mint_authority": a }),
        ));
    }
    if let Some(a) = &facts.freeze_authority {
        out.push(Finding::new(
            "freeze_authority",
            Severity::High,
            format!("The freeze authority is still set ({a}): any holder's account can be frozen, blocking sells."),
            json!({ "freeze_authority": a }),
        ));
    }
    let ext = &facts.extensions;
    if let Some(bps) = ext.transfer_fee_bps {
        let bps32 = u32::from(bps);
        out.push(Finding::new(
            "transfer_fee",
            policy.tax_severity(bps32).max(Severity::Low),
            format!("Token-2022 transfer fee of {} on every transfer, changeable by its authority.", pct(bps32)),
            json!({ "bps": bps }),
        ));
    }
    if let Some(p) = &ext.transfer_hook_program {
        out.push(Finding::new(
            "transfer_hook",
            Severity::High,
            format!("Token-2022 transfer hook: program {p} runs on every transfer and can block sells."),
            json!({ "program": p }),
        ));
    }
    if let Some(d) = &ext.permanent_delegate {
        out.push(Finding::new(
            "permanent_delegate",
            Severity::Critical,
            format!("Token-2022 permanent delegate {d} can take or burn anyone's tokens."),
            json!({ "delegate": d }),
        ));
    }
    if ext.non_transferable {
        out.push(Finding::new(
            "non_transferable",
            Severity::Critical,
            "Token-2022 non-transferable: bought tokens can never be sold.",
            json!({}),
        ));
    }
    if !ext.present.is_empty() {
        out.push(Finding::new(
            "token_2022_extensions",
            Severity::Info,
            format!("Token-2022 extensions: {}.", ext.present.join(", ")),
            json!({ "extensions": ext.present }),
        ));
    }
    let top: u128 = facts.top_holders.iter().take(policy.top_holders_count).map(|(_, a)| u128::from(*a)).sum();
    let top_bps = share_bps(U256::from(top), U256::from(facts.supply));
    out.push(Finding::new(
        "holder_concentration",
        policy.holders_severity(top_bps),
        format!(
            "The {} largest token accounts outside the pool own {} of the supply.",
            facts.top_holders.len().min(policy.top_holders_count),
            pct(top_bps)
        ),
        json!({
            "top_bps": top_bps, "supply": facts.supply.to_string(),
            "holders": facts.top_holders.iter().take(policy.top_holders_count)
                .map(|(a, b)| json!([a, b.to_string()])).collect::<Vec<_>>(),
        }),
    ));
    if facts.lp_total > 0 {
        let burned = facts.lp_total.saturating_sub(facts.lp_outstanding);
        let burned_bps = share_bps(U256::from(burned), U256::from(facts.lp_total));
        let creator_bps = share_bps(U256::from(facts.lp_creator), U256::from(facts.lp_total));
        out.push(Finding::new(
            "lp_not_burned",
            policy.lp_creator_severity(creator_bps),
            format!(
                "{} of the LP tokens are burned or locked; the pool's creator holds {} and can pull that much liquidity.",
                pct(burned_bps),
                pct(creator_bps)
            ),
            json!({
                "lp_total": facts.lp_total.to_string(), "lp_outstanding": facts.lp_outstanding.to_string(),
                "lp_creator": facts.lp_creator.to_string(), "burned_bps": burned_bps, "creator_bps": creator_bps,
            }),
        ));
    }
    if !facts.venue.is_empty() && facts.venue != "amm" {
        out.push(Finding::new(
            "foreign_venue",
            Severity::Info,
            format!(
                "The pool is on {}, traded through Jupiter: its LP lock and reserves were not measured on chain.",
                facts.venue
            ),
            json!({ "venue": facts.venue }),
        ));
    }
    if let Some(reserve) = facts.quote_reserve {
        let thin = reserve < facts.min_quote_reserve;
        out.push(Finding::new(
            "thin_liquidity",
            if thin { Severity::High } else { Severity::Info },
            format!(
                "The pool holds {reserve} base units of its quote token (minimum wanted {}).",
                facts.min_quote_reserve
            ),
            json!({ "quote_reserve": reserve.to_string(), "minimum": facts.min_quote_reserve.to_string() }),
        ));
    }
    Assessment::from_findings(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean() -> SolanaFacts {
        SolanaFacts {
            mint: "M".into(),
            supply: 1_000_000,
            decimals: 6,
            top_holders: vec![("a".into(), 10_000), ("b".into(), 5_000)],
            lp_total: 1_000,
            lp_outstanding: 0,
            quote_reserve: Some(10_000_000_000),
            min_quote_reserve: 1_000_000_000,
            ..Default::default()
        }
    }

    #[test]
    fn clean_mint_trips_nothing_and_each_check_trips_alone() {
        let p = RiskPolicy::default();
        assert_eq!(assess(&clean(), &p).tripped(), Vec::<&str>::new());
        type Trip = Box<dyn Fn(&mut SolanaFacts)>;
        let cases: Vec<(&str, Trip)> = vec![
            ("mint_authority", Box::new(|f| f.mint_authority = Some("A".into()))),
            ("freeze_authority", Box::new(|f| f.freeze_authority = Some("F".into()))),
            ("transfer_fee", Box::new(|f| f.extensions.transfer_fee_bps = Some(300))),
            ("transfer_hook", Box::new(|f| f.extensions.transfer_hook_program = Some("H".into()))),
            ("permanent_delegate", Box::new(|f| f.extensions.permanent_delegate = Some("D".into()))),
            ("non_transferable", Box::new(|f| f.extensions.non_transferable = true)),
            ("holder_concentration", Box::new(|f| f.top_holders = vec![("a".into(), 600_000)])),
            (
                "lp_not_burned",
                Box::new(|f| {
                    f.lp_outstanding = 990;
                    f.lp_creator = 990;
                }),
            ),
            ("thin_liquidity", Box::new(|f| f.quote_reserve = Some(5))),
        ];
        for (check, trip) in cases {
            let mut f = clean();
            trip(&mut f);
            assert_eq!(assess(&f, &p).tripped(), vec![check]);
        }
        let mut f = clean();
        f.extensions.non_transferable = true;
        assert!(!assess(&f, &p).tradeable);
    }
}
