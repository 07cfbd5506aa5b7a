//! `wfhook serve`: assembles the store, keys, secrets, journal, server and
//! admin listener from the root folder, runs until SIGTERM or SIGINT (or
//! the dashboard's confirmed quit), and lets in-flight requests finish.
//! SIGHUP reloads the API keys file and never stops the server.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, IsTerminal};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::admin;
use crate::cli::ServeArgs;
use crate::events::Bus;
use crate::http::auth::{self, KeySource, Keys};
use crate::http::{ACCESS_LOG, App, Parts, Server};
use crate::journal::Journal;
use crate::state_dir::{StateDir, StateFile};
use crate::store::fs::FsStore;
use crate::thumbnail::{self, Thumbnails};
use crate::workfront::{self, Resolver};

#[derive(Debug)]
pub enum ServeError {
    /// The root folder cannot be created, read or written.
    Root(PathBuf, io::Error),
    Keys(io::Error),
    Signals(io::Error),
    Bind(String, io::Error),
    Admin(String, io::Error),
    LogFile(PathBuf, io::Error),
    Terminal(io::Error),
    /// The Workfront key or CA file cannot be used.
    Workfront(String),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Root(p, e) => write!(f, "cannot use {} as the document root: {e}", p.display()),
            ServeError::Keys(e) => write!(f, "cannot load the API keys: {e}"),
            ServeError::Signals(e) => write!(f, "cannot handle signals: {e}"),
            ServeError::Bind(a, e) => write!(f, "cannot listen on {a}: {e}"),
            ServeError::Admin(a, e) => write!(f, "cannot start the admin listener on {a}: {e}"),
            ServeError::LogFile(p, e) => write!(f, "cannot open the log file {}: {e}", p.display()),
            ServeError::Terminal(e) => write!(f, "the dashboard failed: {e}"),
            ServeError::Workfront(e) => write!(f, "cannot ask Workfront: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// The logger while the dashboard owns the terminal: lines go to the log
/// pane (and to the log file when there is one), never onto the screen.
/// Access lines stay out of the pane: the live list already shows every
/// request, and formatting thousands a second for it would slow the server.
struct PaneLogger {
    inner: env_logger::Logger,
    to_file: bool,
    pane: Box<dyn Fn(String) + Send + Sync>,
}

impl log::Log for PaneLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        let access = record.target() == ACCESS_LOG;
        // An access line per request goes nowhere without a log file: no
        // filter to consult for it.
        if access && !self.to_file || !self.inner.matches(record) {
            return;
        }
        if self.to_file {
            self.inner.log(record);
        }
        if !access {
            let time = humantime::format_rfc3339_millis(std::time::SystemTime::now());
            (self.pane)(format!("{time} {:<5} {}", record.level(), record.args()));
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Sends logs to stderr, or to the log file, and to the dashboard's pane
/// when given. `info` unless `RUST_LOG` says otherwise.
pub fn init_logging(file: Option<&Path>, pane: Option<Box<dyn Fn(String) + Send + Sync>>) -> Result<(), ServeError> {
    let mut b =
        log_builder(file).map_err(|e| ServeError::LogFile(file.map(Path::to_path_buf).unwrap_or_default(), e))?;
    // A second initialisation (tests running serve in-process) keeps the first.
    match pane {
        None => {
            let _ = b.try_init();
        }
        Some(pane) => {
            let inner = b.build();
            let max = inner.filter();
            if log::set_boxed_logger(Box::new(PaneLogger { inner, to_file: file.is_some(), pane })).is_ok() {
                log::set_max_level(max);
            }
        }
    }
    Ok(())
}

/// The crate whose debug and trace lines would hold a request head.
const QUIET: &str = "ureq_proto";

/// A logger writing to stderr, or appending to `file`, with millisecond
/// times; `info` unless `RUST_LOG` says otherwise. `top` logs with it too.
pub fn log_builder(file: Option<&Path>) -> io::Result<env_logger::Builder> {
    let mut b = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    // ureq_proto traces every request head it sends, as hex and text: the
    // Workfront API key with it. Never past `info`, whatever RUST_LOG asks
    // (its own names below included, which would otherwise win).
    let asked = std::env::var("RUST_LOG").unwrap_or_default();
    let names = asked.split(',').filter_map(|d| d.split(['=', '/']).next()).map(str::trim);
    for name in std::iter::once(QUIET).chain(names.filter(|n| n.starts_with(QUIET))) {
        b.filter_module(name, log::LevelFilter::Info);
    }
    b.format_timestamp_millis();
    if let Some(p) = file {
        let f = OpenOptions::new().create(true).append(true).open(p)?;
        b.target(env_logger::Target::Pipe(Box::new(f)));
    }
    Ok(b)
}

/// Runs the server until a termination signal.
pub fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let tui = args.tui && io::stdout().is_terminal();
    let pane = if tui { Some(crate::tui::LogPane::new()) } else { None };
    init_logging(args.log_file.as_deref(), pane.as_ref().map(crate::tui::LogPane::sender))?;
    if args.tui && !tui {
        log::warn!("--tui: stdout is not a terminal, running headless");
    }
    let root_err = |e| ServeError::Root(args.root.clone(), e);
    raise_open_file_limit();
    let store = Arc::new(FsStore::open(&args.root).map_err(root_err)?);
    start_index(&store, &args.index);
    let state_dir = store.state_dir().clone();
    let (keys, source) =
        Keys::load(args.api_keys_file.as_deref(), args.api_key.clone(), &state_dir).map_err(ServeError::Keys)?;
    announce_keys(&keys, &source, &state_dir, tui);
    let link_secret = auth::load_or_create_secret(&state_dir, StateFile::LinkSecret).map_err(root_err)?;
    let journal = Journal::open(&state_dir, args.journal).map_err(root_err)?;
    let listen = args.config.listen.clone();
    let workfront = workfront_resolver(args.workfront.as_ref(), args.config.workers)?;
    let thumbnails = start_thumbnails(&state_dir, args.thumbnail_cache_bytes, args.config.workers).map_err(root_err)?;
    let parts = Parts { store, keys, link_secret, journal, bus: Bus::new(), workfront, thumbnails };
    let server = Server::bind(args.config, parts).map_err(|e| ServeError::Bind(listen, e))?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // A second signal while stopping exits at once.
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop)).map_err(ServeError::Signals)?;
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(ServeError::Signals)?;
    }
    // Before the first request is taken: from then on SIGHUP never ends the
    // process, with or without the dashboard.
    let hangup =
        reload_keys_on_hangup(Arc::clone(server.app()), args.api_keys_file.clone()).map_err(ServeError::Signals)?;
    log::info!("listening on http://{}", server.addr());
    let app = server.app();
    let api_url = app.cfg.base_api_url();
    if !app.cfg.base_path.is_empty() && app.cfg.public_url.as_deref() == Some(api_url.as_str()) {
        log::info!("--public-url already ends with --base-path {}: it is not added again", app.cfg.base_path);
    }
    log::info!("Workfront Base API URL (paste it into Workfront's Custom Integrations): {api_url}");
    if let Some(addr) = &args.admin_listen {
        let token = auth::load_or_create_secret(&state_dir, StateFile::AdminToken).map_err(root_err)?;
        let started = admin::check_address(addr, args.admin_allow_remote)
            .and_then(|()| admin::start(addr, Arc::clone(app), token));
        match started {
            Ok(bound) => log::info!("admin listener on http://{bound} (/metrics, /events)"),
            Err(e) if args.admin_explicit => return Err(ServeError::Admin(addr.clone(), e)),
            // The default address is taken (another instance on this host):
            // serving documents matters more than the dashboard feed.
            Err(e) => log::warn!("admin listener not started on {addr}: {e}; choose one with --admin-listen"),
        }
    }
    match pane {
        Some(pane) => match crate::tui::run(&server, &stop, pane) {
            // The operator's session ended: a stop, as on SIGTERM.
            Err(e) if e.to_string() == crate::dashboard::TERMINAL_GONE => {
                log::warn!("{e}: stopping, as on SIGTERM");
            }
            result => result.map_err(ServeError::Terminal)?,
        },
        None => server.run(&stop),
    }
    // The answers on their way go out, then their records are written.
    drop(server);
    hangup.close();
    log::info!("stopped: every in-flight request was answered");
    Ok(())
}

