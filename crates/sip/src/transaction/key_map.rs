//! The table behind every live transaction ([`super::TransactionLayer`], [`super::TimerQueue`]).
//!
//! Under load such a table holds 10^5 entries: each transaction stays 64·T1 after its final
//! response (RFC 3261 §17, RFC 6026). A `HashMap<TransactionKey, V>` moves every key (a hundred
//! bytes and more) and hashes it again each time it doubles: the gateway's longest pause, tens
//! of ms at 10^5 entries. Here a bucket is 16 bytes, the key's hash (foldhash, seeded at random
//! per table) and a box holding key and value, so growing copies 16 bytes per entry and hashes
//! nothing.

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash};

pub(crate) struct KeyMap<K, V> {
    table: HashTable<(u64, Box<(K, V)>)>,
    hasher: RandomState,
}

impl<K, V> Default for KeyMap<K, V> {
    fn default() -> Self {
        KeyMap {
            table: HashTable::new(),
            hasher: RandomState::default(),
        }
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for KeyMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.table.iter().map(|(_, kv)| (&kv.0, &kv.1)))
            .finish()
    }
}

fn cached<K, V>(entry: &(u64, Box<(K, V)>)) -> u64 {
    entry.0
}

impl<K: Eq + Hash, V> KeyMap<K, V> {
    fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    pub fn shrink_to(&mut self, min_capacity: usize) {
        self.table.shrink_to(min_capacity, cached);
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let h = self.hash(key);
        self.table
            .find(h, |(eh, kv)| *eh == h && kv.0 == *key)
            .map(|(_, kv)| &kv.1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let h = self.hash(key);
        self.table
            .find_mut(h, |(eh, kv)| *eh == h && kv.0 == *key)
            .map(|(_, kv)| &mut kv.1)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let h = self.hash(&key);
        match self.table.find_mut(h, |(eh, kv)| *eh == h && kv.0 == key) {
            Some((_, kv)) => Some(std::mem::replace(&mut kv.1, value)),
            None => {
                self.table
                    .insert_unique(h, (h, Box::new((key, value))), cached);
                None
            }
        }
    }

    /// The value of `key`, inserted with `make` if absent.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let h = self.hash(&key);
        let entry = self
            .table
            .entry(h, |(eh, kv)| *eh == h && kv.0 == key, cached)
            .or_insert_with(|| (h, Box::new((key, make()))));
        &mut entry.into_mut().1.1
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let h = self.hash(key);
        self.table
            .find_entry(h, |(eh, kv)| *eh == h && kv.0 == *key)
            .ok()
            .map(|e| e.remove().0.1.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_map() {
        let mut m = KeyMap::default();
        assert!(m.is_empty());
        for i in 0..10_000u32 {
            assert_eq!(m.insert(format!("k{i}"), i), None);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.insert("k7".to_string(), 70), Some(7));
        assert_eq!(m.get(&"k7".to_string()), Some(&70));
        *m.get_mut(&"k8".to_string()).unwrap() += 1;
        assert_eq!(m.get(&"k8".to_string()), Some(&9));
        *m.get_or_insert_with("k9".to_string(), || 0) += 1;
        *m.get_or_insert_with("new".to_string(), || 41) += 1;
        assert_eq!(m.get(&"k9".to_string()), Some(&10));
        assert_eq!(m.get(&"new".to_string()), Some(&42));
        for i in 0..9_990u32 {
            assert!(m.remove(&format!("k{i}")).is_some());
        }
        assert_eq!(m.remove(&"k0".to_string()), None);
        assert!(!m.contains_key(&"k0".to_string()));
        assert!(m.contains_key(&"k9995".to_string()));
        let before = m.capacity();
        m.shrink_to(2 * m.len());
        assert!(m.capacity() < before / 10);
        assert_eq!(m.len(), 11);
        assert_eq!(m.get(&"k9999".to_string()), Some(&9999));
    }
}
