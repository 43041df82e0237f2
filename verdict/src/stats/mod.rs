//! The statistics behind the split verdict (docs/split-verification.md), free of any engine state.
//!
//! - [`special`]: ln Γ, incomplete gamma, normal quantile, chi-square tail.
//! - [`fixed`]: fixed-sample reports (Wilson, X², G, worst-case bounds, over-dispersion).
//! - [`sequential`]: anytime-valid e-values and confidence sequences.
//! - [`planner`]: sample sizes and detectable deviations before a run.

pub mod fixed;
pub mod planner;
pub mod sequential;
pub mod special;

pub use fixed::{
    Dispersion, DispersionTest, GofTest, Interval, g_test, pearson_test, wilson_interval,
    worst_case_share,
};
pub use planner::{
    Plan, VersionPlan, detectable_deviation, score_test_n, score_test_sample_size, tost_sample_size,
};
pub use sequential::{
    BetaPrior, ConfidenceSequence, DirichletMixture, beta_binomial_log_e_value,
    dirichlet_log_e_value,
};
pub use special::{
    chi_square_sf, erfc, gamma_p, gamma_q, ln_beta, ln_gamma, normal_cdf, normal_quantile,
};
