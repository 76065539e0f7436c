//! Records a digest of the source and the built-in configs, which decide every result, so a
//! sweep can refuse to resume or merge rows that another build simulated.

use std::fs;
use std::path::{Path, PathBuf};

/// Files under `dir`, sorted, so the digest does not depend on directory order.
fn files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, found);
        } else {
            found.push(path);
        }
    }
}

fn main() {
    let mut found = Vec::new();
    for dir in ["src", "configs"] {
        println!("cargo:rerun-if-changed={dir}");
        files(Path::new(dir), &mut found);
    }
    found.sort();
    // FNV-1a, 64 bits: stable across Rust versions, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in &found {
        let name = path.to_string_lossy().replace('\\', "/");
        for byte in name.bytes().chain(fs::read(path).unwrap_or_default()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=ROOFSIM_SOURCE_DIGEST={hash:016x}");
}
