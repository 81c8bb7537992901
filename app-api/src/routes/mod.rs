//! One module per resource, each with its own `router()`.

pub mod actions;
pub mod audit;
pub mod auth;
pub mod backtests;
pub mod docs;
pub mod health;
pub mod keeper;
pub mod performance;
pub mod pools;
pub mod quote;
pub mod stream;
pub mod tokens;
pub mod trades;
pub mod tx;
pub mod wallets;

use serde::Serialize;
use utoipa::ToSchema;

/// A page of a list endpoint: pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from `limit + 1` fetched rows: the extra row only tells that more exist; the
    /// cursor points after the last row kept.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(cursor_of)
        } else {
            None
        };
        Page { items: rows, next_cursor }
    }
}

/// Valid chain names (as in the keeper's config): 1-32 of a-z, 0-9, '-' or '_'.
pub fn check_chain(field: &str, chain: &str) -> Result<(), crate::error::ApiError> {
    let ok = !chain.is_empty()
        && chain.len() <= 32
        && chain.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(crate::error::ApiError::invalid(field, "must be a chain name (1-32 of a-z, 0-9, '-', '_')"))
    }
}

/// Addresses are base58 (Solana) or 0x-hex (EVM); EVM ones are matched lowercase.
pub fn normalize_address(field: &str, address: &str) -> Result<String, crate::error::ApiError> {
    let ok = (1..=64).contains(&address.len()) && address.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err(crate::error::ApiError::invalid(field, "must be a base58 or 0x-hex address"));
    }
    Ok(if address.starts_with("0x") { address.to_ascii_lowercase() } else { address.to_string() })
}
