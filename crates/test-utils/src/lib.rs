//! What the workspace's tests share, and nothing else uses:
//! - [`program`]: the AMM program under solana-program-test with the real SPL programs;
//! - [`wait`]: bounded waits on the event a test asserts;
//! - [`fault`]: a JSON-RPC proxy that injects node faults;
//! - [`bench`]: percentiles and summaries for the benchmarks' printed figures;
//! - [`idl`]: the program's IDL, generated (the `gen-idl` binary and the freshness test).

pub mod bench;
pub mod fault;
pub mod idl;
pub mod program;
pub mod wait;

pub use fault::{RangeLimitedRpc, SendFault};
pub use program::*;
pub use wait::{wait_for, TIMEOUT};
