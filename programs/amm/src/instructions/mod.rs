// Each instruction module exports a `handler`; the globs exist for Anchor's generated client modules.
pub mod admin;
pub mod deposit;
pub mod initialize_pool;
pub mod liquidity;
pub mod swap;
pub mod swap_exact_in;
pub mod swap_exact_out;
pub mod withdraw;

#[allow(ambiguous_glob_reexports)]
pub use admin::*;
#[allow(ambiguous_glob_reexports)]
pub use initialize_pool::*;
pub use liquidity::*;
#[allow(ambiguous_glob_reexports)]
pub use swap::*;
