//! wfhook: an Adobe Workfront Document Webhooks provider in one binary.
//!
//! Data flows one way: a request enters [`http`], is authenticated and
//! routed, reaches the [`store`] or an [`actions`] entry, and leaves as a
//! response plus one [`events::Event`] that the [`journal`] records and the
//! dashboard shows.

#![forbid(unsafe_code)]

pub mod actions;
pub mod admin;
pub mod cli;
pub mod crypto;
pub mod dashboard;
pub mod events;
pub mod external;
pub mod extract;
pub mod http;
pub mod index;
pub mod journal;
pub mod metrics;
pub mod serve;
pub mod state_dir;
pub mod store;
pub mod thumbnail;
pub mod top;
pub mod tui;
pub mod workfront;
