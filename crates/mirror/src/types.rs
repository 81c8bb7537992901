//! The enums the mirror stores as text, and the `keeper_controls` JSON type. Each enum's text
//! is the value its column's CHECK constraint allows; `sqlx::Type` maps it both ways.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Declares a text enum: serde and sqlx spell each variant as given, `as_str` returns it.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] #[sqlx(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue { what: stringify!($name), value: other.to_string() }),
                }
            }
        }
    };
}

/// A text column held a value its enum does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

text_enum!(
    /// What a pool event is (`pool_events.kind`).
    EventKind {
        ConfigCreated = "config_created",
        ConfigUpdated = "config_updated",
        PoolCreated = "pool_created",
        LiquidityAdded = "liquidity_added",
        LiquidityRemoved = "liquidity_removed",
        Swap = "swap",
        StatusChanged = "status_changed",
        FeesCollected = "fees_collected",
    }
);

text_enum!(
    /// A risk report's overall classification (`risk_reports.verdict`).
    Verdict {
        Low = "low",
        Medium = "medium",
        High = "high",
        /// Never tradeable.
        Critical = "critical",
    }
);

impl Verdict {
    /// The verdict of a 0-100 score.
    pub fn from_score(score: u8) -> Self {
        match score {
            0..=19 => Verdict::Low,
            20..=49 => Verdict::Medium,
            50..=79 => Verdict::High,
            _ => Verdict::Critical,
        }
    }
}

text_enum!(
    /// Paper fills only, or real transactions (`positions.mode`, `trades.mode`).
    Mode {
        DryRun = "dry_run",
        Live = "live",
    }
);

text_enum!(
    /// `trades.side`.
    Side {
        Buy = "buy",
        Sell = "sell",
    }
);

text_enum!(
    /// `trades.status`: intent (recorded, nothing signed) -> sent -> confirmed or failed.
    TradeStatus {
        Intent = "intent",
        Sent = "sent",
        Confirmed = "confirmed",
        Failed = "failed",
    }
);

text_enum!(
    /// `positions.status`.
    PositionStatus {
        Opening = "opening",
        Open = "open",
        /// Our simulated sale of it reverts, or its tax jumped past the limit: still watched,
        /// sold as soon as any size sells.
        Trapped = "trapped",
        Closing = "closing",
        Closed = "closed",
        Failed = "failed",
    }
);

text_enum!(
    /// Why a position was sold (`positions.exit_reason`, `trades.reason` of sells).
    ExitReason {
        TakeProfit = "take_profit",
        StopLoss = "stop_loss",
        TrailingStop = "trailing_stop",
        MaxHold = "max_hold",
        /// Sold because it was trapped (whatever size could still be sold).
        Trapped = "trapped",
        /// Sold because an operator asked (`exit_requests`: the API or the Telegram bot).
        Operator = "operator",
        /// Sold ahead of a pending transaction that would have trapped it (the anti-rug watch
        /// simulated the pending transaction, then our sale).
        FrontRanRug = "front_ran_rug",
        /// Sold because the anomaly watch flagged its pool with a kind in
        /// `trading.exit_on_anomaly` (off by default).
        Anomaly = "anomaly",
    }
);

text_enum!(
    /// What the trader did with a risk report (`decisions.action`).
    Action {
        /// A buy was recorded (and settled: paper, confirmed or failed).
        Buy = "buy",
        /// The strategy or a guard said no; `decisions.reason` says why.
        Skip = "skip",
    }
);

/// Operators' overrides of the keeper's trading limits: the JSON in `keeper_controls.limits`,
/// written by app-api and read by the keeper at every decision. Absent fields keep the
/// configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Never buy a token whose risk score is above this (0-100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub max_risk_score: Option<u8>,
    /// Open positions at most (1-1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max_open_positions: Option<u32>,
    /// Slippage tolerance in basis points (1-5000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5000))]
    pub max_slippage_bps: Option<u32>,
    /// Per chain, in base units of the chain's quote token (wei, lamports...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub budgets: BTreeMap<String, BudgetLimits>,
}

/// One chain's budget overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BudgetLimits {
    /// Largest single buy, decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(0|[1-9][0-9]{0,77})$"))]
    pub max_buy: Option<String>,
    /// Total spend per UTC day, decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(0|[1-9][0-9]{0,77})$"))]
    pub daily_budget: Option<String>,
}

/// The largest slippage an operator may set.
pub const MAX_SLIPPAGE_BPS: u32 = 5_000;

impl Limits {
    /// The first invalid field, named as the API reports it, and why.
    pub fn invalid_field(&self) -> Option<(String, &'static str)> {
        let bad = |f: String, why| Some((f, why));
        if self.max_risk_score.is_some_and(|s| s > 100) {
            return bad("max_risk_score".into(), "must be 0-100");
        }
        if self.max_open_positions.is_some_and(|n| !(1..=1_000).contains(&n)) {
            return bad("max_open_positions".into(), "must be 1-1000");
        }
        if self.max_slippage_bps.is_some_and(|s| !(1..=MAX_SLIPPAGE_BPS).contains(&s)) {
            return bad("max_slippage_bps".into(), "must be 1-5000");
        }
        for (chain, b) in &self.budgets {
            for (f, v) in [("max_buy", &b.max_buy), ("daily_budget", &b.daily_budget)] {
                if v.as_deref().is_some_and(|v| !is_base_units(v)) {
                    return bad(
                        format!("budgets.{chain}.{f}"),
                        "must be a whole number of base units as a decimal string, e.g. \"1000000000\"",
                    );
                }
            }
        }
        None
    }
}

/// A non-negative integer of at most 78 digits without leading zeros (fits a U256).
pub fn is_base_units(v: &str) -> bool {
    !v.is_empty() && v.len() <= 78 && v.bytes().all(|b| b.is_ascii_digit()) && (v == "0" || !v.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_round_trips_through_its_text() {
        for v in PositionStatus::ALL {
            assert_eq!(v.as_str().parse::<PositionStatus>().unwrap(), *v);
        }
        assert_eq!(serde_json::to_string(&Mode::DryRun).unwrap(), "\"dry_run\"");
        assert!("sideways".parse::<Side>().unwrap_err().to_string().contains("Side"));
    }

    #[test]
    fn limits_name_the_invalid_field() {
        let l: Limits = serde_json::from_str(r#"{"budgets":{"base":{"max_buy":"01"}}}"#).unwrap();
        assert_eq!(l.invalid_field().unwrap().0, "budgets.base.max_buy");
        let l = Limits { max_slippage_bps: Some(5_001), ..Default::default() };
        assert_eq!(l.invalid_field().unwrap().0, "max_slippage_bps");
        assert!(serde_json::from_str::<Limits>(r#"{"max_buys":1}"#).is_err(), "unknown fields are refused");
        assert_eq!(Limits::default().invalid_field(), None);
    }
}
