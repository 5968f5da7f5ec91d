//! Numbers, durations and JSON values as the report's text.

use serde_json::Value;

/// A JSON value as text: strings bare, `null` as a dash, the rest as compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".to_string(),
        Value::Number(n) => n
            .as_f64()
            .filter(|_| !n.is_u64() && !n.is_i64())
            .map_or(n.to_string(), num),
        other => other.to_string(),
    }
}

/// A number in at most 4 significant digits (scientific outside 0.001..100000); NaN and
/// infinities as a dash.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let a = v.abs();
    if v == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.3e}")
    } else {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `3725.4` seconds as `1 h 02 min 05 s`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".to_string();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let s = seconds.round() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else {
        format!("{m} min {s:02} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(num(0.625), "0.625");
        assert_eq!(num(2.0 / 3.0), "0.6667");
        assert_eq!(num(1234.5678), "1235");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(1.5e-5), "1.500e-5");
        assert_eq!(num(f64::NAN), "–");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(duration(3725.4), "1 h 02 min 05 s");
        assert_eq!(duration(65.0), "1 min 05 s");
        assert_eq!(duration(4.26), "4.3 s");
    }
}
