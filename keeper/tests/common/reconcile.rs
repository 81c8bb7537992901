//! The backtest's honesty check, shared by the Solana and EVM dry-run tests: a replay of a
//! recorded dry-run buys the same tokens in the same order as the paper trades did, sells them
//! for the same reasons, and each fill is the paper fill to within the fill model's tolerance
//! (one base unit per swap: a buy within 1, a sale, after the buy's own unit, within 2).
#![allow(dead_code)]

use alloy::primitives::U256;
use keeper::backtest::Report;
use sqlx::SqlitePool;

fn units(v: &str) -> U256 {
    v.parse().expect("an amount")
}

/// Fails unless `report` reproduces the dry-run positions recorded in `db`.
pub async fn assert_reproduces_paper(db: &SqlitePool, report: &Report) {
    let paper: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT token, status, size, cost, proceeds, exit_reason FROM positions WHERE mode = 'dry_run' ORDER BY id",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let tokens: Vec<&str> = report.trades.iter().map(|t| t.token.as_str()).collect();
    assert_eq!(tokens, paper.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), "the same tokens, in the same order");
    let within = |what: &str, got: &str, want: &str, tolerance: u8| {
        assert!(units(got).abs_diff(units(want)) <= U256::from(tolerance), "{what}: backtest {got}, paper {want}");
    };
    for (bt, (token, status, size, cost, proceeds, reason)) in report.trades.iter().zip(&paper) {
        assert_eq!(&bt.cost, cost, "{token}: the same buy");
        within(&format!("{token} bought"), &bt.size, size, 1);
        match status.as_str() {
            "closed" => {
                assert_eq!(Some(bt.exit_reason.as_str()), reason.as_deref(), "{token}");
                within(&format!("{token} sold"), &bt.proceeds, proceeds, 2);
            }
            _ => assert_eq!((status.as_str(), bt.exit_reason.as_str()), ("open", "open"), "{token}"),
        }
    }
}
