//! One task set for every long-running task of the keeper.
//!
//! - Each task is supervised: an error, a panic, or (for a critical task) an unexpected end
//!   restarts it after an exponential backoff with jitter.
//! - A critical task that fails `max_failures` times in a row stops the whole keeper with that
//!   task's error (never a half-alive daemon); a non-critical one keeps being retried.
//! - Tasks run in stages, and stages stop in the order they were added (sources, then risk,
//!   then trading, then the writer), each after the one before has finished, so nothing is
//!   left with work and nobody to take it.
//! - Each task's state is in the mirror's `keeper_tasks` (`keeper status`, API health) and the
//!   metrics `keeper_task_up{task}` and `keeper_restarts_total{task}`.

use std::{fmt::Display, future::Future, sync::Arc, time::Duration};

use rand::Rng;
use sqlx::SqlitePool;
use tokio::{sync::mpsc, task::JoinHandle};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The task returned `Ok`: it is done and is not restarted (non-critical tasks only).
    Finished,
    /// Cancellation stopped it.
    Cancelled,
    /// It failed `max_failures` times in a row (critical tasks only); the last error.
    GaveUp(String),
}

/// What the supervisor does with failures.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub backoff: Backoff,
    /// Consecutive failures of a critical task that stop the keeper.
    pub max_failures: u32,
}

/// Tells a task's state changes (logs, metrics, the mirror).
pub trait Observer: Send + Sync {
    fn changed(&self, task: &str, state: TaskState, restarts: u32, error: Option<&str>);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Running,
    Restarting,
    Stopped,
    Failed,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::Restarting => "restarting",
            TaskState::Stopped => "stopped",
            TaskState::Failed => "failed",
        }
    }
}

struct Silent;

impl Observer for Silent {
    fn changed(&self, _: &str, _: TaskState, _: u32, _: Option<&str>) {}
}

/// Runs `make_task()` until cancelled, restarting it with backoff after each error or panic.
/// A non-critical task that returns `Ok` is done; a critical one has ended unexpectedly, which
/// counts as a failure. A run that lasted longer than `backoff.max` resets the count.
pub async fn supervise<F, Fut, E>(
    name: &str,
    critical: bool,
    cancel: CancellationToken,
    policy: Policy,
    mut make_task: F,
    observer: &dyn Observer,
) -> Exit
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let mut failures = 0u32;
    let mut restarts = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        observer.changed(name, TaskState::Running, restarts, None);
        let mut handle = tokio::spawn(make_task());
        let error = tokio::select! {
            r = &mut handle => match r {
                Ok(Ok(())) if !critical => {
                    observer.changed(name, TaskState::Stopped, restarts, None);
                    return Exit::Finished;
                }
                Ok(Ok(())) if cancel.is_cancelled() => {
                    observer.changed(name, TaskState::Stopped, restarts, None);
                    return Exit::Cancelled;
                }
                Ok(Ok(())) => "ended unexpectedly".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) if e.is_panic() => format!("panicked: {}", panic_text(e.into_panic())),
                Err(e) => e.to_string(),
            },
            () = cancel.cancelled() => {
                // The task saw the same token: let it finish its own shutdown.
                let _ = handle.await;
                observer.changed(name, TaskState::Stopped, restarts, None);
                return Exit::Cancelled;
            }
        };
        if started.elapsed() > policy.backoff.max {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        if critical && failures >= policy.max_failures {
            observer.changed(name, TaskState::Failed, restarts, Some(&error));
            return Exit::GaveUp(error);
        }
        let delay = policy.backoff.delay(failures - 1, &mut rand::thread_rng());
        restarts = restarts.saturating_add(1);
        tracing::warn!(task = name, %error, ?delay, "task failed; restarting");
        observer.changed(name, TaskState::Restarting, restarts, Some(&error));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = cancel.cancelled() => {
                observer.changed(name, TaskState::Stopped, restarts, None);
                return Exit::Cancelled;
            }
        }
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// A task set stopped the keeper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task {task} failed {failures} times in a row, the last time with: {error}")]
pub struct TaskFailed {
    pub task: String,
    pub failures: u32,
    pub error: String,
}

struct Stage {
    name: &'static str,
    cancel: CancellationToken,
    handles: Vec<(String, JoinHandle<Exit>)>,
}

