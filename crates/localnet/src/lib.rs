//! The local chains for `scripts/localnet.sh` and the tests. A Solana localnet: an HTTP JSON-RPC server on 127.0.0.1
//! over an in-process LiteSVM that hosts the AMM natively and the real SPL programs.
//!
//! Every response is built from Solana's own client types (`solana-rpc-client-api`,
//! `solana-transaction-status-client-types`, `solana-account-decoder-client-types`), so
//! `solana-rpc-client` parses it unmodified. LiteSVM executes; this module adds what a validator
//! has and LiteSVM lacks: slots that advance with each transaction, block times, and a ledger of
//! transactions (with logs and inner instructions) indexed by signature and by account, and
//! websocket subscriptions on a second port.

//!
//! Also here: the local EVM ([`evm`]: anvil with the real Uniswap V2 and the project's test
//! tokens), the AMM's native host ([`native`], [`svm`]) and the `localnet` binary
//! (`src/main.rs`) that `scripts/localnet.sh` runs.

mod chain;
mod encoding;
pub mod evm;
mod filters;
pub mod native;
mod rpc;
pub mod sim;
pub mod svm;
mod ws;

pub use chain::{unpack_mint, unpack_token_account, Chain, TxRecord, TOKEN_2022};
pub use rpc::{serve, Localnet};
pub use ws::Notice;
