//! One request's whole life: route → auth → handler → response, then its
//! final record (journal line, metric, event) once the answer is out.
//! Every request a worker takes leaves through [`App::handle`], which
//! records it once, whatever the handler did, panics included.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use compact_str::CompactString;

use tiny_http::{BodyPlan, Header, Request};

use super::errors::HttpError;
use super::request::{self, Params};
use super::response::{self, Reply, Style};
use super::routes::{self, Access, Body, Route, clip, first_chars};
use super::App;
use super::ledger::Record;
use crate::events::{Event, rfc3339};
use crate::store::ROOT_ID;

/// One request as a handler sees it: the request, its decoded parameters,
/// and the event that records it.
pub struct Call<'a> {
    pub rq: &'a mut Request,
    pub params: Params,
    pub event: &'a mut Event,
    /// When the signed link this request came through expires; `None`
    /// when it came with a key.
    pub link_expires: Option<u64>,
}

impl Call<'_> {
    /// Reads the required id parameter `key` and records it in the event.
    pub fn record_id(&mut self, key: &str) -> Result<String, HttpError> {
        let id = self.params.require(key)?.to_string();
        self.event.id = Some(clip(&id));
        Ok(id)
    }

    /// Reads the folder id parameter `key`, the root when absent or empty,
    /// and records it in the event.
    pub fn record_folder_id(&mut self, key: &str) -> String {
        let id = self.params.get(key).filter(|p| !p.is_empty()).unwrap_or(ROOT_ID).to_string();
        self.event.id = Some(clip(&id));
        id
    }

    /// Reads the Workfront document (`documentId`, and `documentVersionId`
    /// when sent) and records both in the event; `None` without a
    /// `documentId`.
    pub fn record_document(&mut self) -> Option<(String, Option<String>)> {
        let version = self.params.get("documentVersionId").filter(|v| !v.is_empty()).map(str::to_string);
        self.event.document_version_id = version.as_deref().map(clip);
        let doc = self.params.get("documentId").filter(|d| !d.is_empty())?.to_string();
        self.event.document_id = Some(clip(&doc));
        Some((doc, version))
    }
}

