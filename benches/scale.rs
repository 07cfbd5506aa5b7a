//! Scale benchmark: wfhook on a root of 1 000 000 files, one folder of
//! them holding 100 000, each figure with its goal.
//!
//! 1. Generates the root (or reuses one, BENCH_SCALE_ROOT): `big/` with
//!    100 000 files and 900 folders `d000/` … `d899/` of 1 000, small files
//!    (most empty, one in eight of 1–100 bytes), 10 000 of them `.txt` with
//!    a few words each, one of which holds a word found in no file name
//!    (`zanzibarquux`).
//! 2. The floors, measured by the bench on the same tree: a walk that
//!    `lstat`s every entry and reads every `.txt` file (what a search
//!    without an index does at least), `read_dir` + `lstat` of `big/`, and
//!    `wfhook --version` from spawn to exit (starting a process).
//! 3. Startup: spawn to the first `200` from `GET /serviceInfo`. A server
//!    that logs a line with `index ready` gives the index build time
//!    (spawn to that line); `--index-dir` is passed only to a build whose
//!    `serve --help` lists it, and its size on disk is reported.
//! 4. `GET /metadata` for random files, alternating with `GET /serviceInfo`
//!    on the same keep-alive connection (the HTTP floor).
//! 5. Pages of 100 of `big/` at random offsets; a build that ignores
//!    `max`/`offset` is reported as not paging, with its whole list's time.
//! 6. Name searches for single files, and a full-text search for the rare
//!    word (found, or not: a build that matches names only).
//! 7. A fresh server (the restart, with the index on disk where there is
//!    one): its VmHWM before and after 8 clients each fetch the whole
//!    listing of `big/` at once.
//!
//! Goals are reported, met or missed; none fails the run.
//!
//! `cargo bench --bench scale`; environment: BENCH_SCALE_FILES (1000000),
//! BENCH_SCALE_ROOT (a folder to generate the tree in and keep; default a
//! temporary folder removed at the end), BENCH_SCALE_CALLS (200, metadata
//! calls and pages), BENCH_SCALE_INDEX_SECS (600: how long to wait for
//! `index ready` from a build with `--index-dir`; others get 5 s),
//! BENCH_WFHOOK_BIN (another wfhook binary; default: this tree's).

mod common;

use common::client::{Response, try_read_response};
use common::{env_num, median, proc_status};

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

const KEY: &str = "bench-key";
const USER: &str = "bench@example.com";
/// In the content of one `.txt` file, in no file name.
const RARE: &str = "zanzibarquux";
/// Files in each of the small folders.
const FOLDER: u64 = 1_000;
/// Files in `big/` when the root has room for them.
const BIG: u64 = 100_000;
/// Whole listings of `big/` fetched at once for the peak RSS.
const LISTINGS: usize = 8;
/// Folders of 1 000 listed to hand out ids for the metadata calls.
const META_FOLDERS: u64 = 10;
/// Name searches, each for one file.
const NAME_QUERIES: u64 = 10;
/// The longest any single request may take (a whole listing of 100 000
/// on an old build with seven more at once).
const CALL_LIMIT: Duration = Duration::from_secs(600);
/// A search slower than this is run once per query, not repeated.
const REPEAT_BELOW_MS: f64 = 500.0;
const MIB: f64 = 1024.0 * 1024.0;

const PREFIXES: [&str; 10] =
    ["report", "invoice", "photo", "draft", "notes", "scan", "contract", "budget", "minutes", "slides"];
const EXTS: [&str; 8] = ["pdf", "docx", "xlsx", "jpg", "png", "dat", "csv", "pptx"];
const WORDS: [&str; 24] = [
    "quarterly",
    "budget",
    "review",
    "draft",
    "final",
    "approved",
    "client",
    "meeting",
    "notes",
    "summary",
    "action",
    "items",
    "project",
    "timeline",
    "invoice",
    "paid",
    "pending",
    "design",
    "brief",
    "campaign",
    "launch",
    "copy",
    "legal",
    "sign-off",
];

/// SplitMix64: the names, contents and random picks, the same every run.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 += 1;
        mix(self.0 ^ 0x5ca1e) % n.max(1)
    }
}

// ---------------------------------------------------------------- the tree

/// The tree for `files` files. `big/` holds 100 000 of them when there are
/// at least 200 000, else half; the rest go in folders of 1 000 (`d000/` …,
/// the last one possibly smaller). One file in 100 is a `.txt` file.
#[derive(Clone, Copy)]
struct Shape {
    files: u64,
    big: u64,
    folders: u64,
    texts: u64,
    /// Every `step`-th file is a `.txt` file.
    step: u64,
    /// The file whose content holds [`RARE`].
    rare: u64,
}

