//! Checked arithmetic helpers (Drift style): every step returns `AmmError::MathOverflow`
//! or `AmmError::DivideByZero` instead of wrapping or panicking.

use crate::errors::AmmError;

pub type MathResult<T> = core::result::Result<T, AmmError>;

pub trait SafeMath: Sized {
    fn safe_add(self, rhs: Self) -> MathResult<Self>;
    fn safe_sub(self, rhs: Self) -> MathResult<Self>;
    fn safe_mul(self, rhs: Self) -> MathResult<Self>;
    /// Floor division.
    fn safe_div(self, rhs: Self) -> MathResult<Self>;
    /// Ceiling division.
    fn safe_div_ceil(self, rhs: Self) -> MathResult<Self>;
}

macro_rules! impl_safe_math {
    ($($t:ty),*) => {$(
        impl SafeMath for $t {
            #[inline]
            fn safe_add(self, rhs: Self) -> MathResult<Self> {
                self.checked_add(rhs).ok_or(AmmError::MathOverflow)
            }
            #[inline]
            fn safe_sub(self, rhs: Self) -> MathResult<Self> {
                self.checked_sub(rhs).ok_or(AmmError::MathOverflow)
            }
            #[inline]
            fn safe_mul(self, rhs: Self) -> MathResult<Self> {
                self.checked_mul(rhs).ok_or(AmmError::MathOverflow)
            }
            #[inline]
            fn safe_div(self, rhs: Self) -> MathResult<Self> {
                self.checked_div(rhs).ok_or(AmmError::DivideByZero)
            }
            #[inline]
            fn safe_div_ceil(self, rhs: Self) -> MathResult<Self> {
                if rhs == 0 {
                    return Err(AmmError::DivideByZero);
                }
                let q = self / rhs;
                if self % rhs == 0 { Ok(q) } else { q.safe_add(1) }
            }
        }
    )*};
}
impl_safe_math!(u64, u128);

/// Checked narrowing cast (instead of `as`).
pub fn cast<T: TryFrom<u128>>(v: u128) -> MathResult<T> {
    T::try_from(v).map_err(|_| AmmError::MathOverflow)
}

/// Integer square root, rounded down (Newton's method, iterative).
pub fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    // Initial guess 2^ceil(bits/2) is >= sqrt(n), so the sequence decreases monotonically.
    let bits = 128 - n.leading_zeros();
    let mut x: u128 = 1u128 << bits.div_ceil(2);
    loop {
        let y = (x + n / x) >> 1;
        if y >= x {
            return x;
        }
        x = y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn isqrt_edges() {
        assert_eq!(isqrt(0), 0);
        assert_eq!(isqrt(1), 1);
        assert_eq!(isqrt(3), 1);
        assert_eq!(isqrt(4), 2);
        assert_eq!(isqrt(u128::MAX), u64::MAX as u128);
        let m = u64::MAX as u128;
        assert_eq!(isqrt(m * m), m);
    }

    #[test]
    fn div_ceil_and_errors() {
        assert_eq!(7u128.safe_div_ceil(2), Ok(4));
        assert_eq!(8u128.safe_div_ceil(2), Ok(4));
        assert_eq!(1u128.safe_div(0), Err(AmmError::DivideByZero));
        assert_eq!(u64::MAX.safe_add(1), Err(AmmError::MathOverflow));
        assert_eq!(cast::<u64>(u64::MAX as u128 + 1), Err(AmmError::MathOverflow));
    }

    proptest! {
        #[test]
        fn isqrt_is_floor_sqrt(n in any::<u128>()) {
            let r = isqrt(n);
            prop_assert!(r.checked_mul(r).is_some_and(|sq| sq <= n));
            let r1 = r + 1;
            prop_assert!(r1.checked_mul(r1).is_none_or(|sq| sq > n));
        }
    }
}
