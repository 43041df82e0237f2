//! Anytime-valid statistics (docs/split-verification.md, "The decision rules"): the Dirichlet-mixture e-value of Lindon & Malek
//! for the whole split, and per-version confidence sequences from the Beta-binomial
//! mixture.
//!
//! Both are nonnegative martingales under their null hypothesis, so by Ville's
//! inequality `P(∃n: M_n ≥ 1/α) ≤ α`: they may be checked after every response and the
//! run may stop whenever they cross, which is exactly what a load generator does. A
//! fixed-n test checked the same way would raise false alarms many times more often.

use super::fixed::Interval;
use super::special::{ln_beta, ln_gamma};

/// Closed-form `ln M_n` of the Dirichlet(c·w) mixture (Lindon & Malek 2022):
///
/// `M_n = Γ(C)/Γ(C+n) · Π_k Γ(α_k + x_k)/Γ(α_k) / Π_k w_k^{x_k}`, `α_k = c w_k`, `C = Σ α_k`.
///
/// `weights` are normalised here. A category whose weight is 0 has probability 0 under
/// H0, so a single count there makes `M_n = +∞`. Returns NaN when the weights cannot
/// be normalised or `concentration` is not a positive finite number.
pub fn dirichlet_log_e_value(counts: &[u64], weights: &[f64], concentration: f64) -> f64 {
    let Some(weights) = normalise(weights) else {
        return f64::NAN;
    };
    if !(concentration.is_finite() && concentration > 0.0) {
        return f64::NAN;
    }
    let n: u64 = counts.iter().sum();
    let mut log_e = ln_gamma(concentration) - ln_gamma(concentration + n as f64);
    for (k, &x) in counts.iter().enumerate() {
        let w = weights.get(k).copied().unwrap_or(0.0);
        if w <= 0.0 {
            if x > 0 {
                return f64::INFINITY;
            }
            continue;
        }
        let alpha = concentration * w;
        let x = x as f64;
        log_e += ln_gamma(alpha + x) - ln_gamma(alpha) - x * w.ln();
    }
    log_e
}

/// Weights scaled to sum to 1, or `None` if any is negative or non-finite or all are 0.
fn normalise(weights: &[f64]) -> Option<Vec<f64>> {
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return None;
    }
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return None;
    }
    Some(weights.iter().map(|w| w / total).collect())
}

/// The Dirichlet-mixture e-value kept up to date one response at a time.
///
/// Each response multiplies `M_n` by the predictive probability of its category under
/// the mixture over its probability under H0:
/// `(α_k + x_k)/(C + n) / w_k`. That is the closed form above, telescoped, and costs
/// O(1) per response instead of O(K) log-gamma calls.
#[derive(Debug, Clone)]
pub struct DirichletMixture {
    weights: Vec<f64>,
    concentration: f64,
    counts: Vec<u64>,
    n: u64,
    log_e: f64,
    max_log_e: f64,
}

impl DirichletMixture {
    /// `weights` must be normalised and `concentration` positive (the engine validates
    /// both); categories past the end of `weights` have weight 0.
    pub fn new(weights: Vec<f64>, concentration: f64) -> Self {
        let counts = vec![0; weights.len()];
        Self {
            weights,
            concentration,
            counts,
            n: 0,
            log_e: 0.0,
            max_log_e: 0.0,
        }
    }

    /// Record one response of category `index`.
    pub fn observe(&mut self, index: usize) {
        let w = self.weights.get(index).copied().unwrap_or(0.0);
        if w > 0.0 {
            let x = self.counts.get(index).copied().unwrap_or(0) as f64;
            let predictive = (self.concentration * w + x) / (self.concentration + self.n as f64);
            self.log_e += predictive.ln() - w.ln();
        } else {
            // Probability 0 under H0: the likelihood ratio is infinite, for good.
            self.log_e = f64::INFINITY;
        }
        if let Some(count) = self.counts.get_mut(index) {
            *count += 1;
        }
        self.n += 1;
        self.max_log_e = self.max_log_e.max(self.log_e);
    }

