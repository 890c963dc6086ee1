//! Services: desired state in SQLite, realised as Docker containers (the HTTP side is
//! described in docs/api.md, "Services").
//!
//! [`lifecycle`] holds the domain entry points other domains and the handlers call
//! (create, get, list, spec, update, scale, start, stop, restart, delete); the files
//! behind it each hold one step of a service's life. [`api`] and [`ops_api`] are the
//! HTTP routes; [`events`] the Docker events watcher, [`reconcile`] what it runs.

/// HTTP routes.
pub mod api;
/// Bringing a service's containers to its spec; stopping and removing them.
mod converge;
/// Creating a service.
mod create;
/// Secret references in a service's env.
mod env;
/// Docker events watcher.
pub mod events;
/// Domain entry points (create, get, list, spec, update, scale, start, stop, restart,
/// delete).
pub mod lifecycle;
/// The per-service lock.
mod lock;
/// Shapes, request bodies and the stored desired state.
pub mod model;
/// Operations on running containers: logs, exec, health, stats.
pub mod ops;
/// HTTP routes of the operations.
pub mod ops_api;
/// Recording how an operation ended: status and audit entry.
mod outcome;
/// Reading services: rows, their containers, the API shape.
mod read;
/// Status refresh and startup/reconnect reconcile.
pub mod reconcile;
/// Docker calls and container configuration.
pub mod runtime;
/// SQL of the `services` table.
pub mod store;
/// Replacing, patching and scaling a service.
mod update;
/// Validation of a desired state.
mod validate;

pub use model::{
    ContainerInfo, HealthCheck, PortSpec, Resources, RestartPolicy, Service, ServiceSpec,
    VolumeSpec,
};
