//! One request's whole life: route → auth → handler → response, then its
//! final record (journal line, metric, event) once the answer is out.
//! Every request a worker takes leaves through [`App::handle`], which
//! records it once, whatever the handler did, panics included.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use compact_str::CompactString;

use tiny_http::{BodyPlan, Header, Request};

use super::App;
use super::errors::HttpError;
use super::ledger::Record;
use super::request::{self, Params};
use super::response::{self, Reply, Style};
use super::routes::{self, Access, Body, Route, clip, first_chars};
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

/// How many characters of each client-sent field the event of a request
/// that proved neither a key nor a link keeps (an authenticated one keeps
/// [`routes::clip`]'s 255): anyone can send those requests, so a flood of
/// them costs the journal little per line.
const UNPROVEN_CHARS: usize = 64;

/// Cuts the fields of `event` that the client chose (the method, the
/// username, the ids, the action, and the error, which may quote the path)
/// to [`UNPROVEN_CHARS`].
fn shorten_unproven(event: &mut Event) {
    fn cut(text: &mut CompactString) {
        let end = first_chars(text, UNPROVEN_CHARS).len();
        text.truncate(end);
    }
    cut(&mut event.method);
    let Event { action, document_id, document_version_id, id, username, error, .. } = event;
    for field in [action, document_id, document_version_id, id, username, error].into_iter().flatten() {
        cut(field);
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

    /// Handles one request from arrival to response. A success that may
    /// have changed documents is journaled before it is answered; every
    /// request gets its final record once its answer has been written, or
    /// cut.
    pub fn handle(&self, rq: Request) {
        self.handle_with(rq, App::route)
    }

    /// [`App::handle`] with the routes that `find` gives: the unit tests
    /// add routes no build ships.
    fn handle_with(&self, mut rq: Request, find: fn(&App, &str) -> Option<&'static Route>) {
        let received = rq.received();
        self.live.in_flight.fetch_add(1, Ordering::Relaxed);
        let (path, query) = request::split_target(rq.url());
        let (path, query) = (CompactString::from(first_chars(path, 200)), query.to_string());
        let route = find(self, &path);
        let endpoint = route.map_or("unknown", |r| r.name);
        let arrived = SystemTime::now() - received.elapsed();
        let mut event = Event::new(rfc3339(arrived), self.request_id(), rq.method().as_str(), endpoint);
        event.username = request::header(&rq, "username").map(clip);
        let style = route.map_or(Style::Error, |r| r.style);
        let mut proven = false;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.dispatch(&mut rq, route, &path, &query, &mut event, &mut proven)
        }))
        .unwrap_or_else(|_| {
            log::error!("{} {}: the handler panicked; the worker goes on", event.request_id, event.endpoint);
            Err(HttpError::Panicked)
        });
        let (reply, allow) = match result {
            Ok(reply) => (reply, None),
            Err(e) => {
                let (status, message) = e.status_and_message();
                // Workfront out of reach or busy is the network's state, not
                // wfhook's failure: a warning.
                let level = if matches!(e, HttpError::Workfront(_)) { log::Level::Warn } else { log::Level::Error };
                match e.detail() {
                    Some(detail) => log::log!(level, "{} {}: {message}: {detail}", event.request_id, event.endpoint),
                    None if status >= 500 => log::log!(level, "{} {}: {message}", event.request_id, event.endpoint),
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
        if !proven {
            shorten_unproven(&mut event);
        }
        event.status = match &reply {
            Reply::Json(status, _) => *status,
            Reply::File { browser: Some(response::Browser { part: Some(_), .. }), .. }
            | Reply::Image { browser: Some(response::Browser { part: Some(_), .. }), .. } => 206,
            Reply::Html { .. }
            | Reply::File { .. }
            | Reply::JsonBytes(_)
            | Reply::JsonFile { .. }
            | Reply::Image { .. } => 200,
            Reply::NotModified(..) => 304,
            Reply::Unsatisfiable(_) => {
                // A client resuming a download it already has: said, so
                // that the failure lists and the journal show why.
                event.error = Some("the range starts past the end of the file".into());
                416
            }
        };
        // A success that may have changed something is journaled before
        // the answer says it happened; errors changed nothing.
        let changed = route.is_some_and(|r| r.changes)
            && event.status < 400
            && event.action.as_deref().and_then(crate::actions::find).is_none_or(|a| a.changes());
        if changed {
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
    /// `proven` is set once the request has shown a valid key or link.
    fn dispatch(
        &self,
        rq: &mut Request,
        route: Option<&'static Route>,
        path: &str,
        query: &str,
        event: &mut Event,
        proven: &mut bool,
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
                *proven = true;
            }
            Access::Key | Access::KeyOrLink => {
                self.authenticate(rq.headers())?;
                *proven = true;
            }
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
        let Reply::Html { body: page, .. } = reply else { panic!("not a folder page") };
        let expiries: Vec<u64> = page
            .split("expires=")
            .skip(1)
            .map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap())
            .collect();
        // Every link on the page: its breadcrumb, sort, thumbnail, open and
        // download links.
        assert_eq!(expiries.len(), page.matches(" href=\"").count() + page.matches(" src=\"").count(), "{page}");
        assert!(expiries.len() >= 8, "{page}");
        expiries
    }

    fn view(app: &App, query: &str, headers: &[(&str, &str)]) -> Result<Reply, HttpError> {
        let mut rq = tiny_http::TestRequest::new().with_path(&format!("/view?{query}"));
        for (name, value) in headers {
            rq = rq.with_header(tiny_http::Header::from_bytes(*name, *value).unwrap());
        }
        let mut rq: Request = rq.into();
        let mut event = Event::new(rfc3339(SystemTime::now()), "r-1".into(), "GET", "view");
        app.dispatch(&mut rq, routes::find("view"), "/view", query, &mut event, &mut false)
    }

    #[test]
    fn unproven_requests_keep_less_of_what_the_client_sent() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::http::server::test_app(dir.path());
        let long = "u".repeat(300);
        let journaled = |method: &str, path: &str, key: Option<&str>| -> Event {
            let mut rq = tiny_http::TestRequest::new().with_method(method.parse().unwrap()).with_path(path);
            rq = rq.with_header(tiny_http::Header::from_bytes("username", long.as_str()).unwrap());
            if let Some(key) = key {
                rq = rq.with_header(tiny_http::Header::from_bytes("apiKey", key).unwrap());
            }
            app.handle(rq.into());
            app.journal.tail(1).unwrap().pop().unwrap()
        };
        let chars = |field: &Option<CompactString>| field.as_deref().unwrap_or_default().chars().count();
        let id = "é".repeat(300);
        for (event, status) in [
            (journaled("GET", &format!("/metadata?id={id}"), None), 403),
            (journaled("GET", &format!("/metadata?id={id}"), Some("wrong-key")), 403),
            (journaled("GET", &format!("/{}", "p".repeat(300)), Some("test-key")), 404),
            (journaled(&"M".repeat(300), "/metadata", Some("test-key")), 405),
            (journaled("GET", &format!("/download?id={id}&expires=9999999999&sig=00"), None), 403),
            (journaled("GET", "/serviceInfo", None), 200),
        ] {
            assert_eq!(event.status, status, "{event:?}");
            assert_eq!(chars(&event.username), UNPROVEN_CHARS, "{event:?}");
            assert!(chars(&event.error) <= UNPROVEN_CHARS && event.method.len() <= UNPROVEN_CHARS, "{event:?}");
        }
        let unknown = journaled("GET", &format!("/{}", "p".repeat(300)), None);
        assert_eq!(unknown.error.as_deref(), Some(&*format!("no endpoint at /{}", "p".repeat(48))));
        // With the key, what the client sent is kept to 255 characters.
        let event = journaled("GET", &format!("/metadata?id={id}"), Some("test-key"));
        assert_eq!((chars(&event.username), chars(&event.id)), (255, 255), "{event:?}");
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

    /// A route no build ships, whose handler panics.
    static PANICS: Route = Route {
        name: "panics",
        methods: &[tiny_http::Method::Get],
        access: Access::Public,
        style: Style::Error,
        body: Body::None,
        changes: false,
        advertised: false,
        handler: |_, _| panic!("a bug in a handler"),
    };

    #[test]
    fn a_panicking_handler_is_answered_500_and_accounted_for_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::http::server::test_app(dir.path());
        let events = app.bus.subscribe(16);
        let before = app.live.in_flight.load(Ordering::Relaxed);
        let rq = tiny_http::TestRequest::new().with_path("/panics");
        app.handle_with(rq.into(), |_, _| Some(&PANICS));
        // The journal, the event bus and the metrics each got the final
        // record, and the request is no longer in flight.
        let journaled = app.journal.tail(1).unwrap().pop().unwrap();
        assert_eq!((journaled.endpoint.as_str(), journaled.status), ("panics", 500), "{journaled:?}");
        assert_eq!(journaled.error.as_deref(), Some("internal error"));
        assert_eq!(journaled.complete, Some(true), "the 500 went out whole");
        assert!(journaled.bytes.is_some_and(|n| n > 0), "{journaled:?}");
        let (_, streamed) = events.try_recv().expect("an event on the bus");
        assert_eq!(*streamed, journaled);
        assert!(app.metrics_text().contains("wfhook_requests_total{endpoint=\"panics\",status=\"500\"} 1"));
        assert_eq!(app.live.in_flight.load(Ordering::Relaxed), before);
        // The next request is served as usual.
        app.handle(tiny_http::TestRequest::new().with_path("/serviceInfo").into());
        assert_eq!(app.journal.tail(1).unwrap().pop().unwrap().status, 200);
    }
}
