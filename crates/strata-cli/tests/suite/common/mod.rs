//! Helpers shared by the CLI's test files: run the binary, temporary folders, config
//! variants.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_strata");
pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn strata(args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap();
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!o.stderr.contains("panicked"), "panic: {}", o.stderr);
    o
}

pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-cli-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A config file with `from` replaced by `to` in the shipped one.
pub fn variant(dir: &Path, config: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(Path::new(ROOT).join(config)).unwrap();
    assert!(text.contains(from), "{from} not in {config}");
    let path = dir.join("variant.toml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path.display().to_string()
}

pub fn run_dir(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("run: "))
        .expect("a run: line");
    Path::new(ROOT).join(line)
}
