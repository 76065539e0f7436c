//! `roofsim._native`: the command line's jobs (`roofsim::cli`) called from Python. The Python
//! package (`roofsim/__init__.py`) turns keyword arguments into the command's options and
//! reads the files the job wrote, so both give the same numbers and the same errors.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use roofsim::cli::Cli;
use std::time::Duration;

// The exceptions are named for the package that exports them (`roofsim.ConfigError` in a
// traceback), not for this extension module.

/// How often a running job's thread is checked for Ctrl-C: prompt, and cheap.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(20);

create_exception!(
    roofsim,
    RoofsimError,
    PyException,
    "A roofsim job failed: writing its outputs, or a fault of roofsim itself."
);
create_exception!(
    roofsim,
    ConfigError,
    RoofsimError,
    "Bad input: a missing or malformed file, an unknown field, a number out of range, an \
     impossible design. The message is the command line's one line naming the file and field."
);

/// Runs `roofsim ARGS...` (without the program name) and returns what the command line
/// would print and the paths of the files it wrote. The job runs on a thread of its own
/// while this one, the GIL released between looks, checks for signals: on Ctrl-C the job is
/// asked to stop ([`roofsim::cancel`]), and once it has, `KeyboardInterrupt` is raised,
/// leaving what the job had written as an interrupted command line does.
#[pyfunction]
fn run(py: Python<'_>, args: Vec<String>) -> PyResult<(String, Vec<String>)> {
    let cli = Cli::try_from_args(args).map_err(|error| ConfigError::new_err(error.to_string()))?;
    let job = std::thread::spawn(move || roofsim::cli::run(&cli.command));
    while !job.is_finished() {
        py.detach(|| std::thread::sleep(SIGNAL_CHECK_INTERVAL));
        if let Err(interrupt) = py.check_signals() {
            roofsim::cancel::request();
            let _ = py.detach(|| job.join());
            roofsim::cancel::clear();
            return Err(interrupt);
        }
    }
    let ran = job
        .join()
        .map_err(|_| RoofsimError::new_err("the roofsim job panicked (a bug; please report it)"))?;
    match ran {
        Ok(ran) => Ok((
            ran.text,
            ran.written
                .iter()
                .map(|path| path.display().to_string())
                .collect(),
        )),
        Err(error) if error.is_user_error() => Err(ConfigError::new_err(error.to_string())),
        Err(error) => Err(RoofsimError::new_err(error.to_string())),
    }
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add_function(wrap_pyfunction!(run, module)?)?;
    module.add("RoofsimError", py.get_type::<RoofsimError>())?;
    module.add("ConfigError", py.get_type::<ConfigError>())?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