/// Records task states in the mirror and the metrics.
struct Recorder {
    db: Option<SqlitePool>,
    critical: std::sync::Mutex<std::collections::HashMap<String, bool>>,
}

impl Observer for Recorder {
    fn changed(&self, task: &str, state: TaskState, restarts: u32, error: Option<&str>) {
        let up = if state == TaskState::Running { 1.0 } else { 0.0 };
        metrics::gauge!("keeper_task_up", "task" => task.to_string()).set(up);
        if state == TaskState::Restarting {
            metrics::counter!("keeper_restarts_total", "task" => task.to_string()).increment(1);
            metrics::counter!("keeper_errors_total", "task" => task.to_string()).increment(1);
        }
        let Some(db) = self.db.clone() else { return };
        let critical = self.critical.lock().ok().and_then(|c| c.get(task).copied()).unwrap_or(false);
        let (task, error) = (task.to_string(), error.map(str::to_string));
        tokio::spawn(async move {
            if let Err(e) =
                mirror::tasks::record(&db, &task, state.as_str(), critical, restarts, error.as_deref()).await
            {
                tracing::debug!(%task, error = %e, "cannot record the task's state");
            }
        });
    }
}

/// The keeper's tasks, in stages that stop in order.
pub struct TaskSet {
    policy: Policy,
    stages: Vec<Stage>,
    recorder: Arc<Recorder>,
    gave_up: (mpsc::UnboundedSender<TaskFailed>, mpsc::UnboundedReceiver<TaskFailed>),
}

/// A stage of a [`TaskSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageId(usize);

impl TaskSet {
    /// `db`: where task states are recorded (`None`: nowhere).
    pub fn new(policy: Policy, db: Option<SqlitePool>) -> Self {
        let recorder = Arc::new(Recorder { db, critical: Default::default() });
        Self { policy, stages: Vec::new(), recorder, gave_up: mpsc::unbounded_channel() }
    }

    /// Adds a stage; stages stop in the order they were added.
    pub fn stage(&mut self, name: &'static str) -> StageId {
        self.stages.push(Stage { name, cancel: CancellationToken::new(), handles: Vec::new() });
        StageId(self.stages.len() - 1)
    }

    /// The token a stage's tasks stop on.
    pub fn token(&self, stage: StageId) -> CancellationToken {
        self.stages[stage.0].cancel.clone()
    }

    /// The names of every task, in stage order.
    pub fn names(&self) -> Vec<String> {
        self.stages.iter().flat_map(|s| s.handles.iter().map(|(n, _)| n.clone())).collect()
    }

    /// Spawns a supervised task in `stage`. `make` is called for every (re)start with the
    /// stage's cancellation token.
    pub fn spawn<F, Fut, E>(&mut self, stage: StageId, name: &str, critical: bool, mut make: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let cancel = self.token(stage);
        let policy = self.policy;
        let recorder = Arc::clone(&self.recorder);
        if let Ok(mut c) = recorder.critical.lock() {
            c.insert(name.to_string(), critical);
        }
        let gave_up = self.gave_up.0.clone();
        let task = name.to_string();
        let handle = tokio::spawn(async move {
            let exit = supervise(&task, critical, cancel.clone(), policy, || make(cancel.clone()), &*recorder).await;
            if let Exit::GaveUp(error) = &exit {
                let _ = gave_up.send(TaskFailed {
                    task: task.clone(),
                    failures: policy.max_failures,
                    error: error.clone(),
                });
            }
            exit
        });
        self.stages[stage.0].handles.push((name.to_string(), handle));
    }

