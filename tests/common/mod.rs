//! Shared fixture for the integration tests: starts the real `wfhook`
//! binary on `127.0.0.1:0` in a temporary root, and talks to it with a tiny
//! HTTP/1.1 client written on `std::net::TcpStream`.
//!
//! One helper, one place:
//!
//! - [`server`]: the [`TestServer`] fixture and its [`Builder`]; [`bin`],
//!   [`command`], [`run`] and [`help`] for one-shot runs of the binary.
//! - [`client`]: the HTTP client: [`request`], [`raw`], [`connect`], [`Conn`],
//!   [`Response`] and the response readers.
//! - [`api`]: the Workfront API on an [`Api`], which a `TestServer` derefs
//!   to (`upload_init`, `put_file`, `files`, `search`, `action`…), a
//!   server's `journal`, [`KEY`], [`USER`], [`enc`].
//! - [`nginx`]: nginx in front of test servers, from a prefix of its own,
//!   killed when dropped: any site, or a [`Nginx::round_robin`] over several.
//! - [`wait`]: [`wait_for`] and the one deadline, [`WAIT`].
//! - [`tools`]: free ports, `/proc`, folder listings and whole [`tree`]s,
//!   the tests' [`knob`]s and [`Rng`], [`say`] for lines on the real stderr, and
//!   [`tools_or_skip`] and [`skip_unless_ci`] for tests that need tmux,
//!   groff, nginx, a tmpfs….
//! - [`sockets`]: [`connect_from`] a chosen loopback address with a small
//!   receive buffer, and [`raise_open_file_limit`].
//! - [`tmux`]: a tmux session to run the dashboard in.
//! - [`workfront`]: a simulated Workfront REST API (and a `CONNECT` proxy)
//!   for the lookups of documents linked by browsing.
//!
//! Every test file includes this module with `mod common;`, so helpers (and
//! re-exports) that one file does not use are expected. The benches include
//! `wait.rs`, `tools.rs`, `client.rs` and `tmux.rs` by path: those use std
//! (and serde_json) only, and `super::wait` at most.
#![allow(dead_code, unused_imports)]

pub mod api;
pub mod client;
pub mod nginx;
pub mod server;
pub mod sockets;
pub mod tmux;
pub mod tools;
pub mod wait;
pub mod workfront;

pub use api::{Api, KEY, USER, as_array, enc, find, link_param, sha256_hex, titles};
pub use client::{
    Conn, IO_TIMEOUT, Response, connect, raw, read_response, request, split_raw, status_of, try_connect,
    try_read_response,
};
pub use nginx::{Nginx, Passed};
pub use server::{Builder, TestServer, bin, command, help, metric, run};
pub use sockets::{connect_from, raise_open_file_limit};
pub use tmux::Tmux;
pub use tools::{
    Node, Rng, Tree, free_port, free_ports, knob, on_disk, proc_status, restore_tree, say, skip_unless_ci, temp_files,
    tools_or_skip, tree, tree_diff,
};
pub use wait::{WAIT, poll, poll_within, wait_for, wait_for_listener, wait_until};
