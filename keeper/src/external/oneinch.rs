//! 1inch Swap API v6.0 (`https://api.1inch.dev/swap/v6.0/{chainId}/quote`, `Authorization:
//! Bearer <key>`): what selling an amount of one token returns of another on an EVM chain.

use alloy::primitives::{Address, U256};
use serde::Deserialize;

use super::{amount_str, http::KeyStyle, ExternalError, Http, Service, ServiceConfig};

/// `GET /swap/v6.0/{chain}/quote` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    #[serde(with = "amount_str")]
    pub dst_amount: U256,
    #[serde(default)]
    pub gas: Option<u64>,
}

pub struct OneInch {
    http: Http,
}

impl OneInch {
    pub fn new(cfg: &ServiceConfig, key: Option<String>) -> Result<Self, ExternalError> {
        Ok(Self { http: Http::new(Service::OneInch, cfg, key, KeyStyle::Bearer, &[])? })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub async fn quote(&self, chain_id: u64, src: Address, dst: Address, amount: U256) -> Result<U256, ExternalError> {
        let query = [("src", src.to_checksum(None)), ("dst", dst.to_checksum(None)), ("amount", amount.to_string())];
        let q: Quote = self.http.get(&format!("/swap/v6.0/{chain_id}/quote"), &query).await?;
        Ok(q.dst_amount)
    }
}
