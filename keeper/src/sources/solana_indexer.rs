//! Indexes the AMM program from any Solana JSON-RPC endpoint.
//!
//! Catch-up: `getSignaturesForAddress(program, until = checkpoint cursor)` pages newest to oldest;
//! the new signatures are replayed oldest first in chunks. Each chunk's transactions are fetched
//! concurrently, their `emit_cpi!` events decoded with the program crate's own types, the touched
//! pools' reserves read from their accounts, and the rows handed to the writer together with the
//! chunk's checkpoint (committed atomically). A restart resumes from the checkpoint; replays are
//! no-ops. Catch-up runs at start, on every live `logsSubscribe` notification, after every
//! websocket reconnect and at least every poll interval, so gaps are always backfilled.

use std::{collections::BTreeSet, str::FromStr, time::Duration};

use amm::client::AmmEvent;
use anchor_lang::{prelude::Pubkey, solana_program::program_pack::Pack, AccountDeserialize};
use anchor_spl::token::spl_token;
use futures::{StreamExt, TryStreamExt};
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::{nonblocking::rpc_client::RpcClient, rpc_client::GetConfirmedSignaturesForAddress2Config};
use solana_rpc_client_api::{client_error::Error as ClientError, config::RpcTransactionConfig};
use solana_transaction_status_client_types::UiTransactionEncoding;
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use mirror::{Batch, Checkpoint, PoolRow, ReservesUpdate, Row, TokenRow, WriterHandle};

use crate::chains::solana::{
    decode::decode_events,
    event_rows::{event_row, EventPosition},
};

