//! The expected split: named versions with weights, validated and normalised once so the
//! engine never has to guard against bad weights again.

/// Why an expectation was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExpectationError {
    /// No version was given.
    #[error("the expected split names no version")]
    Empty,
    /// A version name is empty (after trimming).
    #[error("a version name is empty")]
    EmptyName,
    /// The same version is named twice.
    #[error("version {0:?} is listed more than once")]
    DuplicateVersion(String),
    /// A weight is negative.
    #[error("version {version:?} has a negative weight ({weight})")]
    NegativeWeight { version: String, weight: f64 },
    /// A weight is NaN or infinite.
    #[error("version {version:?} has a weight that is not a finite number")]
    NonFiniteWeight { version: String },
    /// Every weight is 0, so there is nothing to normalise.
    #[error("all expected weights are 0")]
    AllZero,
}

/// Expected weights per named version, normalised to sum to 1, in the order given.
///
/// A weight of 0 is allowed: that version must receive nothing. A single version (or all
/// others at 0) means every classified response must be that version.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    versions: Vec<(String, f64)>,
}

impl Expectation {
    /// Validate and normalise `(version, weight)` pairs (e.g. `[("v1", 30.0), ("v2", 70.0)]`).
    pub fn new<I, S>(weights: I) -> Result<Self, ExpectationError>
    where
        I: IntoIterator<Item = (S, f64)>,
        S: Into<String>,
    {
        let mut versions: Vec<(String, f64)> = Vec::new();
        for (name, weight) in weights {
            let name: String = name.into().trim().to_owned();
            if name.is_empty() {
                return Err(ExpectationError::EmptyName);
            }
            if !weight.is_finite() {
                return Err(ExpectationError::NonFiniteWeight { version: name });
            }
            if weight < 0.0 {
                return Err(ExpectationError::NegativeWeight {
                    version: name,
                    weight,
                });
            }
            if versions.iter().any(|(v, _)| *v == name) {
                return Err(ExpectationError::DuplicateVersion(name));
            }
            versions.push((name, weight));
        }
        if versions.is_empty() {
            return Err(ExpectationError::Empty);
        }
        let total: f64 = versions.iter().map(|(_, w)| w).sum();
        // A finite sum of finite non-negative weights can still overflow to +∞.
        if !(total.is_finite() && total > 0.0) {
            return Err(if total > 0.0 {
                ExpectationError::NonFiniteWeight {
                    version: versions
                        .iter()
                        .map(|(v, _)| v.as_str())
                        .collect::<Vec<_>>()
                        .join("+"),
                }
            } else {
                ExpectationError::AllZero
            });
        }
        for (_, w) in &mut versions {
            *w /= total;
        }
        Ok(Self { versions })
    }

    /// Every classified response is expected to be `version`.
    pub fn single(version: impl Into<String>) -> Result<Self, ExpectationError> {
        Self::new([(version, 1.0)])
    }

    /// `(version, normalised weight)` in the order given.
    pub fn versions(&self) -> &[(String, f64)] {
        &self.versions
    }

    /// Normalised weight of `version`, if it is named.
    pub fn weight(&self, version: &str) -> Option<f64> {
        self.versions
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, w)| *w)
    }

    /// Number of named versions (including those with weight 0).
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// Always false: an expectation names at least one version.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_normalised() {
        let e = Expectation::new([("v1", 30.0), ("v2", 70.0)]).unwrap();
        assert!((e.weight("v1").unwrap() - 0.3).abs() < 1e-15);
        assert_eq!(e.len(), 2);
        assert_eq!(Expectation::new([("v1", 3.0), ("v2", 7.0)]).unwrap(), e);
        let single = Expectation::single("v1").unwrap();
        assert_eq!(single.weight("v1"), Some(1.0));
    }

    #[test]
    fn invalid_expectations_are_rejected() {
        let none: [(&str, f64); 0] = [];
        assert_eq!(Expectation::new(none), Err(ExpectationError::Empty));
        assert_eq!(
            Expectation::new([("v1", 0.0), ("v2", 0.0)]),
            Err(ExpectationError::AllZero)
        );
        assert!(matches!(
            Expectation::new([("v1", -1.0), ("v2", 2.0)]),
            Err(ExpectationError::NegativeWeight { .. })
        ));
        assert!(matches!(
            Expectation::new([("v1", f64::NAN)]),
            Err(ExpectationError::NonFiniteWeight { .. })
        ));
        assert!(matches!(
            Expectation::new([("v1", f64::MAX), ("v2", f64::MAX)]),
            Err(ExpectationError::NonFiniteWeight { .. })
        ));
        assert_eq!(
            Expectation::new([("v1", 1.0), ("v1", 2.0)]),
            Err(ExpectationError::DuplicateVersion("v1".into()))
        );
        assert_eq!(
            Expectation::new([(" ", 1.0)]),
            Err(ExpectationError::EmptyName)
        );
        // Messages are readable.
        assert!(ExpectationError::AllZero.to_string().contains("0"));
    }
}
