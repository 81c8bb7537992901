//! `keeper hyperopt` on synthetic histories whose optimum is known: TPE finds it within a fixed
//! number of trials with a fixed seed; walk-forward reports the best parameters out of sample
//! next to in sample (and shows a window where they stop working); a study kept in a real
//! mirror (SQLite file) resumes to exactly the result of an uninterrupted run, and refuses to
//! resume with other settings.

use std::{collections::BTreeMap, time::Duration};

use alloy::primitives::U256;
use keeper::{
    backtest::{
        hyperopt::{optimize, store, HyperoptError, Loss, Space, Study},
        History, Settings,
    },
    trade::{ChainBudget, TradingConfig},
};
use mirror::history::{HistoryEvent, HistoryPool, HistoryReport};

const QUOTE: &str = "0x00000000000000000000000000000000000000fe";
const SECOND: i64 = 1_000;
/// Reserves this deep make our buy's own price impact negligible.
const DEPTH: u64 = 1_000_000_000_000;
const BUY: u64 = 1_000_000;

/// Pools launched one a second from `start_ms`: each is scored, trades flat for a block, then
/// its price goes to each multiple of `path` (in hundredths, at constant product), one a block.
fn history(start_ms: i64, pools: i64, path: &[u64], id0: i64) -> History {
    let mut h = History { from_ms: start_ms, to_ms: start_ms + pools * SECOND, ..History::default() };
    for i in 0..pools {
        let id = id0 + i;
        let (seen, slot) = (start_ms + i * SECOND, id * 100);
        let token = format!("0x{id:040x}");
        h.pools.push(HistoryPool {
            id,
            chain: "local".into(),
            venue: "uniswap_v2".into(),
            address: format!("0x{:040x}", 0x1_0000 + id),
            token_a: token.clone(),
            token_b: QUOTE.into(),
            base_token: Some(token.clone()),
            fee_bps: Some(0),
            created_slot: Some(slot),
            first_seen_at_ms: seen,
        });
        h.reports.push(HistoryReport {
            id,
            pool_id: id,
            token,
            score: 10,
            tradeable: true,
            findings: "[]".into(),
            measured_slot: Some(slot),
            created_at_ms: seen + 10,
        });
        // Price multiple m: quote * sqrt(m), token / sqrt(m) (sqrt in tenths: m = 144 -> 12).
        let mut reserves = vec![(DEPTH, DEPTH), (DEPTH, DEPTH)];
        for &m in path {
            let root = (1..=100u64).find(|r| r * r >= m).expect("a whole root");
            reserves.push((DEPTH * 10 / root, DEPTH * root / 10));
        }
        for (j, (t, q)) in (0i64..).zip(reserves) {
            h.events.push(HistoryEvent {
                id: id * 100 + j,
                pool_id: id,
                slot: slot + j,
                at_ms: seen + if j == 0 { 0 } else { 10 + 10 * j },
                reserve_a: t.to_string(),
                reserve_b: q.to_string(),
            });
        }
    }
    h
}

fn settings() -> Settings {
    let mut t = TradingConfig {
        enabled: true,
        cooldown_secs: 0,
        max_open_positions: 100,
        paper_slippage_bps: 0,
        ..Default::default()
    };
    t.chains.insert(
        "local".into(),
        ChainBudget {
            buy_amount: U256::from(BUY),
            max_buy: U256::from(BUY * 4),
            daily_budget: U256::from(BUY * 10_000),
            min_liquidity: U256::ZERO,
            quote_tokens: vec![],
        },
    );
    Settings {
        trading: t,
        default_quotes: BTreeMap::from([("local".to_string(), vec![QUOTE.to_string()])]),
        fill_delay_blocks: 1,
        fee_per_trade: BTreeMap::new(),
        capital: U256::from(BUY * 100),
    }
}

/// Only the take profit is searched; everything else is fixed.
fn space() -> Space {
    Space {
        take_profit_bps: (1_000, 30_000),
        stop_loss_bps: (3_000, 3_000),
        trailing_stop_bps: (0, 0),
        max_hold_secs: (0, 0),
        max_risk_score: (50, 50),
        buy_size_bps: (10_000, 10_000),
    }
}

fn study(name: &str, h: &History, folds: u32, trials: u32) -> Study {
    Study {
        name: name.into(),
        from_ms: h.from_ms,
        to_ms: h.to_ms,
        chain: None,
        loss: Loss::Profit,
        folds,
        trials,
        seed: 7,
        space: space(),
    }
}

/// Up 44%, up 125%, then down 91%: a take profit of 44.01% to 125% sells at the top (+125% a
/// trade); one at or under 44% sells at +44%; one above 125% never fires and the stop loss sells
/// after the crash (-91%).
const PEAKS_AT_225: [u64; 3] = [144, 225, 9];
/// The same launch that only reaches +44% before it crashes.
const PEAKS_AT_144: [u64; 2] = [144, 9];

