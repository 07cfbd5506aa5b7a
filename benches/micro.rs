//! Micro benchmarks of wfhook's hot paths, each against a baseline measured
//! in the same run: prints ns/op of both and their ratio.
//!
//! A small harness of its own (no dev-dependency): each case is calibrated
//! to batches of about BENCH_BATCH_MS, then batches of the baseline and the
//! subject alternate for BENCH_ROUNDS rounds, and the median ns/op of each
//! is reported, so that drift in a shared machine's load hits both alike.
//! Inputs go through `black_box`, and so do results.
//!
//! `cargo bench --bench micro [-- FILTER…]`; environment: BENCH_BATCH_MS
//! (10), BENCH_ROUNDS (11), BENCH_FILES (100000, the size of the tree for
//! id ↔ path resolution).

mod common;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tiny_http::{Request, Response, TestRequest};
use wfhook::actions::{self, Context};
use wfhook::events::{Bus, Event, rfc3339};
use wfhook::http::auth::Keys;
use wfhook::http::request::Params;
use wfhook::http::response::{self, Reply};
use wfhook::http::routes::{self, ROUTES, Route};
use wfhook::http::{App, Call, Parts, Server};
use wfhook::journal::{Journal, Limits};
use wfhook::metrics::Metrics;
use wfhook::store::fs::FsStore;
use wfhook::store::state::StateLog;
use wfhook::store::{DocumentRef, Store};
use wfhook::thumbnail::{Settings, Thumbnails};

const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978"; // 48 hex digits, as generated
const USER: &str = "bench@example.com";
/// What Workfront sends to run an action on a document version.
const PING_QUERY: &str =
    "name=ping&documentId=5f1e2d3c4b5a69788796a5b4c3d2e1f0&documentVersionId=5f1e2d3c4b5a69788796a5b4c3d2e1f1";
/// A search with percent-escapes and `+` for spaces.
const ESCAPED_QUERY: &str = "query=annual+report%202024%20%C3%A9t%C3%A9&parentId=0123456789abcdef";

// ---------------------------------------------------------------- harness

struct Harness {
    filters: Vec<String>,
    batch: Duration,
    rounds: usize,
}

impl Harness {
    fn wanted(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    /// Whether any case of a group (a name prefix such as `store/`) is wanted.
    fn group(&self, prefix: &str) -> bool {
        self.wanted(prefix) || self.filters.iter().any(|f| f.starts_with(prefix))
    }

    /// Iterations that take about one batch.
    fn calibrate(&self, f: &mut dyn FnMut()) -> u64 {
        let mut n = 1u64;
        loop {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            let e = t.elapsed();
            if e >= self.batch / 8 || n >= 1 << 30 {
                let per = e.as_nanos().max(1) as f64 / n as f64;
                return ((self.batch.as_nanos() as f64 / per) as u64).max(1);
            }
            n *= 2;
        }
    }

    /// ns/op of one batch of `n` calls.
    fn batch(f: &mut dyn FnMut(), n: u64) -> f64 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_nanos() as f64 / n as f64
    }

    /// Measures `subject` against `baseline`, alternating batches.
    fn compare(&self, name: &str, baseline_name: &str, baseline: &mut dyn FnMut(), subject: &mut dyn FnMut()) {
        if !self.wanted(name) {
            return;
        }
        let (nb, ns) = (self.calibrate(baseline), self.calibrate(subject));
        let (mut b, mut s) = (Vec::new(), Vec::new());
        for round in 0..self.rounds {
            if round % 2 == 0 {
                b.push(Self::batch(baseline, nb));
                s.push(Self::batch(subject, ns));
            } else {
                s.push(Self::batch(subject, ns));
                b.push(Self::batch(baseline, nb));
            }
        }
        let (b, s) = (common::median(b), common::median(s));
        println!("{name:<34} {s:>11.1} ns/op   {baseline_name:<40} {b:>10.1} ns/op   ratio {:>8.2}", s / b);
    }
}

/// A cheap deterministic shuffle (so the same ids are drawn every run).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

// ---------------------------------------------------------------- fixtures