impl App {
    /// The route for a request path, if it lies under the base path.
    pub(super) fn route(&self, path: &str) -> Option<&'static Route> {
        let rest = path.strip_prefix(self.cfg.base_path.as_str())?;
        routes::find(rest.strip_prefix('/')?)
    }

    /// Handles a request, surviving a panic outside the handler too: the
    /// worker goes on, and tiny_http answers the dropped request with a 500.
    pub(super) fn handle_guarded(&self, rq: Request) {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(rq))).is_err() {
            log::error!("a request failed outside its handler; the worker goes on");
        }
    }

    /// Handles one request from arrival to response. A request that may
    /// change documents is journaled before it is answered; every request
    /// gets its final record once its answer has been written, or cut.
    pub fn handle(&self, mut rq: Request) {
        let received = rq.received();
        self.live.in_flight.fetch_add(1, Ordering::Relaxed);
        let (path, query) = request::split_target(rq.url());
        let (path, query) = (CompactString::from(first_chars(path, 200)), query.to_string());
        let route = self.route(&path);
        let endpoint = route.map_or("unknown", |r| r.name);
        let arrived = SystemTime::now() - received.elapsed();
        let mut event = Event::new(rfc3339(arrived), self.request_id(), rq.method().as_str(), endpoint);
        event.username = request::header(&rq, "username").map(clip);
        let style = route.map_or(Style::Error, |r| r.style);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.dispatch(&mut rq, route, &path, &query, &mut event)
        }))
        .unwrap_or_else(|_| {
            log::error!("{} {}: the handler panicked; the worker goes on", event.request_id, event.endpoint);
            Err(HttpError::Panicked)
        });
        let (reply, allow) = match result {
            Ok(reply) => (reply, None),
            Err(e) => {
                let (status, message) = e.status_and_message();
                match e.detail() {
                    Some(detail) => log::error!("{} {}: {message}: {detail}", event.request_id, event.endpoint),
                    None if status >= 500 => {
                        log::error!("{} {}: {message}", event.request_id, event.endpoint)
                    }
                    None => {}
                }
                event.error = Some(message.as_str().into());
                let allow = match e {
                    HttpError::MethodNotAllowed(allow) => Some(allow),
                    _ => None,
                };
                (Reply::Json(status, style.error_body(&message)), allow)
            }
        };
        event.status = match &reply {
            Reply::Json(status, _) => *status,
            Reply::Html(_) | Reply::File { .. } => 200,
        };
        if route.is_some_and(|r| r.changes) {
            // Journaled before the answer says it happened.
            event.latency_us = received.elapsed().as_micros() as u64;
            if let Err(e) = self.journal.append(&event) {
                log::error!("cannot append to the journal: {e}");
            }
        }
        let mut response = response::render(reply, &event.request_id);
        if let Some(allow) = allow {
            response.add_header(response::safe_header("Allow", &allow));
        }
        let request_id = event.request_id.clone();
        let ledger = self.ledger.writer();
        rq.on_complete(move |done| {
            event.bytes = Some(done.body_bytes);
            event.complete = Some(done.complete);
            event.latency_us = received.elapsed().as_micros() as u64;
            ledger.write(Record { event, path, handled: true });
        });
        if let Err(e) = rq.respond(response) {
            log::debug!("{request_id}: sending the response failed: {e}");
        }
    }

    /// Route, method, auth, form body, handler. The framing of the body was
    /// judged by the vendored tiny_http before the request got here: a
    /// request it could not delimit without ambiguity never reaches a worker.
    fn dispatch(
        &self,
        rq: &mut Request,
        route: Option<&'static Route>,
        path: &str,
        query: &str,
        event: &mut Event,
    ) -> Result<Reply, HttpError> {
        let route = route.ok_or_else(|| HttpError::NotFound(format!("no endpoint at {}", first_chars(path, 100))))?;
        let method = rq.method();
        // Read endpoints list HEAD themselves; an action's GET does not, so a
        // HEAD can never run one.
        if !route.methods.contains(method) {
            return Err(HttpError::MethodNotAllowed(request::allow_value(route.methods)));
        }
        let mut params = Params::from_query(query);
        let mut link_expires = None;
        match route.access {
            Access::Public => {}
            Access::KeyOrLink if params.get("sig").is_some() => {
                link_expires = Some(self.links.verify(route.name, &params)?);
            }
            Access::Key | Access::KeyOrLink => self.authenticate(rq.headers())?,
        }
        if route.body == Body::Form {
            params.add_form_body(rq)?;
        }
        (route.handler)(self, &mut Call { rq, params, event, link_expires })
    }

    fn authenticate(&self, headers: &[Header]) -> Result<(), HttpError> {
        let key = request::header_in(headers, "apiKey").unwrap_or_default();
        if key.is_empty() || !self.keys.accepts(key) {
            return Err(HttpError::Forbidden("missing or invalid apiKey"));
        }
        if request::header_in(headers, "username").is_none_or(|u| u.trim().is_empty()) {
            return Err(HttpError::Forbidden("missing username"));
        }
        Ok(())
    }

    /// Whether the connection layer reads a request's body before a worker
    /// gets the request, and where it keeps it. Only a body the route takes,
    /// under its limit, sent with a valid key: anything else is left
    /// unread, and the handler refuses the request without waiting for it
    /// (a body nobody may send costs no worker and no disk).
    pub(super) fn body_plan(&self, head: &tiny_http::Head<'_>) -> BodyPlan {
        let (path, _) = request::split_target(head.url);
        let Some(route) = self.route(path).filter(|r| r.methods.contains(head.method)) else {
            return BodyPlan::Leave;
        };
        let max = match route.body {
            Body::None => return BodyPlan::Leave,
            Body::Form => request::MAX_FORM_BYTES,
            Body::Upload => self.cfg.max_upload_bytes,
        };
        if route.access != Access::Public && self.authenticate(head.headers).is_err() {
            return BodyPlan::Leave;
        }
        if head.length.is_some_and(|n| n > max) {
            return BodyPlan::Leave;
        }
        let spool = if head.length.is_some_and(|n| n <= tiny_http::SMALL_BODY as u64) {
            None
        } else {
            match self.store.body_spool() {
                Ok(file) => Some(file),
                Err(e) => {
                    // Unread, the body gets a 400 from the handler.
                    log::error!("cannot make a temp file for a request body: {e}");
                    return BodyPlan::Leave;
                }
            }
        };
        BodyPlan::Take { max, spool }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Kind;
    use std::time::UNIX_EPOCH;

    fn now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    /// The `expires` of every link on a folder page.
    fn expiries_on(reply: Reply) -> Vec<u64> {
        let Reply::Html(page) = reply else { panic!("not a folder page") };
        let expiries: Vec<u64> = page
            .split("expires=")
            .skip(1)
            .map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(expiries.len(), 2, "{page}");
        expiries
    }

    fn view(app: &App, query: &str, headers: &[(&str, &str)]) -> Result<Reply, HttpError> {
        let mut rq = tiny_http::TestRequest::new().with_path(&format!("/view?{query}"));
        for (name, value) in headers {
            rq = rq.with_header(tiny_http::Header::from_bytes(*name, *value).unwrap());
        }
        let mut rq: Request = rq.into();
        let mut event = Event::new(rfc3339(SystemTime::now()), "r-1".into(), "GET", "view");
        app.dispatch(&mut rq, routes::find("view"), "/view", query, &mut event)
    }

    #[test]
    fn a_folder_page_opened_by_link_lists_links_that_die_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::http::server::test_app(dir.path());
        let folder = app.store.create_folder(ROOT_ID, "docs").unwrap();
        app.store.create_folder(&folder.id, "sub").unwrap();
        let file = app.store.upload_init(&folder.id, "a.txt", None).unwrap();
        assert_eq!(file.kind, Kind::File);

        // An old link, minutes from its end, to the folder.
        let folder_expires = now() + 120;
        let link = app.links.make_until("view", &folder.id, folder_expires);
        let query = link.split_once('?').unwrap().1;
        for expires in expiries_on(view(&app, query, &[]).unwrap()) {
            assert!(expires <= folder_expires, "{expires} outlives the page's link ({folder_expires})");
        }

        // Opened with the key, the page's links get the configured time.
        let before = now();
        let key = [("apiKey", "test-key"), ("username", "u")];
        for expires in expiries_on(view(&app, &format!("id={}", folder.id), &key).unwrap()) {
            assert!(expires >= before + 3600, "{expires}");
        }
        // An `expires` that no signature covers changes nothing.
        let query = format!("id={}&expires={folder_expires}", folder.id);
        for expires in expiries_on(view(&app, &query, &key).unwrap()) {
            assert!(expires >= before + 3600, "{expires}");
        }
    }
}
