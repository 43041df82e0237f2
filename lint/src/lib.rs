//! `bookinfo lint`: checks across the manifests that no schema sees, like
//! `istioctl analyze` for this tree: subsets exist and select pods, hosts
//! and backends are Services, weights state percentages, ports agree,
//! images are consistent, and every Bookinfo workload is hardened.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

/// One finding, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub error: bool,
    pub file: String,
    pub object: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = if self.error { "error" } else { "warning" };
        write!(
            f,
            "{level}: {}: {}: {}",
            self.file, self.object, self.message
        )
    }
}

struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"]
            .as_str()
            .unwrap_or("<unnamed>")
    }
    fn object(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
}

fn str_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_mapping()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn list(value: &Value) -> &[Value] {
    value.as_sequence().map_or(&[], Vec::as_slice)
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && path.file_stem().is_some_and(|s| s != "kustomization")
        {
            out.push(path);
        }
    }
}

/// Lints every manifest under `roots` (e.g. `k8s` and `istio`).
pub fn lint(roots: &[PathBuf]) -> Vec<Finding> {
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            yaml_files(root, &mut files);
        } else {
            files.push(root.clone());
        }
    }
    let mut findings = Vec::new();
    let mut docs = Vec::new();
    for path in files {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                findings.push(error(&file, "-", format!("cannot read: {e}")));
                continue;
            }
        };
        for document in serde_norway::Deserializer::from_str(&text) {
            match <Value as serde::Deserialize>::deserialize(document) {
                Ok(Value::Null) => {}
                Ok(value) => docs.push(Doc {
                    file: file.clone(),
                    value,
                }),
                Err(e) => findings.push(error(&file, "-", format!("not valid YAML: {e}"))),
            }
        }
    }
    Linter::new(&docs).run(&mut findings);
    findings.sort();
    findings
}

fn error(file: &str, object: &str, message: String) -> Finding {
    Finding {
        error: true,
        file: file.to_owned(),
        object: object.to_owned(),
        message,
    }
}

fn warning(file: &str, object: &str, message: String) -> Finding {
    Finding {
        error: false,
        file: file.to_owned(),
        object: object.to_owned(),
        message,
    }
}

struct Linter<'a> {
    docs: &'a [Doc],
    /// Service name -> (selector, ports).
    services: BTreeMap<String, (BTreeMap<String, String>, BTreeSet<i64>)>,
    /// Pod labels of every Deployment, with its container ports.
    pods: Vec<(BTreeMap<String, String>, BTreeSet<i64>)>,
    /// (host, subset) -> labels.
    subsets: BTreeMap<(String, String), BTreeMap<String, String>>,
}

fn short(host: &str) -> String {
    host.split('.').next().unwrap_or(host).to_owned()
}

impl<'a> Linter<'a> {
    fn new(docs: &'a [Doc]) -> Self {
        let mut services = BTreeMap::new();
        let mut pods = Vec::new();
        let mut subsets = BTreeMap::new();
        for doc in docs {
            let spec = &doc.value["spec"];
            match doc.kind() {
                "Service" => {
                    let ports = list(&spec["ports"])
                        .iter()
                        .filter_map(|p| p["port"].as_i64())
                        .collect();
                    services.insert(doc.name().to_owned(), (str_map(&spec["selector"]), ports));
                }
                "Deployment" => {
                    let template = &spec["template"];
                    let ports = list(&template["spec"]["containers"])
                        .iter()
                        .flat_map(|c| list(&c["ports"]))
                        .filter_map(|p| p["containerPort"].as_i64())
                        .collect();
                    pods.push((str_map(&template["metadata"]["labels"]), ports));
                }
                "DestinationRule" => {
                    let host = short(spec["host"].as_str().unwrap_or(""));
                    for subset in list(&spec["subsets"]) {
                        let name = subset["name"].as_str().unwrap_or("").to_owned();
                        subsets.insert((host.clone(), name), str_map(&subset["labels"]));
                    }
                }
                _ => {}
            }
        }
        Self {
            docs,
            services,
            pods,
            subsets,
        }
    }

    fn run(&self, findings: &mut Vec<Finding>) {
        for doc in self.docs {
            match doc.kind() {
                "Service" => self.service(doc, findings),
                "Deployment" => self.deployment(doc, findings),
                "DestinationRule" => self.destination_rule(doc, findings),
                "VirtualService" => self.virtual_service(doc, findings),
                "HTTPRoute" => self.http_route(doc, findings),
                _ => {}
            }
        }
        self.images(findings);
    }

