//! A canary job and the VirtualService of each of its steps. The job's
//! state is written in the VirtualService's annotations (the stable
//! version, the canary, the step, and the VirtualService the job replaced),
//! so it is read back from the routing objects in force.

use serde_json::{Map, Value, json};

/// The annotations' prefix.
const PREFIX: &str = "canary.bookinfo.io/";
const STABLE: &str = "canary.bookinfo.io/stable";
const CANARY: &str = "canary.bookinfo.io/canary";
const STEP: &str = "canary.bookinfo.io/step";
/// The VirtualService in force when the job was created (JSON), or empty
/// when there was none: what a rollback restores.
const START: &str = "canary.bookinfo.io/start";
/// `workload` when the job created the canary's workload (a Deployment
/// from `create --image`), which a rollback then removes.
const CREATED: &str = "canary.bookinfo.io/created";

/// What the job routes at the moment.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Every request to the stable version (the job just created).
    Created,
    /// Per-request weights, summing to 100.
    Weights(Vec<(String, u32)>),
    /// Requests matching `rule` to the canary, others to stable.
    Match(Rule),
    /// Every request to stable, `percent` of them copied to the canary.
    Mirror(f64),
    /// Every request to one version (blue-green switch, take-over).
    All(String),
}

/// Request content that selects the canary (the console's rules: header,
/// cookie, URI; its operating-system and browser rules are User-Agent
/// patterns).
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Header { name: String, value: String },
    Cookie { name: String, value: String },
    UriPrefix(String),
    UserAgent(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub service: String,
    pub stable: String,
    pub canary: String,
    pub step: Step,
    /// The VirtualService the job replaced (without the job's marks).
    pub start: Option<Value>,
    /// The job created the canary's workload.
    pub created: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JobError {
    #[error("weights must sum to 100, not {0}")]
    WeightSum(u64),
    #[error("`{0}` is not VERSION=WEIGHT (e.g. v2=30)")]
    BadWeight(String),
    #[error("version `{version}` is neither the job's stable ({stable}) nor its canary ({canary})")]
    NotInJob {
        version: String,
        stable: String,
        canary: String,
    },
    #[error("a mirror percentage must be within 0..100, not {0}")]
    BadPercent(f64),
    #[error("`{0}` is not NAME=VALUE")]
    BadPair(String),
    #[error("the VirtualService's canary annotations are damaged: {0}")]
    Damaged(String),
}

/// `v1=30` pairs as weights summing to 100.
pub fn parse_weights(pairs: &[String]) -> Result<Vec<(String, u32)>, JobError> {
    let mut weights = Vec::new();
    for pair in pairs {
        let (version, weight) = pair
            .split_once('=')
            .filter(|(v, _)| !v.is_empty())
            .ok_or_else(|| JobError::BadWeight(pair.clone()))?;
        let weight: u32 = weight
            .parse()
            .map_err(|_| JobError::BadWeight(pair.clone()))?;
        weights.push((version.to_owned(), weight));
    }
    let sum: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    if sum != 100 {
        return Err(JobError::WeightSum(sum));
    }
    Ok(weights)
}

/// `NAME=VALUE` as its two parts.
pub fn parse_pair(text: &str) -> Result<(String, String), JobError> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .ok_or_else(|| JobError::BadPair(text.to_owned()))
}

impl Job {
    /// `version` if it is one of the job's two.
    pub fn check_version(&self, version: &str) -> Result<(), JobError> {
        if version == self.stable || version == self.canary {
            return Ok(());
        }
        Err(JobError::NotInJob {
            version: version.to_owned(),
            stable: self.stable.clone(),
            canary: self.canary.clone(),
        })
    }

    /// This job at another step, its versions checked.
    pub fn at(&self, step: Step) -> Result<Job, JobError> {
        match &step {
            Step::Weights(weights) => {
                for (version, _) in weights {
                    self.check_version(version)?;
                }
            }
            Step::All(version) => self.check_version(version)?,
            Step::Mirror(percent) if !(0.0..=100.0).contains(percent) => {
                return Err(JobError::BadPercent(*percent));
            }
            _ => {}
        }
        Ok(Job {
            step,
            ..self.clone()
        })
    }

