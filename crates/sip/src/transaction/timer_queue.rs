//! A deterministic timer queue for drivers: keyed timers with deadlines on
//! a caller-supplied clock (a `Duration` since the driver's epoch).

use super::Timer;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Duration;

/// Pending timers, at most one per (key, timer).
#[derive(Debug)]
pub struct TimerQueue<K: Clone + Eq + Hash + Ord> {
    by_deadline: BTreeSet<(Duration, u64, K, Timer)>,
    by_key: HashMap<(K, Timer), (Duration, u64)>,
    seq: u64,
}

impl<K: Clone + Eq + Hash + Ord> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            by_deadline: BTreeSet::new(),
            by_key: HashMap::new(),
            seq: 0,
        }
    }
}

impl<K: Clone + Eq + Hash + Ord> TimerQueue<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts or restarts a timer to fire at `at`.
    pub fn start(&mut self, key: K, timer: Timer, at: Duration) {
        self.stop(&key, timer);
        self.seq += 1;
        self.by_deadline.insert((at, self.seq, key.clone(), timer));
        self.by_key.insert((key, timer), (at, self.seq));
    }

    pub fn stop(&mut self, key: &K, timer: Timer) {
        if let Some((at, seq)) = self.by_key.remove(&(key.clone(), timer)) {
            self.by_deadline.remove(&(at, seq, key.clone(), timer));
        }
    }

    /// Stops every timer of a key (when its transaction terminates).
    pub fn stop_all(&mut self, key: &K) {
        let timers: Vec<Timer> = self
            .by_key
            .keys()
            .filter(|(k, _)| k == key)
            .map(|(_, t)| *t)
            .collect();
        for t in timers {
            self.stop(key, t);
        }
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        self.by_deadline.iter().next().map(|(at, ..)| *at)
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub fn pop_due(&mut self, now: Duration) -> Option<(K, Timer)> {
        let first = self.by_deadline.iter().next()?.clone();
        if first.0 > now {
            return None;
        }
        self.by_deadline.remove(&first);
        self.by_key.remove(&(first.2.clone(), first.3));
        Some((first.2, first.3))
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_and_restart() {
        let mut q = TimerQueue::new();
        q.start(1u32, Timer::A, Duration::from_millis(500));
        q.start(2u32, Timer::B, Duration::from_millis(100));
        q.start(1u32, Timer::A, Duration::from_millis(50)); // restart replaces
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_due(Duration::from_millis(49)), None);
        assert_eq!(q.pop_due(Duration::from_millis(200)), Some((1, Timer::A)));
        assert_eq!(q.pop_due(Duration::from_millis(200)), Some((2, Timer::B)));
        q.start(3, Timer::E, Duration::from_secs(1));
        q.start(3, Timer::F, Duration::from_secs(2));
        q.stop_all(&3);
        assert!(q.is_empty());
    }
}
