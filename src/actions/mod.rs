//! Custom actions: the trait, and the one static registry of the actions
//! compiled in, one file each in this folder.
//!
//! Adding an action is one file here and one line in the [`registry!`] list
//! below; `/serviceInfo`, `wfhook actions`, the dashboard, the metrics, the
//! manual, the README and the tests all read [`ACTIONS`], never a list of
//! their own. [`runner`] runs an action bounded in time and survives its
//! panics.

pub mod runner;

use std::fmt;
use std::sync::Arc;

use compact_str::CompactString;
use serde_json::{Map, Value};

use crate::store::{DocumentRef, Store, StoreError};

pub use runner::Runner;

/// Declares each action's module and registers its action, in the order
/// Workfront shows them: the module and the registry cannot disagree.
macro_rules! registry {
    ($($module:ident :: $action:ident,)*) => {
        $(mod $module;)*

        /// Every compiled-in action, in the order Workfront shows them.
        pub static ACTIONS: &[&dyn Action] = &[$(&$module::$action),*];
    };
}

registry! {
    ping::Ping,
    checksum::Checksum,
    lock::Lock,
    unlock::Unlock,
    archive::Archive,
    snapshot::Snapshot,
}

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
    /// What it does, in a sentence or two, for `wfhook actions`, the
    /// dashboard, the manual and the README.
    fn description(&self) -> &'static str;
    /// Whether `documentId` must resolve to a linked file before `run`.
    fn needs_document(&self) -> bool {
        true
    }
    /// Whether the call must carry a `documentVersionId`; the dispatcher
    /// answers 400 without one, so that [`Context::version`] is there.
    fn needs_version(&self) -> bool {
        false
    }
    /// True for an action that touches no disk, takes no lock and answers
    /// in microseconds, so that it can never hang: the runner calls it on
    /// the worker thread (still catching a panic), without the hand-off to
    /// an action thread that the timeout needs. `ping` is one; an action
    /// that does any I/O must keep the default.
    fn inline(&self) -> bool {
        false
    }
    /// Whether a success may have changed a document or the state, so
    /// that the journal gets its line before the answer says so. Only an
    /// action that writes nothing at all (`ping`) says false.
    fn changes(&self) -> bool {
        true
    }
    fn run(&self, ctx: &Context) -> Result<Success, ActionError>;
}

/// What an action gets to work with.
pub struct Context {
    pub store: Arc<dyn Store>,
    /// The Workfront document, as sent.
    pub document: DocumentRef,
    /// Our id for it, resolved through the link index by the dispatcher
    /// when the action needs a document.
    pub id: Option<String>,
    pub username: CompactString,
    pub request_id: CompactString,
}

impl Context {
    /// The resolved id; the dispatcher guarantees it for document actions.
    pub fn id(&self) -> Result<&str, ActionError> {
        self.id.as_deref().ok_or(ActionError::Store(StoreError::NotFound("no document")))
    }

    /// The Workfront version sent with the call; never empty for an action
    /// that [`needs_version`](Action::needs_version), which the dispatcher
    /// checks.
    pub fn version(&self) -> &str {
        self.document.version_id.as_deref().unwrap_or_default()
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
    Store(StoreError),
    /// The action ran and refuses, for a reason the user should read.
    Refused(String),
    TimedOut(std::time::Duration),
    Panicked,
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionError::Unknown => f.write_str("unknown action"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_registered_action_is_well_formed_and_unique() {
        let mut names = HashSet::new();
        let mut displays = HashSet::new();
        for a in ACTIONS {
            assert!(names.insert(a.name()), "duplicate action {}", a.name());
            assert!(displays.insert(a.display_name()), "two actions are shown as {}", a.display_name());
            assert!(
                !a.name().is_empty()
                    && a.name().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                a.name()
            );
            assert!(!a.display_name().is_empty(), "{}", a.name());
            // The manual and the README print these: plain ASCII sentences.
            for text in [a.display_name(), a.description()] {
                assert!(text.is_ascii() && !text.contains(['\n', '|']), "{}: {text:?}", a.name());
            }
            assert!(a.description().ends_with('.'), "{}", a.name());
            assert!(std::ptr::addr_eq(find(a.name()).unwrap(), *a));
            // An action that runs inline does no I/O, so works on no document.
            assert!(!a.inline() || !a.needs_document(), "{} works on a document but runs inline", a.name());
            assert!(!a.needs_version() || a.needs_document(), "{} needs a version but no document", a.name());
        }
        assert!(find("nope").is_none());
        assert!(find("ping").unwrap().inline());
    }

    #[test]
    fn the_table_lists_every_action() {
        let table = table();
        for a in ACTIONS {
            assert!(table.contains(a.name()) && table.contains(a.description()), "{}", a.name());
        }
        assert_eq!(table.lines().count(), 2 * ACTIONS.len());
    }
}
