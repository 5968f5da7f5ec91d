//! The figures' lines: PyTorch's shape exactly, read back without loss, workload names.

use strata_bench::{median, Measurement, Workload};

#[test]
fn pytorch_lines_read_back_and_print_identically() {
    // Lines as `bench/pytorch_bench.py --json` prints them (json.dumps, round(v, 2)).
    for line in [
        r#"{"fw": "pytorch", "workload": "W1", "value": 23825.12, "unit": "samples/s", "repeats": [23011.5, 23825.12, 24100.0], "cpu_util": 1.98}"#,
        r#"{"fw": "pytorch", "workload": "W5", "value": 69.8, "unit": "us/call", "cpu_util": 1.0, "p10": 66.51, "p90": 72.0}"#,
        r#"{"fw": "pytorch", "workload": "W1-mem", "value": 412.5, "unit": "MiB"}"#,
    ] {
        let m = Measurement::from_json(line).unwrap();
        assert_eq!(m.to_json("pytorch"), line);
    }
}

#[test]
fn strata_line_has_pytorchs_keys_in_order_and_rounds_to_two_decimals() {
    let m = Measurement::median_of("W6-fwd", vec![702.449, 665.531, 1030.0], "ns/op")
        .with_cpu_util(1.004);
    assert_eq!(
        m.to_json("strata"),
        r#"{"fw": "strata", "workload": "W6-fwd", "value": 702.45, "unit": "ns/op", "repeats": [702.45, 665.53, 1030.0], "cpu_util": 1.0}"#
    );
    assert_eq!(
        m.to_text("strata"),
        "strata   W6-fwd                      702.4 ns/op  repeats 702.4, 665.5, 1030.0  cpu 1.00"
    );
}

#[test]
fn not_a_measurement_is_none() {
    for line in ["", "hello", "[1, 2]", r#"{"fw": "strata", "value": 1.0}"#] {
        assert_eq!(Measurement::from_json(line), None, "{line}");
    }
}

#[test]
fn median_of_odd_and_even_counts() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    assert_eq!(median(&[]), 0.0);
}

#[test]
fn workload_names_parse_back() {
    for w in Workload::ALL {
        assert_eq!(w.name().parse::<Workload>().unwrap(), w);
    }
    assert_eq!(" w1-B16".parse::<Workload>().unwrap(), Workload::W1B16);
    let err = "W7".parse::<Workload>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown workload `W7` (known: W1, W1-b16, W2, W3, W4, W5, W6)"
    );
    let training: Vec<&str> = Workload::ALL
        .into_iter()
        .filter(|w| w.is_training())
        .map(Workload::name)
        .collect();
    assert_eq!(training, ["W1", "W1-b16", "W2", "W3"]);
}
