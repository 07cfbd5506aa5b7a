//! The server: everything a request may touch ([`App`]), bound to a
//! listener, and the fixed pool of worker threads that pull requests from
//! it until told to stop.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use compact_str::{CompactString, format_compact};

use super::Config;
use super::auth::Keys;
use super::ledger::{Ledger, Record, Sinks};
use super::links::Links;
use super::request;
use super::routes::first_chars;
use crate::actions::Runner;
use crate::events::{Bus, Event, rfc3339};
use crate::journal::Journal;
use crate::metrics::{ActionCount, Metrics};
use crate::store::Store;
use crate::thumbnail::Thumbnails;
use crate::workfront::Resolver;

/// Live figures for the dashboard and the metrics.
pub struct Live {
    pub started: Instant,
    /// Requests taken by a worker and not yet recorded: in a handler, or
    /// their answer on its way.
    pub in_flight: Arc<AtomicU64>,
    pub addr: SocketAddr,
}

/// Everything a request may touch, shared by the workers.
pub struct App {
    pub cfg: Config,
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub links: Links,
    /// Asks Workfront which file a document linked by browsing is.
    pub workfront: Resolver,
    pub thumbnails: Thumbnails,
    pub journal: Arc<Journal>,
    pub bus: Bus,
    pub runner: Runner,
    pub metrics: Arc<Metrics>,
    pub live: Live,
    pub ledger: Ledger,
    id_prefix: String,
    next_id: AtomicU64,
}

pub struct Server {
    /// `None` once dropped: see `Drop`.
    http: Option<Arc<tiny_http::Server>>,
    app: Arc<App>,
}

/// The parts of a server that `serve` assembles from the root.
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub link_secret: String,
    pub journal: Journal,
    pub bus: Bus,
    pub workfront: Resolver,
    pub thumbnails: Thumbnails,
}

impl Server {
    /// Binds the listener; requests are served once [`Server::run`] starts.
    pub fn bind(mut cfg: Config, parts: Parts) -> io::Result<Server> {
        let listener = TcpListener::bind(&cfg.listen)?;
        let addr = listener.local_addr()?;
        let public = cfg.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        cfg.public_url = Some(public.trim_end_matches('/').to_string());
        let links = Links::new(cfg.base_api_url(), parts.link_secret.as_bytes(), cfg.link_ttl);
        let runner = Runner::new(cfg.workers, cfg.action_timeout);
        let journal = Arc::new(parts.journal);
        let metrics = Arc::new(Metrics::new());
        let in_flight = Arc::new(AtomicU64::new(0));
        let ledger = Ledger::start(Sinks {
            journal: Arc::clone(&journal),
            metrics: Arc::clone(&metrics),
            bus: parts.bus.clone(),
            in_flight: Arc::clone(&in_flight),
        });
        let limits = cfg.limits();
        let app = Arc::new(App {
            store: parts.store,
            keys: parts.keys,
            links,
            workfront: parts.workfront,
            thumbnails: parts.thumbnails,
            journal,
            bus: parts.bus,
            runner,
            metrics,
            live: Live { started: Instant::now(), in_flight, addr },
            ledger,
            id_prefix: crate::crypto::random_hex(3),
            next_id: AtomicU64::new(1),
            cfg,
        });
        // The connection loop asks the app which bodies to read, and tells
        // it of the requests it refuses itself.
        let hooks = tiny_http::Hooks {
            refusal: Some(Arc::new({
                let app = Arc::clone(&app);
                move |r: &tiny_http::Refusal| app.record_refusal(r)
            })),
            body: Some(Arc::new({
                let app = Arc::clone(&app);
                move |head: &tiny_http::Head<'_>| app.body_plan(head)
            })),
        };
        let http = tiny_http::Server::from_tcp(listener, limits, hooks).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Server { http: Some(Arc::new(http)), app })
    }

    pub fn addr(&self) -> SocketAddr {
        self.app.live.addr
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Serves until `stop` is set, then finishes every request under way
    /// (bodies still coming in included) and returns once every worker is
    /// done.
    pub fn run(&self, stop: &Arc<AtomicBool>) {
        let http = self.http.as_ref().expect("a server not yet dropped");
        let workers: Vec<_> = (0..self.app.cfg.workers.max(1))
            .map(|n| {
                let http = Arc::clone(http);
                let app = Arc::clone(&self.app);
                std::thread::Builder::new()
                    .name(format!("wfhook-worker-{n}"))
                    .spawn(move || worker(&http, &app))
                    .expect("cannot start a worker thread")
            })
            .collect();
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        http.shutdown();
        for w in workers {
            let _ = w.join();
        }
    }
}

