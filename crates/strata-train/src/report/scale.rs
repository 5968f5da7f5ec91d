//! Axis scales of the report's charts: "nice" tick values (1, 2, 2.5 or 5 times a power of
//! ten) for linear axes, powers of ten for log axes, and the mapping from data values to
//! pixels.

/// A linear or logarithmic axis over `[lo, hi]` drawn from pixel `px0` to `px1` (`px1` may
/// be smaller than `px0`, as for a y axis that grows upwards).
#[derive(Clone, Debug, PartialEq)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub px0: f64,
    pub px1: f64,
}

impl Scale {
    /// The pixel position of `v`, or `None` for values the axis cannot show (non-finite
    /// values, and values `<= 0` on a log axis).
    pub fn map(&self, v: f64) -> Option<f64> {
        if !v.is_finite() || (self.log && v <= 0.0) {
            return None;
        }
        let (v, lo, hi) = if self.log {
            (v.log10(), self.lo.log10(), self.hi.log10())
        } else {
            (v, self.lo, self.hi)
        };
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        Some(self.px0 + t * (self.px1 - self.px0))
    }
}

/// The ticks of an axis and the domain they span, which covers the data.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticks {
    pub lo: f64,
    pub hi: f64,
    pub values: Vec<f64>,
    /// The distance between linear ticks (0 for log ticks), which sets the label precision.
    pub step: f64,
}

/// Ticks for a linear axis showing `[min, max]`: about `target` of them, spaced by a
/// nice step, with the domain widened to the first and last tick. With `integer`, the
/// step is at least 1 (epochs and steps have no fractions).
///
/// ```
/// use strata_train::report::scale::nice_ticks;
/// let t = nice_ticks(0.0, 1.0, 5, false);
/// assert_eq!(t.values, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
/// ```
pub fn nice_ticks(min: f64, max: f64, target: usize, integer: bool) -> Ticks {
    let (mut min, mut max) = (min, max);
    if !min.is_finite() || !max.is_finite() || min > max {
        (min, max) = (0.0, 1.0);
    }
    if min == max {
        let pad = if integer || min == 0.0 {
            1.0
        } else {
            min.abs() * 0.1
        };
        (min, max) = (min - pad, max + pad);
    }
    let range = nice(max - min, false);
    let mut step = nice(range / (target.max(2) - 1) as f64, true);
    if integer {
        step = step.max(1.0).round();
    }
    let lo = (min / step).floor() * step;
    let hi = (max / step).ceil() * step;
    let count = ((hi - lo) / step).round() as usize;
    // Multiplying (rather than adding steps) keeps rounding errors from accumulating;
    // rounding to the step's precision removes what is left (0.30000000000000004).
    let decimals = decimals_of(step);
    let values = (0..=count)
        .map(|i| round_to(lo + i as f64 * step, decimals))
        .collect();
    Ticks {
        lo: round_to(lo, decimals),
        hi: round_to(hi, decimals),
        values,
        step,
    }
}

/// Ticks for a log axis showing `[min, max]` (both `> 0`): the powers of ten around them,
/// every second or third one when they span many decades, with 2× and 5× ticks between
/// them when they span at most two.
///
/// ```
/// use strata_train::report::scale::log_ticks;
/// let t = log_ticks(2e-4, 0.05);
/// assert_eq!(t.values, vec![1e-4, 1e-3, 1e-2, 1e-1]);
/// assert_eq!((t.lo, t.hi), (1e-4, 1e-1));
/// ```
pub fn log_ticks(min: f64, max: f64) -> Ticks {
    let (mut min, mut max) = (min, max);
    if !(min > 0.0 && max.is_finite() && min <= max) {
        (min, max) = (0.1, 1.0);
    }
    // The nudges keep exact powers (log10(1e-3) may be -2.9999999999999996) on their decade.
    let mut e0 = (min.log10() + 1e-9).floor() as i32;
    let mut e1 = (max.log10() - 1e-9).ceil() as i32;
    if e0 == e1 {
        e0 -= 1;
        e1 += 1;
    }
    let every = ((e1 - e0) as usize).div_ceil(8).max(1) as i32;
    let mut values: Vec<f64> = Vec::new();
    for e in (e0..=e1).filter(|e| (e - e0) % every == 0) {
        values.push(pow10(e));
        // Over one or two decades, 2 and 5 times each power too: few labels otherwise.
        if e1 - e0 <= 2 && e < e1 {
            values.extend([2.0, 5.0].map(|m| m * pow10(e)));
        }
    }
    Ticks {
        lo: pow10(e0),
        hi: pow10(e1),
        values,
        step: 0.0,
    }
}

