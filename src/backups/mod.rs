//! Built-in backups (`docs/api.md`, section 20 "Backups and schedules"): online,
//! consistent copies of the database taken with SQLite's backup API while the API keeps
//! serving writes, packed as tar → zstd → age (see [`archive`]), written to a temp file
//! and renamed only once complete and verified.
//!
//! A backup row moves `queued → running → completed | failed`; one backup runs at a
//! time (others wait their turn). Sealed vault values are copied as they are stored:
//! the archive never holds a decrypted secret, and holds the master key only when asked
//! and only inside an encrypted archive.
//!
//! Where things are: [`model`] (shapes), [`store`] (all SQL of the backup tables, and
//! the database-wide copies), [`seal`] (which encryption, what opens it), [`job`]
//! (queueing and running a backup), [`staging`] (what goes into an archive, disk
//! space), [`format`], [`archive`] and [`verify`] (the format, writing and reading back), [`records`]
//! (reading, downloading, deleting backups), [`restore`] and [`offline`] (putting an
//! archive back), [`volumes`] (service volumes), [`schedule`] (schedules and their
//! scheduler), [`api`] (the HTTP handlers, `docs/api.md` section 20).

pub mod api;
pub mod archive;
pub mod format;
pub mod job;
pub mod model;
pub mod offline;
pub mod records;
pub mod restore;
pub mod schedule;
pub mod seal;
pub mod staging;
pub mod store;
pub mod verify;
pub mod volumes;

pub use job::{create, queue, run};
pub use model::{Backup, BackupOptions, BackupType, RestoreScope, Status};
pub use records::{archive_path, delete, dir, get, list, recover};
pub use restore::restore_online;
pub use seal::{choose_seal, unseal_for};
pub use staging::{check_space, free_bytes, is_out_of_space, space_needed};
pub use store::{copy_all, copy_database, load};
