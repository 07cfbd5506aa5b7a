//! The runner: a fixed pool of threads that run actions, so that the
//! worker which took a request can give up on a hung action after
//! `--action-timeout` and answer, and a panic costs one call, not a thread.
//!
//! The abandonment protocol: each call carries a `fate` that the worker and
//! the action thread settle with compare-and-swap. A worker that gives up
//! marks the call abandoned, so that a call not started by then never
//! starts (its failure was already answered), and starts a replacement for
//! the stuck thread (up to a cap); the stuck thread leaves the pool once its
//! action returns.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Action, ActionError, Context, Success};

struct Job {
    action: &'static dyn Action,
    ctx: Context,
    reply: mpsc::SyncSender<Result<Success, ActionError>>,
    /// What became of the call: see [`WAITING`] and the states after it.
    fate: Arc<AtomicU8>,
}

/// The caller still waits for the answer.
const WAITING: u8 = 0;
/// The caller gave up: a job not started by then never starts, so that a
/// failure already answered cannot take effect later.
const ABANDONED: u8 = 1;
/// The caller gave up and started a replacement thread: the thread that
/// takes this job leaves the pool once it is done with it.
const REPLACED: u8 = 2;
/// The thread is done with the job (and sent its answer if it ran it).
const DONE: u8 = 3;

/// A fixed pool of threads that run actions, so that the worker which took
/// the request can give up on a hung action after the timeout and answer.
/// A thread stuck in a hung action is replaced (up to a cap) and leaves the
/// pool when its action finally returns; the replacement stays.
pub struct Runner {
    tx: Sender<Job>,
    shared: Arc<Shared>,
    timeout: Duration,
    max_extra: usize,
}

struct Shared {
    rx: Mutex<Receiver<Job>>,
    /// Replacement threads alive beyond the pool size.
    extra: AtomicUsize,
}

impl Runner {
    pub fn new(threads: usize, timeout: Duration) -> Runner {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared { rx: Mutex::new(rx), extra: AtomicUsize::new(0) });
        for _ in 0..threads.max(1) {
            spawn_runner(&shared).expect("cannot start an action thread");
        }
        Runner { tx, shared, timeout, max_extra: 4 * threads.max(1) }
    }

    /// Runs the action on the pool, waiting at most the timeout; an inline
    /// action runs on the caller's thread.
    pub fn run(&self, action: &'static dyn Action, ctx: Context) -> Result<Success, ActionError> {
        if action.inline() {
            return run_caught(action, &ctx);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let fate = Arc::new(AtomicU8::new(WAITING));
        self.tx.send(Job { action, ctx, reply, fate: Arc::clone(&fate) }).map_err(|_| ActionError::Panicked)?;
        match answer.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                let replace = self.shared.extra.fetch_add(1, Ordering::SeqCst) < self.max_extra;
                if !replace {
                    self.shared.extra.fetch_sub(1, Ordering::SeqCst);
                }
                let given_up = if replace { REPLACED } else { ABANDONED };
                if fate.compare_exchange(WAITING, given_up, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                    // The action finished just now: its answer is there.
                    if replace {
                        self.shared.extra.fetch_sub(1, Ordering::SeqCst);
                    }
                    return answer.recv().unwrap_or(Err(ActionError::Panicked));
                }
                if replace && let Err(e) = spawn_runner(&self.shared) {
                    log::error!("cannot start a replacement action thread: {e}");
                    // The stuck thread stays in the pool when it returns,
                    // unless it already left, counting itself out.
                    if fate.compare_exchange(REPLACED, ABANDONED, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                        self.shared.extra.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                Err(ActionError::TimedOut(self.timeout))
            }
            Err(RecvTimeoutError::Disconnected) => Err(ActionError::Panicked),
        }
    }
}

/// Runs an inline action on the caller's thread, turning a panic into a
/// failure as the action threads do.
fn run_caught(action: &dyn Action, ctx: &Context) -> Result<Success, ActionError> {
    catch_unwind(AssertUnwindSafe(|| action.run(ctx))).unwrap_or_else(|_| {
        log::error!("action {} panicked (request {})", action.name(), ctx.request_id);
        Err(ActionError::Panicked)
    })
}

