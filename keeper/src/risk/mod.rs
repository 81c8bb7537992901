//! Risk: chain probes measure (`chains::*::probe`), pure rules score (`rules`), the engine trait
//! gives every chain one evaluation shape (`engine`), and the worker runs them (`worker`).
//!
//! What a report says, and how findings add up to a score and a verdict, is in
//! `crate::assessment`; this module holds the thresholds (`RiskPolicy`) and integer ratios the
//! rules share.

pub mod engine;
pub mod rules;
pub mod worker;

pub use crate::assessment::{Assessment, Finding, Severity, Verdict};

use alloy::primitives::U256;
use serde::{Deserialize, Serialize};

/// Thresholds shared by the chains (config section `[risk]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskPolicy {
    /// A buy, sell or transfer tax above this many basis points is a finding (medium)...
    pub tax_medium_bps: u32,
    /// ...high above this...
    pub tax_high_bps: u32,
    /// ...and critical (never trade) above this.
    pub tax_critical_bps: u32,
    /// The largest holders (outside pools and burn addresses) owning more than this share of the
    /// supply, in basis points, is a medium finding...
    pub top_holders_medium_bps: u32,
    /// ...and a high one above this.
    pub top_holders_high_bps: u32,
    /// How many of the largest holders to add up.
    pub top_holders_count: usize,
    /// The deployer / pool creator holding more than this share of the LP tokens (so it can pull
    /// the liquidity) is a high finding.
    pub lp_creator_high_bps: u32,
    /// Risk evaluations running at once.
    pub concurrency: usize,
    /// The EVM privilege search stops after this many sandbox simulations...
    pub sandbox_max_simulations: u64,
    /// ...or after this many milliseconds. A search cut short is a high finding: powers it did
    /// not try are unknown.
    pub sandbox_budget_ms: u64,
}

impl Default for RiskPolicy {
    fn default() -> Self {
        Self {
            tax_medium_bps: 100,
            tax_high_bps: 1_000,
            tax_critical_bps: 2_500,
            top_holders_medium_bps: 2_000,
            top_holders_high_bps: 4_000,
            top_holders_count: 10,
            lp_creator_high_bps: 5_000,
            concurrency: 8,
            sandbox_max_simulations: 4_000,
            sandbox_budget_ms: 250,
        }
    }
}

impl RiskPolicy {
    pub fn tax_severity(&self, bps: u32) -> Severity {
        if bps > self.tax_critical_bps {
            Severity::Critical
        } else if bps > self.tax_high_bps {
            Severity::High
        } else if bps > self.tax_medium_bps {
            Severity::Medium
        } else {
            Severity::Info
        }
    }

    pub fn holders_severity(&self, bps: u32) -> Severity {
        if bps > self.top_holders_high_bps {
            Severity::High
        } else if bps > self.top_holders_medium_bps {
            Severity::Medium
        } else {
            Severity::Info
        }
    }

    pub fn lp_creator_severity(&self, bps: u32) -> Severity {
        if bps > self.lp_creator_high_bps {
            Severity::High
        } else {
            Severity::Info
        }
    }

    /// The first invalid field, for config validation.
    pub fn invalid_field(&self) -> Option<(&'static str, &'static str)> {
        if !(self.tax_medium_bps <= self.tax_high_bps && self.tax_high_bps <= self.tax_critical_bps) {
            return Some(("risk.tax_high_bps", "must satisfy tax_medium_bps <= tax_high_bps <= tax_critical_bps"));
        }
        if self.tax_critical_bps > 10_000 {
            return Some(("risk.tax_critical_bps", "must be at most 10000"));
        }
        if self.top_holders_medium_bps > self.top_holders_high_bps || self.top_holders_high_bps > 10_000 {
            return Some(("risk.top_holders_high_bps", "must be at least top_holders_medium_bps and at most 10000"));
        }
        if self.top_holders_count == 0 || self.top_holders_count > 20 {
            return Some(("risk.top_holders_count", "must be between 1 and 20 (the Solana RPC returns 20)"));
        }
        if self.sandbox_max_simulations == 0 || self.sandbox_budget_ms == 0 {
            return Some((
                "risk.sandbox_max_simulations",
                "the sandbox budget (simulations and milliseconds) must be positive",
            ));
        }
        if self.lp_creator_high_bps > 10_000 {
            return Some(("risk.lp_creator_high_bps", "must be at most 10000"));
        }
        None
    }
}

/// `part / whole` in basis points (capped at 10000), rounded down; 0 when `whole` is 0. Integer-only,
/// exact for any 256-bit amounts (EVM supplies can exceed u128).
pub fn share_bps(part: U256, whole: U256) -> u32 {
    if whole.is_zero() {
        return 0;
    }
    let part = part.min(whole);
    let bps = match part.checked_mul(U256::from(10_000u32)) {
        Some(scaled) => scaled / whole,
        // part > U256::MAX / 10^4, so whole is at least that large too: divide first.
        None => part / (whole / U256::from(10_000u32)),
    };
    u32::try_from(bps.min(U256::from(10_000u32))).unwrap_or(10_000)
}

/// How much less than `expected` arrived, in basis points of `expected` (0 if at least as much).
pub fn shortfall_bps(expected: U256, actual: U256) -> u32 {
    share_bps(expected.saturating_sub(actual), expected)
}

/// Formats basis points as a percentage for explanations, e.g. 512 -> "5.12%".
pub fn pct(bps: u32) -> String {
    format!("{}.{:02}%", bps / 100, bps % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(v: u64) -> U256 {
        U256::from(v)
    }

    #[test]
    fn integer_ratios() {
        assert_eq!(share_bps(u(1), u(3)), 3_333);
        assert_eq!(share_bps(u(5), u(0)), 0);
        assert_eq!(share_bps(u(7), u(5)), 10_000);
        assert_eq!(shortfall_bps(u(1_000), u(950)), 500);
        assert_eq!(shortfall_bps(u(1_000), u(1_200)), 0);
        assert_eq!(share_bps(U256::MAX, U256::MAX), 10_000);
        assert!((2_499..=2_500).contains(&share_bps(U256::MAX / U256::from(4u8), U256::MAX)));
        assert_eq!(share_bps(U256::from(u128::MAX / 2), U256::from(u128::MAX)), 4_999);
        assert_eq!(pct(512), "5.12%");
        assert_eq!(pct(5), "0.05%");
    }

    #[test]
    fn policy_thresholds() {
        let p = RiskPolicy::default();
        assert_eq!(p.tax_severity(100), Severity::Info);
        assert_eq!(p.tax_severity(500), Severity::Medium);
        assert_eq!(p.tax_severity(2_000), Severity::High);
        assert_eq!(p.tax_severity(5_000), Severity::Critical);
        assert_eq!(p.invalid_field(), None);
        let bad = RiskPolicy { tax_high_bps: 50, ..p };
        assert_eq!(bad.invalid_field().map(|f| f.0), Some("risk.tax_high_bps"));
    }
}
