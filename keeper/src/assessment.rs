//! What a risk report says: findings with their severity and plain-words explanation, and the
//! assessment scored from them. The semantics, in one place:
//!
//! - the score is the sum of the findings' weights (info 0, low 5, medium 15, high 35,
//!   critical 100), capped at 100;
//! - the verdict follows from the score (low < 20 <= medium < 50 <= high < 80 <= critical);
//! - `tradeable` is false whenever any finding is critical *or* the verdict is critical: a
//!   critical verdict is never tradeable.

use serde::{Deserialize, Serialize};

/// How bad a finding is. The score is the sum of the findings' weights, capped at 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A measurement worth showing; no risk by itself.
    Info,
    Low,
    Medium,
    High,
    /// Loses the money by itself (honeypot, confiscatory tax): never trade.
    Critical,
}

impl Severity {
    pub fn weight(self) -> u8 {
        match self {
            Severity::Info => 0,
            Severity::Low => 5,
            Severity::Medium => 15,
            Severity::High => 35,
            Severity::Critical => 100,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The overall classification of a report, from its score (see [`Verdict::from_score`]).
pub use mirror::Verdict;

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identifier of the check, e.g. `sell_reverts`, `sell_tax`, `mint_authority`.
    pub check: String,
    pub severity: Severity,
    /// What it means, in plain words, with the numbers.
    pub explanation: String,
    /// The raw measurement behind it (amounts as decimal strings).
    pub measured: serde_json::Value,
}

impl Finding {
    pub fn new(check: &str, severity: Severity, explanation: impl Into<String>, measured: serde_json::Value) -> Self {
        Self { check: check.into(), severity, explanation: explanation.into(), measured }
    }
}

/// A scored assessment of one token in one pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// 0 (nothing found) to 100 (certain loss).
    pub score: u8,
    pub verdict: Verdict,
    /// False when any finding is critical or the verdict is critical: never bought.
    pub tradeable: bool,
    /// Findings, worst first.
    pub findings: Vec<Finding>,
    /// A paragraph for humans.
    pub summary: String,
}

impl Assessment {
    /// Scores a set of findings. Pure: the same findings always give the same assessment.
    pub fn from_findings(mut findings: Vec<Finding>) -> Self {
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.check.cmp(&b.check)));
        let total: u32 = findings.iter().map(|f| u32::from(f.severity.weight())).sum();
        let score = u8::try_from(total.min(100)).unwrap_or(100);
        let verdict = Verdict::from_score(score);
        let tradeable = verdict != Verdict::Critical && !findings.iter().any(|f| f.severity == Severity::Critical);
        let risky: Vec<&Finding> = findings.iter().filter(|f| f.severity > Severity::Info).collect();
        let mut summary = format!("Risk {} (score {score}/100)", verdict.as_str());
        if risky.is_empty() {
            summary.push_str(": no risky behaviour found.");
        } else {
            summary.push_str(if tradeable { ". " } else { ", do not trade. " });
            let parts: Vec<String> =
                risky.iter().map(|f| format!("[{}] {}", f.severity.as_str(), f.explanation)).collect();
            summary.push_str(&parts.join(" "));
        }
        Self { score, verdict, tradeable, findings, summary }
    }

    /// The checks that found a risk (severity above info), sorted.
    pub fn tripped(&self) -> Vec<&str> {
        let mut v: Vec<&str> =
            self.findings.iter().filter(|f| f.severity > Severity::Info).map(|f| f.check.as_str()).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn f(check: &str, severity: Severity) -> Finding {
        Finding::new(check, severity, format!("{check} found"), json!({}))
    }

    #[test]
    fn score_is_the_capped_sum_of_weights_and_critical_is_untradeable() {
        let a = Assessment::from_findings(vec![]);
        assert_eq!((a.score, a.verdict, a.tradeable), (0, Verdict::Low, true));
        assert!(a.summary.contains("no risky behaviour"));

        let a = Assessment::from_findings(vec![f("owner", Severity::Low), f("liq", Severity::Info)]);
        assert_eq!((a.score, a.verdict, a.tradeable), (5, Verdict::Low, true));
        assert_eq!(a.tripped(), vec!["owner"]);

        let a = Assessment::from_findings(vec![f("mint", Severity::High), f("tax", Severity::Medium)]);
        assert_eq!((a.score, a.verdict, a.tradeable), (50, Verdict::High, true));
        assert_eq!(a.findings[0].check, "mint", "worst first");

        let a = Assessment::from_findings(vec![f("sell_reverts", Severity::Critical), f("owner", Severity::Low)]);
        assert_eq!((a.score, a.verdict, a.tradeable), (100, Verdict::Critical, false));
        assert!(a.summary.contains("do not trade") && a.summary.contains("sell_reverts found"));

        // Three high findings add up to a critical verdict: never tradeable either.
        let a = Assessment::from_findings(vec![
            f("mint", Severity::High),
            f("owner", Severity::High),
            f("holders", Severity::High),
        ]);
        assert_eq!((a.score, a.verdict, a.tradeable), (100, Verdict::Critical, false));
    }
}
