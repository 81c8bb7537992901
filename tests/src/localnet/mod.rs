//! A Solana localnet for tests and `scripts/localnet.sh`: an HTTP JSON-RPC server on 127.0.0.1
//! over an in-process LiteSVM that hosts the AMM natively and the real SPL programs.
//!
//! Every response is built from Solana's own client types (`solana-rpc-client-api`,
//! `solana-transaction-status-client-types`, `solana-account-decoder-client-types`), so
//! `solana-rpc-client` parses it unmodified. LiteSVM executes; this module adds what a validator
//! has and LiteSVM lacks: slots that advance with each transaction, block times, and a ledger of
//! transactions (with logs and inner instructions) indexed by signature and by account, and
//! websocket subscriptions on a second port.

mod chain;
mod rpc;
pub mod sim;
mod ws;

pub use chain::{unpack_mint, unpack_token_account, Chain, TxRecord, TOKEN_2022};
pub use rpc::{serve, Localnet};
pub use ws::Notice;
