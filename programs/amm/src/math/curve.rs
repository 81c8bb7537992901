//! Constant-product swap quotes with the trade fee charged on the input.
//!
//! At a 30 bps fee these are exactly Uniswap V2's `getAmountOut` / `getAmountIn`.

use super::{cast, MathResult, SafeMath, BPS_DENOMINATOR};
use crate::errors::AmmError;

uint::construct_uint! {
    /// 256-bit unsigned integer for intermediate products that exceed u128.
    pub struct U256(4);
}

/// Largest trade fee a config may set: 10%.
pub const MAX_TRADE_FEE_BPS: u16 = 1_000;
/// Default trade fee: 30 bps = 0.3%.
pub const DEFAULT_TRADE_FEE_BPS: u16 = 30;

/// The fee schedule a swap is quoted with (read from the pool's config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fees {
    /// Trade fee on the input, in basis points.
    pub trade_fee_bps: u16,
    /// Share of the trade fee set aside for the protocol, in basis points of the trade fee.
    pub protocol_fee_share_bps: u16,
}

impl Fees {
    pub fn validate(&self) -> MathResult<()> {
        if self.trade_fee_bps > MAX_TRADE_FEE_BPS {
            return Err(AmmError::InvalidTradeFee);
        }
        if u128::from(self.protocol_fee_share_bps) > BPS_DENOMINATOR {
            return Err(AmmError::InvalidProtocolFeeShare);
        }
        Ok(())
    }
}

/// The complete effect of one swap on the pool, computed before any token moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwapQuote {
    /// Tokens the trader pays into the input vault.
    pub amount_in: u64,
    /// Tokens the trader receives from the output vault.
    pub amount_out: u64,
    /// The trade fee on the input, rounded up (informational: LPs keep `trade_fee - protocol_fee`).
    pub trade_fee: u64,
    /// The part of the input set aside for the protocol; it leaves the reserves.
    pub protocol_fee: u64,
    /// Input-side reserve after the swap.
    pub new_reserve_in: u64,
    /// Output-side reserve after the swap.
    pub new_reserve_out: u64,
}

fn check_inputs(amount: u64, reserve_in: u64, reserve_out: u64, fees: Fees) -> MathResult<()> {
    fees.validate()?;
    if amount == 0 {
        return Err(AmmError::ZeroAmount);
    }
    if reserve_in == 0 || reserve_out == 0 {
        return Err(AmmError::EmptyPool);
    }
    Ok(())
}

fn fee_factor(fees: Fees) -> u128 {
    BPS_DENOMINATOR - u128::from(fees.trade_fee_bps)
}

/// Output for an exact input (Uniswap V2 `getAmountOut`, generalised to any fee).
pub fn get_amount_out(amount_in: u64, reserve_in: u64, reserve_out: u64, fees: Fees) -> MathResult<u64> {
    check_inputs(amount_in, reserve_in, reserve_out, fees)?;
    // out = floor(in * (D - fee) * r_out / (r_in * D + in * (D - fee))), D = 10_000
    let in_with_fee = U256::from(amount_in) * U256::from(fee_factor(fees));
    let numerator = in_with_fee * U256::from(reserve_out);
    let denominator = U256::from(reserve_in) * U256::from(BPS_DENOMINATOR) + in_with_fee;
    let out = numerator / denominator;
    // out < r_out always, so it fits in u64.
    cast(out.as_u128())
}

/// Input needed for an exact output (Uniswap V2 `getAmountIn`, generalised to any fee).
pub fn get_amount_in(amount_out: u64, reserve_in: u64, reserve_out: u64, fees: Fees) -> MathResult<u64> {
    check_inputs(amount_out, reserve_in, reserve_out, fees)?;
    if amount_out >= reserve_out {
        return Err(AmmError::InsufficientReserve);
    }
    if fee_factor(fees) == 0 {
        return Err(AmmError::InvalidTradeFee);
    }
    // in = floor(r_in * out * D / ((r_out - out) * (D - fee))) + 1
    let numerator = U256::from(reserve_in) * U256::from(amount_out) * U256::from(BPS_DENOMINATOR);
    let denominator = U256::from(reserve_out - amount_out) * U256::from(fee_factor(fees));
    let amount_in = numerator / denominator + U256::one();
    if amount_in > U256::from(u64::MAX) {
        return Err(AmmError::MathOverflow);
    }
    Ok(amount_in.as_u64())
}

/// Trade fee on an input, rounded up.
pub fn trade_fee(amount_in: u64, fees: Fees) -> MathResult<u64> {
    // fee = ceil(in * fee_bps / D)
    cast(u128::from(amount_in).safe_mul(u128::from(fees.trade_fee_bps))?.safe_div_ceil(BPS_DENOMINATOR)?)
}

