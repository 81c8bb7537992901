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
//! * In the same ranges and the same transactions, the reserve changes (`Sync`, with the `Swap`,
//!   `Mint` or `Burn` that caused it: [`pair_events`]) of the V2 pairs first seen within
//!   `track_reserves_secs`: each pool's reserve history, for the API, the anomaly watch and
//!   backtests. A reorg unwinds them with the pools.

use std::{collections::BTreeMap, time::Duration, time::Instant};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Header, Log},
    sol_types::SolEvent,
};
use futures::StreamExt;
use mirror::{Batch, Checkpoint, PoolRow, Row, TokenRow, WriterHandle};
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use crate::{
    chains::evm::{
        abi::{IUniswapV2Factory::PairCreated, IUniswapV3Factory::PoolCreated},
        addr,
        logs::next_range,
        pair_events,
    },
    config::{EvmChainConfig, FactoryKind},
};

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("rpc: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    #[error(transparent)]
    Mirror(#[from] mirror::MirrorError),
    #[error("block {0} not found")]
    MissingBlock(u64),
    #[error("the {0} subscription ended")]
    SubscriptionEnded(&'static str),
    #[error("invalid config: {0}")]
    Config(String),
}

#[derive(Debug, Clone)]
struct Factory {
    name: String,
    kind: FactoryKind,
}

pub struct EvmDiscovery {
    chain: String,
    source: String,
    http: DynProvider,
    /// Reads only: the checkpoint and stored block hashes. Every write goes through `writer`.
    db: SqlitePool,
    writer: WriterHandle,
    factories: BTreeMap<Address, Factory>,
    /// The wrapped native token and the configured quote tokens: a pair's other side is scored.
    quotes: Vec<Address>,
    confirmations: u64,
    start_block: u64,
    max_range: u64,
    range: u64,
    /// Fallback polling interval when the websocket is quiet.
    pub poll_interval: Duration,
    /// V2 pairs whose reserve changes are mirrored: those first seen within this long.
    track_reserves_ms: i64,
    tracked: std::collections::BTreeSet<Address>,
    /// When `tracked` was last read from the mirror (pairs age out of it).
    tracked_at: Option<Instant>,
}

/// Pair addresses per `eth_getLogs` of reserve changes (providers cap the address list).
const PAIRS_PER_QUERY: usize = 500;
/// How often the tracked pairs are read again from the mirror.
const TRACKED_EVERY: Duration = Duration::from_secs(60);

impl EvmDiscovery {
    pub fn new(
        chain: &str,
        cfg: &EvmChainConfig,
        http: DynProvider,
        db: SqlitePool,
        writer: WriterHandle,
    ) -> Result<Self, DiscoveryError> {
        let mut factories = BTreeMap::new();
        for f in &cfg.factories {
            factories.insert(f.address, Factory { name: f.name.clone(), kind: f.kind });
        }
        Ok(Self {
            chain: chain.to_string(),
            source: format!("evm:{chain}"),
            http,
            db,
            writer,
            factories,
            quotes: std::iter::once(cfg.wrapped_native).chain(cfg.quote_tokens.iter().copied()).collect(),
            confirmations: cfg.confirmations,
            start_block: cfg.start_block,
            max_range: cfg.max_log_range,
            range: cfg.max_log_range,
            poll_interval: Duration::from_secs(4),
            track_reserves_ms: i64::try_from(cfg.track_reserves_secs.saturating_mul(1_000)).unwrap_or(i64::MAX),
            tracked: Default::default(),
            tracked_at: None,
        })
    }

    fn v2_venues(&self) -> Vec<String> {
        self.factories.values().filter(|f| f.kind == FactoryKind::V2).map(|f| f.name.clone()).collect()
    }

    /// The V2 pairs first seen within `track_reserves_secs`, read again every minute.
    async fn refresh_tracked(&mut self) -> Result<(), DiscoveryError> {
        if self.track_reserves_ms == 0 || self.tracked_at.is_some_and(|t| t.elapsed() < TRACKED_EVERY) {
            return Ok(());
        }
        let since = mirror::now_ms().saturating_sub(self.track_reserves_ms);
        let pairs = mirror::reads::young_pools(&self.db, &self.chain, &self.v2_venues(), since).await?;
        self.tracked = pairs.iter().filter_map(|a| a.parse().ok()).collect();
        self.tracked_at = Some(Instant::now());
        Ok(())
    }

    /// The reserve changes of the tracked pairs in `[from, to]`.
    async fn pair_logs(&self, from: u64, to: u64) -> Result<Vec<Log>, alloy::transports::TransportError> {
        let pairs: Vec<Address> = self.tracked.iter().copied().collect();
        let mut logs = Vec::new();
        for chunk in pairs.chunks(PAIRS_PER_QUERY) {
            let filter = Filter::new()
                .address(chunk.to_vec())
                .event_signature(pair_events::signatures())
                .from_block(from)
                .to_block(to);
            logs.extend(self.http.get_logs(&filter).await?);
        }
        Ok(logs)
    }

    /// The factory-event filter (no block range).
    pub fn filter(&self) -> Filter {
        Filter::new()
            .address(self.factories.keys().copied().collect::<Vec<_>>())
            .event_signature(vec![PairCreated::SIGNATURE_HASH, PoolCreated::SIGNATURE_HASH])
    }

    /// The last fully processed block, if any.
    pub async fn checkpoint(&self) -> Result<Option<u64>, DiscoveryError> {
        Ok(mirror::checkpoint(&self.db, &self.source).await?.map(|c| c.slot))
    }

    /// Runs until cancelled: backfills to the head, then follows the chain live over `ws_url`.
    pub async fn run(mut self, ws_url: &str, cancel: CancellationToken) -> Result<(), DiscoveryError> {
        let ws = crate::chains::evm::ws_provider(ws_url).await?;
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

    /// The fast path: mirrors one factory log as soon as it arrives; the writer commits it at
    /// once and announces the pool to the risk stage. Removed logs (reorged out) are unwound.
    pub async fn handle_log(&mut self, log: &Log, seen_at: Instant) -> Result<(), DiscoveryError> {
        let Some(parsed) = self.parse(log) else { return Ok(()) };
        let rows = if log.removed {
            vec![Row::RemovePool {
                chain: self.chain.clone(),
                address: addr(parsed.pool),
                block_hash: parsed.block_hash.to_string(),
            }]
        } else {
            self.pool_rows(&parsed, Some(seen_at))
        };
        self.writer.commit(Batch::of(rows)).await?;
        Ok(())
    }

    /// Brings the mirror to `head`: unwinds a reorg if the chain no longer contains our checkpoint
    /// block, then fetches and reconciles the factory logs up to `head`. Returns the creation
    /// logs found (new or already mirrored by the fast path).
    pub async fn sync_to(&mut self, head: u64, header: Option<&Header>) -> Result<usize, DiscoveryError> {
        let cp = match self.checkpoint().await? {
            Some(cp) => cp,
            None => {
                // First start: begin at start_block, or at the head when it is 0.
                let from = if self.start_block == 0 { head } else { self.start_block.min(head) };
                let begin = from.saturating_sub(1);
                let hash = self.block_hash(begin).await?;
                self.writer.commit(self.progress(Vec::new(), begin, hash, head)).await?;
                begin
            }
        };
        let cp = self.check_reorg(cp, head, header).await?;
        self.refresh_tracked().await?;
        let mut found = 0;
        let mut from = cp + 1;
        while from <= head {
            let to = head.min(from + self.range - 1);
            let filter = self.filter().from_block(from).to_block(to);
            let fetched = match self.http.get_logs(&filter).await {
                Ok(logs) => {
                    // Pairs created in this range are tracked from their first block.
                    let created: Vec<ParsedLog> = logs.iter().filter_map(|l| self.parse(l)).collect();
                    if self.track_reserves_ms > 0 {
                        self.tracked.extend(created.iter().filter(|p| p.kind == FactoryKind::V2).map(|p| p.pool));
                    }
                    self.pair_logs(from, to).await.map(|pairs| (logs, pairs))
                }
                Err(e) => Err(e),
            };
            let (logs, pair_logs) = match fetched {
                Ok(both) => both,
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
            // Pools this range finds first (before their live log) are seen now.
            let now = Instant::now();
            let mut rows = Vec::new();
            let mut keep = Vec::new();
            for log in &logs {
                let Some(parsed) = self.parse(log) else { continue };
                keep.push(addr(parsed.pool));
                rows.extend(self.pool_rows(&parsed, Some(now)));
            }
            found += keep.len();
            // Pools the fast path stored in this range from blocks that are no longer canonical.
            rows.push(Row::RemoveStalePools { chain: self.chain.clone(), from, to, keep });
            let (events, reserves) = pair_events::rows(&self.chain, &pair_logs);
            rows.extend(events.into_iter().map(Row::Event));
            rows.extend(reserves.into_iter().map(Row::Reserves));
            self.writer.commit(self.progress(rows, to, to_hash, head)).await?;
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
        let rows = mirror::evm_blocks_below(&self.db, &self.chain, cp).await?;
        let mut ancestor = None;
        for (n, hash) in rows {
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
        self.unwind(ancestor, head).await?;
        tracing::warn!(chain = %self.chain, checkpoint = cp, ancestor, "reorg detected; unwound");
        metrics::counter!("keeper_evm_reorgs_total", "chain" => self.chain.clone()).increment(1);
        Ok(ancestor)
    }

    /// Deletes everything discovered above `ancestor` (risk reports go with their pools) and moves
    /// the checkpoint back to it.
    pub async fn unwind(&self, ancestor: u64, head: u64) -> Result<(), DiscoveryError> {
        let hash = match mirror::evm_block_hash(&self.db, &self.chain, ancestor).await? {
            Some(h) => h.parse().unwrap_or_default(),
            None => self.block_hash(ancestor).await?,
        };
        let rows = vec![Row::Unwind { chain: self.chain.clone(), above: ancestor }];
        self.writer.commit(self.progress(rows, ancestor, hash, head)).await?;
        Ok(())
    }

    /// `rows`, then the block hash kept for reorg detection and the checkpoint at `block`: one
    /// batch, committed together.
    fn progress(&self, mut rows: Vec<Row>, block: u64, hash: B256, head: u64) -> Batch {
        // Keep a window twice the confirmation depth for finding common ancestors.
        let keep_from = block.saturating_sub(self.confirmations.saturating_mul(2));
        rows.push(Row::EvmBlock { chain: self.chain.clone(), number: block, hash: hash.to_string(), keep_from });
        let checkpoint = Checkpoint {
            source: self.source.clone(),
            chain: self.chain.clone(),
            slot: block,
            cursor: Some(hash.to_string()),
            head_slot: Some(head),
        };
        Batch { rows, checkpoint: Some(checkpoint), urgent: true }
    }

    async fn stored_hash(&self, number: u64) -> Result<Option<B256>, DiscoveryError> {
        Ok(mirror::evm_block_hash(&self.db, &self.chain, number).await?.and_then(|h| h.parse().ok()))
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
                (ev.token0, ev.token1, ev.pair, crate::config::v2_fee_bps(&factory.name))
            }
            FactoryKind::V3 => {
                let ev = log.log_decode::<PoolCreated>().ok()?.inner.data;
                // V3 fees are in hundredths of a basis point.
                (ev.token0, ev.token1, ev.pool, ev.fee.to::<u32>() / 100)
            }
        };
        Some(ParsedLog {
            kind: factory.kind,
            venue: factory.name.clone(),
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

    /// The mirror rows of one creation log: the pool (the side that is not the wrapped native
    /// token is the one evaluated) and both tokens.
    fn pool_rows(&self, p: &ParsedLog, seen_at: Option<Instant>) -> Vec<Row> {
        let base = base_token(&self.quotes, p.token0, p.token1);
        let pool = PoolRow {
            chain: self.chain.clone(),
            venue: p.venue.clone(),
            address: addr(p.pool),
            token_a: addr(p.token0),
            token_b: addr(p.token1),
            reserve_a: "0".into(),
            reserve_b: "0".into(),
            fee_bps: Some(p.fee_bps),
            created_slot: Some(p.block_number),
            created_tx: p.tx_hash.map(|h| h.to_string()),
            created_block_hash: Some(p.block_hash.to_string()),
            created_log_index: Some(p.log_index),
            base_token: Some(addr(base)),
            seen_at,
            ..Default::default()
        };
        let token =
            |t: Address| Row::Token(TokenRow { chain: self.chain.clone(), address: addr(t), ..Default::default() });
        vec![Row::Pool(pool), token(p.token0), token(p.token1)]
    }
}

/// The side of a pair that is scored and traded: the one that is not a quote token (token0 when
/// neither or both are).
pub fn base_token(quotes: &[Address], token0: Address, token1: Address) -> Address {
    if quotes.contains(&token0) && !quotes.contains(&token1) {
        token1
    } else {
        token0
    }
}

struct ParsedLog {
    kind: FactoryKind,
    venue: String,
    token0: Address,
    token1: Address,
    pool: Address,
    fee_bps: u32,
    block_number: u64,
    block_hash: B256,
    tx_hash: Option<B256>,
    log_index: u64,
}
