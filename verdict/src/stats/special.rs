//! Special functions the split statistics need: ln Γ, the regularised incomplete
//! gamma function, the standard normal CDF and quantile, and the chi-square survival
//! function.
//!
//! They are written out here, each checked against published values in the tests.
//! `statrs` with its default features off would serve as well (without linear algebra
//! or random numbers); these few functions did not seem worth a dependency.

use std::f64::consts::PI;

/// Lanczos coefficients for g = 7, n = 9: about 15 significant digits for x > 0.
const LANCZOS_G: f64 = 7.0;
const LANCZOS_COEFFICIENTS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// `ln |Γ(x)|`.
///
/// Lanczos approximation, with the reflection formula below 0.5 so that the tiny prior
/// parameters of a near-degenerate Beta prior stay accurate. Returns `+∞` at the poles
/// (0, −1, −2, …) and NaN for NaN.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    if x <= 0.0 && x.fract() == 0.0 {
        // Poles at 0, −1, −2, … (sin(πx) is not exactly 0 there in floating point).
        return f64::INFINITY;
    }
    if x < 0.5 {
        // Γ(x) Γ(1−x) = π / sin(πx).
        let s = (PI * x).sin().abs();
        return (PI / s).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut series = LANCZOS_COEFFICIENTS[0];
    for (i, &c) in LANCZOS_COEFFICIENTS.iter().enumerate().skip(1) {
        series += c / (x + i as f64);
    }
    let t = x + LANCZOS_G + 0.5;
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)`.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

const GAMMA_MAX_ITERATIONS: usize = 1_000;
const GAMMA_EPSILON: f64 = 1e-16;
/// Smallest positive normal f64 scaled up; keeps Lentz's method away from division by 0.
const TINY: f64 = 1e-300;

/// Regularised lower incomplete gamma `P(a, x)`; `Q = 1 − P` is [`gamma_q`].
///
/// Series below `x < a + 1`, continued fraction above (the classic split: each converges
/// fast on its side). Out-of-domain input (a ≤ 0, x < 0, NaN) yields NaN.
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if a.is_nan() || x.is_nan() || a <= 0.0 || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return 0.0;
    }
    if x.is_infinite() {
        return 1.0;
    }
    if x < a + 1.0 {
        gamma_series(a, x)
    } else {
        1.0 - gamma_continued_fraction(a, x)
    }
}

/// Regularised upper incomplete gamma `Q(a, x) = 1 − P(a, x)`, computed directly in the
/// upper tail so that tiny p-values keep their relative precision.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || x.is_nan() || a <= 0.0 || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    if x < a + 1.0 {
        1.0 - gamma_series(a, x)
    } else {
        gamma_continued_fraction(a, x)
    }
}

/// `P(a, x)` by its power series.
fn gamma_series(a: f64, x: f64) -> f64 {
    let mut ap = a;
    let mut term = 1.0 / a;
    let mut sum = term;
    for _ in 0..GAMMA_MAX_ITERATIONS {
        ap += 1.0;
        term *= x / ap;
        sum += term;
        if term.abs() < sum.abs() * GAMMA_EPSILON {
            break;
        }
    }
    let log_prefactor = -x + a * x.ln() - ln_gamma(a);
    (sum * log_prefactor.exp()).clamp(0.0, 1.0)
}

/// `Q(a, x)` by its continued fraction (modified Lentz).
fn gamma_continued_fraction(a: f64, x: f64) -> f64 {
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..=GAMMA_MAX_ITERATIONS {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < GAMMA_EPSILON {
            break;
        }
    }
    let log_prefactor = -x + a * x.ln() - ln_gamma(a);
    (log_prefactor.exp() * h).clamp(0.0, 1.0)
}

/// Complementary error function, through `erfc(y) = Q(1/2, y²)` for `y ≥ 0`.
pub fn erfc(y: f64) -> f64 {
    if y.is_nan() {
        return f64::NAN;
    }
    if y >= 0.0 {
        gamma_q(0.5, y * y)
    } else {
        2.0 - gamma_q(0.5, y * y)
    }
}

/// Standard normal CDF `Φ(z)`.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Standard normal quantile `Φ⁻¹(p)`.
///
/// Acklam's rational approximation (relative error 1.15e-9) followed by one Halley step
/// on the exact CDF, which brings it to about machine precision. `p` outside (0, 1)
/// gives ±∞ at the ends and NaN beyond them.
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let x = acklam(p);
    // Halley refinement: e is the CDF error, u = e / φ(x).
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * PI).sqrt() * (x * x / 2.0).exp();
    let refined = x - u / (1.0 + x * u / 2.0);
    if refined.is_finite() { refined } else { x }
}

fn acklam(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

/// Chi-square survival function `P(χ²_df ≥ x) = Q(df/2, x/2)`.
///
/// With `df = 0` the distribution is a point mass at 0, so the p-value is 1 for `x ≤ 0`
/// and 0 above. A statistic of `+∞` (a category with expected count 0 that was observed)
/// gives 0; NaN gives NaN.
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() || df.is_nan() || df < 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if df == 0.0 {
        return 0.0;
    }
    gamma_q(df / 2.0, x / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
        (actual - expected).abs() <= tolerance * expected.abs().max(1.0)
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        // ln Γ(1/2) = ln √π.
        assert!(close(ln_gamma(0.5), PI.sqrt().ln(), 1e-14));
        assert!(close(ln_gamma(1.0), 0.0, 1e-14));
        assert!(close(ln_gamma(2.0), 0.0, 1e-14));
        // ln 9! and ln 99!.
        assert!(close(ln_gamma(10.0), 362_880f64.ln(), 1e-13));
        assert!(close(ln_gamma(100.0), 359.134_205_369_575_4, 1e-13));
        // Γ(1e-6) ≈ 1e6 − γ: small arguments go through the reflection formula.
        assert!(close(ln_gamma(1e-6), 13.815_509_980_749_43, 1e-12));
        assert!(close(ln_gamma(1e6), 12_815_504.569_147_61, 1e-13));
        assert!(ln_gamma(0.0).is_infinite());
        assert!(ln_gamma(-2.0).is_infinite());
        assert!(ln_gamma(f64::NAN).is_nan());
    }

    #[test]
    fn normal_quantile_matches_known_values() {
        assert!(close(normal_quantile(0.9995), 3.290_526_731_491_926, 1e-12));
        assert!(close(normal_quantile(0.975), 1.959_963_984_540_054, 1e-12));
        assert!(close(normal_quantile(0.99), 2.326_347_874_040_841, 1e-12));
        assert!(close(normal_quantile(0.8), 0.841_621_233_572_914_3, 1e-12));
        assert!(close(
            normal_quantile(0.001),
            -3.090_232_306_167_813_6,
            1e-12
        ));
        assert!(close(normal_quantile(1e-10), -6.361_340_902_404_056, 1e-10));
        assert_eq!(normal_quantile(0.5), 0.0);
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!(normal_quantile(1.5).is_nan());
        assert!(normal_quantile(f64::NAN).is_nan());
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!(close(normal_cdf(0.0), 0.5, 1e-15));
        assert!(close(normal_cdf(1.959_963_984_540_054), 0.975, 1e-14));
        assert!(close(normal_cdf(-3.0), 1.349_898_031_630_094_6e-3, 1e-12));
    }

    #[test]
    fn chi_square_sf_matches_known_values() {
        assert!(close(
            chi_square_sf(3.841_458_820_694_124, 1.0),
            0.05,
            1e-12
        ));
        assert!(close(
            chi_square_sf(5.991_464_547_107_979, 2.0),
            0.05,
            1e-12
        ));
        assert!(close(
            chi_square_sf(10.827_566_170_662_733, 1.0),
            0.001,
            1e-10
        ));
        assert!(close(
            chi_square_sf(10.0, 5.0),
            0.075_235_246_146_512_17,
            1e-12
        ));
        assert!(close(
            chi_square_sf(100.0, 50.0),
            3.454_931_382_984_864e-5,
            1e-9
        ));
        assert_eq!(chi_square_sf(0.0, 3.0), 1.0);
        assert_eq!(chi_square_sf(f64::INFINITY, 3.0), 0.0);
        assert_eq!(chi_square_sf(2.0, 0.0), 0.0);
        assert!(chi_square_sf(f64::NAN, 1.0).is_nan());
    }

    #[test]
    fn incomplete_gamma_has_exact_cases() {
        // P(1, x) = 1 − e^{−x}; the two branches meet at x = a + 1.
        for x in [0.1, 1.0, 2.0, 2.5, 10.0] {
            assert!(close(gamma_p(1.0, x), 1.0 - (-x).exp(), 1e-14));
            assert!(close(gamma_q(1.0, x), (-x).exp(), 1e-13));
        }
        assert!(gamma_p(-1.0, 1.0).is_nan());
    }
}