fn spawn_runner(shared: &Arc<Shared>) -> std::io::Result<()> {
    let shared = Arc::clone(shared);
    std::thread::Builder::new().name("wfhook-action".into()).spawn(move || {
        loop {
            let job = match shared.rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                Ok(job) => job,
                Err(_) => return,
            };
            if job.fate.load(Ordering::SeqCst) == WAITING {
                let _ = job.reply.send(run_caught(job.action, &job.ctx));
            } else {
                log::warn!(
                    "action {} not started: request {} already timed out",
                    job.action.name(),
                    job.ctx.request_id
                );
            }
            if job.fate.swap(DONE, Ordering::SeqCst) == REPLACED {
                shared.extra.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::find;
    use crate::store::fs::FsStore;
    use crate::store::{DocumentRef, Store};
    use std::sync::{Condvar, MutexGuard};
    use std::time::Instant;

    /// Long enough that no call which should finish in time ever misses it,
    /// however loaded the machine: every quick call here takes microseconds.
    /// The calls meant to time out are held by a [`Gate`], not a clock.
    const TIMEOUT: Duration = Duration::from_secs(2);

    /// A hang that the test ends: actions wait on it until it opens.
    struct Gate {
        open: Mutex<bool>,
        opened: Condvar,
    }

    impl Gate {
        const fn new() -> Gate {
            Gate { open: Mutex::new(false), opened: Condvar::new() }
        }

        fn lock(&self) -> MutexGuard<'_, bool> {
            self.open.lock().unwrap_or_else(|p| p.into_inner())
        }

        fn wait(&self) {
            let mut open = self.lock();
            while !*open {
                open = self.opened.wait(open).unwrap_or_else(|p| p.into_inner());
            }
        }

        fn open(&self) {
            *self.lock() = true;
            self.opened.notify_all();
        }

        fn is_open(&self) -> bool {
            *self.lock()
        }
    }

    /// Counts its runs; waits for its gate first, when it has one, and
    /// panics last, when told to.
    struct Counted {
        runs: AtomicUsize,
        /// Calls that started, before their gate.
        entered: AtomicUsize,
        gate: Option<&'static Gate>,
        panics: bool,
        inline: bool,
    }

    impl Counted {
        const fn new(gate: Option<&'static Gate>) -> Counted {
            Counted { runs: AtomicUsize::new(0), entered: AtomicUsize::new(0), gate, panics: false, inline: false }
        }

        const fn panicking() -> Counted {
            Counted { panics: true, ..Counted::new(None) }
        }

        fn runs(&self) -> usize {
            self.runs.load(Ordering::SeqCst)
        }
    }

    impl Action for Counted {
        fn name(&self) -> &'static str {
            "counted"
        }
        fn display_name(&self) -> &'static str {
            "Counted"
        }
        fn description(&self) -> &'static str {
            "Counts its runs."
        }
        fn needs_document(&self) -> bool {
            false
        }
        fn inline(&self) -> bool {
            self.inline
        }
        fn run(&self, _: &Context) -> Result<Success, ActionError> {
            self.entered.fetch_add(1, Ordering::SeqCst);
            if let Some(gate) = self.gate {
                gate.wait();
            }
            self.runs.fetch_add(1, Ordering::SeqCst);
            if self.panics {
                panic!("counted panics");
            }
            Ok(Success::default())
        }
    }

    fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(FsStore::open(dir.path()).unwrap());
        (dir, store)
    }

    fn ctx(store: &Arc<dyn Store>) -> Context {
        Context {
            store: Arc::clone(store),
            document: DocumentRef { document_id: "d".into(), version_id: None },
            id: None,
            username: "u".into(),
            request_id: "r".into(),
        }
    }

    /// Runs `n` calls of `action` at once, as `n` workers would.
    fn at_once(
        runner: &Runner,
        store: &Arc<dyn Store>,
        n: usize,
        action: &'static dyn Action,
    ) -> Vec<Result<Success, ActionError>> {
        let barrier = std::sync::Barrier::new(n);
        std::thread::scope(|scope| {
            let calls: Vec<_> = (0..n)
                .map(|_| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        runner.run(action, ctx(store))
                    })
                })
                .collect();
            calls.into_iter().map(|c| c.join().unwrap()).collect()
        })
    }

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn panics_and_hangs_cost_one_call_not_the_pool() {
        let (_dir, store) = store();
        let runner = Runner::new(1, TIMEOUT);
        static GATE: Gate = Gate::new();
        static HUNG: Counted = Counted::new(Some(&GATE));
        static FAST: Counted = Counted::new(None);
        static BOOM: Counted = Counted::panicking();
        assert!(matches!(runner.run(&BOOM, ctx(&store)), Err(ActionError::Panicked)));
        assert!(runner.run(&FAST, ctx(&store)).is_ok());
        assert!(matches!(runner.run(&HUNG, ctx(&store)), Err(ActionError::TimedOut(_))));
        // The only pool thread is stuck; its replacement answers.
        assert!(runner.run(&FAST, ctx(&store)).is_ok());
        assert_eq!((FAST.runs(), HUNG.runs()), (2, 0));
        GATE.open();
        wait_until("the hung action returns", || HUNG.runs() == 1);
    }

    #[test]
    fn every_worker_hung_at_once_still_leaves_a_full_pool() {
        const WORKERS: usize = 4;
        let (_dir, store) = store();
        let runner = Runner::new(WORKERS, TIMEOUT);
        static GATE: Gate = Gate::new();
        static HUNG: Counted = Counted::new(Some(&GATE));
        static FAST: Counted = Counted::new(None);
        static BOOM: Counted = Counted::panicking();
        // Every worker's action hangs: each call fails alone, before the hang ends.
        for r in at_once(&runner, &store, WORKERS, &HUNG) {
            assert!(matches!(r, Err(ActionError::TimedOut(_))), "{r:?}");
        }
        assert_eq!(HUNG.runs(), 0, "the calls were answered before the hung actions returned");
        // A full worker's worth of calls runs at once on the replacements.
        for r in at_once(&runner, &store, WORKERS, &FAST) {
            assert!(r.is_ok(), "{r:?}");
        }
        // Panics, all at once, cost their calls and no thread.
        for r in at_once(&runner, &store, WORKERS, &BOOM) {
            assert!(matches!(r, Err(ActionError::Panicked)), "{r:?}");
        }
        for r in at_once(&runner, &store, WORKERS, &FAST) {
            assert!(r.is_ok(), "{r:?}");
        }
        assert_eq!(FAST.runs(), 2 * WORKERS);
        // Once the hung actions return, the replacements leave again.
        GATE.open();
        wait_until("the hung actions return", || HUNG.runs() == WORKERS);
        wait_until("the extra threads leave", || runner.shared.extra.load(Ordering::SeqCst) == 0);
        for r in at_once(&runner, &store, WORKERS, &FAST) {
            assert!(r.is_ok(), "{r:?}");
        }
    }

    #[test]
    fn a_call_given_up_before_it_started_never_runs() {
        let (_dir, store) = store();
        // One thread, so at most four replacements: five hung calls use them all up.
        let runner = Runner::new(1, Duration::from_secs(1));
        static GATE: Gate = Gate::new();
        static HUNG: Counted = Counted::new(Some(&GATE));
        static LATE: Counted = Counted::new(None);
        for _ in 0..5 {
            assert!(matches!(runner.run(&HUNG, ctx(&store)), Err(ActionError::TimedOut(_))));
        }
        // Queued behind the hung ones, with no thread left to take it, this
        // call times out before it starts…
        assert!(matches!(runner.run(&LATE, ctx(&store)), Err(ActionError::TimedOut(_))));
        GATE.open();
        wait_until("the hung actions return", || HUNG.runs() == 5);
        // …and must not run later, after its failure was answered.
        let runner = Runner { timeout: TIMEOUT, ..runner };
        assert!(runner.run(&LATE, ctx(&store)).is_ok());
        assert_eq!(LATE.runs(), 1, "an abandoned call ran after its caller gave up");
    }

    #[test]
    fn inline_actions_answer_while_every_action_thread_is_stuck() {
        let (_dir, store) = store();
        // A ping that waited for the pool would time out, and fail, here.
        let runner = Arc::new(Runner::new(1, Duration::from_secs(30)));
        static GATE: Gate = Gate::new();
        static STUCK: Counted = Counted::new(Some(&GATE));
        let r = Arc::clone(&runner);
        let s = Arc::clone(&store);
        let stuck = std::thread::spawn(move || r.run(&STUCK, ctx(&s)));
        wait_until("the only action thread is held", || STUCK.entered.load(Ordering::SeqCst) == 1);
        // It is held until the gate opens; ping answers before that, so it
        // did not wait for the pool.
        assert!(runner.run(find("ping").unwrap(), ctx(&store)).is_ok());
        assert!(!GATE.is_open() && STUCK.runs() == 0);
        GATE.open();
        assert!(stuck.join().unwrap().is_ok());
        // A panic in an inline action is still a failure, not a dead worker.
        static INLINE_BOOM: Counted = Counted { inline: true, ..Counted::panicking() };
        assert!(matches!(runner.run(&INLINE_BOOM, ctx(&store)), Err(ActionError::Panicked)));
        assert_eq!(INLINE_BOOM.runs(), 1);
    }
}