    fn destination(&self, version: &str) -> Value {
        json!({"destination": {"host": self.service, "subset": version}})
    }

    /// The VirtualService of this step, with the job in its annotations.
    pub fn virtual_service(&self) -> Value {
        let stable = vec![self.destination(&self.stable)];
        let http = match &self.step {
            Step::Created => json!([{"route": stable}]),
            Step::All(version) => json!([{"route": [self.destination(version)]}]),
            Step::Weights(weights) => {
                let route: Vec<Value> = weights
                    .iter()
                    .map(|(version, weight)| {
                        let mut d = self.destination(version);
                        d["weight"] = json!(weight);
                        d
                    })
                    .collect();
                json!([{"route": route}])
            }
            Step::Match(rule) => json!([
                {"match": [match_request(rule)], "route": [self.destination(&self.canary)]},
                {"route": stable},
            ]),
            Step::Mirror(percent) => json!([{
                "route": stable,
                "mirror": {"host": self.service, "subset": self.canary},
                "mirrorPercentage": {"value": percent},
            }]),
        };
        let start = self
            .start
            .as_ref()
            .map_or_else(String::new, Value::to_string);
        let mut annotations = json!({
            STABLE: self.stable,
            CANARY: self.canary,
            STEP: step_text(&self.step),
            START: start,
        });
        if self.created {
            annotations[CREATED] = json!("workload");
        }
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": self.service, "annotations": annotations},
            "spec": {"hosts": [self.service], "http": http},
        })
    }

    /// The job a VirtualService (as the admin endpoint lists it) carries,
    /// if it carries one.
    pub fn from_virtual_service(object: &Value) -> Result<Option<Job>, JobError> {
        let annotations = &object["metadata"]["annotations"];
        let text = |key: &str| annotations[key].as_str().map(str::to_owned);
        let (Some(stable), Some(canary)) = (text(STABLE), text(CANARY)) else {
            return Ok(None);
        };
        let service = object["metadata"]["name"]
            .as_str()
            .ok_or_else(|| JobError::Damaged("no name".into()))?
            .to_owned();
        let start = match text(START).as_deref() {
            None | Some("") => None,
            Some(json) => Some(
                serde_json::from_str(json)
                    .map_err(|e| JobError::Damaged(format!("{START}: {e}")))?,
            ),
        };
        let step = parse_step(&text(STEP).unwrap_or_default())?;
        Ok(Some(Job {
            service,
            stable,
            canary,
            step,
            start,
            created: text(CREATED).as_deref() == Some("workload"),
        }))
    }
}

/// A VirtualService as the job found it: without the job's annotations.
pub fn without_marks(object: &Value) -> Value {
    let mut object = object.clone();
    // `get_mut`, not indexing: indexing would add a null `annotations`.
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return object;
    };
    if let Some(annotations) = metadata
        .get_mut("annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.retain(|key, _| !key.starts_with(PREFIX));
    }
    let empty = metadata
        .get("annotations")
        .is_some_and(|a| a.as_object().is_none_or(Map::is_empty));
    if empty {
        metadata.remove("annotations");
    }
    object
}

