//! 0x Swap API v2 (`https://api.0x.org`, `0x-api-key` and `0x-version: v2` headers): the
//! indicative price of selling an amount of one token for another on an EVM chain.

use alloy::primitives::{Address, U256};
use serde::Deserialize;

use super::{amount_str, http::KeyStyle, ExternalError, Failure, Http, Service, ServiceConfig};

/// `GET /swap/allowance-holder/price` answer (the fields the keeper reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    pub liquidity_available: bool,
    #[serde(default, with = "opt_amount")]
    pub buy_amount: Option<U256>,
    #[serde(default, with = "opt_amount")]
    pub min_buy_amount: Option<U256>,
    #[serde(default, with = "opt_amount")]
    pub sell_amount: Option<U256>,
    #[serde(default)]
    pub buy_token: Option<Address>,
    #[serde(default)]
    pub sell_token: Option<Address>,
    #[serde(default)]
    pub route: Option<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Route {
    #[serde(default)]
    pub fills: Vec<Fill>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fill {
    pub source: String,
    #[serde(with = "amount_str")]
    pub proportion_bps: u32,
}

mod opt_amount {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<U256>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "crate::external::amount_str")] U256);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

pub struct ZeroEx {
    http: Http,
}

impl ZeroEx {
    pub fn new(cfg: &ServiceConfig, key: Option<String>) -> Result<Self, ExternalError> {
        Ok(Self {
            http: Http::new(Service::ZeroEx, cfg, key, KeyStyle::Header("0x-api-key"), &[("0x-version", "v2")])?,
        })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// What selling `sell_amount` of `sell` buys of `buy` on `chain_id`; `None` when 0x has no
    /// liquidity for it.
    pub async fn price(
        &self,
        chain_id: u64,
        sell: Address,
        buy: Address,
        sell_amount: U256,
    ) -> Result<Option<U256>, ExternalError> {
        let query = [
            ("chainId", chain_id.to_string()),
            ("sellToken", sell.to_checksum(None)),
            ("buyToken", buy.to_checksum(None)),
            ("sellAmount", sell_amount.to_string()),
        ];
        let p: Price = self.http.get("/swap/allowance-holder/price", &query).await?;
        if !p.liquidity_available {
            return Ok(None);
        }
        if p.buy_token.is_some_and(|t| t != buy) || p.sell_token.is_some_and(|t| t != sell) {
            return Err(self.http.error(Failure::Rejected("price is for another pair".into())));
        }
        p.buy_amount.map(Some).ok_or_else(|| self.http.error(Failure::Malformed("liquidity but no buyAmount".into())))
    }
}
