//! Thumbnails of the root's items: [`render`] makes a small picture of one
//! open file's content (images, a PDF's first page, a video frame),
//! [`icons`] draws the built-in icon shown when there is none, [`cache`]
//! keeps finished ones in the state folder, [`child`] renders in a process
//! of its own, and [`service`] answers `/thumbnail` from them on a pool of
//! its own.

pub mod cache;
pub mod child;
pub mod icons;
pub mod render;
pub mod service;

pub use service::{Answer, Body, Outcome, Settings, Thumbnails, width};
