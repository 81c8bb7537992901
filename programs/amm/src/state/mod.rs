pub mod config;
pub mod pool;

pub use config::*;
pub use pool::*;
