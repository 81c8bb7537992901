//! The guards: whether a buy may happen, as a pure function of a snapshot of the trading state
//! (read by `store::open_buy` inside the same transaction that records the buy), the limits in
//! force and the clock. No I/O, so every refusal is unit-tested here.

use alloy::primitives::U256;
use mirror::{trading::GuardState, PositionStatus};

use super::{amount, strategy::Limits};

/// Why the guards refused a buy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("buying is paused by an operator")]
    Paused,
    #[error("circuit breaker open after {failures} consecutive failures, until {until_ms}")]
    BreakerOpen { failures: i64, until_ms: i64 },
    #[error("{open} positions open, the maximum")]
    MaxOpenPositions { open: i64 },
    #[error("daily budget: {spent} spent today, {amount} more would exceed {budget}")]
    DailyBudget { spent: U256, amount: U256, budget: U256 },
    #[error("token bought less than the cooldown ago")]
    Cooldown,
    #[error("a position in this token is already open")]
    AlreadyHeld,
    #[error("this token was traded before; a later report of it never buys it again")]
    AlreadyTraded,
}

impl Refused {
    /// A stable label, for metrics and the recorded decision.
    pub fn label(&self) -> &'static str {
        match self {
            Refused::Paused => "paused",
            Refused::BreakerOpen { .. } => "breaker_open",
            Refused::MaxOpenPositions { .. } => "max_open_positions",
            Refused::DailyBudget { .. } => "daily_budget",
            Refused::Cooldown => "cooldown",
            Refused::AlreadyHeld => "already_held",
            Refused::AlreadyTraded => "already_traded",
        }
    }
}

/// What the guards see of the trading state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub paused: bool,
    /// (consecutive failures, open until, unix ms).
    pub breaker: Option<(i64, i64)>,
    pub open_positions: i64,
    /// The newest position in the token: its status and when it opened.
    pub last_in_token: Option<(PositionStatus, i64)>,
    /// Spent on buys of the chain today (UTC).
    pub spent_today: U256,
}

impl From<GuardState> for Snapshot {
    fn from(s: GuardState) -> Self {
        Self {
            paused: s.paused,
            breaker: s.breaker,
            open_positions: s.open_positions,
            last_in_token: s.last_in_token,
            spent_today: s.spent_today.iter().fold(U256::ZERO, |acc, a| acc.saturating_add(amount(a))),
        }
    }
}

/// Start of the UTC day of `now`, unix ms.
pub fn day_start_ms(now: i64) -> i64 {
    now - now.rem_euclid(86_400_000)
}

/// Checks every guard, in order: paused, breaker, open positions, already held / already traded
/// (for a `rescored` report) / cooldown, daily budget.
pub fn check(
    s: &Snapshot,
    amount_in: U256,
    limits: &Limits,
    cooldown_secs: u64,
    now: i64,
    rescored: bool,
) -> Result<(), Refused> {
    // An operator's pause read in the transaction wins over a decision made a moment earlier.
    if s.paused || limits.paused {
        return Err(Refused::Paused);
    }
    if let Some((failures, until_ms)) = s.breaker {
        if until_ms > now {
            return Err(Refused::BreakerOpen { failures, until_ms });
        }
    }
    if s.open_positions >= i64::from(limits.max_open_positions) {
        return Err(Refused::MaxOpenPositions { open: s.open_positions });
    }
    if let Some((status, opened)) = s.last_in_token {
        if status != PositionStatus::Closed {
            return Err(Refused::AlreadyHeld);
        }
        if rescored {
            return Err(Refused::AlreadyTraded);
        }
        if now - opened < i64::try_from(cooldown_secs.saturating_mul(1_000)).unwrap_or(i64::MAX) {
            return Err(Refused::Cooldown);
        }
    }
    if s.spent_today.saturating_add(amount_in) > limits.daily_budget {
        return Err(Refused::DailyBudget { spent: s.spent_today, amount: amount_in, budget: limits.daily_budget });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn limits() -> Limits {
        Limits {
            paused: false,
            max_risk_score: 30,
            max_open_positions: 2,
            slippage_bps: 500,
            buy_amount: U256::from(10u8),
            max_buy: U256::from(50u8),
            daily_budget: U256::from(100u8),
            min_liquidity: U256::ZERO,
            quote_tokens: vec![],
        }
    }

    fn ok(s: &Snapshot) -> Result<(), Refused> {
        check(s, U256::from(10u8), &limits(), 3_600, NOW, false)
    }

    #[test]
    fn a_quiet_state_lets_a_buy_through() {
        assert_eq!(ok(&Snapshot::default()), Ok(()));
    }

    #[test]
    fn each_guard_refuses_with_its_reason() {
        assert_eq!(ok(&Snapshot { paused: true, ..Default::default() }), Err(Refused::Paused));
        let paused_by_limits = Limits { paused: true, ..limits() };
        assert_eq!(
            check(&Snapshot::default(), U256::from(1u8), &paused_by_limits, 0, NOW, false),
            Err(Refused::Paused)
        );
        let breaker = Snapshot { breaker: Some((3, NOW + 1)), ..Default::default() };
        assert_eq!(ok(&breaker), Err(Refused::BreakerOpen { failures: 3, until_ms: NOW + 1 }));
        let cooled = Snapshot { breaker: Some((3, NOW)), ..Default::default() };
        assert_eq!(ok(&cooled), Ok(()), "the breaker closes when its time is up");
        let full = Snapshot { open_positions: 2, ..Default::default() };
        assert_eq!(ok(&full), Err(Refused::MaxOpenPositions { open: 2 }));
        for status in [PositionStatus::Opening, PositionStatus::Open, PositionStatus::Closing] {
            let held = Snapshot { last_in_token: Some((status, NOW - 10_000_000)), ..Default::default() };
            assert_eq!(ok(&held), Err(Refused::AlreadyHeld), "{status}");
        }
        let recent = Snapshot { last_in_token: Some((PositionStatus::Closed, NOW - 3_599_999)), ..Default::default() };
        assert_eq!(ok(&recent), Err(Refused::Cooldown));
        let old = Snapshot { last_in_token: Some((PositionStatus::Closed, NOW - 3_600_000)), ..Default::default() };
        assert_eq!(ok(&old), Ok(()), "the cooldown is over after exactly cooldown_secs");
        let again = check(&old, U256::from(10u8), &limits(), 3_600, NOW, true);
        assert_eq!(again, Err(Refused::AlreadyTraded), "a re-score never buys a token traded before");
        let never = check(&Snapshot::default(), U256::from(10u8), &limits(), 3_600, NOW, true);
        assert_eq!(never, Ok(()), "a re-score may buy a token never traded (it opened trading later)");
        let spent = Snapshot { spent_today: U256::from(91u8), ..Default::default() };
        assert_eq!(
            ok(&spent),
            Err(Refused::DailyBudget { spent: U256::from(91u8), amount: U256::from(10u8), budget: U256::from(100u8) })
        );
        let exactly = Snapshot { spent_today: U256::from(90u8), ..Default::default() };
        assert_eq!(ok(&exactly), Ok(()), "spending up to the budget is allowed");
    }

    #[test]
    fn the_snapshot_adds_up_what_was_spent_and_days_start_at_utc_midnight() {
        let state = GuardState { spent_today: vec!["7".into(), "35".into()], ..Default::default() };
        assert_eq!(Snapshot::from(state).spent_today, U256::from(42u8));
        assert_eq!(day_start_ms(86_400_000 * 3 + 5), 86_400_000 * 3);
    }
}
