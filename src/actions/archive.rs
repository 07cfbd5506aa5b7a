//! `archive`: moves a document out of browsing and search, keeping its bytes.

use super::{Action, ActionError, Context, Success};

pub struct Archive;

impl Action for Archive {
    fn name(&self) -> &'static str {
        "archive"
    }
    fn display_name(&self) -> &'static str {
        "Archive"
    }
    fn description(&self) -> &'static str {
        "Moves the document into the archive area, out of files and search; it can still be read by id, and \
         archiving it again succeeds."
    }
    fn run(&self, ctx: &Context) -> Result<Success, ActionError> {
        let message = if ctx.store.archive(ctx.id()?)? { "document archived" } else { "document was already archived" };
        Ok(Success::default().with("message", message))
    }
}
