//! Services: desired state in SQLite, realised as Docker containers (DESIGN.md,
//! "Services on Docker"). [`manager`] holds the domain entry points other domains call;
//! [`api`] the HTTP routes; [`events`] the Docker events watcher and reconcile loop.

pub mod api;
pub mod events;
pub mod manager;
pub mod model;
pub mod runtime;
pub mod store;

pub use model::{
    ContainerInfo, HealthCheck, PortSpec, Resources, RestartPolicy, Service, ServiceSpec,
    VolumeSpec,
};