/// Signatures replayed per writer batch.
const CHUNK: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error("solana rpc: {0}")]
    Rpc(#[from] Box<ClientError>),
    #[error("mirror: {0}")]
    Mirror(#[from] mirror::MirrorError),
    #[error("malformed data from the rpc node: {0}")]
    Malformed(String),
}

impl From<ClientError> for IndexerError {
    fn from(e: ClientError) -> Self {
        IndexerError::Rpc(Box::new(e))
    }
}

pub struct SolanaIndexer {
    pub rpc: RpcClient,
    pub program_id: Pubkey,
    pub chain: String,
    pub source: String,
    pub commitment: CommitmentConfig,
    pub page_size: usize,
    pub concurrency: usize,
    pub writer: WriterHandle,
    pub db: SqlitePool,
    /// Draw a progress bar on stderr while backfilling (set when stderr is a terminal).
    pub progress: bool,
    cursor: Option<(String, u64)>,
}

/// One fetched transaction, reduced to what the mirror needs.
struct Fetched {
    signature: String,
    slot: u64,
    block_time: Option<i64>,
    /// (outer instruction index, event) in order of appearance.
    events: Vec<(u32, AmmEvent)>,
}

impl SolanaIndexer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rpc_url: &str,
        program_id: Pubkey,
        chain: &str,
        commitment: CommitmentConfig,
        page_size: usize,
        concurrency: usize,
        writer: WriterHandle,
        db: SqlitePool,
    ) -> Self {
        Self {
            rpc: RpcClient::new_with_commitment(rpc_url.to_string(), commitment),
            program_id,
            chain: chain.to_string(),
            source: format!("{chain}:amm:{program_id}"),
            commitment,
            page_size,
            concurrency,
            writer,
            db,
            progress: false,
            cursor: None,
        }
    }

    /// Catches up at start, on every live notification (`logsSubscribe` mentioning the program
    /// on `ws_url`), after every websocket (re)connect, and at least every `poll`, until cancelled.
    pub async fn run(
        &mut self,
        ws_url: Option<String>,
        poll: Duration,
        cancel: CancellationToken,
    ) -> Result<(), IndexerError> {
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel::<()>(1);
        let listener = cancel.child_token();
        if let Some(url) = ws_url {
            tokio::spawn(listen(url, self.program_id, self.commitment, wake_tx, listener.clone()));
        }
        // Stops the listener whenever this returns, including on error.
        let _listener = listener.drop_guard();
        loop {
            self.catch_up(&cancel).await?;
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(poll) => {}
                _ = wake_rx.recv() => {}
            }
        }
    }

    /// Replays every program transaction newer than the checkpoint, oldest first. Returns how
    /// many signatures were processed.
    pub async fn catch_up(&mut self, cancel: &CancellationToken) -> Result<usize, IndexerError> {
        if self.cursor.is_none() {
            self.cursor = mirror::checkpoint(&self.db, &self.source).await?.and_then(|c| c.cursor.map(|s| (s, c.slot)));
        }
        let until = self.cursor.as_ref().map(|(s, _)| parse_signature(s)).transpose()?;
        let mut pending = Vec::new();
        let mut before = None;
        loop {
            let config = GetConfirmedSignaturesForAddress2Config {
                before,
                until,
                limit: Some(self.page_size),
                commitment: Some(self.commitment),
            };
            let page = self.rpc.get_signatures_for_address_with_config(&self.program_id, config).await?;
            let full = page.len() == self.page_size;
            if let Some(last) = page.last() {
                before = Some(parse_signature(&last.signature)?);
            }
            pending.extend(page.into_iter().map(|s| (s.signature, s.slot, s.err.is_none())));
            if !full {
                break;
            }
        }
        pending.reverse(); // oldest first
        let total = pending.len();
        if total == 0 {
            return Ok(0);
        }
        let head = self.rpc.get_slot_with_commitment(self.commitment).await?;
        // Only worth drawing for a real backfill, not for the few transactions of a wake-up.
        let bar = if self.progress && total > CHUNK {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "backfill {bar:40} {pos}/{len} transactions {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        for chunk in pending.chunks(CHUNK) {
            if cancel.is_cancelled() {
                break;
            }
            let this = &*self;
            let fetched: Vec<Option<Fetched>> = futures::stream::iter(chunk.iter().cloned())
                .map(|(signature, _slot, ok)| async move {
                    // Failed transactions change nothing and emit nothing.
                    if ok {
                        this.fetch(&signature).await.map(Some)
                    } else {
                        Ok(None)
                    }
                })
                .buffered(self.concurrency)
                .try_collect()
                .await?;
            let mut rows = self.rows_for(fetched.iter().flatten()).await?;
            let touched: BTreeSet<Pubkey> =
                fetched.iter().flatten().flat_map(|f| f.events.iter().filter_map(|(_, e)| e.pool())).collect();
            rows.extend(self.reserves(&touched).await?);
            let (last_sig, last_slot, _) =
                chunk.last().cloned().ok_or_else(|| IndexerError::Malformed("empty chunk".into()))?;
            let checkpoint = Checkpoint {
                source: self.source.clone(),
                chain: self.chain.clone(),
                slot: last_slot,
                cursor: Some(last_sig.clone()),
                head_slot: Some(head),
            };
            self.writer.send(Batch { rows, checkpoint: Some(checkpoint), urgent: false }).await?;
            metrics::counter!("keeper_signatures_processed_total", "source" => self.source.clone())
                .increment(chunk.len() as u64);
            self.cursor = Some((last_sig, last_slot));
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok(total)
    }

    async fn fetch(&self, signature: &str) -> Result<Fetched, IndexerError> {
        let config = RpcTransactionConfig {
            encoding: Some(UiTransactionEncoding::Base64),
            commitment: Some(self.commitment),
            max_supported_transaction_version: Some(0),
        };
        let tx = self.rpc.get_transaction_with_config(&parse_signature(signature)?, config).await?;
        Ok(Fetched {
            signature: signature.to_string(),
            slot: tx.slot,
            block_time: tx.block_time,
            events: decode_events(&tx, &self.program_id).map_err(IndexerError::Malformed)?,
        })
    }

    /// Event rows, plus pool and token rows for the pools these transactions created.
    async fn rows_for<'a>(&self, fetched: impl Iterator<Item = &'a Fetched>) -> Result<Vec<Row>, IndexerError> {
        let mut rows = Vec::new();
        let mut created = Vec::new();
        for f in fetched {
            let mut per_ix: Vec<(u32, u32)> = Vec::new();
            for (ix_index, event) in &f.events {
                let event_index = match per_ix.iter_mut().find(|(i, _)| i == ix_index) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        per_ix.push((*ix_index, 0));
                        0
                    }
                };
                let pos = EventPosition {
                    chain: &self.chain,
                    tx_id: &f.signature,
                    ix_index: *ix_index,
                    event_index,
                    slot: f.slot,
                    block_time: f.block_time,
                };
                if let AmmEvent::PoolCreated(p) = event {
                    created.push((p.clone(), f.signature.clone(), f.slot, f.block_time));
                }
                rows.push(Row::Event(event_row(pos, event)));
            }
        }
        if created.is_empty() {
            return Ok(rows);
        }
        // Mint decimals and the fee of each new pool's config.
        let mut keys: Vec<Pubkey> = Vec::new();
        for (p, ..) in &created {
            for k in [p.mint_a, p.mint_b, p.config] {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        let mut accounts = Vec::new();
        for part in keys.chunks(100) {
            accounts.extend(self.rpc.get_multiple_accounts_with_commitment(part, self.commitment).await?.value);
        }
        let lookup = |k: &Pubkey| keys.iter().position(|x| x == k).and_then(|i| accounts[i].as_ref());
        let mut head_rows = Vec::new();
        for (p, sig, slot, block_time) in created {
            for mint in [p.mint_a, p.mint_b] {
                let parsed = lookup(&mint).and_then(|a| spl_token::state::Mint::unpack(&a.data).ok());
                head_rows.push(Row::Token(TokenRow {
                    chain: self.chain.clone(),
                    address: mint.to_string(),
                    symbol: None,
                    name: None,
                    decimals: parsed.map(|m| m.decimals),
                    total_supply: parsed.map(|m| m.supply.to_string()),
                }));
            }
            let fee_bps = lookup(&p.config)
                .and_then(|a| amm::AmmConfig::try_deserialize(&mut a.data.as_slice()).ok())
                .map(|c| u32::from(c.trade_fee_bps));
            head_rows.push(Row::Pool(PoolRow {
                chain: self.chain.clone(),
                venue: "amm".into(),
                address: p.pool.to_string(),
                token_a: p.mint_a.to_string(),
                token_b: p.mint_b.to_string(),
                reserve_a: p.after.reserve_a.to_string(),
                reserve_b: p.after.reserve_b.to_string(),
                lp_supply: Some(p.after.lp_supply.to_string()),
                fee_bps,
                created_slot: Some(slot),
                created_tx: Some(sig),
                created_block_time: block_time,
                seen_at: Some(std::time::Instant::now()),
                ..Default::default()
            }));
        }
        // Pools and tokens first, so the events' pools exist when reserves are applied.
        head_rows.extend(rows);
        Ok(head_rows)
    }

    /// Current reserves of the touched pools, read from their accounts.
    async fn reserves(&self, pools: &BTreeSet<Pubkey>) -> Result<Vec<Row>, IndexerError> {
        let keys: Vec<Pubkey> = pools.iter().copied().collect();
        let mut rows = Vec::new();
        for part in keys.chunks(100) {
            let response = self.rpc.get_multiple_accounts_with_commitment(part, self.commitment).await?;
            for (key, account) in part.iter().zip(response.value) {
                let Some(account) = account else { continue };
                let Ok(pool) = amm::Pool::try_deserialize(&mut account.data.as_slice()) else { continue };
                rows.push(Row::Reserves(ReservesUpdate {
                    chain: self.chain.clone(),
                    address: key.to_string(),
                    reserve_a: pool.reserve_a.to_string(),
                    reserve_b: pool.reserve_b.to_string(),
                    lp_supply: Some(pool.lp_supply.to_string()),
                    slot: response.context.slot,
                }));
            }
        }
        Ok(rows)
    }
}

