//! Expected weights from the command line (`--expect v1=30,v2=70`) or from a routing
//! file (`--expect-from istio/virtual-service-reviews-80-20.yaml`).
//!
//! The command line is stricter than [`Expectation`]'s own parser on purpose: a user who
//! types percentages that do not add up to 100 has most likely made a typo, and a
//! silently normalised split would then be verified against the wrong numbers.
//!
//! Routing files are read with a few private serde types that cover what decides the
//! reviews split (hosts, header matches on `end-user`, weighted destinations). Anything
//! else that could change which rule applies is reported as unsupported rather than
//! guessed at.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_norway::Value;

use crate::expectation::{Expectation, ExpectationError};

/// The versions Bookinfo's reviews service has.
pub const KNOWN_VERSIONS: [&str; 3] = ["v1", "v2", "v3"];

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

/// [`expect_from_file`] on text already read; `path` is only used in messages.
pub fn expect_from_yaml(
    text: &str,
    path: &str,
    user: Option<&str>,
) -> Result<ExpectedSplit, ExpectError> {
    let err = |message: String| ExpectError::Routing {
        path: path.to_owned(),
        message,
    };
    let mut found: Vec<(String, Vec<(String, f64)>)> = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|e| err(format!("not YAML: {e}")))?;
        if value.is_null() {
            continue;
        }
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        match kind {
            "VirtualService" => {
                let vs: VirtualService = serde_norway::from_value(value)
                    .map_err(|e| err(format!("VirtualService {name}: {e}")))?;
                if let Some(split) = vs.reviews_split(user).map_err(&err)? {
                    found.push((format!("VirtualService {name}, {}", split.0), split.1));
                }
            }
            "HTTPRoute" => {
                let route: HttpRoute = serde_norway::from_value(value)
                    .map_err(|e| err(format!("HTTPRoute {name}: {e}")))?;
                if let Some(split) = route.reviews_split(user).map_err(&err)? {
                    found.push((format!("HTTPRoute {name}, {}", split.0), split.1));
                }
            }
            _ => {}
        }
    }
    let mut found = found.into_iter();
    let Some((what, weights)) = found.next() else {
        return Err(err(
            "no VirtualService or HTTPRoute for the reviews service".to_owned(),
        ));
    };
    if found.next().is_some() {
        return Err(err(
            "more than one route for the reviews service; keep one per file".to_owned(),
        ));
    }
    let expectation = Expectation::new(weights)?;
    Ok(ExpectedSplit {
        expectation,
        source: format!("{path}: {what}"),
    })
}

/// The rule that applies (described for the report) and its weights per version.
type RuleSplit = (String, Vec<(String, f64)>);

/// `reviews`, `reviews.default`, `reviews.default.svc.cluster.local`.
fn is_reviews_host(host: &str) -> bool {
    host.split('.').next() == Some("reviews")
}

/// Add `weight` to `version`, so that two destinations with the same subset add up.
fn add_weight(weights: &mut Vec<(String, f64)>, version: &str, weight: f64) {
    match weights.iter_mut().find(|(v, _)| v == version) {
        Some((_, w)) => *w += weight,
        None => weights.push((version.to_owned(), weight)),
    }
}

fn version_of(name: &str, what: &str) -> Result<String, String> {
    if KNOWN_VERSIONS.contains(&name) {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{what} {name:?} is not a known reviews version (v1, v2, v3)"
        ))
    }
}

fn checked_weights(weights: Vec<(String, f64)>, rule: &str) -> Result<Vec<(String, f64)>, String> {
    if weights.iter().any(|(_, w)| !w.is_finite() || *w < 0.0) {
        return Err(format!("{rule} has a negative weight"));
    }
    if weights.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        return Err(format!("{rule} sends no traffic (all weights are 0)"));
    }
    Ok(weights)
}

// ---------------------------------------------------------------- Istio VirtualService

#[derive(Debug, Deserialize)]
struct VirtualService {
    spec: VsSpec,
}

#[derive(Debug, Deserialize)]
struct VsSpec {
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    http: Vec<VsRoute>,
}

#[derive(Debug, Deserialize)]
struct VsRoute {
    #[serde(default, rename = "match")]
    matches: Vec<VsMatch>,
    #[serde(default)]
    route: Vec<VsDestination>,
}

