//! `strata experiment`: the list, a quick run's files, and the usage errors. The
//! experiments' own claims are tested in strata-experiments.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_strata");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn strata(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_names_the_eleven_experiments() {
    let (code, stdout, _) = strata(&["experiment", "--list"]);
    assert_eq!(code, 0);
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names.len(), 11, "{stdout}");
    assert!(names.contains(&"vanishing-gradients") && names.contains(&"transfer"));
}

#[test]
fn a_quick_run_writes_its_files() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-initialisation");
    let _ = std::fs::remove_dir_all(&out);
    let (code, stdout, stderr) = strata(&[
        "experiment",
        "initialisation",
        "--quick",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("checks hold"), "{stdout}");
    for file in [
        "results.json",
        "summary.md",
        "report.html",
        "plots/tanh_activation_std.png",
    ] {
        assert!(out.join(file).is_file(), "no {file}");
    }
    let results = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert!(results.contains("\"seed\": 1"), "{results}");
}

#[test]
fn unknown_experiments_are_usage_errors() {
    let (code, _, stderr) = strata(&["experiment", "depht-vs-width"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown experiment `depht-vs-width`"),
        "{stderr}"
    );
}
