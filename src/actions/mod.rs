//! Custom actions: the trait, the one static registry, and the runner that
//! bounds each call in time and survives its panics.
//!
//! Adding an action is one file in this folder and one line in [`ACTIONS`];
//! `/serviceInfo`, `wfhook actions`, the dashboard and the tests all read
//! the registry, never a list of their own.

mod archive;
mod checksum;
mod lock;
mod ping;
mod snapshot;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use compact_str::CompactString;
use serde_json::{Map, Value};

use crate::store::{DocumentRef, Store, StoreError};

/// Every compiled-in action, in the order Workfront shows them.
pub static ACTIONS: &[&dyn Action] =
    &[&ping::Ping, &checksum::Checksum, &lock::Lock, &lock::Unlock, &archive::Archive, &snapshot::Snapshot];

/// The registry as a table for `wfhook actions`.
pub fn table() -> String {
    let width = ACTIONS.iter().map(|a| a.name().len()).max().unwrap_or(0);
    let mut s = String::new();
    for a in ACTIONS {
        s.push_str(&format!("{:width$}  {}\n{:width$}  {}\n", a.name(), a.display_name(), "", a.description()));
    }
    s
}

/// The action registered under `name`.
pub fn find(name: &str) -> Option<&'static dyn Action> {
    ACTIONS.iter().copied().find(|a| a.name() == name)
}

pub trait Action: Sync {
    /// The `name` Workfront sends; lowercase ASCII letters, digits and `-`.
    fn name(&self) -> &'static str;
    /// What Workfront shows in its Document Actions menu.
    fn display_name(&self) -> &'static str;
    /// One sentence for `wfhook actions` and the dashboard.
    fn description(&self) -> &'static str;
    /// Whether `documentId` must resolve to a linked file before `run`.
    fn needs_document(&self) -> bool {
        true
    }
    /// True for an action that touches no disk, takes no lock and answers
    /// in microseconds, so that it can never hang: the runner calls it on
    /// the worker thread (still catching a panic), without the hand-off to
    /// an action thread that the timeout needs. `ping` is one; an action
    /// that does any I/O must keep the default.
    fn inline(&self) -> bool {
        false
    }
    fn run(&self, ctx: &Context) -> Result<Success, ActionError>;
}

/// What an action gets to work with.
pub struct Context {
    pub store: Arc<dyn Store>,
    /// The Workfront document, as sent.
    pub document: DocumentRef,
    /// Our id for it, resolved through the link index when the action needs one.
    pub id: Option<String>,
    pub username: CompactString,
    pub request_id: CompactString,
}

impl Context {
    /// The resolved id; the dispatcher guarantees it for document actions.
    pub fn id(&self) -> Result<&str, ActionError> {
        self.id.as_deref().ok_or(ActionError::Store(StoreError::NotFound("no document")))
    }
}

/// Extra fields for the `{"status": "success"}` answer.
#[derive(Debug, Default, PartialEq)]
pub struct Success(pub Map<String, Value>);

impl Success {
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Success {
        self.0.insert(key.to_string(), value.into());
        self
    }
}