fn event() -> Event {
    Event {
        action: Some("ping".into()),
        document_id: Some("5f1e2d3c4b5a69788796a5b4c3d2e1f0".into()),
        document_version_id: Some("5f1e2d3c4b5a69788796a5b4c3d2e1f1".into()),
        username: Some(USER.into()),
        status: 200,
        latency_us: 87,
        ..Event::new(rfc3339(SystemTime::now()), "a1b2c3-123456".into(), "GET", "customAction")
    }
}

/// A server assembled as `serve` does, on `root`, without its listener
/// being used: requests are handed to `App::handle` directly.
fn app(root: &Path) -> (Server, Arc<App>) {
    let store = FsStore::open(root).unwrap();
    let journal = Journal::open(store.state_dir(), Limits::default()).unwrap();
    let thumbnails = Thumbnails::start(store.state_dir(), Settings::new(1 << 20, 8)).unwrap();
    let cfg = common::serve_config(&["--listen", "127.0.0.1:0"]);
    let parts = Parts {
        store: Arc::new(store),
        keys: Keys::new(vec![KEY.into()]),
        link_secret: "0".repeat(64),
        journal,
        bus: Bus::new(),
        workfront: wfhook::workfront::Resolver::disabled(),
        thumbnails,
    };
    let server = Server::bind(cfg, parts).unwrap();
    let app = Arc::clone(server.app());
    (server, app)
}

fn get(path: &str) -> Request {
    TestRequest::new()
        .with_path(path)
        .with_header(tiny_http::Header::from_bytes("apiKey", KEY).unwrap())
        .with_header(tiny_http::Header::from_bytes("username", USER).unwrap())
        .into()
}

/// `files / 100` empty files in each of 10 × 10 nested folders:
/// `dN/eN/fNNNNNN.txt`.
fn tree(root: &Path, files: u64) {
    let per_leaf = files.div_ceil(100);
    for d in 0..10 {
        for e in 0..10 {
            let dir = root.join(format!("d{d}")).join(format!("e{e}"));
            fs::create_dir_all(&dir).unwrap();
            for f in 0..per_leaf {
                File::create(dir.join(format!("f{:06}.txt", (d * 10 + e) * per_leaf + f))).unwrap();
            }
        }
    }
}

fn ids_by_walking(store: &dyn Store, id: &str, files: &mut Vec<String>, folders: &mut Vec<String>) {
    for item in store.list(id).unwrap() {
        if item.kind == wfhook::store::Kind::Folder {
            folders.push(item.id.clone());
            ids_by_walking(store, &item.id, files, folders);
        } else {
            files.push(item.id);
        }
    }
}

