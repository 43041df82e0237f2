//! The upstream fault modes, selected by `SERVICE_VERSION`, with time and
//! randomness behind traits so tests can drive them.

use std::time::{Duration, Instant};

/// `v-delayed` answers after this long, half of the time.
pub(crate) const DELAY: Duration = Duration::from_millis(7_000);
/// `v-unavailable` flips between available and not every minute.
pub(crate) const UNAVAILABLE_PERIOD: Duration = Duration::from_secs(60);
/// `v-unhealthy` flips between healthy and not every 15 minutes.
pub(crate) const UNHEALTHY_PERIOD: Duration = Duration::from_secs(900);
/// `v-faulty` fails and `v-delayed` delays when a roll is at most this.
pub(crate) const FAULT_PROBABILITY: f64 = 0.5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    InMemory(String),
    Database,
    Faulty,
    Delayed,
    Unavailable,
    Unhealthy,
}

impl Mode {
    pub fn from_service_version(version: &str) -> Self {
        match version {
            "v2" => Self::Database,
            "v-faulty" => Self::Faulty,
            "v-delayed" => Self::Delayed,
            "v-unavailable" => Self::Unavailable,
            "v-unhealthy" => Self::Unhealthy,
            other => Self::InMemory(other.to_owned()),
        }
    }

    /// The version as configured, for `x-bookinfo-version`.
    pub fn label(&self) -> &str {
        match self {
            Self::InMemory(version) => version,
            Self::Database => "v2",
            Self::Faulty => "v-faulty",
            Self::Delayed => "v-delayed",
            Self::Unavailable => "v-unavailable",
            Self::Unhealthy => "v-unhealthy",
        }
    }
}

/// A uniform draw in [0, 1).
pub trait Chance: Send + Sync {
    fn roll(&self) -> f64;
}

pub struct RandomChance;

impl Chance for RandomChance {
    fn roll(&self) -> f64 {
        rand::random::<f64>()
    }
}

/// Time since the service started.
pub trait Clock: Send + Sync {
    fn elapsed(&self) -> Duration;
}

pub struct SystemClock(Instant);

impl SystemClock {
    pub fn start() -> Self {
        Self(Instant::now())
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Whether `elapsed` falls in an odd period: the "off" half of a flip-flop
/// that starts "on".
pub(crate) fn in_off_period(elapsed: Duration, period: Duration) -> bool {
    (elapsed.as_millis() / period.as_millis()) % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_and_alternate() {
        let p = UNAVAILABLE_PERIOD;
        assert!(!in_off_period(Duration::ZERO, p));
        assert!(!in_off_period(Duration::from_millis(59_999), p));
        assert!(in_off_period(Duration::from_secs(60), p));
        assert!(in_off_period(Duration::from_millis(119_999), p));
        assert!(!in_off_period(Duration::from_secs(120), p));
        assert!(in_off_period(Duration::from_secs(900), UNHEALTHY_PERIOD));
    }

    #[test]
    fn unlisted_versions_behave_as_v1_but_keep_their_label() {
        assert_eq!(
            Mode::from_service_version("v1"),
            Mode::InMemory("v1".into())
        );
        assert_eq!(Mode::from_service_version("v7").label(), "v7");
        assert_eq!(Mode::from_service_version("v2"), Mode::Database);
    }
}
