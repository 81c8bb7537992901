//! The pure part of trading: which launches to buy, how much, the least output to accept, and
//! when to sell. No I/O; every number is an integer.

use alloy::primitives::U256;

use super::{
    executor::{SellCheck, Simulated},
    ExitReason, TradingConfig,
};

const BPS: u64 = 10_000;

/// What the strategy knows about a freshly scored launch.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub chain: String,
    pub token: String,
    pub quote_token: String,
    pub score: u8,
    pub tradeable: bool,
    pub buy_tax_bps: u32,
    pub sell_tax_bps: u32,
    /// The risk checks that found something (above info).
    pub tripped: Vec<String>,
    /// When the pool was created (block time) or, failing that, first seen; unix ms.
    pub created_at_ms: i64,
}

/// The limits in force: the config, overridden by what operators set in `keeper_controls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub paused: bool,
    pub max_risk_score: u8,
    pub max_open_positions: u32,
    pub slippage_bps: u32,
    pub buy_amount: U256,
    pub max_buy: U256,
    pub daily_budget: U256,
    pub min_liquidity: U256,
    pub quote_tokens: Vec<String>,
}

/// Why a launch is not bought.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("risk report says do not trade")]
    NotTradeable,
    #[error("risk score {score} above the maximum {max}")]
    RiskScore { score: u8, max: u8 },
    #[error("buy tax {bps} bps above the maximum {max}")]
    BuyTax { bps: u32, max: u32 },
    #[error("sell tax {bps} bps above the maximum {max}")]
    SellTax { bps: u32, max: u32 },
    #[error("quote token {0} not allowed")]
    QuoteToken(String),
    #[error("token is {age_secs} s old, above the maximum {max}")]
    TooOld { age_secs: u64, max: u64 },
    #[error("risk check {0} rules the token out")]
    Finding(String),
    #[error("token is on the deny list")]
    Denied,
    #[error("token is not on the allow list")]
    NotAllowed,
    #[error("pool holds {have} of the quote token, below the minimum {min}")]
    Liquidity { have: U256, min: U256 },
    #[error("the buy size is zero")]
    ZeroSize,
}

impl Skip {
    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Skip::NotTradeable => "not_tradeable",
            Skip::RiskScore { .. } => "risk_score",
            Skip::BuyTax { .. } => "buy_tax",
            Skip::SellTax { .. } => "sell_tax",
            Skip::QuoteToken(_) => "quote_token",
            Skip::TooOld { .. } => "too_old",
            Skip::Finding(_) => "finding",
            Skip::Denied => "denied",
            Skip::NotAllowed => "not_allowed",
            Skip::Liquidity { .. } => "liquidity",
            Skip::ZeroSize => "zero_size",
        }
    }
}

/// A tax a finding measured (`measured.bps`), if it did.
fn bps_of(a: &crate::assessment::Assessment, check: &str) -> Option<u32> {
    a.findings
        .iter()
        .find(|f| f.check == check)
        .and_then(|f| f.measured.get("bps"))
        .and_then(|v| v.as_u64())
        .and_then(|v| u32::try_from(v).ok())
}

