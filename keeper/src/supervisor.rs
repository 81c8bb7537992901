//! Supervised tasks: a task that fails is restarted after an exponential backoff with jitter;
//! every task stops when the cancellation token fires.

use std::{future::Future, time::Duration};

use rand::Rng;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Delay before restart number `attempt` (0-based): `initial * 2^attempt`, capped at `max`,
    /// then scaled by a random factor in [0.5, 1.0] so restarting sources do not stampede.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = self.initial.saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max);
        let millis = u64::try_from(capped.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.gen_range(millis / 2..=millis.max(1)))
    }
}

/// How a supervised task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The task returned `Ok`: it is done and is not restarted.
    Finished,
    /// Cancellation stopped it.
    Cancelled,
}

/// Runs `make_task()` until it returns `Ok` or `cancel` fires, restarting it with backoff after
/// each error. `on_restart` is told of every failure (for logs and metrics). A run that lasted
/// longer than `backoff.max` resets the backoff.
pub async fn supervise<F, Fut, E>(
    name: &str,
    cancel: CancellationToken,
    backoff: Backoff,
    mut make_task: F,
    mut on_restart: impl FnMut(&str, &E, Duration),
) -> Exit
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut attempt = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        let result = tokio::select! {
            r = make_task() => r,
            () = cancel.cancelled() => return Exit::Cancelled,
        };
        match result {
            Ok(()) => return Exit::Finished,
            Err(e) => {
                if started.elapsed() > backoff.max {
                    attempt = 0;
                }
                let delay = backoff.delay(attempt, &mut rand::thread_rng());
                on_restart(name, &e, delay);
                attempt = attempt.saturating_add(1);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = cancel.cancelled() => return Exit::Cancelled,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    };

    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_is_capped() {
        let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(2) };
        let mut rng = rand::thread_rng();
        for attempt in 0..40 {
            let ceiling = (100u64 << attempt.min(20)).min(2_000);
            let d = u64::try_from(b.delay(attempt, &mut rng).as_millis()).unwrap();
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d} not in [{}, {ceiling}]", ceiling / 2);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_task_restarts_with_growing_delays_until_it_succeeds() {
        let runs = Arc::new(AtomicU32::new(0));
        let mut delays = Vec::new();
        let r = runs.clone();
        let exit = supervise(
            "flaky",
            CancellationToken::new(),
            Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(10) },
            move || {
                let r = r.clone();
                async move {
                    if r.fetch_add(1, Ordering::SeqCst) < 3 {
                        Err("boom")
                    } else {
                        Ok(())
                    }
                }
            },
            |_, _, d| delays.push(d),
        )
        .await;
        assert_eq!(exit, Exit::Finished);
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        assert_eq!(delays.len(), 3);
        assert!(delays[0] <= Duration::from_millis(100) && delays[2] >= Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_stops_a_task_that_keeps_failing() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            c.cancel();
        });
        let mut failures = 0;
        let exit = supervise(
            "broken",
            cancel,
            Backoff { initial: Duration::from_millis(50), max: Duration::from_millis(400) },
            || async { Err::<(), _>("down") },
            |_, _, _| failures += 1,
        )
        .await;
        assert_eq!(exit, Exit::Cancelled);
        // About 5 s / (200..400 ms) restarts: it backs off instead of spinning.
        assert!((5..=40).contains(&failures), "{failures} restarts");
    }
}