    /// `ln M_n` now.
    pub fn log_e_value(&self) -> f64 {
        self.log_e
    }

    /// `max_{t≤n} ln M_t`, which gives the anytime p-value.
    pub fn max_log_e_value(&self) -> f64 {
        self.max_log_e
    }

    /// Anytime-valid p-value `min(1, min_{t≤n} 1/M_t)`.
    pub fn anytime_p_value(&self) -> f64 {
        (-self.max_log_e).exp().min(1.0)
    }
}

/// Smallest prior mean used for a confidence sequence; see [`BetaPrior::centred`].
pub const PRIOR_MEAN_FLOOR: f64 = 1e-6;

/// A Beta(a, b) mixing prior for one version's share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaPrior {
    pub a: f64,
    pub b: f64,
    ln_beta_ab: f64,
}

impl BetaPrior {
    /// Beta(c·μ, c·(1−μ)) centred at the expected weight μ.
    ///
    /// With the same c as the Dirichlet mixture, a two-version split's sequence for v1
    /// is the Dirichlet e-value itself (the Beta is the Dirichlet's two-category case).
    /// A weight of exactly 0 or 1 has no proper Beta prior, so the mean is kept within
    /// [1e-6, 1 − 1e-6]: for a 100 % version the prior then sits almost entirely at 1,
    /// where H0 puts the truth, and the sequence becomes `{p : p^n > α}` (the fastest
    /// possible PASS). Any fixed prior keeps the sequence valid; this one only decides
    /// where it is sharpest.
    pub fn centred(mean: f64, concentration: f64) -> Self {
        let mean = if mean.is_finite() { mean } else { 0.5 };
        let mean = mean.clamp(PRIOR_MEAN_FLOOR, 1.0 - PRIOR_MEAN_FLOOR);
        let c = if concentration.is_finite() && concentration > 0.0 {
            concentration
        } else {
            1.0
        };
        let (a, b) = (c * mean, c * (1.0 - mean));
        Self {
            a,
            b,
            ln_beta_ab: ln_beta(a, b),
        }
    }

    /// `ln` of the mixture's marginal likelihood of a sequence with x hits in n:
    /// `ln B(a + x, b + n − x) − ln B(a, b)`.
    pub fn ln_marginal(&self, x: u64, n: u64) -> f64 {
        let x = x.min(n);
        ln_beta(self.a + x as f64, self.b + (n - x) as f64) - self.ln_beta_ab
    }
}

/// `ln` of the binomial-sequence likelihood `p^x (1 − p)^{n−x}`, with `0·ln 0 = 0`.
fn ln_likelihood(x: u64, n: u64, p: f64) -> f64 {
    let x = x.min(n);
    let hits = if x == 0 { 0.0 } else { x as f64 * p.ln() };
    let misses = if n == x {
        0.0
    } else {
        (n - x) as f64 * (1.0 - p).ln()
    };
    hits + misses
}

/// Beta-binomial mixture `ln M_n(p)` for one version: `ln_marginal − ln L(p)`.
pub fn beta_binomial_log_e_value(x: u64, n: u64, p: f64, prior: &BetaPrior) -> f64 {
    prior.ln_marginal(x, n) - ln_likelihood(x, n, p)
}

/// Iterations for the bisection of a sequence's ends: 2^-60 is far below anything shown.
const BISECTION_STEPS: usize = 60;

/// The confidence sequence `CS_n = {p : M_n(p) < 1/α}` for one version after `x` of `n`.
///
/// `ln M_n(p) = ln_marginal − ln L(p)` and `ln L` is concave with its maximum at `p̂`,
/// where `M_n(p̂) ≤ 1` (the marginal is an average of L, the maximum is L(p̂)). So the
/// sequence is an interval around `p̂`: "is it inside a band" needs only the band's two
/// edges, and its ends are found by bisection on each side of `p̂`.
#[derive(Debug, Clone, Copy)]
pub struct ConfidenceSequence {
    x: u64,
    n: u64,
    ln_marginal: f64,
    ln_threshold: f64,
}