/// Istio's `HTTPMatchRequest` for a rule.
fn match_request(rule: &Rule) -> Value {
    match rule {
        Rule::Header { name, value } => json!({"headers": {name: {"exact": value}}}),
        // The cookie named, among any others on the Cookie header.
        Rule::Cookie { name, value } => json!({"headers": {"cookie": {
            "regex": format!("^(.*?;\\s*)?{}={}(;.*)?$", regex_escape(name), regex_escape(value)),
        }}}),
        Rule::UriPrefix(prefix) => json!({"uri": {"prefix": prefix}}),
        Rule::UserAgent(pattern) => json!({"headers": {"user-agent": {"regex": pattern}}}),
    }
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The step as one line (`weights v1=30 v2=70`), for the annotation and
/// for `status`.
pub fn step_text(step: &Step) -> String {
    match step {
        Step::Created => "created".into(),
        Step::All(version) => format!("all {version}"),
        Step::Weights(weights) => {
            let pairs: Vec<String> = weights.iter().map(|(v, w)| format!("{v}={w}")).collect();
            format!("weights {}", pairs.join(" "))
        }
        Step::Mirror(percent) => format!("mirror {percent}"),
        Step::Match(Rule::Header { name, value }) => format!("match header {name}={value}"),
        Step::Match(Rule::Cookie { name, value }) => format!("match cookie {name}={value}"),
        Step::Match(Rule::UriPrefix(prefix)) => format!("match uri-prefix {prefix}"),
        Step::Match(Rule::UserAgent(pattern)) => format!("match user-agent {pattern}"),
    }
}

fn parse_step(text: &str) -> Result<Step, JobError> {
    let damaged = || JobError::Damaged(format!("{STEP}: `{text}`"));
    let (kind, rest) = text.split_once(' ').unwrap_or((text, ""));
    Ok(match kind {
        "created" => Step::Created,
        "all" if !rest.is_empty() => Step::All(rest.to_owned()),
        "weights" => {
            let pairs: Vec<String> = rest.split(' ').map(str::to_owned).collect();
            Step::Weights(parse_weights(&pairs).map_err(|_| damaged())?)
        }
        "mirror" => Step::Mirror(rest.parse().map_err(|_| damaged())?),
        "match" => {
            let (what, value) = rest.split_once(' ').ok_or_else(damaged)?;
            match what {
                "header" | "cookie" => {
                    let (name, value) = parse_pair(value).map_err(|_| damaged())?;
                    if what == "header" {
                        Step::Match(Rule::Header { name, value })
                    } else {
                        Step::Match(Rule::Cookie { name, value })
                    }
                }
                "uri-prefix" => Step::Match(Rule::UriPrefix(value.to_owned())),
                "user-agent" => Step::Match(Rule::UserAgent(value.to_owned())),
                _ => return Err(damaged()),
            }
        }
        _ => return Err(damaged()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn job(step: Step) -> Job {
        Job {
            service: "reviews".into(),
            stable: "v1".into(),
            canary: "v2".into(),
            step,
            start: Some(json!({"kind": "VirtualService", "metadata": {"name": "reviews"}})),
            created: false,
        }
    }

    #[test]
    fn every_step_survives_its_annotations() {
        for step in [
            Step::Created,
            Step::All("v2".into()),
            Step::Weights(vec![("v1".into(), 30), ("v2".into(), 70)]),
            Step::Mirror(25.0),
            Step::Match(Rule::Header {
                name: "end-user".into(),
                value: "jason".into(),
            }),
            Step::Match(Rule::Cookie {
                name: "canary".into(),
                value: "yes".into(),
            }),
            Step::Match(Rule::UriPrefix("/api".into())),
            Step::Match(Rule::UserAgent(".*Android.*".into())),
        ] {
            for created in [false, true] {
                let original = Job {
                    created,
                    ..job(step.clone())
                };
                let read = Job::from_virtual_service(&original.virtual_service()).unwrap();
                assert_eq!(read, Some(original));
            }
        }
        assert_eq!(
            Job::from_virtual_service(&json!({"metadata": {}})),
            Ok(None)
        );
    }

    #[test]
    fn weights_must_sum_to_100_and_name_the_jobs_versions() {
        let pairs = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_weights(&pairs(&["v1=30", "v2=60"])),
            Err(JobError::WeightSum(90))
        );
        assert!(matches!(
            parse_weights(&pairs(&["v1=x"])),
            Err(JobError::BadWeight(_))
        ));
        let weights = parse_weights(&pairs(&["v1=30", "v3=70"])).unwrap();
        assert!(matches!(
            job(Step::Created).at(Step::Weights(weights)),
            Err(JobError::NotInJob { .. })
        ));
        assert!(job(Step::Created).at(Step::Mirror(101.0)).is_err());
    }

    #[test]
    fn the_marks_come_off_for_a_rollback() {
        let marked = job(Step::Created).virtual_service();
        assert!(
            without_marks(&marked)["metadata"]
                .get("annotations")
                .is_none()
        );
    }
}
