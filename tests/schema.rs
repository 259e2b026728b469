//! `schemas/observation.schema.json` describes exactly what `dnsward run --emit json` writes.
//!
//! Checks that the schema is valid JSON Schema 2020-12, that its anomaly enum is
//! `schemas::Anomaly::ALL` (so the two cannot drift), that its properties and required fields
//! are those of `schemas::Observation`, that it rejects unknown fields and wrong values, and that
//! every line dnsward writes for the public captures validates against it.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/observation.schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema())
        .unwrap_or_else(|e| panic!("the schema does not compile: {e}"))
}

/// Every validation error of `instance`, one per line with its location.
fn errors(validator: &jsonschema::Validator, instance: &Value) -> String {
    validator
        .iter_errors(instance)
        .map(|e| format!("  at {:?}: {e}\n", e.instance_path.to_string()))
        .collect()
}

fn full() -> Value {
    serde_json::to_value(common::sample_observation()).unwrap()
}

/// The sample with every optional field absent.
fn minimal() -> Value {
    let mut obs = common::sample_observation();
    obs.source.file = None;
    obs.source.interface = None;
    obs.ip_id = None;
    obs.fragments = None;
    obs.edns = None;
    obs.pairing = None;
    obs.findings = Vec::new();
    obs.dnssec_message = None;
    serde_json::to_value(obs).unwrap()
}

#[test]
fn schema_is_valid_json_schema_2020_12() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
        panic!("not a valid 2020-12 schema: {e}");
    }
}

#[test]
fn anomaly_enum_in_the_schema_is_anomaly_all() {
    let schema = schema();
    let listed: Vec<&str> = schema["properties"]["anomalies"]["items"]["enum"]
        .as_array()
        .expect("properties.anomalies.items.enum is an array")
        .iter()
        .map(|v| v.as_str().expect("anomaly names are strings"))
        .collect();
    let all: Vec<&str> = schemas::Anomaly::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(
        listed, all,
        "the anomalies enum of schemas/observation.schema.json must list schemas::Anomaly::ALL \
         names in code order"
    );
}

#[test]
fn schema_version_and_type_constants_match_the_rust_types() {
    let schema = schema();
    assert_eq!(schema["properties"]["type"]["const"], "observation");
    assert_eq!(
        schema["properties"]["schema_version"]["const"],
        json!(schemas::OBSERVATION_SCHEMA_VERSION)
    );
}

/// Resolves a local `$ref` (`#/$defs/NAME`) or returns the node itself.
fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        Some(name) => &schema["$defs"][name],
        None => node,
    }
}

