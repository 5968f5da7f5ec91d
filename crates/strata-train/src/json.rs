//! Exact f64 values in JSON state: finite numbers as numbers (serde_json's
//! `float_roundtrip` reads them back bit for bit), the rest as strings.

use serde_json::Value;

/// `value` as JSON, non-finite values as `"inf"`, `"-inf"` or `"nan"`.
pub(crate) fn json_f64(value: f64) -> Value {
    if value.is_finite() {
        Value::from(value)
    } else if value.is_nan() {
        Value::from("nan")
    } else if value > 0.0 {
        Value::from("inf")
    } else {
        Value::from("-inf")
    }
}

/// The inverse of [`json_f64`].
pub(crate) fn f64_from_json(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "nan" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_bit_for_bit() {
        for v in [
            0.1,
            1.0 / 3.0,
            -2.5e-300,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let text = serde_json::to_string(&json_f64(v)).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(f64_from_json(&back).unwrap().to_bits(), v.to_bits(), "{v}");
        }
        assert!(f64_from_json(&json_f64(f64::NAN)).unwrap().is_nan());
        assert_eq!(f64_from_json(&Value::Null), None);
    }
}
