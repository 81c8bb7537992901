//! The detector: pure, a pool's recent history in, flags out. Each flag carries the evidence it
//! rests on (the event, report or window that set it off), so that looking at the same history
//! again flags nothing new.
//!
//! - **liquidity_drop**: the quote side's reserve at `liquidity_drop_bps` or more under its
//!   highest within the last `liquidity_window` blocks (slots). One flag per highest point: a
//!   reserve draining in many steps is one anomaly. Read from the pool events where the mirror
//!   has them (Solana), else from the reserve each risk report measured (EVM re-scores).
//! - **sell_tax_jump**, **concentration_jump**: the measured sell tax, or the largest holders'
//!   share, `*_jump_bps` or more above the previous report's.
//! - **volume_spike**: one window's quote volume at `volume_spike_ratio` times the average of
//!   the pool's earlier windows (empty ones included), once there are `volume_min_windows`.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::U256;
use mirror::anomalies::{SeriesEvent, SeriesReport};
use serde_json::{json, Value};

use super::AnomalyConfig;
use crate::{
    assessment::{Finding, Severity},
    risk::{pct, shortfall_bps},
    trade::amount,
};

/// The quote side's reserve at one point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub evidence: String,
    pub slot: i64,
    pub quote_reserve: U256,
}

/// What a risk report measured that the detector compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measure {
    pub report_id: i64,
    pub slot: Option<i64>,
    pub sell_tax_bps: Option<u32>,
    pub top_bps: Option<u32>,
}

/// A pool's recent history, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    pub reserves: Vec<Point>,
    /// Quote volume per swap: (slot, amount).
    pub swaps: Vec<(i64, U256)>,
    /// The first slot of the pool's history (its volume windows count from there).
    pub first_slot: Option<i64>,
    pub reports: Vec<Measure>,
}

fn bps_in(findings: &[Finding], check: &str, field: &str) -> Option<u32> {
    findings
        .iter()
        .find(|f| f.check == check)
        .and_then(|f| f.measured.get(field))
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
}

fn amount_in(findings: &[Finding], check: &str, field: &str) -> Option<U256> {
    let f = findings.iter().find(|f| f.check == check)?;
    f.measured.get(field)?.as_str()?.parse().ok()
}

impl Series {
    /// From the mirror's rows; `quote_is_a`: the pool's quote side is its token_a.
    pub fn of(events: &[SeriesEvent], reports: &[SeriesReport], quote_is_a: bool) -> Self {
        let mut s = Self { first_slot: events.first().map(|e| e.slot), ..Self::default() };
        for e in events {
            let reserve = if quote_is_a { &e.reserve_a } else { &e.reserve_b };
            if let Some(r) = reserve {
                s.reserves.push(Point { evidence: format!("event:{}", e.id), slot: e.slot, quote_reserve: amount(r) });
            }
            if e.kind == "swap" {
                if let (Some(a_to_b), Some(i), Some(o)) = (e.a_to_b, &e.amount_in, &e.amount_out) {
                    // a_to_b: token a in, token b out.
                    let quote = if a_to_b == quote_is_a { i } else { o };
                    s.swaps.push((e.slot, amount(quote)));
                }
            }
        }
        let from_reports = s.reserves.is_empty();
        for r in reports {
            let findings: Vec<Finding> = serde_json::from_str(&r.findings).unwrap_or_default();
            s.reports.push(Measure {
                report_id: r.id,
                slot: r.measured_slot,
                sell_tax_bps: bps_in(&findings, "sell_tax", "bps").or_else(|| bps_in(&findings, "transfer_fee", "bps")),
                top_bps: bps_in(&findings, "holder_concentration", "top_bps"),
            });
            let reserve = amount_in(&findings, "thin_liquidity", "native_reserve")
                .or_else(|| amount_in(&findings, "quote_reserve", "reserve"));
            if let (true, Some(slot), Some(reserve)) = (from_reports, r.measured_slot, reserve) {
                s.reserves.push(Point { evidence: format!("report:{}", r.id), slot, quote_reserve: reserve });
            }
        }
        s
    }
}

/// One anomaly found.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// One of [`super::KINDS`].
    pub kind: &'static str,
    pub evidence: String,
    pub slot: Option<i64>,
    pub finding: Finding,
}

/// Every anomaly in `s`.
pub fn detect(s: &Series, cfg: &AnomalyConfig) -> Vec<Flag> {
    let mut out = liquidity_drops(s, cfg);
    out.extend(jumps(s, cfg));
    out.extend(volume_spikes(s, cfg));
    out
}

