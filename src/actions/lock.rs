//! `lock`: makes a document read-only until `unlock`.

use super::{Action, ActionError, Context, Success};

pub struct Lock;

impl Action for Lock {
    fn name(&self) -> &'static str {
        "lock"
    }
    fn display_name(&self) -> &'static str {
        "Lock (read-only)"
    }
    fn description(&self) -> &'static str {
        "Makes the document read-only: uploads, renames and deletes get 403 until it is unlocked, and its metadata shows readOnly."
    }
    fn run(&self, ctx: &Context) -> Result<Success, ActionError> {
        ctx.store.set_locked(ctx.id()?, true)?;
        Ok(Success::default().with("message", "document locked"))
    }
}