impl Shape {
    fn new(files: u64) -> Shape {
        let files = files.max(2 * FOLDER);
        let big = BIG.min(files / 2);
        let folders = (files - big).div_ceil(FOLDER);
        let texts = (files / 100).max(1);
        let step = files / texts;
        // The text file nearest the middle of the small folders.
        let rare = (big + (files - big) / 2) / step * step + step / 2;
        Shape { files, big, folders, texts, step, rare }
    }

    fn describe(&self) -> String {
        format!(
            "{} files: big/ with {}, {} folders of up to {FOLDER} ({} … {}), {} .txt files ({RARE} in {}/{})",
            group(self.files),
            group(self.big),
            self.folders,
            self.folder_name(0),
            self.folder_name(self.folders - 1),
            group(self.texts),
            self.folder_of(self.rare),
            self.name(self.rare)
        )
    }

    fn folder_name(&self, f: u64) -> String {
        let width = (self.folders.saturating_sub(1).max(1).ilog10() as usize + 1).max(3);
        format!("d{f:0width$}")
    }

    fn folder_of(&self, n: u64) -> String {
        if n < self.big { "big".into() } else { self.folder_name((n - self.big) / FOLDER) }
    }

    fn is_text(&self, n: u64) -> bool {
        n % self.step == self.step / 2 && n / self.step < self.texts
    }

    /// What a name search for file `n` asks: `report-0012345`.
    fn stem(&self, n: u64) -> String {
        format!("{}-{n:07}", PREFIXES[(mix(n) % PREFIXES.len() as u64) as usize])
    }

    fn name(&self, n: u64) -> String {
        let ext = if self.is_text(n) { "txt" } else { EXTS[((mix(n) >> 16) % EXTS.len() as u64) as usize] };
        format!("{}.{ext}", self.stem(n))
    }

    fn content(&self, n: u64) -> Vec<u8> {
        let h = mix(n);
        if n == self.rare {
            format!("shipping note: {RARE} crates due friday").into_bytes()
        } else if self.is_text(n) {
            let words: Vec<&str> =
                (0..2 + h % 6).map(|i| WORDS[((h >> (5 * i + 8)) % WORDS.len() as u64) as usize]).collect();
            words.join(" ").into_bytes()
        } else if (h >> 40).is_multiple_of(8) {
            vec![b'.'; ((h >> 48) % 100 + 1) as usize]
        } else {
            Vec::new()
        }
    }

    /// Runs of consecutive files in one folder, at most 1 000 each.
    fn chunks(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> =
            (0..self.big).step_by(FOLDER as usize).map(|s| (s, (s + FOLDER).min(self.big))).collect();
        out.extend((self.big..self.files).step_by(FOLDER as usize).map(|s| (s, (s + FOLDER).min(self.files))));
        out
    }
}

/// Writes the tree under `root` with a thread per CPU, each taking runs of
/// 1 000 files from a shared counter; plain `std::fs`.
fn generate(root: &Path, shape: &Shape) -> Duration {
    let started = Instant::now();
    fs::create_dir_all(root).unwrap();
    fs::create_dir(root.join("big")).unwrap();
    for f in 0..shape.folders {
        fs::create_dir(root.join(shape.folder_name(f))).unwrap();
    }
    let chunks = shape.chunks();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(&(start, end)) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let dir = root.join(shape.folder_of(start));
                    for n in start..end {
                        let path = dir.join(shape.name(n));
                        fs::write(&path, shape.content(n)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    }
                }
            });
        }
    });
    started.elapsed()
}

/// The root to serve, and the temporary folder that holds it unless it is
/// kept (BENCH_SCALE_ROOT).
struct Root {
    path: PathBuf,
    temp: Option<tempfile::TempDir>,
}