/// Keeps a `logsSubscribe` open and wakes the indexer on each notification. After every
/// (re)connect it wakes the indexer once more, since whatever happened while disconnected was
/// never notified; a dropped connection is retried with backoff.
async fn listen(
    url: String,
    program_id: Pubkey,
    commitment: CommitmentConfig,
    wake: tokio::sync::mpsc::Sender<()>,
    cancel: CancellationToken,
) {
    use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
    use solana_rpc_client_api::config::{RpcTransactionLogsConfig, RpcTransactionLogsFilter};

    let backoff = crate::tasks::Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(10) };
    let mut attempt = 0u32;
    loop {
        let session = async {
            let client = PubsubClient::new(url.as_str()).await?;
            let filter = RpcTransactionLogsFilter::Mentions(vec![program_id.to_string()]);
            let (mut stream, _unsubscribe) =
                client.logs_subscribe(filter, RpcTransactionLogsConfig { commitment: Some(commitment) }).await?;
            attempt = 0;
            let _ = wake.try_send(());
            while stream.next().await.is_some() {
                let _ = wake.try_send(()); // a full channel already holds a wake-up
            }
            Ok::<(), solana_pubsub_client::pubsub_client::PubsubClientError>(())
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            result = session => match result {
                Ok(()) => tracing::info!(%url, "websocket closed; reconnecting"),
                Err(error) => tracing::warn!(%url, %error, "websocket failed; reconnecting"),
            },
        }
        let delay = backoff.delay(attempt, &mut rand::thread_rng());
        attempt = attempt.saturating_add(1);
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

fn parse_signature(s: &str) -> Result<solana_signature::Signature, IndexerError> {
    solana_signature::Signature::from_str(s).map_err(|_| IndexerError::Malformed(format!("bad signature {s}")))
}
