//! `lock` and `unlock`: make a document read-only, and writable again.

use super::{Action, ActionError, Context, Success};

pub struct Lock;
pub struct Unlock;

impl Action for Lock {
    fn name(&self) -> &'static str {
        "lock"
    }
    fn display_name(&self) -> &'static str {
        "Lock (read-only)"
    }
    fn description(&self) -> &'static str {
        "Makes the document read-only: uploads, renames and deletes are refused until it is unlocked."
    }
    fn run(&self, ctx: &Context) -> Result<Success, ActionError> {
        ctx.store.set_locked(ctx.id()?, true)?;
        Ok(Success::default().with("message", "document locked"))
    }
}

impl Action for Unlock {
    fn name(&self) -> &'static str {
        "unlock"
    }
    fn display_name(&self) -> &'static str {
        "Unlock"
    }
    fn description(&self) -> &'static str {
        "Makes a locked document writable again."
    }
    fn run(&self, ctx: &Context) -> Result<Success, ActionError> {
        ctx.store.set_locked(ctx.id()?, false)?;
        Ok(Success::default().with("message", "document unlocked"))
    }
}
