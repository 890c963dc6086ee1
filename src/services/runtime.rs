//! The Docker side of services, no SQL: container configuration from a spec
//! (`config.rs`), the managed network (`network.rs`), the per-container calls (create,
//! start, stop, remove: `containers.rs`) and what the engine reports of them
//! (`observe.rs`).
//!
//! Every container carries `io.mcpd.managed=true`, `io.mcpd.service=<id>`,
//! `io.mcpd.replica=<n>` and `io.mcpd.config=<hash>`, the SHA-256 of the parts of the
//! spec that shape a container: a container whose hash differs from the current spec
//! is out of date and gets recreated.

mod config;
mod containers;
mod network;
mod observe;

pub use config::{
    LABEL_CONFIG, LABEL_MANAGED, LABEL_REPLICA, LABEL_SERVICE, ResolvedEnv, config_hash,
    container_config, container_name,
};
pub use containers::{
    check_image, create_container, remove_container, start_container, stop_container,
};
pub use network::{check_networks, ensure_network};
pub use observe::{
    Observed, containers_labelled, containers_of, derive_status, inspect, managed_containers,
    service_containers,
};
