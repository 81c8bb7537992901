//! DexScreener in the keeper: the market of every discovered token (its deepest pair's USD
//! price, liquidity, FDV, market cap, age, websites and socials) into `token_markets`, and,
//! when enabled, new Solana pairs from DexScreener's newest token profiles as an extra discovery
//! source. Pairs found that way are on other venues (Raydium, Orca, Meteora...): the risk worker
//! scores their token like any other and the trader buys them through Jupiter.

use std::{collections::BTreeMap, time::Duration};

use anchor_lang::{prelude::Pubkey, solana_program::program_pack::Pack};
use anchor_spl::token::spl_token;
use mirror::{Batch, PoolRow, Row, TokenRow, WriterHandle};
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use crate::external::{
    dexscreener::{deepest, DexScreener, Market, Pair},
    ExternalError, Usd,
};

/// DexScreener answers for at most this many tokens per request.
const BATCH: usize = 30;

#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error(transparent)]
    Service(#[from] ExternalError),
    #[error(transparent)]
    Mirror(#[from] mirror::MirrorError),
    #[error("solana rpc: {0}")]
    Rpc(String),
}

/// New Solana pairs from DexScreener.
pub struct SolanaDiscovery {
    /// Our name of the Solana chain.
    pub chain: String,
    pub rpc: RpcClient,
    /// Only pairs against these are taken (the trader's quote tokens).
    pub quote_mints: Vec<Pubkey>,
}

pub struct Markets {
    pub dex: DexScreener,
    /// Reads, and `token_markets` (which this task owns).
    pub db: SqlitePool,
    /// Pools, tokens and reserves go through the writer.
    pub writer: WriterHandle,
    /// Our chain names -> DexScreener chain ids; chains not listed are not enriched.
    pub chains: BTreeMap<String, String>,
    pub discovery: Option<SolanaDiscovery>,
    pub poll: Duration,
    /// Markets of tokens whose pool is under a day old are fetched again once this old
    /// (`Duration::ZERO`: never).
    pub refresh: Duration,
}

/// How long after a pool is first seen its token's market keeps being refreshed.
const REFRESH_WINDOW_MS: i64 = 86_400_000;

impl Markets {
    /// Runs until cancelled: discovery (if enabled), then enrichment, every `poll`. A failing
    /// service only delays the next round.
    pub async fn run(&self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = self.round().await {
                        tracing::warn!(error = %e, "dexscreener round failed; retried next round");
                    }
                }
            }
        }
    }

    /// One round: (pools discovered, tokens enriched).
    pub async fn round(&self) -> Result<(usize, usize), MarketError> {
        let found = match &self.discovery {
            Some(d) => self.discover(d).await?,
            None => 0,
        };
        Ok((found, self.enrich().await?))
    }

    /// Writes the market of every token of a pool that has none yet (newest pools first), then
    /// refreshes stale ones of young pools, with the reserves of the pools DexScreener
    /// discovery found.
    pub async fn enrich(&self) -> Result<usize, MarketError> {
        let refresh_ms = i64::try_from(self.refresh.as_millis()).unwrap_or(i64::MAX);
        let pending = mirror::markets::pending(&self.db, refresh_ms, REFRESH_WINDOW_MS).await?;
        let mut by_chain: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (chain, token) in &pending {
            by_chain.entry(chain).or_default().push(token);
        }
        let mut written = 0;
        for (chain, tokens) in by_chain {
            let Some(chain_id) = self.chains.get(chain) else { continue };
            for batch in tokens.chunks(BATCH) {
                let pairs = self.dex.pairs_by_tokens(chain_id, batch).await?;
                for token in batch {
                    let pair = deepest(&pairs, chain_id, token, |_| true);
                    write_market(&self.db, chain, token, pair.map(Market::from).as_ref()).await?;
                    if let Some(pair) = pair {
                        self.update_reserves(chain, pair).await?;
                    }
                    written += 1;
                }
            }
        }
        Ok(written)
    }

    /// Pools of the newest DexScreener token profiles on Solana that the mirror does not know,
    /// each token's deepest pair against a quote mint, with its reserves in base units.
    pub async fn discover(&self, d: &SolanaDiscovery) -> Result<usize, MarketError> {
        let Some(chain_id) = self.chains.get(&d.chain) else { return Ok(0) };
        let mut tokens: Vec<String> = Vec::new();
        for p in self.dex.latest_profiles().await? {
            if &p.chain_id == chain_id
                && !tokens.contains(&p.token_address)
                && p.token_address.parse::<Pubkey>().is_ok()
            {
                tokens.push(p.token_address);
            }
        }
        let mut fresh = Vec::new();
        for t in tokens {
            if !mirror::markets::has_pool(&self.db, &d.chain, &t).await? {
                fresh.push(t);
            }
        }
        let quotes: Vec<String> = d.quote_mints.iter().map(ToString::to_string).collect();
        let mut found = 0;
        for batch in fresh.chunks(BATCH) {
            let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
            let pairs = self.dex.pairs_by_tokens(chain_id, &refs).await?;
            for token in batch {
                let Some(pair) = deepest(&pairs, chain_id, token, |p| quotes.contains(&p.quote_token.address)) else {
                    continue;
                };
                if self.insert_pool(d, pair).await? {
                    found += 1;
                    tracing::info!(chain = %d.chain, venue = %pair.dex_id, pool = %pair.pair_address, %token,
                        "new pair from dexscreener");
                }
            }
        }
        Ok(found)
    }

    /// Mirrors a pair DexScreener discovery found; true when the pool is new.
    async fn insert_pool(&self, d: &SolanaDiscovery, pair: &Pair) -> Result<bool, MarketError> {
        let mints: Vec<Pubkey> =
            [&pair.base_token.address, &pair.quote_token.address].iter().filter_map(|a| a.parse().ok()).collect();
        let accounts = d.rpc.get_multiple_accounts(&mints).await.map_err(|e| MarketError::Rpc(e.to_string()))?;
        let decimals: Vec<Option<u8>> = accounts
            .iter()
            .map(|a| {
                let a = a.as_ref()?;
                let data = a.data.get(..spl_token::state::Mint::LEN)?;
                Some(spl_token::state::Mint::unpack_from_slice(data).ok()?.decimals)
            })
            .collect();
        let (Some(Some(base_decimals)), Some(Some(quote_decimals))) = (decimals.first(), decimals.get(1)) else {
            tracing::debug!(pool = %pair.pair_address, "dexscreener pair whose mints are not on this chain; skipped");
            return Ok(false);
        };
        let (reserve_a, reserve_b) = reserves(pair, *base_decimals, *quote_decimals);
        let mut rows = vec![Row::Pool(PoolRow {
            chain: d.chain.clone(),
            venue: pair.dex_id.clone(),
            address: pair.pair_address.clone(),
            token_a: pair.base_token.address.clone(),
            token_b: pair.quote_token.address.clone(),
            base_token: Some(pair.base_token.address.clone()),
            reserve_a,
            reserve_b,
            created_block_time: pair.pair_created_at.map(|ms| ms / 1_000),
            ..Default::default()
        })];
        for (t, dec) in [(&pair.base_token, base_decimals), (&pair.quote_token, quote_decimals)] {
            rows.push(Row::Token(TokenRow {
                chain: d.chain.clone(),
                address: t.address.clone(),
                symbol: Some(t.symbol.clone()),
                name: Some(t.name.clone()),
                decimals: Some(*dec),
                total_supply: None,
            }));
        }
        Ok(self.writer.commit(Batch::of(rows)).await?.new_pools > 0)
    }

    /// New reserves for the pool DexScreener discovery mirrored from this pair (its venue is the
    /// pair's `dexId`; pools our indexers follow keep the reserves they read from chain).
    async fn update_reserves(&self, chain: &str, pair: &Pair) -> Result<(), MarketError> {
        let (base, quote) = (&pair.base_token.address, &pair.quote_token.address);
        let decimals = mirror::token_decimals(&self.db, chain, &[base, quote]).await?;
        let of = |a: &str| decimals.iter().find(|(t, _)| t == a).map(|(_, d)| *d);
        let (Some(base_decimals), Some(quote_decimals)) = (of(base), of(quote)) else { return Ok(()) };
        let (reserve_a, reserve_b) = reserves(pair, base_decimals, quote_decimals);
        let row = Row::VenueReserves {
            chain: chain.to_string(),
            address: pair.pair_address.clone(),
            venue: pair.dex_id.clone(),
            token_a: base.clone(),
            token_b: quote.clone(),
            reserve_a,
            reserve_b,
        };
        self.writer.commit(Batch::of(vec![row])).await?;
        Ok(())
    }
}

