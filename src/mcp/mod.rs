//! MCP servers: managed (in a service's container) or remote, their sessions, and the
//! execution of tools, resources and prompts with a request log.
//!
//! Other domains call [`servers`] and [`patch`] (create, change, delete, start/stop),
//! [`records`] (lookups and cached lists), [`connect`] (a server's session),
//! [`discovery`] and [`execute`] (tool / resource / prompt execution).

pub mod api;
pub mod api_exec;
pub mod backing;
pub mod connect;
pub mod discovery;
pub mod execute;
pub mod headers;
pub mod liveness;
pub mod model;
pub mod patch;
pub mod placement;
pub mod records;
pub mod requests;
pub mod servers;
pub mod sessions;
pub mod store;
pub mod transport;
