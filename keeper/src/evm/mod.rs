//! EVM chains: new-pair discovery over websocket logs with `eth_getLogs` backfill and reorg
//! unwinding, and risk measurement by `eth_call` simulation with state overrides.

pub mod abi;
pub mod discovery;
pub mod risk;

use alloy::providers::{DynProvider, Provider, ProviderBuilder, WsConnect};

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
