//! What third-party services add to trading, off the hot path: USD values of positions from
//! CoinGecko prices of their quote token, and, on EVM buys, the quotes 0x and 1inch give for the
//! same input, recorded against the keeper's own exact pair quote. Neither ever delays or
//! changes a trade; a failing service only leaves its columns empty.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::Duration,
};

use alloy::primitives::{Address, I256, U256};
use sqlx::SqlitePool;

use super::{amount, Mode, TradeError};
use mirror::{now_ms, trading, PositionStatus};

use crate::external::{coingecko::CoinGecko, oneinch::OneInch, zeroex::ZeroEx, ExternalError, Usd};

/// USD values of positions.
pub struct UsdPricer {
    pub coingecko: CoinGecko,
    /// Our chain names -> CoinGecko asset platforms.
    pub platforms: BTreeMap<String, String>,
    /// How often the trader runs a round (15 s).
    pub every: Duration,
    decimals: Mutex<HashMap<(String, String), u8>>,
}

/// The USD columns of one position, from the quote token's price at entry, at exit (closed
/// positions) and now. Pure, so it is tested on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdView {
    pub entry_quote_usd: Usd,
    pub exit_quote_usd: Option<Usd>,
    pub cost_usd: Usd,
    pub proceeds_usd: Usd,
    pub value_usd: Option<Usd>,
    /// Realized (closed) or unrealized (open: current value plus proceeds, less cost).
    pub pnl_usd: Usd,
}

/// Cost at the entry price; proceeds at the exit price once closed (else now); the open size's
/// value at the current price.
pub fn usd_view(
    price: Usd,
    entry: Option<Usd>,
    exit: Option<Usd>,
    closed: bool,
    (cost, proceeds, value): (u128, u128, Option<u128>),
    decimals: u8,
) -> Option<UsdView> {
    let entry = entry.unwrap_or(price);
    let exit = if closed { Some(exit.unwrap_or(price)) } else { None };
    let cost_usd = entry.value_of(cost, decimals)?;
    let proceeds_usd = exit.unwrap_or(price).value_of(proceeds, decimals)?;
    let value_usd = match (closed, value) {
        (false, Some(v)) => Some(price.value_of(v, decimals)?),
        _ => None,
    };
    let pnl = proceeds_usd.0.checked_add(value_usd.map_or(0, |v| v.0))?.checked_sub(cost_usd.0)?;
    Some(UsdView { entry_quote_usd: entry, exit_quote_usd: exit, cost_usd, proceeds_usd, value_usd, pnl_usd: Usd(pnl) })
}

impl UsdPricer {
    pub fn new(coingecko: CoinGecko, platforms: BTreeMap<String, String>) -> Self {
        Self { coingecko, platforms, every: Duration::from_secs(15), decimals: Mutex::new(HashMap::new()) }
    }

    /// Prices every open position and every closed one not yet priced at its exit. `decimals`
    /// reads a quote token's decimals from its chain (cached here). Returns positions updated.
    pub async fn price_positions<F, Fut>(&self, db: &SqlitePool, mode: Mode, decimals: F) -> Result<usize, TradeError>
    where
        F: Fn(String, String) -> Fut,
        Fut: std::future::Future<Output = Result<u8, TradeError>>,
    {
        let rows = trading::usd_pending(db, mode, now_ms() - 86_400_000).await?;
        let mut wanted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in &rows {
            if let Some(platform) = self.platforms.get(&r.chain) {
                let list = wanted.entry(platform.as_str()).or_default();
                if !list.contains(&r.quote_token.as_str()) {
                    list.push(&r.quote_token);
                }
            }
        }
        let mut prices: HashMap<(&str, String), Usd> = HashMap::new();
        for (platform, tokens) in wanted {
            match self.coingecko.token_price(platform, &tokens).await {
                Ok(found) => prices.extend(found.into_iter().map(|(k, v)| ((platform, k.to_ascii_lowercase()), v))),
                Err(e) => tracing::warn!(error = %e, %platform, "no USD prices this round"),
            }
        }
        let mut updated = 0;
        for r in &rows {
            let Some(platform) = self.platforms.get(&r.chain) else { continue };
            let Some(price) = prices.get(&(platform.as_str(), r.quote_token.to_ascii_lowercase())).copied() else {
                continue;
            };
            let dec_key = (r.chain.clone(), r.quote_token.clone());
            let cached = self.decimals.lock().ok().and_then(|d| d.get(&dec_key).copied());
            let dec = match cached {
                Some(d) => d,
                None => {
                    let d = match decimals(r.chain.clone(), r.quote_token.clone()).await {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::warn!(chain = %r.chain, token = %r.quote_token, error = %e, "quote token decimals unknown; not valued in USD");
                            continue;
                        }
                    };
                    if let Ok(mut m) = self.decimals.lock() {
                        m.insert(dec_key, d);
                    }
                    d
                }
            };
            let parse = |v: &Option<String>| v.as_deref().and_then(Usd::parse);
            let u128_of = |v: &str| u128::try_from(amount(v)).ok();
            let (Some(cost), Some(proceeds)) = (u128_of(&r.cost), u128_of(&r.proceeds)) else { continue };
            let value = r.last_value.as_deref().and_then(u128_of);
            let closed = r.status == PositionStatus::Closed;
            let Some(v) = usd_view(
                price,
                parse(&r.entry_quote_usd),
                parse(&r.exit_quote_usd),
                closed,
                (cost, proceeds, value),
                dec,
            ) else {
                continue;
            };
            let text = |u: Usd| u.to_string();
            let values = trading::UsdValues {
                entry_quote_usd: text(v.entry_quote_usd),
                exit_quote_usd: v.exit_quote_usd.map(text),
                quote_usd: text(price),
                cost_usd: text(v.cost_usd),
                proceeds_usd: text(v.proceeds_usd),
                value_usd: v.value_usd.map(text),
                pnl_usd: text(v.pnl_usd),
            };
            trading::record_usd(db, r.id, &values).await?;
            updated += 1;
        }
        Ok(updated)
    }
}

