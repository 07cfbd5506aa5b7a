//! The command line: one table of flags per command ([`SERVE_FLAGS`],
//! [`TOP_FLAGS`]) and one of the variables no flag sets ([`ENVIRONMENT`]),
//! from which parsing, `--help`, and (through `tests/docs.rs`) the manual
//! and the README all read: a new flag is one entry. Every flag
//! `--some-flag` may also come from `WFHOOK_SOME_FLAG`; a flag given on the
//! command line wins. Keys are never taken from argv.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::dashboard::KEYMAP;
use crate::http::{Config, normalize_base_path};
use crate::journal;
use crate::workfront;

pub struct Flag {
    pub name: &'static str,
    /// The value's placeholder; `None` for a switch.
    pub value: Option<&'static str>,
    pub default: Fallback,
    /// One or two sentences: `--help`, the README and the manual all say it.
    /// Backticks mark literal text (bold in the manual, code in the README).
    pub help: &'static str,
    /// More for the manual, after `help`; empty for none.
    pub details: &'static str,
}

/// What a flag is when it is not set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// This value, parsed as if given.
    Value(&'static str),
    /// No value; the text says what happens then (for the documentation).
    Unset(&'static str),
}

impl Flag {
    /// The environment variable that may set this flag.
    pub fn env(&self) -> String {
        format!("WFHOOK_{}", self.name.to_ascii_uppercase().replace('-', "_"))
    }

    /// The value used when the flag is not set, if there is one.
    pub fn default_value(&self) -> Option<&'static str> {
        match self.default {
            Fallback::Value(v) => Some(v),
            Fallback::Unset(_) => None,
        }
    }

    const fn details(self, details: &'static str) -> Flag {
        Flag { details, ..self }
    }
}

const fn flag(name: &'static str, value: &'static str, default: Fallback, help: &'static str) -> Flag {
    Flag { name, value: Some(value), default, help, details: "" }
}

const fn switch_flag(name: &'static str, help: &'static str) -> Flag {
    Flag { name, value: None, default: Fallback::Unset("off"), help, details: "" }
}

use Fallback::{Unset, Value};

