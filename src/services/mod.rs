//! Services: desired state in SQLite, realised as Docker containers.

pub mod api;
