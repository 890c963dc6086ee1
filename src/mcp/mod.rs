//! MCP servers: managed (in a service's container) or remote, their sessions, and the
//! execution of tools, resources and prompts with a request log.
//!
//! Other domains call [`manager`] (server lifecycle, sessions, discovery) and
//! [`execute`] (tool / resource / prompt execution).

pub mod api;
pub mod backing;
pub mod execute;
pub mod manager;
pub mod model;
pub mod session;
pub mod sessions;
pub mod store;