#[derive(Debug)]
pub enum ActionError {
    /// No action has this name.
    Unknown,
    /// A parameter the action needs is missing.
    Missing(&'static str),
    Store(StoreError),
    /// The action ran and refuses, for a reason the user should read.
    Refused(String),
    TimedOut(Duration),
    Panicked,
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionError::Unknown => f.write_str("unknown action"),
            ActionError::Missing(p) => write!(f, "missing parameter: {p}"),
            ActionError::Store(e) => e.fmt(f),
            ActionError::Refused(why) => f.write_str(why),
            ActionError::TimedOut(d) => {
                write!(f, "the action did not finish within {} s", d.as_secs_f64())
            }
            ActionError::Panicked => f.write_str("the action failed unexpectedly"),
        }
    }
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> ActionError {
        ActionError::Store(e)
    }
}

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

    /// Resolves the document if the action needs it, then runs the action
    /// on the pool, waiting at most the timeout.
    pub fn run(&self, action: &'static dyn Action, mut ctx: Context) -> Result<Success, ActionError> {
        if action.needs_document() {
            ctx.id = Some(ctx.store.resolve_document(&ctx.document)?);
        }
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
    use crate::store::fs::FsStore;
    use std::collections::HashSet;

    #[test]
    fn every_registered_action_is_well_formed_and_unique() {
        let mut names = HashSet::new();
        for a in ACTIONS {
            assert!(names.insert(a.name()), "duplicate action {}", a.name());
            assert!(
                !a.name().is_empty()
                    && a.name().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                a.name()
            );
            assert!(!a.display_name().is_empty(), "{}", a.name());
            assert!(a.description().ends_with('.'), "{}", a.name());
            assert!(std::ptr::addr_eq(find(a.name()).unwrap(), *a));
        }
        assert!(find("nope").is_none());
    }

    struct Sleepy(Duration);
    impl Action for Sleepy {
        fn name(&self) -> &'static str {
            "sleepy"
        }
        fn display_name(&self) -> &'static str {
            "Sleepy"
        }
        fn description(&self) -> &'static str {
            "Sleeps."
        }
        fn needs_document(&self) -> bool {
            false
        }
        fn run(&self, _: &Context) -> Result<Success, ActionError> {
            std::thread::sleep(self.0);
            Ok(Success::default())
        }
    }

    struct Boom;
    impl Action for Boom {
        fn name(&self) -> &'static str {
            "boom"
        }
        fn display_name(&self) -> &'static str {
            "Boom"
        }
        fn description(&self) -> &'static str {
            "Panics."
        }
        fn needs_document(&self) -> bool {
            false
        }
        fn run(&self, _: &Context) -> Result<Success, ActionError> {
            panic!("boom")
        }
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

    #[test]
    fn panics_and_hangs_cost_one_call_not_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(FsStore::open(dir.path()).unwrap());
        // Roomy enough that a busy machine never times out the quick calls.
        let runner = Runner::new(1, Duration::from_millis(500));
        static HUNG: Sleepy = Sleepy(Duration::from_secs(3));
        static FAST: Sleepy = Sleepy(Duration::ZERO);
        assert!(matches!(runner.run(&Boom, ctx(&store)), Err(ActionError::Panicked)));
        assert!(runner.run(&FAST, ctx(&store)).is_ok());
        assert!(matches!(runner.run(&HUNG, ctx(&store)), Err(ActionError::TimedOut(_))));
        // The only pool thread is stuck; its replacement answers.
        assert!(runner.run(&FAST, ctx(&store)).is_ok());
    }

    /// Counts its runs; sleeps for a while first when `hang` is set.
    struct Counted {
        runs: AtomicUsize,
        hang: Duration,
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
        fn run(&self, _: &Context) -> Result<Success, ActionError> {
            std::thread::sleep(self.hang);
            self.runs.fetch_add(1, Ordering::SeqCst);
            Ok(Success::default())
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
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn every_worker_hung_at_once_still_leaves_a_full_pool() {
        const WORKERS: usize = 4;
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(FsStore::open(dir.path()).unwrap());
        let runner = Runner::new(WORKERS, Duration::from_millis(300));
        static HUNG: Counted = Counted { runs: AtomicUsize::new(0), hang: Duration::from_secs(2) };
        static FAST: Counted = Counted { runs: AtomicUsize::new(0), hang: Duration::ZERO };
        // Every worker's action hangs: each call fails alone, before the hang ends.
        for r in at_once(&runner, &store, WORKERS, &HUNG) {
            assert!(matches!(r, Err(ActionError::TimedOut(_))), "{r:?}");
        }
        assert_eq!(HUNG.runs.load(Ordering::SeqCst), 0, "the calls were answered before the hung actions returned");
        // A full worker's worth of calls runs at once on the replacements.
        for r in at_once(&runner, &store, WORKERS, &FAST) {
            assert!(r.is_ok(), "{r:?}");
        }
        // Panics, all at once, cost their calls and no thread.
        for r in at_once(&runner, &store, WORKERS, &Boom) {
            assert!(matches!(r, Err(ActionError::Panicked)), "{r:?}");
        }
        for r in at_once(&runner, &store, WORKERS, &FAST) {
            assert!(r.is_ok(), "{r:?}");
        }
        assert_eq!(FAST.runs.load(Ordering::SeqCst), 2 * WORKERS);
        // Once the hung actions return, the replacements leave again.
        wait_until("the hung actions return", || HUNG.runs.load(Ordering::SeqCst) == WORKERS);
        wait_until("the extra threads leave", || runner.shared.extra.load(Ordering::SeqCst) == 0);
        for r in at_once(&runner, &store, WORKERS, &FAST) {
            assert!(r.is_ok(), "{r:?}");
        }
    }

    #[test]
    fn a_call_given_up_before_it_started_never_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(FsStore::open(dir.path()).unwrap());
        // One thread, so at most four replacements: five hung calls use them all up.
        let runner = Runner::new(1, Duration::from_millis(100));
        static HUNG: Counted = Counted { runs: AtomicUsize::new(0), hang: Duration::from_millis(1500) };
        static LATE: Counted = Counted { runs: AtomicUsize::new(0), hang: Duration::ZERO };
        for _ in 0..5 {
            assert!(matches!(runner.run(&HUNG, ctx(&store)), Err(ActionError::TimedOut(_))));
        }
        // Queued behind the hung ones, this call times out before it starts…
        assert!(matches!(runner.run(&LATE, ctx(&store)), Err(ActionError::TimedOut(_))));
        wait_until("the hung actions return", || HUNG.runs.load(Ordering::SeqCst) == 5);
        // …and must not run later, after its failure was answered.
        assert!(runner.run(&LATE, ctx(&store)).is_ok());
        assert_eq!(LATE.runs.load(Ordering::SeqCst), 1, "an abandoned call ran after its caller gave up");
    }

    #[test]
    fn inline_actions_answer_while_every_action_thread_is_stuck() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(FsStore::open(dir.path()).unwrap());
        let runner = Arc::new(Runner::new(1, Duration::from_secs(2)));
        static STUCK: Sleepy = Sleepy(Duration::from_millis(1500));
        let r = Arc::clone(&runner);
        let s = Arc::clone(&store);
        let stuck = std::thread::spawn(move || r.run(&STUCK, ctx(&s)));
        // The only action thread is busy for 1.5 s; ping does not wait for it.
        std::thread::sleep(Duration::from_millis(100));
        let started = std::time::Instant::now();
        assert!(runner.run(find("ping").unwrap(), ctx(&store)).is_ok());
        assert!(started.elapsed() < Duration::from_millis(500), "ping waited for the pool");
        assert!(stuck.join().unwrap().is_ok());
        // A panic in an inline action is still a failure, not a dead worker.
        struct InlineBoom;
        impl Action for InlineBoom {
            fn name(&self) -> &'static str {
                "inline-boom"
            }
            fn display_name(&self) -> &'static str {
                "Inline boom"
            }
            fn description(&self) -> &'static str {
                "Panics inline."
            }
            fn needs_document(&self) -> bool {
                false
            }
            fn inline(&self) -> bool {
                true
            }
            fn run(&self, _: &Context) -> Result<Success, ActionError> {
                panic!("inline boom")
            }
        }
        assert!(matches!(runner.run(&InlineBoom, ctx(&store)), Err(ActionError::Panicked)));
    }

    #[test]
    fn only_document_free_actions_run_inline() {
        for a in ACTIONS {
            assert!(!a.inline() || !a.needs_document(), "{} works on a document but runs inline", a.name());
        }
        assert!(find("ping").unwrap().inline());
    }

    #[test]
    fn document_actions_need_a_linked_document() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(FsStore::open(dir.path()).unwrap());
        let runner = Runner::new(1, Duration::from_secs(5));
        let err = runner.run(find("lock").unwrap(), ctx(&store)).unwrap_err();
        assert!(matches!(err, ActionError::Store(StoreError::NotFound(_))));
        assert!(runner.run(find("ping").unwrap(), ctx(&store)).is_ok());
    }
}
