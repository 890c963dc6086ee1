//! A small map of values derived from database rows, valid until the next tracked
//! commit ([`Store::generation`]). Correctness before speed: an entry is used only
//! while the generation it was read under is still current, so a write (revoking a
//! grant, disabling a user, deleting a server) is seen by the very next lookup.
//!
//! Use: [`Cache::get_or_read`]; or take `let g = store.generation()` *before* the read,
//! then `cache.put(store, g, key, value)`; `get` answers only while `g` is current.

use super::Store;
use crate::error::Result;
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::Mutex;

/// Values with the generation they were read under, by (store id, key).
type Entries<V> = HashMap<(u64, String), (u64, V)>;

/// Entries by (store id, key); at most `cap` entries (then the map starts over).
pub struct Cache<V> {
    cap: usize,
    map: Mutex<Option<Entries<V>>>,
}

impl<V: Clone> Cache<V> {
    /// An empty cache holding at most `cap` entries (usable in a `static`).
    pub const fn new(cap: usize) -> Self {
        Self {
            cap,
            map: Mutex::new(None),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, Option<Entries<V>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value cached for `key`, if it was read under the current generation.
    pub fn get(&self, store: &Store, key: &str) -> Option<V> {
        let now = store.generation();
        let mut map = self.map();
        let map = map.as_mut()?;
        let k = (store.id(), key.to_string());
        match map.get(&k) {
            Some((g, v)) if *g == now => Some(v.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// The value cached for `key`, or else `read` run on a reader connection (see
    /// [`Store::read`]) and cached under the generation taken before it.
    pub async fn get_or_read<F>(&self, store: &Store, key: &str, read: F) -> Result<V>
    where
        V: Send + 'static,
        F: FnOnce(&Connection) -> Result<V> + Send + 'static,
    {
        if let Some(v) = self.get(store, key) {
            return Ok(v);
        }
        let generation = store.generation();
        let v = store.read(read).await?;
        self.put(store, generation, key, v.clone());
        Ok(v)
    }

    /// Caches `value` for `key`, read under generation `generation` (taken before the
    /// read); dropped when a commit happened since.
    pub fn put(&self, store: &Store, generation: u64, key: &str, value: V) {
        let mut map = self.map();
        if store.generation() != generation {
            return;
        }
        let map = map.get_or_insert_with(HashMap::new);
        if map.len() >= self.cap {
            map.retain(|_, (g, _)| *g == generation);
            if map.len() >= self.cap {
                map.clear();
            }
        }
        map.insert((store.id(), key.to_string()), (generation, value));
    }

    /// Forgets everything cached for `store`.
    pub fn clear(&self, store: &Store) {
        if let Some(map) = self.map().as_mut() {
            map.retain(|(id, _), _| *id != store.id());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_die_with_the_next_tracked_commit_but_not_an_untracked_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let cache: Cache<u32> = Cache::new(8);
        let g = store.generation();
        cache.put(&store, g, "k", 1);
        assert_eq!(cache.get(&store, "k"), Some(1));
        store.write_untracked(|_| Ok(())).await.unwrap();
        assert_eq!(cache.get(&store, "k"), Some(1));
        store.write(|_| Ok(())).await.unwrap();
        assert_eq!(cache.get(&store, "k"), None);
        // A value read before a commit is not cached under the old generation.
        cache.put(&store, g, "k", 2);
        assert_eq!(cache.get(&store, "k"), None);
    }

    #[tokio::test]
    async fn a_commit_by_another_connection_is_noticed_at_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        let cache: Cache<u32> = Cache::new(8);
        cache.put(&store, store.generation(), "k", 1);
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute(
                "INSERT INTO audit_log (id, timestamp, action, outcome) VALUES ('a1', 't', 'x', 'success')",
                [],
            )
            .unwrap();
        store.write_untracked(|_| Ok(())).await.unwrap();
        assert_eq!(cache.get(&store, "k"), None);
    }
}
