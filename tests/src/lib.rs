//! Test support for the AMM program: runs it natively inside solana-program-test next to the
//! real SPL Token, Token-2022 and Associated Token programs (SBF binaries shipped with
//! solana-program-test), with helpers for tokens, users, transactions and events.

pub mod bench;
pub mod evm;
pub mod harness;
pub mod idl;
pub mod localnet;
pub mod svm;

pub use harness::*;