/// 0x and 1inch quotes for EVM buys.
pub struct Aggregators {
    pub zeroex: Option<ZeroEx>,
    pub oneinch: Option<OneInch>,
}

/// `(theirs - ours) * 10000 / ours`, saturating at the i64 range; `None` when ours is zero.
pub fn diff_bps(ours: U256, theirs: U256) -> Option<i64> {
    if ours.is_zero() {
        return None;
    }
    let (o, t) = (I256::try_from(ours).ok()?, I256::try_from(theirs).ok()?);
    let d = (t - o).checked_mul(I256::try_from(10_000).ok()?)? / o;
    Some(i64::try_from(d).unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX }))
}

impl Aggregators {
    /// Asks each enabled aggregator what `amount_in` of `sell` buys of `buy` and records it
    /// with the keeper's own quote `ours` for trade `trade_id`.
    #[allow(clippy::too_many_arguments)]
    pub async fn compare(
        &self,
        db: &SqlitePool,
        trade_id: i64,
        chain: &str,
        chain_id: u64,
        sell: Address,
        buy: Address,
        amount_in: U256,
        ours: U256,
    ) -> mirror::Result<()> {
        let zeroex = async {
            match &self.zeroex {
                Some(z) => Some(z.price(chain_id, sell, buy, amount_in).await),
                None => None,
            }
        };
        let oneinch = async {
            match &self.oneinch {
                Some(o) => Some(o.quote(chain_id, sell, buy, amount_in).await.map(Some)),
                None => None,
            }
        };
        let (z, o) = tokio::join!(zeroex, oneinch);
        for (service, result) in [("zeroex", z), ("oneinch", o)] {
            let Some(result) = result else { continue };
            let (theirs, error): (Option<U256>, Option<String>) = match result {
                Ok(Some(v)) => (Some(v), None),
                Ok(None) => (None, Some("no liquidity for this pair".into())),
                Err(e) => (None, Some(ExternalError::to_string(&e))),
            };
            let diff = theirs.and_then(|t| diff_bps(ours, t));
            if let Some(d) = diff {
                tracing::info!(%chain, trade = trade_id, service, ours = %ours, theirs = ?theirs, diff_bps = d,
                    "aggregator quote compared");
            }
            let (ours, theirs) = (ours.to_string(), theirs.map(|t| t.to_string()));
            let quote = trading::AggregatorQuote {
                trade_id,
                chain,
                service,
                our_out: &ours,
                their_out: theirs.as_deref(),
                diff_bps: diff,
                error: error.as_deref(),
            };
            trading::record_aggregator_quote(db, &quote).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Usd {
        Usd::parse(s).unwrap()
    }

    #[test]
    fn usd_view_prices_cost_at_entry_and_proceeds_at_exit() {
        // 2 SOL (9 decimals) bought at $100, now $150, half the value left: open.
        let v =
            usd_view(usd("150"), Some(usd("100")), None, false, (2_000_000_000, 0, Some(1_000_000_000)), 9).unwrap();
        assert_eq!(v.cost_usd, usd("200"));
        assert_eq!(v.value_usd, Some(usd("150")));
        assert_eq!(v.pnl_usd, usd("-50"));
        assert_eq!(v.exit_quote_usd, None);
        // Closed: proceeds of 3 SOL at the exit price recorded before ($120), not today's.
        let v = usd_view(usd("150"), Some(usd("100")), Some(usd("120")), true, (2_000_000_000, 3_000_000_000, None), 9)
            .unwrap();
        assert_eq!((v.proceeds_usd, v.pnl_usd, v.value_usd), (usd("360"), usd("160"), None));
        // First pricing of a closed position: entry and exit both at the price now.
        let v = usd_view(usd("2.5"), None, None, true, (1_000_000, 1_100_000, None), 6).unwrap();
        assert_eq!((v.entry_quote_usd, v.exit_quote_usd, v.pnl_usd), (usd("2.5"), Some(usd("2.5")), usd("0.25")));
    }

    #[test]
    fn diff_bps_is_signed_and_exact() {
        assert_eq!(diff_bps(U256::from(10_000u64), U256::from(10_150u64)), Some(150));
        assert_eq!(diff_bps(U256::from(10_000u64), U256::from(9_900u64)), Some(-100));
        assert_eq!(diff_bps(U256::ZERO, U256::from(1u64)), None);
        assert_eq!(diff_bps(U256::from(1u64), U256::from(u128::MAX)), Some(i64::MAX), "saturates");
    }
}
