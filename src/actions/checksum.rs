//! `checksum`: records a document's SHA-256, then verifies it on later calls.

use super::{Action, ActionError, Context, Success};
use crate::store::ChecksumOutcome;

pub struct Checksum;

impl Action for Checksum {
    fn name(&self) -> &'static str {
        "checksum"
    }
    fn display_name(&self) -> &'static str {
        "Verify checksum"
    }
    fn description(&self) -> &'static str {
        "Records the SHA-256 of the document's bytes, and on later calls fails (409) if they changed outside \
         wfhook; every upload records the new sum."
    }
    fn run(&self, ctx: &Context) -> Result<Success, ActionError> {
        let (sum, message) = match ctx.store.checksum(ctx.id()?)? {
            ChecksumOutcome::Recorded(sum) => (sum, "checksum recorded"),
            ChecksumOutcome::Verified(sum) => (sum, "checksum verified"),
            ChecksumOutcome::Changed { recorded, actual } => {
                return Err(ActionError::Refused(format!(
                    "the document changed outside Workfront: SHA-256 was {recorded}, is now {actual}"
                )));
            }
        };
        Ok(Success::default().with("sha256", sum).with("message", message))
    }
}
