//! Urgent simulations first. The sandbox's work falls in two lanes:
//! - **urgent**: what a trade waits on — a pending launch's report (its buy must follow the
//!   launch into its block), a pending transaction that may open trading, a new pool's first
//!   report, and the anti-rug check of a pending transaction against a held position;
//! - **background**: everything else — re-scoring a pool whose watch changed, the exit
//!   watchdog's sale simulations.
//!
//! While any urgent job is in flight, a background sandbox waits before each transaction it
//! executes (at most [`MAX_PAUSE`] at a time, so that background work still advances under a
//! steady stream of urgent jobs). On a machine with few cores this keeps a burst of re-scores
//! (a deployer's every new transaction makes each of its tokens due again) from delaying the
//! buy of a launch that arrives meanwhile. Urgent jobs never wait for one another.
//!
//! The lane is the async task's: [`urgently`] runs a future, and every sandbox created inside
//! it, in the urgent lane; a sandbox created elsewhere is background. A sandbox keeps the lane
//! it was created in when it is moved to a blocking thread or forked.

use std::{
    future::Future,
    sync::{Condvar, Mutex},
    time::Duration,
};

/// The two lanes (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lane {
    Urgent,
    #[default]
    Background,
}

/// The longest a background sandbox waits before one transaction.
pub const MAX_PAUSE: Duration = Duration::from_millis(200);

/// Urgent jobs in flight in this process, and background sandboxes waiting for none.
struct Gate {
    counts: Mutex<Counts>,
    idle: Condvar,
}

struct Counts {
    urgent: usize,
    waiting: usize,
}

static GATE: Gate = Gate { counts: Mutex::new(Counts { urgent: 0, waiting: 0 }), idle: Condvar::new() };

fn counts() -> std::sync::MutexGuard<'static, Counts> {
    GATE.counts.lock().unwrap_or_else(|e| e.into_inner())
}

tokio::task_local! {
    static LANE: Lane;
}

/// Counts one urgent job in flight for as long as it lives.
struct InFlight;

impl InFlight {
    fn new() -> Self {
        counts().urgent += 1;
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut c = counts();
        c.urgent = c.urgent.saturating_sub(1);
        if c.urgent == 0 {
            GATE.idle.notify_all();
        }
    }
}

/// Runs `f` as an urgent job: background sandboxes pause while it is in flight, and the
/// sandboxes it creates are urgent.
pub async fn urgently<F: Future>(f: F) -> F::Output {
    let _in_flight = InFlight::new();
    LANE.scope(Lane::Urgent, f).await
}

/// The current async task's lane (background outside [`urgently`], and on blocking threads).
pub fn current() -> Lane {
    LANE.try_with(|l| *l).unwrap_or_default()
}

/// Urgent jobs in flight now.
pub fn urgent_in_flight() -> usize {
    counts().urgent
}

/// Background sandboxes waiting for urgent work to end, now.
pub fn background_waiting() -> usize {
    counts().waiting
}

/// Called by a background sandbox before each transaction: returns when no urgent job is in
/// flight, or after [`MAX_PAUSE`]. Blocks the thread: call it on a blocking thread only.
pub(crate) fn wait_turn() {
    wait_turn_at_most(MAX_PAUSE);
}

fn wait_turn_at_most(pause: Duration) {
    let mut c = counts();
    if c.urgent == 0 {
        return;
    }
    c.waiting += 1;
    let (mut c, _) = GATE.idle.wait_timeout_while(c, pause, |c| c.urgent > 0).unwrap_or_else(|e| e.into_inner());
    c.waiting -= 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn background_work_waits_while_urgent_work_is_in_flight() {
        assert_eq!(current(), Lane::Background);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (entered, lane) = tokio::sync::oneshot::channel::<Lane>();
        let urgent = tokio::spawn(urgently(async move {
            let _ = entered.send(current());
            let _ = released.await;
        }));
        assert_eq!(lane.await.expect("the urgent job started"), Lane::Urgent);
        // A pause far longer than the test, so that a loaded machine cannot end it first.
        let waiting = tokio::task::spawn_blocking(|| wait_turn_at_most(Duration::from_secs(600)));
        // The background transaction is seen waiting (the loop ends on that event; the timeout
        // only fails a gate that lets it through).
        tokio::time::timeout(Duration::from_secs(10), async {
            while background_waiting() == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("a background transaction waits while urgent work is in flight");
        let _ = release.send(());
        urgent.await.expect("the urgent job ended");
        // It goes on when the urgent job ends, long before its own pause would have ended it.
        tokio::time::timeout(Duration::from_secs(60), waiting)
            .await
            .expect("the background transaction went on once urgent work ended")
            .expect("the background thread");
        assert_eq!(current(), Lane::Background);
    }
}
