use std::path::{Path, PathBuf};

use bookinfo_lint::{Finding, lint};

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// Lints the shipped Deployments, Services and destination rules plus one
/// broken fixture.
fn lint_with(fixture: &str) -> Vec<Finding> {
    lint(&[
        repo("k8s/bookinfo.yaml"),
        repo("k8s/bookinfo-versions.yaml"),
        repo("istio/destination-rule-all.yaml"),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/lint")
            .join(fixture),
    ])
}

fn assert_finds(findings: &[Finding], error: bool, needle: &str) {
    assert!(
        findings
            .iter()
            .any(|f| f.error == error && f.to_string().contains(needle)),
        "no {} containing {needle:?} in {findings:#?}",
        if error { "error" } else { "warning" }
    );
}

#[test]
fn the_shipped_manifests_have_no_errors() {
    let findings = lint(&[repo("k8s"), repo("istio")]);
    let errors: Vec<_> = findings.iter().filter(|f| f.error).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_subset_no_destination_rule_defines_is_an_error() {
    assert_finds(
        &lint_with("missing-subset.yaml"),
        true,
        "VirtualService/reviews: http[0]: subset `v9` of `reviews` is defined by no DestinationRule",
    );
}

#[test]
fn a_route_to_a_subset_no_deployment_runs_is_an_error() {
    assert_finds(
        &lint_with("subset-without-workload.yaml"),
        true,
        "VirtualService/ratings: http[0]: subset `v2` of `ratings` selects no Deployment's pods",
    );
}

#[test]
fn a_host_that_is_no_service_is_an_error() {
    assert_finds(
        &lint_with("unknown-host.yaml"),
        true,
        "host `reveiws` is not a Service",
    );
}

#[test]
fn weights_not_summing_to_100_are_a_warning() {
    let findings = lint_with("weights-110.yaml");
    assert_finds(&findings, false, "weights sum to 110, not 100");
    assert!(findings.iter().all(|f| !f.error), "{findings:#?}");
}

#[test]
fn a_route_port_the_service_lacks_is_an_error() {
    assert_finds(
        &lint_with("wrong-port.yaml"),
        true,
        "port 9090 is not a port of Service `ratings`",
    );
}

#[test]
fn a_backend_ref_to_a_missing_service_is_an_error() {
    assert_finds(
        &lint_with("missing-backend.yaml"),
        true,
        "HTTPRoute/reviews: rules[0] backendRef `reviews-v9` is not a Service",
    );
}

#[test]
fn orphan_selectors_unhardened_workloads_and_mixed_tags_are_errors() {
    let findings = lint_with("orphan-service.yaml");
    assert_finds(&findings, true, "Service/reviews-v4: selector");
    assert_finds(
        &findings,
        true,
        "Deployment/ratings-v7: container `ratings` is not hardened",
    );
    assert_finds(&findings, true, "pod does not set runAsNonRoot");
    assert_finds(&findings, true, "has no resource requests and limits");
    assert_finds(&findings, true, "app `ratings` runs different images");
    assert_finds(&findings, true, "mix registries or tags");
}

#[test]
fn what_the_data_plane_refuses_is_an_error_in_its_words() {
    let findings = lint_with("refused-by-the-data-plane.yaml");
    assert_finds(&findings, true, "unknown field `mirorr`");
    assert_finds(&findings, true, "bad regex `jason(`");
}
