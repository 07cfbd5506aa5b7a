//! What is drawn over the panels, one file each.

pub mod confirm;
pub mod detail;
pub mod help;
