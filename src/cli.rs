//! The command line: one table of flags ([`SERVE_FLAGS`]) from which
//! parsing, environment variables, `--help` and the man page test all read.
//! Every flag `--some-flag` may also come from `WFHOOK_SOME_FLAG`; a flag
//! given on the command line wins. Keys are never taken from argv.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::http::{Config, normalize_base_path};

pub struct Flag {
    pub name: &'static str,
    /// The value's placeholder; `None` for a switch.
    pub value: Option<&'static str>,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

impl Flag {
    /// The environment variable that may set this flag.
    pub fn env(&self) -> String {
        format!("WFHOOK_{}", self.name.to_ascii_uppercase().replace('-', "_"))
    }
}

/// The flags of `wfhook serve`.
pub static SERVE_FLAGS: &[Flag] = &[
    Flag {
        name: "listen",
        value: Some("ADDR"),
        default: Some("127.0.0.1:8080"),
        help: "Address and port to listen on (port 0 picks a free one).",
    },
    Flag {
        name: "root",
        value: Some("DIR"),
        default: Some("./wfhook-data"),
        help: "The document folder; created on first start. Its hidden .wfhook folder holds all state.",
    },
    Flag {
        name: "base-path",
        value: Some("PATH"),
        default: Some("/"),
        help: "Path under which every endpoint is served; Workfront's Base API URL is the public URL plus this path.",
    },
    Flag {
        name: "public-url",
        value: Some("URL"),
        default: None,
        help: "How browsers and Workfront reach this server (e.g. https://docs.example.com); used in viewLink and downloadLink. Default: http://ADDR as bound.",
    },
    Flag {
        name: "api-keys-file",
        value: Some("FILE"),
        default: None,
        help: "File of accepted API keys, one per line, # comments. Without it: WFHOOK_API_KEY, else a key generated on first start and kept in the root.",
    },
    Flag {
        name: "publisher",
        value: Some("NAME"),
        default: Some("wfhook"),
        help: "Publisher name shown by /serviceInfo, and the root folder's title.",
    },
    Flag {
        name: "workers",
        value: Some("N"),
        default: Some("8"),
        help: "Worker threads handling requests (and running actions).",
    },
    Flag {
        name: "max-upload-bytes",
        value: Some("N"),
        default: Some("2147483648"),
        help: "Largest upload accepted; larger bodies get 413 and change nothing.",
    },
    Flag {
        name: "action-timeout",
        value: Some("SECS"),
        default: Some("30"),
        help: "Longest a custom action may run before it fails with 500.",
    },
    Flag {
        name: "link-ttl",
        value: Some("SECS"),
        default: Some("3600"),
        help: "How long signed viewLink/downloadLink URLs stay valid.",
    },
];

pub enum Command {
    Serve(Box<ServeArgs>),
    Actions,
    Help,
    Version,
}

#[derive(Debug)]
pub struct ServeArgs {
    pub config: Config,
    pub root: PathBuf,
    pub api_keys_file: Option<PathBuf>,
    /// `WFHOOK_API_KEY`, a single key from the environment.
    pub api_key: Option<String>,
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
        None => return Err(UsageError("a command is needed: serve or actions".into())),
        Some(Short('h') | Long("help")) => return Ok(Command::Help),
        Some(Short('V') | Long("version")) => return Ok(Command::Version),
        Some(Value(v)) => v.string()?,
        Some(other) => return Err(other.unexpected().into()),
    };
    let mut given: HashMap<&'static str, String> = HashMap::new();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long(name) if command == "serve" => {
                let flag = SERVE_FLAGS
                    .iter()
                    .find(|f| f.name == name)
                    .ok_or_else(|| UsageError(format!("unknown option '--{name}'")))?;
                let value = if flag.value.is_some() { p.value()?.string()? } else { "true".into() };
                given.insert(flag.name, value);
            }
            other => return Err(other.unexpected().into()),
        }
    }
    match command.as_str() {
        "serve" => {
            let get = |name: &'static str| -> Option<String> {
                let flag = SERVE_FLAGS.iter().find(|f| f.name == name).expect("flag in the table");
                given
                    .get(name)
                    .cloned()
                    .or_else(|| env(&flag.env()).filter(|v| !v.is_empty()))
                    .or_else(|| flag.default.map(str::to_string))
            };
            Ok(Command::Serve(Box::new(serve_args(&get, env)?)))
        }
        "actions" => Ok(Command::Actions),
        "help" => Ok(Command::Help),
        other => Err(UsageError(format!("unknown command '{other}'"))),
    }
}

