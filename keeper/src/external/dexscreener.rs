//! DexScreener API (`https://api.dexscreener.com`, no key): newest token profiles, pairs by
//! token, search. Rate limits: 60 requests/minute for profiles, 300 for pairs.

use serde::{Deserialize, Serialize};

use super::{http::KeyStyle, ExternalError, Http, Service, ServiceConfig, TtlCache, Usd};

/// `GET /token-profiles/latest/v1` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenProfile {
    pub url: String,
    pub chain_id: String,
    pub token_address: String,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    pub url: String,
}

/// A pair, as `/tokens/v1/...`, `/latest/dex/search` and `/latest/dex/pairs/...` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pair {
    pub chain_id: String,
    pub dex_id: String,
    pub url: String,
    pub pair_address: String,
    pub base_token: PairToken,
    pub quote_token: PairToken,
    #[serde(default)]
    pub price_native: Option<String>,
    #[serde(default)]
    pub price_usd: Option<Usd>,
    #[serde(default)]
    pub liquidity: Option<Liquidity>,
    #[serde(default)]
    pub fdv: Option<Usd>,
    #[serde(default)]
    pub market_cap: Option<Usd>,
    /// Unix milliseconds.
    #[serde(default)]
    pub pair_created_at: Option<i64>,
    #[serde(default)]
    pub info: Option<PairInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairToken {
    pub address: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub symbol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liquidity {
    #[serde(default)]
    pub usd: Option<Usd>,
    /// The pool's reserves in whole tokens (decimals applied), exact decimals in the same
    /// fixed-point as [`Usd`].
    #[serde(default)]
    pub base: Option<Usd>,
    #[serde(default)]
    pub quote: Option<Usd>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairInfo {
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub websites: Vec<Website>,
    #[serde(default)]
    pub socials: Vec<Social>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Website {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Social {
    #[serde(alias = "type")]
    pub platform: String,
    #[serde(alias = "url")]
    pub handle: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PairsEnvelope {
    #[serde(default)]
    pairs: Option<Vec<Pair>>,
}

/// What the keeper keeps of a token's market: its deepest pair's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Market {
    pub dex: String,
    pub pair: String,
    pub url: String,
    pub price_usd: Option<Usd>,
    pub liquidity_usd: Option<Usd>,
    pub fdv_usd: Option<Usd>,
    pub market_cap_usd: Option<Usd>,
    pub pair_created_at_ms: Option<i64>,
    pub websites: Vec<String>,
    pub socials: Vec<String>,
}

pub struct DexScreener {
    http: Http,
    markets: TtlCache<(String, String), Option<Market>>,
}

impl DexScreener {
    pub fn new(cfg: &ServiceConfig) -> Result<Self, ExternalError> {
        Ok(Self {
            http: Http::new(Service::DexScreener, cfg, None, KeyStyle::Bearer, &[])?,
            markets: TtlCache::new(std::time::Duration::from_millis(cfg.cache_ttl_ms)),
        })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub async fn latest_profiles(&self) -> Result<Vec<TokenProfile>, ExternalError> {
        self.http.get("/token-profiles/latest/v1", &[]).await
    }

    /// Pairs of up to 30 tokens on one chain (`/tokens/v1/{chainId}/{addresses}`).
    pub async fn pairs_by_tokens(&self, chain_id: &str, tokens: &[&str]) -> Result<Vec<Pair>, ExternalError> {
        let list = tokens.iter().take(30).copied().collect::<Vec<_>>().join(",");
        self.http.get(&format!("/tokens/v1/{chain_id}/{list}"), &[]).await
    }

    /// `/latest/dex/search?q=`.
    pub async fn search(&self, query: &str) -> Result<Vec<Pair>, ExternalError> {
        let r: PairsEnvelope = self.http.get("/latest/dex/search", &[("q", query.to_string())]).await?;
        Ok(r.pairs.unwrap_or_default())
    }

    /// The token's deepest pair on `chain_id` (cached), or `None` when DexScreener lists none.
    pub async fn market(&self, chain_id: &str, token: &str) -> Result<Option<Market>, ExternalError> {
        let key = (chain_id.to_string(), token.to_ascii_lowercase());
        if let Some(m) = self.markets.get(&key) {
            return Ok(m);
        }
        let pairs = self.pairs_by_tokens(chain_id, &[token]).await?;
        let market = deepest(&pairs, chain_id, token, |_| true).map(Market::from);
        self.markets.put(key, market.clone());
        Ok(market)
    }
}

/// The pair on `chain_id` with the most USD liquidity whose base token is `token` (EVM addresses
/// compared case-insensitively) and that `keep` accepts.
pub fn deepest<'a>(pairs: &'a [Pair], chain_id: &str, token: &str, keep: impl Fn(&Pair) -> bool) -> Option<&'a Pair> {
    pairs
        .iter()
        .filter(|p| p.chain_id == chain_id && p.base_token.address.eq_ignore_ascii_case(token) && keep(p))
        .max_by_key(|p| p.liquidity.as_ref().and_then(|l| l.usd).unwrap_or_default())
}

impl From<&Pair> for Market {
    fn from(p: &Pair) -> Self {
        let info = p.info.as_ref();
        Market {
            dex: p.dex_id.clone(),
            pair: p.pair_address.clone(),
            url: p.url.clone(),
            price_usd: p.price_usd,
            liquidity_usd: p.liquidity.as_ref().and_then(|l| l.usd),
            fdv_usd: p.fdv,
            market_cap_usd: p.market_cap,
            pair_created_at_ms: p.pair_created_at,
            websites: info.map(|i| i.websites.iter().map(|w| w.url.clone()).collect()).unwrap_or_default(),
            socials: info
                .map(|i| i.socials.iter().map(|s| format!("{}:{}", s.platform, s.handle)).collect())
                .unwrap_or_default(),
        }
    }
}
