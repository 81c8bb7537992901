//! The keeper, as a library: [`app::App`] wires it; [`pipeline`] names what flows through it.
//!
//! ```text
//! sources ──rows──▶ mirror writer ──NewPool──▶ risk worker ──RiskReport──▶ trader ──Decision
//!                        mirror (trades, health, tasks) ──▶ notifier ──▶ Telegram, webhooks, email
//!                        mirror (pool events, reports) ──▶ anomaly watch ──anomalies──▶ trader, notifier
//! ```
//!
//! - `sources/`: chain and service followers (Solana indexer, EVM discovery, DexScreener).
//! - `chains/`: per-chain access, decoding and the risk probes (measurement only).
//! - `assessment`: what a report says (findings, severity, score, verdict, tradeable).
//! - `risk/`: scoring rules (`rules`, pure), the engine trait, the worker.
//! - `trade/`: strategy and guards, the trader loop, the executors.
//! - `anomaly/`: anomaly detection on live data (`detect`, pure) and its stage (`watch`).
//! - `backtest/`: the history replayed through the strategy; `hyperopt` searches its parameters.
//! - `notify/`: alerts from what the mirror records, and the Telegram commands.
//! - `tasks`: supervision and ordered shutdown of all of it.

pub mod anomaly;
pub mod app;
pub mod assessment;
pub mod backtest;
pub mod bench;
pub mod chains;
pub mod config;
pub mod external;
pub mod notify;
pub mod pipeline;
pub mod risk;
pub mod sandbox;
pub mod sources;
pub mod tasks;
pub mod trade;

/// The AMM program id the keeper indexes and trades against by default.
pub fn amm_program_id() -> anchor_lang::prelude::Pubkey {
    amm::ID
}
