//! wfhook: an Adobe Workfront Document Webhooks provider in one binary.
//!
//! Data flows one way: a request enters [`http`], is authenticated and
//! routed, reaches the [`store`] or an [`actions`] entry, and leaves as a
//! response plus one [`events::Event`] that the [`journal`] records and the
//! dashboard shows.

pub mod actions;
pub mod cli;
pub mod crypto;
pub mod events;
pub mod http;
pub mod journal;
pub mod serve;
pub mod store;

/// Logs to stderr, `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
}