/// `amount` whole tokens (fixed-point, 18 decimals) in base units of a `decimals` token, rounded
/// down.
pub fn base_units(amount: Usd, decimals: u8) -> Option<u128> {
    let scale = 10i128.checked_pow(u32::from(decimals))?;
    let v = alloy::primitives::I256::try_from(amount.0).ok()? * alloy::primitives::I256::try_from(scale).ok()?
        / alloy::primitives::I256::try_from(Usd::SCALE).ok()?;
    u128::try_from(v).ok()
}

/// The pair's (base, quote) reserves in base units, from DexScreener's liquidity in whole tokens.
fn reserves(pair: &Pair, base_decimals: u8, quote_decimals: u8) -> (String, String) {
    let liquidity = pair.liquidity.as_ref();
    let reserve = |v: Option<Usd>, dec: u8| v.and_then(|v| base_units(v, dec)).unwrap_or(0).to_string();
    (reserve(liquidity.and_then(|l| l.base), base_decimals), reserve(liquidity.and_then(|l| l.quote), quote_decimals))
}

/// Records what DexScreener knows of a token (`None`: not listed).
pub async fn write_market(db: &SqlitePool, chain: &str, token: &str, m: Option<&Market>) -> mirror::Result<()> {
    let text = |v: Option<Usd>| v.map(|v| v.to_string());
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    let row = m.map(|m| mirror::markets::MarketRow {
        dex: &m.dex,
        pair: &m.pair,
        url: &m.url,
        price_usd: text(m.price_usd),
        liquidity_usd: text(m.liquidity_usd),
        fdv_usd: text(m.fdv_usd),
        market_cap_usd: text(m.market_cap_usd),
        pair_created_at_ms: m.pair_created_at_ms,
        websites: json(&m.websites),
        socials: json(&m.socials),
    });
    mirror::markets::write(db, chain, token, row.as_ref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_tokens_become_base_units_exactly() {
        assert_eq!(base_units(Usd::parse("1234.567891").unwrap(), 6), Some(1_234_567_891));
        assert_eq!(base_units(Usd::parse("0.0000001").unwrap(), 6), Some(0), "below one base unit");
        assert_eq!(base_units(Usd::parse("85.5").unwrap(), 9), Some(85_500_000_000));
        assert_eq!(base_units(Usd::parse("-1").unwrap(), 9), None);
    }
}
