//! MCP servers: managed (in a service's container) or remote, their sessions, and the
//! execution of tools, resources and prompts with a request log.

pub mod api;
