//! Liquidity accounting: initial LP supply, proportional deposits and withdrawals.
//!
//! Rounding always favours the pool: deposits round the tokens owed *up*, withdrawals round
//! the tokens paid *down*.

use super::{cast, isqrt, MathResult, SafeMath};
use crate::errors::AmmError;

/// LP tokens locked forever at pool creation (Uniswap V2's `MINIMUM_LIQUIDITY`). They are counted
/// in the pool's LP supply but never minted, so the share price can never be inflated from a
/// near-empty pool to steal later depositors' funds.
pub const MINIMUM_LIQUIDITY: u64 = 1_000;

/// Result of seeding a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitialLiquidity {
    /// Total LP supply the pool accounts for, including the locked part.
    pub lp_supply: u64,
    /// LP tokens minted to the creator (`lp_supply - MINIMUM_LIQUIDITY`).
    pub lp_to_creator: u64,
}

/// LP supply for the first deposit.
pub fn initial_liquidity(amount_a: u64, amount_b: u64) -> MathResult<InitialLiquidity> {
    if amount_a == 0 || amount_b == 0 {
        return Err(AmmError::ZeroAmount);
    }
    // lp = floor(sqrt(a * b))
    let lp_supply: u64 = cast(isqrt(u128::from(amount_a).safe_mul(u128::from(amount_b))?))?;
    if lp_supply <= MINIMUM_LIQUIDITY {
        return Err(AmmError::InsufficientInitialLiquidity);
    }
    Ok(InitialLiquidity { lp_supply, lp_to_creator: lp_supply - MINIMUM_LIQUIDITY })
}

/// Token amounts owed for minting `lp_amount`, rounded up.
pub fn deposit_amounts(lp_amount: u64, reserve_a: u64, reserve_b: u64, lp_supply: u64) -> MathResult<(u64, u64)> {
    if lp_amount == 0 {
        return Err(AmmError::ZeroAmount);
    }
    if lp_supply == 0 || reserve_a == 0 || reserve_b == 0 {
        return Err(AmmError::EmptyPool);
    }
    // a = ceil(lp * r_a / supply), b = ceil(lp * r_b / supply)
    let a = cast(u128::from(lp_amount).safe_mul(u128::from(reserve_a))?.safe_div_ceil(u128::from(lp_supply))?)?;
    let b = cast(u128::from(lp_amount).safe_mul(u128::from(reserve_b))?.safe_div_ceil(u128::from(lp_supply))?)?;
    Ok((a, b))
}

/// Token amounts paid for burning `lp_amount`, rounded down. Refuses a burn that would pay
/// nothing on either side.
pub fn withdraw_amounts(lp_amount: u64, reserve_a: u64, reserve_b: u64, lp_supply: u64) -> MathResult<(u64, u64)> {
    if lp_amount == 0 {
        return Err(AmmError::ZeroAmount);
    }
    if lp_supply == 0 {
        return Err(AmmError::EmptyPool);
    }
    if lp_amount > lp_supply.safe_sub(MINIMUM_LIQUIDITY)? {
        return Err(AmmError::InsufficientLpTokens);
    }
    // a = floor(lp * r_a / supply), b = floor(lp * r_b / supply)
    let a: u64 = cast(u128::from(lp_amount).safe_mul(u128::from(reserve_a))?.safe_div(u128::from(lp_supply))?)?;
    let b: u64 = cast(u128::from(lp_amount).safe_mul(u128::from(reserve_b))?.safe_div(u128::from(lp_supply))?)?;
    if a == 0 || b == 0 {
        return Err(AmmError::ZeroTradingTokens);
    }
    Ok((a, b))
}

