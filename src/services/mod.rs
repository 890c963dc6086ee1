//! Services: desired state in SQLite, realised as Docker containers (DESIGN.md,
//! "Services on Docker"). [`manager`] holds the domain entry points other domains call;
//! [`api`] the HTTP routes; [`events`] the Docker events watcher and reconcile loop.

/// HTTP routes.
pub mod api;
/// Docker events watcher and reconcile loop.
pub mod events;
/// Domain entry points (create, get, list, start, stop, restart, scale, update, delete).
pub mod manager;
/// Shapes and validation.
pub mod model;
/// Operations on running containers: logs, exec, health, stats.
pub mod ops;
/// HTTP routes of the operations.
pub mod ops_api;
/// Status refresh and startup/reconnect reconcile.
pub mod reconcile;
/// Docker calls and container configuration.
pub mod runtime;
/// SQL of the `services` table.
pub mod store;

pub use model::{
    ContainerInfo, HealthCheck, PortSpec, Resources, RestartPolicy, Service, ServiceSpec,
    VolumeSpec,
};
