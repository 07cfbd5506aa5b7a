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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    fn run(&self, ctx: &Context) -> Result<Success, ActionError>;
}

/// What an action gets to work with.
pub struct Context {
    pub store: Arc<dyn Store>,
    /// The Workfront document, as sent.
    pub document: DocumentRef,
    /// Our id for it, resolved through the link index when the action needs one.
    pub id: Option<String>,
    pub username: String,
    pub request_id: String,
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
}

/// A fixed pool of threads that run actions, so that the worker which took
/// the request can give up on a hung action after the timeout and answer.
/// A thread stuck in a hung action is replaced (up to a cap) and leaves the
/// pool when its action finally returns.
pub struct Runner {
    tx: Sender<Job>,
    shared: Arc<Shared>,
    timeout: Duration,
    max_extra: usize,
}

struct Shared {
    rx: Mutex<Receiver<Job>>,
    /// Threads that should leave once their current action returns.
    surplus: AtomicUsize,
    /// Replacement threads alive beyond the pool size.
    extra: AtomicUsize,
}

impl Runner {
    pub fn new(threads: usize, timeout: Duration) -> Runner {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared { rx: Mutex::new(rx), surplus: AtomicUsize::new(0), extra: AtomicUsize::new(0) });
        for _ in 0..threads.max(1) {
            spawn_runner(&shared);
        }
        Runner { tx, shared, timeout, max_extra: 4 * threads.max(1) }
    }

    /// Resolves the document if the action needs it, then runs the action
    /// on the pool, waiting at most the timeout.
    pub fn run(&self, action: &'static dyn Action, mut ctx: Context) -> Result<Success, ActionError> {
        if action.needs_document() {
            ctx.id = Some(ctx.store.resolve_document(&ctx.document)?);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.tx.send(Job { action, ctx, reply }).map_err(|_| ActionError::Panicked)?;
        match answer.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                if self.shared.extra.fetch_add(1, Ordering::SeqCst) < self.max_extra {
                    self.shared.surplus.fetch_add(1, Ordering::SeqCst);
                    spawn_runner(&self.shared);
                } else {
                    self.shared.extra.fetch_sub(1, Ordering::SeqCst);
                }
                Err(ActionError::TimedOut(self.timeout))
            }
            Err(RecvTimeoutError::Disconnected) => Err(ActionError::Panicked),
        }
    }
}

fn spawn_runner(shared: &Arc<Shared>) {
    let shared = Arc::clone(shared);
    std::thread::Builder::new()
        .name("wfhook-action".into())
        .spawn(move || {
            loop {
                let job = match shared.rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                    Ok(job) => job,
                    Err(_) => return,
                };
                let result = catch_unwind(AssertUnwindSafe(|| job.action.run(&job.ctx)));
                let result = result.unwrap_or_else(|_| {
                    log::error!("action {} panicked (request {})", job.action.name(), job.ctx.request_id);
                    Err(ActionError::Panicked)
                });
                let _ = job.reply.send(result);
                let leave =
                    shared.surplus.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| s.checked_sub(1)).is_ok();
                if leave {
                    shared.extra.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
            }
        })
        .expect("cannot start an action thread");
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