/// LP tokens that amounts up to `(max_a, max_b)` buy, rounded down: the largest `lp` whose
/// [`deposit_amounts`] fit both maxima. Clients use it to size a deposit.
pub fn lp_for_max_amounts(max_a: u64, max_b: u64, reserve_a: u64, reserve_b: u64, lp_supply: u64) -> MathResult<u64> {
    if reserve_a == 0 || reserve_b == 0 || lp_supply == 0 {
        return Err(AmmError::EmptyPool);
    }
    // lp = min(floor(max_a * supply / r_a), floor(max_b * supply / r_b))
    let by_a = u128::from(max_a).safe_mul(u128::from(lp_supply))?.safe_div(u128::from(reserve_a))?;
    let by_b = u128::from(max_b).safe_mul(u128::from(lp_supply))?.safe_div(u128::from(reserve_b))?;
    cast(by_a.min(by_b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn initial() {
        assert_eq!(
            initial_liquidity(100_000, 400_000),
            Ok(InitialLiquidity { lp_supply: 200_000, lp_to_creator: 199_000 })
        );
        assert_eq!(initial_liquidity(1_000, 1_000), Err(AmmError::InsufficientInitialLiquidity));
        assert_eq!(initial_liquidity(0, 5), Err(AmmError::ZeroAmount));
        assert_eq!(initial_liquidity(u64::MAX, u64::MAX).unwrap().lp_supply, u64::MAX);
    }

    #[test]
    fn withdraw_refuses_locked_and_dust() {
        assert_eq!(withdraw_amounts(200_000, 100_000, 400_000, 200_000), Err(AmmError::InsufficientLpTokens));
        assert_eq!(withdraw_amounts(1, 100, 400_000, 200_000), Err(AmmError::ZeroTradingTokens));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Depositing then withdrawing the same LP never returns more than was put in.
        #[test]
        fn deposit_then_withdraw_never_profits(
            r_a in 1u64..1u64 << 50, r_b in 1u64..1u64 << 50, extra in 0u64..1u64 << 40, lp in 1u64..1u64 << 40,
        ) {
            let supply = MINIMUM_LIQUIDITY + 1 + extra;
            let (a, b) = match deposit_amounts(lp, r_a, r_b, supply) {
                Ok(amounts) => amounts,
                // A deposit too large for a u64 amount is refused with the typed error.
                Err(e) => {
                    prop_assert_eq!(e, AmmError::MathOverflow);
                    return Ok(());
                }
            };
            // Reserves that would overflow a vault cannot exist (the token program refuses).
            let (Some(r_a2), Some(r_b2)) = (r_a.checked_add(a), r_b.checked_add(b)) else { return Ok(()) };
            let s2 = supply + lp;
            if let Ok((wa, wb)) = withdraw_amounts(lp, r_a2, r_b2, s2) {
                prop_assert!(wa <= a && wb <= b);
            }
        }

        /// Deposits never dilute existing LPs: value per LP share does not fall.
        #[test]
        fn deposit_rounds_in_pool_favour(r_a in 1u64..1u64 << 60, r_b in 1u64..1u64 << 60, supply in 1_001u64..1u64 << 60, lp in 1u64..1u64 << 60) {
            // Amounts beyond u64 are refused with a named error rather than wrapped.
            let Ok((a, b)) = deposit_amounts(lp, r_a, r_b, supply) else {
                prop_assert!(u128::from(lp) * u128::from(r_a.max(r_b)) / u128::from(supply) >= u128::from(u64::MAX));
                return Ok(());
            };
            // a / lp >= r_a / supply  <=>  a * supply >= r_a * lp
            prop_assert!(u128::from(a) * u128::from(supply) >= u128::from(r_a) * u128::from(lp));
            prop_assert!(u128::from(b) * u128::from(supply) >= u128::from(r_b) * u128::from(lp));
        }

        /// Withdrawals never pay more than the burnt share.
        #[test]
        fn withdraw_rounds_in_pool_favour(r_a in 1u64.., r_b in 1u64.., supply in 1_001u64.., lp in 1u64..) {
            if let Ok((a, b)) = withdraw_amounts(lp, r_a, r_b, supply) {
                prop_assert!(u128::from(a) * u128::from(supply) <= u128::from(r_a) * u128::from(lp));
                prop_assert!(u128::from(b) * u128::from(supply) <= u128::from(r_b) * u128::from(lp));
                prop_assert!(a < r_a && b < r_b, "the locked minimum keeps reserves non-empty");
            }
        }

        #[test]
        fn lp_for_max_amounts_fits(r_a in 1u64..1u64 << 60, r_b in 1u64..1u64 << 60, supply in 1_001u64..1u64 << 60, ma in 0u64..1u64 << 60, mb in 0u64..1u64 << 60) {
            match lp_for_max_amounts(ma, mb, r_a, r_b, supply) {
                Ok(lp) if lp > 0 => {
                    let (a, b) = deposit_amounts(lp, r_a, r_b, supply).unwrap();
                    prop_assert!(a <= ma && b <= mb);
                }
                Ok(_) => {}
                Err(e) => prop_assert_eq!(e, AmmError::MathOverflow),
            }
        }
    }
}
