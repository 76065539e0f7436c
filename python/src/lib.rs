//! `roofsim._native`: the command line's jobs (`roofsim::cli`) called from Python. The Python
//! package (`roofsim/__init__.py`) turns keyword arguments into the command's options and
//! reads the files the job wrote, so both give the same numbers and the same errors.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use roofsim::cli::Cli;

create_exception!(
    _native,
    RoofsimError,
    PyException,
    "A roofsim job failed: writing its outputs, or a fault of roofsim itself."
);
create_exception!(
    _native,
    ConfigError,
    RoofsimError,
    "Bad input: a missing or malformed file, an unknown field, a number out of range, an \
     impossible design. The message is the command line's one line naming the file and field."
);

/// Runs `roofsim ARGS...` (without the program name) and returns what the command line
/// would print and the paths of the files it wrote. The GIL is released while it runs.
#[pyfunction]
fn run(py: Python<'_>, args: Vec<String>) -> PyResult<(String, Vec<String>)> {
    let cli = Cli::try_from_args(args).map_err(|error| ConfigError::new_err(error.to_string()))?;
    let ran = py.detach(|| roofsim::cli::run(&cli.command));
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