/// The flags of `wfhook serve`.
pub static SERVE_FLAGS: &[Flag] = &[
    flag("listen", "ADDR", Value("127.0.0.1:8080"), "Address and port to listen on (port 0 picks a free one)."),
    flag(
        "root",
        "DIR",
        Value("./wfhook-data"),
        "The document folder; created on first start. Its hidden `.wfhook` folder holds all state.",
    )
    .details("See `FILES`."),
    flag(
        "base-path",
        "PATH",
        Value("/"),
        "Path under which every endpoint is served; Workfront's Base API URL is the public URL plus this path.",
    )
    .details(
        "For example `/api/v1`. Leading and trailing slashes are ignored; `.`, `..` and empty segments are refused.",
    ),
    flag(
        "public-url",
        "URL",
        Unset("`http://ADDR` with the address as bound"),
        "How browsers and Workfront reach this server (such as `https://docs.example.com`), used in `viewLink` and \
         `downloadLink`.",
    )
    .details(
        "An `http://` or `https://` URL. wfhook builds the signed `viewLink` and `downloadLink` of every item from it.",
    ),
    flag(
        "api-keys-file",
        "FILE",
        Unset("none"),
        "File of accepted API keys, one per line, # comments. Without it: `WFHOOK_API_KEY`, else a key generated \
         on first start and kept in the root.",
    )
    .details("Blank lines are skipped too. A file without any key stops the start."),
    flag(
        "workfront-url",
        "URL",
        Unset("none: actions on a document linked by browsing fail with a message that says to set it"),
        "Your company's Workfront, such as `https://acme.my.workfront.com`: wfhook asks its API which file a \
         document linked by browsing is, so that custom actions work on it.",
    )
    .details(
        "Needs a Workfront API key (`WFHOOK_WORKFRONT_API_KEY` or `--workfront-api-key-file`). Workfront is asked \
         once per document, by at most half the workers at once (more get 503 at once); the answer is recorded in \
         the root, so documents already resolved keep working while Workfront is unreachable. An `http://` URL is \
         accepted too, for a proxy inside the network. The lookup goes through `HTTPS_PROXY` unless `NO_PROXY` \
         says otherwise; see `ENVIRONMENT`.",
    ),
    flag(
        "workfront-api-key-file",
        "FILE",
        Unset("`WFHOOK_WORKFRONT_API_KEY`"),
        "File holding the Workfront API key for `--workfront-url`: its first line that is not blank or a # \
         comment. Read again on SIGHUP.",
    )
    .details("The key is never taken from the command line and never written to a log, the journal or an answer."),
    flag(
        "workfront-api-version",
        "VERSION",
        Value("22.0"),
        "The version of Workfront's REST API that wfhook asks (`/attask/api/vVERSION/`).",
    )
    .details("Adobe supports each version for three years: raise it when Adobe retires the one in use."),
    flag(
        "workfront-ca-file",
        "FILE",
        Unset("the system's root certificates only"),
        "PEM certificates to trust for Workfront and an HTTPS proxy besides the system's root certificates, such \
         as a company's own certificate authority.",
    ),
    flag(
        "workfront-timeout",
        "SECS",
        Value("5"),
        "Longest a Workfront lookup may take, connecting included; a slower one fails with 504.",
    )
    .details("In seconds, fractions allowed, from 0.1 to 120."),
    flag(
        "index-dir",
        "DIR",
        Unset(
            "a folder named after the root in the user's cache folder: `$CACHE_DIRECTORY` (systemd's \
             `CacheDirectory=`), else `$XDG_CACHE_HOME/wfhook`, else `~/.cache/wfhook`",
        ),
        "Where this instance keeps its index of the root (names, sizes, dates, and the words of text documents): \
         local disk, never the share; `off` turns the index off.",
    )
    .details(
        "The index is derived data: deleting it costs a rebuild, never a file. It is built in the background at \
         start while wfhook already answers (listings and searches read the disk until then), kept current by \
         wfhook's own writes, by change notification and by `--index-reconcile`. Each instance sharing a root \
         keeps an index of its own.",
    ),
    flag(
        "index-max-bytes",
        "N",
        Value("268435456"),
        "The most bytes of document text the index keeps for full-text search; past it, further documents are \
         found by name only.",
    )
    .details("Each document gives at most 256 KiB of text. The default is 256 MiB."),
    flag(
        "index-reconcile",
        "SECS",
        Value("300"),
        "How often the whole root is walked again, to catch what change notification cannot see (NFS, SMB, \
         another instance's writes).",
    )
    .details("In seconds, from 1 to 86400."),
    flag(
        "index-watch",
        "on/off",
        Value("on"),
        "Whether change notification (inotify) keeps the index current between walks.",
    )
    .details(
        "Every folder of the root but the state folder is watched; the kernel's watch limit \
        (`fs.inotify.max_user_watches`) bounds how many.",
    ),
    flag(
        "thumbnail-cache-bytes",
        "N",
        Value("268435456"),
        "The most bytes of thumbnails kept in the state folder's `thumbnails/`, the least recently used removed \
         first; 0 keeps none.",
    )
    .details(
        "A thumbnail is kept per item, width and version of the file's bytes, so an upload or a change made \
         beside wfhook is seen at once. The default is 256 MiB: some 20 000 thumbnails 200 pixels wide. Each \
         instance sharing a root holds its own bound.",
    ),
    flag("publisher", "NAME", Value("wfhook"), "Publisher name shown by `/serviceInfo`, and the root folder's title."),
    flag("workers", "N", Value("8"), "Worker threads handling requests (and running actions).")
        .details("From 1 to 1024; as many threads again run custom actions."),
    flag(
        "max-upload-bytes",
        "N",
        Value("2147483648"),
        "Largest upload accepted, in bytes; larger bodies get 413 and change nothing.",
    )
    .details(
        "The default is 2 GiB. A larger declared body gets 413 before any of it is read; a larger chunked body is \
         cut off at the limit and gets 413. Either way the file keeps its old bytes.",
    ),
    flag("action-timeout", "SECS", Value("30"), "Longest a custom action may run before it fails with 500.").details(
        "In seconds, fractions allowed, at most 86400. The worker answers at the timeout; a stuck action thread is \
         replaced.",
    ),
    flag(
        "link-ttl",
        "SECS",
        Value("3600"),
        "How long signed `viewLink` and `downloadLink` URLs stay valid, in seconds.",
    ),
    flag("max-connections", "N", Value("1024"), "Open connections at most; more are answered 503 and closed.").details(
        "From 16 to 65536. An open connection costs a socket and a few KiB, never a thread: one loop waits on \
         all of them. Past the process's open-file limit connections are refused too; `serve` raises its soft \
         limit to the hard one.",
    ),
    flag(
        "max-connections-per-client",
        "N",
        Value("128"),
        "Open connections from one address at most; more are answered 503 and closed.",
    )
    .details(
        "At least 1; above `--max-connections` it is `--max-connections`. Behind a reverse proxy every client has \
         the proxy's address: raise it to `--max-connections` there.",
    ),
    flag(
        "io-timeout",
        "SECS",
        Value("30"),
        "Longest a connection may stay silent: idle keep-alive connections, stalled bodies and clients that stop \
         reading are dropped after it.",
    )
    .details("In seconds, from 1 to 3600."),
    flag(
        "min-transfer-rate",
        "BYTES",
        Value("4096"),
        "Slowest an answer or an upload may move, in bytes a second averaged over 10 s; slower ones are cut.",
    )
    .details(
        "A cut answer is journaled with the bytes it moved and `complete: false`; a cut upload gets 408 and \
         changes nothing. 0 turns the minimum off (`--io-timeout` still cuts a transfer that stops).",
    ),
    flag(
        "journal-max-bytes",
        "N",
        Value("67108864"),
        "Size in bytes past which the journal is rotated: `journal.jsonl` becomes `journal.jsonl.1` and a fresh \
         one is started.",
    )
    .details(
        "From 4096 to 1099511627776. The default, 64 MiB, holds some 300,000 requests: rotation, which takes the \
         state's lock, comes seldom, and one file stays quick to read. With `--journal-keep`, it bounds the journal \
         on disk: at most keep + 1 files of this size (576 MiB by default). Instances sharing a root should use the \
         same value. See `FILES`.",
    ),
    flag(
        "journal-keep",
        "N",
        Value("8"),
        "Rotated journals kept, `journal.jsonl.1` (the newest) to `journal.jsonl.N`; older ones are deleted.",
    )
    .details(
        "From 0 to 1000. With 1, only the journal before the last rotation is kept; with 0, a full journal is \
         deleted, so the history starts afresh at each rotation (and lines being written to it at that moment are \
         lost). The dashboard's history reads on into the rotated journals.",
    ),
    switch_flag(
        "tui",
        "Show the operator's dashboard in this terminal while serving (headless when stdout is not a terminal).",
    )
    .details("See `DASHBOARD`."),
    flag(
        "log-file",
        "FILE",
        Unset("standard error"),
        "Append logs to FILE instead of stderr (with `--tui` they also go to the dashboard's log pane).",
    ),
    flag(
        "admin-listen",
        "ADDR",
        Value("127.0.0.1:9101"),
        "Admin listener for `/metrics` and for `wfhook top`; `off` disables it. Loopback only unless \
         `--admin-allow-remote`.",
    )
    .details(
        "If the default address is taken, for example by a second instance on the same host, wfhook warns and \
         serves without it; an address given by option or environment must bind, or the start fails. See `ADMIN \
         LISTENER`.",
    ),
    switch_flag("admin-allow-remote", "Allow the admin listener on a non-loopback address.")
        .details("`/metrics` needs no token, so expose it only to a trusted network."),
];