/// Takes requests until the connection layer has stopped and handed over
/// the last one.
fn worker(http: &tiny_http::Server, app: &App) {
    loop {
        match http.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(rq)) => app.handle_guarded(rq),
            Ok(None) if http.is_finished() => break,
            Ok(None) => {}
            Err(e) => {
                log::warn!("accepting a request failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    while let Ok(Some(rq)) = http.try_recv() {
        app.handle_guarded(rq);
    }
}

impl Drop for Server {
    /// The connection loop sends the answers on their way (each one's
    /// completion queues its final record), then the ledger writes the
    /// last records: after this, the journal has every request.
    fn drop(&mut self) {
        drop(self.http.take());
        self.app.ledger.close();
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

    /// A new request id: this process's random prefix and a counter.
    pub(super) fn request_id(&self) -> CompactString {
        format_compact!("{}-{}", self.id_prefix, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Records a request the connection layer answered itself (or that
    /// the client left inside its body). Nothing in it was authenticated:
    /// its fields are cut short.
    fn record_refusal(&self, r: &tiny_http::Refusal) {
        let path = r.target.as_deref().map_or("", |t| request::split_target(t).0);
        let endpoint = self.route(path).map_or("unknown", |route| route.name);
        let arrived = SystemTime::now() - r.received.elapsed();
        let method = r.method.as_deref().map_or("-", |m| first_chars(m, 16));
        let mut event = Event::new(rfc3339(arrived), self.request_id(), method, endpoint);
        event.status = r.status;
        event.latency_us = r.received.elapsed().as_micros() as u64;
        event.error = Some(refusal_reason(r.status, r.answered).into());
        event.bytes = Some(0);
        event.complete = Some(r.answered);
        self.ledger.writer().write(Record { event, path: first_chars(path, 64).into(), handled: false });
    }
}

/// What the journal says of a request the connection layer refused.
fn refusal_reason(status: u16, answered: bool) -> &'static str {
    match (status, answered) {
        (_, false) => "the client left before the request was whole",
        (400, _) => "malformed request",
        (408, _) => "the request head or body came too slowly",
        (417, _) => "unsupported Expect header",
        (431, _) => "request head too large",
        (503, _) => "too many connections",
        (505, _) => "HTTP version not supported",
        _ => "refused by the connection layer",
    }
}

/// An app on a store in `root`, assembled as `serve` does but never run,
/// for unit tests that call handlers or the admin listener: key `test-key`,
/// links valid for an hour.
#[cfg(test)]
pub(crate) fn test_app(root: &std::path::Path) -> Arc<App> {
    let store = crate::store::fs::FsStore::open(root).unwrap();
    let journal = Journal::open(store.state_dir(), crate::journal::Limits::default()).unwrap();
    let thumbnails = Thumbnails::start(store.state_dir(), crate::thumbnail::Settings::new(1 << 20, 1)).unwrap();
    let cfg = Config {
        listen: "127.0.0.1:0".into(),
        base_path: String::new(),
        public_url: None,
        publisher: "test".into(),
        workers: 1,
        max_upload_bytes: 1 << 20,
        action_timeout: Duration::from_secs(60),
        link_ttl: Duration::from_secs(3600),
        max_connections: 8,
        max_connections_per_client: 8,
        io_timeout: Duration::from_secs(60),
        min_transfer_rate: 0,
    };
    let parts = Parts {
        store: Arc::new(store),
        keys: Keys::new(vec!["test-key".into()]),
        link_secret: "s".into(),
        journal,
        bus: Bus::new(),
        workfront: Resolver::disabled(),
        thumbnails,
    };
    Arc::clone(Server::bind(cfg, parts).unwrap().app())
}
