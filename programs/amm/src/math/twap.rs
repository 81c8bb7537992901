//! Uniswap V2-style time-weighted average price accumulators.
//!
//! Prices are Q64.64 fixed point. Accumulators are seconds-weighted sums that wrap modulo 2^128
//! *by design* (as Uniswap V2's do modulo 2^256): a reader takes two observations and divides the
//! wrapping difference by the elapsed time, which is exact as long as the window's sum fits in
//! 128 bits. These two wrapping operations are the only unchecked arithmetic in the program.

use super::{MathResult, SafeMath};
use crate::errors::AmmError;

/// Price of one unit of `base` in units of `quote`, Q64.64: `(reserve_quote << 64) / reserve_base`.
pub fn price_q64(reserve_base: u64, reserve_quote: u64) -> MathResult<u128> {
    if reserve_base == 0 {
        return Err(AmmError::DivideByZero);
    }
    // reserve_quote < 2^64, so the shift fits in u128.
    (u128::from(reserve_quote) << 64).safe_div(u128::from(reserve_base))
}

/// Add `price * elapsed` to an accumulator, modulo 2^128.
pub fn accumulate(cumulative: u128, price_q64: u128, elapsed_seconds: u64) -> u128 {
    cumulative.wrapping_add(price_q64.wrapping_mul(u128::from(elapsed_seconds)))
}

/// Average Q64.64 price between two observations of the same accumulator.
pub fn average_price_q64(
    cumulative_start: u128,
    cumulative_end: u128,
    time_start: i64,
    time_end: i64,
) -> MathResult<u128> {
    let elapsed = time_end.checked_sub(time_start).ok_or(AmmError::MathOverflow)?;
    if elapsed <= 0 {
        return Err(AmmError::DivideByZero);
    }
    let elapsed = u128::try_from(elapsed).map_err(|_| AmmError::MathOverflow)?;
    cumulative_end.wrapping_sub(cumulative_start).safe_div(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_of_constant_price_is_that_price() {
        let p = price_q64(100, 400).unwrap();
        assert_eq!(p, 4u128 << 64);
        let c1 = accumulate(0, p, 10);
        let c2 = accumulate(c1, p, 30);
        assert_eq!(average_price_q64(c1, c2, 10, 40), Ok(p));
    }

    #[test]
    fn average_survives_wraparound() {
        let p = price_q64(1_000, 3_000).unwrap();
        let start = u128::MAX - p; // about to wrap
        let end = accumulate(start, p, 3);
        assert!(end < start);
        assert_eq!(average_price_q64(start, end, 0, 3), Ok(p));
    }

    #[test]
    fn time_weighting() {
        // 10 s at price 1, 30 s at price 3 -> average 2.5
        let c = accumulate(accumulate(0, 1 << 64, 10), 3 << 64, 30);
        assert_eq!(average_price_q64(0, c, 0, 40), Ok((5u128 << 64) / 2));
        assert_eq!(average_price_q64(0, c, 5, 5), Err(AmmError::DivideByZero));
    }
}
