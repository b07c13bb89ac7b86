//! A deterministic timer queue for drivers: keyed timers with deadlines on
//! a caller-supplied clock (a `Duration` since the driver's epoch).

use super::{KeyMap, Timer};
use std::collections::BTreeMap;
use std::hash::Hash;
use std::time::Duration;

/// Pending timers, at most one per (key, timer). Every operation costs O(log n) in the number
/// of pending timers, [`TimerQueue::stop_all`] included: a transaction ending must not scan the
/// timers of every other one (a gateway holding 50,000 calls has ~10^5 of them).
#[derive(Debug)]
pub struct TimerQueue<K: Clone + Eq + Hash> {
    /// By deadline, then start order (`seq` is unique, so it alone names the entry).
    by_deadline: BTreeMap<(Duration, u64), (K, Timer)>,
    /// The running timers of each key: a transaction has at most three at once.
    by_key: KeyMap<K, Vec<(Timer, Duration, u64)>>,
    seq: u64,
}

impl<K: Clone + Eq + Hash> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            by_deadline: BTreeMap::new(),
            by_key: KeyMap::default(),
            seq: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> TimerQueue<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts or restarts a timer to fire at `at`.
    pub fn start(&mut self, key: K, timer: Timer, at: Duration) {
        self.stop(&key, timer);
        self.seq += 1;
        self.by_deadline
            .insert((at, self.seq), (key.clone(), timer));
        self.by_key
            .get_or_insert_with(key, Vec::new)
            .push((timer, at, self.seq));
    }

    pub fn stop(&mut self, key: &K, timer: Timer) {
        let Some(running) = self.by_key.get_mut(key) else {
            return;
        };
        if let Some(i) = running.iter().position(|(t, ..)| *t == timer) {
            let (_, at, seq) = running.swap_remove(i);
            self.by_deadline.remove(&(at, seq));
        }
        if running.is_empty() {
            self.by_key.remove(key);
            self.compact();
        }
    }

    /// Stops every timer of a key (when its transaction terminates).
    pub fn stop_all(&mut self, key: &K) {
        for (_, at, seq) in self.by_key.remove(key).into_iter().flatten() {
            self.by_deadline.remove(&(at, seq));
        }
        self.compact();
    }

    /// Shrinks `by_key` once it is three quarters empty (amortized O(1)), so that a burst of
    /// transactions does not leave a table sized for its peak.
    fn compact(&mut self) {
        if self.by_key.capacity() > 4 * self.by_key.len() + 64 {
            self.by_key.shrink_to(2 * self.by_key.len());
        }
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        self.by_deadline.first_key_value().map(|((at, _), _)| *at)
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub fn pop_due(&mut self, now: Duration) -> Option<(K, Timer)> {
        let first = self.by_deadline.first_entry()?;
        if first.key().0 > now {
            return None;
        }
        let ((_, seq), (key, timer)) = first.remove_entry();
        if let Some(running) = self.by_key.get_mut(&key) {
            running.retain(|e| e.2 != seq);
            if running.is_empty() {
                self.by_key.remove(&key);
                self.compact();
            }
        }
        Some((key, timer))
    }

    pub fn len(&self) -> usize {
        self.by_deadline.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_deadline.is_empty()
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

    #[test]
    fn a_burst_does_not_leave_a_table_sized_for_its_peak() {
        let mut q = TimerQueue::new();
        for k in 0..50_000u32 {
            q.start(k, Timer::M, Duration::from_secs(32));
        }
        let peak = q.by_key.capacity();
        for k in 0..50_000u32 {
            q.stop_all(&k);
        }
        assert!(q.is_empty());
        assert!(
            q.by_key.capacity() < peak / 100,
            "{} of {peak}",
            q.by_key.capacity()
        );
    }

    #[test]
    fn stop_all_leaves_other_keys_and_same_deadlines_keep_start_order() {
        let mut q = TimerQueue::new();
        let t = Duration::from_secs(1);
        q.start(1u32, Timer::G, t);
        q.start(2u32, Timer::G, t);
        q.start(1u32, Timer::H, t);
        q.start(3u32, Timer::J, t);
        q.stop_all(&1);
        q.stop(&3, Timer::A); // not running: nothing happens
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_due(t), Some((2, Timer::G)));
        assert_eq!(q.pop_due(t), Some((3, Timer::J)));
        assert!(q.is_empty() && q.by_key.is_empty());
        // A popped timer is forgotten: stopping it later is a no-op, restarting works.
        q.start(4u32, Timer::K, t);
        assert_eq!(q.pop_due(t), Some((4, Timer::K)));
        q.stop(&4, Timer::K);
        q.start(4u32, Timer::K, t * 2);
        assert_eq!(q.next_deadline(), Some(t * 2));
    }
}