/// An open connection costs a descriptor (and no thread): the usual soft
/// limit of 1024 would refuse connections well before `--max-connections`.
pub fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = Rlimit { current: limit.maximum, maximum: limit.maximum };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            log::warn!("cannot raise the open-file limit: {e}");
        }
    }
}

/// Reloads the API keys on each SIGHUP, on a thread of its own, until the
/// returned handle is closed.
fn reload_keys_on_hangup(app: Arc<App>, file: Option<PathBuf>) -> io::Result<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    let handle = signals.handle();
    std::thread::Builder::new().name("wfhook-sighup".into()).spawn(move || {
        for _ in signals.forever() {
            reload_keys(&app.keys, file.as_deref());
            match app.workfront.reload_key() {
                Ok(true) => log::info!("SIGHUP: reloaded the Workfront API key file"),
                Ok(false) => {}
                Err(e) => {
                    log::warn!("SIGHUP: the Workfront API key was not reloaded ({e}); still using the one before")
                }
            }
        }
    })?;
    Ok(handle)
}

/// What SIGHUP does: the keys file read again, and the outcome logged by
/// count, never by key (nor by path: the operator knows which file).
fn reload_keys(keys: &Keys, file: Option<&Path>) {
    let Some(file) = file else {
        log::info!("SIGHUP: the API key does not come from --api-keys-file, so there is nothing to reload");
        return;
    };
    match keys.reload(file) {
        Ok(n) => log::info!("SIGHUP: reloaded the API keys file: accepting {n} API key(s)"),
        Err(e) => log::warn!(
            "SIGHUP: the API keys file was not reloaded ({e}); still accepting the {} API key(s) from before",
            keys.len()
        ),
    }
}

