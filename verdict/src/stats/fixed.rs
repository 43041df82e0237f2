//! Fixed-sample statistics (docs/split-verification.md): the Wilson interval, the Pearson X² and
//! G goodness-of-fit tests, the worst-case share bounds with unclassified responses, and
//! the over-dispersion index over batches.
//!
//! These are *reports*, not decision rules: they are valid for one look at a fixed n,
//! and re-running them after every response inflates the false-alarm rate.
//! The verdict engine decides with the anytime-valid statistics in
//! [`super::sequential`] and shows these alongside.

use serde::Serialize;

use super::special::chi_square_sf;

/// A closed interval `[lo, hi]` on the share scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// The uninformative interval, used before any response has arrived.
    pub const UNIT: Interval = Interval { lo: 0.0, hi: 1.0 };

    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// Whether `self` lies inside `outer` (closed on both sides).
    pub fn is_within(&self, outer: &Interval) -> bool {
        outer.lo <= self.lo && self.hi <= outer.hi
    }
}

/// Wilson score interval for `x` successes out of `n` at normal quantile `z`.
///
/// Chosen over the Wald interval because it keeps its coverage near 0 and 1 (small
/// canaries) and never leaves [0, 1]. With `n = 0` there is no information: [0, 1].
pub fn wilson_interval(x: u64, n: u64, z: f64) -> Interval {
    if n == 0 || !z.is_finite() {
        return Interval::UNIT;
    }
    let n_f = n as f64;
    let p = (x.min(n) as f64) / n_f;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n_f);
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    let denominator = 1.0 + z2 / n_f;
    Interval {
        lo: ((centre - half) / denominator).clamp(0.0, 1.0),
        hi: ((centre + half) / denominator).clamp(0.0, 1.0),
    }
}

/// Result of a goodness-of-fit test referred to χ² with `df` degrees of freedom.
///
/// `statistic` is `+∞` (serialised as `null` by serde_json) when a category with expected
/// weight 0 was observed; the p-value is then 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GofTest {
    pub statistic: f64,
    pub df: u32,
    pub p_value: f64,
}

impl GofTest {
    /// Without observations there is no evidence against H0.
    fn nothing_observed(df: u32) -> Self {
        Self {
            statistic: 0.0,
            df,
            p_value: 1.0,
        }
    }
}

/// Degrees of freedom: categories that can receive traffic under H0, minus one.
fn degrees_of_freedom(weights: &[f64]) -> u32 {
    let positive = weights.iter().filter(|w| **w > 0.0).count();
    u32::try_from(positive.saturating_sub(1)).unwrap_or(u32::MAX)
}

/// Pearson `X² = Σ (x_k − n w_k)² / (n w_k)` with `K − 1` degrees of freedom.
///
/// `counts` and `weights` are aligned; `weights` must already be normalised (the engine
/// passes 0 for versions outside the expectation). Missing weights count as 0.
pub fn pearson_test(counts: &[u64], weights: &[f64]) -> GofTest {
    let n: u64 = counts.iter().sum();
    let df = degrees_of_freedom(weights);
    if n == 0 {
        return GofTest::nothing_observed(df);
    }
    let n_f = n as f64;
    let mut statistic = 0.0;
    for (k, &x) in counts.iter().enumerate() {
        let expected = n_f * weights.get(k).copied().unwrap_or(0.0);
        if expected > 0.0 {
            let d = x as f64 - expected;
            statistic += d * d / expected;
        } else if x > 0 {
            statistic = f64::INFINITY;
        }
    }
    GofTest {
        statistic,
        df,
        p_value: chi_square_sf(statistic, f64::from(df)),
    }
}

