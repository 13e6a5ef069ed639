//! Percentiles and the report lines.

use std::time::Duration;

/// Latencies of one run, sorted.
#[derive(Debug, Clone)]
pub(crate) struct Latencies(Vec<Duration>);

impl Latencies {
    /// Sorts `samples`.
    pub(crate) fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    /// The nearest-rank percentile `p` (0 < p <= 100); zero when empty.
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    /// The largest sample.
    pub(crate) fn max(&self) -> Duration {
        self.0.last().copied().unwrap_or_default()
    }

    /// How many samples.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// `count`, or a tenth of it when `SEAM_BENCH_QUICK` is set (a smoke run whose
/// figures mean little).
pub(crate) fn scaled(count: usize) -> usize {
    if std::env::var_os("SEAM_BENCH_QUICK").is_some() {
        (count / 10).max(1)
    } else {
        count
    }
}

/// `12.3 ms`.
pub(crate) fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// Per second, over `elapsed`.
pub(crate) fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
}

/// Whether a benchmark met its target, for the summary.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    /// Which benchmark.
    pub(crate) name: &'static str,
    /// The figure and its target, in words.
    pub(crate) figure: String,
    /// Whether the target was met.
    pub(crate) met: bool,
}

/// `met` / `MISSED`.
pub(crate) fn mark(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(samples.percentile(50.0), Duration::from_millis(50));
        assert_eq!(samples.percentile(99.0), Duration::from_millis(99));
        assert_eq!(samples.percentile(100.0), Duration::from_millis(100));
        assert_eq!(samples.max(), Duration::from_millis(100));
        assert_eq!(Latencies::new(Vec::new()).percentile(99.0), Duration::ZERO);
    }
}