fn serve_args(
    get: &dyn Fn(&'static str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServeArgs, UsageError> {
    fn number<T: std::str::FromStr>(name: &str, v: Option<String>) -> Result<T, UsageError> {
        let v = v.unwrap_or_default();
        v.trim().parse().map_err(|_| UsageError(format!("invalid value for --{name}: '{v}'")))
    }
    let workers: usize = number("workers", get("workers"))?;
    if workers == 0 || workers > 1024 {
        return Err(UsageError("--workers must be between 1 and 1024".into()));
    }
    let timeout: f64 = number("action-timeout", get("action-timeout"))?;
    if !(timeout > 0.0 && timeout <= 86_400.0) {
        return Err(UsageError("--action-timeout must be between 0 and 86400 seconds".into()));
    }
    let public_url = get("public-url").map(|u| u.trim_end_matches('/').to_string());
    if let Some(u) = &public_url
        && (!(u.starts_with("http://") || u.starts_with("https://"))
            || u.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(UsageError(format!("invalid value for --public-url: '{u}' (an http:// or https:// URL)")));
    }
    let base = get("base-path").unwrap_or_default();
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
        },
        root: PathBuf::from(get("root").unwrap_or_default()),
        api_keys_file: get("api-keys-file").map(PathBuf::from),
        api_key: env("WFHOOK_API_KEY"),
    })
}

/// The `--help` text, generated from the flag table.
pub fn help() -> String {
    let mut s = format!(
        "wfhook {} — an Adobe Workfront Document Webhooks provider\n\n\
         USAGE:\n    wfhook serve [OPTIONS]    serve the document folder to Workfront\n    \
         wfhook actions            list the compiled-in custom actions\n    \
         wfhook --help | --version\n\nSERVE OPTIONS (each also read from its environment variable):\n",
        env!("CARGO_PKG_VERSION")
    );
    for f in SERVE_FLAGS {
        let head = match f.value {
            Some(v) => format!("--{} {v}", f.name),
            None => format!("--{}", f.name),
        };
        s.push_str(&format!("    {head}\n        {}\n        [env: {}]", f.help, f.env()));
        if let Some(d) = f.default {
            s.push_str(&format!(" [default: {d}]"));
        }
        s.push('\n');
    }
    s.push_str(
        "\nENVIRONMENT:\n    WFHOOK_API_KEY    a single accepted API key (keys are never taken from the command line)\n    \
         RUST_LOG          log filter, e.g. info, debug, wfhook::access=warn [default: info]\n",
    );
    s
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
    fn every_flag_parses_and_has_an_environment_variable() {
        for f in SERVE_FLAGS {
            assert!(f.env().starts_with("WFHOOK_"));
            assert!(help().contains(&format!("--{}", f.name)), "{}", f.name);
            assert!(help().contains(&f.env()), "{}", f.name);
            let value = match f.name {
                "public-url" => "https://x.example",
                "base-path" => "/api",
                "listen" | "root" | "publisher" | "api-keys-file" => "x",
                _ => "7",
            };
            serve(&["serve", &format!("--{}", f.name), value], &[]);
        }
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
            &["serve", "--base-path", "/../x"],
        ] {
            assert!(parse_with(args, &[]).is_err(), "{args:?}");
        }
        assert!(matches!(parse_with(&["--version"], &[]), Ok(Command::Version)));
        assert!(matches!(parse_with(&["serve", "--help"], &[]), Ok(Command::Help)));
        assert!(matches!(parse_with(&["actions"], &[]), Ok(Command::Actions)));
    }
}