impl ConfidenceSequence {
    /// The sequence at level `alpha` (clamped into (0, 1) so a bad value cannot panic).
    pub fn new(x: u64, n: u64, prior: &BetaPrior, alpha: f64) -> Self {
        let alpha = if alpha.is_finite() {
            alpha.clamp(f64::MIN_POSITIVE, 1.0)
        } else {
            1.0
        };
        Self {
            x: x.min(n),
            n,
            ln_marginal: prior.ln_marginal(x, n),
            ln_threshold: -alpha.ln(),
        }
    }

    /// Point estimate `x / n` (0 before any response).
    pub fn share(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.x as f64 / self.n as f64
        }
    }

    /// Whether `p` is outside the sequence, i.e. `M_n(p) ≥ 1/α`.
    pub fn excludes(&self, p: f64) -> bool {
        if self.n == 0 || p.is_nan() {
            return false;
        }
        // The edges: p = 0 is impossible once a hit was seen, p = 1 once a miss was.
        if p <= 0.0 {
            return self.x > 0;
        }
        if p >= 1.0 {
            return self.x < self.n;
        }
        self.ln_marginal - ln_likelihood(self.x, self.n, p) >= self.ln_threshold
    }

    /// Whether the whole sequence lies inside `band` (false before any response).
    pub fn is_within(&self, band: &Interval) -> bool {
        if self.n == 0 || !band.contains(self.share()) {
            return false;
        }
        let lower_ok = band.lo <= 0.0 || self.excludes(band.lo);
        let upper_ok = band.hi >= 1.0 || self.excludes(band.hi);
        lower_ok && upper_ok
    }

    /// Whether the whole sequence lies outside `band` (on one side of it).
    pub fn is_outside(&self, band: &Interval) -> bool {
        if self.n == 0 {
            return false;
        }
        let p = self.share();
        (p > band.hi && band.hi < 1.0 && self.excludes(band.hi))
            || (p < band.lo && band.lo > 0.0 && self.excludes(band.lo))
    }

    /// The sequence's ends, found by bisection (an open interval reported as closed).
    pub fn interval(&self) -> Interval {
        if self.n == 0 {
            return Interval::UNIT;
        }
        let p = self.share();
        // Lower end: 0 is inside when no hit was seen; otherwise bisect (0, p̂).
        let lo = if self.excludes(0.0) {
            self.bisect(0.0, p)
        } else {
            0.0
        };
        let hi = if self.excludes(1.0) {
            self.bisect(1.0, p)
        } else {
            1.0
        };
        Interval { lo, hi }
    }

    /// Boundary between `outside` (excluded) and `inside` (included, the estimate).
    fn bisect(&self, mut outside: f64, mut inside: f64) -> f64 {
        for _ in 0..BISECTION_STEPS {
            let mid = 0.5 * (outside + inside);
            if self.excludes(mid) {
                outside = mid;
            } else {
                inside = mid;
            }
        }
        inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_e_value_equals_the_closed_form() {
        let weights = vec![0.7, 0.2, 0.1];
        let mut mixture = DirichletMixture::new(weights.clone(), 100.0);
        let mut counts = vec![0u64; 3];
        // A deterministic, unbalanced sequence.
        for i in 0..500usize {
            let k = [0, 1, 2, 1, 0][i % 5];
            mixture.observe(k);
            counts[k] += 1;
        }
        let closed = dirichlet_log_e_value(&counts, &weights, 100.0);
        assert!(
            (mixture.log_e_value() - closed).abs() < 1e-9,
            "{} vs {closed}",
            mixture.log_e_value()
        );
        assert!(mixture.max_log_e_value() >= mixture.log_e_value());
    }

    #[test]
    fn two_category_dirichlet_is_the_beta_binomial_mixture() {
        let prior = BetaPrior::centred(0.3, 84.0);
        let beta = beta_binomial_log_e_value(40, 100, 0.3, &prior);
        let dirichlet = dirichlet_log_e_value(&[40, 60], &[0.3, 0.7], 84.0);
        assert!((beta - dirichlet).abs() < 1e-10, "{beta} vs {dirichlet}");
    }

    #[test]
    fn zero_weight_observation_is_decisive() {
        assert_eq!(
            dirichlet_log_e_value(&[10, 0, 1], &[0.5, 0.5, 0.0], 50.0),
            f64::INFINITY
        );
        let mut mixture = DirichletMixture::new(vec![1.0], 19.0);
        for _ in 0..1000 {
            mixture.observe(0);
        }
        // A 100 % expectation gains no evidence from its own version: M stays 1.
        assert!(mixture.log_e_value().abs() < 1e-12);
        mixture.observe(1);
        assert_eq!(mixture.log_e_value(), f64::INFINITY);
        assert_eq!(mixture.anytime_p_value(), 0.0);
    }

    #[test]
    fn invalid_weights_give_nan_not_a_panic() {
        assert!(dirichlet_log_e_value(&[1, 2], &[0.0, 0.0], 10.0).is_nan());
        assert!(dirichlet_log_e_value(&[1, 2], &[-1.0, 2.0], 10.0).is_nan());
        assert!(dirichlet_log_e_value(&[1, 2], &[0.5, 0.5], f64::NAN).is_nan());
        // Unnormalised weights are scaled.
        let a = dirichlet_log_e_value(&[3, 7], &[30.0, 70.0], 84.0);
        let b = dirichlet_log_e_value(&[3, 7], &[0.3, 0.7], 84.0);
        assert!((a - b).abs() < 1e-12);
    }

    /// The method's figures for p̂ = 0.30, c = 84, α = 0.001.
    #[test]
    fn confidence_sequence_reproduces_the_spec_widths() {
        let prior = BetaPrior::centred(0.3, 84.0);
        for (n, lo, hi) in [
            (1_000u64, 0.244, 0.360),
            (2_000, 0.259, 0.343),
            (3_000, 0.266, 0.335),
        ] {
            let cs = ConfidenceSequence::new(n * 3 / 10, n, &prior, 0.001).interval();
            eprintln!(
                "confidence sequence at n = {n}: [{:.4}, {:.4}]",
                cs.lo, cs.hi
            );
            assert!((cs.lo - lo).abs() < 0.0015, "n = {n}: {cs:?}");
            assert!((cs.hi - hi).abs() < 0.0015, "n = {n}: {cs:?}");
        }
    }

    #[test]
    fn band_checks_agree_with_the_bisected_interval() {
        let prior = BetaPrior::centred(0.3, 84.0);
        let band = Interval { lo: 0.25, hi: 0.35 };
        for n in [100u64, 1_000, 1_500, 2_000, 3_000] {
            for x in [n / 5, n * 3 / 10, n * 2 / 5] {
                let cs = ConfidenceSequence::new(x, n, &prior, 0.001);
                let interval = cs.interval();
                assert_eq!(cs.is_within(&band), interval.is_within(&band), "{x}/{n}");
                let apart = interval.lo > band.hi || interval.hi < band.lo;
                assert_eq!(cs.is_outside(&band), apart, "{x}/{n}");
            }
        }
    }

    #[test]
    fn confidence_sequence_edges() {
        let prior = BetaPrior::centred(1.0, 19.0);
        let empty = ConfidenceSequence::new(0, 0, &prior, 0.001);
        assert_eq!(empty.interval(), Interval::UNIT);
        assert!(!empty.is_within(&Interval::UNIT));
        // All n responses are the 100 % version: the lower end is about α^{1/n}.
        let all = ConfidenceSequence::new(200, 200, &prior, 0.001).interval();
        assert_eq!(all.hi, 1.0);
        let expected = 0.001f64.powf(1.0 / 200.0);
        assert!((all.lo - expected).abs() < 1e-3, "{all:?} vs {expected}");
        let none = ConfidenceSequence::new(0, 200, &BetaPrior::centred(0.0, 19.0), 0.001);
        assert_eq!(none.interval().lo, 0.0);
        // NaN level and prior do not panic.
        let odd = ConfidenceSequence::new(5, 10, &BetaPrior::centred(f64::NAN, -1.0), f64::NAN);
        let _ = odd.interval();
    }
}
