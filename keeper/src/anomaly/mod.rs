//! Anomaly detection on live data: the pools under a day old and those we hold, watched for what
//! precedes a loss.
//!
//! - [`detect`]: the pure detector, a pool's recent events and reports in, flags out;
//! - [`watch`]: the stage that runs it on what the mirror gained since its last look and records
//!   each flag in `anomalies` (once: a flag has a natural key).
//!
//! What reads the anomalies: the API (a pool's history), the notifier (an alert on every channel
//! that takes `anomaly`), and the trader, which sells a held position on a kind listed in
//! `trading.exit_on_anomaly` (off by default).

pub mod detect;
pub mod watch;

pub use crate::config::anomaly::{AnomalyConfig, KINDS};