fn liquidity_drops(s: &Series, cfg: &AnomalyConfig) -> Vec<Flag> {
    let window = i64::try_from(cfg.liquidity_window).unwrap_or(i64::MAX);
    let mut flagged: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for (i, now) in s.reserves.iter().enumerate() {
        let since = now.slot.saturating_sub(window);
        let Some(peak) = s.reserves[..i].iter().filter(|p| p.slot >= since).reduce(|best, p| {
            if p.quote_reserve > best.quote_reserve {
                p
            } else {
                best
            }
        }) else {
            continue;
        };
        let drop = shortfall_bps(peak.quote_reserve, now.quote_reserve);
        if peak.quote_reserve.is_zero() || drop < cfg.liquidity_drop_bps || !flagged.insert(&peak.evidence) {
            continue;
        }
        out.push(Flag {
            kind: "liquidity_drop",
            evidence: peak.evidence.clone(),
            slot: Some(now.slot),
            finding: Finding::new(
                "liquidity_drop",
                Severity::High,
                format!(
                    "The pool's quote reserve fell by {} within {} blocks (slots): from {} to {} base units.",
                    pct(drop),
                    now.slot - peak.slot,
                    peak.quote_reserve,
                    now.quote_reserve
                ),
                json!({
                    "from": peak.quote_reserve.to_string(), "to": now.quote_reserve.to_string(), "drop_bps": drop,
                    "from_slot": peak.slot, "slot": now.slot, "threshold_bps": cfg.liquidity_drop_bps,
                }),
            ),
        });
    }
    out
}

