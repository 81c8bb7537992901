//! The EVM artifacts the keeper and tests rely on: the committed RiskProbe matches its Solidity
//! source compiled now with the pinned solc-js, and the npm Uniswap V2 pair bytecode is the one
//! deployed on mainnet (so CREATE2 pair addresses match).

use std::process::Command;

use alloy::primitives::keccak256;
use localnet::evm::{bytecode, root, MAINNET_INIT_CODE_HASH};

#[test]
fn the_committed_risk_probe_is_fresh() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("node")
        .arg(root().join("scripts/evm/compile.mjs"))
        .arg(out.path())
        .status()
        .expect("node (installed by scripts/test.sh)");
    assert!(status.success());
    let fresh = std::fs::read_to_string(out.path().join("RiskProbe.json")).unwrap();
    let committed = std::fs::read_to_string(root().join("keeper/src/chains/evm/RiskProbe.json")).unwrap();
    assert!(
        fresh == committed,
        "keeper/src/chains/evm/RiskProbe.json is stale: run `node scripts/evm/compile.mjs` and copy crates/localnet/evm/build/RiskProbe.json there"
    );
}

#[test]
fn npm_uniswap_pair_matches_mainnet_init_code_hash() {
    assert_eq!(keccak256(bytecode("UniswapV2Pair")), MAINNET_INIT_CODE_HASH);
}
