//! The live topology of the app, as the admin endpoint shows it (`GET /`,
//! a page; `GET /topology`, what it reads each second): the workloads as
//! nodes, who called whom as edges with their requests per second, success
//! rate and p50/p99 over the plane's sliding window, the routing in force
//! and its epoch, and the reviews split observed against the configured one.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::plane::{self, Plane};
use crate::stats::{WINDOW_SECONDS, workload_name};

/// The page: one file with its own style and script.
pub const PAGE: &str = include_str!("topology.html");

/// The service whose split the page compares with its weights (the one the
/// tutorial's canary shifts).
const SPLIT_SERVICE: &str = "reviews";

/// What the page shows, now.
pub fn snapshot(plane: &Plane) -> Value {
    let stats = plane.stats();
    let mut nodes: BTreeMap<String, Value> = BTreeMap::new();
    nodes.insert(
        "unknown".into(),
        json!({"id": "unknown", "app": "unknown", "version": "unknown"}),
    );
    for instance in plane.instances() {
        let id = workload_name(instance);
        let version = instance.labels.get("version").cloned().unwrap_or_default();
        nodes.insert(
            id.clone(),
            json!({"id": id, "app": instance.app, "version": version}),
        );
    }
    let mut observed: BTreeMap<String, u64> = BTreeMap::new();
    let edges: Vec<Value> = stats
        .window()
        .into_iter()
        .map(|(edge, figures)| {
            let host = &stats.hosts()[edge.host];
            let (source, ..) = stats.workload(edge.source);
            // A request no instance answered ends at the service itself.
            let destination = match edge.destination {
                Some(_) => stats.workload(edge.destination).0.to_owned(),
                None => {
                    nodes.entry(host.clone()).or_insert_with(
                        || json!({"id": host, "app": host, "version": "none reached"}),
                    );
                    host.clone()
                }
            };
            if host == SPLIT_SERVICE && edge.destination.is_some() {
                let (_, _, version) = stats.workload(edge.destination);
                *observed.entry(version.to_owned()).or_default() += figures.requests;
            }
            json!({
                "source": source,
                "destination": destination,
                "service": host,
                "requests": figures.requests,
                "per_second": figures.per_second,
                "success_rate": figures.success_rate,
                "p50_ms": figures.p50_ms,
                "p99_ms": figures.p99_ms,
            })
        })
        .collect();
    let shares = plane::shares(&plane.table());
    let total: u64 = observed.values().sum();
    let observed: BTreeMap<String, f64> = observed
        .into_iter()
        .map(|(version, n)| (version, n as f64 / total.max(1) as f64))
        .collect();
    json!({
        "epoch": plane.epoch(),
        "window_seconds": WINDOW_SECONDS,
        "nodes": nodes.into_values().collect::<Vec<_>>(),
        "edges": edges,
        "routing": shares,
        "split": {
            "service": SPLIT_SERVICE,
            "configured": shares.get(SPLIT_SERVICE),
            "observed": observed,
            "requests": total,
        },
    })
}
