//! Sample sets and their summaries.

use serde::Serialize;
use std::time::Duration;

/// Summary of a sample set: min, median, p99, max, mean, in `unit`.
#[derive(Debug, Clone, Serialize)]
pub struct Stat {
    /// How many samples.
    pub n: usize,
    /// Smallest sample.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Unit of every figure (`us`, `ms`, `MB/s`, ...).
    pub unit: &'static str,
}

impl Stat {
    /// Summarises `v` (any order). An empty set gives NaNs.
    pub fn of(mut v: Vec<f64>, unit: &'static str) -> Stat {
        v.retain(|x| x.is_finite());
        v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        let n = v.len();
        let rank = |q: f64| -> f64 {
            if n == 0 {
                return f64::NAN;
            }
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            v[i]
        };
        Stat {
            n,
            min: v.first().copied().unwrap_or(f64::NAN),
            median: rank(0.5),
            p99: rank(0.99),
            max: v.last().copied().unwrap_or(f64::NAN),
            mean: if n == 0 {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / n as f64
            },
            unit,
        }
    }

    /// Summarises durations in microseconds.
    pub fn micros(v: &[Duration]) -> Stat {
        Stat::of(v.iter().map(|d| d.as_secs_f64() * 1e6).collect(), "us")
    }

    /// Summarises durations in milliseconds.
    pub fn millis(v: &[Duration]) -> Stat {
        Stat::of(v.iter().map(|d| d.as_secs_f64() * 1e3).collect(), "ms")
    }

    /// `min / median / p99` with the unit, for tables.
    pub fn cell(&self) -> String {
        format!(
            "{} / {} / {} {}",
            fmt(self.min),
            fmt(self.median),
            fmt(self.p99),
            self.unit
        )
    }
}

/// A number with 3 significant-ish digits.
pub fn fmt(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// `a / b` formatted as a ratio (`1.23x`), or `n/a`.
pub fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b != 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "n/a".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let s = Stat::of((1..=100).map(f64::from).collect(), "us");
        assert_eq!(s.n, 100);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.median, 50.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(s.max, 100.0);
        assert_eq!(s.mean, 50.5);
    }

    #[test]
    fn empty_and_non_finite_samples() {
        let s = Stat::of(vec![f64::NAN], "ms");
        assert_eq!(s.n, 0);
        assert!(s.median.is_nan());
        assert_eq!(fmt(s.p99), "n/a");
        assert_eq!(ratio(1.0, 0.0), "n/a");
        assert_eq!(ratio(3.0, 2.0), "1.50x");
    }
}