/// The flags of `wfhook top`.
pub static TOP_FLAGS: &[Flag] = &[
    flag("connect", "ADDR", Value("127.0.0.1:9101"), "The admin listener of the server to watch."),
    flag(
        "root",
        "DIR",
        Value("./wfhook-data"),
        "The server's root, to read its admin token from (or set `WFHOOK_ADMIN_TOKEN`).",
    )
    .details("The token is in the root's `.wfhook/admin-token` file."),
    flag(
        "log-file",
        "FILE",
        Unset("none"),
        "Append `top`'s own log to FILE: connections, and why one failed (such as a listener that could not \
         prove it knows the admin token).",
    )
    .details("Without it `top` logs nothing: the terminal is the dashboard's."),
];

/// A variable read from the environment that no flag sets.
pub struct EnvVar {
    pub name: &'static str,
    /// What it does; backticks mark literal text, as in [`Flag::help`].
    pub help: &'static str,
}

/// A single accepted API key.
pub const API_KEY_VAR: &str = "WFHOOK_API_KEY";
/// The admin token for `wfhook top`.
pub const ADMIN_TOKEN_VAR: &str = "WFHOOK_ADMIN_TOKEN";

/// The variables that no flag sets, for `--help`, the manual and the README.
pub static ENVIRONMENT: &[EnvVar] = &[
    EnvVar {
        name: API_KEY_VAR,
        help: "A single accepted API key, used when `--api-keys-file` is not given. Keys are never taken from the \
               command line, where `ps` would show them.",
    },
    EnvVar {
        name: crate::workfront::API_KEY_VAR,
        help: "The Workfront API key for `--workfront-url`, when `--workfront-api-key-file` is not given.",
    },
    EnvVar {
        name: "HTTPS_PROXY",
        help: "The proxy through which wfhook reaches Workfront, such as `http://proxy.example.com:3128` \
               (`ALL_PROXY` and `HTTP_PROXY` are read too, in that order, and the lower-case names).",
    },
    EnvVar {
        name: "NO_PROXY",
        help: "Hosts reached without the proxy, comma-separated: exact names, `.example.com` or `*.example.com` \
               for a domain, `*` for all.",
    },
    EnvVar {
        name: ADMIN_TOKEN_VAR,
        help: "The admin token for `wfhook top`; without it, `top` reads `.wfhook/admin-token` under its `--root`.",
    },
    EnvVar {
        name: "RUST_LOG",
        help: "The log filter, such as `info`, `debug` or `info,wfhook::access=warn`; default `info`. Each request \
               gives one access line, with method, path, status, latency and request id, on the target \
               `wfhook::access`: `info,wfhook::access=warn` silences them.",
    },
    EnvVar { name: "NO_COLOR", help: "When set, the dashboard uses no colors." },
];

