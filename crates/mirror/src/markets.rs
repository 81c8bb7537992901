//! `token_markets`: written by the DexScreener source only; and the reads that source needs.

use sqlx::SqlitePool;

use crate::{now_ms, Result};

/// A token's market as a market-data service reports it (USD values as exact decimal text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarketRow<'a> {
    pub dex: &'a str,
    pub pair: &'a str,
    pub url: &'a str,
    pub price_usd: Option<String>,
    pub liquidity_usd: Option<String>,
    pub fdv_usd: Option<String>,
    pub market_cap_usd: Option<String>,
    pub pair_created_at_ms: Option<i64>,
    /// JSON arrays.
    pub websites: String,
    pub socials: String,
}

/// Records what the service knows of a token (`None`: not listed).
pub async fn write(db: &SqlitePool, chain: &str, token: &str, m: Option<&MarketRow<'_>>) -> Result<()> {
    let (listed, now) = (m.is_some(), now_ms());
    let empty = "[]".to_string();
    let (dex, pair, url) = (m.map(|m| m.dex), m.map(|m| m.pair), m.map(|m| m.url));
    let (price, liquidity) = (m.and_then(|m| m.price_usd.clone()), m.and_then(|m| m.liquidity_usd.clone()));
    let (fdv, market_cap) = (m.and_then(|m| m.fdv_usd.clone()), m.and_then(|m| m.market_cap_usd.clone()));
    let created = m.and_then(|m| m.pair_created_at_ms);
    let (websites, socials) = (m.map_or(&empty, |m| &m.websites), m.map_or(&empty, |m| &m.socials));
    sqlx::query!(
        "INSERT INTO token_markets (chain, token, listed, dex, pair_address, url, price_usd, liquidity_usd, fdv_usd,
             market_cap_usd, pair_created_at_ms, websites, socials, fetched_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (chain, token) DO UPDATE SET listed = excluded.listed, dex = excluded.dex,
             pair_address = excluded.pair_address, url = excluded.url, price_usd = excluded.price_usd,
             liquidity_usd = excluded.liquidity_usd, fdv_usd = excluded.fdv_usd,
             market_cap_usd = excluded.market_cap_usd, pair_created_at_ms = excluded.pair_created_at_ms,
             websites = excluded.websites, socials = excluded.socials, fetched_at_ms = excluded.fetched_at_ms",
        chain,
        token,
        listed,
        dex,
        pair,
        url,
        price,
        liquidity,
        fdv,
        market_cap,
        created,
        websites,
        socials,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// (chain, token) of every pool's evaluated token without a market yet, newest pools first,
/// then those whose market is older than `refresh_ms` while their pool is younger than
/// `window_ms` (`refresh_ms` 0: never refreshed). At most 300.
pub async fn pending(db: &SqlitePool, refresh_ms: i64, window_ms: i64) -> Result<Vec<(String, String)>> {
    let now = now_ms();
    let rows = sqlx::query!(
        r#"SELECT p.chain AS "chain!", COALESCE(p.base_token, p.token_a) AS "token!: String" FROM pools p
           LEFT JOIN token_markets m ON m.chain = p.chain AND m.token = COALESCE(p.base_token, p.token_a)
           WHERE m.token IS NULL OR (?1 > 0 AND m.fetched_at_ms <= ?2 - ?1 AND p.first_seen_at_ms > ?2 - ?3)
           GROUP BY p.chain, COALESCE(p.base_token, p.token_a)
           ORDER BY MAX(m.fetched_at_ms) IS NOT NULL, MAX(p.id) DESC LIMIT 300"#,
        refresh_ms,
        now,
        window_ms
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.chain, r.token)).collect())
}

/// Whether the mirror has a pool of `token` on `chain`.
pub async fn has_pool(db: &SqlitePool, chain: &str, token: &str) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 1 AS "one!: i64" FROM pools WHERE chain = ?1 AND (token_a = ?2 OR token_b = ?2) LIMIT 1"#,
        chain,
        token
    )
    .fetch_optional(db)
    .await?
    .is_some())
}
