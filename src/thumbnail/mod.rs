//! Thumbnails of the root's items: [`render`] makes a small picture of one
//! open file's content (images, a PDF's first page, a video frame), and
//! [`icons`] draws the built-in icon shown when there is none.

pub mod icons;
pub mod render;