/// G-test `G = 2 Σ x_k ln(x_k / (n w_k))` with `K − 1` degrees of freedom.
///
/// The likelihood-ratio twin of [`pearson_test`]; empty categories contribute 0.
pub fn g_test(counts: &[u64], weights: &[f64]) -> GofTest {
    let n: u64 = counts.iter().sum();
    let df = degrees_of_freedom(weights);
    if n == 0 {
        return GofTest::nothing_observed(df);
    }
    let n_f = n as f64;
    let mut sum = 0.0;
    for (k, &x) in counts.iter().enumerate() {
        if x == 0 {
            continue;
        }
        let expected = n_f * weights.get(k).copied().unwrap_or(0.0);
        if expected > 0.0 {
            sum += x as f64 * (x as f64 / expected).ln();
        } else {
            sum = f64::INFINITY;
        }
    }
    // Rounding can leave a tiny negative value when x matches the expectation exactly.
    let statistic = (2.0 * sum).max(0.0);
    GofTest {
        statistic,
        df,
        p_value: chi_square_sf(statistic, f64::from(df)),
    }
}

/// Worst-case share of a version when the `u` unclassified responses are all attributed
/// against it or all to it: `[x/(n+u), (x+u)/(n+u)]`.
pub fn worst_case_share(x: u64, n: u64, u: u64) -> Interval {
    let total = n.saturating_add(u);
    if total == 0 {
        return Interval::UNIT;
    }
    let total_f = total as f64;
    Interval {
        lo: (x as f64 / total_f).clamp(0.0, 1.0),
        hi: ((x.saturating_add(u)) as f64 / total_f).clamp(0.0, 1.0),
    }
}

/// Over-dispersion test result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DispersionTest {
    /// Responses per batch.
    pub batch_size: u64,
    /// Completed batches (a partial last batch is left out so all batches weigh the same).
    pub batches: u64,
    /// `D = Σ_b Σ_k (x_bk − m p̂_k)² / (m p̂_k)`.
    pub statistic: f64,
    /// `(B − 1)(K' − 1)` with K' the categories seen in complete batches.
    pub df: u64,
    pub p_value: f64,
}

/// Streaming over-dispersion index over batches of `m` consecutive classified responses.
///
/// For two categories `D` is `Σ_b (x_b − m p̂)² / (m p̂ q̂)`; for K categories
/// it is the chi-square homogeneity statistic of the B×K batch table, `χ²_{(B−1)(K−1)}`
/// under iid draws. Requests routed in blocks (connection pinning, sticky sessions)
/// inflate it. Using `Σ_b x_bk = N p̂_k` the statistic reduces to
/// `D = Σ_k B · S_k / N_k − N` with `S_k = Σ_b x_bk²`, so only O(K) numbers are kept,
/// whatever the run length.
#[derive(Debug, Clone)]
pub struct Dispersion {
    batch_size: u64,
    batches: u64,
    filled: u64,
    /// Per category: count in the current batch, total in complete batches, Σ x_bk².
    current: Vec<u64>,
    totals: Vec<u64>,
    squares: Vec<f64>,
}

impl Dispersion {
    /// `batch_size` below 2 is raised to 2 (a batch of one carries no dispersion).
    pub fn new(batch_size: u64) -> Self {
        Self {
            batch_size: batch_size.max(2),
            batches: 0,
            filled: 0,
            current: Vec::new(),
            totals: Vec::new(),
            squares: Vec::new(),
        }
    }

    /// Record one classified response of category `index`; categories may appear late.
    pub fn push(&mut self, index: usize) {
        if index >= self.current.len() {
            self.current.resize(index + 1, 0);
            self.totals.resize(index + 1, 0);
            self.squares.resize(index + 1, 0.0);
        }
        self.current[index] += 1;
        self.filled += 1;
        if self.filled == self.batch_size {
            for k in 0..self.current.len() {
                let x = self.current[k];
                self.totals[k] += x;
                self.squares[k] += (x as f64) * (x as f64);
                self.current[k] = 0;
            }
            self.filled = 0;
            self.batches += 1;
        }
    }

