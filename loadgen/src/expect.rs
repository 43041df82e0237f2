//! Expected weights from the command line (`--expect v1=30,v2=70`) or from a routing
//! file (`--expect-from istio/virtual-service-reviews-80-20.yaml`).
//!
//! The command line is stricter than [`Expectation`]'s own parser on purpose: a user who
//! types percentages that do not add up to 100 has most likely made a typo, and a
//! silently normalised split would then be verified against the wrong numbers.
//!
//! Routing files are read with the routing model the local data plane uses
//! (`bookinfo-routing`), so both agree on which rule applies and with what weights.

use std::path::Path;

use bookinfo_routing::load::{Object, load_str};
use bookinfo_routing::table::{Subsets, compile_with};

use bookinfo_verdict::{Expectation, ExpectationError};

/// The versions Bookinfo's reviews service has.
pub(crate) const KNOWN_VERSIONS: [&str; 3] = ["v1", "v2", "v3"];

/// Why an expected split could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExpectError {
    #[error("--expect is empty; give NAME=PERCENT pairs, e.g. --expect v1=30,v2=70")]
    Empty,
    #[error("cannot read {0:?} in --expect; use NAME=PERCENT pairs, e.g. --expect v1=30,v2=70")]
    Syntax(String),
    #[error("unknown version {0:?}: reviews has the versions v1, v2 and v3")]
    UnknownVersion(String),
    #[error("version {0} is listed more than once")]
    Duplicate(String),
    #[error("version {0} has a negative weight")]
    Negative(String),
    #[error("the weights add up to {0}, not 100")]
    Sum(f64),
    #[error("{0}")]
    Expectation(#[from] ExpectationError),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    #[error("{path}: {message}")]
    Routing { path: String, message: String },
}

/// An expected split and where it came from, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSplit {
    pub expectation: Expectation,
    /// One line, e.g. `--expect v1=30,v2=70` or `file.yaml: VirtualService reviews, default route`.
    pub source: String,
}