/// Checks, for `instance` and every object inside it, that the schema object describing it has
/// exactly its keys as properties (`all` true) or as required fields (`all` false).
fn check_keys(
    schema: &Value,
    node: &Value,
    instance: &Value,
    path: &str,
    all: bool,
    out: &mut String,
) {
    let node = resolve(schema, node);
    match instance {
        Value::Object(map) => {
            let Some(properties) = node["properties"].as_object() else {
                return;
            };
            let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let mut described: Vec<&str> = if all {
                properties.keys().map(String::as_str).collect()
            } else {
                node["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default()
            };
            described.sort_unstable();
            if keys != described {
                let what = if all { "properties" } else { "required" };
                let _ = writeln!(
                    out,
                    "{path}: serde writes {keys:?}, schema {what} {described:?}"
                );
            }
            for (key, value) in map {
                if let Some(child) = properties.get(key) {
                    check_keys(schema, child, value, &format!("{path}.{key}"), all, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                check_keys(
                    schema,
                    &node["items"],
                    first,
                    &format!("{path}[0]"),
                    all,
                    out,
                );
            }
        }
        _ => {}
    }
}

#[test]
fn schema_properties_and_required_fields_are_those_serde_writes() {
    let schema = schema();
    let mut out = String::new();
    // With every optional field present, the keys are all the properties...
    check_keys(&schema, &schema, &full(), "observation", true, &mut out);
    // ...and with every optional field absent, exactly the required ones.
    check_keys(&schema, &schema, &minimal(), "observation", false, &mut out);
    assert!(
        out.is_empty(),
        "schema and schemas::Observation differ:\n{out}"
    );
}

#[test]
fn observations_built_from_the_rust_types_validate() {
    let validator = validator();
    for (what, instance) in [("full", full()), ("minimal", minimal())] {
        let found = errors(&validator, &instance);
        assert!(
            found.is_empty(),
            "{what} sample rejected:\n{found}{instance:#}"
        );
    }
    let mut ipv6 = common::sample_observation();
    ipv6.ip_version = 6;
    ipv6.src_ip = "2001:db8::53".parse().unwrap();
    ipv6.dst_ip = "::ffff:192.0.2.1".parse().unwrap();
    ipv6.transport = schemas::Transport::Tcp;
    if let Some(subnet) = ipv6.edns.as_mut().and_then(|e| e.client_subnet.as_mut()) {
        subnet.family = 2;
        subnet.address = "2001:db8::".to_owned();
    }
    let instance = serde_json::to_value(ipv6).unwrap();
    let found = errors(&validator, &instance);
    assert!(found.is_empty(), "IPv6 sample rejected:\n{found}");
}

/// Places where an unknown field must be refused, as JSON pointers to objects in [`full`].
const OBJECTS: [&str; 11] = [
    "",
    "/source",
    "/fragments",
    "/flags",
    "/counts",
    "/questions/0",
    "/questions/0/name",
    "/answers/0",
    "/edns",
    "/edns/options/0",
    "/edns/client_subnet",
];

#[test]
fn schema_rejects_an_unknown_field_anywhere() {
    let validator = validator();
    for pointer in OBJECTS {
        let mut instance = full();
        instance
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{pointer:?} is an object of the sample"))
            .insert("unknown_field".to_owned(), json!(1));
        assert!(
            !validator.is_valid(&instance),
            "an unknown field at {pointer:?} was accepted"
        );
    }
    // And the Rust type refuses it too.
    let mut instance = full();
    instance["unknown_field"] = json!(1);
    assert!(serde_json::from_value::<schemas::Observation>(instance).is_err());
}

#[test]
fn schema_rejects_wrong_values() {
    let validator = validator();
    let cases: [(&str, Value); 14] = [
        ("/type", json!("alert")),
        ("/schema_version", json!(2)),
        ("/anomalies", json!(["no_such_anomaly"])),
        ("/anomalies", json!(["fragmented", "fragmented"])),
        ("/src_ip", json!("2001:db8::1")),
        ("/dst_ip", json!("not an address")),
        ("/ip_version", json!(5)),
        ("/src_port", json!(65536)),
        ("/transport", json!("sctp")),
        ("/rcode", json!(4096)),
        ("/questions/0/name/canonical", json!("Example.com")),
        ("/answers/0/ttl", json!(-1)),
        ("/edns/client_cookie", json!("0102")),
        ("/edns/client_subnet/address", json!("2001:db8::")),
    ];
    for (pointer, value) in cases {
        let mut instance = full();
        *instance
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer:?} is in the sample")) = value.clone();
        assert!(
            !validator.is_valid(&instance),
            "{pointer} = {value} was accepted"
        );
    }
    let mut instance = full();
    instance.as_object_mut().unwrap().remove("txid");
    assert!(
        !validator.is_valid(&instance),
        "a missing required field was accepted"
    );
}

#[test]
fn every_line_dnsward_writes_for_the_public_captures_validates() {
    let Some(dir) =
        common::shared_pcaps("every_line_dnsward_writes_for_the_public_captures_validates")
    else {
        return;
    };
    let validator = validator();
    let captures = common::captures(&dir);
    // (capture, lines checked, problems)
    let results: Vec<(String, usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = captures
            .iter()
            .map(|capture| {
                let validator = &validator;
                scope.spawn(move || {
                    let name = common::file_name(capture);
                    let lines = match common::run_dnsward(capture, "schema-test") {
                        Ok(lines) => lines,
                        Err(e) => return (name, 0, vec![e]),
                    };
                    let mut problems = Vec::new();
                    for (i, line) in lines.iter().enumerate() {
                        let instance: Value = match serde_json::from_str(line) {
                            Ok(v) => v,
                            Err(e) => {
                                problems.push(format!("line {}: not JSON: {e}", i + 1));
                                continue;
                            }
                        };
                        let found = errors(validator, &instance);
                        if !found.is_empty() {
                            problems.push(format!(
                                "line {}: {}\n{found}",
                                i + 1,
                                common::head(line, 400)
                            ));
                        }
                        if let Err(e) = serde_json::from_value::<schemas::Observation>(instance) {
                            problems
                                .push(format!("line {}: not a schemas::Observation: {e}", i + 1));
                        }
                    }
                    (name, lines.len(), problems)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("validation thread panicked"))
            .collect()
    });
    let total: usize = results.iter().map(|(_, n, _)| n).sum();
    let mut report = String::new();
    for (name, lines, problems) in &results {
        if problems.is_empty() {
            continue;
        }
        let _ = writeln!(
            report,
            "== {name}: {} of {lines} lines rejected",
            problems.len()
        );
        for p in problems.iter().take(10) {
            let _ = writeln!(report, "{p}");
        }
    }
    assert!(
        report.is_empty(),
        "output that does not match the schema:\n{report}"
    );
    assert!(
        total > 0,
        "dnsward wrote no observations for {} captures",
        captures.len()
    );
}
