//! `snapshot`: keeps a copy of the current bytes under the Workfront version.

use super::{Action, ActionError, Context, Success};

pub struct Snapshot;

impl Action for Snapshot {
    fn name(&self) -> &'static str {
        "snapshot"
    }
    fn display_name(&self) -> &'static str {
        "Snapshot this version"
    }
    fn description(&self) -> &'static str {
        "Keeps a copy of the document's current bytes under the documentVersionId of the call, which it needs."
    }
    fn needs_version(&self) -> bool {
        true
    }
    fn run(&self, ctx: &Context) -> Result<Success, ActionError> {
        let version = ctx.version();
        ctx.store.snapshot(ctx.id()?, version)?;
        Ok(Success::default().with("message", format!("snapshot kept for version {version}")))
    }
}
