//! `unlock`: makes a locked document writable again.

use super::{Action, ActionError, Context, Success};

pub struct Unlock;

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