#[derive(Debug, Deserialize)]
struct VsMatch {
    #[serde(default)]
    headers: BTreeMap<String, StringMatch>,
    /// Everything else (uri, method, sourceLabels …): loadgen cannot evaluate it.
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
struct StringMatch {
    exact: Option<String>,
    prefix: Option<String>,
    regex: Option<String>,
}

#[derive(Debug, Deserialize)]
struct VsDestination {
    destination: Destination,
    weight: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Destination {
    host: String,
    subset: Option<String>,
}

impl VirtualService {
    /// `None` if this VirtualService is not for reviews.
    fn reviews_split(&self, user: Option<&str>) -> Result<Option<RuleSplit>, String> {
        if !self.spec.hosts.iter().any(|h| is_reviews_host(h)) {
            return Ok(None);
        }
        // Istio evaluates the http rules in order; the first that matches wins.
        for (index, rule) in self.spec.http.iter().enumerate() {
            let label = format!("http rule {}", index + 1);
            if !vs_rule_applies(rule, user, &label)? {
                continue;
            }
            let what = if rule.matches.is_empty() {
                "default route".to_owned()
            } else {
                format!("{label} (end-user match)")
            };
            return vs_weights(rule, &label).map(|w| Some((what, w)));
        }
        Err(match user {
            Some(u) => format!("no http rule for reviews applies to user {u:?}"),
            None => "no http rule for reviews applies without --user".to_owned(),
        })
    }
}

fn vs_rule_applies(rule: &VsRoute, user: Option<&str>, label: &str) -> Result<bool, String> {
    if rule.matches.is_empty() {
        return Ok(true);
    }
    // Match blocks are ORed; conditions inside one block are ANDed.
    for m in &rule.matches {
        let unsupported: Vec<&str> = m
            .other
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "name")
            .collect();
        if !unsupported.is_empty() {
            return Err(format!(
                "{label} matches on {}, which loadgen cannot evaluate (only the end-user header)",
                unsupported.join(", ")
            ));
        }
        let mut all = true;
        for (header, condition) in &m.headers {
            if !header.eq_ignore_ascii_case("end-user") {
                return Err(format!(
                    "{label} matches on header {header}, which loadgen cannot evaluate (only end-user)"
                ));
            }
            all &= string_match(condition, user, label)?;
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

fn string_match(condition: &StringMatch, user: Option<&str>, label: &str) -> Result<bool, String> {
    if condition.regex.is_some() {
        return Err(format!(
            "{label} uses a regex header match, which loadgen cannot evaluate"
        ));
    }
    // productpage sends end-user only after a login.
    let Some(user) = user else { return Ok(false) };
    Ok(match (&condition.exact, &condition.prefix) {
        (Some(exact), _) => user == exact,
        (None, Some(prefix)) => user.starts_with(prefix.as_str()),
        (None, None) => true,
    })
}

fn vs_weights(rule: &VsRoute, label: &str) -> Result<Vec<(String, f64)>, String> {
    if rule.route.is_empty() {
        return Err(format!("{label} has no route"));
    }
    let single = rule.route.len() == 1;
    let mut weights = Vec::new();
    for d in &rule.route {
        if !is_reviews_host(&d.destination.host) {
            return Err(format!(
                "{label} sends reviews traffic to host {:?}",
                d.destination.host
            ));
        }
        let Some(subset) = &d.destination.subset else {
            return Err(format!(
                "{label} routes to reviews without a subset, so no version split is configured"
            ));
        };
        let version = version_of(subset, "subset")?;
        // Istio: a single destination gets all traffic; otherwise a missing weight is 0.
        let weight = d.weight.unwrap_or(if single { 100.0 } else { 0.0 });
        add_weight(&mut weights, &version, weight);
    }
    checked_weights(weights, label)
}

// ------------------------------------------------------------ Gateway API HTTPRoute

#[derive(Debug, Deserialize)]
struct HttpRoute {
    spec: HrSpec,
}

#[derive(Debug, Deserialize)]
struct HrSpec {
    #[serde(default, rename = "parentRefs")]
    parent_refs: Vec<ParentRef>,
    #[serde(default)]
    rules: Vec<HrRule>,
}

#[derive(Debug, Deserialize)]
struct ParentRef {
    name: String,
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HrRule {
    #[serde(default)]
    matches: Vec<HrMatch>,
    #[serde(default, rename = "backendRefs")]
    backend_refs: Vec<BackendRef>,
}

#[derive(Debug, Deserialize)]
struct HrMatch {
    #[serde(default)]
    headers: Vec<HeaderMatch>,
    path: Option<PathMatch>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
struct HeaderMatch {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct PathMatch {
    #[serde(rename = "type")]
    kind: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BackendRef {
    name: String,
    weight: Option<f64>,
}

impl HttpRoute {
    fn is_for_reviews(&self) -> bool {
        let parent =
            self.spec.parent_refs.iter().any(|p| {
                p.name == "reviews" && p.kind.as_deref().unwrap_or("Service") == "Service"
            });
        let backends = self
            .spec
            .rules
            .iter()
            .flat_map(|r| &r.backend_refs)
            .any(|b| b.name.starts_with("reviews-"));
        parent || backends
    }

    fn reviews_split(&self, user: Option<&str>) -> Result<Option<RuleSplit>, String> {
        if !self.is_for_reviews() {
            return Ok(None);
        }
        // Gateway API picks the most specific matching rule, not the first: a rule with
        // more header matches beats one with fewer; ties go to the earlier rule.
        let mut best: Option<(usize, usize)> = None;
        for (index, rule) in self.spec.rules.iter().enumerate() {
            let label = format!("rule {}", index + 1);
            if let Some(headers) = hr_rule_applies(rule, user, &label)?
                && best.is_none_or(|(_, h)| headers > h)
            {
                best = Some((index, headers));
            }
        }
        let Some((index, headers)) = best else {
            return Err(match user {
                Some(u) => format!("no rule for reviews applies to user {u:?}"),
                None => "no rule for reviews applies without --user".to_owned(),
            });
        };
        let label = format!("rule {}", index + 1);
        let what = if headers == 0 {
            "default rule".to_owned()
        } else {
            format!("{label} (end-user match)")
        };
        let Some(rule) = self.spec.rules.get(index) else {
            return Ok(None);
        };
        hr_weights(rule, &label).map(|w| Some((what, w)))
    }
}

/// `Some(number of header matches)` of the best matching block, `None` if none applies.
fn hr_rule_applies(
    rule: &HrRule,
    user: Option<&str>,
    label: &str,
) -> Result<Option<usize>, String> {
    if rule.matches.is_empty() {
        return Ok(Some(0));
    }
    let mut best: Option<usize> = None;
    for m in &rule.matches {
        if let Some(key) = m.other.keys().next() {
            return Err(format!(
                "{label} matches on {key}, which loadgen cannot evaluate (only the end-user header)"
            ));
        }
        if let Some(path) = &m.path {
            let prefix = path.kind.as_deref().unwrap_or("PathPrefix") == "PathPrefix";
            if !(prefix && path.value.as_deref().unwrap_or("/") == "/") {
                return Err(format!(
                    "{label} matches on a path, which loadgen cannot evaluate (only the end-user header)"
                ));
            }
        }
        let mut all = true;
        for h in &m.headers {
            if !h.name.eq_ignore_ascii_case("end-user") {
                return Err(format!(
                    "{label} matches on header {}, which loadgen cannot evaluate (only end-user)",
                    h.name
                ));
            }
            if h.kind.as_deref().unwrap_or("Exact") != "Exact" {
                return Err(format!(
                    "{label} uses a {} header match, which loadgen cannot evaluate",
                    h.kind.as_deref().unwrap_or("")
                ));
            }
            all &= user == Some(h.value.as_str());
        }
        if all {
            best = best.max(Some(m.headers.len()));
        }
    }
    Ok(best)
}

fn hr_weights(rule: &HrRule, label: &str) -> Result<Vec<(String, f64)>, String> {
    if rule.backend_refs.is_empty() {
        return Err(format!("{label} has no backendRefs"));
    }
    let mut weights = Vec::new();
    for b in &rule.backend_refs {
        let Some(version) = b.name.strip_prefix("reviews-") else {
            return Err(format!(
                "{label} sends traffic to {:?}, not to a per-version reviews Service (reviews-v1 …)",
                b.name
            ));
        };
        let version = version_of(version, "backend")?;
        // Gateway API: a backendRef without a weight has weight 1.
        add_weight(&mut weights, &version, b.weight.unwrap_or(1.0));
    }
    checked_weights(weights, label)
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
        let none = expect_from_yaml("kind: Service\n", "f.yaml", None).unwrap_err();
        assert!(none.to_string().contains("no VirtualService"), "{none}");
        let twice = format!("{WEIGHTED}\n---\n{WEIGHTED}");
        assert!(expect_from_yaml(&twice, "f.yaml", None).is_err());
        let uri = JASON.replace("- headers:", "- uri: {prefix: /}\n          headers:");
        let e = expect_from_yaml(&uri, "f.yaml", Some("jason")).unwrap_err();
        assert!(e.to_string().contains("uri"), "{e}");
        let bad = expect_from_yaml("a: [b", "f.yaml", None).unwrap_err();
        assert!(bad.to_string().contains("not YAML"), "{bad}");
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
