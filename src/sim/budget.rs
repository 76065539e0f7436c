//! The process's memory for simulations: every run reserves what its graphs and results will
//! take (estimated before anything is built, [`crate::lower::GRAPH_BYTES_PER_NODE`]) and
//! waits while the runs in flight hold too much, so the points of a sweep running on several
//! threads, or Python calls on several threads, stay within one budget together. A run
//! reserves once, before it starts, and never waits while holding: no two runs can wait on
//! each other.

use crate::lower::MEMORY_BUDGET_BYTES;
use std::sync::{Condvar, Mutex, PoisonError};

static RESERVED_BYTES: Mutex<u64> = Mutex::new(0);
static RELEASED: Condvar = Condvar::new();

/// Bytes held for a run until it is dropped.
#[derive(Debug)]
pub struct Reservation {
    bytes: u64,
}

/// Waits until `bytes` fit within the budget beside the runs in flight (or none is in
/// flight: a run alone always proceeds, its own size having been checked), then holds them.
pub fn reserve(bytes: u64) -> Reservation {
    let mut reserved = RESERVED_BYTES
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    while *reserved > 0 && reserved.saturating_add(bytes) > MEMORY_BUDGET_BYTES {
        reserved = RELEASED
            .wait(reserved)
            .unwrap_or_else(PoisonError::into_inner);
    }
    *reserved += bytes;
    Reservation { bytes }
}

/// Graphs this large or larger give their freed memory back to the system once they ran:
/// smaller ones are reused where they were freed, at no cost.
const RELEASE_AFTER_BYTES: u64 = 16 << 20;

/// After a graph (or a wave of them) estimated at `graph_bytes` ran: gives the memory freed
/// so far back to the system if it was large ([`release_freed_memory`]).
pub fn release_freed_memory_after(graph_bytes: u64) {
    if graph_bytes >= RELEASE_AFTER_BYTES {
        release_freed_memory();
    }
}

/// Hands the memory freed so far back to the system. glibc keeps what a thread frees in
/// that thread's arena, for that thread alone: units simulated one after another on
/// different threads added up (the spatial design's full step at 2,400 language tokens
/// peaked at 263 MB for graphs estimated at 238 MB, 231 MB with one arena). Called after
/// each wave of units; elsewhere freed memory is reused as it is.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` takes no pointer and only returns free pages of glibc's own
    // arenas to the system; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut reserved = RESERVED_BYTES
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *reserved -= self.bytes;
        RELEASED.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Two runs that together exceed the budget never hold it at once; one that fits beside
    /// another does not wait for it; a run alone proceeds whatever its size.
    #[test]
    fn runs_share_the_budget_without_waiting_on_each_other() {
        let most_held = AtomicU64::new(0);
        let held = AtomicU64::new(0);
        let big = MEMORY_BUDGET_BYTES * 2 / 3;
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let _run = reserve(big);
                    let now = held.fetch_add(big, Ordering::SeqCst) + big;
                    most_held.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    held.fetch_sub(big, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most_held.load(Ordering::SeqCst), big);
        let small = MEMORY_BUDGET_BYTES / 4;
        let first = reserve(small);
        let second = reserve(small);
        drop((first, second));
        drop(reserve(MEMORY_BUDGET_BYTES * 3));
    }
}
