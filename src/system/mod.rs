//! Health and build information.

pub mod api;
