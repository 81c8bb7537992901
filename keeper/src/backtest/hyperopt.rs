//! `keeper hyperopt`: a search of the exit and entry parameters (take profit, stop loss, trailing
//! stop, maximum hold, maximum risk score, buy size) over the mirror's history, honest by
//! construction:
//!
//! - **walk-forward**: the period is cut into `folds + 1` equal windows; fold `k` searches on
//!   window `k` (in sample) and its best parameters are then replayed, once, on window `k + 1`
//!   (out of sample), which the search never saw. Both are reported side by side;
//! - **TPE** (one Tree-structured Parzen Estimator per parameter, the `tpe` crate) after a few
//!   uniformly random trials, seeded: the same study gives the same trials;
//! - every trial is a [`super::run`] of the live strategy, with the same fill model;
//! - **studies are kept** in the mirror (`hyperopt_studies`, `hyperopt_trials`), each trial as it
//!   finishes: a study run again by name (after a crash, or with more trials) replays its stored
//!   trials instead of running them, and goes on from there to the same result an uninterrupted
//!   run would give.
//!
//! The recommended parameters are the last fold's (the most recent training window), written as
//! a config snippet.

// Losses are statistics used to rank trials, and TPE samples floats; every amount of money stays
// an integer (the parameters are whole basis points, seconds and scores).
#![allow(
    clippy::float_arithmetic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::fmt::Write as _;

use alloy::primitives::U256;
use rand_tpe::{rngs::StdRng, RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;

use super::{metrics::Metrics, run, History, LiveStrategy, Settings};
use crate::trade::TradingConfig;

/// What a trial minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// The total profit (negated).
    Profit,
    /// The per-trade Sharpe ratio (negated; no trade or no spread counts as 0).
    Sharpe,
    /// The total profit less the max drawdown (negated).
    Drawdown,
}

impl std::str::FromStr for Loss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "profit" => Ok(Self::Profit),
            "sharpe" => Ok(Self::Sharpe),
            "drawdown" => Ok(Self::Drawdown),
            other => Err(format!("unknown loss `{other}` (profit, sharpe or drawdown)")),
        }
    }
}

impl Loss {
    pub fn of(self, m: &Metrics) -> f64 {
        let int = |v: &str| v.parse::<i128>().unwrap_or(0) as f64;
        match self {
            Loss::Profit => -int(&m.total_profit),
            Loss::Sharpe => -m.sharpe.unwrap_or(0.0),
            Loss::Drawdown => -(int(&m.total_profit) - int(&m.max_drawdown)),
        }
    }
}

/// The ranges searched, both ends included; a range of one value fixes the parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space {
    pub take_profit_bps: (u32, u32),
    pub stop_loss_bps: (u32, u32),
    pub trailing_stop_bps: (u32, u32),
    pub max_hold_secs: (u64, u64),
    pub max_risk_score: (u8, u8),
    /// The buy, as a share of each chain's configured `buy_amount` (capped at its `max_buy`).
    pub buy_size_bps: (u32, u32),
}

impl Default for Space {
    fn default() -> Self {
        Self {
            take_profit_bps: (1_000, 50_000),
            stop_loss_bps: (500, 9_000),
            trailing_stop_bps: (0, 5_000),
            max_hold_secs: (60, 86_400),
            max_risk_score: (0, 60),
            buy_size_bps: (2_500, 20_000),
        }
    }
}

