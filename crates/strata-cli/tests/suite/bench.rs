//! `strata bench` end to end: a workload runs in a child process of the binary and its
//! figures come back in PyTorch's JSON line shape; unknown workloads are usage errors.

use crate::common;

use common::*;

#[test]
fn bench_json_lines_have_pytorchs_shape() {
    let o = strata(&["bench", "--workload", "W6", "--threads", "1", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<serde_json::Value> = o
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", o.stdout);
    for (line, workload) in lines.iter().zip(["W6-fwd", "W6-bwd"]) {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = ["fw", "repeats", "unit", "value", "workload"];
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(line["fw"], "strata");
        assert_eq!(line["workload"], workload);
        assert_eq!(line["unit"], "ns/op");
        assert_eq!(line["repeats"].as_array().unwrap().len(), 3);
        assert!(line["value"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn bench_refuses_an_unknown_workload() {
    let o = strata(&["bench", "--workload", "W1,W9"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("unknown workload `W9`"), "{}", o.stderr);
}

#[test]
fn bench_reports_missing_mnist_as_a_run_time_error() {
    let o = strata(&["bench", "--workload", "W1", "--data", "no/such/dir"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("W1"), "{}", o.stderr);
}
