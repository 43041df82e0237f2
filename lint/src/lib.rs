//! `bookinfo lint`: checks across the manifests that no schema sees, like
//! `istioctl analyze` for this tree: subsets exist and select pods, hosts
//! and backends are Services, weights state percentages, ports agree,
//! images are consistent, and every Bookinfo workload is hardened.
//!
//! Routing objects are read by the routing crate, document by document, and
//! every VirtualService and HTTPRoute is compiled by its routing table, so
//! a file that `bookinfo up` would refuse (an unknown field, a bad regex or
//! duration, a negative weight) is an error here too, with the same words.
//! Services and Deployments are read into the few typed fields checked.

mod kube;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bookinfo_routing::load::{Document, Object, read_document};
use bookinfo_routing::model::Destination;
use bookinfo_routing::table::{Subsets, compile_with, short_host};
use serde::Deserialize;

use kube::{Deployment, Service};

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
        ..error(file, object, message)
    }
}

/// The Bookinfo apps, whose workloads follow the sample's conventions.
const BOOKINFO_APPS: [&str; 4] = ["productpage", "details", "reviews", "ratings"];

/// What a document turned out to be.
enum Read {
    Routing(Object),
    Service(Service),
    Deployment(Deployment),
}

struct Doc {
    file: String,
    read: Read,
}

impl Doc {
    fn object(&self) -> String {
        match &self.read {
            Read::Routing(object) => object.key(),
            Read::Service(s) => format!("Service/{}", s.metadata.name),
            Read::Deployment(d) => format!("Deployment/{}", d.metadata.name),
        }
    }
}

/// Every YAML file below `dir`, sorted; symbolic links are not followed, so
/// a link loop cannot recurse forever.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            yaml_files(&path, out);
        } else if kind.is_file()
            && path.extension().is_some_and(|e| e == "yaml" || e == "yml")
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
        read_file(&path, &mut docs, &mut findings);
    }
    Linter::new(&docs).run(&mut findings);
    findings.sort();
    findings
}