/// The flag table of a command.
pub fn flags_of(command: &str) -> Option<&'static [Flag]> {
    match command {
        "serve" => Some(SERVE_FLAGS),
        "top" => Some(TOP_FLAGS),
        _ => None,
    }
}

pub enum Command {
    Serve(Box<ServeArgs>),
    /// Internal: the child that renders one thumbnail (see `thumbnail::child`).
    RenderThumbnail(crate::thumbnail::child::Args),
    Top(TopArgs),
    Actions,
    Help,
    Version,
}

#[derive(Debug)]
pub struct ServeArgs {
    pub config: Config,
    pub root: PathBuf,
    pub api_keys_file: Option<PathBuf>,
    /// [`API_KEY_VAR`], a single key from the environment.
    pub api_key: Option<String>,
    pub tui: bool,
    pub log_file: Option<PathBuf>,
    /// When the journal rotates, and how many rotated files it keeps.
    pub journal: journal::Limits,
    /// `None` when the admin listener is off.
    pub admin_listen: Option<String>,
    /// Given by flag or environment: failing to bind it is then fatal.
    pub admin_explicit: bool,
    pub admin_allow_remote: bool,
    /// `None` without `--workfront-url`.
    pub workfront: Option<workfront::Settings>,
    pub index: IndexArgs,
    pub thumbnail_cache_bytes: u64,
}

/// The index as the command line sets it.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexArgs {
    /// `None`: off; `Some(None)`: the default folder for the root.
    pub dir: Option<Option<PathBuf>>,
    pub max_text_bytes: u64,
    pub reconcile: Duration,
    pub watch: bool,
}

#[derive(Debug)]
pub struct TopArgs {
    pub connect: String,
    pub root: PathBuf,
    /// [`ADMIN_TOKEN_VAR`], else read from the root.
    pub token: Option<String>,
    pub log_file: Option<PathBuf>,
}

/// A command line that makes no sense: exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (see 'wfhook --help')", self.0)
    }
}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> UsageError {
        UsageError(e.to_string())
    }
}

/// Parses the process's own arguments and environment.
pub fn parse_from_env() -> Result<Command, UsageError> {
    parse(std::env::args_os().skip(1), &|k| std::env::var(k).ok())
}

/// Parses `args` (without the program name), reading the environment
/// through `env`.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let command = match p.next()? {
        None => return Err(UsageError("a command is needed: serve, top or actions".into())),
        Some(Short('h') | Long("help")) => return Ok(Command::Help),
        Some(Short('V') | Long("version")) => return Ok(Command::Version),
        Some(Value(v)) => v.string()?,
        Some(other) => return Err(other.unexpected().into()),
    };
    if command == crate::thumbnail::child::COMMAND {
        let values = p.raw_args()?.map(|v| v.to_string_lossy().into_owned()).collect::<Vec<_>>();
        return crate::thumbnail::child::Args::parse(&values)
            .map(Command::RenderThumbnail)
            .ok_or_else(|| UsageError(format!("{command} is wfhook's own: WIDTH KIND MILLIS")));
    }
    let table = flags_of(&command).unwrap_or_default();
    let mut given: HashMap<&'static str, String> = HashMap::new();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long(name) if !table.is_empty() => {
                let flag = table
                    .iter()
                    .find(|f| f.name == name)
                    .ok_or_else(|| UsageError(format!("unknown option '--{name}' for '{command}'")))?;
                let value = if flag.value.is_some() { p.value()?.string()? } else { "true".into() };
                given.insert(flag.name, value);
            }
            other => return Err(other.unexpected().into()),
        }
    }
    // What the user set, on the command line or in the environment (an
    // empty variable counts as unset).
    let set = |name: &'static str| -> Option<String> {
        let flag = table.iter().find(|f| f.name == name).expect("flag in the table");
        given.get(name).cloned().or_else(|| env(&flag.env()).filter(|v| !v.is_empty()))
    };
    let get = |name: &'static str| -> Option<String> {
        set(name).or_else(|| table.iter().find(|f| f.name == name).and_then(Flag::default_value).map(str::to_string))
    };
    match command.as_str() {
        "serve" => {
            let explicit = set("admin-listen").is_some();
            Ok(Command::Serve(Box::new(serve_args(&get, env, explicit)?)))
        }
        "top" => Ok(Command::Top(TopArgs {
            connect: get("connect").unwrap_or_default(),
            root: PathBuf::from(get("root").unwrap_or_default()),
            token: env(ADMIN_TOKEN_VAR).filter(|t| !t.trim().is_empty()),
            log_file: get("log-file").map(PathBuf::from),
        })),
        "actions" => Ok(Command::Actions),
        "help" => Ok(Command::Help),
        other => Err(UsageError(format!("unknown command '{other}'"))),
    }
}

