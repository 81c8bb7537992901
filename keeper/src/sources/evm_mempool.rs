//! An EVM chain's pending transactions, for the trader's anti-rug watch, and the launches among
//! them (liquidity added through one of the chain's v2 routers, see `chains::evm::launch`) for
//! the risk stage, which scores them before they are mined: `eth_subscribe`
//! `newPendingTransactions` with full transactions (geth 1.11+, anvil, reth), or, when the node
//! only gives hashes, each one read with `eth_getTransactionByHash`. Nothing is stored: a
//! pending transaction matters only until the next block. Supervised like every source; after
//! a disconnect it subscribes again (transactions announced meanwhile are missed, and the
//! valuation of each block still catches what they did).

use std::{collections::HashMap, time::Instant};

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::Transaction,
};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    config::{EvmChainConfig, FactoryKind},
    pipeline::{PendingForRisk, PendingLaunch, PendingTx},
};

/// Pending transactions waiting for the trader at most; more are dropped (counted), never
/// queued without bound: a flood in the mempool must not grow the keeper's memory.
pub const QUEUE: usize = 4_096;

pub struct MempoolSource {
    pub chain: String,
    pub ws_url: String,
    /// Where pending launches go, when buying in the launch's block is on.
    pub launches: Option<Launches>,
}

/// What the source needs to tell launches: the chain's v2 routers and its wrapped native token.
pub struct Launches {
    pub out: mpsc::Sender<PendingForRisk>,
    /// Router -> (venue, factory, fee in bps).
    pub routers: HashMap<Address, (String, Address, u32)>,
    pub wrapped_native: Address,
}

impl Launches {
    /// The chain's v2 factories that have a router.
    pub fn of(chain: &EvmChainConfig, out: mpsc::Sender<PendingForRisk>) -> Self {
        let routers = chain
            .factories
            .iter()
            .filter(|f| f.kind == FactoryKind::V2)
            .filter_map(|f| Some((f.router?, (f.name.clone(), f.address, crate::config::v2_fee_bps(&f.name)))))
            .collect();
        Self { out, routers, wrapped_native: chain.wrapped_native }
    }

    /// `tx` as a launch, when it is one.
    fn launch(&self, tx: &PendingTx) -> Option<PendingLaunch> {
        let (venue, factory, fee_bps) = self.routers.get(&tx.to?)?;
        let call = crate::chains::evm::launch::decode(&tx.input, tx.value, self.wrapped_native)?;
        Some(PendingLaunch {
            tx: tx.clone(),
            venue: venue.clone(),
            factory: *factory,
            router: tx.to?,
            token: call.token,
            quote: self.wrapped_native,
            lp_to: call.lp_to,
            fee_bps: *fee_bps,
        })
    }
}

fn pending(chain: &str, tx: &Transaction, seen_at: Instant) -> PendingTx {
    let max_fee = tx.inner.max_fee_per_gas();
    PendingTx {
        chain: chain.to_string(),
        hash: *tx.inner.tx_hash(),
        from: tx.inner.signer(),
        to: tx.inner.to(),
        input: tx.inner.input().clone(),
        value: tx.inner.value(),
        tip: tx.inner.max_priority_fee_per_gas().unwrap_or(max_fee),
        max_fee,
        seen_at,
    }
}

impl MempoolSource {
    /// Runs until cancelled or the connection ends (an error: the task set restarts it).
    pub async fn run(&self, out: &mpsc::Sender<PendingTx>, cancel: CancellationToken) -> Result<(), String> {
        let ws = crate::chains::evm::ws_provider(&self.ws_url).await.map_err(|e| e.to_string())?;
        match ws.subscribe_full_pending_transactions().await {
            Ok(sub) => {
                tracing::info!(chain = %self.chain, "following pending transactions (full)");
                let mut txs = sub.into_stream();
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        tx = txs.next() => match tx {
                            Some(tx) => self.forward(out, pending(&self.chain, &tx, Instant::now())),
                            None => return Err("the pending-transaction subscription ended".into()),
                        },
                    }
                }
            }
            Err(e) => {
                tracing::info!(chain = %self.chain, error = %e, "no full pending transactions; following hashes");
                self.by_hash(&ws, out, cancel).await
            }
        }
    }

    /// The fallback: hashes, each read from the node.
    async fn by_hash(
        &self,
        ws: &DynProvider,
        out: &mpsc::Sender<PendingTx>,
        cancel: CancellationToken,
    ) -> Result<(), String> {
        let mut hashes = ws.subscribe_pending_transactions().await.map_err(|e| e.to_string())?.into_stream();
        loop {
            let hash: B256 = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                h = hashes.next() => h.ok_or("the pending-hash subscription ended")?,
            };
            let seen_at = Instant::now();
            // Mined or dropped in between: nothing to watch.
            if let Ok(Some(tx)) = ws.get_transaction_by_hash(hash).await {
                if tx.block_number.is_none() {
                    self.forward(out, pending(&self.chain, &tx, seen_at));
                }
            }
        }
    }

    fn forward(&self, out: &mpsc::Sender<PendingTx>, tx: PendingTx) {
        if let Some(l) = &self.launches {
            let to_risk = match l.launch(&tx) {
                Some(launch) => {
                    tracing::info!(chain = %self.chain, tx = %tx.hash, token = %launch.token, venue = %launch.venue,
                        "pending launch seen");
                    PendingForRisk::Launch(launch)
                }
                None => PendingForRisk::Other(tx.clone()),
            };
            if l.out.try_send(to_risk).is_err() {
                metrics::counter!("keeper_pending_dropped_total", "chain" => self.chain.clone()).increment(1);
            }
        }
        if out.try_send(tx).is_err() {
            metrics::counter!("keeper_pending_dropped_total", "chain" => self.chain.clone()).increment(1);
        }
    }
}