// ---------------------------------------------------------------- cases

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let h = Harness {
        filters: args.into_iter().filter(|a| !a.starts_with("--")).collect(),
        batch: Duration::from_millis(common::env_num("BENCH_BATCH_MS", 10)),
        rounds: common::env_num("BENCH_ROUNDS", 11).max(1) as usize,
    };
    let tmp = tempfile::tempdir().unwrap();
    println!(
        "micro: median of {} alternating batches of ~{} ms each; ratio = subject / baseline",
        h.rounds,
        h.batch.as_millis()
    );
    println!("{:<34} {:>17}   {:<40} {:>16}", "subject", "", "baseline", "");

    // Query decoding. Baseline: splitting into borrowed (name, value) pairs,
    // the least any decoder must do (no unescaping, no owned strings).
    for (name, q) in [("query/from_query (ping)", PING_QUERY), ("query/from_query (escaped)", ESCAPED_QUERY)] {
        h.compare(
            name,
            "split into borrowed pairs",
            &mut || {
                let pairs: Vec<(&str, &str)> = black_box(q).split('&').filter_map(|p| p.split_once('=')).collect();
                black_box(pairs);
            },
            &mut || {
                black_box(Params::from_query(black_box(q)));
            },
        );
    }

    // Routing. Baseline: a HashMap from the same names to the same routes.
    let names: Vec<&str> = ROUTES.iter().map(|r| r.name).chain(["nope"]).collect();
    let map: HashMap<&str, &Route> = ROUTES.iter().map(|r| (r.name, r)).collect();
    let (mut i, mut j) = (0, 0);
    h.compare(
        "route/find (every name, and a miss)",
        "HashMap<&str, &Route>::get",
        &mut || {
            i = (i + 1) % names.len();
            black_box(map.get(black_box(names[i])));
        },
        &mut || {
            j = (j + 1) % names.len();
            black_box(routes::find(black_box(names[j])));
        },
    );

    // Auth. Baseline: `==` on the same strings (not constant-time).
    let keys = Keys::new(vec![KEY.into()]);
    let stored = KEY.to_string();
    h.compare(
        "auth/Keys::accepts (1 key, 48 hex)",
        "String == (not constant-time)",
        &mut || {
            black_box(black_box(&stored) == black_box(KEY));
        },
        &mut || {
            black_box(keys.accepts(black_box(KEY)));
        },
    );

    let root = tmp.path().join("root");
    let (_server, app) = app(&root);

    // serviceInfo rendering: the handler, the response and its bytes.
    // Baseline: the same bytes sent from a cache (a constant body with the
    // same headers), i.e. what building the JSON costs on top.
    let info = routes::find("serviceInfo").unwrap();
    let render = |app: &App, out: &mut Vec<u8>| {
        let mut rq = get("/serviceInfo");
        let mut ev = event();
        let mut call = Call { rq: &mut rq, params: Params::from_query(""), event: &mut ev, link_expires: None };
        let reply = (info.handler)(app, &mut call).unwrap();
        response::render(reply, "a1b2c3-1").raw_print(out, tiny_http::HTTPVersion(1, 1), &[], false, None).unwrap();
    };
    let mut body = Vec::new();
    if let Reply::Json(_, v) = {
        let mut rq = get("/serviceInfo");
        let mut ev = event();
        (info.handler)(
            &app,
            &mut Call { rq: &mut rq, params: Params::from_query(""), event: &mut ev, link_expires: None },
        )
        .unwrap()
    } {
        body = serde_json::to_vec(&v).unwrap();
    }
    let (mut out_a, mut out_b) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
    h.compare(
        "serviceInfo/render (JSON + headers)",
        "same bytes from a cache",
        &mut || {
            out_a.clear();
            let _ = black_box(get("/serviceInfo"));
            let _ = black_box(event());
            let mut rs = Response::from_data(body.clone())
                .with_status_code(tiny_http::StatusCode(200))
                .with_header(response::safe_header("Content-Type", "application/json"))
                .boxed();
            rs.add_header(response::safe_header("X-Request-Id", "a1b2c3-1"));
            rs.add_header(response::safe_header("Server", "wfhook"));
            rs.add_header(response::safe_header("Cache-Control", "no-store"));
            rs.raw_print(&mut out_a, tiny_http::HTTPVersion(1, 1), &[], false, None).unwrap();
        },
        &mut || {
            out_b.clear();
            render(&app, &mut out_b);
        },
    );

    // Action dispatch. Baseline: the least a time-bounded design costs, one
    // round trip to a waiting thread over std channels.
    let ping = actions::find("ping").unwrap();
    let ctx = || Context {
        store: Arc::clone(&app.store),
        document: DocumentRef { document_id: "5f1e2d3c4b5a69788796a5b4c3d2e1f0".into(), version_id: None },
        id: None,
        username: USER.into(),
        request_id: "a1b2c3-1".into(),
    };
    if h.group("action/") {
        let (tx, rx) = mpsc::channel::<mpsc::SyncSender<u64>>();
        let echo = std::thread::spawn(move || {
            while let Ok(reply) = rx.recv() {
                let _ = reply.send(1);
            }
        });
        // The baseline of both runner cases: one round trip to the echo thread.
        let round_trip = || {
            let (reply, answer) = mpsc::sync_channel(1);
            tx.send(reply).unwrap();
            black_box(answer.recv().unwrap());
        };
        h.compare(
            "action/Runner::run(ping)",
            "thread round trip (mpsc + reply channel)",
            &mut { round_trip },
            &mut || {
                black_box(app.runner.run(ping, ctx()).unwrap());
            },
        );
        // An action that needs the pool: the hand-off every other action pays.
        struct Noop;
        impl actions::Action for Noop {
            fn name(&self) -> &'static str {
                "noop"
            }
            fn display_name(&self) -> &'static str {
                "No-op"
            }
            fn description(&self) -> &'static str {
                "Does nothing, on an action thread."
            }
            fn needs_document(&self) -> bool {
                false
            }
            fn run(&self, _: &Context) -> Result<actions::Success, actions::ActionError> {
                Ok(actions::Success::default())
            }
        }
        h.compare(
            "action/Runner::run(no-op on the pool)",
            "thread round trip (mpsc + reply channel)",
            &mut { round_trip },
            &mut || {
                black_box(app.runner.run(&Noop, ctx()).unwrap());
            },
        );
        let c = ctx();
        let empty: fn() -> u64 = black_box(|| 0);
        h.compare(
            "action/ping.run inline (no runner)",
            "empty function call (through a pointer)",
            &mut || {
                black_box(empty());
            },
            &mut || {
                black_box(ping.run(black_box(&c)).unwrap());
            },
        );
        drop(tx);
        let _ = echo.join();
    }

    // Journal append. Baseline: one `write` of the same line's bytes to a
    // file opened the same way (O_APPEND) in the same folder.
    if h.group("journal/") {
        let dir = tmp.path().join("journal");
        fs::create_dir_all(&dir).unwrap();
        let journal = Journal::open(&wfhook::state_dir::StateDir::at(&dir).open().unwrap(), Limits::default()).unwrap();
        let raw = OpenOptions::new().create(true).append(true).open(dir.join("raw.jsonl")).unwrap();
        let ev = event();
        let mut line = serde_json::to_vec(&ev).unwrap();
        line.push(b'\n');
        h.compare(
            "journal/Journal::append",
            "write(2) of the same bytes, O_APPEND",
            &mut || {
                (&raw).write_all(black_box(&line)).unwrap();
            },
            &mut || {
                journal.append(black_box(&ev)).unwrap();
            },
        );
    }

    // Hex encoding of a signature (every signed link, every checksum).
    // Baseline: a 16-entry table, the usual way.
    let digest = [0xa5u8; 32];
    h.compare(
        "links/crypto::hex (32 bytes)",
        "hex through a 16-entry table",
        &mut || {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut out = String::with_capacity(64);
            for b in black_box(&digest) {
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
            black_box(out);
        },
        &mut || {
            black_box(wfhook::crypto::hex(black_box(&digest)));
        },
    );

    // Per-request bookkeeping besides the journal.
    let metrics = Metrics::new();
    let ev = event();
    let counter = Mutex::new(0u64);
    h.compare(
        "bookkeeping/Metrics::record",
        "uncontended Mutex<u64> += 1",
        &mut || {
            *counter.lock().unwrap() += 1;
        },
        &mut || {
            metrics.record(black_box(&ev));
        },
    );
    h.compare(
        "bookkeeping/rfc3339(now)",
        "SystemTime::now()",
        &mut || {
            black_box(SystemTime::now());
        },
        &mut || {
            black_box(rfc3339(SystemTime::now()));
        },
    );

    // The whole request path in-process (no socket, no thread hand-off):
    // App::handle against tiny_http answering a constant body to the same
    // request, i.e. the in-process analogue of the load bench's ceiling.
    if h.group("request/") {
        fs::write(root.join("small.txt"), "a small file\n").unwrap();
        let small = app.store.list("/").unwrap().into_iter().find(|i| i.title == "small.txt").unwrap().id;
        let hello = || {
            let rq = get("/");
            rq.respond(Response::from_string("Hello, world!\n")).unwrap();
        };
        let ping_path = format!("/customAction?{PING_QUERY}");
        let metadata_path = format!("/metadata?id={small}");
        for (name, path) in [
            ("request/handle serviceInfo", "/serviceInfo"),
            ("request/handle ping", ping_path.as_str()),
            ("request/handle metadata", metadata_path.as_str()),
        ] {
            h.compare(name, "tiny_http hello-world respond", &mut || hello(), &mut || app.handle(get(path)));
        }
        // The same with the access line written, as `serve` does by default.
        let log = File::create(tmp.path().join("access.log")).unwrap();
        let logger = env_logger::Builder::new()
            .parse_filters("info")
            .format_timestamp_millis()
            .target(env_logger::Target::Pipe(Box::new(log)))
            .build();
        log::set_max_level(logger.filter());
        if log::set_boxed_logger(Box::new(logger)).is_ok() {
            h.compare(
                "request/handle serviceInfo +access log",
                "tiny_http hello-world respond",
                &mut || hello(),
                &mut || app.handle(get("/serviceInfo")),
            );
            h.compare("request/handle ping +access log", "tiny_http hello-world respond", &mut || hello(), &mut || {
                app.handle(get(&ping_path))
            });
            log::set_max_level(log::LevelFilter::Off);
        }
    }

    // id ↔ path resolution on a tree of BENCH_FILES files.
    if h.group("store/") || h.group("state/") {
        let files = common::env_num("BENCH_FILES", 100_000);
        let troot = tmp.path().join("tree");
        let started = Instant::now();
        tree(&troot, files);
        let store = FsStore::open(&troot).unwrap();
        let (mut file_ids, mut folder_ids) = (Vec::new(), Vec::new());
        ids_by_walking(&store, "/", &mut file_ids, &mut folder_ids);
        println!(
            "(tree: {} files in {} folders, ids handed out by listing, in {:.1} s)",
            file_ids.len(),
            folder_ids.len(),
            started.elapsed().as_secs_f64()
        );
        let log = StateLog::open(store.state_dir()).unwrap();
        // A copy of the parsed state, to time its look-ups alone.
        let state = log.read(Clone::clone);
        let rels: Vec<String> = file_ids.iter().map(|id| state.path_of(id).unwrap().to_string()).collect();
        let by_id: HashMap<String, String> = file_ids.iter().cloned().zip(rels.iter().cloned()).collect();
        let by_path: HashMap<String, String> = rels.iter().cloned().zip(file_ids.iter().cloned()).collect();
        // 10 000 ids drawn at random, and their files' absolute paths.
        let mut order: Vec<usize> = (0..file_ids.len()).collect();
        shuffle(&mut order, 0x5EED);
        order.truncate(10_000);
        let abs: Vec<PathBuf> = order.iter().map(|&k| troot.join(&rels[k])).collect();
        let ids: Vec<&str> = order.iter().map(|&k| file_ids[k].as_str()).collect();
        let rel_sample: Vec<&str> = order.iter().map(|&k| rels[k].as_str()).collect();
        let (mut a, mut b) = (0, 0);
        h.compare(
            "store/metadata(id) (100k tree)",
            "lstat(2) of the file's absolute path",
            &mut || {
                a = (a + 1) % abs.len();
                black_box(fs::symlink_metadata(black_box(&abs[a])).unwrap());
            },
            &mut || {
                b = (b + 1) % ids.len();
                black_box(store.metadata(black_box(ids[b])).unwrap());
            },
        );
        let (mut a, mut b) = (0, 0);
        h.compare(
            "state/State::path_of (100k ids)",
            "HashMap<String, String>::get",
            &mut || {
                a = (a + 1) % ids.len();
                black_box(by_id.get(black_box(ids[a])));
            },
            &mut || {
                b = (b + 1) % ids.len();
                black_box(state.path_of(black_box(ids[b])));
            },
        );
        let (mut a, mut b) = (0, 0);
        h.compare(
            "state/State::id_of (100k paths)",
            "HashMap<String, String>::get",
            &mut || {
                a = (a + 1) % rel_sample.len();
                black_box(by_path.get(black_box(rel_sample[a])));
            },
            &mut || {
                b = (b + 1) % rel_sample.len();
                black_box(state.id_of(black_box(rel_sample[b])));
            },
        );
        // path → id for a whole folder: listing the 1 000 known files of
        // the folder that holds the first sampled file.
        let leaf_rel = rels[order[0]].rsplit_once('/').unwrap().0;
        let leaf = state.id_of(leaf_rel).unwrap().to_string();
        let leaf_abs = troot.join(leaf_rel);
        h.compare(
            "store/list(folder of 1000 files)",
            "read_dir + lstat of each entry",
            &mut || {
                for e in fs::read_dir(&leaf_abs).unwrap() {
                    black_box(e.unwrap().metadata().unwrap());
                }
            },
            &mut || {
                black_box(store.list(black_box(&leaf)).unwrap());
            },
        );
    }
}
