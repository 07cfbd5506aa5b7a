//! `ping`: lets an administrator test the connection from Workfront.

use super::{Action, ActionError, Context, Success};

pub struct Ping;

impl Action for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }
    fn display_name(&self) -> &'static str {
        "Test connection"
    }
    fn description(&self) -> &'static str {
        "Answers success without touching any document, to test the connection and the key."
    }
    fn needs_document(&self) -> bool {
        false
    }
    /// Answers from memory: nothing it does can hang.
    fn inline(&self) -> bool {
        true
    }
    /// Writes nothing: its final journal line is its only one.
    fn changes(&self) -> bool {
        false
    }
    fn run(&self, _: &Context) -> Result<Success, ActionError> {
        Ok(Success::default().with("message", "wfhook is reachable"))
    }
}
