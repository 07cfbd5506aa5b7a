//! The four panels, one file each. Each draws its part of the model into
//! the area the layout gave it and reads the model only.

pub mod actions;
pub mod failures;
pub mod live;
pub mod log;
