//! The JSON summary follows `summary.schema.json`, checked by a small validator for the
//! keywords that file uses (no JSON Schema crate needed).

use serde_json::Value;

use bookinfo_loadgen::{parse_expect, run};

use crate::helpers::{StubOptions, fast_config, spawn_stub};

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/summary.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn type_matches(name: &str, v: &Value) -> bool {
    match name {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_u64() || v.is_i64(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

/// Errors as JSON-pointer-like paths with a reason.
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if schema == &Value::Bool(false) {
        errors.push(format!("{at}: not allowed"));
        return;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        validate(root, &root["$defs"][name], v, at, errors);
    }
    if let Some(t) = schema.get("type") {
        let ok = match t {
            Value::String(s) => type_matches(s, v),
            Value::Array(list) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|s| type_matches(s, v)),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: {v} is not {t}"));
            return;
        }
    }
    if let Some(c) = schema.get("const")
        && c != v
    {
        errors.push(format!("{at}: {v} is not {c}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {options:?}"));
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let valid = options
            .iter()
            .filter(|o| {
                let mut e = Vec::new();
                validate(root, o, v, at, &mut e);
                e.is_empty()
            })
            .count();
        if valid != 1 {
            errors.push(format!("{at}: matches {valid} of the oneOf options"));
        }
    }
    if let Some(object) = v.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(key) = key.as_str()
                && !object.contains_key(key)
            {
                errors.push(format!("{at}: missing {key}"));
            }
        }
        for (key, value) in object {
            let path = format!("{at}/{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(s) => validate(root, s, value, &path, errors),
                None => {
                    if let Some(extra) = schema.get("additionalProperties") {
                        validate(root, extra, value, &path, errors);
                    }
                }
            }
        }
    }
    if let Some(items) = v.as_array() {
        let prefix = schema.get("prefixItems").and_then(Value::as_array);
        for (i, item) in items.iter().enumerate() {
            let path = format!("{at}/{i}");
            match prefix.and_then(|p| p.get(i)) {
                Some(s) => validate(root, s, item, &path, errors),
                None => {
                    if let Some(s) = schema.get("items") {
                        validate(root, s, item, &path, errors);
                    }
                }
            }
        }
    }
}

fn check(summary: &Value) {
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, &schema, summary, "", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_follow_the_schema() {
    let mut options = StubOptions::weighted(&[("v1", 30), ("v2", 70)]);
    options.slow_every = Some((5, std::time::Duration::from_secs(2)));
    let stub = spawn_stub(options).await;

    // Measurement only, with timeouts among the outcomes.
    let mut config = fast_config(stub.url("/productpage"), 30);
    config.timeout = std::time::Duration::from_millis(200);
    let result = run(config).await.unwrap();
    check(&serde_json::to_value(&result.report).unwrap());

    // A verified run with a verdict and the engine's statistics.
    let mut config = fast_config(stub.url("/productpage"), 30);
    config.expected = Some(parse_expect("v1=30,v2=70").unwrap());
    config.timeout = std::time::Duration::from_millis(200);
    let result = run(config).await.unwrap();
    let value = serde_json::to_value(&result.report).unwrap();
    check(&value);
    assert_eq!(value["verdict"]["state"], "inconclusive");

    // The validator itself rejects what the schema forbids.
    let mut broken = value.clone();
    broken["end"] = Value::from("exploded");
    broken["unknown"] = Value::from(1);
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, &schema, &broken, "", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:?}");
}
