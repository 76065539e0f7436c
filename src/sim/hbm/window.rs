//! A port's outstanding bursts: the release ticks of at most `capacity` bursts in flight, in
//! issue order. A burst that finds every slot taken waits for the oldest to be released.
//!
//! Bursts a request issues back to back are stored as one run with their release times in
//! closed form, so a request costs a few operations however many bursts it has, and the
//! check that none of its bursts waits for a slot looks at runs, not bursts.

use std::collections::VecDeque;

/// Bursts issued back to back: burst `i` ends at `origin + (i + 1)·base + min(i + 1,
/// longer)` (the first `longer` bursts take one tick more) and its slot is released
/// `latency` ticks later. Bursts `first..first + count` of it are still in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    pub origin: u64,
    pub base: u64,
    pub longer: u64,
    pub first: u64,
    pub count: u64,
    pub latency: u64,
}

impl Run {
    /// One burst ending at `end`.
    pub fn single(end: u64, latency: u64) -> Self {
        Run {
            origin: end,
            base: 0,
            longer: 0,
            first: 0,
            count: 1,
            latency,
        }
    }

    /// Tick at which burst `i` of the run is released.
    fn release(&self, i: u64) -> u64 {
        self.origin + (i + 1) * self.base + (i + 1).min(self.longer) + self.latency
    }
}

/// The bursts in flight on one port.
#[derive(Debug, Clone, Default)]
pub(super) struct Window {
    runs: VecDeque<Run>,
    len: u64,
}

impl Window {
    /// Bursts in flight.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Frees the oldest burst's slot and returns its release tick.
    pub fn pop_oldest(&mut self) -> Option<u64> {
        let run = self.runs.front_mut()?;
        let release = run.release(run.first);
        run.first += 1;
        run.count -= 1;
        if run.count == 0 {
            self.runs.pop_front();
        }
        self.len -= 1;
        Some(release)
    }

    /// Adds a run of bursts, then frees the oldest beyond `capacity` (in a back-to-back
    /// request they were popped, one per new burst, before they bound anything).
    pub fn push(&mut self, run: Run, capacity: u64) {
        self.len += run.count;
        self.runs.push_back(run);
        while self.len > capacity {
            let excess = self.len - capacity;
            let front = self
                .runs
                .front_mut()
                .expect("a window over capacity has runs");
            let dropped = excess.min(front.count);
            front.first += dropped;
            front.count -= dropped;
            self.len -= dropped;
            if front.count == 0 {
                self.runs.pop_front();
            }
        }
    }

    /// Whether bursts `j = free..free + popped` of a request, which take the slots of the
    /// `popped` oldest bursts in flight in order, find each released by the time the channel
    /// would start them back to back: `start + j·base + min(j, longer)`.
    pub fn releases_by(&self, free: u64, popped: u64, start: u64, base: u64, longer: u64) -> bool {
        let begins = |j: u64| start + j * base + j.min(longer);
        let mut k0 = 0;
        for run in &self.runs {
            if k0 == popped {
                break;
            }
            let count = run.count.min(popped - k0);
            // Both sides are linear in the burst but for one bend each (where `min` stops
            // growing), so their difference peaks at an end of the range or at a bend.
            let last = k0 + count - 1;
            let run_bend = run
                .longer
                .checked_sub(1 + run.first)
                .map(|offset| k0 + offset);
            let request_bend = longer.checked_sub(free);
            let candidates = [Some(k0), Some(last), run_bend, request_bend]
                .into_iter()
                .flatten()
                .filter(|&k| k >= k0 && k <= last);
            for k in candidates {
                if run.release(run.first + (k - k0)) > begins(free + k) {
                    return false;
                }
            }
            k0 += count;
        }
        true
    }
}
