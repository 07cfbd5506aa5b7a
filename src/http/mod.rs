//! The HTTP server: a fixed pool of worker threads pulling requests from one
//! `tiny_http` server, each request going framing check → route → auth →
//! handler → journal line + event → response.
//!
//! This module owns the request's whole life; [`routes`] owns what each
//! endpoint does, [`errors`] how failures read, [`auth`] the keys,
//! [`links`] the signed browser links.

pub mod auth;
pub mod errors;
pub mod links;
pub mod request;
pub mod response;
pub mod routes;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use compact_str::{CompactString, format_compact};
use tiny_http::Request;

use crate::actions::Runner;
use crate::events::{Bus, Event, rfc3339};
use crate::journal::Journal;
use crate::metrics::{ActionCount, Metrics};
use crate::store::Store;
use auth::Keys;
use errors::HttpError;
use links::Links;
use request::Params;
use response::{Reply, Style};
use routes::{Access, Route};

/// The log target of the one access line per request.
pub const ACCESS_LOG: &str = "wfhook::access";

/// What `serve` was told, after defaults.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    /// `""` or `/api/v1`: no trailing slash.
    pub base_path: String,
    pub public_url: Option<String>,
    pub publisher: String,
    pub workers: usize,
    pub max_upload_bytes: u64,
    pub action_timeout: Duration,
    pub link_ttl: Duration,
    /// Open connections at most (each costs a thread in tiny_http).
    pub max_connections: usize,
    /// Longest a socket read or write may block.
    pub io_timeout: Duration,
}

impl Config {
    /// The connection and request-head bounds the server layer enforces.
    pub fn limits(&self) -> tiny_http::Limits {
        let defaults = tiny_http::Limits::default();
        tiny_http::Limits {
            max_connections: self.max_connections,
            io_timeout: self.io_timeout,
            // A head may never take longer than one stalled read would.
            header_timeout: defaults.header_timeout.min(self.io_timeout),
            ..defaults
        }
    }
}

/// Normalizes a base path to `""` or `/a/b`.
pub fn normalize_base_path(p: &str) -> Result<String, String> {
    let trimmed = p.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.split('/').any(|c| {
        c.is_empty() || c == "." || c == ".." || !c.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
    }) {
        return Err(format!("invalid base path {p:?}"));
    }
    Ok(format!("/{trimmed}"))
}

/// Live figures for the dashboard and the metrics.
pub struct Live {
    pub started: Instant,
    pub in_flight: AtomicU64,
    pub addr: SocketAddr,
}

/// Everything a request may touch, shared by the workers.
pub struct App {
    pub cfg: Config,
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub links: Links,
    pub journal: Journal,
    pub bus: Bus,
    pub runner: Runner,
    pub metrics: Metrics,
    pub live: Live,
    id_prefix: String,
    next_id: AtomicU64,
}

/// One request as a handler sees it.
pub struct Call<'a> {
    pub rq: &'a mut Request,
    pub params: Params,
    pub event: &'a mut Event,
}

pub struct Server {
    http: Arc<tiny_http::Server>,
    app: Arc<App>,
}

/// The parts of a server that `serve` assembles from the root.
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub link_secret: String,
    pub journal: Journal,
    pub bus: Bus,
}