fn jumps(s: &Series, cfg: &AnomalyConfig) -> Vec<Flag> {
    type Pick = fn(&Measure) -> Option<u32>;
    let kinds: [(&'static str, Pick, u32, Severity, &str); 2] = [
        ("sell_tax_jump", |m| m.sell_tax_bps, cfg.sell_tax_jump_bps, Severity::High, "The measured sell tax"),
        (
            "concentration_jump",
            |m| m.top_bps,
            cfg.concentration_jump_bps,
            Severity::Medium,
            "The largest holders' share of the supply",
        ),
    ];
    let mut out = Vec::new();
    for (kind, pick, threshold, severity, what) in kinds {
        let measured: Vec<(&Measure, u32)> = s.reports.iter().filter_map(|m| pick(m).map(|v| (m, v))).collect();
        for pair in measured.windows(2) {
            let ((before, from), (now, to)) = (pair[0], pair[1]);
            if to < from.saturating_add(threshold) {
                continue;
            }
            out.push(Flag {
                kind,
                evidence: format!("report:{}", now.report_id),
                slot: now.slot,
                finding: Finding::new(
                    kind,
                    severity,
                    format!("{what} rose from {} to {} between two risk reports.", pct(from), pct(to)),
                    json!({
                        "from_bps": from, "to_bps": to, "from_report": before.report_id, "report": now.report_id,
                        "threshold_bps": threshold,
                    }),
                ),
            });
        }
    }
    out
}

fn volume_spikes(s: &Series, cfg: &AnomalyConfig) -> Vec<Flag> {
    let Some(first) = s.first_slot else { return Vec::new() };
    let window = i64::try_from(cfg.volume_window).unwrap_or(i64::MAX);
    let mut volume: BTreeMap<i64, U256> = BTreeMap::new();
    for (slot, v) in &s.swaps {
        *volume.entry((slot - first) / window).or_default() += *v;
    }
    let mut out = Vec::new();
    let mut earlier = U256::ZERO;
    for (&w, &v) in &volume {
        // The earlier windows, empty ones included.
        let windows = w;
        if windows >= i64::from(cfg.volume_min_windows) && !earlier.is_zero() {
            let n = U256::from(u64::try_from(windows).unwrap_or(0));
            // v >= ratio * (earlier / n), without dividing.
            if v * n >= U256::from(cfg.volume_spike_ratio) * earlier {
                let average = earlier / n;
                let slot = first + w * window;
                out.push(Flag {
                    kind: "volume_spike",
                    evidence: format!("window:{slot}"),
                    slot: Some(slot),
                    finding: Finding::new(
                        "volume_spike",
                        Severity::Medium,
                        format!(
                            "{v} base units of the quote traded in {window} blocks (slots) from {slot}, against an \
                             average of {average} in the pool's {windows} earlier windows."
                        ),
                        json!({
                            "volume": v.to_string(), "average": average.to_string(), "windows": windows,
                            "window_slots": window, "from_slot": slot, "ratio": cfg.volume_spike_ratio,
                        }),
                    ),
                });
            }
        }
        earlier += v;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AnomalyConfig {
        AnomalyConfig::default()
    }

    fn point(slot: i64, reserve: u64) -> Point {
        Point { evidence: format!("event:{slot}"), slot, quote_reserve: U256::from(reserve) }
    }

    #[test]
    fn a_calm_pool_flags_nothing() {
        let s = Series {
            reserves: (0..200).map(|i| point(i, 1_000_000 + u64::try_from(i % 7).unwrap() * 10_000)).collect(),
            swaps: (0..200).map(|i| (i, U256::from(1_000 + u64::try_from(i % 5).unwrap() * 100))).collect(),
            first_slot: Some(0),
            reports: vec![
                Measure { report_id: 1, slot: Some(0), sell_tax_bps: Some(300), top_bps: Some(2_000) },
                Measure { report_id: 2, slot: Some(100), sell_tax_bps: Some(500), top_bps: Some(2_600) },
            ],
        };
        assert_eq!(detect(&s, &cfg()), vec![]);
    }

    #[test]
    fn a_drain_in_many_steps_is_one_liquidity_drop_from_its_peak() {
        // 1,000,000 at slot 10, then 10% less each slot: -30% is crossed at slot 14 (656,100).
        let mut reserves = vec![point(0, 900_000), point(10, 1_000_000)];
        let mut r = 1_000_000u64;
        for slot in 11..20 {
            r = r * 9 / 10;
            reserves.push(point(slot, r));
        }
        let flags = detect(&Series { reserves, ..Series::default() }, &cfg());
        assert_eq!(flags.len(), 1, "{flags:?}");
        let f = &flags[0];
        assert_eq!((f.kind, f.evidence.as_str(), f.slot), ("liquidity_drop", "event:10", Some(14)));
        assert_eq!(f.finding.measured["to"], "656100");
        assert_eq!(f.finding.measured["drop_bps"], 3_439);
    }

    #[test]
    fn a_drop_slower_than_the_window_is_not_flagged() {
        // -5% every 20 slots: never 30% within 50 slots.
        let mut r = 1_000_000u64;
        let reserves: Vec<Point> = (0..20)
            .map(|i| {
                r = r * 95 / 100;
                point(i * 20, r)
            })
            .collect();
        assert_eq!(detect(&Series { reserves, ..Series::default() }, &cfg()), vec![]);
    }

    #[test]
    fn tax_and_concentration_jumps_compare_consecutive_reports() {
        let m = |id, tax, top| Measure { report_id: id, slot: Some(id * 10), sell_tax_bps: tax, top_bps: top };
        let s = Series {
            reports: vec![m(1, Some(200), Some(1_000)), m(2, None, Some(2_400)), m(3, Some(1_200), Some(2_600))],
            ..Series::default()
        };
        let flags = detect(&s, &cfg());
        let got: Vec<(&str, &str)> = flags.iter().map(|f| (f.kind, f.evidence.as_str())).collect();
        // Tax: 2% -> 12% (report 2 measured none): +10 points. Holders: 10% -> 24% (+14, under
        // 15), 24% -> 26%.
        assert_eq!(got, vec![("sell_tax_jump", "report:3")]);
        assert_eq!(flags[0].finding.measured["from_report"], 1);
    }

    #[test]
    fn a_volume_spike_needs_the_pools_own_history() {
        let one = U256::from(1_000u64);
        // Windows of 25 slots: 1,000 in each of windows 0..4, then 20,000 in window 4.
        let mut swaps: Vec<(i64, U256)> = (0..4).map(|w| (w * 25 + 3, one)).collect();
        swaps.push((4 * 25 + 1, U256::from(20_000u64)));
        let s = Series { swaps: swaps.clone(), first_slot: Some(0), ..Series::default() };
        let flags = detect(&s, &cfg());
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!((flags[0].kind, flags[0].evidence.as_str()), ("volume_spike", "window:100"));
        assert_eq!(flags[0].finding.measured["average"], "1000");
        // The same burst with only three earlier windows: too little history.
        let young = Series { swaps: swaps[1..].to_vec(), first_slot: Some(25), ..Series::default() };
        assert_eq!(detect(&young, &cfg()), vec![]);
        // Four times the average is under the ratio.
        swaps[4].1 = U256::from(4_999u64);
        assert_eq!(detect(&Series { swaps, first_slot: Some(0), ..Series::default() }, &cfg()), vec![]);
    }
}
