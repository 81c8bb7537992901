// Each instruction module exports a `handler`; the globs exist for Anchor's generated client modules.
pub mod collect_protocol_fees;
pub mod create_config;
pub mod set_pool_status;
pub mod update_config;

#[allow(ambiguous_glob_reexports)]
pub use collect_protocol_fees::*;
#[allow(ambiguous_glob_reexports)]
pub use create_config::*;
#[allow(ambiguous_glob_reexports)]
pub use set_pool_status::*;
#[allow(ambiguous_glob_reexports)]
pub use update_config::*;
