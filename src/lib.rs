//! mcpd: an appliance daemon that runs and governs MCP servers and the infrastructure
//! around them. The API it serves is specified in docs/api.md; each domain is a module here.

pub mod app;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod catalog;
pub mod cli;
pub mod configuration;
pub mod daemon;
pub mod docker;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod gateway;
pub mod http;
pub mod ids;
pub mod images;
pub mod json;
pub mod kubernetes;
pub mod mappings;
pub mod mcp;
pub mod metrics;
pub mod network;
pub mod request_log;
pub mod services;
pub mod settings;
pub mod store;
pub mod system;
pub mod systemd;
pub mod telemetry;
pub mod text;
pub mod time;
pub mod usage;
pub mod users;
pub mod vault;
pub mod workspaces;
