//! `[anomaly]`: the anomaly watch's thresholds and windows (see `crate::anomaly`). Validated at
//! load with the field named (`anomaly.<field>`).

use serde::{Deserialize, Serialize};

/// Every kind of anomaly, as stored in `anomalies.kind`.
pub const KINDS: [&str; 4] = ["liquidity_drop", "sell_tax_jump", "concentration_jump", "volume_spike"];

/// `[anomaly]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyConfig {
    pub enabled: bool,
    /// How often the mirror is read for new events and reports.
    pub every_ms: u64,
    /// Pools first seen this long ago or less are watched (held ones always).
    pub young_for_secs: u64,
    /// The quote side's reserve falling by this share or more from its highest within
    /// `liquidity_window` blocks (slots).
    pub liquidity_drop_bps: u32,
    pub liquidity_window: u64,
    /// The measured sell tax rising by this many basis points or more between two reports.
    pub sell_tax_jump_bps: u32,
    /// The largest holders' share rising by this many basis points or more between two reports.
    pub concentration_jump_bps: u32,
    /// The quote volume of one window of `volume_window` blocks (slots) reaching
    /// `volume_spike_ratio` times the average of the pool's earlier windows, once it has
    /// `volume_min_windows` of them.
    pub volume_window: u64,
    pub volume_spike_ratio: u32,
    pub volume_min_windows: u32,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            every_ms: 2_000,
            young_for_secs: 86_400,
            liquidity_drop_bps: 3_000,
            liquidity_window: 50,
            sell_tax_jump_bps: 1_000,
            concentration_jump_bps: 1_500,
            volume_window: 25,
            volume_spike_ratio: 5,
            volume_min_windows: 4,
        }
    }
}

impl AnomalyConfig {
    /// The first invalid field, as (`anomaly.<field>`, reason).
    pub fn invalid(&self) -> Option<(String, String)> {
        let bad = |f: &str, r: &str| Some((format!("anomaly.{f}"), r.to_string()));
        if self.every_ms < 50 || self.every_ms > 600_000 {
            return bad("every_ms", "must be between 50 and 600000");
        }
        if self.young_for_secs > 30 * 86_400 {
            return bad("young_for_secs", "must be at most 2592000 (30 days)");
        }
        if self.liquidity_drop_bps == 0 || self.liquidity_drop_bps > 10_000 {
            return bad("liquidity_drop_bps", "must be between 1 and 10000");
        }
        for (f, v) in
            [("sell_tax_jump_bps", self.sell_tax_jump_bps), ("concentration_jump_bps", self.concentration_jump_bps)]
        {
            if v == 0 || v > 10_000 {
                return bad(f, "must be between 1 and 10000");
            }
        }
        for (f, v) in [("liquidity_window", self.liquidity_window), ("volume_window", self.volume_window)] {
            if v == 0 || v > 1_000_000 {
                return bad(f, "must be between 1 and 1000000 blocks (slots)");
            }
        }
        if self.volume_spike_ratio < 2 || self.volume_spike_ratio > 1_000 {
            return bad("volume_spike_ratio", "must be between 2 and 1000");
        }
        if self.volume_min_windows == 0 || self.volume_min_windows > 1_000 {
            return bad("volume_min_windows", "must be between 1 and 1000");
        }
        None
    }
}