/// The label of a tick: plain decimals at the step's precision, or `1e-5` style for
/// steps of 10000 or more or under 0.0001 (and for log ticks, `step == 0`, outside
/// 0.001..=10000).
///
/// ```
/// use strata_train::report::scale::tick_label;
/// assert_eq!(tick_label(0.25, 0.05), "0.25");
/// assert_eq!(tick_label(3.0, 1.0), "3");
/// assert_eq!(tick_label(1e-5, 0.0), "1e-5");
/// assert_eq!(tick_label(0.01, 0.0), "0.01");
/// ```
pub fn tick_label(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    let scientific = if step == 0.0 {
        !(1e-3..=1e4).contains(&a)
    } else {
        // Decided by the step, so that all labels of an axis share one style.
        a >= 1e6 || !(1e-4..1e4).contains(&step)
    };
    if scientific {
        let e = (a.log10() + 1e-9).floor() as i32;
        let m = v / 10f64.powi(e);
        let m = round_to(m, 2);
        if m == m.trunc() {
            format!("{}e{}", m as i64, e)
        } else {
            format!("{m}e{e}")
        }
    } else if step == 0.0 {
        let d = decimals_of(a);
        format!("{:.*}", d, v)
    } else {
        format!("{:.*}", decimals_of(step), v)
    }
}

/// `x` rounded to a nice number: 1, 2, 5 or 10 (2.5 when `round`, rounding to nearest)
/// times a power of ten.
fn nice(x: f64, round: bool) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let e = x.log10().floor();
    let f = x / 10f64.powf(e);
    let nf = if round {
        match f {
            f if f < 1.5 => 1.0,
            f if f < 2.25 => 2.0,
            f if f < 3.5 => 2.5,
            f if f < 7.5 => 5.0,
            _ => 10.0,
        }
    } else {
        match f {
            f if f <= 1.0 => 1.0,
            f if f <= 2.0 => 2.0,
            f if f <= 5.0 => 5.0,
            _ => 10.0,
        }
    };
    nf * 10f64.powf(e)
}

/// How many decimals show a multiple of `step` exactly (0.25 → 2, 5 → 0).
fn decimals_of(step: f64) -> usize {
    let mut d = 0;
    while d < 12 && (step * 10f64.powi(d as i32)).fract().abs() > 1e-6 {
        d += 1;
    }
    d
}

fn round_to(v: f64, decimals: usize) -> f64 {
    let p = 10f64.powi(decimals as i32);
    (v * p).round() / p
}

