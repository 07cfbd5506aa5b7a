//! Thumbnails (scratch until the renderer lands).
pub mod cache;
pub mod icons;
pub mod render;
pub mod service;

pub use service::{Answer, Body, Outcome, Settings, Source, Thumbnails, Why, width};
