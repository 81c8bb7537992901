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

/// What running one of a mint's authorities against our own token account did (see
/// `crate::chains::solana::authority`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AuthoritySimulation {
    /// The simulated instruction succeeded: the authority can act on our account now.
    Effective,
    /// The simulated instruction failed, with the program's error.
    Refused { error: String },
    /// It could not be simulated (a program-derived or multisig authority, no fee payer).
    Unsimulated { reason: String },
}

/// What a simulated transfer of the token into our own token account did when the mint has a
/// Token-2022 transfer hook (see `crate::chains::solana::hook`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum HookSimulation {
    /// The transfer, hook included, succeeded.
    Passed,
    /// The hook (or the transfer) failed, with the error: holders' transfers are blocked now.
    Blocked { error: String },
    /// It could not be simulated (no holder to transfer from, extra accounts derived from
    /// seeds we do not resolve, no fee payer).
    Unsimulated { reason: String },
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
    /// The mint and freeze authorities run against our token account, when they are set and
    /// were simulated.
    #[serde(default)]
    pub mint_simulation: Option<AuthoritySimulation>,
    #[serde(default)]
    pub freeze_simulation: Option<AuthoritySimulation>,
    /// The transfer hook run by a simulated transfer, when the mint has one.
    #[serde(default)]
    pub hook_simulation: Option<HookSimulation>,
}

/// The severity and the plain words of an authority, from what its simulation did.
fn authority(power: &str, holder: &str, sim: Option<&AuthoritySimulation>) -> (Severity, String) {
    let what = match power {
        "mint" => "mint new supply",
        _ => "freeze your token account, blocking every sell",
    };
    match sim {
        Some(AuthoritySimulation::Effective) => (
            Severity::Critical,
            format!("The {power} authority {holder} can {what}: a simulated instruction against our own token account succeeded."),
        ),
        Some(AuthoritySimulation::Refused { error }) => (
            Severity::Medium,
            format!("The {power} authority {holder} is set, but its simulated instruction against our token account failed ({error})."),
        ),
        Some(AuthoritySimulation::Unsimulated { reason }) => (
            Severity::High,
            format!("The {power} authority {holder} is set and could not be simulated ({reason}): it may {what}."),
        ),
        None => (Severity::High, format!("The {power} authority is still set ({holder}): it may {what} at any time.")),
    }
}

pub fn assess(facts: &SolanaFacts, policy: &RiskPolicy) -> Assessment {
    let mut out = Vec::new();
    if let Some(a) = &facts.mint_authority {
        let (severity, words) = authority("mint", a, facts.mint_simulation.as_ref());
        out.push(Finding::new(
            "mint_authority",
            severity,
            words,
            json!({ "mint_authority": a, "simulation": facts.mint_simulation }),
        ));
    }
    if let Some(a) = &facts.freeze_authority {
        let (severity, words) = authority("freeze", a, facts.freeze_simulation.as_ref());
        out.push(Finding::new(
            "freeze_authority",
            severity,
            words,
            json!({ "freeze_authority": a, "simulation": facts.freeze_simulation }),
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
        let (severity, words) = match &facts.hook_simulation {
            Some(HookSimulation::Blocked { error }) => (
                Severity::Critical,
                format!("Token-2022 transfer hook {p} blocks transfers now: a simulated transfer into our token account failed ({error})."),
            ),
            Some(HookSimulation::Passed) => (
                Severity::High,
                format!("Token-2022 transfer hook {p} runs on every transfer: a simulated transfer passed, but its program can change and block sells."),
            ),
            Some(HookSimulation::Unsimulated { reason }) => (
                Severity::High,
                format!("Token-2022 transfer hook {p} runs on every transfer and can block sells; it could not be simulated ({reason})."),
            ),
            None => (Severity::High, format!("Token-2022 transfer hook: program {p} runs on every transfer and can block sells.")),
        };
        out.push(Finding::new(
            "transfer_hook",
            severity,
            words,
            json!({ "program": p, "simulation": facts.hook_simulation }),
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

    #[test]
    fn an_authority_or_hook_is_as_severe_as_what_its_simulation_did() {
        let p = RiskPolicy::default();
        let severity = |f: &SolanaFacts, check: &str| {
            assess(f, &p).findings.iter().find(|x| x.check == check).map(|x| x.severity).unwrap()
        };
        let effective = Some(AuthoritySimulation::Effective);
        let refused = Some(AuthoritySimulation::Refused { error: "custom program error: 0x5".into() });
        let unsimulated = Some(AuthoritySimulation::Unsimulated { reason: "PDA".into() });
        for (sim, want) in [
            (None, Severity::High),
            (effective, Severity::Critical),
            (refused, Severity::Medium),
            (unsimulated, Severity::High),
        ] {
            let mut f = clean();
            (f.mint_authority, f.mint_simulation) = (Some("A".into()), sim.clone());
            assert_eq!(severity(&f, "mint_authority"), want);
            assert_eq!(assess(&f, &p).tradeable, want != Severity::Critical, "critical is never tradeable");
            let mut f = clean();
            (f.freeze_authority, f.freeze_simulation) = (Some("F".into()), sim);
            assert_eq!(severity(&f, "freeze_authority"), want);
        }
        for (sim, want) in [
            (None, Severity::High),
            (Some(HookSimulation::Passed), Severity::High),
            (Some(HookSimulation::Blocked { error: "0x1".into() }), Severity::Critical),
            (Some(HookSimulation::Unsimulated { reason: "seeds".into() }), Severity::High),
        ] {
            let mut f = clean();
            (f.extensions.transfer_hook_program, f.hook_simulation) = (Some("H".into()), sim);
            assert_eq!(severity(&f, "transfer_hook"), want);
        }
    }
}