fn read_file(path: &Path, docs: &mut Vec<Doc>, findings: &mut Vec<Finding>) {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            findings.push(error(&file, "-", format!("cannot read: {e}")));
            return;
        }
    };
    for (index, document) in serde_norway::Deserializer::from_str(&text).enumerate() {
        let at = format!("document {}", index + 1);
        let value = match serde_norway::Value::deserialize(document) {
            Ok(value) => value,
            Err(e) => {
                findings.push(error(&file, &at, format!("not valid YAML: {e}")));
                continue;
            }
        };
        let read = match read_document(&format!("{file}, {at}"), value.clone()) {
            Ok(Document::Routing(object)) => Read::Routing(*object),
            Ok(Document::Other { kind, .. }) if kind == "Service" => match kube::typed(value) {
                Ok(service) => Read::Service(service),
                Err(e) => {
                    findings.push(error(&file, &at, format!("not a valid Service: {e}")));
                    continue;
                }
            },
            Ok(Document::Other { kind, .. }) if kind == "Deployment" => match kube::typed(value) {
                Ok(deployment) => Read::Deployment(deployment),
                Err(e) => {
                    findings.push(error(&file, &at, format!("not a valid Deployment: {e}")));
                    continue;
                }
            },
            Ok(_) => continue,
            Err(e) => {
                findings.push(error(&file, &at, e.message));
                continue;
            }
        };
        docs.push(Doc {
            file: file.clone(),
            read,
        });
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

impl<'a> Linter<'a> {
    fn new(docs: &'a [Doc]) -> Self {
        let mut services = BTreeMap::new();
        let mut pods = Vec::new();
        let mut subsets = BTreeMap::new();
        for doc in docs {
            match &doc.read {
                Read::Service(service) => {
                    let ports = service.spec.ports.iter().filter_map(|p| p.port).collect();
                    services.insert(
                        service.metadata.name.clone(),
                        (service.spec.selector.clone(), ports),
                    );
                }
                Read::Deployment(deployment) => {
                    let template = &deployment.spec.template;
                    let ports = template
                        .spec
                        .containers
                        .iter()
                        .flat_map(|c| &c.ports)
                        .filter_map(|p| p.container_port)
                        .collect();
                    pods.push((template.metadata.labels.clone(), ports));
                }
                Read::Routing(Object::DestinationRule(dr)) => {
                    let host = short_host(&dr.spec.host);
                    for subset in &dr.spec.subsets {
                        subsets.insert((host.clone(), subset.name.clone()), subset.labels.clone());
                    }
                }
                Read::Routing(_) => {}
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
            match &doc.read {
                Read::Service(service) => self.service(doc, service, findings),
                Read::Deployment(deployment) => deployment_checks(doc, deployment, findings),
                Read::Routing(object) => {
                    self.routing(doc, object, findings);
                    compiled(doc, object, findings);
                }
            }
        }
        self.images(findings);
    }

    fn selects_a_pod(&self, selector: &BTreeMap<String, String>) -> bool {
        self.pods
            .iter()
            .any(|(labels, _)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
    }

    fn service(&self, doc: &Doc, service: &Service, findings: &mut Vec<Finding>) {
        let selector = &service.spec.selector;
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
        for port in &service.spec.ports {
            let Some(target) = port.target_number().or(port.port) else {
                continue;
            };
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
        if self.services.contains_key(&short_host(host)) {
            return true;
        }
        findings.push(error(
            &doc.file,
            &doc.object(),
            format!("{what} host `{host}` is not a Service"),
        ));
        false
    }

    fn routing(&self, doc: &Doc, object: &Object, findings: &mut Vec<Finding>) {
        match object {
            Object::DestinationRule(dr) => {
                let host = &dr.spec.host;
                if !self.host_exists(doc, host, "the", findings) {
                    return;
                }
                let app_selector = &self.services[&short_host(host)].0;
                for subset in &dr.spec.subsets {
                    let mut selector = app_selector.clone();
                    selector.extend(subset.labels.clone());
                    if !self.selects_a_pod(&selector) {
                        findings.push(warning(
                            &doc.file,
                            &doc.object(),
                            format!(
                                "subset `{}` selects no Deployment's pods ({selector:?}); deploy it before routing to it",
                                subset.name
                            ),
                        ));
                    }
                }
            }
            Object::VirtualService(vs) => {
                let gateway_only = !vs.spec.gateways.is_empty();
                for host in &vs.spec.hosts {
                    if host != "*" && !gateway_only {
                        self.host_exists(doc, host, "the", findings);
                    }
                }
                for (i, rule) in vs.spec.http.iter().enumerate() {
                    let at = format!("http[{i}]");
                    for route in &rule.route {
                        self.destination(doc, &route.destination, &at, findings);
                    }
                    if let Some(mirror) = &rule.mirror {
                        self.destination(doc, mirror, &format!("{at}.mirror"), findings);
                    }
                }
            }
            Object::HttpRoute(route) => {
                let service_ref =
                    |name: &str, port: Option<u16>, at: &str, findings: &mut Vec<Finding>| {
                        match self.services.get(name) {
                            None => findings.push(error(
                                &doc.file,
                                &doc.object(),
                                format!("{at} `{name}` is not a Service"),
                            )),
                            Some((_, ports)) => {
                                if let Some(port) = port
                                    && !ports.contains(&i64::from(port))
                                {
                                    findings.push(error(
                                    &doc.file,
                                    &doc.object(),
                                    format!(
                                        "{at} `{name}`: port {port} is not a port of the Service"
                                    ),
                                ));
                                }
                            }
                        }
                    };
                for parent in &route.spec.parent_refs {
                    if parent.kind.as_deref() == Some("Service") {
                        service_ref(&parent.name, parent.port, "parentRef", findings);
                    }
                }
                for (i, rule) in route.spec.rules.iter().enumerate() {
                    for backend in &rule.backend_refs {
                        let at = format!("rules[{i}] backendRef");
                        service_ref(&backend.name, backend.port, &at, findings);
                    }
                }
            }
        }
    }

    fn destination(&self, doc: &Doc, d: &Destination, at: &str, findings: &mut Vec<Finding>) {
        let host = &d.host;
        if !self.host_exists(doc, host, at, findings) {
            return;
        }
        if let Some(subset) = &d.subset {
            match self.subsets.get(&(short_host(host), subset.clone())) {
                None => findings.push(error(
                    &doc.file,
                    &doc.object(),
                    format!("{at}: subset `{subset}` of `{host}` is defined by no DestinationRule"),
                )),
                Some(labels) => {
                    // A route to a version nothing runs answers 503 for
                    // every request it takes.
                    let mut selector = self.services[&short_host(host)].0.clone();
                    selector.extend(labels.clone());
                    if !self.selects_a_pod(&selector) {
                        findings.push(error(
                            &doc.file,
                            &doc.object(),
                            format!(
                                "{at}: subset `{subset}` of `{host}` selects no Deployment's pods ({selector:?}): requests routed there get 503"
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(port) = &d.port
            && !self.services[&short_host(host)]
                .1
                .contains(&i64::from(port.number))
        {
            findings.push(error(
                &doc.file,
                &doc.object(),
                format!(
                    "{at}: port {} is not a port of Service `{host}`",
                    port.number
                ),
            ));
        }
    }

    /// One image per app, one registry and tag across the Bookinfo apps.
    fn images(&self, findings: &mut Vec<Finding>) {
        let mut by_app: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
        for doc in self.docs {
            let Read::Deployment(deployment) = &doc.read else {
                continue;
            };
            let template = &deployment.spec.template;
            let Some(app) = template.metadata.labels.get("app") else {
                continue;
            };
            for container in &template.spec.containers {
                if let Some(image) = &container.image {
                    by_app
                        .entry(app.clone())
                        .or_default()
                        .insert(image.clone(), (doc.file.clone(), doc.object()));
                }
            }
        }
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
            if BOOKINFO_APPS.contains(&app.as_str()) {
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

/// What the data plane's compiler says of a VirtualService or HTTPRoute on
/// its own: its refusals are errors, its warnings (weights that do not state
/// percentages, ...) warnings. Subsets are checked across the tree above,
/// so here they are taken as named after versions.
fn compiled(doc: &Doc, object: &Object, findings: &mut Vec<Finding>) {
    if matches!(object, Object::DestinationRule(_)) {
        return;
    }
    match compile_with(std::slice::from_ref(object), Subsets::NamedAsVersions) {
        Ok(table) => {
            for message in table.warnings {
                findings.push(warning(&doc.file, &doc.object(), message));
            }
        }
        Err(message) => findings.push(error(&doc.file, &doc.object(), message)),
    }
}

/// A Bookinfo workload (app + version labels): named `<app>-<version>`, its
/// container named after the app, port 9080 `http`, `/health` probes,
/// resources, and hardened.
fn deployment_checks(doc: &Doc, deployment: &Deployment, findings: &mut Vec<Finding>) {
    let template = &deployment.spec.template;
    let labels = &template.metadata.labels;
    let (Some(app), Some(version)) = (labels.get("app"), labels.get("version")) else {
        return;
    };
    let mut problem = |message: String| findings.push(error(&doc.file, &doc.object(), message));
    let pod = &template.spec;
    if deployment.metadata.name != format!("{app}-{version}") {
        problem(format!("name is not `{app}-{version}` (<app>-<version>)"));
    }
    if pod.security_context.run_as_non_root != Some(true) {
        problem("pod does not set runAsNonRoot: true".into());
    }
    if pod.security_context.seccomp_profile.kind.as_deref() != Some("RuntimeDefault") {
        problem("pod does not use the RuntimeDefault seccomp profile".into());
    }
    if pod.automount_service_account_token != Some(false) {
        problem("pod mounts a service account token it does not need".into());
    }
    for container in &pod.containers {
        let name = &container.name;
        if BOOKINFO_APPS.contains(&app.as_str()) {
            if name != app {
                problem(format!(
                    "container `{name}` is not named after the app `{app}`"
                ));
            }
            let has_http = container
                .ports
                .iter()
                .any(|p| p.container_port == Some(9080) && p.name.as_deref() == Some("http"));
            if !has_http {
                problem(format!(
                    "container `{name}` has no containerPort 9080 named http"
                ));
            }
            for (probe, which) in [
                (&container.readiness_probe, "readinessProbe"),
                (&container.liveness_probe, "livenessProbe"),
            ] {
                if probe.http_get.path.as_deref() != Some("/health") {
                    problem(format!("container `{name}` has no {which} on /health"));
                }
            }
        }
        let sc = &container.security_context;
        let drops_all = sc.capabilities.drop.iter().any(|c| c == "ALL");
        if sc.allow_privilege_escalation != Some(false)
            || sc.read_only_root_filesystem != Some(true)
            || !drops_all
        {
            problem(format!(
                "container `{name}` is not hardened (allowPrivilegeEscalation false, readOnlyRootFilesystem true, drop ALL)"
            ));
        }
        if container.env.iter().any(|e| e.name == "HOSTNAME") {
            problem(format!(
                "container `{name}` sets HOSTNAME, which Kubernetes sets to the pod name"
            ));
        }
        if container.resources.requests.is_none() || container.resources.limits.is_none() {
            problem(format!(
                "container `{name}` has no resource requests and limits"
            ));
        }
    }
}