/// Generates the tree, or finds it complete under BENCH_SCALE_ROOT
/// (`root-N/`, complete when `root-N.complete` exists; an incomplete one is
/// removed and made again).
fn prepare_root(shape: &Shape) -> Root {
    let (path, marker, temp) = match std::env::var_os("BENCH_SCALE_ROOT") {
        Some(base) => {
            let base = PathBuf::from(base);
            fs::create_dir_all(&base).unwrap();
            let marker = base.join(format!("root-{}.complete", shape.files));
            (base.join(format!("root-{}", shape.files)), Some(marker), None)
        }
        None => {
            let temp = tempfile::Builder::new().prefix("wfhook-scale-").tempdir().unwrap();
            (temp.path().join("root"), None, Some(temp))
        }
    };
    if marker.as_ref().is_some_and(|m| m.exists()) {
        println!("scale: reusing {} (complete: {})", path.display(), marker.unwrap().display());
        return Root { path, temp };
    }
    if path.exists() {
        println!("scale: {} is incomplete (no marker): removing it", path.display());
        fs::remove_dir_all(&path).unwrap();
    }
    let took = generate(&path, shape);
    println!(
        "scale: generated {} files in {} in {:.1} s ({:.0} files/s)",
        group(shape.files),
        path.display(),
        took.as_secs_f64(),
        shape.files as f64 / took.as_secs_f64()
    );
    if let Some(marker) = marker {
        fs::write(marker, format!("{}\n", shape.describe())).unwrap();
    }
    Root { path, temp }
}

// ---------------------------------------------------------------- floors

/// What the walk floor found: entries `lstat`ed, `.txt` files read, and
/// whether one held [`RARE`].
struct Walk {
    entries: u64,
    read: u64,
    found: bool,
    took: Duration,
}

/// `read_dir` + `lstat` of every entry under `root`, and every `.txt` file
/// read and searched for [`RARE`]: what a search without an index does at
/// least (one thread; the server's own search is one thread too).
fn walk(root: &Path) -> Walk {
    let started = Instant::now();
    let (mut entries, mut read, mut found) = (0, 0, false);
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            let Ok(meta) = fs::symlink_metadata(&path) else { continue };
            entries += 1;
            if meta.is_dir() {
                if dir != root || e.file_name() != ".wfhook" {
                    todo.push(path);
                }
            } else if path.extension().is_some_and(|x| x == "txt") {
                read += 1;
                found |= fs::read(&path).is_ok_and(|b| b.windows(RARE.len()).any(|w| w == RARE.as_bytes()));
            }
        }
    }
    Walk { entries, read, found, took: started.elapsed() }
}

/// `read_dir` + `lstat` of one folder's entries, in ms.
fn list_floor(dir: &Path) -> f64 {
    let started = Instant::now();
    let n = fs::read_dir(dir).unwrap().flatten().filter(|e| fs::symlink_metadata(e.path()).is_ok()).count();
    std::hint::black_box(n);
    ms(started.elapsed())
}

