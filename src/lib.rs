//! wfhook: an Adobe Workfront Document Webhooks provider in one binary.
//!
//! Data flows one way: a request enters [`http`], is authenticated and
//! routed, reaches the [`store`] or an [`actions`] entry, and leaves as a
//! response plus one [`events::Event`] that the [`journal`] records and the
//! dashboard shows.

pub mod crypto;
pub mod events;
pub mod journal;
pub mod store;
