//! EVM chains: providers, the contracts' ABIs, `eth_getLogs` paging, and the risk probe that
//! measures a token by `eth_call` simulation with state overrides.

pub mod abi;
pub mod behaviour;
pub mod bytecode;
pub mod launch;
pub mod logs;
pub mod pair_events;
pub mod probe;

use alloy::{
    primitives::Address,
    providers::{DynProvider, Provider, ProviderBuilder, WsConnect},
};

/// A read-only HTTP provider (no signer, no fillers).
pub fn http_provider(url: &str) -> Result<DynProvider, alloy::transports::TransportError> {
    let url =
        url.parse().map_err(|e| alloy::transports::TransportErrorKind::custom_str(&format!("bad URL {url}: {e}")))?;
    Ok(ProviderBuilder::new().disable_recommended_fillers().connect_http(url).erased())
}

/// A websocket provider for subscriptions.
pub async fn ws_provider(url: &str) -> Result<DynProvider, alloy::transports::TransportError> {
    Ok(ProviderBuilder::new().disable_recommended_fillers().connect_ws(WsConnect::new(url)).await?.erased())
}

/// EVM addresses in the mirror: 0x-prefixed lowercase hex.
pub fn addr(a: Address) -> String {
    format!("{a:#x}")
}
