//! A port's outstanding bursts: the release ticks of at most `capacity` bursts in flight, in
//! issue order. A burst that finds every slot taken waits for the oldest to be released.
//!
//! Bursts a request issues back to back are stored as one run with their release times in
//! closed form, so a request costs a few operations however many bursts it has, and the
//! check that none of its bursts waits for a slot looks at runs, not bursts.

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
    pub(super) fn single(end: u64, latency: u64) -> Self {
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

/// The bursts in flight on one port: a ring of runs, oldest first. Each run holds at least
/// one burst, so the ring never needs more than `capacity` runs, plus one being pushed.
#[derive(Debug, Clone, Default)]
pub(super) struct Window {
    runs: Vec<Run>,
    /// Index of the oldest run in `runs`.
    head: usize,
    /// Runs in the ring.
    held: usize,
    /// Bursts in flight.
    len: u64,
    /// No burst in flight is released after this tick.
    latest_release: u64,
}

impl Window {
    /// Bursts in flight.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Where in the ring the `index`-th oldest run lies.
    fn slot(&self, index: usize) -> usize {
        let slot = self.head + index;
        if slot >= self.runs.len() {
            slot - self.runs.len()
        } else {
            slot
        }
    }

    /// The `index`-th oldest run.
    fn run(&self, index: usize) -> &Run {
        &self.runs[self.slot(index)]
    }

    /// Frees the slots of the `bursts` oldest bursts (at most all of them).
    fn drop_oldest(&mut self, bursts: u64) {
        let mut left = bursts;
        while left > 0 && self.held > 0 {
            let head = self.head;
            let run = &mut self.runs[head];
            let dropped = left.min(run.count);
            run.first += dropped;
            run.count -= dropped;
            self.len -= dropped;
            left -= dropped;
            if run.count == 0 {
                self.head = self.slot(1);
                self.held -= 1;
            }
        }
    }

    /// Frees the oldest burst's slot and returns its release tick.
    pub(super) fn pop_oldest(&mut self) -> Option<u64> {
        let release = (self.held > 0).then(|| {
            let run = self.run(0);
            run.release(run.first)
        })?;
        self.drop_oldest(1);
        Some(release)
    }

    /// Forgets every burst released by `tick`, when all of them are: an idle port's window
    /// is empty again, so its ring stays one run long.
    pub(super) fn release_all_by(&mut self, tick: u64) {
        if tick >= self.latest_release {
            self.held = 0;
            self.len = 0;
        }
    }

    /// Adds a run of bursts, then frees the oldest beyond `capacity` (in a back-to-back
    /// request they were popped, one per new burst, before they bound anything).
    // Inlined so the run is written straight into the ring: passed through memory, its
    // 16-byte copy stalls on the caller's 8-byte stores (a third of the engine's time).
    #[inline(always)]
    pub(super) fn push(&mut self, run: Run, capacity: u64) {
        let last = run.first + run.count - 1;
        self.latest_release = self.latest_release.max(run.release(last));
        if self.held == self.runs.len() {
            // Full: lay the runs out afresh, oldest first, in twice the room. The ring grows
            // only as far as runs are ever held at once (a few for long requests), which
            // keeps all channels' windows in the cache.
            let mut runs: Vec<Run> = (0..self.held).map(|index| *self.run(index)).collect();
            runs.resize((2 * self.held).max(4).min(capacity as usize + 1), run);
            self.runs = runs;
            self.head = 0;
        }
        let slot = self.slot(self.held);
        self.runs[slot] = run;
        self.held += 1;
        self.len += run.count;
        if self.len > capacity {
            self.drop_oldest(self.len - capacity);
        }
    }

    /// Whether bursts `j = free..free + popped` of a request, which take the slots of the
    /// `popped` oldest bursts in flight in order, find each released by the time the channel
    /// would start them back to back: `start + j·base + min(j, longer)`.
    pub(super) fn releases_by(
        &self,
        free: u64,
        popped: u64,
        start: u64,
        base: u64,
        longer: u64,
    ) -> bool {
        let mut k0 = 0;
        for index in 0..self.held {
            if k0 == popped {
                break;
            }
            let run = self.run(index);
            let count = run.count.min(popped - k0);
            let last = k0 + count - 1;
            let late = |k: u64| {
                let j = free + k;
                run.release(run.first + (k - k0)) > start + j * base + j.min(longer)
            };
            // Both sides are linear in the burst but for one bend each (where `min` stops
            // growing), so their difference peaks at an end of the range or at a bend.
            let inside = |bend: Option<u64>| bend.filter(|&k| k > k0 && k < last);
            let run_bend = inside(run.longer.checked_sub(1 + run.first).map(|o| k0 + o));
            let request_bend = inside(longer.checked_sub(free));
            if late(k0)
                || late(last)
                || run_bend.is_some_and(late)
                || request_bend.is_some_and(late)
            {
                return false;
            }
            k0 += count;
        }
        true
    }
}
