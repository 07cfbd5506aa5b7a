//! `wfhook serve`: assembles the store, keys, secrets, journal and server
//! from the root folder, runs until SIGTERM or SIGINT, and lets in-flight
//! requests finish.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::cli::ServeArgs;
use crate::events::Bus;
use crate::http::auth::{self, KeySource, Keys};
use crate::http::{Parts, Server};
use crate::journal::{self, Journal};
use crate::store::fs::FsStore;

/// The link-signing secret's file in the state folder.
pub const LINK_SECRET_FILE: &str = "link-secret";

#[derive(Debug)]
pub enum ServeError {
    /// The root folder cannot be created, read or written.
    Root(PathBuf, io::Error),
    Keys(io::Error),
    Bind(String, io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Root(p, e) => {
                write!(f, "cannot use {} as the document root: {e}", p.display())
            }
            ServeError::Keys(e) => write!(f, "cannot load the API keys: {e}"),
            ServeError::Bind(a, e) => write!(f, "cannot listen on {a}: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Runs the server until a termination signal.
pub fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let root_err = |e| ServeError::Root(args.root.clone(), e);
    let store = FsStore::open(&args.root).map_err(root_err)?;
    let state_dir = store.state_dir().to_path_buf();
    let (keys, source) =
        Keys::load(args.api_keys_file.as_deref(), args.api_key.clone(), &state_dir).map_err(ServeError::Keys)?;
    announce_keys(&keys, &source, &state_dir);
    let link_secret = auth::load_or_create_secret(&state_dir.join(LINK_SECRET_FILE)).map_err(root_err)?;
    let journal = Journal::open(&state_dir.join(journal::FILE_NAME)).map_err(root_err)?;
    let listen = args.config.listen.clone();
    let parts = Parts { store: Arc::new(store), keys, link_secret, journal, bus: Bus::new() };
    let server = Server::bind(args.config, parts).map_err(|e| ServeError::Bind(listen, e))?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // A second signal while stopping exits at once.
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop)).map_err(ServeError::Keys)?;
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(ServeError::Keys)?;
    }
    log::info!("listening on http://{}", server.addr());
    log::info!(
        "Workfront Base API URL: {}{}",
        server.app().cfg.public_url.as_deref().unwrap_or_default(),
        server.app().cfg.base_path
    );
    server.run(&stop);
    log::info!("stopped: every in-flight request was answered");
    Ok(())
}

fn announce_keys(keys: &Keys, source: &KeySource, state_dir: &std::path::Path) {
    match source {
        KeySource::Generated(key) => {
            // Shown this once, on the operator's terminal, never in the log.
            println!(
                "Generated an API key for Workfront (kept in {}, shown only now):",
                state_dir.join(auth::KEY_FILE).display()
            );
            println!("    {key}");
        }
        KeySource::Stored => log::info!("using the API key kept in {}", state_dir.join(auth::KEY_FILE).display()),
        KeySource::File => log::info!("accepting {} API key(s) from the keys file", keys.len()),
        KeySource::Env => log::info!("accepting the API key from WFHOOK_API_KEY"),
    }
}
