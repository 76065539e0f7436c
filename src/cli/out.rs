//! The output folder of a job: checked, held by one run at a time, and cleared of the
//! temporary files an interrupted run left.

use super::run::option_error;
use crate::pipeline::Error;
use crate::report::{self, ReportError};
use std::path::{Path, PathBuf};

/// Readies the output folder before a job writes: refuses a path that is not a folder or
/// that another run is writing to, takes it for this run (see [`OutLock`]) and removes the
/// temporary files an interrupted run left there.
pub(super) fn prepare_out(out: &Path) -> Result<OutLock, Error> {
    if out.exists() && !out.is_dir() {
        return Err(option_error(
            "--out",
            format!("{} is a file, not a folder", out.display()),
        ));
    }
    let lock = OutLock::take(out)?;
    report::remove_partials(out)?;
    Ok(lock)
}

/// One run's hold on its output folder, so two runs never mix their files there: a file
/// `.roofsim.lock` holding the process id, made when the run starts writing and removed
/// when it ends (with the folder, if the run made it and left it empty). A lock whose
/// process is gone (a killed run) is taken over.
#[derive(Debug)]
pub(super) struct OutLock {
    path: PathBuf,
    made_folder: Option<PathBuf>,
}

impl OutLock {
    fn take(out: &Path) -> Result<OutLock, Error> {
        let made_folder = (!out.exists()).then(|| out.to_path_buf());
        std::fs::create_dir_all(out).map_err(ReportError::io(out))?;
        let path = out.join(".roofsim.lock");
        let held = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
        };
        let mut file = match held() {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let alive = holder.trim().parse::<u32>().is_ok_and(process_is_alive);
                if alive {
                    return Err(option_error(
                        "--out",
                        format!(
                            "another roofsim run (process {}) is writing to {}; wait for it \
                             or choose another folder",
                            holder.trim(),
                            out.display()
                        ),
                    ));
                }
                std::fs::remove_file(&path).map_err(ReportError::io(&path))?;
                held().map_err(ReportError::io(&path))?
            }
            Err(error) => return Err(ReportError::io(&path)(error).into()),
        };
        use std::io::Write as _;
        write!(file, "{}", std::process::id()).map_err(ReportError::io(&path))?;
        Ok(OutLock { path, made_folder })
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(folder) = &self.made_folder {
            // Fails, as it should, unless the run left the folder empty.
            let _ = std::fs::remove_dir(folder);
        }
    }
}

/// Whether process `pid` runs (Linux: its `/proc` entry; elsewhere assumed, so a lock
/// there is removed by hand).
fn process_is_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}