impl Server {
    /// Binds the listener; requests are served once [`Server::run`] starts.
    pub fn bind(mut cfg: Config, parts: Parts) -> io::Result<Server> {
        let http = tiny_http::Server::http_with_limits(&cfg.listen, cfg.limits())
            .map_err(|e| io::Error::new(io::ErrorKind::AddrNotAvailable, e.to_string()))?;
        let addr = http.server_addr().to_ip().ok_or_else(|| io::Error::other("not an IP listener"))?;
        let public = cfg.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        cfg.public_url = Some(public.trim_end_matches('/').to_string());
        let links = Links::new(
            format!("{}{}", public.trim_end_matches('/'), cfg.base_path),
            parts.link_secret.as_bytes(),
            cfg.link_ttl,
        );
        let runner = Runner::new(cfg.workers, cfg.action_timeout);
        let app = App {
            store: parts.store,
            keys: parts.keys,
            links,
            journal: parts.journal,
            bus: parts.bus,
            runner,
            metrics: Metrics::new(),
            live: Live { started: Instant::now(), in_flight: AtomicU64::new(0), addr },
            id_prefix: crate::crypto::random_hex(3),
            next_id: AtomicU64::new(1),
            cfg,
        };
        Ok(Server { http: Arc::new(http), app: Arc::new(app) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.app.live.addr
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Serves until `stop` is set, then answers what was already received
    /// and returns once every worker is done.
    pub fn run(&self, stop: &Arc<AtomicBool>) {
        let workers: Vec<_> = (0..self.app.cfg.workers.max(1))
            .map(|n| {
                let http = Arc::clone(&self.http);
                let app = Arc::clone(&self.app);
                let stop = Arc::clone(stop);
                std::thread::Builder::new()
                    .name(format!("wfhook-worker-{n}"))
                    .spawn(move || worker(&http, &app, &stop))
                    .expect("cannot start a worker thread")
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
    }
}

fn worker(http: &tiny_http::Server, app: &App, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match http.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(rq)) => app.handle_guarded(rq),
            Ok(None) => {}
            Err(e) => {
                log::warn!("accepting a request failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    // Finish what was already received before leaving.
    while let Ok(Some(rq)) = http.try_recv() {
        app.handle_guarded(rq);
    }
}

/// Counts a request as in flight until dropped, even by a panic.
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a AtomicU64) -> InFlight<'a> {
        gauge.fetch_add(1, Ordering::Relaxed);
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A snapshot of the live figures, as the dashboard and `top` show them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub version: String,
    pub listen: String,
    pub uptime_secs: f64,
    pub in_flight: u64,
    pub total: u64,
    pub failures: u64,
    pub dropped: u64,
    /// Events left out of the observers' sample (the dashboards').
    #[serde(default)]
    pub sampled: u64,
    /// Each registered action's exact counts since start.
    #[serde(default)]
    pub actions: Vec<ActionCount>,
}

impl App {
    pub fn snapshot(&self) -> Snapshot {
        let (total, failures) = self.metrics.totals();
        Snapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            listen: self.live.addr.to_string(),
            uptime_secs: self.live.started.elapsed().as_secs_f64(),
            in_flight: self.live.in_flight.load(Ordering::Relaxed),
            total,
            failures,
            dropped: self.bus.dropped(),
            sampled: self.bus.sampled(),
            actions: self.metrics.actions(),
        }
    }

    /// The Prometheus page.
    pub fn metrics_text(&self) -> String {
        self.metrics.render(&crate::metrics::Gauges {
            in_flight: self.live.in_flight.load(Ordering::Relaxed),
            uptime_seconds: self.live.started.elapsed().as_secs_f64(),
            events_dropped: self.bus.dropped(),
        })
    }

    fn request_id(&self) -> CompactString {
        format_compact!("{}-{}", self.id_prefix, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// The route for a request path, if it lies under the base path.
    fn route(&self, path: &str) -> Option<&'static Route> {
        let rest = path.strip_prefix(self.cfg.base_path.as_str())?;
        routes::find(rest.strip_prefix('/')?)
    }

    /// Handles a request, surviving a panic in any handler: the worker goes
    /// on, and tiny_http answers the dropped request with a 500.
    fn handle_guarded(&self, rq: Request) {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(rq))).is_err() {
            log::error!("a request handler panicked; the worker goes on");
        }
    }

    /// Handles one request from arrival to response.
    pub fn handle(&self, mut rq: Request) {
        let started = Instant::now();
        let _in_flight = InFlight::enter(&self.live.in_flight);
        let (path, query) = request::split_target(rq.url());
        let (path, query) = (path.to_string(), query.to_string());
        let route = self.route(&path);
        let endpoint = route.map_or("unknown", |r| r.name);
        let mut event = Event::new(rfc3339(SystemTime::now()), self.request_id(), rq.method().as_str(), endpoint);
        event.username = request::header(&rq, "username").map(routes::clip);
        let style = route.map_or(Style::Error, |r| r.style);
        let result = self.dispatch(&mut rq, route, &path, &query, &mut event);
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
        event.latency_us = started.elapsed().as_micros() as u64;
        self.metrics.record(&event);
        // The journal line is written before the response leaves.
        if let Err(e) = self.journal.append(&event) {
            log::error!("cannot append to the journal: {e}");
        }
        log::info!(
            target: ACCESS_LOG,
            "{} {} {} {:.1}ms {}",
            event.method,
            routes::first_chars(&path, 200).escape_debug(),
            event.status,
            event.latency_us as f64 / 1000.0,
            event.request_id
        );
        let mut response = response::render(reply, &event.request_id);
        if let Some(allow) = allow {
            response.add_header(response::safe_header("Allow", &allow));
        }
        let request_id = event.request_id.clone();
        self.bus.publish(event);
        if let Err(e) = rq.respond(response) {
            log::debug!("{request_id}: sending the response failed: {e}");
        }
    }

    fn dispatch(
        &self,
        rq: &mut Request,
        route: Option<&'static Route>,
        path: &str,
        query: &str,
        event: &mut Event,
    ) -> Result<Reply, HttpError> {
        request::check_framing(rq)?;
        let route =
            route.ok_or_else(|| HttpError::NotFound(format!("no endpoint at {}", routes::first_chars(path, 100))))?;
        let method = rq.method();
        // Read endpoints list HEAD themselves; an action's GET does not, so a
        // HEAD can never run one.
        if !route.methods.contains(method) {
            return Err(HttpError::MethodNotAllowed(request::allow_value(route.methods)));
        }
        let mut params = Params::from_query(query);
        match route.access {
            Access::Public => {}
            Access::KeyOrLink if params.get("sig").is_some() => self.links.verify(route.name, &params)?,
            Access::Key | Access::KeyOrLink => self.authenticate(rq)?,
        }
        if route.form {
            params.add_form_body(rq)?;
        }
        (route.handler)(self, &mut Call { rq, params, event })
    }

    fn authenticate(&self, rq: &Request) -> Result<(), HttpError> {
        let key = request::header(rq, "apiKey").unwrap_or_default();
        if key.is_empty() || !self.keys.accepts(key) {
            return Err(HttpError::Forbidden("missing or invalid apiKey"));
        }
        if request::header(rq, "username").is_none_or(|u| u.trim().is_empty()) {
            return Err(HttpError::Forbidden("missing username"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths() {
        assert_eq!(normalize_base_path("/").unwrap(), "");
        assert_eq!(normalize_base_path("").unwrap(), "");
        assert_eq!(normalize_base_path("api/v1/").unwrap(), "/api/v1");
        assert_eq!(normalize_base_path("/api/v1").unwrap(), "/api/v1");
        assert!(normalize_base_path("/a/../b").is_err());
        assert!(normalize_base_path("/a//b").is_err());
        assert!(normalize_base_path("/a?b").is_err());
    }
}