impl Space {
    /// The first range that is empty or outside what the config accepts.
    pub fn invalid(&self) -> Option<String> {
        let checks: [(&str, u64, u64, u64); 6] = [
            ("take_profit_bps", self.take_profit_bps.0.into(), self.take_profit_bps.1.into(), 1_000_000),
            ("stop_loss_bps", self.stop_loss_bps.0.into(), self.stop_loss_bps.1.into(), 9_999),
            ("trailing_stop_bps", self.trailing_stop_bps.0.into(), self.trailing_stop_bps.1.into(), 9_999),
            ("max_hold_secs", self.max_hold_secs.0, self.max_hold_secs.1, 365 * 86_400),
            ("max_risk_score", self.max_risk_score.0.into(), self.max_risk_score.1.into(), 100),
            ("buy_size_bps", self.buy_size_bps.0.into(), self.buy_size_bps.1.into(), 100_000),
        ];
        checks.iter().find(|(_, lo, hi, max)| lo > hi || hi > max).map(|(f, _, _, max)| {
            format!("--{}: the range must be low..high with high at most {max}", f.replace('_', "-"))
        })
    }
}

/// One point of the space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    pub take_profit_bps: u32,
    pub stop_loss_bps: u32,
    pub trailing_stop_bps: u32,
    pub max_hold_secs: u64,
    pub max_risk_score: u8,
    pub buy_size_bps: u32,
}

impl Params {
    fn from_array(v: [u64; 6]) -> Self {
        Self {
            take_profit_bps: u32::try_from(v[0]).unwrap_or(u32::MAX),
            stop_loss_bps: u32::try_from(v[1]).unwrap_or(u32::MAX),
            trailing_stop_bps: u32::try_from(v[2]).unwrap_or(u32::MAX),
            max_hold_secs: v[3],
            max_risk_score: u8::try_from(v[4]).unwrap_or(u8::MAX),
            buy_size_bps: u32::try_from(v[5]).unwrap_or(u32::MAX),
        }
    }

    /// `t` with these parameters.
    pub fn apply(&self, t: &TradingConfig) -> TradingConfig {
        let mut t = t.clone();
        t.take_profit_bps = self.take_profit_bps;
        t.stop_loss_bps = self.stop_loss_bps;
        t.trailing_stop_bps = self.trailing_stop_bps;
        t.max_hold_secs = self.max_hold_secs;
        t.max_risk_score = self.max_risk_score;
        for b in t.chains.values_mut() {
            let scaled = b.buy_amount.saturating_mul(U256::from(self.buy_size_bps)) / U256::from(10_000u32);
            b.buy_amount = scaled.min(b.max_buy).max(U256::from(1u8));
        }
        t
    }

    /// The `[trading]` settings of these parameters over `t`, as a config snippet.
    pub fn snippet(&self, t: &TradingConfig) -> String {
        let t = self.apply(t);
        let mut out = String::from("[trading]\n");
        let _ = writeln!(out, "take_profit_bps = {}", t.take_profit_bps);
        let _ = writeln!(out, "stop_loss_bps = {}", t.stop_loss_bps);
        let _ = writeln!(out, "trailing_stop_bps = {}", t.trailing_stop_bps);
        let _ = writeln!(out, "max_hold_secs = {}", t.max_hold_secs);
        let _ = writeln!(out, "max_risk_score = {}", t.max_risk_score);
        for (chain, b) in &t.chains {
            let _ = writeln!(out, "\n[trading.chains.{chain}]\nbuy_amount = \"{}\"", b.buy_amount);
        }
        out
    }
}

/// A study: what is searched, on what, how. Stored by name; a study run again must have the
/// same settings (more trials excepted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Study {
    pub name: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub chain: Option<String>,
    pub loss: Loss,
    pub folds: u32,
    /// Per fold.
    pub trials: u32,
    pub seed: u64,
    pub space: Space,
}

impl Study {
    /// The settings a resumed study must match (the trial count may grow).
    fn identity(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("trials");
        }
        v
    }

    /// The (train, test) windows of each fold.
    pub fn windows(&self) -> Vec<((i64, i64), (i64, i64))> {
        let n = i64::from(self.folds) + 1;
        let len = (self.to_ms - self.from_ms) / n;
        (0..i64::from(self.folds))
            .map(|k| {
                let at = |i: i64| if i == n { self.to_ms } else { self.from_ms + i * len };
                ((at(k), at(k + 1)), (at(k + 1), at(k + 2)))
            })
            .collect()
    }
}

