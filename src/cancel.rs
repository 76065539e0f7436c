//! Cooperative interruption of long jobs. A caller that cannot kill the process (the Python
//! package, on Ctrl-C) asks the running job to stop: a simulation stops before its next
//! layer, a sweep before its next point, and the job returns
//! [`SimError::Interrupted`](crate::sim::SimError::Interrupted), leaving what it had written as an interrupted command line does
//! (a sweep's finished rows). The request is process-wide: it stops every job running.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every running job to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Lets jobs run again (once the interrupted ones have returned).
pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

/// Whether jobs have been asked to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