/// Protocol's part of the trade fee, rounded down so it never exceeds the exact fee.
pub fn protocol_fee(amount_in: u64, fees: Fees) -> MathResult<u64> {
    // pf = floor(in * fee_bps * share_bps / D^2)
    let v = u128::from(amount_in)
        .safe_mul(u128::from(fees.trade_fee_bps))?
        .safe_mul(u128::from(fees.protocol_fee_share_bps))?
        .safe_div(BPS_DENOMINATOR * BPS_DENOMINATOR)?;
    cast(v)
}

fn finish(amount_in: u64, amount_out: u64, reserve_in: u64, reserve_out: u64, fees: Fees) -> MathResult<SwapQuote> {
    let protocol_fee = protocol_fee(amount_in, fees)?;
    let new_reserve_in = reserve_in.safe_add(amount_in)?.safe_sub(protocol_fee)?;
    let new_reserve_out = reserve_out.safe_sub(amount_out)?;
    check_k(reserve_in, reserve_out, new_reserve_in, new_reserve_out)?;
    Ok(SwapQuote {
        amount_in,
        amount_out,
        trade_fee: trade_fee(amount_in, fees)?,
        protocol_fee,
        new_reserve_in,
        new_reserve_out,
    })
}

/// Quote a swap that spends exactly `amount_in`.
pub fn swap_exact_in(amount_in: u64, reserve_in: u64, reserve_out: u64, fees: Fees) -> MathResult<SwapQuote> {
    let amount_out = get_amount_out(amount_in, reserve_in, reserve_out, fees)?;
    if amount_out == 0 {
        return Err(AmmError::ZeroTradingTokens);
    }
    finish(amount_in, amount_out, reserve_in, reserve_out, fees)
}

/// Quote a swap that receives exactly `amount_out`.
pub fn swap_exact_out(amount_out: u64, reserve_in: u64, reserve_out: u64, fees: Fees) -> MathResult<SwapQuote> {
    let amount_in = get_amount_in(amount_out, reserve_in, reserve_out, fees)?;
    finish(amount_in, amount_out, reserve_in, reserve_out, fees)
}

