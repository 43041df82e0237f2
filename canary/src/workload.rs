//! The objects `create` adds besides the VirtualService, rendered from what
//! is there (pure): the canary's Deployment, copied from the stable
//! version's with the version label and the image changed, and the
//! canary's DestinationRule subset.

use serde_json::{Value, json};

/// Fields the API server sets, removed before an object read back is
/// applied again (`kubectl apply` would otherwise carry a stale
/// `resourceVersion` or a `status` into the request).
const SERVER_FIELDS: [&str; 6] = [
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
];
/// Annotations the server or `kubectl` writes.
const SERVER_ANNOTATIONS: [&str; 2] = [
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/last-applied-configuration",
];

/// `object` without what the server wrote into it.
pub(crate) fn clean(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_FIELDS {
            metadata.remove(field);
        }
        if let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        {
            for key in SERVER_ANNOTATIONS {
                annotations.remove(key);
            }
        }
    }
    object
}

fn set_version(labels: &mut Value, version: &str) {
    if labels.is_object() {
        labels["version"] = json!(version);
    }
}

/// The Deployment of `version` of `service`: the stable one's, named
/// `SERVICE-VERSION`, its `version` labels (the Deployment's, the
/// selector's, the pods') set to `version`, every container's image set to
/// `image`, and a `SERVICE_VERSION` variable, where a container has one,
/// set to `version` (how our images name their version).
pub(crate) fn canary_deployment(
    stable: &Value,
    service: &str,
    version: &str,
    image: &str,
) -> Value {
    let mut deployment = clean(stable);
    deployment["metadata"]["name"] = json!(format!("{service}-{version}"));
    set_version(&mut deployment["metadata"]["labels"], version);
    set_version(&mut deployment["spec"]["selector"]["matchLabels"], version);
    set_version(
        &mut deployment["spec"]["template"]["metadata"]["labels"],
        version,
    );
    if let Some(containers) = deployment["spec"]["template"]["spec"]["containers"].as_array_mut() {
        for container in containers {
            container["image"] = json!(image);
            for variable in container["env"].as_array_mut().into_iter().flatten() {
                if variable["name"] == "SERVICE_VERSION" {
                    variable["value"] = json!(version);
                }
            }
        }
    }
    deployment
}

/// `rule` with a subset `version` selecting the pods labelled with it.
pub(crate) fn with_subset(rule: &Value, version: &str) -> Value {
    let mut rule = clean(rule);
    let subset = json!({"name": version, "labels": {"version": version}});
    match rule["spec"]["subsets"].as_array_mut() {
        Some(subsets) => subsets.push(subset),
        None => rule["spec"]["subsets"] = json!([subset]),
    }
    rule
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stable() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "reviews-v1", "labels": {"app": "reviews", "version": "v1"},
                "resourceVersion": "77", "uid": "u", "generation": 3,
                "annotations": {"deployment.kubernetes.io/revision": "2", "team": "books"}},
            "spec": {
                "selector": {"matchLabels": {"app": "reviews", "version": "v1"}},
                "template": {
                    "metadata": {"labels": {"app": "reviews", "version": "v1"}},
                    "spec": {"containers": [{"name": "reviews", "image": "old:1",
                        "env": [{"name": "SERVICE_VERSION", "value": "v1"}, {"name": "X", "value": "v1"}]}]},
                },
            },
            "status": {"replicas": 1},
        })
    }

    #[test]
    fn the_canary_deployment_is_the_stable_one_renamed_relabelled_and_reimaged() {
        let d = canary_deployment(&stable(), "reviews", "v4", "new:2");
        assert_eq!(d["metadata"]["name"], "reviews-v4");
        assert_eq!(d["metadata"]["labels"]["version"], "v4");
        assert_eq!(d["spec"]["selector"]["matchLabels"]["version"], "v4");
        assert_eq!(d["spec"]["template"]["metadata"]["labels"]["version"], "v4");
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "new:2");
        assert_eq!(container["env"][0]["value"], "v4");
        assert_eq!(container["env"][1]["value"], "v1", "other variables kept");
        assert!(d.get("status").is_none() && d["metadata"].get("resourceVersion").is_none());
        assert_eq!(
            d["metadata"]["annotations"],
            json!({"team": "books"}),
            "the server's annotations go, the user's stay"
        );
    }

    #[test]
    fn a_subset_is_added_to_the_rule() {
        let rule = json!({"kind": "DestinationRule", "metadata": {"name": "reviews"},
            "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}});
        let added = with_subset(&rule, "v4");
        assert_eq!(
            added["spec"]["subsets"][1],
            json!({"name": "v4", "labels": {"version": "v4"}})
        );
        let bare = json!({"kind": "DestinationRule", "spec": {"host": "reviews"}});
        assert_eq!(with_subset(&bare, "v2")["spec"]["subsets"][0]["name"], "v2");
    }
}
