//! New-pair discovery on one EVM chain.
//!
//! * Live: `PairCreated` / `PoolCreated` logs of the configured factories arrive over a websocket
//!   subscription and are mirrored and handed to the risk engine at once (the fast path).
//! * Every new head (also from the websocket, with a polling fallback) drives [`EvmDiscovery::sync_to`]:
//!   it checks the head's parent hash against the hash stored for the checkpoint block, unwinds a
//!   reorg back to the common ancestor, then fetches the factory logs from the checkpoint to the
//!   head with `eth_getLogs` in adaptive ranges (halved whenever the provider refuses a range,
//!   doubled again after successes), reconciles them with what the fast path stored, and advances
//!   the checkpoint in the same transaction. Backfill after downtime is the same code.

use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Header, Log},
    sol_types::SolEvent,
};
use futures::StreamExt;
use sqlx::SqlitePool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::abi::{IUniswapV2Factory::PairCreated, IUniswapV3Factory::PoolCreated};
use crate::{
    config::{EvmChainConfig, FactoryKind},
    mirror::now_ms,
    risk::worker::Job,
};

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("rpc: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("block {0} not found")]
    MissingBlock(u64),
    #[error("the {0} subscription ended")]
    SubscriptionEnded(&'static str),
    #[error("the risk engine has stopped")]
    Downstream,
    #[error("invalid config: {0}")]
    Config(String),
}

/// A pool the keeper has just discovered (and mirrored).
#[derive(Debug, Clone)]
pub struct Discovered {
    pub pool_id: i64,
    pub chain: String,
    pub venue: String,
    pub kind: FactoryKind,
    pub pool: Address,
    pub token0: Address,
    pub token1: Address,
    /// The token being evaluated: the side that is not the wrapped native token.
    pub base_token: Address,
    pub block_number: u64,
    pub tx_hash: Option<B256>,
    pub first_seen_at_ms: i64,
    /// When the log reached the keeper (for latency figures).
    pub seen_at: Instant,
}

#[derive(Debug, Clone)]
struct Factory {
    name: String,
    kind: FactoryKind,
}

/// Next `eth_getLogs` range: halve on refusal (down to one block), double on success up to `max`.
pub fn next_range(current: u64, refused: bool, max: u64) -> u64 {
    if refused {
        (current / 2).max(1)
    } else {
        current.saturating_mul(2).clamp(1, max.max(1))
    }
}

/// All logs matching `filter` in `from..=to`, fetched in ranges of at most `range` blocks that
/// halve whenever the provider refuses one.
pub async fn get_logs_adaptive(
    http: &DynProvider,
    filter: &Filter,
    from: u64,
    to: u64,
    mut range: u64,
) -> Result<Vec<Log>, alloy::transports::TransportError> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = to.min(start.saturating_add(range.max(1) - 1));
        match http.get_logs(&filter.clone().from_block(start).to_block(end)).await {
            Ok(logs) => {
                out.extend(logs);
                start = end + 1;
            }
            Err(_) if end > start => range = next_range(end - start + 1, true, range),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub struct EvmDiscovery {
    chain: String,
    source: String,
    http: DynProvider,
    db: SqlitePool,
    out: mpsc::Sender<Job>,
    factories: BTreeMap<Address, Factory>,
    wrapped_native: Address,
    confirmations: u64,
    start_block: u64,
    max_range: u64,
    range: u64,
    /// Fallback polling interval when the websocket is quiet.
    pub poll_interval: Duration,
}

impl EvmDiscovery {
    pub fn new(
        chain: &str,
        cfg: &EvmChainConfig,
        http: DynProvider,
        db: SqlitePool,
        out: mpsc::Sender<Job>,
    ) -> Result<Self, DiscoveryError> {
        let parse = |s: &str| s.parse::<Address>().map_err(|e| DiscoveryError::Config(format!("{s}: {e}")));
        let mut factories = BTreeMap::new();
        for f in &cfg.factories {
            factories.insert(parse(&f.address)?, Factory { name: f.name.clone(), kind: f.kind });
        }
        Ok(Self {
            chain: chain.to_string(),
            source: format!("evm:{chain}"),
            http,
            db,
            out,
            factories,
            wrapped_native: parse(&cfg.wrapped_native)?,
            confirmations: cfg.confirmations,
            start_block: cfg.start_block,
            max_range: cfg.max_log_range,
            range: cfg.max_log_range,
            poll_interval: Duration::from_secs(4),
        })
    }

    /// The factory-event filter (no block range).
    pub fn filter(&self) -> Filter {
        Filter::new()
            .address(self.factories.keys().copied().collect::<Vec<_>>())
            .event_signature(vec![PairCreated::SIGNATURE_HASH, PoolCreated::SIGNATURE_HASH])
    }

    /// The last fully processed block, if any.
    pub async fn checkpoint(&self) -> Result<Option<u64>, DiscoveryError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT slot FROM checkpoints WHERE source = ?")
            .bind(&self.source)
            .fetch_optional(&self.db)
            .await?;
        Ok(row.map(|(s,)| u64::try_from(s).unwrap_or(0)))
    }

    /// Runs until cancelled: backfills to the head, then follows the chain live over `ws_url`.
    pub async fn run(mut self, ws_url: &str, cancel: CancellationToken) -> Result<(), DiscoveryError> {
        let ws = super::ws_provider(ws_url).await?;
        let mut logs = ws.subscribe_logs(&self.filter()).await?.into_stream();
        let mut heads = ws.subscribe_blocks().await?.into_stream();
        let head = self.http.get_block_number().await?;
        self.sync_to(head, None).await?;
        tracing::info!(chain = %self.chain, head, factories = self.factories.len(), "evm discovery live");
        let mut poll = tokio::time::interval(self.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(()),
                log = logs.next() => {
                    let log = log.ok_or(DiscoveryError::SubscriptionEnded("logs"))?;
                    self.handle_log(&log, Instant::now()).await?;
                }
                header = heads.next() => {
                    let header = header.ok_or(DiscoveryError::SubscriptionEnded("newHeads"))?;
                    let number = header.number;
                    self.sync_to(number, Some(&header)).await?;
                }
                _ = poll.tick() => {
                    let head = self.http.get_block_number().await?;
                    self.sync_to(head, None).await?;
                }
            }
        }
    }

    /// The fast path: mirrors one factory log as soon as it arrives and hands a new pool to the
    /// risk engine. Returns it if it was new. Removed logs (reorged out) are unwound.
    pub async fn handle_log(&mut self, log: &Log, seen_at: Instant) -> Result<Option<Discovered>, DiscoveryError> {
        let Some(parsed) = self.parse(log) else { return Ok(None) };
        if log.removed {
            sqlx::query("DELETE FROM pools WHERE chain = ? AND address = ? AND created_block_hash = ?")
                .bind(&self.chain)
                .bind(addr(parsed.pool))
                .bind(parsed.block_hash.to_string())
                .execute(&self.db)
                .await?;
            return Ok(None);
        }
        let mut tx = self.db.begin().await?;
        let new = self.insert_pool(&mut tx, &parsed, seen_at).await?;
        tx.commit().await?;
        if let Some(d) = &new {
            metrics::counter!("keeper_pairs_discovered_total", "chain" => self.chain.clone()).increment(1);
            self.out.send(d.clone().into()).await.map_err(|_| DiscoveryError::Downstream)?;
        }
        Ok(new)
    }

    /// Brings the mirror to `head`: unwinds a reorg if the chain no longer contains our checkpoint
    /// block, then fetches and reconciles the factory logs up to `head`. Returns new pools found.
    pub async fn sync_to(&mut self, head: u64, header: Option<&Header>) -> Result<usize, DiscoveryError> {
        let cp = match self.checkpoint().await? {
            Some(cp) => cp,
            None => {
                // First start: begin at start_block, or at the head when it is 0.
                let from = if self.start_block == 0 { head } else { self.start_block.min(head) };
                let begin = from.saturating_sub(1);
                let hash = self.block_hash(begin).await?;
                let mut tx = self.db.begin().await?;
                self.save_progress(&mut tx, begin, hash, head).await?;
                tx.commit().await?;
                begin
            }
        };
        let cp = self.check_reorg(cp, head, header).await?;
        let mut found = 0;
        let mut from = cp + 1;
        while from <= head {
            let to = head.min(from + self.range - 1);
            let filter = self.filter().from_block(from).to_block(to);
            let logs = match self.http.get_logs(&filter).await {
                Ok(logs) => logs,
                Err(e) if to > from => {
                    self.range = next_range(to - from + 1, true, self.max_range);
                    tracing::debug!(chain = %self.chain, from, to, range = self.range, error = %e, "eth_getLogs refused; shrinking range");
                    metrics::counter!("keeper_evm_log_range_refusals_total", "chain" => self.chain.clone())
                        .increment(1);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            self.range = next_range(self.range, false, self.max_range);
            let to_hash = match header {
                Some(h) if h.number == to => h.hash,
                _ => self.block_hash(to).await?,
            };
            let now = Instant::now();
            let mut tx = self.db.begin().await?;
            let mut keep = HashSet::new();
            let mut new = Vec::new();
            for log in &logs {
                let Some(parsed) = self.parse(log) else { continue };
                keep.insert(addr(parsed.pool));
                if let Some(d) = self.insert_pool(&mut tx, &parsed, now).await? {
                    new.push(d);
                }
            }
            // Pools the fast path stored in this range from blocks that are no longer canonical.
            let stale: Vec<(i64, String)> = sqlx::query_as(
                "SELECT id, address FROM pools WHERE chain = ? AND created_block_hash IS NOT NULL
                 AND created_slot BETWEEN ? AND ?",
            )
            .bind(&self.chain)
            .bind(i64_of(from))
            .bind(i64_of(to))
            .fetch_all(&mut *tx)
            .await?;
            for (id, address) in stale.into_iter().filter(|(_, a)| !keep.contains(a)) {
                tracing::warn!(chain = %self.chain, pool = %address, "pool's block was reorged out; removing it");
                sqlx::query("DELETE FROM pools WHERE id = ?").bind(id).execute(&mut *tx).await?;
            }
            self.save_progress(&mut tx, to, to_hash, head).await?;
            tx.commit().await?;
            found += new.len();
            for d in new {
                metrics::counter!("keeper_pairs_discovered_total", "chain" => self.chain.clone()).increment(1);
                self.out.send(d.into()).await.map_err(|_| DiscoveryError::Downstream)?;
            }
            from = to + 1;
        }
        Ok(found)
    }

    /// Returns the block to continue from: `cp` when the chain still contains it, else the
    /// common ancestor after unwinding everything above it.
    async fn check_reorg(&mut self, cp: u64, head: u64, header: Option<&Header>) -> Result<u64, DiscoveryError> {
        let Some(stored) = self.stored_hash(cp).await? else { return Ok(cp) };
        let canonical = match header {
            Some(h) if h.number == cp + 1 => h.parent_hash,
            Some(h) if h.number == cp => h.hash,
            _ if head < cp => match self.http.get_block_by_number(BlockNumberOrTag::Number(cp)).await? {
                Some(b) => b.header.hash,
                None => B256::ZERO, // the chain is now shorter than our checkpoint: reorged
            },
            _ => self.block_hash(cp).await?,
        };
        if canonical == stored {
            return Ok(cp);
        }
        // Parent-hash mismatch: walk our stored hashes down to the common ancestor.
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT number, hash FROM evm_blocks WHERE chain = ? AND number < ? ORDER BY number DESC")
                .bind(&self.chain)
                .bind(i64_of(cp))
                .fetch_all(&self.db)
                .await?;
        let mut ancestor = None;
        for (number, hash) in rows {
            let n = u64::try_from(number).unwrap_or(0);
            let canonical = match self.http.get_block_by_number(BlockNumberOrTag::Number(n)).await? {
                Some(b) => b.header.hash.to_string(),
                None => continue,
            };
            if canonical == hash {
                ancestor = Some(n);
                break;
            }
        }
        // Deeper than what we kept (more than the confirmation depth): rescan the whole window.
        let ancestor = ancestor.unwrap_or_else(|| cp.saturating_sub(self.confirmations.saturating_mul(2)));
        let unwound = self.unwind(ancestor, head).await?;
        tracing::warn!(chain = %self.chain, checkpoint = cp, ancestor, pools_removed = unwound, "reorg detected; unwound");
        metrics::counter!("keeper_evm_reorgs_total", "chain" => self.chain.clone()).increment(1);
        Ok(ancestor)
    }

    /// Deletes everything discovered above `ancestor` (risk reports go with their pools) and moves
    /// the checkpoint back to it. Returns the number of pools removed.
    pub async fn unwind(&self, ancestor: u64, head: u64) -> Result<u64, DiscoveryError> {
        let mut tx = self.db.begin().await?;
        let removed =
            sqlx::query("DELETE FROM pools WHERE chain = ? AND created_block_hash IS NOT NULL AND created_slot > ?")
                .bind(&self.chain)
                .bind(i64_of(ancestor))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query("DELETE FROM evm_blocks WHERE chain = ? AND number > ?")
            .bind(&self.chain)
            .bind(i64_of(ancestor))
            .execute(&mut *tx)
            .await?;
        let hash: Option<(String,)> = sqlx::query_as("SELECT hash FROM evm_blocks WHERE chain = ? AND number = ?")
            .bind(&self.chain)
            .bind(i64_of(ancestor))
            .fetch_optional(&mut *tx)
            .await?;
        let hash = match hash {
            Some((h,)) => h.parse().unwrap_or_default(),
            None => self.block_hash(ancestor).await?,
        };
        self.save_progress(&mut tx, ancestor, hash, head).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn save_progress(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        block: u64,
        hash: B256,
        head: u64,
    ) -> Result<(), DiscoveryError> {
        sqlx::query("INSERT INTO evm_blocks (chain, number, hash) VALUES (?, ?, ?) ON CONFLICT (chain, number) DO UPDATE SET hash = excluded.hash")
            .bind(&self.chain)
            .bind(i64_of(block))
            .bind(hash.to_string())
            .execute(&mut **tx)
            .await?;
        // Keep a window twice the confirmation depth for finding common ancestors.
        let keep_from = block.saturating_sub(self.confirmations.saturating_mul(2));
        sqlx::query("DELETE FROM evm_blocks WHERE chain = ? AND number < ?")
            .bind(&self.chain)
            .bind(i64_of(keep_from))
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO checkpoints (source, chain, slot, cursor, head_slot, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (source) DO UPDATE SET slot = excluded.slot, cursor = excluded.cursor,
                head_slot = excluded.head_slot, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(&self.source)
        .bind(&self.chain)
        .bind(i64_of(block))
        .bind(hash.to_string())
        .bind(i64_of(head))
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("keeper_checkpoint_lag_slots", "source" => self.source.clone())
            .set(head.saturating_sub(block) as f64);
        Ok(())
    }

    async fn stored_hash(&self, number: u64) -> Result<Option<B256>, DiscoveryError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT hash FROM evm_blocks WHERE chain = ? AND number = ?")
            .bind(&self.chain)
            .bind(i64_of(number))
            .fetch_optional(&self.db)
            .await?;
        Ok(row.and_then(|(h,)| h.parse().ok()))
    }

    async fn block_hash(&self, number: u64) -> Result<B256, DiscoveryError> {
        let block = self.http.get_block_by_number(BlockNumberOrTag::Number(number)).await?;
        block.map(|b| b.header.hash).ok_or(DiscoveryError::MissingBlock(number))
    }

    fn parse(&self, log: &Log) -> Option<ParsedLog> {
        let factory = self.factories.get(&log.address())?;
        let (token0, token1, pool, fee_bps) = match factory.kind {
            FactoryKind::V2 => {
                let ev = log.log_decode::<PairCreated>().ok()?.inner.data;
                // Uniswap V2 and QuickSwap charge 0.30%, PancakeSwap V2 0.25%.
                let fee = if factory.name.starts_with("pancakeswap") { 25 } else { 30 };
                (ev.token0, ev.token1, ev.pair, fee)
            }
            FactoryKind::V3 => {
                let ev = log.log_decode::<PoolCreated>().ok()?.inner.data;
                // V3 fees are in hundredths of a basis point.
                (ev.token0, ev.token1, ev.pool, ev.fee.to::<u32>() / 100)
            }
        };
        Some(ParsedLog {
            venue: factory.name.clone(),
            kind: factory.kind,
            token0,
            token1,
            pool,
            fee_bps,
            block_number: log.block_number?,
            block_hash: log.block_hash?,
            tx_hash: log.transaction_hash,
            log_index: log.log_index.unwrap_or(0),
        })
    }

    async fn insert_pool(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        p: &ParsedLog,
        seen_at: Instant,
    ) -> Result<Option<Discovered>, DiscoveryError> {
        let base = if p.token0 == self.wrapped_native { p.token1 } else { p.token0 };
        let now = now_ms();
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO pools (chain, venue, address, token_a, token_b, fee_bps, created_slot, created_tx,
                first_seen_at_ms, reserves_slot, created_block_hash, created_log_index, base_token)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (chain, address) DO NOTHING RETURNING id",
        )
        .bind(&self.chain)
        .bind(&p.venue)
        .bind(addr(p.pool))
        .bind(addr(p.token0))
        .bind(addr(p.token1))
        .bind(i64::from(p.fee_bps))
        .bind(i64_of(p.block_number))
        .bind(p.tx_hash.map(|h| h.to_string()))
        .bind(now)
        .bind(i64_of(p.block_number))
        .bind(p.block_hash.to_string())
        .bind(i64_of(p.log_index))
        .bind(addr(base))
        .fetch_optional(&mut **tx)
        .await?;
        for token in [p.token0, p.token1] {
            sqlx::query(
                "INSERT INTO tokens (chain, address, first_seen_at_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(&self.chain)
            .bind(addr(token))
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(id.map(|(pool_id,)| Discovered {
            pool_id,
            chain: self.chain.clone(),
            venue: p.venue.clone(),
            kind: p.kind,
            pool: p.pool,
            token0: p.token0,
            token1: p.token1,
            base_token: base,
            block_number: p.block_number,
            tx_hash: p.tx_hash,
            first_seen_at_ms: now,
            seen_at,
        }))
    }
}

struct ParsedLog {
    venue: String,
    kind: FactoryKind,
    token0: Address,
    token1: Address,
    pool: Address,
    fee_bps: u32,
    block_number: u64,
    block_hash: B256,
    tx_hash: Option<B256>,
    log_index: u64,
}

/// EVM addresses in the mirror: 0x-prefixed lowercase hex.
pub fn addr(a: Address) -> String {
    format!("{a:#x}")
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_halve_on_refusal_and_regrow() {
        assert_eq!(next_range(2_000, true, 2_000), 1_000);
        assert_eq!(next_range(1, true, 2_000), 1);
        assert_eq!(next_range(1_000, false, 2_000), 2_000);
        assert_eq!(next_range(1_500, false, 2_000), 2_000);
        assert_eq!(next_range(0, false, 2_000), 1);
    }
}