/// The constant product must never decrease: `new_in * new_out >= old_in * old_out`.
pub fn check_k(old_in: u64, old_out: u64, new_in: u64, new_out: u64) -> MathResult<()> {
    let k_before = u128::from(old_in).safe_mul(u128::from(old_out))?;
    let k_after = u128::from(new_in).safe_mul(u128::from(new_out))?;
    if k_after < k_before {
        return Err(AmmError::InvariantViolated);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UNI: Fees = Fees { trade_fee_bps: 30, protocol_fee_share_bps: 0 };

    /// Uniswap V2 `UniswapV2Library.getAmountOut`, transcribed literally (uint256 -> U256).
    fn uni_get_amount_out(amount_in: u64, reserve_in: u64, reserve_out: u64) -> U256 {
        let amount_in_with_fee = U256::from(amount_in) * U256::from(997);
        let numerator = amount_in_with_fee * U256::from(reserve_out);
        let denominator = U256::from(reserve_in) * U256::from(1000) + amount_in_with_fee;
        numerator / denominator
    }

    /// Uniswap V2 `UniswapV2Library.getAmountIn`, transcribed literally.
    fn uni_get_amount_in(amount_out: u64, reserve_in: u64, reserve_out: u64) -> U256 {
        let numerator = U256::from(reserve_in) * U256::from(amount_out) * U256::from(1000);
        let denominator = U256::from(reserve_out - amount_out) * U256::from(997);
        numerator / denominator + U256::one()
    }

    #[test]
    fn known_values() {
        // 400000 * 10000*9970 / (100000*10000 + 10000*9970) = 36264
        assert_eq!(get_amount_out(10_000, 100_000, 400_000, UNI), Ok(36_264));
        assert_eq!(get_amount_out(0, 1, 1, UNI), Err(AmmError::ZeroAmount));
        assert_eq!(get_amount_out(1, 0, 1, UNI), Err(AmmError::EmptyPool));
        assert_eq!(get_amount_in(100, 1_000, 100, UNI), Err(AmmError::InsufficientReserve));
        let bad = Fees { trade_fee_bps: 1_001, protocol_fee_share_bps: 0 };
        assert_eq!(get_amount_out(1, 1, 1, bad), Err(AmmError::InvalidTradeFee));
        let bad = Fees { trade_fee_bps: 30, protocol_fee_share_bps: 10_001 };
        assert_eq!(get_amount_out(1, 1, 1, bad), Err(AmmError::InvalidProtocolFeeShare));
        // An input too small to buy a single unit is refused rather than taken for nothing.
        assert_eq!(swap_exact_in(1, 1_000_000, 1_000, UNI), Err(AmmError::ZeroTradingTokens));
    }

    #[test]
    fn extreme_reserves_do_not_overflow() {
        let q = swap_exact_in(u64::MAX / 2, u64::MAX / 2, u64::MAX, UNI).unwrap();
        assert!(q.amount_out < u64::MAX);
        // Input side would exceed u64: a named error, not a wrap.
        assert_eq!(swap_exact_in(u64::MAX, u64::MAX, u64::MAX, UNI), Err(AmmError::MathOverflow));
        assert_eq!(get_amount_in(u64::MAX - 1, u64::MAX, u64::MAX, UNI), Err(AmmError::MathOverflow));
    }

    fn fees() -> impl Strategy<Value = Fees> {
        (0u16..=MAX_TRADE_FEE_BPS, 0u16..=10_000).prop_map(|(t, p)| Fees { trade_fee_bps: t, protocol_fee_share_bps: p })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn equals_uniswap_v2_get_amount_out(r_in in 1u64.., r_out in 1u64.., a in 1u64..) {
            let ours = get_amount_out(a, r_in, r_out, UNI).unwrap();
            prop_assert_eq!(U256::from(ours), uni_get_amount_out(a, r_in, r_out));
        }

        #[test]
        fn equals_uniswap_v2_get_amount_in(r_in in 1u64..u64::MAX / 4, r_out in 2u64.., out_frac in 1u64..1_000_000) {
            let out = ((u128::from(r_out - 1) * u128::from(out_frac)) / 1_000_000).max(1) as u64;
            let uni = uni_get_amount_in(out, r_in, r_out);
            match get_amount_in(out, r_in, r_out, UNI) {
                Ok(ours) => prop_assert_eq!(U256::from(ours), uni),
                Err(e) => {
                    prop_assert_eq!(e, AmmError::MathOverflow);
                    prop_assert!(uni > U256::from(u64::MAX));
                }
            }
        }

        #[test]
        fn k_never_decreases_and_output_below_reserve(r_in in 1u64.., r_out in 1u64.., a in 1u64.., f in fees()) {
            if let Ok(q) = swap_exact_in(a, r_in, r_out, f) {
                prop_assert!(q.amount_out < r_out);
                prop_assert!(u128::from(q.new_reserve_in) * u128::from(q.new_reserve_out) >= u128::from(r_in) * u128::from(r_out));
                prop_assert!(q.protocol_fee <= q.trade_fee);
                prop_assert_eq!(q.new_reserve_in, r_in + a - q.protocol_fee);
            }
        }

        #[test]
        fn exact_out_k_never_decreases(r_in in 1u64.., r_out in 2u64.., out in 1u64.., f in fees()) {
            let out = out % (r_out - 1) + 1;
            if let Ok(q) = swap_exact_out(out, r_in, r_out, f) {
                prop_assert_eq!(q.amount_out, out);
                prop_assert!(u128::from(q.new_reserve_in) * u128::from(q.new_reserve_out) >= u128::from(r_in) * u128::from(r_out));
            }
        }

        /// Exact-in and exact-out agree: paying the exact-out price buys at least that output,
        /// and one unit less never buys it (the quoted input is the minimum, up to Uniswap's +1).
        #[test]
        fn exact_in_and_exact_out_agree(r_in in 1u64..u64::MAX / 4, r_out in 2u64..u64::MAX / 4, out in 1u64.., f in fees()) {
            let out = out % (r_out - 1) + 1;
            if let Ok(needed) = get_amount_in(out, r_in, r_out, f) {
                prop_assert!(get_amount_out(needed, r_in, r_out, f).unwrap() >= out);
                if needed > 2 {
                    prop_assert!(get_amount_out(needed - 2, r_in, r_out, f).unwrap() < out);
                }
            }
        }

        /// Splitting a trade into pieces never yields more than trading at once (rounding favours the pool).
        #[test]
        fn splitting_never_pays_more(r_in in 1_000u64..1u64 << 40, r_out in 1_000u64..1u64 << 40, a in 2u64..1u64 << 30, f in fees()) {
            let whole = get_amount_out(a, r_in, r_out, f).unwrap();
            let first = a / 2;
            let second = a - first;
            let (mut ri, mut ro, mut got) = (r_in, r_out, 0u64);
            for part in [first, second] {
                match swap_exact_in(part, ri, ro, f) {
                    Ok(q) => { ri = q.new_reserve_in; ro = q.new_reserve_out; got += q.amount_out; }
                    Err(e) => prop_assert_eq!(e, AmmError::ZeroTradingTokens),
                }
            }
            prop_assert!(got <= whole);
        }
    }
}