/// Parse `v1=30,v2=70` (percentages, summing to 100; a trailing `%` is allowed).
pub fn parse_expect(text: &str) -> Result<ExpectedSplit, ExpectError> {
    let mut pairs: Vec<(String, f64)> = Vec::new();
    for part in text.split(',').map(str::trim) {
        if part.is_empty() {
            continue;
        }
        let (name, weight) = part
            .split_once('=')
            .ok_or_else(|| ExpectError::Syntax(part.to_owned()))?;
        let name = name.trim();
        let weight = weight.trim();
        let weight = weight.strip_suffix('%').unwrap_or(weight).trim();
        let value: f64 = weight
            .parse()
            .map_err(|_| ExpectError::Syntax(part.to_owned()))?;
        if !value.is_finite() {
            return Err(ExpectError::Syntax(part.to_owned()));
        }
        check_version(name)?;
        if value < 0.0 {
            return Err(ExpectError::Negative(name.to_owned()));
        }
        if pairs.iter().any(|(n, _)| n == name) {
            return Err(ExpectError::Duplicate(name.to_owned()));
        }
        pairs.push((name.to_owned(), value));
    }
    if pairs.is_empty() {
        return Err(ExpectError::Empty);
    }
    let sum: f64 = pairs.iter().map(|(_, w)| w).sum();
    // Decimal percentages such as 33.3/33.3/33.4 must be accepted despite rounding.
    if (sum - 100.0).abs() > 1e-6 {
        return Err(ExpectError::Sum(sum));
    }
    let source = format!(
        "--expect {}",
        pairs
            .iter()
            .map(|(n, w)| format!("{n}={w}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    Ok(ExpectedSplit {
        expectation: Expectation::new(pairs)?,
        source,
    })
}

fn check_version(name: &str) -> Result<(), ExpectError> {
    if KNOWN_VERSIONS.contains(&name) {
        Ok(())
    } else {
        Err(ExpectError::UnknownVersion(name.to_owned()))
    }
}

/// Read the reviews split from a VirtualService or HTTPRoute file, as seen by a client
/// logged in as `user` (which decides whether an `end-user` header match applies).
pub fn expect_from_file(path: &Path, user: Option<&str>) -> Result<ExpectedSplit, ExpectError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ExpectError::File {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    expect_from_yaml(&text, &shown, user)
}

/// The path productpage asks reviews for; `uri` matches are evaluated on it.
const REVIEWS_PATH: &str = "/reviews/0";

/// [`expect_from_file`] on text already read; `path` is only used in messages.
/// The file is read with the same routing model as the local data plane; a
/// subset is taken to select the version of its name unless the file has a
/// DestinationRule saying otherwise.
pub(crate) fn expect_from_yaml(
    text: &str,
    path: &str,
    user: Option<&str>,
) -> Result<ExpectedSplit, ExpectError> {
    let err = |message: String| ExpectError::Routing {
        path: path.to_owned(),
        message,
    };
    let loaded = load_str(path, text).map_err(|e| err(e.message))?;
    let routes: Vec<String> = loaded
        .objects
        .iter()
        .filter(|object| routes_reviews(object))
        .map(Object::key)
        .collect();
    let route = match routes.as_slice() {
        [] => {
            return Err(err(
                "no VirtualService or HTTPRoute for the reviews service".to_owned(),
            ));
        }
        [one] => one.clone(),
        _ => {
            return Err(err(format!(
                "more than one route for the reviews service ({}); keep one per file",
                routes.join(", ")
            )));
        }
    };
    let table = compile_with(&loaded.objects, Subsets::NamedAsVersions).map_err(err)?;
    let header = |name: &str| user.filter(|_| name == "end-user");
    let Some(rule) = table.rule_for("reviews", REVIEWS_PATH, header) else {
        return Err(err(format!(
            "{route} has no rule for a request of {}",
            user.map_or("an anonymous user".to_owned(), |u| format!("user {u}"))
        )));
    };
    let which = if rule.matches.iter().any(|m| !m.headers.is_empty()) {
        format!("rule for end-user {}", user.unwrap_or_default())
    } else {
        "default route".to_owned()
    };
    let shares = table
        .shares("reviews", REVIEWS_PATH, header)
        .unwrap_or_default();
    let mut pairs = Vec::new();
    for (version, share) in shares {
        if version == "all" {
            return Err(err(format!(
                "{route} sends traffic to the reviews Service itself, not to a per-version \
                 subset or Service, so no split is configured"
            )));
        }
        check_version(&version)?;
        pairs.push((version, share * 100.0));
    }
    Ok(ExpectedSplit {
        expectation: Expectation::new(pairs)?,
        source: format!("{path}: {route}, {which}"),
    })
}

/// Whether a routing object decides the reviews split.
fn routes_reviews(object: &Object) -> bool {
    let is_reviews = |host: &str| host.split('.').next() == Some("reviews");
    match object {
        Object::VirtualService(vs) => vs.spec.hosts.iter().any(|h| is_reviews(h)),
        Object::HttpRoute(route) => route
            .spec
            .parent_refs
            .iter()
            .any(|p| p.kind.as_deref() == Some("Service") && is_reviews(&p.name)),
        Object::DestinationRule(_) => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn weights(split: &ExpectedSplit) -> Vec<(String, f64)> {
        split
            .expectation
            .versions()
            .iter()
            .map(|(v, w)| (v.clone(), (w * 1000.0).round() / 10.0))
            .collect()
    }

    fn pairs(p: &[(&str, f64)]) -> Vec<(String, f64)> {
        p.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect()
    }

    #[test]
    fn command_line_weights() {
        let s = parse_expect("v1=30,v2=70").unwrap();
        assert_eq!(weights(&s), pairs(&[("v1", 30.0), ("v2", 70.0)]));
        let s = parse_expect(" v1 = 33.3%, v2=33.3 , v3=33.4 ").unwrap();
        assert_eq!(s.expectation.len(), 3);
        assert!(parse_expect("v3=100").is_ok());
        assert!(parse_expect("v1=100,v2=0").is_ok());
    }

    #[test]
    fn command_line_errors() {
        assert_eq!(parse_expect(""), Err(ExpectError::Empty));
        assert_eq!(parse_expect("v1=30,v2=60"), Err(ExpectError::Sum(90.0)));
        assert_eq!(
            parse_expect("v1:30"),
            Err(ExpectError::Syntax("v1:30".into()))
        );
        assert_eq!(
            parse_expect("v1=abc"),
            Err(ExpectError::Syntax("v1=abc".into()))
        );
        assert_eq!(
            parse_expect("v1=inf"),
            Err(ExpectError::Syntax("v1=inf".into()))
        );
        assert_eq!(
            parse_expect("v1=-10,v2=110"),
            Err(ExpectError::Negative("v1".into()))
        );
        assert_eq!(
            parse_expect("v1=50,v1=50"),
            Err(ExpectError::Duplicate("v1".into()))
        );
        assert_eq!(
            parse_expect("v1=50,v4=50"),
            Err(ExpectError::UnknownVersion("v4".into()))
        );
        assert_eq!(parse_expect("v1=0,v2=0"), Err(ExpectError::Sum(0.0)));
        // Messages are one line and say what to do.
        let msg = ExpectError::Sum(90.0).to_string();
        assert!(msg.contains("100") && !msg.contains('\n'), "{msg}");
    }

    const WEIGHTED: &str = "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
    - reviews
  http:
    - route:
        - destination:
            host: reviews
            subset: v1
          weight: 80
        - destination:
            host: reviews
            subset: v2
          weight: 20
";

    const JASON: &str = "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
    - match:
        - headers:
            end-user:
              exact: jason
      route:
        - destination: {host: reviews, subset: v2}
    - route:
        - destination: {host: reviews, subset: v3}
";

    #[test]
    fn virtual_service_weights_and_user_match() {
        let s = expect_from_yaml(WEIGHTED, "f.yaml", None).unwrap();
        assert_eq!(weights(&s), pairs(&[("v1", 80.0), ("v2", 20.0)]));
        assert!(s.source.contains("default route"), "{}", s.source);
        let s = expect_from_yaml(JASON, "f.yaml", Some("jason")).unwrap();
        assert_eq!(weights(&s), pairs(&[("v2", 100.0)]));
        let s = expect_from_yaml(JASON, "f.yaml", Some("alice")).unwrap();
        assert_eq!(weights(&s), pairs(&[("v3", 100.0)]));
        let s = expect_from_yaml(JASON, "f.yaml", None).unwrap();
        assert_eq!(weights(&s), pairs(&[("v3", 100.0)]));
    }

    #[test]
    fn other_services_in_the_file_are_skipped() {
        let text = format!(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: ratings}}
spec:
  hosts: [ratings]
  http:
    - route:
        - destination: {{host: ratings, subset: v1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews}}
spec: {{host: reviews}}
---
{WEIGHTED}"
        );
        let s = expect_from_yaml(&text, "f.yaml", None).unwrap();
        assert_eq!(weights(&s), pairs(&[("v1", 80.0), ("v2", 20.0)]));
    }

    #[test]
    fn virtual_service_errors() {
        let unknown = WEIGHTED.replace("subset: v2", "subset: canary");
        let e = expect_from_yaml(&unknown, "f.yaml", None).unwrap_err();
        assert!(e.to_string().contains("canary"), "{e}");
        let none = expect_from_yaml(
            "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {}\n",
            "f.yaml",
            None,
        )
        .unwrap_err();
        assert!(none.to_string().contains("no VirtualService"), "{none}");
        let twice = format!("{WEIGHTED}\n---\n{WEIGHTED}");
        assert!(expect_from_yaml(&twice, "f.yaml", None).is_err());
        // A uri condition is evaluated on the path productpage calls.
        let other_path = JASON.replace("- headers:", "- uri: {prefix: /other}\n          headers:");
        let s = expect_from_yaml(&other_path, "f.yaml", Some("jason")).unwrap();
        assert_eq!(weights(&s), pairs(&[("v3", 100.0)]));
        let bad = expect_from_yaml("a: [b", "f.yaml", None).unwrap_err();
        assert!(bad.to_string().contains("YAML"), "{bad}");
        let zero = WEIGHTED
            .replace("weight: 80", "weight: 0")
            .replace("weight: 20", "weight: 0");
        assert!(expect_from_yaml(&zero, "f.yaml", None).is_err());
        let no_subset = WEIGHTED.replace("subset: v1", "port: {number: 9080}");
        assert!(expect_from_yaml(&no_subset, "f.yaml", None).is_err());
    }

    const ROUTE: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
spec:
  parentRefs:
    - group: \"\"
      kind: Service
      name: reviews
      port: 9080
  rules:
    - backendRefs:
        - name: reviews-v1
          port: 9080
    - matches:
        - headers:
            - type: Exact
              name: end-user
              value: jason
      backendRefs:
        - name: reviews-v2
          port: 9080
          weight: 90
        - name: reviews-v3
          port: 9080
          weight: 10
";

    #[test]
    fn http_route_weights_and_specificity() {
        // The header rule wins for jason although it comes second.
        let s = expect_from_yaml(ROUTE, "r.yaml", Some("jason")).unwrap();
        assert_eq!(weights(&s), pairs(&[("v2", 90.0), ("v3", 10.0)]));
        let s = expect_from_yaml(ROUTE, "r.yaml", None).unwrap();
        assert_eq!(weights(&s), pairs(&[("v1", 100.0)]));
        let bad = ROUTE.replace("reviews-v3", "reviews-v9");
        assert!(expect_from_yaml(&bad, "r.yaml", Some("jason")).is_err());
        let plain = ROUTE.replace("name: reviews-v1", "name: reviews");
        let e = expect_from_yaml(&plain, "r.yaml", None).unwrap_err();
        assert!(e.to_string().contains("per-version"), "{e}");
    }

    #[test]
    fn shipped_routing_files_are_understood() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../istio");
        type Case<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, f64)]);
        let cases: [Case<'_>; 6] = [
            (
                "virtual-service-reviews-80-20.yaml",
                None,
                &[("v1", 80.0), ("v2", 20.0)],
            ),
            ("virtual-service-all-v1.yaml", None, &[("v1", 100.0)]),
            (
                "virtual-service-reviews-test-v2.yaml",
                Some("jason"),
                &[("v2", 100.0)],
            ),
            (
                "virtual-service-reviews-test-v2.yaml",
                None,
                &[("v1", 100.0)],
            ),
            (
                "gateway-api/route-reviews-90-10.yaml",
                None,
                &[("v1", 90.0), ("v2", 10.0)],
            ),
            (
                "gateway-api/route-reviews-jason-v2.yaml",
                Some("jason"),
                &[("v2", 100.0)],
            ),
        ];
        for (file, user, want) in cases {
            let path = root.join(file);
            if !path.exists() {
                continue;
            }
            let s = expect_from_file(&path, user).unwrap();
            assert_eq!(weights(&s), pairs(want), "{file}");
        }
    }
}
