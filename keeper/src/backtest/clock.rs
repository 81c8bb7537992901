//! The point-in-time guard: a strategy sees the history only through a [`View`] at the replay's
//! current instant, and any read past it is refused with [`Lookahead`], which stops the
//! backtest. Nothing here trusts the strategy to behave.

use std::collections::BTreeMap;

use alloy::primitives::U256;
use mirror::history::{HistoryEvent, HistoryReport};

use crate::trade::amount;

/// A read of data the replay has not reached yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lookahead: pool {pool_id} asked for {what} at {asked}, but the replay is at {now}")]
pub struct Lookahead {
    pub pool_id: i64,
    pub what: &'static str,
    pub asked: i64,
    pub now: i64,
}

/// Reserves of a pool after one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserves {
    pub slot: i64,
    pub at_ms: i64,
    pub a: U256,
    pub b: U256,
}

/// Every pool's events and reports, indexed for point-in-time reads.
#[derive(Debug, Default)]
pub struct Indexed {
    events: BTreeMap<i64, Vec<Reserves>>,
    reports: BTreeMap<i64, Vec<HistoryReport>>,
}

impl Indexed {
    pub fn new(events: &[HistoryEvent], reports: &[HistoryReport]) -> Self {
        let mut out = Self::default();
        for e in events {
            out.events.entry(e.pool_id).or_default().push(Reserves {
                slot: e.slot,
                at_ms: e.at_ms,
                a: amount(&e.reserve_a),
                b: amount(&e.reserve_b),
            });
        }
        for r in reports {
            out.reports.entry(r.pool_id).or_default().push(r.clone());
        }
        out
    }
}

/// The history as of one instant (unix ms; events and reports at that instant included).
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub(super) history: &'a Indexed,
    pub now_ms: i64,
}

impl View<'_> {
    /// The pool's reserves now: after its latest event at or before the replay's instant.
    pub fn reserves(&self, pool_id: i64) -> Option<Reserves> {
        self.history.events.get(&pool_id)?.iter().rev().find(|r| r.at_ms <= self.now_ms).copied()
    }

    /// The pool's reserves after its last event at or before `slot`: refused when the event is
    /// one the replay has not reached (a strategy peeking ahead).
    pub fn reserves_at_slot(&self, pool_id: i64, slot: i64) -> Result<Option<Reserves>, Lookahead> {
        let Some(events) = self.history.events.get(&pool_id) else { return Ok(None) };
        match events.iter().rev().find(|r| r.slot <= slot) {
            Some(r) if r.at_ms > self.now_ms => {
                Err(Lookahead { pool_id, what: "reserves", asked: r.at_ms, now: self.now_ms })
            }
            other => Ok(other.copied()),
        }
    }

    /// The reserves a risk report measured at `slot`: after the pool's last event at or before
    /// that block (slot), even when the keeper stored that event after the report (an EVM
    /// source mirrors a block's reserve changes once it has the block, the report read the
    /// chain at once). The engine's, for fills: a strategy cannot call it.
    pub(super) fn measured(&self, pool_id: i64, slot: Option<i64>) -> Option<Reserves> {
        let Some(slot) = slot else { return self.reserves(pool_id) };
        let at_slot = self.history.events.get(&pool_id)?.iter().rev().find(|r| r.slot <= slot).copied();
        at_slot.or_else(|| self.reserves(pool_id))
    }

    /// The pool's newest risk report made at or before the replay's instant.
    pub fn report(&self, pool_id: i64) -> Option<&HistoryReport> {
        self.history.reports.get(&pool_id)?.iter().rev().find(|r| r.created_at_ms <= self.now_ms)
    }
}