    /// Runs until `cancel` fires or a critical task gives up, then stops the stages in order,
    /// giving each at most `timeout` (in all). Returns the failure that stopped the keeper.
    pub async fn run(mut self, cancel: CancellationToken, timeout: Duration) -> Result<(), TaskFailed> {
        tracing::info!(tasks = ?self.names(), "keeper running");
        let failed = tokio::select! {
            () = cancel.cancelled() => None,
            f = self.gave_up.1.recv() => f,
        };
        if let Some(f) = &failed {
            tracing::error!(task = %f.task, error = %f.error, "a critical task keeps failing; stopping the keeper");
        } else {
            tracing::info!("shutting down");
        }
        let deadline = tokio::time::Instant::now() + timeout;
        for stage in self.stages {
            stage.cancel.cancel();
            for (name, handle) in stage.handles {
                match tokio::time::timeout_at(deadline, handle).await {
                    Ok(_) => {}
                    Err(_) => tracing::warn!(task = %name, stage = stage.name, "did not stop in time"),
                }
            }
        }
        match failed {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}

/// Supervises without recording (tests, one-off use).
pub async fn supervise_quietly<F, Fut, E>(
    name: &str,
    critical: bool,
    cancel: CancellationToken,
    policy: Policy,
    make: F,
) -> Exit
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + Send + 'static,
{
    supervise(name, critical, cancel, policy, make, &Silent).await
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex,
    };

    use super::*;

    fn policy(initial_ms: u64, max_ms: u64, max_failures: u32) -> Policy {
        Policy {
            backoff: Backoff { initial: Duration::from_millis(initial_ms), max: Duration::from_millis(max_ms) },
            max_failures,
        }
    }

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

    #[derive(Default)]
    struct Seen(Mutex<Vec<(String, TaskState, u32)>>);

    impl Observer for Seen {
        fn changed(&self, task: &str, state: TaskState, restarts: u32, _: Option<&str>) {
            self.0.lock().unwrap().push((task.to_string(), state, restarts));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_task_restarts_with_growing_delays_until_it_succeeds() {
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let seen = Seen::default();
        let exit = supervise(
            "flaky",
            false,
            CancellationToken::new(),
            policy(100, 10_000, 100),
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
            &seen,
        )
        .await;
        assert_eq!(exit, Exit::Finished);
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        let states: Vec<TaskState> = seen.0.lock().unwrap().iter().map(|s| s.1).collect();
        assert_eq!(states.iter().filter(|s| **s == TaskState::Restarting).count(), 3);
        assert_eq!(states.last(), Some(&TaskState::Stopped));
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_stops_a_task_that_keeps_failing() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            c.cancel();
        });
        let seen = Seen::default();
        let exit =
            supervise("broken", false, cancel, policy(50, 400, 3), || async { Err::<(), _>("down") }, &seen).await;
        assert_eq!(exit, Exit::Cancelled);
        let failures = seen.0.lock().unwrap().iter().filter(|s| s.1 == TaskState::Restarting).count();
        // About 5 s / (200..400 ms) restarts: it backs off instead of spinning.
        assert!((5..=40).contains(&failures), "{failures} restarts");
    }

    #[tokio::test(start_paused = true)]
    async fn a_critical_task_that_keeps_failing_or_ends_gives_up_and_panics_are_failures() {
        let exit = supervise_quietly("trader", true, CancellationToken::new(), policy(10, 1_000, 3), || async {
            Ok::<(), String>(())
        })
        .await;
        assert_eq!(exit, Exit::GaveUp("ended unexpectedly".into()), "a critical task must not just end");

        let exit = supervise_quietly("risk", true, CancellationToken::new(), policy(10, 1_000, 2), || async {
            if true {
                panic!("index out of bounds");
            }
            Ok::<(), String>(())
        })
        .await;
        assert_eq!(exit, Exit::GaveUp("panicked: index out of bounds".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_set_stops_stages_in_order_and_reports_a_critical_failure() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut set = TaskSet::new(policy(10, 1_000, 3), None);
        let sources = set.stage("sources");
        let writer = set.stage("writer");
        for (stage, name) in [(writer, "writer"), (sources, "source")] {
            let order = order.clone();
            set.spawn(stage, name, true, move |cancel: CancellationToken| {
                let order = order.clone();
                async move {
                    cancel.cancelled().await;
                    order.lock().unwrap().push(name);
                    Ok::<(), String>(())
                }
            });
        }
        assert_eq!(set.names(), vec!["source", "writer"]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        set.run(cancel, Duration::from_secs(5)).await.unwrap();
        assert_eq!(*order.lock().unwrap(), vec!["source", "writer"], "sources stop before the writer");

        let mut set = TaskSet::new(policy(10, 1_000, 3), None);
        let trade = set.stage("trade");
        set.spawn(trade, "trader", true, |_| async { Err::<(), _>("rpc down") });
        let err = set.run(CancellationToken::new(), Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err, TaskFailed { task: "trader".into(), failures: 3, error: "rpc down".into() });
    }
}
