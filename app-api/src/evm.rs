//! The EVM chains the API can build transactions for: a JSON-RPC URL per chain and the router of
//! each Uniswap V2-style venue (the mirror's pool `venue` is the keeper's factory name), given on
//! the command line as `--evm-rpc CHAIN=URL` and `--evm-router CHAIN/VENUE=0xROUTER`.

use std::collections::BTreeMap;

use alloy::{
    primitives::Address,
    providers::{DynProvider, Provider, ProviderBuilder},
};

/// One EVM chain.
#[derive(Debug, Clone, Default)]
pub struct EvmChain {
    pub rpc: Option<String>,
    /// Router by venue.
    pub routers: BTreeMap<String, Address>,
}

/// Every configured EVM chain, by the mirror's chain name.
#[derive(Debug, Clone, Default)]
pub struct EvmChains(pub BTreeMap<String, EvmChain>);

impl EvmChains {
    /// From `CHAIN=URL` and `CHAIN/VENUE=0xROUTER` settings; an error names the flag and value.
    pub fn parse(rpcs: &[String], routers: &[String]) -> Result<Self, String> {
        let mut chains = BTreeMap::<String, EvmChain>::new();
        for s in rpcs {
            let (chain, url) =
                s.split_once('=').ok_or_else(|| format!("--evm-rpc {s}: must be CHAIN=URL (e.g. local=http://...)"))?;
            url.parse::<reqwest::Url>().map_err(|e| format!("--evm-rpc {s}: bad URL: {e}"))?;
            chains.entry(chain.to_string()).or_default().rpc = Some(url.to_string());
        }
        for s in routers {
            let parsed = s.split_once('=').and_then(|(key, router)| {
                let (chain, venue) = key.split_once('/')?;
                Some((chain, venue, router.parse::<Address>().ok()?))
            });
            let (chain, venue, router) =
                parsed.ok_or_else(|| format!("--evm-router {s}: must be CHAIN/VENUE=0xROUTER (a 20-byte address)"))?;
            chains.entry(chain.to_string()).or_default().routers.insert(venue.to_string(), router);
        }
        Ok(Self(chains))
    }
}

/// A read-only HTTP provider (no signer, no fillers) for `url`.
pub fn provider(url: &str) -> Result<DynProvider, String> {
    let url = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
    Ok(ProviderBuilder::new().disable_recommended_fillers().connect_http(url).erased())
}
