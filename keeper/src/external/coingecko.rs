//! CoinGecko API v3 (`https://api.coingecko.com/api/v3` with an optional demo key in
//! `x-cg-demo-api-key`): simple price by coin id, token price by contract. Prices are cached for
//! `cache_ttl_ms`.

use std::collections::HashMap;

use super::{http::KeyStyle, ExternalError, Http, Service, ServiceConfig, TtlCache, Usd};

/// `{"<id or contract>": {"usd": 1.23}}`.
type PriceMap = HashMap<String, HashMap<String, Option<Usd>>>;

pub struct CoinGecko {
    http: Http,
    prices: TtlCache<String, Option<Usd>>,
}

impl CoinGecko {
    pub fn new(cfg: &ServiceConfig, key: Option<String>) -> Result<Self, ExternalError> {
        Ok(Self {
            http: Http::new(Service::CoinGecko, cfg, key, KeyStyle::Header("x-cg-demo-api-key"), &[])?,
            prices: TtlCache::new(std::time::Duration::from_millis(cfg.cache_ttl_ms)),
        })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// `GET /simple/price?ids=...&vs_currencies=usd`: USD price per coin id (absent when unknown).
    pub async fn simple_price(&self, ids: &[&str]) -> Result<HashMap<String, Usd>, ExternalError> {
        self.cached(ids.iter().map(|i| format!("id:{i}")).collect(), || async {
            let query = [("ids", ids.join(",")), ("vs_currencies", "usd".to_string())];
            let r: PriceMap = self.http.get("/simple/price", &query).await?;
            Ok(ids.iter().map(|i| (format!("id:{i}"), usd(&r, i))).collect())
        })
        .await
        .map(|m| m.into_iter().map(|(k, v)| (k.trim_start_matches("id:").to_string(), v)).collect())
    }

    /// `GET /simple/token_price/{platform}?contract_addresses=...&vs_currencies=usd`: USD price
    /// per contract (lower-cased for EVM), absent when CoinGecko does not price it.
    pub async fn token_price(&self, platform: &str, contracts: &[&str]) -> Result<HashMap<String, Usd>, ExternalError> {
        let norm = |c: &str| if c.starts_with("0x") { c.to_ascii_lowercase() } else { c.to_string() };
        let keys = contracts.iter().map(|c| format!("{platform}:{}", norm(c))).collect();
        self.cached(keys, || async {
            let query = [("contract_addresses", contracts.join(",")), ("vs_currencies", "usd".to_string())];
            let r: PriceMap = self.http.get(&format!("/simple/token_price/{platform}"), &query).await?;
            // CoinGecko answers EVM contracts lower-cased.
            let r: PriceMap = r.into_iter().map(|(k, v)| (norm(&k), v)).collect();
            Ok(contracts.iter().map(|c| (format!("{platform}:{}", norm(c)), usd(&r, &norm(c)))).collect())
        })
        .await
        .map(|m| m.into_iter().map(|(k, v)| (k.split_once(':').map(|(_, c)| c.to_string()).unwrap_or(k), v)).collect())
    }

    /// Serves fresh cache entries; fetches (all of `keys`) when any is missing or stale.
    async fn cached<F, Fut>(&self, keys: Vec<String>, fetch: F) -> Result<HashMap<String, Usd>, ExternalError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<(String, Option<Usd>)>, ExternalError>>,
    {
        let hits: Vec<Option<Option<Usd>>> = keys.iter().map(|k| self.prices.get(k)).collect();
        let fetched = if hits.iter().all(Option::is_some) {
            keys.iter().cloned().zip(hits.into_iter().flatten()).collect()
        } else {
            let fresh = fetch().await?;
            for (k, v) in &fresh {
                self.prices.put(k.clone(), *v);
            }
            fresh
        };
        Ok(fetched.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
    }
}

fn usd(map: &PriceMap, key: &str) -> Option<Usd> {
    map.get(key).and_then(|m| m.get("usd").copied().flatten())
}