/// The thumbnail service, its cache in the state folder; says which
/// optional helpers previews will use.
fn start_thumbnails(state_dir: &StateDir, cache_bytes: u64, workers: usize) -> io::Result<Thumbnails> {
    let thumbnails = Thumbnails::start(state_dir, thumbnail::Settings::new(cache_bytes, workers))?;
    let isolated = if crate::external::available(crate::external::Program::Wfhook) {
        "each in a process of its own"
    } else {
        "in process"
    };
    log::info!("thumbnails: {}; rendered {isolated}; cache of {cache_bytes} bytes", thumbnail::render::helpers());
    Ok(thumbnails)
}

/// Starts the index of the root, unless it is off; a failure to start it
/// costs speed, not service.
fn start_index(store: &Arc<FsStore>, args: &crate::cli::IndexArgs) {
    let Some(dir) = &args.dir else {
        log::info!("--index-dir off: listings and searches read the disk");
        return;
    };
    let Some(dir) = dir.clone().or_else(|| default_index_dir(store.root())) else {
        log::warn!("no index: no cache folder (no CACHE_DIRECTORY, XDG_CACHE_HOME or HOME); give --index-dir");
        return;
    };
    // Only its owner reads it: it holds the names and words of the documents.
    let made = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir);
    if let Err(e) = made {
        log::warn!("no index: cannot make {}: {e}", dir.display());
        return;
    }
    let settings = crate::store::fs::IndexSettings {
        file: dir.join("index.sqlite"),
        max_text_bytes: args.max_text_bytes,
        reconcile: args.reconcile,
        watch: args.watch,
    };
    match store.start_index(&settings) {
        Ok(()) => log::info!("index of the root in {}, building", dir.display()),
        Err(e) => log::warn!("no index ({e}): listings and searches read the disk"),
    }
}

/// The index's folder for `root` in the user's cache folder: one per root,
/// named after its path.
fn default_index_dir(root: &Path) -> Option<PathBuf> {
    let cache = std::env::var_os("CACHE_DIRECTORY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()).map(|c| PathBuf::from(c).join("wfhook"))
        })
        .or_else(|| {
            std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache/wfhook"))
        })?;
    let mut hasher = crate::crypto::Sha256Hasher::default();
    std::io::Write::write_all(&mut hasher, root.as_os_str().as_encoded_bytes()).expect("hashing never fails");
    let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let safe: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(32).collect();
    Some(cache.join(format!("{safe}-{}", &hasher.finish_hex()[..16])))
}

/// The Workfront lookups, at most half the workers at once (one with a
/// single worker): the other half always serves the requests that need
/// no lookup.
fn workfront_resolver(settings: Option<&workfront::Settings>, workers: usize) -> Result<Resolver, ServeError> {
    let Some(settings) = settings else {
        log::info!(
            "no --workfront-url: actions on documents linked by browsing (not sent through uploadInit) will fail"
        );
        return Ok(Resolver::disabled());
    };
    let resolver = Resolver::new(settings, workers / 2).map_err(ServeError::Workfront)?;
    let proxy = ["ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
        .iter()
        .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    log::info!(
        "documents linked by browsing are looked up in Workfront at {} (API v{}){}",
        settings.url,
        settings.api_version,
        proxy.map(|v| format!(", through the proxy in {v}")).unwrap_or_default()
    );
    Ok(resolver)
}

fn announce_keys(keys: &Keys, source: &KeySource, state_dir: &StateDir, tui: bool) {
    match source {
        KeySource::Generated(key) => {
            // Shown this once, on the operator's terminal, never in the log.
            println!("Generated an API key for Workfront (kept in {}, shown only now):", state_dir.api_key().display());
            println!("    {key}");
            if tui {
                println!("Press Enter to open the dashboard.");
                let _ = io::stdin().read_line(&mut String::new());
            }
        }
        KeySource::Stored => log::info!("using the API key kept in {}", state_dir.api_key().display()),
        KeySource::File => log::info!("accepting {} API key(s) from the keys file", keys.len()),
        KeySource::Env => log::info!("accepting the API key from {}", crate::cli::API_KEY_VAR),
    }
}
