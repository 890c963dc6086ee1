//! The per-service lock: operations on one service (a start, an update, a delete, the
//! events watcher's status refresh) run one at a time.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

type ServiceLock = Arc<tokio::sync::Mutex<()>>;
static LOCKS: LazyLock<Mutex<HashMap<String, ServiceLock>>> = LazyLock::new(Default::default);

/// Serialises operations on one service (keyed by id, or by name while creating).
pub(super) async fn lock(key: &str) -> tokio::sync::OwnedMutexGuard<()> {
    let m = {
        let mut map = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
        // Drop entries nobody holds, so the map does not grow with deleted services.
        map.retain(|_, v| Arc::strong_count(v) > 1);
        map.entry(key.to_string()).or_default().clone()
    };
    m.lock_owned().await
}