/// One trial of a fold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    pub fold: u32,
    pub number: u32,
    pub params: Params,
    pub loss: f64,
    /// In sample.
    pub metrics: Metrics,
}

/// One fold's best trial, in sample and out of sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldResult {
    pub fold: u32,
    pub train: (i64, i64),
    pub test: (i64, i64),
    pub best_trial: u32,
    pub best: Params,
    pub in_sample_loss: f64,
    pub out_of_sample_loss: f64,
    pub in_sample: Metrics,
    pub out_of_sample: Metrics,
}

/// A study's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub study: Study,
    pub folds: Vec<FoldResult>,
    /// The last fold's best parameters, and their config snippet.
    pub best: Params,
    pub snippet: String,
    /// Trials run now, and replayed from the mirror.
    pub ran: u32,
    pub resumed: u32,
    #[serde(skip)]
    pub trials: Vec<Trial>,
}

#[derive(Debug, thiserror::Error)]
pub enum HyperoptError {
    #[error("{0}")]
    Invalid(String),
    #[error("study `{name}` exists with other settings (stored: {stored}); use another --study name")]
    Mismatch { name: String, stored: String },
    #[error(transparent)]
    Lookahead(#[from] super::clock::Lookahead),
    #[error(transparent)]
    Mirror(#[from] mirror::MirrorError),
}

/// The first trials of a fold sample the space uniformly; TPE proposes the rest.
fn startup_trials(trials: u32) -> u32 {
    (trials / 5).clamp(5, 20)
}

/// One sampler per parameter.
struct Sampler {
    rng: StdRng,
    ranges: [(u64, u64); 6],
    tpe: Vec<Option<tpe::TpeOptimizer>>,
    told: u32,
    startup: u32,
}

impl Sampler {
    fn new(space: &Space, seed: u64, fold: u32, trials: u32) -> Self {
        let ranges = [
            (space.take_profit_bps.0.into(), space.take_profit_bps.1.into()),
            (space.stop_loss_bps.0.into(), space.stop_loss_bps.1.into()),
            (space.trailing_stop_bps.0.into(), space.trailing_stop_bps.1.into()),
            space.max_hold_secs,
            (space.max_risk_score.0.into(), space.max_risk_score.1.into()),
            (space.buy_size_bps.0.into(), space.buy_size_bps.1.into()),
        ];
        // Each value v stands for [v, v + 1): a fixed parameter has no optimizer.
        let tpe = ranges
            .iter()
            .map(|&(lo, hi)| {
                (lo < hi).then(|| {
                    let range = tpe::range(lo as f64, hi as f64 + 1.0).expect("lo < hi + 1");
                    tpe::TpeOptimizer::new(tpe::parzen_estimator(), range)
                })
            })
            .collect();
        let rng = StdRng::seed_from_u64(seed ^ (u64::from(fold) << 32));
        Self { rng, ranges, tpe, told: 0, startup: startup_trials(trials) }
    }

    /// The next parameters (as drawn, for `tell`).
    fn ask(&mut self) -> ([f64; 6], Params) {
        let mut raw = [0f64; 6];
        let mut v = [0u64; 6];
        for i in 0..6 {
            let (lo, hi) = self.ranges[i];
            let x = match (&mut self.tpe[i], self.told < self.startup) {
                (None, _) => lo as f64,
                (Some(_), true) => self.rng.random_range(lo as f64..hi as f64 + 1.0),
                (Some(t), false) => t.ask(&mut self.rng).unwrap_or(lo as f64),
            };
            raw[i] = x;
            v[i] = (x.floor() as u64).clamp(lo, hi);
        }
        (raw, Params::from_array(v))
    }

    fn tell(&mut self, raw: &[f64; 6], loss: f64) {
        for (t, x) in self.tpe.iter_mut().zip(raw) {
            if let Some(t) = t {
                let _ = t.tell(*x, loss);
            }
        }
        self.told += 1;
    }
}

/// The trials a stored study has, by (fold, number).
type Stored = std::collections::BTreeMap<(u32, u32), (Params, f64, Metrics)>;

/// Opens (or creates) the study in the mirror: its id and stored trials.
async fn open_study(db: &SqlitePool, study: &Study) -> Result<(i64, Stored), HyperoptError> {
    let identity = study.identity();
    let id = match mirror::backtests::study(db, &study.name).await? {
        Some((id, stored)) => {
            let stored_v: serde_json::Value = serde_json::from_str(&stored).unwrap_or_default();
            let mut stored_identity = stored_v.clone();
            if let Some(o) = stored_identity.as_object_mut() {
                o.remove("trials");
            }
            if stored_identity != identity {
                return Err(HyperoptError::Mismatch { name: study.name.clone(), stored });
            }
            id
        }
        None => {
            let settings = serde_json::to_string(study).unwrap_or_else(|_| "{}".into());
            mirror::backtests::create_study(db, &study.name, &settings).await?
        }
    };
    let mut stored = Stored::new();
    for t in mirror::backtests::trials(db, id).await? {
        let (Ok(fold), Ok(number)) = (u32::try_from(t.fold), u32::try_from(t.number)) else { continue };
        let Ok(params) = serde_json::from_str::<Params>(&t.params) else { continue };
        let Ok(m) = serde_json::from_str::<Metrics>(&t.metrics) else { continue };
        stored.insert((fold, number), (params, t.loss, m));
    }
    Ok((id, stored))
}

/// Runs `study` on `history` (the whole period) with `base`'s fill model and trading settings
/// (the parameters searched replace theirs). With `db`, the study is kept there and resumed.
pub async fn optimize(
    db: Option<&SqlitePool>,
    history: &History,
    base: &Settings,
    study: &Study,
) -> Result<Outcome, HyperoptError> {
    if let Some(why) = study.space.invalid() {
        return Err(HyperoptError::Invalid(why));
    }
    if study.folds == 0 || study.trials == 0 {
        return Err(HyperoptError::Invalid("--folds and --trials must be at least 1".into()));
    }
    if study.to_ms - study.from_ms < i64::from(study.folds) + 1 {
        return Err(HyperoptError::Invalid("the period is too short for that many folds".into()));
    }
    let (study_id, stored) = match db {
        Some(db) => {
            let (id, s) = open_study(db, study).await?;
            (Some(id), s)
        }
        None => (None, Stored::new()),
    };
    let evaluate = |h: &History, p: &Params| -> Result<Metrics, HyperoptError> {
        let trading = p.apply(&base.trading);
        let s = Settings { trading: trading.clone(), ..base.clone() };
        Ok(run(h, &s, &LiveStrategy(&trading))?.metrics)
    };
    let (mut ran, mut resumed) = (0, 0);
    let mut folds = Vec::new();
    let mut all = Vec::new();
    for (fold, (train, test)) in (0u32..).zip(study.windows()) {
        let train_h = history.slice(train.0, train.1);
        let mut sampler = Sampler::new(&study.space, study.seed, fold, study.trials);
        let mut best: Option<Trial> = None;
        for number in 0..study.trials {
            let (raw, params) = sampler.ask();
            let trial = match stored.get(&(fold, number)) {
                Some((p, loss, m)) if *p == params => {
                    resumed += 1;
                    Trial { fold, number, params, loss: *loss, metrics: m.clone() }
                }
                Some(_) => {
                    return Err(HyperoptError::Mismatch {
                        name: study.name.clone(),
                        stored: format!("trial {number} of fold {fold} was drawn differently"),
                    })
                }
                None => {
                    let metrics = evaluate(&train_h, &params)?;
                    let loss = study.loss.of(&metrics);
                    ran += 1;
                    if let (Some(db), Some(id)) = (db, study_id) {
                        let row = mirror::backtests::TrialRow {
                            fold: fold.into(),
                            number: number.into(),
                            params: serde_json::to_string(&params).unwrap_or_default(),
                            loss,
                            metrics: serde_json::to_string(&metrics).unwrap_or_default(),
                        };
                        mirror::backtests::insert_trial(db, id, &row).await?;
                    }
                    Trial { fold, number, params, loss, metrics }
                }
            };
            sampler.tell(&raw, trial.loss);
            if best.as_ref().is_none_or(|b| trial.loss < b.loss) {
                best = Some(trial.clone());
            }
            all.push(trial);
        }
        let best = best.expect("at least one trial");
        let out_of_sample = evaluate(&history.slice(test.0, test.1), &best.params)?;
        folds.push(FoldResult {
            fold,
            train,
            test,
            best_trial: best.number,
            best: best.params,
            in_sample_loss: best.loss,
            out_of_sample_loss: study.loss.of(&out_of_sample),
            in_sample: best.metrics,
            out_of_sample,
        });
    }
    let best = folds.last().map(|f| f.best).expect("at least one fold");
    Ok(Outcome { study: study.clone(), snippet: best.snippet(&base.trading), best, folds, ran, resumed, trials: all })
}

/// Stores the outcome in `backtests` (kind `hyperopt`), its out-of-sample figures summed over
/// the folds; returns its id.
pub async fn store(db: &SqlitePool, base: &Settings, o: &Outcome) -> mirror::Result<i64> {
    let trades: u64 = o.folds.iter().map(|f| f.out_of_sample.trades).sum();
    let profit: i128 = o.folds.iter().map(|f| f.out_of_sample.total_profit.parse::<i128>().unwrap_or(0)).sum();
    let row = mirror::backtests::NewBacktest {
        kind: "hyperopt".into(),
        study: Some(o.study.name.clone()),
        chain: o.study.chain.clone(),
        from_ms: o.study.from_ms,
        to_ms: o.study.to_ms,
        trades: i64::try_from(trades).unwrap_or(i64::MAX),
        total_profit: profit.to_string(),
        settings: base.describe().to_string(),
        report: serde_json::to_string(o).unwrap_or_else(|_| "{}".into()),
    };
    mirror::backtests::insert(db, &row).await
}

/// The outcome as a text table: each fold in and out of sample, then the snippet.
pub fn table(o: &Outcome) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "study {} ({} loss, {} folds x {} trials, seed {}): {} trials run, {} replayed from the mirror",
        o.study.name,
        serde_json::to_value(o.study.loss).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        o.study.folds,
        o.study.trials,
        o.study.seed,
        o.ran,
        o.resumed
    );
    let _ = writeln!(
        out,
        "{:<5} {:>6} {:>24} {:>24} {:>8} {:>8} {:>10} {:>10}  best parameters",
        "fold", "trial", "in-sample profit", "out-of-sample profit", "in tr.", "out tr.", "in loss", "out loss"
    );
    for f in &o.folds {
        let p = &f.best;
        let _ = writeln!(
            out,
            "{:<5} {:>6} {:>24} {:>24} {:>8} {:>8} {:>10.3} {:>10.3}  tp {} sl {} trail {} hold {}s risk<={} size {}bps",
            f.fold,
            f.best_trial,
            f.in_sample.total_profit,
            f.out_of_sample.total_profit,
            f.in_sample.trades,
            f.out_of_sample.trades,
            f.in_sample_loss,
            f.out_of_sample_loss,
            p.take_profit_bps,
            p.stop_loss_bps,
            p.trailing_stop_bps,
            p.max_hold_secs,
            p.max_risk_score,
            p.buy_size_bps
        );
    }
    let _ = writeln!(out, "\nrecommended (the last fold's best), as a config snippet:\n\n{}", o.snippet);
    out
}