/// A switch's value from the command line ("true") or the environment.
fn switch(name: &str, v: Option<String>) -> Result<bool, UsageError> {
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("" | "0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(other) => Err(UsageError(format!("invalid value for --{name}: '{other}' (true or false)"))),
    }
}

fn number<T: std::str::FromStr>(name: &str, v: Option<String>) -> Result<T, UsageError> {
    let v = v.unwrap_or_default();
    v.trim().parse().map_err(|_| UsageError(format!("invalid value for --{name}: '{v}'")))
}

fn serve_args(
    get: &dyn Fn(&'static str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
    admin_explicit: bool,
) -> Result<ServeArgs, UsageError> {
    let workers: usize = number("workers", get("workers"))?;
    if workers == 0 || workers > 1024 {
        return Err(UsageError("--workers must be between 1 and 1024".into()));
    }
    let timeout: f64 = number("action-timeout", get("action-timeout"))?;
    if !(timeout > 0.0 && timeout <= 86_400.0) {
        return Err(UsageError("--action-timeout must be between 0 and 86400 seconds".into()));
    }
    let max_connections: usize = number("max-connections", get("max-connections"))?;
    if !(16..=65_536).contains(&max_connections) {
        return Err(UsageError("--max-connections must be between 16 and 65536".into()));
    }
    let per_client: usize = number("max-connections-per-client", get("max-connections-per-client"))?;
    if per_client == 0 {
        return Err(UsageError("--max-connections-per-client must be at least 1".into()));
    }
    // A cap above the global one is the global one.
    let per_client = per_client.min(max_connections);
    let io_timeout: f64 = number("io-timeout", get("io-timeout"))?;
    if !(1.0..=3600.0).contains(&io_timeout) {
        return Err(UsageError("--io-timeout must be between 1 and 3600 seconds".into()));
    }
    let journal_max_bytes: u64 = number("journal-max-bytes", get("journal-max-bytes"))?;
    if !(4096..=1 << 40).contains(&journal_max_bytes) {
        return Err(UsageError("--journal-max-bytes must be between 4096 and 1099511627776".into()));
    }
    let journal_keep: u32 = number("journal-keep", get("journal-keep"))?;
    if journal_keep > 1000 {
        return Err(UsageError("--journal-keep must be between 0 and 1000".into()));
    }
    let public_url = web_url("public-url", get("public-url"))?;
    if public_url.as_ref().is_some_and(|u| u.contains(['?', '#'])) {
        return Err(UsageError("--public-url takes no query or fragment".into()));
    }
    let base = get("base-path").unwrap_or_default();
    let workfront = workfront_settings(get, env)?;
    Ok(ServeArgs {
        config: Config {
            listen: get("listen").unwrap_or_default(),
            base_path: normalize_base_path(&base).map_err(UsageError)?,
            public_url,
            publisher: get("publisher").unwrap_or_default(),
            workers,
            max_upload_bytes: number("max-upload-bytes", get("max-upload-bytes"))?,
            action_timeout: Duration::from_secs_f64(timeout),
            link_ttl: Duration::from_secs(number("link-ttl", get("link-ttl"))?),
            max_connections,
            max_connections_per_client: per_client,
            io_timeout: Duration::from_secs_f64(io_timeout),
            min_transfer_rate: number("min-transfer-rate", get("min-transfer-rate"))?,
        },
        root: PathBuf::from(get("root").unwrap_or_default()),
        api_keys_file: get("api-keys-file").map(PathBuf::from),
        api_key: env(API_KEY_VAR),
        tui: switch("tui", get("tui"))?,
        log_file: get("log-file").map(PathBuf::from),
        journal: journal::Limits { max_bytes: journal_max_bytes, keep: journal_keep },
        admin_listen: get("admin-listen").filter(|a| !a.eq_ignore_ascii_case("off")),
        admin_explicit,
        admin_allow_remote: switch("admin-allow-remote", get("admin-allow-remote"))?,
        workfront,
        index: index_args(get)?,
        thumbnail_cache_bytes: number("thumbnail-cache-bytes", get("thumbnail-cache-bytes"))?,
    })
}

fn index_args(get: &dyn Fn(&'static str) -> Option<String>) -> Result<IndexArgs, UsageError> {
    let dir = match get("index-dir") {
        Some(d) if d.eq_ignore_ascii_case("off") => None,
        Some(d) => Some(Some(PathBuf::from(d))),
        None => Some(None),
    };
    let reconcile: f64 = number("index-reconcile", get("index-reconcile"))?;
    if !(1.0..=86_400.0).contains(&reconcile) {
        return Err(UsageError("--index-reconcile must be between 1 and 86400 seconds".into()));
    }
    let watch = switch("index-watch", get("index-watch"))?;
    Ok(IndexArgs {
        dir,
        max_text_bytes: number("index-max-bytes", get("index-max-bytes"))?,
        reconcile: Duration::from_secs_f64(reconcile),
        watch,
    })
}

/// An `http://` or `https://` URL without white space or control
/// characters, its trailing slashes removed.
fn web_url(name: &str, v: Option<String>) -> Result<Option<String>, UsageError> {
    let Some(u) = v.map(|u| u.trim_end_matches('/').to_string()) else { return Ok(None) };
    if !(u.starts_with("http://") || u.starts_with("https://"))
        || u.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(UsageError(format!("invalid value for --{name}: '{u}' (an http:// or https:// URL)")));
    }
    Ok(Some(u))
}

/// What `serve` needs to ask Workfront, when `--workfront-url` is given.
fn workfront_settings(
    get: &dyn Fn(&'static str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<workfront::Settings>, UsageError> {
    let key_file = get("workfront-api-key-file").map(PathBuf::from);
    let Some(url) = web_url("workfront-url", get("workfront-url"))? else {
        return match key_file {
            Some(_) => Err(UsageError("--workfront-api-key-file needs --workfront-url".into())),
            None => Ok(None),
        };
    };
    if url.contains(['?', '#']) || url.contains("/attask") {
        return Err(UsageError(format!(
            "invalid value for --workfront-url: '{url}' (Workfront's address only, such as \
             https://acme.my.workfront.com)"
        )));
    }
    let key = match (key_file, env(workfront::API_KEY_VAR).filter(|k| !k.trim().is_empty())) {
        (Some(file), _) => workfront::KeySource::File(file),
        (None, Some(key)) => workfront::KeySource::Env(key),
        (None, None) => {
            return Err(UsageError(format!(
                "--workfront-url needs a Workfront API key: set {} or --workfront-api-key-file",
                workfront::API_KEY_VAR
            )));
        }
    };
    let version = get("workfront-api-version").unwrap_or_default();
    let version = version.trim().trim_start_matches(['v', 'V']);
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return Err(UsageError(format!("invalid value for --workfront-api-version: '{version}' (such as 22.0)")));
    }
    let timeout: f64 = number("workfront-timeout", get("workfront-timeout"))?;
    if !(0.1..=120.0).contains(&timeout) {
        return Err(UsageError("--workfront-timeout must be between 0.1 and 120 seconds".into()));
    }
    Ok(Some(workfront::Settings {
        url,
        api_version: format!("{major}.{minor}"),
        key,
        ca_file: get("workfront-ca-file").map(PathBuf::from),
        timeout: Duration::from_secs_f64(timeout),
    }))
}

/// The `--help` text, generated from the flag tables, the dashboard's
/// keymap and the environment table.
pub fn help() -> String {
    let mut s = format!(
        "wfhook {} — an Adobe Workfront Document Webhooks provider\n\n\
         USAGE:\n    \
         wfhook serve [OPTIONS]    serve the document folder to Workfront\n    \
         wfhook serve --tui        the same, with the operator's dashboard in this terminal\n    \
         wfhook top [OPTIONS]      attach the dashboard to a running server's admin listener\n    \
         wfhook actions            list the compiled-in custom actions\n    \
         wfhook --help | --version\n",
        env!("CARGO_PKG_VERSION")
    );
    s.push_str("\nSERVE OPTIONS (each also read from its environment variable):\n");
    flag_help(&mut s, SERVE_FLAGS);
    s.push_str("\nTOP OPTIONS:\n");
    flag_help(&mut s, TOP_FLAGS);
    s.push_str("\nDASHBOARD KEYS:\n");
    let width = KEYMAP.iter().map(|k| k.keys.len()).max().unwrap_or(0) + 2;
    for k in KEYMAP {
        s.push_str(&format!("    {:width$}{}\n", k.keys, k.does));
    }
    s.push_str(ADMIN_HELP);
    s.push_str("\nENVIRONMENT:\n");
    for v in ENVIRONMENT {
        s.push_str(&format!("    {}\n{}", v.name, wrap(&plain(v.help), 8)));
    }
    s
}

/// The admin pages, for `--help`.
const ADMIN_HELP: &str = "
ADMIN LISTENER:
    GET /metrics    Prometheus text: requests by endpoint and status, action calls and
                    failures by action, latency histograms, in-flight requests, uptime,
                    build info (no token needed)
    GET /challenge  the listener proves that it knows the admin token (Wfhook-Nonce: <nonce>)
    GET /events     the event stream 'wfhook top' reads: Authorization: Bearer <admin token>
                    for scripts; 'wfhook top' answers the challenge instead and never sends
                    the token itself
";

fn flag_help(s: &mut String, table: &[Flag]) {
    for f in table {
        let head = match f.value {
            Some(v) => format!("--{} {v}", f.name),
            None => format!("--{}", f.name),
        };
        s.push_str(&format!("    {head}\n{}        [env: {}]", wrap(&plain(f.help), 8), f.env()));
        let default = match f.default {
            Fallback::Value(v) => v.to_string(),
            Fallback::Unset(what) => plain(what),
        };
        s.push_str(&format!(" [default: {default}]"));
        s.push('\n');
    }
}

/// Documentation text as a terminal shows it: the backticks that mark
/// literal text dropped.
pub fn plain(text: &str) -> String {
    text.replace('`', "")
}

/// `text` wrapped at 100 columns, each line indented by `indent` spaces and
/// ended by a newline.
fn wrap(text: &str, indent: usize) -> String {
    const WIDTH: usize = 100;
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > WIDTH {
            out.push_str(&format!("{:indent$}{line}\n", ""));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{:indent$}{line}\n", ""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> Result<Command, UsageError> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse(args.iter().map(OsString::from), &|k| env.get(k).cloned())
    }

    fn serve(args: &[&str], env: &[(&str, &str)]) -> ServeArgs {
        match parse_with(args, env) {
            Ok(Command::Serve(s)) => *s,
            Ok(_) => panic!("not serve"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn defaults() {
        let s = serve(&["serve"], &[]);
        assert_eq!(s.config.listen, "127.0.0.1:8080");
        assert_eq!(s.root, PathBuf::from("./wfhook-data"));
        assert_eq!(s.config.base_path, "");
        assert_eq!(s.config.workers, 8);
        assert_eq!(s.config.publisher, "wfhook");
        assert!(s.config.public_url.is_none() && s.api_keys_file.is_none() && s.api_key.is_none());
        assert!(!s.tui && !s.admin_explicit && !s.admin_allow_remote);
        assert_eq!(s.admin_listen.as_deref(), Some("127.0.0.1:9101"));
        assert_eq!(s.journal, journal::Limits::default(), "the table's defaults are the journal's");
    }

    #[test]
    fn journal_limits_are_read_and_checked() {
        let s = serve(&["serve", "--journal-max-bytes", "4096"], &[("WFHOOK_JOURNAL_KEEP", "0")]);
        assert_eq!(s.journal, journal::Limits { max_bytes: 4096, keep: 0 });
        let s = serve(&["serve", "--journal-keep", "1000"], &[("WFHOOK_JOURNAL_MAX_BYTES", "1099511627776")]);
        assert_eq!(s.journal, journal::Limits { max_bytes: 1 << 40, keep: 1000 });
        for (flag, value) in [
            ("--journal-max-bytes", "4095"),
            ("--journal-max-bytes", "1099511627777"),
            ("--journal-max-bytes", "-1"),
            ("--journal-max-bytes", "64M"),
            ("--journal-keep", "1001"),
            ("--journal-keep", "-1"),
        ] {
            assert!(parse_with(&["serve", flag, value], &[]).is_err(), "{flag} {value}");
        }
    }

    #[test]
    fn flags_beat_environment_beats_defaults() {
        let s = serve(
            &["serve", "--listen", "127.0.0.1:0", "--base-path=/api/v1/"],
            &[("WFHOOK_LISTEN", "0.0.0.0:1"), ("WFHOOK_WORKERS", "3"), ("WFHOOK_API_KEY", "k")],
        );
        assert_eq!(s.config.listen, "127.0.0.1:0");
        assert_eq!(s.config.base_path, "/api/v1");
        assert_eq!(s.config.workers, 3);
        assert_eq!(s.api_key.as_deref(), Some("k"));
    }

    #[test]
    fn every_flag_parses_and_is_in_the_help_with_its_environment_variable() {
        for (command, table) in [("serve", SERVE_FLAGS), ("top", TOP_FLAGS)] {
            for f in table {
                assert!(help().contains(&format!("--{}", f.name)), "{}", f.name);
                assert!(help().contains(&f.env()), "{}", f.name);
                let value = match f.name {
                    "public-url" | "workfront-url" => "https://x.example",
                    "base-path" => "/api",
                    "listen" | "root" | "publisher" | "api-keys-file" | "log-file" | "connect" => "x",
                    "workfront-api-key-file" | "workfront-ca-file" | "index-dir" => "x",
                    "index-watch" => "off",
                    "admin-listen" => "127.0.0.1:0",
                    "max-connections" => "64",
                    "journal-max-bytes" => "65536",
                    _ => "7",
                };
                let flag = format!("--{}", f.name);
                let args: Vec<&str> =
                    if f.value.is_some() { vec![command, &flag, value] } else { vec![command, &flag] };
                // The Workfront flags need a URL and a key; the others ignore them.
                let env = [("WFHOOK_WORKFRONT_URL", "https://acme.example"), (workfront::API_KEY_VAR, "k")];
                assert!(parse_with(&args, &env).is_ok(), "{args:?}");
            }
        }
    }

    #[test]
    fn workfront_needs_a_url_and_a_key_and_never_takes_the_key_from_argv() {
        let url = ["serve", "--workfront-url", "https://acme.my.workfront.com/"];
        assert!(parse_with(&url, &[]).is_err(), "a URL without a key");
        assert!(parse_with(&["serve", "--workfront-api-key-file", "k"], &[]).is_err(), "a key file without a URL");
        assert!(parse_with(&["serve", "--workfront-api-key", "k"], &[]).is_err(), "a key on the command line");
        let s = serve(&url, &[(workfront::API_KEY_VAR, "sekrit")]);
        let wf = s.workfront.unwrap();
        assert_eq!(wf.url, "https://acme.my.workfront.com");
        assert_eq!(wf.key, workfront::KeySource::Env("sekrit".into()));
        assert_eq!((wf.api_version.as_str(), wf.timeout), ("22.0", Duration::from_secs(5)));
        assert!(wf.ca_file.is_none());
        let s = serve(
            &[
                "serve",
                "--workfront-api-key-file",
                "/k",
                "--workfront-api-version",
                "v21",
                "--workfront-url",
                "http://wf",
            ],
            &[(workfront::API_KEY_VAR, "ignored")],
        );
        let wf = s.workfront.unwrap();
        assert_eq!(wf.key, workfront::KeySource::File("/k".into()));
        assert_eq!(wf.api_version, "21.0");
        for bad in ["ftp://wf", "https://acme.my.workfront.com/attask/api/v19.0", "https://wf/?x", "wf"] {
            assert!(parse_with(&["serve", "--workfront-url", bad], &[(workfront::API_KEY_VAR, "k")]).is_err(), "{bad}");
        }
        for bad in ["x", "22.0.1", "", "1.x"] {
            let args = ["serve", "--workfront-url", "https://wf", "--workfront-api-version", bad];
            assert!(parse_with(&args, &[(workfront::API_KEY_VAR, "k")]).is_err(), "{bad}");
        }
        assert!(serve(&["serve"], &[(workfront::API_KEY_VAR, "k")]).workfront.is_none());
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        for args in [
            &["serve", "--nope"][..],
            &["serve", "--workers", "many"],
            &["serve", "--workers", "0"],
            &["fly"],
            &[],
            &["serve", "--api-key", "k"],
            &["serve", "--public-url", "ftp://x"],
            &["serve", "--public-url", "https://h?a=/api/v1"],
            &["serve", "--base-path", "/../x"],
            &["top", "--listen", "x"],
            &["actions", "--root", "x"],
        ] {
            assert!(parse_with(args, &[]).is_err(), "{args:?}");
        }
        assert!(parse_with(&["serve"], &[("WFHOOK_TUI", "maybe")]).is_err());
        assert!(matches!(parse_with(&["--version"], &[]), Ok(Command::Version)));
        assert!(matches!(parse_with(&["serve", "--help"], &[]), Ok(Command::Help)));
        assert!(matches!(parse_with(&["actions"], &[]), Ok(Command::Actions)));
    }

    #[test]
    fn switches_and_the_admin_listener() {
        let s = serve(&["serve", "--tui"], &[("WFHOOK_ADMIN_ALLOW_REMOTE", "1")]);
        assert!(s.tui && s.admin_allow_remote && !s.admin_explicit);
        let s = serve(&["serve", "--admin-listen", "off"], &[]);
        assert!(s.admin_listen.is_none() && s.admin_explicit);
        let Ok(Command::Top(t)) = parse_with(&["top", "--connect", "127.0.0.1:1"], &[("WFHOOK_ADMIN_TOKEN", "t")])
        else {
            panic!("not top")
        };
        assert_eq!((t.connect.as_str(), t.token.as_deref()), ("127.0.0.1:1", Some("t")));
        assert_eq!(t.root, PathBuf::from("./wfhook-data"));
    }
}
