//! Account filters as `getProgramAccounts` and `programSubscribe` take them (`dataSize`,
//! `memcmp` in base58 or base64), and the program-accounts configuration around them.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde::Deserialize;
use solana_rpc_client_api::config::RpcAccountInfoConfig;

/// `getProgramAccounts`'s configuration.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProgramAccountsConfig {
    pub filters: Option<Vec<AccountFilter>>,
    pub with_context: Option<bool>,
    #[serde(flatten)]
    pub account: RpcAccountInfoConfig,
}

/// One `getProgramAccounts` / `programSubscribe` filter, as the RPC spells it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum AccountFilter {
    DataSize(u64),
    Memcmp(Memcmp),
}

#[derive(Deserialize)]
pub(crate) struct Memcmp {
    offset: usize,
    bytes: String,
    #[serde(default)]
    encoding: Option<String>,
}

/// A filter with its bytes decoded.
pub(crate) enum Compiled {
    DataSize(u64),
    Memcmp(usize, Vec<u8>),
}

impl Compiled {
    pub fn matches(&self, data: &[u8]) -> bool {
        match self {
            Compiled::DataSize(n) => data.len() as u64 == *n,
            Compiled::Memcmp(offset, bytes) => {
                data.get(*offset..).is_some_and(|d| d.len() >= bytes.len() && d[..bytes.len()] == bytes[..])
            }
        }
    }
}

pub(crate) fn compile_filters(filters: Vec<AccountFilter>) -> Result<Vec<Compiled>, String> {
    if filters.len() > 4 {
        return Err("Too many filters provided; max 4".into());
    }
    filters
        .into_iter()
        .map(|f| match f {
            AccountFilter::DataSize(n) => Ok(Compiled::DataSize(n)),
            AccountFilter::Memcmp(m) => {
                let bytes = match m.encoding.as_deref() {
                    None | Some("base58") => bs58::decode(&m.bytes).into_vec().map_err(|e| e.to_string()),
                    Some("base64") => B64.decode(&m.bytes).map_err(|e| e.to_string()),
                    Some(other) => Err(format!("unsupported encoding {other}")),
                }
                .map_err(|e| format!("Invalid param: memcmp bytes: {e}"))?;
                if bytes.len() > 128 {
                    return Err("Invalid param: memcmp bytes longer than 128".into());
                }
                Ok(Compiled::Memcmp(m.offset, bytes))
            }
        })
        .collect()
}