    pub fn test(&self) -> DispersionTest {
        let seen = self.totals.iter().filter(|t| **t > 0).count() as u64;
        let df = self.batches.saturating_sub(1) * seen.saturating_sub(1);
        let mut result = DispersionTest {
            batch_size: self.batch_size,
            batches: self.batches,
            statistic: 0.0,
            df,
            p_value: 1.0,
        };
        if df == 0 {
            return result;
        }
        let n = (self.batches * self.batch_size) as f64;
        let b = self.batches as f64;
        let sum: f64 = self
            .totals
            .iter()
            .zip(&self.squares)
            .filter(|(t, _)| **t > 0)
            .map(|(t, s)| b * s / *t as f64)
            .sum();
        result.statistic = (sum - n).max(0.0);
        result.p_value = chi_square_sf(result.statistic, df as f64);
        result
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_reference_values() {
        // x = 30, n = 100, z = 1.96, values from the closed form evaluated independently.
        let i = wilson_interval(30, 100, 1.96);
        assert!((i.lo - 0.218_947_538_662_281).abs() < 1e-12, "{i:?}");
        assert!((i.hi - 0.395_850_384_328_119_6).abs() < 1e-12, "{i:?}");
        let empty = wilson_interval(0, 0, 1.96);
        assert_eq!(empty, Interval::UNIT);
        let zero = wilson_interval(0, 50, 3.29);
        assert_eq!(zero.lo, 0.0);
        assert!(zero.hi > 0.0 && zero.hi < 0.25);
    }

    #[test]
    fn pearson_and_g_match_hand_computed_values() {
        // 40/60 observed against 30/70 at n = 100: X² = 100/30 + 100/70 = 4.7619.
        let p = pearson_test(&[40, 60], &[0.3, 0.7]);
        assert!((p.statistic - 4.761_904_761_904_762).abs() < 1e-12);
        assert_eq!(p.df, 1);
        assert!(
            (p.p_value - 0.029_096_331_741_252_21).abs() < 1e-12,
            "{p:?}"
        );
        // G = 2 (40 ln(40/30) + 60 ln(60/70)) = 4.5162.
        let g = g_test(&[40, 60], &[0.3, 0.7]);
        let expected = 2.0 * (40.0 * (40.0f64 / 30.0).ln() + 60.0 * (60.0f64 / 70.0).ln());
        assert!((g.statistic - expected).abs() < 1e-12);
        assert!(g.p_value > 0.03 && g.p_value < 0.04, "{g:?}");
    }

    #[test]
    fn goodness_of_fit_handles_edges() {
        let none = pearson_test(&[0, 0], &[0.3, 0.7]);
        assert_eq!((none.statistic, none.p_value), (0.0, 1.0));
        // A version with weight 0 that shows up is an infinite discrepancy.
        let stray = pearson_test(&[30, 69, 1], &[0.3, 0.7, 0.0]);
        assert!(stray.statistic.is_infinite());
        assert_eq!(stray.p_value, 0.0);
        assert_eq!(stray.df, 1);
        let g = g_test(&[30, 69, 1], &[0.3, 0.7, 0.0]);
        assert_eq!(g.p_value, 0.0);
        // A single 100 % version has nothing to test: df 0, p 1.
        let single = pearson_test(&[50], &[1.0]);
        assert_eq!((single.df, single.p_value), (0, 1.0));
        let exact = g_test(&[30, 70], &[0.3, 0.7]);
        assert_eq!(exact.statistic, 0.0);
    }

    #[test]
    fn worst_case_share_brackets_the_version() {
        let w = worst_case_share(300, 990, 10);
        assert_eq!(w, Interval { lo: 0.3, hi: 0.31 });
        assert_eq!(worst_case_share(0, 0, 0), Interval::UNIT);
    }

    #[test]
    fn dispersion_matches_the_direct_formula() {
        // Batches of 4 for two categories: x_b = 1, 3, 0, 4 hits of category 0.
        let batches = [1u64, 3, 0, 4];
        let mut d = Dispersion::new(4);
        for &x in &batches {
            for i in 0..4 {
                d.push(usize::from(i >= x));
            }
        }
        let p = 8.0 / 16.0;
        let direct: f64 = batches
            .iter()
            .map(|&x| (x as f64 - 4.0 * p).powi(2) / (4.0 * p * (1.0 - p)))
            .sum();
        let t = d.test();
        assert_eq!((t.batches, t.df), (4, 3));
        assert!((t.statistic - direct).abs() < 1e-12, "{t:?} vs {direct}");
        // One category only: nothing to disperse.
        let mut single = Dispersion::new(2);
        for _ in 0..10 {
            single.push(0);
        }
        assert_eq!(single.test().p_value, 1.0);
    }
}