    fn selects_a_pod(&self, selector: &BTreeMap<String, String>) -> bool {
        self.pods
            .iter()
            .any(|(labels, _)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
    }

    fn service(&self, doc: &Doc, findings: &mut Vec<Finding>) {
        let (selector, _) = &self.services[doc.name()];
        if selector.is_empty() {
            return;
        }
        if !self.selects_a_pod(selector) {
            findings.push(error(
                &doc.file,
                &doc.object(),
                format!("selector {selector:?} matches no Deployment's pods"),
            ));
            return;
        }
        // The port the Service sends to must be one the selected pods open.
        for port in list(&doc.value["spec"]["ports"]) {
            let target = port["targetPort"].as_i64().or(port["port"].as_i64());
            let Some(target) = target else { continue };
            let open = self.pods.iter().any(|(labels, ports)| {
                selector.iter().all(|(k, v)| labels.get(k) == Some(v)) && ports.contains(&target)
            });
            if !open {
                findings.push(error(
                    &doc.file,
                    &doc.object(),
                    format!("port {target} is not a containerPort of the pods it selects"),
                ));
            }
        }
    }

    fn host_exists(&self, doc: &Doc, host: &str, what: &str, findings: &mut Vec<Finding>) -> bool {
        if self.services.contains_key(&short(host)) {
            return true;
        }
        findings.push(error(
            &doc.file,
            &doc.object(),
            format!("{what} host `{host}` is not a Service"),
        ));
        false
    }

    fn destination_rule(&self, doc: &Doc, findings: &mut Vec<Finding>) {
        let spec = &doc.value["spec"];
        let host = spec["host"].as_str().unwrap_or("");
        if !self.host_exists(doc, host, "the", findings) {
            return;
        }
        let app_selector = &self.services[&short(host)].0;
        for subset in list(&spec["subsets"]) {
            let mut selector = app_selector.clone();
            selector.extend(str_map(&subset["labels"]));
            let name = subset["name"].as_str().unwrap_or("");
            if !self.selects_a_pod(&selector) {
                findings.push(warning(
                    &doc.file,
                    &doc.object(),
                    format!("subset `{name}` selects no Deployment's pods ({selector:?}); deploy it before routing to it"),
                ));
            }
        }
    }

    fn destination(&self, doc: &Doc, d: &Value, at: &str, findings: &mut Vec<Finding>) {
        let host = d["host"].as_str().unwrap_or("");
        if !self.host_exists(doc, host, at, findings) {
            return;
        }
        if let Some(subset) = d["subset"].as_str()
            && !self.subsets.contains_key(&(short(host), subset.to_owned()))
        {
            findings.push(error(
                &doc.file,
                &doc.object(),
                format!("{at}: subset `{subset}` of `{host}` is defined by no DestinationRule"),
            ));
        }
        if let Some(port) = d["port"]["number"].as_i64()
            && !self.services[&short(host)].1.contains(&port)
        {
            findings.push(error(
                &doc.file,
                &doc.object(),
                format!("{at}: port {port} is not a port of Service `{host}`"),
            ));
        }
    }

    fn weights(&self, doc: &Doc, weights: &[Option<i64>], at: &str, findings: &mut Vec<Finding>) {
        if weights.len() < 2 {
            return;
        }
        let sum: i64 = weights.iter().map(|w| w.unwrap_or(0)).sum();
        if weights.iter().any(|w| w.is_some_and(|w| w < 0)) || sum == 0 {
            findings.push(error(
                &doc.file,
                &doc.object(),
                format!("{at}: weights {weights:?} are negative or all zero"),
            ));
        } else if sum != 100 || weights.iter().any(Option::is_none) {
            findings.push(warning(
                &doc.file,
                &doc.object(),
                format!("{at}: weights sum to {sum}, not 100 (Istio takes them as relative; shipped files state percentages)"),
            ));
        }
    }

    fn virtual_service(&self, doc: &Doc, findings: &mut Vec<Finding>) {
        let spec = &doc.value["spec"];
        let gateway_only = !list(&spec["gateways"]).is_empty();
        for host in list(&spec["hosts"]).iter().filter_map(Value::as_str) {
            if host != "*" && !gateway_only {
                self.host_exists(doc, host, "the", findings);
            }
        }
        for (i, rule) in list(&spec["http"]).iter().enumerate() {
            let at = format!("http[{i}]");
            let routes = list(&rule["route"]);
            for route in routes {
                self.destination(doc, &route["destination"], &at, findings);
            }
            if !rule["mirror"].is_null() {
                self.destination(doc, &rule["mirror"], &format!("{at}.mirror"), findings);
            }
            let weights: Vec<Option<i64>> = routes.iter().map(|r| r["weight"].as_i64()).collect();
            self.weights(doc, &weights, &at, findings);
        }
    }

    fn http_route(&self, doc: &Doc, findings: &mut Vec<Finding>) {
        let spec = &doc.value["spec"];
        let service_ref = |r: &Value, at: &str, findings: &mut Vec<Finding>| {
            let name = r["name"].as_str().unwrap_or("");
            match self.services.get(name) {
                None => findings.push(error(
                    &doc.file,
                    &doc.object(),
                    format!("{at} `{name}` is not a Service"),
                )),
                Some((_, ports)) => {
                    if let Some(port) = r["port"].as_i64()
                        && !ports.contains(&port)
                    {
                        findings.push(error(
                            &doc.file,
                            &doc.object(),
                            format!("{at} `{name}`: port {port} is not a port of the Service"),
                        ));
                    }
                }
            }
        };
        for parent in list(&spec["parentRefs"]) {
            if parent["kind"].as_str() == Some("Service") {
                service_ref(parent, "parentRef", findings);
            }
        }
        for (i, rule) in list(&spec["rules"]).iter().enumerate() {
            let refs = list(&rule["backendRefs"]);
            for backend in refs {
                service_ref(backend, &format!("rules[{i}] backendRef"), findings);
            }
            let weights: Vec<Option<i64>> = refs.iter().map(|r| r["weight"].as_i64()).collect();
            self.weights(doc, &weights, &format!("rules[{i}]"), findings);
        }
    }

    /// A Bookinfo workload (app + version labels): named `<app>-<version>`,
    /// its container named after the app, port 9080 `http`, `/health` probes,
    /// resources, and hardened.
    fn deployment(&self, doc: &Doc, findings: &mut Vec<Finding>) {
        let labels = str_map(&doc.value["spec"]["template"]["metadata"]["labels"]);
        let (Some(app), Some(version)) = (labels.get("app"), labels.get("version")) else {
            return;
        };
        let mut problem = |message: String| findings.push(error(&doc.file, &doc.object(), message));
        let pod = &doc.value["spec"]["template"]["spec"];
        if doc.name() != format!("{app}-{version}") {
            problem(format!("name is not `{app}-{version}` (<app>-<version>)"));
        }
        let security = &pod["securityContext"];
        if security["runAsNonRoot"].as_bool() != Some(true) {
            problem("pod does not set runAsNonRoot: true".into());
        }
        if security["seccompProfile"]["type"].as_str() != Some("RuntimeDefault") {
            problem("pod does not use the RuntimeDefault seccomp profile".into());
        }
        if pod["automountServiceAccountToken"].as_bool() != Some(false) {
            problem("pod mounts a service account token it does not need".into());
        }
        for container in list(&pod["containers"]) {
            let name = container["name"].as_str().unwrap_or("");
            if ["productpage", "details", "reviews", "ratings"].contains(&app.as_str()) {
                if name != app {
                    problem(format!(
                        "container `{name}` is not named after the app `{app}`"
                    ));
                }
                let has_http = list(&container["ports"]).iter().any(|p| {
                    p["containerPort"].as_i64() == Some(9080) && p["name"].as_str() == Some("http")
                });
                if !has_http {
                    problem(format!(
                        "container `{name}` has no containerPort 9080 named http"
                    ));
                }
                for probe in ["readinessProbe", "livenessProbe"] {
                    if container[probe]["httpGet"]["path"].as_str() != Some("/health") {
                        problem(format!("container `{name}` has no {probe} on /health"));
                    }
                }
            }
            let sc = &container["securityContext"];
            let drops_all = list(&sc["capabilities"]["drop"])
                .iter()
                .any(|c| c.as_str() == Some("ALL"));
            if sc["allowPrivilegeEscalation"].as_bool() != Some(false)
                || sc["readOnlyRootFilesystem"].as_bool() != Some(true)
                || !drops_all
            {
                problem(format!(
                    "container `{name}` is not hardened (allowPrivilegeEscalation false, readOnlyRootFilesystem true, drop ALL)"
                ));
            }
            if list(&container["env"])
                .iter()
                .any(|e| e["name"].as_str() == Some("HOSTNAME"))
            {
                problem(format!(
                    "container `{name}` sets HOSTNAME, which Kubernetes sets to the pod name"
                ));
            }
            if container["resources"]["requests"].is_null()
                || container["resources"]["limits"].is_null()
            {
                problem(format!(
                    "container `{name}` has no resource requests and limits"
                ));
            }
        }
    }

    /// One image per app, one registry and tag across the Bookinfo apps.
    fn images(&self, findings: &mut Vec<Finding>) {
        let mut by_app: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
        for doc in self.docs.iter().filter(|d| d.kind() == "Deployment") {
            let labels = str_map(&doc.value["spec"]["template"]["metadata"]["labels"]);
            let Some(app) = labels.get("app") else {
                continue;
            };
            for container in list(&doc.value["spec"]["template"]["spec"]["containers"]) {
                if let Some(image) = container["image"].as_str() {
                    by_app
                        .entry(app.clone())
                        .or_default()
                        .insert(image.to_owned(), (doc.file.clone(), doc.object()));
                }
            }
        }
        let bookinfo = ["productpage", "details", "reviews", "ratings"];
        let mut tags = BTreeMap::new();
        for (app, images) in &by_app {
            if images.len() > 1 {
                let (file, object) = images.values().next().cloned().unwrap_or_default();
                let list: Vec<&String> = images.keys().collect();
                findings.push(error(
                    &file,
                    &object,
                    format!("app `{app}` runs different images: {list:?}"),
                ));
            }
            if bookinfo.contains(&app.as_str()) {
                for (image, place) in images {
                    let (repo, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
                    let registry = repo.rsplit_once('/').map_or("", |(r, _)| r);
                    tags.insert(format!("{registry}:{tag}"), place.clone());
                }
            }
        }
        if tags.len() > 1 {
            let (file, object) = tags.values().next().cloned().unwrap_or_default();
            let list: Vec<&String> = tags.keys().collect();
            findings.push(error(
                &file,
                &object,
                format!("the Bookinfo images mix registries or tags: {list:?}"),
            ));
        }
    }
}
