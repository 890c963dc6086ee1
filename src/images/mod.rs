//! Local Docker images: list, load from a tar upload, delete.

pub mod api;
