//! The HTTP side: a fixed pool of worker threads pulling requests from one
//! (vendored) `tiny_http` server, each request going route → auth →
//! handler → response → final record (journal line, metric, event).
//!
//! - [`config`]: what `serve` was told, and the connection bounds;
//! - [`server`]: the shared [`App`], the listener and the worker pool;
//! - [`pipeline`]: one request's life, from arrival to response;
//! - [`ledger`]: every request's final record, once its answer is out;
//! - [`routes`]: the endpoint table and what each endpoint does;
//! - [`request`] and [`response`]: reading parameters and bodies, writing
//!   answers and their headers;
//! - [`errors`]: the one error enum and the one match to a status;
//! - [`auth`]: the API keys; [`links`]: the signed browser links;
//! - [`folder_page`]: the page a folder's link opens in a browser.

pub mod auth;
pub mod browser;
pub mod config;
pub mod errors;
pub mod folder_page;
pub mod ledger;
pub mod links;
pub mod pipeline;
pub mod request;
pub mod response;
pub mod routes;
pub mod server;

pub use config::{Config, normalize_base_path};
pub use pipeline::Call;
pub use server::{App, Live, Parts, Server, Snapshot};

/// The log target of the one access line per request.
pub const ACCESS_LOG: &str = "wfhook::access";
