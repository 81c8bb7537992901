//! Pure curve and fee arithmetic shared by the program and every off-chain client.
//!
//! Every function here works on integers, checks each step and returns a named [`AmmError`];
//! nothing touches accounts. The keeper and the API import these to quote exactly like the chain.

pub mod checked;
pub mod curve;
pub mod liquidity;
pub mod twap;

pub use checked::*;
pub use curve::*;
pub use liquidity::*;
pub use twap::*;

/// Basis-point denominator: 10_000 bps = 100%.
pub const BPS_DENOMINATOR: u128 = 10_000;