#[tokio::test]
async fn tpe_finds_the_known_optimum_within_a_fixed_number_of_trials() {
    // Two windows of 10 launches each, alike: fold 0 searches the first, is tested on the second.
    let mut h = history(0, 10, &PEAKS_AT_225, 1);
    let second = history(10 * SECOND, 10, &PEAKS_AT_225, 11);
    h.pools.extend(second.pools);
    h.events.extend(second.events);
    h.reports.extend(second.reports);
    h.to_ms = 20 * SECOND;
    let s = settings();
    let o = optimize(None, &h, &s, &study("tp", &h, 1, 20)).await.unwrap();
    assert_eq!((o.ran, o.resumed, o.folds.len()), (20, 0, 1));
    let f = &o.folds[0];
    assert!((4_400..=12_500).contains(&f.best.take_profit_bps), "best take profit {:?}", f.best);
    // Every trade sells at 2.25x: 10 x (2,250,000 - 1,000,000), less the rounding of V2 math.
    let profit: i128 = f.in_sample.total_profit.parse().unwrap();
    assert_eq!(f.in_sample.trades, 10);
    assert!((12_499_000..=12_500_000).contains(&profit), "{profit}");
    // The second window is the same market: the parameters hold out of sample.
    assert_eq!(f.out_of_sample.total_profit, f.in_sample.total_profit);
    // Trials outside the optimum did worse, as the loss says.
    let worse = o.trials.iter().filter(|t| !(4_300..=12_600).contains(&t.params.take_profit_bps));
    assert!(worse.clone().count() > 0 && worse.clone().all(|t| t.loss > f.in_sample_loss));
    assert!(o.snippet.contains(&format!("take_profit_bps = {}", f.best.take_profit_bps)), "{}", o.snippet);
    assert!(o.snippet.contains("[trading.chains.local]\nbuy_amount = \"1000000\""), "{}", o.snippet);
    // The same study, the same trials.
    let again = optimize(None, &h, &s, &study("tp", &h, 1, 20)).await.unwrap();
    assert_eq!(again.trials, o.trials);
}

#[tokio::test]
async fn walk_forward_shows_parameters_that_fail_out_of_sample() {
    // The market changes between the windows: launches stop at +44% in the second.
    let mut h = history(0, 10, &PEAKS_AT_225, 1);
    let second = history(10 * SECOND, 10, &PEAKS_AT_144, 11);
    h.pools.extend(second.pools);
    h.events.extend(second.events);
    h.reports.extend(second.reports);
    h.to_ms = 20 * SECOND;
    let o = optimize(None, &h, &settings(), &study("wf", &h, 1, 20)).await.unwrap();
    let f = &o.folds[0];
    assert_eq!((f.train, f.test), ((0, 10 * SECOND), (10 * SECOND, 20 * SECOND)));
    let (inside, outside): (i128, i128) =
        (f.in_sample.total_profit.parse().unwrap(), f.out_of_sample.total_profit.parse().unwrap());
    assert!(inside > 0, "{inside}");
    // Out of sample the take profit never fires and the stop loss sells after the crash.
    assert!(outside < 0, "{outside}");
    assert_eq!(f.out_of_sample.trades, 10);
    assert!(f.out_of_sample_loss > f.in_sample_loss);
}

#[tokio::test]
async fn a_study_kept_in_the_mirror_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let db = mirror::open_writer(&dir.path().join("keeper.db"), Duration::from_secs(5)).await.unwrap();
    mirror::migrate(&db).await.unwrap();
    let h = history(0, 12, &PEAKS_AT_225, 1);
    let s = settings();
    // Interrupted after 8 trials of each fold, then run to 16.
    let first = optimize(Some(&db), &h, &s, &study("resumed", &h, 2, 8)).await.unwrap();
    assert_eq!((first.ran, first.resumed), (16, 0));
    let resumed = optimize(Some(&db), &h, &s, &study("resumed", &h, 2, 16)).await.unwrap();
    assert_eq!((resumed.ran, resumed.resumed), (16, 16));
    let straight = optimize(None, &h, &s, &study("straight", &h, 2, 16)).await.unwrap();
    assert_eq!(resumed.trials, straight.trials);
    assert_eq!(resumed.folds, straight.folds);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM hyperopt_trials").fetch_one(&db).await.unwrap();
    assert_eq!(stored, 32);
    // Run once more: everything replayed, nothing run.
    let replayed = optimize(Some(&db), &h, &s, &study("resumed", &h, 2, 16)).await.unwrap();
    assert_eq!((replayed.ran, replayed.resumed), (0, 32));

    // Other settings under the same name are refused, and nothing is added.
    let other = Study { seed: 8, ..study("resumed", &h, 2, 16) };
    let err = optimize(Some(&db), &h, &s, &other).await.unwrap_err();
    assert!(matches!(err, HyperoptError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("study `resumed` exists with other settings"), "{err}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM hyperopt_trials").fetch_one(&db).await.unwrap();
    assert_eq!(stored, 32);

    // The outcome is stored for the API, its out-of-sample figures summed over the folds.
    let id = store(&db, &s, &resumed).await.unwrap();
    let (summary, _, report) = mirror::backtests::get(&db, id).await.unwrap().unwrap();
    let oos: i128 = resumed.folds.iter().map(|f| f.out_of_sample.total_profit.parse::<i128>().unwrap()).sum();
    assert_eq!((summary.kind.as_str(), summary.study.as_deref()), ("hyperopt", Some("resumed")));
    assert_eq!(summary.total_profit, oos.to_string());
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["folds"].as_array().unwrap().len(), 2);
    assert_eq!(report["best"]["take_profit_bps"], resumed.best.take_profit_bps);
}

#[tokio::test]
async fn bad_search_settings_are_refused() {
    let h = history(0, 4, &PEAKS_AT_225, 1);
    let s = settings();
    let bad = Study { space: Space { stop_loss_bps: (5_000, 4_000), ..space() }, ..study("x", &h, 1, 4) };
    let err = optimize(None, &h, &s, &bad).await.unwrap_err();
    assert!(err.to_string().contains("--stop-loss-bps"), "{err}");
    let err = optimize(None, &h, &s, &study("x", &h, 0, 4)).await.unwrap_err();
    assert!(err.to_string().contains("--folds"), "{err}");
}
