//! The server: everything a request may touch ([`App`]), bound to a
//! listener, and the fixed pool of worker threads that pull requests from
//! it until told to stop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use compact_str::{CompactString, format_compact};

use super::Config;
use super::auth::Keys;
use super::links::Links;
use crate::actions::Runner;
use crate::events::Bus;
use crate::journal::Journal;
use crate::metrics::{ActionCount, Metrics};
use crate::store::Store;

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
}

/// An app on a store in `root`, assembled as `serve` does but never run,
/// for unit tests that call handlers or the admin listener: key `test-key`,
/// links valid for an hour.
#[cfg(test)]
pub(crate) fn test_app(root: &std::path::Path) -> Arc<App> {
    let store = crate::store::fs::FsStore::open(root).unwrap();
    let journal = Journal::open(store.state_dir(), crate::journal::Limits::default()).unwrap();
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
        io_timeout: Duration::from_secs(60),
    };
    let parts = Parts {
        store: Arc::new(store),
        keys: Keys::new(vec!["test-key".into()]),
        link_secret: "s".into(),
        journal,
        bus: Bus::new(),
    };
    Arc::clone(Server::bind(cfg, parts).unwrap().app())
}
