//! Is the canary worse than the stable version? A sequential test on bad
//! events (an error, an answer slower than a threshold) for a rollout step,
//! beside the split's verdict.
//!
//! Conditioned on a bad event having happened, it is the canary's with
//! probability `p`, the canary's share of the traffic, when both versions
//! are equally healthy (the split verdict checks that share). If the
//! canary's rate of bad events is `r` times the stable's, that probability
//! is `r p / (r p + 1 − p)`. Wald's sequential probability ratio test
//! between the two, updated at every bad event, decides WORSE or NOT WORSE
//! with error rates α and β, however long the step runs and whatever the
//! base rate: the stable version is the control, as in the per-event
//! conditional tests used for canary counts (Netflix's sequential A/B
//! tests of crash counts). Responses that are not bad events carry no
//! information under this conditioning and move nothing.

use serde::Serialize;

/// The test's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CompareConfig {
    /// How many times the stable's rate of bad events the canary's must be
    /// to count as worse (the alternative hypothesis).
    pub ratio: f64,
    /// Chance of calling a canary worse when it is as healthy as stable.
    pub false_alarm: f64,
    /// Chance of calling a canary not worse when it is `ratio` times worse.
    pub miss: f64,
}

impl Default for CompareConfig {
    /// Twice the stable's rate is what a rollout must not promote; a 1%
    /// false alarm per comparison keeps a 4-step rollout's at about 4%.
    fn default() -> Self {
        Self {
            ratio: 2.0,
            false_alarm: 0.01,
            miss: 0.01,
        }
    }
}

/// What the test says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// The canary's bad events are `ratio` times the stable's, or more.
    Worse,
    /// The canary is not `ratio` times worse.
    NotWorse,
    /// Not enough bad events to say either.
    Undecided,
}

impl Health {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Worse => "WORSE",
            Self::NotWorse => "NOT WORSE",
            Self::Undecided => "UNDECIDED",
        }
    }
}

/// Requests and bad events of one version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub requests: u64,
    pub bad: u64,
}

/// The test for one kind of bad event, fed one response at a time.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub config: CompareConfig,
    pub canary: Counts,
    pub stable: Counts,
    /// The log-likelihood ratio of WORSE against as-healthy so far.
    pub log_ratio: f64,
    pub health: Health,
    /// The response (1-based, among those fed) that decided, if any.
    pub decided_at: Option<u64>,
    seen: u64,
}

/// Why a comparison cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    #[error("the ratio must be above 1, not {0}")]
    Ratio(f64),
    #[error("error rates must be within (0, 0.5), not {0}")]
    Rate(f64),
}

impl Comparison {
    pub fn new(config: CompareConfig) -> Result<Self, CompareError> {
        if !(config.ratio > 1.0 && config.ratio.is_finite()) {
            return Err(CompareError::Ratio(config.ratio));
        }
        for rate in [config.false_alarm, config.miss] {
            if !(rate > 0.0 && rate < 0.5) {
                return Err(CompareError::Rate(rate));
            }
        }
        Ok(Self {
            config,
            canary: Counts::default(),
            stable: Counts::default(),
            log_ratio: 0.0,
            health: Health::Undecided,
            decided_at: None,
            seen: 0,
        })
    }

    /// One response: the canary's or the stable's, bad or not, while the
    /// canary's configured share of the traffic is `share` (within 0..1;
    /// outside it nothing can be compared and the response is not counted).
    pub fn observe(&mut self, canary: bool, bad: bool, share: f64) {
        if !(share > 0.0 && share < 1.0) {
            return;
        }
        self.seen += 1;
        let counts = if canary {
            &mut self.canary
        } else {
            &mut self.stable
        };
        counts.requests += 1;
        if !bad {
            return;
        }
        counts.bad += 1;
        if self.decided_at.is_some() {
            return;
        }
        let r = self.config.ratio;
        let worse = r * share / (r * share + 1.0 - share);
        self.log_ratio += if canary {
            (worse / share).ln()
        } else {
            ((1.0 - worse) / (1.0 - share)).ln()
        };
        let (alpha, beta) = (self.config.false_alarm, self.config.miss);
        if self.log_ratio >= ((1.0 - beta) / alpha).ln() {
            self.health = Health::Worse;
        } else if self.log_ratio <= (beta / (1.0 - alpha)).ln() {
            self.health = Health::NotWorse;
        } else {
            return;
        }
        self.decided_at = Some(self.seen);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn run(share: f64, stable_rate: f64, canary_rate: f64, n: u64, seed: u64) -> Comparison {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut test = Comparison::new(CompareConfig::default()).unwrap();
        for _ in 0..n {
            let canary = rng.random::<f64>() < share;
            let rate = if canary { canary_rate } else { stable_rate };
            test.observe(canary, rng.random::<f64>() < rate, share);
        }
        test
    }

    #[test]
    fn a_canary_three_times_worse_is_found_worse() {
        let mut worse = 0;
        for seed in 0..50 {
            let test = run(0.1, 0.02, 0.06, 20_000, seed);
            worse += u32::from(test.health == Health::Worse);
        }
        // The miss rate at ratio 2 is 1%; at 3 it is lower still.
        assert!(worse >= 48, "{worse} of 50");
    }

    #[test]
    fn an_equally_healthy_canary_is_rarely_called_worse() {
        let mut worse = 0;
        for seed in 0..200 {
            worse += u32::from(run(0.3, 0.05, 0.05, 5_000, seed).health == Health::Worse);
        }
        // A 1% false alarm: 2 expected of 200; 8 would be p < 0.001.
        assert!(worse <= 8, "{worse} of 200");
    }

    #[test]
    fn a_canary_with_no_bad_events_is_not_worse_and_one_without_any_is_undecided() {
        let test = run(0.5, 0.05, 0.0, 2_000, 7);
        assert_eq!(test.health, Health::NotWorse);
        let quiet = run(0.5, 0.0, 0.0, 2_000, 7);
        assert_eq!(quiet.health, Health::Undecided);
        assert_eq!(quiet.canary.requests + quiet.stable.requests, 2_000);
    }

    #[test]
    fn the_decision_stands_once_made_and_names_the_response() {
        let mut test = Comparison::new(CompareConfig::default()).unwrap();
        let mut n = 0;
        while test.health == Health::Undecided {
            test.observe(true, true, 0.2);
            n += 1;
            assert!(n < 100, "a run of canary errors decides");
        }
        assert_eq!(test.health, Health::Worse);
        assert_eq!(test.decided_at, Some(n));
        for _ in 0..1000 {
            test.observe(false, true, 0.2);
        }
        assert_eq!(test.health, Health::Worse);
        assert_eq!(test.stable.bad, 1000);
    }

    #[test]
    fn shares_outside_the_open_interval_count_nothing() {
        let mut test = Comparison::new(CompareConfig::default()).unwrap();
        for share in [0.0, 1.0, f64::NAN, -1.0] {
            test.observe(true, true, share);
        }
        assert_eq!(test.canary, Counts::default());
        assert_eq!(test.health, Health::Undecided);
    }

    #[test]
    fn bad_settings_are_refused() {
        let config = CompareConfig::default();
        for bad in [
            CompareConfig {
                ratio: 1.0,
                ..config
            },
            CompareConfig {
                ratio: f64::NAN,
                ..config
            },
            CompareConfig {
                false_alarm: 0.0,
                ..config
            },
            CompareConfig {
                miss: 0.5,
                ..config
            },
        ] {
            assert!(Comparison::new(bad).is_err(), "{bad:?}");
        }
    }
}
