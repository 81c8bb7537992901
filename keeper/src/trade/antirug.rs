//! Anti-rug: selling ahead of a pending transaction that would trap a held position.
//!
//! Every pending transaction (from the mempool source) sent to a held token, its pair, or its
//! router naming the token, is simulated in the sandbox, then our sale after it
//! ([`Executor::check_sell_after`]), beside our sale now. When it would make the sale revert,
//! take our tokens, or cut what the sale returns by `front_run_drop_bps` or more
//! ([`strategy::front_run_reason`]), the position is sold at once, with fees above the pending
//! transaction's ([`Executor::execute_ahead`]) so that fee ordering lands our sale first. The
//! trade's reason is `front_ran_rug`, which the notifier sends as an alert.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{
    sync::{broadcast, mpsc},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;

use super::{
    amount,
    executor::Simulated,
    store::{self, PositionRow},
    strategy,
    trader::Trader,
    ExitReason, TradeError,
};
use crate::pipeline::{PendingTx, PendingVerdict};

/// How long the list of held positions is reused between mempool transactions, at most; it is
/// read again at once after any trade settles.
const HELD_FOR: Duration = Duration::from_millis(250);

impl Trader {
    /// Every verdict of the anti-rug watch, from now on.
    pub fn pending_verdicts(&self) -> broadcast::Receiver<PendingVerdict> {
        self.verdicts.subscribe()
    }

    /// Runs until cancelled: each pending transaction against the positions held on its chain,
    /// each match in its own task (a slow simulation never delays the next transaction).
    pub async fn watch_mempool(self: Arc<Self>, rx: &mut mpsc::Receiver<PendingTx>, cancel: CancellationToken) {
        let mut tasks = JoinSet::new();
        let mut held: Vec<PositionRow> = Vec::new();
        let mut read_at: Option<(Instant, u64)> = None;
        loop {
            let tx = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                tx = rx.recv() => match tx {
                    Some(tx) => tx,
                    None => break,
                },
            };
            let version = self.held_version.load(std::sync::atomic::Ordering::Acquire);
            if read_at.is_none_or(|(t, v)| t.elapsed() >= HELD_FOR || v != version) {
                match store::open_positions(&self.db, self.mode).await {
                    Ok(rows) => held = rows,
                    Err(e) => tracing::warn!(error = %e, "anti-rug: cannot read the held positions"),
                }
                read_at = Some((Instant::now(), version));
            }
            let Some(venue) = self.venues.get(&tx.chain) else { continue };
            tracing::debug!(chain = %tx.chain, tx = %tx.hash, from = %tx.from, to = ?tx.to, held = held.len(),
                "pending transaction");
            for p in held.iter().filter(|p| p.chain == tx.chain && p.trapped_at_ms.is_none()) {
                if !venue.touches(p, &tx) {
                    continue;
                }
                tracing::debug!(position = p.id, tx = %tx.hash, "a pending transaction touches a held position");
                let (me, p, tx) = (Arc::clone(&self), p.clone(), tx.clone());
                tasks.spawn(async move {
                    if let Err(e) = me.on_pending(&p, &tx).await {
                        tracing::warn!(chain = %p.chain, position = p.id, tx = %tx.hash, error = %e,
                            "anti-rug: cannot judge a pending transaction");
                    }
                });
            }
        }
        tasks.abort_all();
    }

    /// Simulates our sale now and after `tx`; sells ahead of `tx` when it would trap us.
    async fn on_pending(&self, p: &PositionRow, tx: &PendingTx) -> Result<(), TradeError> {
        let Some(venue) = self.venues.get(&p.chain) else { return Ok(()) };
        let size = amount(&p.size);
        // Urgent work (the sale ahead must be sent before the rug's block), up to the verdict:
        // waiting for the sale to settle is not.
        let (before, after) = crate::sandbox::priority::urgently(async {
            tokio::try_join!(venue.check_sell(p, size, self.mode), venue.check_sell_after(p, size, self.mode, tx))
        })
        .await?;
        let harm = strategy::front_run_reason(&before, &after, self.cfg.evm.front_run_drop_bps);
        tracing::debug!(position = p.id, tx = %tx.hash, ?before, ?after, ?harm, "judged a pending transaction");
        let mut trade_id = None;
        if let Some(why) = &harm {
            tracing::warn!(chain = %p.chain, token = %p.token, position = p.id, tx = %tx.hash, from = %tx.from,
                harm = %why, "a pending transaction would trap a position");
            if self.cfg.evm.front_run_rugs {
                trade_id = self.front_run(p, tx, &before).await?;
            }
        }
        let _ = self.verdicts.send(PendingVerdict {
            position_id: p.id,
            tx: tx.hash,
            harm,
            trade_id,
            elapsed: tx.seen_at.elapsed(),
        });
        Ok(())
    }

    /// Sells all of `p` now, ahead of `tx`: at the sale simulated before it.
    async fn front_run(
        &self,
        p: &PositionRow,
        tx: &PendingTx,
        before: &super::executor::SellCheck,
    ) -> Result<Option<i64>, TradeError> {
        let Some(Simulated::Sold { received, .. }) = &before.simulated else { return Ok(None) };
        if !self.selling.lock().map(|mut s| s.insert(p.id)).unwrap_or(false) {
            return Ok(None); // a sale of it is in flight already
        }
        let result = async {
            let tax = crate::risk::shortfall_bps(before.quoted, *received);
            let reason = ExitReason::FrontRanRug;
            let Some(trade_id) = self.open_exit(p, reason, amount(&p.size), before.quoted, tax, None).await? else {
                return Ok(None);
            };
            metrics::counter!("keeper_front_runs_total", "chain" => p.chain.clone(), "mode" => self.mode.as_str())
                .increment(1);
            self.sell(p.clone(), trade_id, before.quoted, tax, Some(tx)).await?;
            Ok::<_, TradeError>(Some(trade_id))
        }
        .await;
        if let Ok(mut s) = self.selling.lock() {
            s.remove(&p.id);
        }
        result
    }
}