/// Files and bytes under `dir` (sum of file sizes), when it exists.
fn dir_size(dir: &Path) -> Option<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let mut todo = vec![dir.to_path_buf()];
    fs::metadata(dir).ok()?;
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = fs::symlink_metadata(e.path()) else { continue };
            if meta.is_dir() {
                todo.push(e.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    Some((files, bytes))
}

// ---------------------------------------------------------------- the server

/// A wfhook child process, killed when dropped; its stderr goes to a log
/// file, watched for the line that says the index is ready.
struct Server {
    child: Child,
    addr: SocketAddr,
    spawned: Instant,
    log: PathBuf,
    /// Spawn to the first line with `index ready`, and the line.
    index_ready: Arc<Mutex<Option<(Duration, String)>>>,
    /// Spawn to the first line with `words ready` (the text of documents
    /// read for full-text search), and the line.
    words_ready: Arc<Mutex<Option<(Duration, String)>>>,
    reader: Option<JoinHandle<()>>,
}

impl Server {
    fn start(bin: &Path, root: &Path, index_dir: Option<&Path>, log: &Path) -> Server {
        let port = common::free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", &addr.to_string(), "--admin-listen", "off", "--root"]).arg(root);
        if let Some(dir) = index_dir {
            cmd.arg("--index-dir").arg(dir);
        }
        cmd.env("WFHOOK_API_KEY", KEY)
            .env("RUST_LOG", "info")
            .env_remove("WFHOOK_LOG_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = cmd.spawn().expect("the wfhook binary starts");
        let stderr = child.stderr.take().unwrap();
        let index_ready = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&index_ready);
        let words_ready = Arc::new(Mutex::new(None));
        let words = Arc::clone(&words_ready);
        let mut out = File::create(log).unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                let line = String::from_utf8_lossy(&line);
                let _ = writeln!(out, "{line}");
                if line.contains("index ready") {
                    slot.lock().unwrap().get_or_insert_with(|| (spawned.elapsed(), line.trim().to_string()));
                }
                if line.contains("words ready") {
                    words.lock().unwrap().get_or_insert_with(|| (spawned.elapsed(), line.trim().to_string()));
                }
            }
        });
        Server { child, addr, spawned, log: log.to_path_buf(), index_ready, words_ready, reader: Some(reader) }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Spawn to the first `200` from `GET /serviceInfo`, polled every
    /// millisecond (not the tests' backing-off poll: this is the figure).
    fn wait_answering(&mut self) -> Duration {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("wfhook exited ({status}) before answering; its log:\n{}", self.log_tail());
            }
            assert!(
                self.spawned.elapsed() < Duration::from_secs(300),
                "wfhook did not answer within 300 s; its log:\n{}",
                self.log_tail()
            );
            let mut c = Client::new(self.addr);
            if c.once("/serviceInfo").is_ok_and(|(r, _)| r.status == 200) {
                return self.spawned.elapsed();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Spawn to the `index ready` line, waiting until `bound` after spawn.
    fn wait_index(&mut self, bound: Duration) -> Option<(Duration, String)> {
        let slot = Arc::clone(&self.index_ready);
        self.wait_line(&slot, bound)
    }

    /// Spawn to the `words ready` line, waiting until `bound` after spawn.
    fn wait_words(&mut self, bound: Duration) -> Option<(Duration, String)> {
        let slot = Arc::clone(&self.words_ready);
        self.wait_line(&slot, bound)
    }

    fn wait_line(&mut self, slot: &Mutex<Option<(Duration, String)>>, bound: Duration) -> Option<(Duration, String)> {
        loop {
            if let Some(seen) = slot.lock().unwrap().clone() {
                return Some(seen);
            }
            if self.spawned.elapsed() >= bound || self.child.try_wait().unwrap().is_some() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// The VmHWM or VmRSS of a process, in bytes.
fn proc_bytes(pid: u32, key: &str) -> u64 {
    proc_status(pid, key).map_or(0, |kib| kib * 1024)
}

// ---------------------------------------------------------------- a client

/// One keep-alive connection, opened again when the server closed it.
struct Client {
    addr: SocketAddr,
    conn: Option<(TcpStream, BufReader<TcpStream>)>,
}

impl Client {
    fn new(addr: SocketAddr) -> Client {
        Client { addr, conn: None }
    }

    /// One GET with the key and a user, timed from its first byte sent to
    /// its last byte read (a connection opened for it is not timed).
    fn once(&mut self, target: &str) -> io::Result<(Response, Duration)> {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(CALL_LIMIT))?;
            s.set_write_timeout(Some(CALL_LIMIT))?;
            self.conn = Some((s.try_clone()?, BufReader::with_capacity(1 << 16, s)));
        }
        let (w, r) = self.conn.as_mut().unwrap();
        let rq = format!("GET {target} HTTP/1.1\r\nHost: {}\r\napiKey: {KEY}\r\nusername: {USER}\r\n\r\n", self.addr);
        let started = Instant::now();
        let result = w.write_all(rq.as_bytes()).and_then(|()| try_read_response(r, false));
        let took = started.elapsed();
        match result {
            Ok(rs) => {
                if rs.header("Connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
                    self.conn = None;
                }
                Ok((rs, took))
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }

    /// [`once`](Self::once), again on a new connection when the kept one
    /// had been closed; the answer and its time in ms.
    fn get(&mut self, target: &str) -> (Response, f64) {
        let (rs, took) = self
            .once(target)
            .or_else(|_| self.once(target))
            .unwrap_or_else(|e| panic!("GET {target} from {}: {e}", self.addr));
        (rs, ms(took))
    }
}

/// The items of an answer: a JSON array, or an object holding one as
/// `items` (a paged answer may be either).
fn items(rs: &Response) -> Option<Vec<Value>> {
    match serde_json::from_slice(&rs.body).ok()? {
        Value::Array(a) => Some(a),
        Value::Object(mut o) => match o.remove("items") {
            Some(Value::Array(a)) => Some(a),
            _ => None,
        },
        _ => None,
    }
}

fn has_title(items: &[Value], title: &str) -> bool {
    items.iter().any(|i| i["title"] == title)
}

// ---------------------------------------------------------------- figures

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn fmt_ms(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 10_000.0 {
        format!("{v:.0} ms")
    } else {
        format!("{:.1} s", v / 1e3)
    }
}

/// 1234567 as `1 234 567`.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The `q` quantile (nearest rank, the upper one).
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// One line of the final table: a figure, its value, its goal and whether
/// it was met (`None`: reported, no goal).
struct Figure {
    name: String,
    value: String,
    goal: &'static str,
    met: Option<bool>,
}

fn figure(name: impl Into<String>, value: impl Into<String>, goal: &'static str, met: Option<bool>) -> Figure {
    Figure { name: name.into(), value: value.into(), goal, met }
}

// ---------------------------------------------------------------- the run

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and must not spend minutes here.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let shape = Shape::new(env_num("BENCH_SCALE_FILES", 1_000_000));
    let calls = env_num("BENCH_SCALE_CALLS", 200).max(1);
    let bin = std::env::var_os("BENCH_WFHOOK_BIN").map_or_else(|| env!("CARGO_BIN_EXE_wfhook").into(), PathBuf::from);
    let help = Command::new(&bin).args(["serve", "--help"]).output().expect("the wfhook binary runs");
    let help = String::from_utf8_lossy(&help.stdout).into_owned() + &String::from_utf8_lossy(&help.stderr);
    let has_index_dir = help.contains("--index-dir");
    let index_bound = if has_index_dir {
        Duration::from_secs(env_num("BENCH_SCALE_INDEX_SECS", 600))
    } else {
        Duration::from_secs(5)
    };
    println!(
        "scale: wfhook binary {} ({})",
        bin.display(),
        if has_index_dir { "serve takes --index-dir" } else { "no --index-dir" }
    );
    println!("scale: {}", shape.describe());
    let run_started = Instant::now();
    let root = prepare_root(&shape);
    let generated_in = run_started.elapsed();
    // Every run starts from a root no wfhook has served: no ids handed
    // out, no state log to load.
    let state = root.path.join(".wfhook");
    if state.exists() {
        fs::remove_dir_all(&state).unwrap();
    }
    let tmp = tempfile::Builder::new().prefix("wfhook-scale-run-").tempdir().unwrap();
    let index_dir = has_index_dir.then(|| tmp.path().join("index"));
    if let Some(dir) = &index_dir {
        fs::create_dir(dir).unwrap();
    }
    let mut figures = Vec::new();

    // Floors, on the same tree, the page cache warm from generating it (or
    // from this first walk, on a kept tree).
    let floor = walk(&root.path);
    println!(
        "floor: walk of the root: {} entries lstat'ed and {} .txt files read in {} ({RARE} {})",
        group(floor.entries),
        group(floor.read),
        fmt_ms(ms(floor.took)),
        if floor.found { "found" } else { "NOT FOUND: the tree is wrong" }
    );
    let big_dir = root.path.join("big");
    let big_floor = median((0..3).map(|_| list_floor(&big_dir)).collect());
    println!("floor: read_dir + lstat of big/ ({} files): {}", group(shape.big), fmt_ms(big_floor));
    let spawn_floor = median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                Command::new(&bin).arg("--version").stdout(Stdio::null()).status().unwrap();
                ms(t.elapsed())
            })
            .collect(),
    );
    println!("floor: `wfhook --version`, spawn to exit: {}", fmt_ms(spawn_floor));

    // ------------------------------------------------ startup and index
    let mut server = Server::start(&bin, &root.path, index_dir.as_deref(), &tmp.path().join("serve.log"));
    let startup = ms(server.wait_answering());
    println!("startup: spawn to the first 200 from /serviceInfo: {}", fmt_ms(startup));
    let index = server.wait_index(index_bound);
    match &index {
        Some((t, line)) => println!("index: ready {} after spawn: {line}", fmt_ms(ms(*t))),
        None => println!("index: no `index ready` line within {} s of spawn: no index", index_bound.as_secs()),
    }
    // Full-text search needs the words of the documents read as well.
    let words = if index.is_some() { server.wait_words(index_bound) } else { None };
    if let Some((t, line)) = &words {
        println!("index: words ready {} after spawn: {line}", fmt_ms(ms(*t)));
    }
    let index_size = index_dir.as_deref().and_then(dir_size);
    if let Some((files, bytes)) = index_size {
        println!("index: {} on disk ({files} files) in {}", fmt_mib(bytes), index_dir.as_ref().unwrap().display());
    }
    figures.push(figure(
        "startup (spawn to first serviceInfo 200)",
        format!("{} (process start {})", fmt_ms(startup), fmt_ms(spawn_floor)),
        "< 300 ms",
        Some(startup < 300.0),
    ));
    figures.push(figure(
        "index build (spawn to `index ready`)",
        index.as_ref().map_or("no index".into(), |(t, _)| fmt_ms(ms(*t))),
        "reported",
        None,
    ));
    figures.push(figure(
        "document text read (spawn to `words ready`)",
        words.as_ref().map_or("no full-text index".into(), |(t, _)| fmt_ms(ms(*t))),
        "reported",
        None,
    ));
    figures.push(figure(
        "index size on disk",
        match (index_size, &index_dir) {
            (Some((files, bytes)), _) => format!("{} in {files} files", fmt_mib(bytes)),
            (None, Some(_)) => "the index folder is gone".into(),
            (None, None) => "no --index-dir".into(),
        },
        "reported",
        None,
    ));

    let mut c = Client::new(server.addr);
    let mut rng = Rng(0);
    let (root_list, _) = c.get("/files?parentId=%2F");
    let root_items = items(&root_list).unwrap_or_else(|| panic!("the root's listing: {}", root_list.text()));
    let ids: HashMap<String, String> = root_items
        .iter()
        .filter_map(|i| Some((i["title"].as_str()?.to_string(), i["id"].as_str()?.to_string())))
        .collect();
    let big_id = ids.get("big").expect("big/ in the root's listing").clone();

    // ------------------------------------------------ metadata
    let mut file_ids = Vec::new();
    let mut first_lists = Vec::new();
    for _ in 0..META_FOLDERS.min(shape.folders) {
        let name = shape.folder_name(rng.below(shape.folders));
        let (rs, t) = c.get(&format!("/files?parentId={}", ids[&name]));
        let list = items(&rs).unwrap_or_else(|| panic!("listing {name}: {} {}", rs.status, rs.text()));
        file_ids.extend(list.iter().filter(|i| i["kind"] == "file").filter_map(|i| i["id"].as_str()).map(String::from));
        first_lists.push(t);
    }
    println!(
        "metadata: listed {} folders of up to {FOLDER} for their ids (first listing, ids handed out): median {}, \
         max {}",
        first_lists.len(),
        fmt_ms(median(first_lists.clone())),
        fmt_ms(max(&first_lists))
    );
    let (mut meta, mut info, mut meta_bad) = (Vec::new(), Vec::new(), 0);
    // Warm-up: the connection, the first of each.
    c.get("/serviceInfo");
    for _ in 0..calls {
        let id = &file_ids[rng.below(file_ids.len() as u64) as usize];
        let (rs, t) = c.get(&format!("/metadata?id={id}"));
        if rs.status != 200 || rs.json()["kind"] != "file" {
            meta_bad += 1;
        }
        meta.push(t);
        info.push(c.get("/serviceInfo").1);
    }
    let (meta_p50, info_p50) = (quantile(&meta, 0.5), quantile(&info, 0.5));
    println!(
        "metadata: {calls} random files of {} ids, one keep-alive connection, alternating with serviceInfo: \
         p50 {} p99 {} max {}; serviceInfo p50 {} (ratio {:.2}); {meta_bad} not a 200 with a file",
        file_ids.len(),
        fmt_ms(meta_p50),
        fmt_ms(quantile(&meta, 0.99)),
        fmt_ms(max(&meta)),
        fmt_ms(info_p50),
        meta_p50 / info_p50
    );
    figures.push(figure(
        "metadata p50 (keep-alive)",
        format!(
            "{} (p99 {}; {:.2}× serviceInfo)",
            fmt_ms(meta_p50),
            fmt_ms(quantile(&meta, 0.99)),
            meta_p50 / info_p50
        ),
        "< 1 ms",
        Some(meta_p50 < 1.0 && meta_bad == 0),
    ));

    // ------------------------------------------------ pages of big/
    let page = |c: &mut Client, offset: u64| {
        let (rs, t) = c.get(&format!("/files?parentId={big_id}&max=100&offset={offset}"));
        let n = if rs.status == 200 { items(&rs).map(|i| i.len()) } else { None };
        (n, t, rs.status)
    };
    let (first_n, first_t, first_status) = page(&mut c, 0);
    match first_n {
        Some(n) if n > 100 => {
            let mut whole = vec![first_t];
            whole.extend((0..2).map(|_| page(&mut c, 0).1));
            let med = median(whole.clone());
            println!(
                "pages: paging not supported: max=100&offset=0 gave all {n} items; whole list took {} the first \
                 time, median of 3 {} (read_dir + lstat of big/: {})",
                fmt_ms(first_t),
                fmt_ms(med),
                fmt_ms(big_floor)
            );
            figures.push(figure(
                "page of 100 of big/ (any offset)",
                format!("paging not supported: whole list took {} ({n} items)", fmt_ms(med)),
                "< 20 ms",
                Some(false),
            ));
        }
        None => {
            println!("pages: max=100&offset=0 answered {first_status}, not a list");
            figures.push(figure(
                "page of 100 of big/ (any offset)",
                format!("no list: status {first_status}"),
                "< 20 ms",
                Some(false),
            ));
        }
        Some(_) => {
            let mut offsets: Vec<u64> = (0..calls).map(|_| rng.below(shape.big)).collect();
            offsets.extend([0, shape.big.saturating_sub(100), shape.big - 1]);
            let (mut times, mut counts, mut bad) = (Vec::new(), Vec::new(), 0);
            for &o in &offsets {
                let (n, t, _) = page(&mut c, o);
                match n {
                    Some(n) if n <= 100 && (n == 100 || o + n as u64 == shape.big) => counts.push(n),
                    Some(n) => {
                        bad += 1;
                        counts.push(n);
                    }
                    None => bad += 1,
                }
                times.push(t);
            }
            let (p50, p99, worst) = (quantile(&times, 0.5), quantile(&times, 0.99), max(&times));
            println!(
                "pages: {} pages of big/ (random offsets, the first, the last two), keep-alive: p50 {} p99 {} \
                 max {}; items per page {}..{}; {bad} answers not 100 items (or the rest at the end)",
                offsets.len(),
                fmt_ms(p50),
                fmt_ms(p99),
                fmt_ms(worst),
                counts.iter().min().unwrap_or(&0),
                counts.iter().max().unwrap_or(&0)
            );
            figures.push(figure(
                "page of 100 of big/ (any offset)",
                format!(
                    "p50 {} p99 {} max {} ({:.2}× serviceInfo){}",
                    fmt_ms(p50),
                    fmt_ms(p99),
                    fmt_ms(worst),
                    p50 / info_p50,
                    if bad > 0 { format!("; {bad} wrong pages") } else { String::new() }
                ),
                "< 20 ms",
                Some(worst < 20.0 && bad == 0),
            ));
        }
    }

    // ------------------------------------------------ searches
    let targets: Vec<u64> =
        (0..NAME_QUERIES).map(|i| (i * shape.files / NAME_QUERIES + 4_321 + 97 * i) % shape.files).collect();
    let (mut times, mut found, mut hits, mut passes) = (Vec::new(), 0, Vec::new(), 0);
    while passes < 5 {
        for &n in &targets {
            let (rs, t) = c.get(&format!("/search?query={}", shape.stem(n)));
            let list = items(&rs).unwrap_or_default();
            if passes == 0 {
                found += has_title(&list, &shape.name(n)) as u32;
                hits.push(list.len());
            }
            times.push(t);
        }
        passes += 1;
        if median(times.clone()) > REPEAT_BELOW_MS {
            break;
        }
    }
    let (name_p50, name_max) = (quantile(&times, 0.5), max(&times));
    println!(
        "search: {} names ({} … ), {passes} passes: p50 {} max {}; found {found} of {}; hits per query {:?} \
         (walk floor {})",
        targets.len(),
        shape.stem(targets[0]),
        fmt_ms(name_p50),
        fmt_ms(name_max),
        targets.len(),
        hits,
        fmt_ms(ms(floor.took))
    );
    figures.push(figure(
        "name search p50",
        format!(
            "{} (max {}; found {found} of {}; {:.3}× the walk)",
            fmt_ms(name_p50),
            fmt_ms(name_max),
            targets.len(),
            name_p50 / ms(floor.took)
        ),
        "< 20 ms",
        Some(name_p50 < 20.0 && found as u64 == NAME_QUERIES),
    ));

    let (mut times, mut text_found, mut text_hits) = (Vec::new(), false, 0);
    for i in 0..20 {
        let (rs, t) = c.get(&format!("/search?query={RARE}"));
        if i == 0 {
            let list = items(&rs).unwrap_or_default();
            text_found = has_title(&list, &shape.name(shape.rare));
            text_hits = list.len();
        }
        times.push(t);
        if median(times.clone()) > REPEAT_BELOW_MS {
            break;
        }
    }
    let text_p50 = quantile(&times, 0.5);
    let text_result = if text_found {
        format!("found {} ({text_hits} hits)", shape.name(shape.rare))
    } else {
        format!("not found: no full-text search ({text_hits} hits)")
    };
    println!(
        "search: full text `{RARE}` (in the content of {}/{} only), {} calls: p50 {} max {}; {text_result} \
         (walk floor {})",
        shape.folder_of(shape.rare),
        shape.name(shape.rare),
        times.len(),
        fmt_ms(text_p50),
        fmt_ms(max(&times)),
        fmt_ms(ms(floor.took))
    );
    figures.push(figure(
        format!("full-text p50 ({} .txt files)", group(shape.texts)),
        format!("{} ({text_result}; {:.3}× the walk)", fmt_ms(text_p50), text_p50 / ms(floor.took)),
        "< 50 ms",
        Some(text_p50 < 50.0 && text_found),
    ));
    drop(c);
    drop(server);

    // ------------------------------------------------ peak RSS, a fresh server
    let mut server = Server::start(&bin, &root.path, index_dir.as_deref(), &tmp.path().join("serve-rss.log"));
    let restart = ms(server.wait_answering());
    let reindex = server.wait_index(index_bound);
    println!(
        "restart: a fresh server on the same root{}: first serviceInfo 200 after {}, index {}",
        if index_dir.is_some() { " and index folder" } else { "" },
        fmt_ms(restart),
        reindex.as_ref().map_or("none".into(), |(t, _)| format!("ready after {}", fmt_ms(ms(*t))))
    );
    let pid = server.pid();
    let (hwm_before, rss_before) = (proc_bytes(pid, "VmHWM:"), proc_bytes(pid, "VmRSS:"));
    let barrier = Arc::new(Barrier::new(LISTINGS));
    let started = Instant::now();
    let fetches: Vec<_> = (0..LISTINGS)
        .map(|_| {
            let (barrier, addr, target) = (Arc::clone(&barrier), server.addr, format!("/files?parentId={big_id}"));
            std::thread::spawn(move || {
                let mut c = Client::new(addr);
                barrier.wait();
                let (rs, t) = c.get(&target);
                (rs, t)
            })
        })
        .collect();
    let answers: Vec<(Response, f64)> = fetches.into_iter().map(|h| h.join().unwrap()).collect();
    let wall = ms(started.elapsed());
    let (hwm_after, rss_after) = (proc_bytes(pid, "VmHWM:"), proc_bytes(pid, "VmRSS:"));
    drop(server);
    let statuses: Vec<u16> = answers.iter().map(|(rs, _)| rs.status).collect();
    let whole = answers.iter().filter(|(rs, _)| rs.status == 200).map(|(rs, _)| rs.body.len()).max().unwrap_or(0);
    let listed = answers.iter().find(|(rs, _)| rs.status == 200).and_then(|(rs, _)| items(rs)).map_or(0, |i| i.len());
    let times: Vec<f64> = answers.iter().map(|(_, t)| *t).collect();
    drop(answers);
    println!(
        "rss: {LISTINGS} whole listings of big/ at once (statuses {statuses:?}, {listed} items, {} each): \
         all done in {}, each median {} (read_dir + lstat of big/: {}); VmHWM {} before, {} after; VmRSS {} \
         before, {} after",
        fmt_mib(whole as u64),
        fmt_ms(wall),
        fmt_ms(median(times)),
        fmt_ms(big_floor),
        fmt_mib(hwm_before),
        fmt_mib(hwm_after),
        fmt_mib(rss_before),
        fmt_mib(rss_after)
    );
    figures.push(figure(
        format!("restart (index {})", if index_dir.is_some() { "on disk" } else { "none" }),
        format!(
            "first 200 after {}{}",
            fmt_ms(restart),
            reindex.as_ref().map_or(String::new(), |(t, _)| format!(", index ready after {}", fmt_ms(ms(*t))))
        ),
        "reported",
        None,
    ));
    let all_ok = statuses.iter().all(|&s| s == 200) && listed as u64 == shape.big;
    figures.push(figure(
        format!("peak RSS, {LISTINGS} whole listings of big/ at once"),
        format!(
            "VmHWM {} (before {}; VmRSS after {}){}",
            fmt_mib(hwm_after),
            fmt_mib(hwm_before),
            fmt_mib(rss_after),
            if all_ok { String::new() } else { format!("; statuses {statuses:?}, {listed} items") }
        ),
        "< 160 MiB",
        Some((hwm_after as f64) < 160.0 * MIB && all_ok),
    ));

    // ------------------------------------------------ the table
    println!();
    println!("== scale: {}", shape.describe());
    println!("{:<44} {:<12} {:<7} value", "figure", "goal", "");
    for f in &figures {
        let v = f.met.map_or("", verdict);
        println!("{:<44} {:<12} {v:<7} {}", f.name, f.goal, f.value);
    }
    println!();
    for f in figures.iter().filter(|f| f.met.is_some()) {
        println!("goal {} {}: {}", f.name, f.goal, verdict(f.met.unwrap()));
    }
    let total = run_started.elapsed();
    println!(
        "scale: tree ready in {:.1} s, measuring took {:.1} s",
        generated_in.as_secs_f64(),
        (total - generated_in).as_secs_f64()
    );
    drop(tmp);
    if let Some(temp) = root.temp {
        let t = Instant::now();
        drop(temp);
        println!("scale: removed the generated tree in {:.1} s", t.elapsed().as_secs_f64());
    }
}

fn fmt_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}
