//! The cache of `kube` clients, one per registered cluster, with the connection
//! generation each was built for (state only: building lives in [`super::client`]).

use std::collections::HashMap;
use std::sync::Mutex;

/// Clients of the registered clusters, by cluster id, with the generation each was
/// built for.
#[derive(Default)]
pub struct Clients {
    cache: Mutex<HashMap<String, (i64, kube::Client)>>,
}

impl Clients {
    /// No clients yet.
    pub fn new() -> Clients {
        Clients::default()
    }

    /// The client of cluster `id` if it was built for `generation`.
    pub fn cached(&self, id: &str, generation: i64) -> Option<kube::Client> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(id)
            .filter(|(g, _)| *g == generation)
            .map(|(_, c)| c.clone())
    }

    /// Keeps `client` as the one for cluster `id` at `generation`.
    pub fn keep(&self, id: &str, generation: i64, client: kube::Client) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(id.to_string(), (generation, client));
        }
    }

    /// Drops the client of a deleted or changed cluster.
    pub fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(id);
        }
    }
}