fn pow10(e: i32) -> f64 {
    // Parsing gives the exact nearest double (10f64.powi(-3) is 0.0010000000000000002).
    format!("1e{e}").parse().unwrap_or(10f64.powi(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_nice_and_cover_the_data() {
        let t = nice_ticks(0.37, 2.91, 5, false);
        assert_eq!(t.values, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!((t.lo, t.hi, t.step), (0.0, 3.0, 1.0));
        let t = nice_ticks(0.3, 0.95, 5, false);
        assert_eq!(t.values, vec![0.25, 0.5, 0.75, 1.0]);
        let t = nice_ticks(0.0013, 0.0071, 5, false);
        assert_eq!(t.values, vec![0.0, 0.0025, 0.005, 0.0075]);
        assert_eq!(tick_label(t.values[1], t.step), "0.0025");
        let t = nice_ticks(-12.0, 130.0, 5, false);
        assert_eq!(t.values, vec![-50.0, 0.0, 50.0, 100.0, 150.0]);
        // 2.5 steps keep their decimals.
        let t = nice_ticks(0.0, 10.0, 5, false);
        assert_eq!(t.values, vec![0.0, 2.5, 5.0, 7.5, 10.0]);
        assert_eq!(tick_label(t.values[1], t.step), "2.5");
        assert_eq!(tick_label(t.values[2], t.step), "5.0");
    }

    #[test]
    fn integer_ticks_never_have_fractions() {
        let t = nice_ticks(1.0, 2.0, 5, true);
        assert_eq!(t.values, vec![1.0, 2.0]);
        let t = nice_ticks(1.0, 5.0, 5, true);
        assert_eq!(t.values, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        // A single epoch gets a visible range around it.
        let t = nice_ticks(1.0, 1.0, 5, true);
        assert_eq!(t.values, vec![0.0, 1.0, 2.0]);
        let t = nice_ticks(0.0, 1000.0, 6, true);
        assert_eq!(t.values, vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
    }

    #[test]
    fn degenerate_ranges_still_give_an_axis() {
        let t = nice_ticks(0.5, 0.5, 5, false);
        assert!(t.lo < 0.5 && t.hi > 0.5, "{t:?}");
        let t = nice_ticks(f64::NAN, 1.0, 5, false);
        assert_eq!((t.lo, t.hi), (0.0, 1.0));
        let t = log_ticks(0.0, 1.0);
        assert_eq!((t.lo, t.hi), (0.1, 1.0));
        let t = log_ticks(1e-3, 1e-3);
        assert_eq!(t.values, vec![1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2]);
    }

    #[test]
    fn log_ticks_thin_out_over_many_decades() {
        let t = log_ticks(3e-9, 40.0);
        assert_eq!((t.lo, t.hi), (1e-9, 100.0));
        // 11 decades: every second power.
        assert_eq!(t.values, vec![1e-9, 1e-7, 1e-5, 1e-3, 1e-1, 10.0]);
        // One decade: 1, 2, 5 steps.
        assert_eq!(log_ticks(0.3, 0.9).values, vec![0.1, 0.2, 0.5, 1.0]);
    }

    #[test]
    fn log_mapping_is_linear_in_the_exponent() {
        let s = Scale {
            lo: 1e-5,
            hi: 1e-1,
            log: true,
            px0: 200.0,
            px1: 0.0,
        };
        assert_eq!(s.map(1e-5), Some(200.0));
        assert_eq!(s.map(1e-1), Some(0.0));
        // 1e-3 is half way in decades; 1e-4 a quarter.
        assert!((s.map(1e-3).unwrap() - 100.0).abs() < 1e-9);
        assert!((s.map(1e-4).unwrap() - 150.0).abs() < 1e-9);
        assert_eq!(s.map(0.0), None);
        assert_eq!(s.map(-1.0), None);
        assert_eq!(s.map(f64::NAN), None);
        let lin = Scale {
            log: false,
            lo: -1.0,
            hi: 3.0,
            px0: 0.0,
            px1: 400.0,
        };
        assert_eq!(lin.map(0.0), Some(100.0));
        assert_eq!(lin.map(f64::INFINITY), None);
    }

    #[test]
    fn labels() {
        assert_eq!(tick_label(1e-3, 0.0), "0.001");
        assert_eq!(tick_label(100.0, 0.0), "100");
        assert_eq!(tick_label(1e5, 0.0), "1e5");
        assert_eq!(tick_label(2e5, 1e5), "2e5");
        assert_eq!(tick_label(40000.0, 20000.0), "4e4");
        assert_eq!(tick_label(1.25e5, 2.5e4), "1.25e5");
        assert_eq!(tick_label(95000.0, 5000.0), "95000");
        assert_eq!(tick_label(-0.00025, 0.00005), "-2.5e-4");
        assert_eq!(tick_label(0.6, 0.2), "0.6");
    }
}
