//! The HTTP layer's one error enum and the one `match` that turns any error
//! into a status code and a human message. Messages never carry a path, a
//! stack trace or a credential; the detail of an I/O error goes to the log.

use std::fmt;

use crate::actions::ActionError;
use crate::store::StoreError;
use crate::workfront::LookupError;

#[derive(Debug)]
pub enum HttpError {
    /// Missing or wrong `apiKey`/`username`, or a bad link signature.
    Forbidden(&'static str),
    NotFound(String),
    /// The endpoint exists but not for this method; carries the `Allow` value.
    MethodNotAllowed(String),
    BadRequest(String),
    /// A parameter the endpoint (or the action) needs was not sent.
    MissingParameter(String),
    /// The body is over its limit: judged from its declared length before
    /// it is read, or when reading goes past the limit.
    TooLarge(u64),
    Store(StoreError),
    Action(ActionError),
    /// Workfront was asked which file a document is, and gave no id.
    Workfront(LookupError),
    /// The handler panicked; the worker goes on.
    Panicked,
}

impl HttpError {
    /// The status code, and the message the client sees.
    pub fn status_and_message(&self) -> (u16, String) {
        match self {
            HttpError::Forbidden(why) => (403, why.to_string()),
            HttpError::NotFound(what) => (404, what.clone()),
            HttpError::MethodNotAllowed(allow) => (405, format!("method not allowed; use {allow}")),
            HttpError::BadRequest(why) => (400, why.clone()),
            HttpError::MissingParameter(name) => (400, format!("missing parameter: {name}")),
            HttpError::TooLarge(limit) => (413, format!("body larger than the limit of {limit} bytes")),
            HttpError::Store(e) => (store_status(e), e.to_string()),
            HttpError::Action(e) => (action_status(e), e.to_string()),
            HttpError::Workfront(e) => (e.status(), e.to_string()),
            HttpError::Panicked => (500, "internal error".to_string()),
        }
    }

    /// What the log should say beyond the client's message (I/O detail).
    pub fn detail(&self) -> Option<String> {
        match self {
            HttpError::Store(StoreError::Io(e) | StoreError::Body(e))
            | HttpError::Action(ActionError::Store(StoreError::Io(e) | StoreError::Body(e))) => Some(e.to_string()),
            HttpError::Workfront(e) => e.detail().map(str::to_string),
            _ => None,
        }
    }
}

fn store_status(e: &StoreError) -> u16 {
    match e {
        StoreError::BadName(_) | StoreError::Invalid(_) | StoreError::Body(_) => 400,
        // An id that cannot exist names nothing, as Adobe's contract has it.
        StoreError::BadId | StoreError::NotFound(_) => 404,
        StoreError::Exists => 409,
        StoreError::Locked | StoreError::Archived => 403,
        StoreError::Io(_) => 500,
    }
}

fn action_status(e: &ActionError) -> u16 {
    match e {
        ActionError::Unknown => 404,
        ActionError::Store(e) => store_status(e),
        ActionError::Refused(_) => 409,
        ActionError::TimedOut(_) | ActionError::Panicked => 500,
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.status_and_message().1)
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> HttpError {
        HttpError::Store(e)
    }
}

impl From<LookupError> for HttpError {
    fn from(e: LookupError) -> HttpError {
        HttpError::Workfront(e)
    }
}

impl From<ActionError> for HttpError {
    fn from(e: ActionError) -> HttpError {
        HttpError::Action(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::time::Duration;

    #[test]
    fn statuses() {
        let cases: Vec<(HttpError, u16)> = vec![
            (HttpError::Forbidden("x"), 403),
            (HttpError::NotFound("x".into()), 404),
            (HttpError::MethodNotAllowed("GET".into()), 405),
            (HttpError::TooLarge(1), 413),
            (HttpError::MissingParameter("id".into()), 400),
            (StoreError::BadId.into(), 404),
            (StoreError::Exists.into(), 409),
            (StoreError::Locked.into(), 403),
            (StoreError::NotFound("x").into(), 404),
            (ActionError::Unknown.into(), 404),
            (ActionError::Store(StoreError::Locked).into(), 403),
            (ActionError::Refused("x".into()).into(), 409),
            (ActionError::TimedOut(Duration::from_secs(1)).into(), 500),
            (ActionError::Panicked.into(), 500),
            (LookupError::NotConfigured.into(), 404),
            (LookupError::Busy.into(), 503),
            (LookupError::TimedOut.into(), 504),
            (LookupError::KeyRefused.into(), 502),
            (HttpError::Panicked, 500),
        ];
        for (e, status) in cases {
            assert_eq!(e.status_and_message().0, status, "{e:?}");
        }
    }

    #[test]
    fn io_errors_never_reach_the_client() {
        let e: HttpError = StoreError::Io(io::Error::other("/secret/path: permission denied")).into();
        let (status, msg) = e.status_and_message();
        assert_eq!(status, 500);
        assert!(!msg.contains("/secret"));
        assert!(e.detail().unwrap().contains("/secret"));
    }
}
