//! The EVM artifacts the tests rely on: the npm Uniswap V2 pair bytecode is the one deployed on
//! mainnet (so CREATE2 pair addresses match).

use alloy::primitives::keccak256;
use localnet::evm::{bytecode, MAINNET_INIT_CODE_HASH};

#[test]
fn npm_uniswap_pair_matches_mainnet_init_code_hash() {
    assert_eq!(keccak256(bytecode("UniswapV2Pair")), MAINNET_INIT_CODE_HASH);
}
