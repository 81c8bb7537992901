//! The figures of a set of closed trades, in closing order. Sums of money are exact integers
//! (i128 of base units, served as decimal strings); the ratios are statistics of them:
//!
//! - win rate: winning trades over trades (basis points);
//! - profit factor: gross profit over gross loss;
//! - expectancy: the mean PnL per trade;
//! - max drawdown: the largest fall of the cumulative PnL from a previous peak, absolute and
//!   as a share of the capital plus that peak;
//! - Sharpe and Sortino: the mean per-trade return (PnL over cost) over its standard deviation,
//!   and over its downside deviation (the root mean square of the negative returns);
//! - Calmar: the total return on the capital over the max drawdown's share;
//! - SQN: the square root of the number of trades times the mean PnL over its standard deviation.
//!
//! A ratio without a defined value (no loss, no spread, fewer than two trades) is `null`.

// The ratios are statistics of integer amounts, never an amount: every sum of money above is
// exact, and only the ratios go through floats.
#![allow(clippy::float_arithmetic, clippy::cast_precision_loss)]

use alloy::primitives::U256;
use serde::{Deserialize, Serialize};

use super::Trade;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    pub win_rate_bps: u64,
    pub total_profit: String,
    pub average_profit: String,
    pub gross_profit: String,
    pub gross_loss: String,
    pub profit_factor: Option<f64>,
    pub expectancy: String,
    pub max_drawdown: String,
    pub max_drawdown_bps: u64,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub calmar: Option<f64>,
    pub sqn: Option<f64>,
}

fn int(v: &str) -> i128 {
    v.parse().unwrap_or(0)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The sample standard deviation (n - 1); `None` under two values or with no spread.
fn stdev(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let m = mean(v);
    let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
    (s > 0.0).then_some(s)
}

/// Rounded to six decimals, so that the JSON is the same on every machine.
fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

impl Metrics {
    pub fn of(trades: &[&Trade], capital: U256) -> Self {
        let n = trades.len();
        let pnls: Vec<i128> = trades.iter().map(|t| int(&t.pnl)).collect();
        let (mut profit, mut loss, mut wins, mut losses) = (0i128, 0i128, 0u64, 0u64);
        let (mut equity, mut peak, mut drawdown, mut drawdown_bps) = (0i128, 0i128, 0i128, 0u64);
        let capital_i = i128::try_from(capital).unwrap_or(i128::MAX);
        for &p in &pnls {
            if p > 0 {
                profit = profit.saturating_add(p);
                wins += 1;
            } else if p < 0 {
                loss = loss.saturating_add(-p);
                losses += 1;
            }
            equity = equity.saturating_add(p);
            peak = peak.max(equity);
            let fall = peak - equity;
            if fall > drawdown {
                drawdown = fall;
                let base = capital_i.saturating_add(peak);
                drawdown_bps =
                    if base > 0 { u64::try_from(fall.saturating_mul(10_000) / base).unwrap_or(0) } else { 0 };
            }
        }
        let returns: Vec<f64> =
            trades.iter().zip(&pnls).map(|(t, p)| *p as f64 / (int(&t.cost).max(1)) as f64).collect();
        let pnl_f: Vec<f64> = pnls.iter().map(|p| *p as f64).collect();
        let (sharpe, sortino, sqn) = if n == 0 {
            (None, None, None)
        } else {
            let m = mean(&returns);
            let downside = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n as f64).sqrt();
            (
                stdev(&returns).map(|s| round(m / s)),
                (downside > 0.0).then(|| round(m / downside)),
                stdev(&pnl_f).map(|s| round((n as f64).sqrt() * mean(&pnl_f) / s)),
            )
        };
        let calmar = (drawdown_bps > 0 && capital_i > 0)
            .then(|| round((equity as f64 / capital_i as f64) / (drawdown_bps as f64 / 10_000.0)));
        let n_i = i128::try_from(n).unwrap_or(i128::MAX).max(1);
        Self {
            trades: u64::try_from(n).unwrap_or(u64::MAX),
            wins,
            losses,
            win_rate_bps: if n == 0 { 0 } else { wins * 10_000 / u64::try_from(n).unwrap_or(1) },
            total_profit: equity.to_string(),
            average_profit: (equity / n_i).to_string(),
            gross_profit: profit.to_string(),
            gross_loss: loss.to_string(),
            profit_factor: (loss > 0).then(|| round(profit as f64 / loss as f64)),
            expectancy: (equity / n_i).to_string(),
            max_drawdown: drawdown.to_string(),
            max_drawdown_bps: drawdown_bps,
            sharpe,
            sortino,
            calmar,
            sqn,
        }
    }
}
