use std::path::Path;

use bookinfo_routing::load::{load_file, load_str};
use bookinfo_routing::table::compile;

fn repo_file(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

#[test]
fn every_shipped_routing_file_loads_and_compiles_with_the_destination_rules() {
    let rules = load_file(&repo_file("istio/destination-rule-all.yaml"))
        .unwrap()
        .objects;
    let mut seen = 0;
    for dir in ["istio", "istio/gateway-api"] {
        for entry in std::fs::read_dir(repo_file(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let loaded = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
            let mut objects = rules.clone();
            objects.extend(loaded.objects);
            compile(&objects).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 25, "only {seen} routing files found");
}

#[test]
fn the_canary_file_gives_the_tutorial_shares() {
    let mut objects = load_file(&repo_file("istio/destination-rule-all.yaml"))
        .unwrap()
        .objects;
    objects.extend(
        load_file(&repo_file(
            "istio/virtual-service-reviews-canary-30-70.yaml",
        ))
        .unwrap()
        .objects,
    );
    let table = compile(&objects).unwrap();
    let shares = table.shares("reviews", "/", |_| None).unwrap();
    assert_eq!(shares["v1"], 0.3);
    assert_eq!(shares["v2"], 0.7);
}

#[test]
fn unknown_fields_are_errors_naming_file_document_and_field() {
    let yaml = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec: {host: reviews}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n      wieght: 50\n";
    let error = load_str("broken.yaml", yaml).unwrap_err().to_string();
    assert!(error.contains("broken.yaml, document 2"), "{error}");
    assert!(error.contains("VirtualService reviews"), "{error}");
    assert!(error.contains("http[0].route[0]"), "{error}");
    assert!(error.contains("wieght"), "{error}");
}

#[test]
fn unsupported_kinds_and_non_objects_are_errors_and_ingress_kinds_are_noted() {
    let error = load_str(
        "x",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("not a routing object"),
        "{error}"
    );
    assert!(load_str("x", "just text").is_err());
    assert!(load_str("x", "a: [unclosed").is_err());
    let loaded = load_str(
        "gw",
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {}\n",
    )
    .unwrap();
    assert!(loaded.objects.is_empty());
    assert_eq!(loaded.notes.len(), 1);
}

fn vs(routes: &str) -> String {
    format!(
        "{}---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: reviews}}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n{routes}",
        crate::REVIEWS_SUBSETS
    )
}

#[test]
fn weights_not_summing_to_100_are_relative_with_a_warning() {
    let yaml = vs(
        "    - {destination: {host: reviews, subset: v1}, weight: 1}\n    - {destination: {host: reviews, subset: v2}, weight: 3}\n",
    );
    let table = compile(&load_str("w", &yaml).unwrap().objects).unwrap();
    assert_eq!(table.shares("reviews", "/", |_| None).unwrap()["v2"], 0.75);
    assert!(
        table.warnings.iter().any(|w| w.contains("sum to 4")),
        "{:?}",
        table.warnings
    );
}

#[test]
fn zero_and_negative_weights_are_rejected_naming_the_file_and_missing_subsets_warned() {
    let zero = vs(
        "    - {destination: {host: reviews, subset: v1}, weight: 0}\n    - {destination: {host: reviews, subset: v2}, weight: 0}\n",
    );
    let error = compile(&load_str("z.yaml", &zero).unwrap().objects).unwrap_err();
    assert!(
        error.starts_with("z.yaml, document 2: VirtualService reviews, http[0]: ")
            && error.contains("all weights are zero"),
        "{error}"
    );
    let negative = vs(
        "    - {destination: {host: reviews, subset: v1}, weight: -10}\n    - {destination: {host: reviews, subset: v2}, weight: 110}\n",
    );
    assert!(
        compile(&load_str("n", &negative).unwrap().objects)
            .unwrap_err()
            .contains("negative")
    );
    // Istio accepts a subset no DestinationRule defines, and answers 503.
    let missing = vs("    - {destination: {host: reviews, subset: v9}}\n");
    let table = compile(&load_str("m", &missing).unwrap().objects).unwrap();
    assert!(
        table
            .warnings
            .iter()
            .any(|w| w.contains("subset `v9`") && w.contains("503")),
        "{:?}",
        table.warnings
    );
    let rule = &table.hosts["reviews"][0];
    assert!(
        rule.destinations[0]
            .selector
            .labels
            .contains_key(bookinfo_routing::table::UNDEFINED_SUBSET)
    );
}
