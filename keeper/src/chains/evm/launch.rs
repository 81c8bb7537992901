//! Launches seen before they are mined: a pending call to one of a chain's v2 routers that adds
//! liquidity to a pair of a token and the wrapped native token (`addLiquidityETH`
//! `0xf305d719`, or `addLiquidity` `0xe8e33700` with the wrapped native token on one side). The
//! keeper buys with the native token, so only those pairs can be bought in the launch's block.
//!
//! Whether the call really is the pair's first liquidity is not decided here: the risk engine
//! runs it in the sandbox and reads the pair it leaves (`super::probe`).

#![allow(clippy::too_many_arguments)]

use alloy::{
    primitives::{Address, U256},
    sol,
    sol_types::SolCall,
};

sol! {
    function addLiquidityETH(address token, uint256 amountTokenDesired, uint256 amountTokenMin,
        uint256 amountETHMin, address to, uint256 deadline) external payable;
    function addLiquidity(address tokenA, address tokenB, uint256 amountADesired, uint256 amountBDesired,
        uint256 amountAMin, uint256 amountBMin, address to, uint256 deadline) external;
}

/// A router call that adds liquidity to a token's pair with the wrapped native token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchCall {
    /// The token launched (the pair's other side is the wrapped native token).
    pub token: Address,
    /// Who receives the LP tokens the call mints.
    pub lp_to: Address,
    /// The native token it adds (wei).
    pub native: U256,
}

/// `input` (sent with `value`) as a liquidity addition to a pair of a token and
/// `wrapped_native`, or `None` for any other call.
pub fn decode(input: &[u8], value: U256, wrapped_native: Address) -> Option<LaunchCall> {
    if let Ok(c) = addLiquidityETHCall::abi_decode(input) {
        return (c.token != wrapped_native && c.token != Address::ZERO).then_some(LaunchCall {
            token: c.token,
            lp_to: c.to,
            native: value,
        });
    }
    let c = addLiquidityCall::abi_decode(input).ok()?;
    let (token, native) = match (c.tokenA == wrapped_native, c.tokenB == wrapped_native) {
        (true, false) => (c.tokenB, c.amountADesired),
        (false, true) => (c.tokenA, c.amountBDesired),
        _ => return None,
    };
    (token != Address::ZERO).then_some(LaunchCall { token, lp_to: c.to, native })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liquidity_additions_with_the_wrapped_native_token_are_launches() {
        let (weth, token, usdc, to) = (
            Address::repeat_byte(0xee),
            Address::repeat_byte(0x11),
            Address::repeat_byte(0x22),
            Address::repeat_byte(7),
        );
        let eth = addLiquidityETHCall {
            token,
            amountTokenDesired: U256::from(1_000u64),
            amountTokenMin: U256::ZERO,
            amountETHMin: U256::ZERO,
            to,
            deadline: U256::MAX,
        }
        .abi_encode();
        assert_eq!(&eth[..4], &[0xf3, 0x05, 0xd7, 0x19]);
        assert_eq!(
            decode(&eth, U256::from(5u64), weth),
            Some(LaunchCall { token, lp_to: to, native: U256::from(5u64) })
        );

        let pair = |a: Address, b: Address| {
            addLiquidityCall {
                tokenA: a,
                tokenB: b,
                amountADesired: U256::from(10u64),
                amountBDesired: U256::from(20u64),
                amountAMin: U256::ZERO,
                amountBMin: U256::ZERO,
                to,
                deadline: U256::MAX,
            }
            .abi_encode()
        };
        assert_eq!(&pair(token, weth)[..4], &[0xe8, 0xe3, 0x37, 0x00]);
        assert_eq!(
            decode(&pair(token, weth), U256::ZERO, weth),
            Some(LaunchCall { token, lp_to: to, native: U256::from(20u64) })
        );
        assert_eq!(
            decode(&pair(weth, token), U256::ZERO, weth),
            Some(LaunchCall { token, lp_to: to, native: U256::from(10u64) })
        );
        // Not the native token's pair, the native token itself, or another call: no launch.
        assert_eq!(decode(&pair(token, usdc), U256::ZERO, weth), None);
        assert_eq!(decode(&pair(weth, weth), U256::ZERO, weth), None);
        assert_eq!(decode(&[0xf3, 0x05, 0xd7, 0x19, 0, 1], U256::ZERO, weth), None);
        assert_eq!(decode(&[], U256::ZERO, weth), None);
    }
}