impl Candidate {
    /// The candidate a risk assessment of `token` (traded against `quote_token`) makes: the
    /// measured buy and sell taxes (a Token-2022 transfer fee counts for both), the checks it
    /// tripped. The live trader and the backtest build it the same way.
    pub fn of(
        chain: &str,
        token: &str,
        quote_token: &str,
        a: &crate::assessment::Assessment,
        created_at_ms: i64,
    ) -> Self {
        let fee_bps = bps_of(a, "transfer_fee");
        Self {
            chain: chain.to_string(),
            token: token.to_string(),
            quote_token: quote_token.to_string(),
            score: a.score,
            tradeable: a.tradeable,
            buy_tax_bps: bps_of(a, "buy_tax").or(fee_bps).unwrap_or(0),
            sell_tax_bps: bps_of(a, "sell_tax").or(fee_bps).unwrap_or(0),
            tripped: a.tripped().into_iter().map(String::from).collect(),
            created_at_ms,
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The filters that need no chain access. Taxes are those the risk simulation measured.
pub fn screen(c: &Candidate, cfg: &TradingConfig, limits: &Limits, now_ms: i64) -> Result<(), Skip> {
    if cfg.deny.iter().any(|t| same(t, &c.token)) {
        return Err(Skip::Denied);
    }
    if !cfg.allow.is_empty() && !cfg.allow.iter().any(|t| same(t, &c.token)) {
        return Err(Skip::NotAllowed);
    }
    if !c.tradeable {
        return Err(Skip::NotTradeable);
    }
    if let Some(check) = c.tripped.iter().find(|t| cfg.never_buy.contains(t)) {
        return Err(Skip::Finding(check.clone()));
    }
    if c.score > limits.max_risk_score {
        return Err(Skip::RiskScore { score: c.score, max: limits.max_risk_score });
    }
    if c.buy_tax_bps > cfg.max_buy_tax_bps {
        return Err(Skip::BuyTax { bps: c.buy_tax_bps, max: cfg.max_buy_tax_bps });
    }
    if c.sell_tax_bps > cfg.max_sell_tax_bps {
        return Err(Skip::SellTax { bps: c.sell_tax_bps, max: cfg.max_sell_tax_bps });
    }
    if !limits.quote_tokens.iter().any(|q| same(q, &c.quote_token)) {
        return Err(Skip::QuoteToken(c.quote_token.clone()));
    }
    let age_secs = u64::try_from(now_ms.saturating_sub(c.created_at_ms).max(0) / 1_000).unwrap_or(0);
    if cfg.max_token_age_secs > 0 && age_secs > cfg.max_token_age_secs {
        return Err(Skip::TooOld { age_secs, max: cfg.max_token_age_secs });
    }
    Ok(())
}

/// The size of one buy: the configured amount, never above the per-trade maximum.
pub fn size(limits: &Limits) -> Result<U256, Skip> {
    let s = limits.buy_amount.min(limits.max_buy);
    if s.is_zero() {
        Err(Skip::ZeroSize)
    } else {
        Ok(s)
    }
}

/// `amount * (10000 - bps) / 10000`, rounded down.
pub fn less_bps(amount: U256, bps: u32) -> U256 {
    let keep = BPS.saturating_sub(u64::from(bps));
    amount.saturating_mul(U256::from(keep)) / U256::from(BPS)
}

/// The least output to accept: the exact quote, less the token's measured tax, less the
/// slippage tolerance.
pub fn min_out(quoted: U256, tax_bps: u32, slippage_bps: u32) -> U256 {
    less_bps(less_bps(quoted, tax_bps), slippage_bps)
}

/// What a paper trade fills at: the quote, less the measured tax, less the assumed slippage.
pub fn paper_fill(quoted: U256, tax_bps: u32, paper_slippage_bps: u32) -> U256 {
    less_bps(less_bps(quoted, tax_bps), paper_slippage_bps)
}

/// What a position returns in all, in the quote token: what its sales have returned so far
/// (`proceeds`: a trapped position can be sold in parts) plus what the rest sells for now. The
/// exit rules, the peak and the recorded value all use it, so that the rest of a partly sold
/// position is not judged against the cost of all of it.
pub fn worth(rest_value: U256, proceeds: U256) -> U256 {
    rest_value.saturating_add(proceeds)
}

/// The exit rule that fires for a position worth `value` in all ([`worth`]: quote token, after
/// sell tax), bought for `cost`, whose highest worth since entry is `peak`. Stop-loss first (protect
/// capital), then take-profit, the trailing stop (armed once the position has been in profit)
/// and the holding time.
pub fn exit_reason(cfg: &TradingConfig, cost: U256, value: U256, peak: U256, held_ms: i64) -> Option<ExitReason> {
    if cfg.stop_loss_bps > 0 && value <= less_bps(cost, cfg.stop_loss_bps) {
        return Some(ExitReason::StopLoss);
    }
    if cfg.take_profit_bps > 0 {
        let target = cost.saturating_mul(U256::from(BPS + u64::from(cfg.take_profit_bps))) / U256::from(BPS);
        if value >= target {
            return Some(ExitReason::TakeProfit);
        }
    }
    if cfg.trailing_stop_bps > 0 && peak > cost && value <= less_bps(peak, cfg.trailing_stop_bps) {
        return Some(ExitReason::TrailingStop);
    }
    if cfg.max_hold_secs > 0 && held_ms >= i64::try_from(cfg.max_hold_secs.saturating_mul(1_000)).unwrap_or(i64::MAX) {
        return Some(ExitReason::MaxHold);
    }
    None
}

/// What a sale check says about a held position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// What selling all of it returns now, after the token's taxes and the transaction's fee: the
    /// simulated proceeds (0 while the sale reverts), or the quote less the tax measured at entry
    /// where no simulation runs.
    pub value: U256,
    /// The sell tax the simulation measured (the entry's where none ran).
    pub sell_tax_bps: u32,
    /// Why the position is trapped, in plain words; `None` when it sells normally.
    pub trapped: Option<String>,
}

/// Judges a position of `size` tokens from a sale check: trapped when the sale reverts, when the
/// wallet holds less than the position, or when the measured sell tax is above `max_tax_bps`.
pub fn health(check: &SellCheck, size: U256, entry_tax_bps: u32, max_tax_bps: u32) -> Health {
    match &check.simulated {
        None => Health { value: less_bps(check.quoted, entry_tax_bps), sell_tax_bps: entry_tax_bps, trapped: None },
        Some(Simulated::Sold { received, fee }) => {
            let tax = crate::risk::shortfall_bps(check.quoted, *received);
            let trapped = (tax > max_tax_bps).then(|| {
                format!("selling it now loses {tax} bps to the token's sell tax, above the {max_tax_bps} bps limit")
            });
            Health { value: received.saturating_sub(*fee), sell_tax_bps: tax, trapped }
        }
        Some(Simulated::Reverts { reason }) => Health {
            value: U256::ZERO,
            sell_tax_bps: entry_tax_bps,
            trapped: Some(format!("selling it reverts ({reason})")),
        },
        Some(Simulated::Short { held, received }) => Health {
            value: *received,
            sell_tax_bps: entry_tax_bps,
            trapped: Some(format!("our wallet holds {held} of the {size} tokens of this position")),
        },
    }
}

/// Whether a pending transaction would trap a position, from our sale simulated now (`before`)
/// and after it (`after`): the sale would revert, leave us short of tokens, or return at least
/// `drop_bps` less. `None` when it does no such harm, or when there is no sale now to compare
/// with (the exit rules handle a position that is already trapped).
pub fn front_run_reason(before: &SellCheck, after: &SellCheck, drop_bps: u32) -> Option<String> {
    let Some(Simulated::Sold { received: now, .. }) = &before.simulated else { return None };
    match &after.simulated {
        Some(Simulated::Reverts { reason }) => Some(format!("it would make our sale revert ({reason})")),
        Some(Simulated::Short { held, received }) => {
            Some(format!("it would leave our wallet {held} of the tokens, selling for {received} instead of {now}"))
        }
        Some(Simulated::Sold { received, .. }) => {
            let drop = crate::risk::shortfall_bps(*now, *received);
            (drop >= drop_bps).then(|| format!("it would cut our sale from {now} to {received} ({drop} bps less)"))
        }
        None => None,
    }
}

/// The smaller sizes a trapped position's exit tries when selling all of it fails: halves, then
/// a quarter, a tenth and a hundredth.
pub fn smaller_sizes(size: U256) -> Vec<U256> {
    [2u8, 4, 10, 100].iter().map(|d| size / U256::from(*d)).filter(|s| !s.is_zero()).collect()
}

/// Profit or loss in the quote token: `gain - cost` as a signed decimal string.
pub fn pnl(gain: U256, cost: U256) -> String {
    if gain >= cost {
        (gain - cost).to_string()
    } else {
        format!("-{}", cost - gain)
    }
}

/// Uniswap V2 `getAmountOut` with a fee in basis points (30 for Uniswap, 25 for PancakeSwap).
pub fn v2_amount_out(amount_in: U256, reserve_in: U256, reserve_out: U256, fee_bps: u32) -> U256 {
    if amount_in.is_zero() || reserve_in.is_zero() || reserve_out.is_zero() {
        return U256::ZERO;
    }
    let with_fee = amount_in.saturating_mul(U256::from(BPS.saturating_sub(u64::from(fee_bps))));
    let num = with_fee.saturating_mul(reserve_out);
    let den = reserve_in.saturating_mul(U256::from(BPS)).saturating_add(with_fee);
    num / den
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_transaction_traps_us_when_our_sale_would_revert_shrink_or_come_up_short() {
        let check = |simulated| SellCheck { quoted: U256::from(1_000u64), block: Some(7), simulated };
        let sold = |r: u64| check(Some(Simulated::Sold { received: U256::from(r), fee: U256::ZERO }));
        let now = sold(1_000);
        assert_eq!(front_run_reason(&now, &sold(990), 3_000), None, "another trader's buy or a small sell");
        assert_eq!(front_run_reason(&now, &sold(1_200), 3_000), None, "a buy lifts our sale");
        let taxed = front_run_reason(&now, &sold(10), 3_000).unwrap();
        assert!(taxed.contains("9900 bps less"), "{taxed}");
        assert!(front_run_reason(&now, &sold(700), 3_000).is_some(), "exactly the limit counts");
        let reverts = check(Some(Simulated::Reverts { reason: "blacklisted".into() }));
        assert!(front_run_reason(&now, &reverts, 3_000).unwrap().contains("blacklisted"));
        let short = check(Some(Simulated::Short { held: U256::ZERO, received: U256::ZERO }));
        assert!(front_run_reason(&now, &short, 3_000).is_some(), "a sweep of our tokens");
        // Already unsellable now: the exit rules deal with it, not the anti-rug watch.
        assert_eq!(front_run_reason(&reverts, &reverts, 3_000), None);
        assert_eq!(front_run_reason(&check(None), &sold(1), 3_000), None, "no simulation to compare");
    }

    #[test]
    fn a_sale_that_reverts_or_is_taxed_past_the_limit_is_trapped() {
        let q = U256::from(1_000_000u64);
        let size = U256::from(500u64);
        let check = |simulated| SellCheck { quoted: q, block: Some(7), simulated };
        let ok = health(
            &check(Some(Simulated::Sold { received: U256::from(950_000u64), fee: U256::from(1_000u64) })),
            size,
            0,
            1_000,
        );
        assert_eq!(ok, Health { value: U256::from(949_000u64), sell_tax_bps: 500, trapped: None }, "fee included");
        let taxed =
            health(&check(Some(Simulated::Sold { received: U256::from(10_000u64), fee: U256::ZERO })), size, 0, 1_000);
        assert_eq!(taxed.sell_tax_bps, 9_900);
        assert!(taxed.trapped.unwrap().contains("9900 bps"));
        let reverts = health(&check(Some(Simulated::Reverts { reason: "blocked".into() })), size, 300, 1_000);
        assert_eq!(reverts.value, U256::ZERO, "a position that cannot be sold is worth nothing now");
        assert!(reverts.trapped.unwrap().contains("blocked"));
        let short =
            health(&check(Some(Simulated::Short { held: U256::from(5u8), received: U256::from(9u8) })), size, 0, 1_000);
        assert_eq!(short.value, U256::from(9u8));
        assert!(short.trapped.unwrap().contains("holds 5 of the 500"));
        let quoted_only = health(&check(None), size, 1_000, 1_000);
        assert_eq!(quoted_only, Health { value: U256::from(900_000u64), sell_tax_bps: 1_000, trapped: None });
        assert_eq!(
            smaller_sizes(U256::from(100u8)),
            vec![U256::from(50u8), U256::from(25u8), U256::from(10u8), U256::from(1u8)]
        );
        assert_eq!(smaller_sizes(U256::from(3u8)), vec![U256::from(1u8)]);
    }

    fn limits() -> Limits {
        Limits {
            paused: false,
            max_risk_score: 30,
            max_open_positions: 5,
            slippage_bps: 500,
            buy_amount: U256::from(100u64),
            max_buy: U256::from(1_000u64),
            daily_budget: U256::from(10_000u64),
            min_liquidity: U256::from(1u64),
            quote_tokens: vec!["0xWETH".into()],
        }
    }

    fn healthy() -> Candidate {
        Candidate {
            chain: "local".into(),
            token: "0xAbC".into(),
            quote_token: "0xweth".into(),
            score: 5,
            tradeable: true,
            buy_tax_bps: 0,
            sell_tax_bps: 0,
            tripped: vec!["owner_not_renounced".into()],
            created_at_ms: 1_000_000,
        }
    }

    #[test]
    fn filters_name_the_reason() {
        let cfg = TradingConfig::default();
        let now = 1_000_000 + 5_000;
        assert_eq!(screen(&healthy(), &cfg, &limits(), now), Ok(()));
        let cases: Vec<(Candidate, TradingConfig, Skip)> = vec![
            (Candidate { tradeable: false, ..healthy() }, cfg.clone(), Skip::NotTradeable),
            (
                Candidate { tripped: vec!["blacklist_function".into()], ..healthy() },
                cfg.clone(),
                Skip::Finding("blacklist_function".into()),
            ),
            (Candidate { score: 31, ..healthy() }, cfg.clone(), Skip::RiskScore { score: 31, max: 30 }),
            (Candidate { buy_tax_bps: 1_001, ..healthy() }, cfg.clone(), Skip::BuyTax { bps: 1_001, max: 1_000 }),
            (Candidate { sell_tax_bps: 2_000, ..healthy() }, cfg.clone(), Skip::SellTax { bps: 2_000, max: 1_000 }),
            (Candidate { quote_token: "0xusdc".into(), ..healthy() }, cfg.clone(), Skip::QuoteToken("0xusdc".into())),
            (Candidate { created_at_ms: 0, ..healthy() }, cfg.clone(), Skip::TooOld { age_secs: 1_005, max: 600 }),
            (healthy(), TradingConfig { deny: vec!["0xabc".into()], ..cfg.clone() }, Skip::Denied),
            (healthy(), TradingConfig { allow: vec!["0xdef".into()], ..cfg.clone() }, Skip::NotAllowed),
        ];
        for (c, cfg, want) in cases {
            assert_eq!(screen(&c, &cfg, &limits(), now), Err(want));
        }
        let allow = TradingConfig { allow: vec!["0xABC".into()], ..cfg };
        assert_eq!(screen(&healthy(), &allow, &limits(), now), Ok(()));
    }

    #[test]
    fn size_never_exceeds_the_per_trade_maximum() {
        let l = Limits { buy_amount: U256::from(5_000u64), ..limits() };
        assert_eq!(size(&l), Ok(U256::from(1_000u64)));
        assert_eq!(size(&Limits { max_buy: U256::ZERO, ..limits() }), Err(Skip::ZeroSize));
    }

    #[test]
    fn min_out_takes_tax_and_slippage_off_the_exact_quote() {
        assert_eq!(min_out(U256::from(10_000u64), 0, 500), U256::from(9_500u64));
        assert_eq!(min_out(U256::from(10_000u64), 500, 500), U256::from(9_025u64));
        assert_eq!(paper_fill(U256::from(10_000u64), 0, 50), U256::from(9_950u64));
        // Uniswap V2 getAmountOut: 1 in 1000/1000 pool at 0.3%.
        assert_eq!(
            v2_amount_out(U256::from(1_000u64), U256::from(1_000_000u64), U256::from(1_000_000u64), 30),
            U256::from(996u64)
        );
        assert_eq!(v2_amount_out(U256::from(1u64), U256::ZERO, U256::from(5u64), 30), U256::ZERO);
    }

    #[test]
    fn exits_fire_on_their_rules() {
        let cfg = TradingConfig::default(); // tp +100%, sl -30%, trail 20%, 1 h
        let c = U256::from(1_000u64);
        let v = |n: u64| U256::from(n);
        assert_eq!(exit_reason(&cfg, c, v(1_000), v(1_000), 0), None);
        assert_eq!(exit_reason(&cfg, c, v(2_000), v(2_000), 0), Some(ExitReason::TakeProfit));
        assert_eq!(exit_reason(&cfg, c, v(700), v(1_000), 0), Some(ExitReason::StopLoss));
        assert_eq!(exit_reason(&cfg, c, v(701), v(1_000), 0), None);
        // Up 50%, then 20% off the peak: trailing stop.
        assert_eq!(exit_reason(&cfg, c, v(1_200), v(1_500), 0), Some(ExitReason::TrailingStop));
        assert_eq!(exit_reason(&cfg, c, v(1_201), v(1_500), 0), None);
        // The trailing stop is armed only once in profit.
        assert_eq!(exit_reason(&cfg, c, v(800), v(1_000), 0), None);
        assert_eq!(exit_reason(&cfg, c, v(1_000), v(1_000), 3_600_000), Some(ExitReason::MaxHold));
        let off = TradingConfig {
            take_profit_bps: 0,
            stop_loss_bps: 0,
            trailing_stop_bps: 0,
            max_hold_secs: 0,
            ..cfg.clone()
        };
        assert_eq!(exit_reason(&off, c, v(1), v(9_999), i64::MAX), None);
        // Half sold for 500 while trapped, the rest now worth 450: 950 in all, no stop loss
        // (the rest alone is 45% of the cost); the rest worth 1,500 later: 2,000 in all, take
        // profit.
        assert_eq!(exit_reason(&cfg, c, worth(v(450), v(500)), v(1_000), 0), None);
        assert_eq!(exit_reason(&cfg, c, worth(v(1_500), v(500)), v(1_000), 0), Some(ExitReason::TakeProfit));
        assert_eq!(pnl(v(1_500), c), "500");
        assert_eq!(pnl(v(700), c), "-300");
    }
}
