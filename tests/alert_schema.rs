//! `schemas/alert.schema.json` describes exactly what the alert sinks and `dnsward alerts --json`
//! write.
//!
//! Checks that the schema is valid JSON Schema 2020-12; that its detector, severity, action,
//! status and closed-reason enums are the Rust enums' names in code order (so they cannot
//! drift); that each object's properties are the keys serde writes for a fully populated
//! `schemas::alert::Alert` and its required fields those of a minimal one; that it refuses
//! unknown fields and wrong values; and that every alert dnsward writes for
//! `samples/cert-cc.pcap` validates.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use analyzer::detect::Detector;
use schemas::alert::{
    Alert, AlertAction, AlertAnswer, AlertDetails, AlertDns, AlertEvent, AlertQuestion,
    ClosedReason, Endpoint, EpisodeStatus, Evidence, Observer, RdataInfo, Rule, Severity,
    ALERT_SCHEMA_VERSION, MAX_EVIDENCE,
};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::Command;

/// The schema file, parsed.
fn schema() -> Value {
    serde_json::from_str(include_str!("../schemas/alert.schema.json"))
        .unwrap_or_else(|e| panic!("schemas/alert.schema.json is not JSON: {e}"))
}

/// A 2020-12 validator of the schema that also checks `format` (date-time, ipv4, ipv6).
fn compiled() -> jsonschema::Validator {
    let options = jsonschema::draft202012::options().should_validate_formats(true);
    match options.build(&schema()) {
        Ok(validator) => validator,
        Err(e) => panic!("schemas/alert.schema.json does not compile: {e}"),
    }
}

/// What the validator says about `instance`, one problem a line; empty when it validates.
fn problems(validator: &jsonschema::Validator, instance: &Value) -> String {
    let mut report = String::new();
    for error in validator.iter_errors(instance) {
        report.push_str(&format!("  {}: {error}\n", error.instance_path));
    }
    report
}

/// An alert with every optional field present and every list holding one entry.
fn full_alert() -> Alert {
    let resolver = "10.0.1.53".parse().unwrap();
    let evidence = Evidence {
        file: Some("samples/cert-cc.pcap".to_owned()),
        interface: Some("eth0".to_owned()),
        frame: 8938,
        time_ns: 1_767_918_357_096_511_000,
        src_ip: resolver,
        dst_ip: "2001:db8::10".parse().unwrap(),
        txid: 26266,
        src_port: Some(53),
        dst_port: Some(40_123),
        query_frame: Some(8_937),
    };
    Alert {
        timestamp: "2026-01-09T02:05:17.924683000Z".to_owned(),
        schema_version: ALERT_SCHEMA_VERSION,
        event: AlertEvent {
            id: "dw1-258ce0f86a831030".to_owned(),
            kind: "alert".to_owned(),
            module: "dnsward".to_owned(),
            dataset: "dnsward.alert".to_owned(),
            action: AlertAction::Closed,
            severity: 100,
            start: "2026-01-09T00:25:57.096511000Z".to_owned(),
            end: "2026-01-09T02:05:17.924683000Z".to_owned(),
            reason: "new_rdata: gmail-smtp-in.l.google.com A 203.0.113.66 at 10.0.1.53".to_owned(),
        },
        rule: Rule {
            name: Detector::NewRdata.name().to_owned(),
            category: "divergence".to_owned(),
        },
        dns: AlertDns {
            question: AlertQuestion {
                name: "gmail-smtp-in.l.google.com".to_owned(),
                rtype: "A".to_owned(),
            },
            answers: vec![AlertAnswer {
                name: "gmail-smtp-in.l.google.com".to_owned(),
                rtype: "A".to_owned(),
                ttl: 84843,
                data: "203.0.113.66".to_owned(),
            }],
        },
        source: Endpoint { ip: resolver },
        observer: Observer {
            id: "sensor-1".to_owned(),
            product: "dnsward".to_owned(),
        },
        dnsward: AlertDetails {
            detector: Detector::NewRdata.name().to_owned(),
            severity: Severity::Critical,
            score: 100,
            reasons: vec!["reverted after 1h39m: the baseline answers returned".to_owned()],
            status: EpisodeStatus::Closed,
            closed_reason: Some(ClosedReason::Reverted),
            first_seen_ns: 1_767_918_357_096_511_000,
            last_seen_ns: 1_767_922_477_700_405_000,
            closed_ns: Some(1_767_924_317_924_683_000),
            watched_because: "learnt: MX target of gmail.com (gmail.com)".to_owned(),
            baseline: vec![RdataInfo {
                data: "142.250.153.26".to_owned(),
                prefix: Some("142.250.153.0/24".to_owned()),
                asn: Some(15169),
                as_org: Some("Google LLC".to_owned()),
            }],
            observed: vec![RdataInfo {
                data: "203.0.113.66".to_owned(),
                prefix: Some("203.0.113.0/24".to_owned()),
                asn: Some(64511),
                as_org: Some("BULLETPROOF-HOSTING-EXAMPLE".to_owned()),
            }],
            resolvers: vec![resolver],
            clients_affected: 1,
            responses: 3,
            evidence: vec![evidence],
            evidence_dropped: 0,
        },
    }
}

/// [`full_alert`] with every `Option` `None`: an open episode, rdata without AS data, evidence
/// without file or interface.
fn minimal_alert() -> Alert {
    let mut alert = full_alert();
    alert.event.action = AlertAction::Opened;
    let details = &mut alert.dnsward;
    details.status = EpisodeStatus::Open;
    details.closed_reason = None;
    details.closed_ns = None;
    for info in details
        .baseline
        .iter_mut()
        .chain(details.observed.iter_mut())
    {
        info.prefix = None;
        info.asn = None;
        info.as_org = None;
    }
    for evidence in &mut details.evidence {
        evidence.file = None;
        evidence.interface = None;
        evidence.src_port = None;
        evidence.dst_port = None;
        evidence.query_frame = None;
    }
    alert
}

fn value_of(alert: &Alert) -> Value {
    serde_json::to_value(alert).unwrap()
}

/// Follows a local `$ref` (`#/$defs/NAME`) to the definition it names.
fn deref<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    let target = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"));
    target.map_or(node, |name| &schema["$defs"][name])
}

/// One object of an instance and the schema object that describes it.
struct Described<'a> {
    pointer: String,
    keys: Vec<&'a str>,
    properties: Vec<&'a str>,
    required: Vec<&'a str>,
}

/// Every object in `instance` (depth first, first item of each array) with its schema node.
fn described<'a>(
    schema: &'a Value,
    node: &'a Value,
    instance: &'a Value,
    pointer: String,
    out: &mut Vec<Described<'a>>,
) {
    let node = deref(schema, node);
    if let Some(items) = instance.as_array() {
        if let Some(first) = items.first() {
            described(schema, &node["items"], first, format!("{pointer}/0"), out);
        }
        return;
    }
    let (Some(object), Some(properties)) = (instance.as_object(), node["properties"].as_object())
    else {
        return;
    };
    let sorted = |mut names: Vec<&'a str>| {
        names.sort_unstable();
        names
    };
    out.push(Described {
        pointer: pointer.clone(),
        keys: sorted(object.keys().map(String::as_str).collect()),
        properties: sorted(properties.keys().map(String::as_str).collect()),
        required: sorted(
            node["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect(),
        ),
    });
    for (key, child) in object {
        if let Some(child_node) = properties.get(key) {
            described(schema, child_node, child, format!("{pointer}/{key}"), out);
        }
    }
}

/// The string values of the enum at `pointer` in the schema.
fn schema_enum(schema: &Value, pointer: &str) -> Vec<String> {
    schema
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{pointer} is not an array in the schema"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// What serde writes for each value.
fn serde_names<T: serde::Serialize>(values: &[T]) -> Vec<String> {
    values
        .iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn schema_is_valid_json_schema_2020_12_and_compiles() {
    let schema = schema();
    let draft = schema.get("$schema").and_then(Value::as_str);
    assert_eq!(draft, Some("https://json-schema.org/draft/2020-12/schema"));
    let against_meta_schema = jsonschema::draft202012::meta::validate(&schema);
    assert!(
        against_meta_schema.is_ok(),
        "not a valid 2020-12 schema: {against_meta_schema:?}"
    );
    // Compiling resolves every $ref.
    let validator = compiled();
    assert!(!validator.is_valid(&json!({})));
}

#[test]
fn detector_enum_is_detector_all_in_code_order() {
    let names: Vec<&str> = Detector::ALL.iter().map(|d| d.name()).collect();
    assert_eq!(schema_enum(&schema(), "/$defs/detector/enum"), names);
    // Both rule.name and dnsward.detector use it.
    let schema = schema();
    for pointer in [
        "/properties/rule/properties/name",
        "/properties/dnsward/properties/detector",
    ] {
        assert_eq!(
            schema.pointer(pointer).unwrap()["$ref"],
            "#/$defs/detector",
            "{pointer}"
        );
    }
}

#[test]
fn severity_enum_is_severity_all_in_code_order() {
    let names: Vec<&str> = Severity::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(schema_enum(&schema(), "/$defs/severity/enum"), names);
    // serde writes the same names.
    assert_eq!(serde_names(&Severity::ALL), names);
}

#[test]
fn action_status_and_closed_reason_enums_are_what_serde_writes() {
    // Exhaustive matches: a new variant does not compile until it is listed here.
    let actions = [
        AlertAction::Opened,
        AlertAction::Escalated,
        AlertAction::Closed,
    ];
    for a in actions {
        match a {
            AlertAction::Opened | AlertAction::Escalated | AlertAction::Closed => {}
        }
    }
    let statuses = [EpisodeStatus::Open, EpisodeStatus::Closed];
    for s in statuses {
        match s {
            EpisodeStatus::Open | EpisodeStatus::Closed => {}
        }
    }
    let reasons = [
        ClosedReason::Reverted,
        ClosedReason::Persisted,
        ClosedReason::Accepted,
        ClosedReason::Ended,
    ];
    for r in reasons {
        match r {
            ClosedReason::Reverted
            | ClosedReason::Persisted
            | ClosedReason::Accepted
            | ClosedReason::Ended => {}
        }
    }
    let schema = schema();
    assert_eq!(
        schema_enum(&schema, "/properties/event/properties/action/enum"),
        serde_names(&actions)
    );
    assert_eq!(
        schema_enum(&schema, "/properties/dnsward/properties/status/enum"),
        serde_names(&statuses)
    );
    assert_eq!(
        schema_enum(&schema, "/properties/dnsward/properties/closed_reason/enum"),
        serde_names(&reasons)
    );
}

#[test]
fn schema_constants_match_the_rust_constants() {
    let schema = schema();
    assert_eq!(
        schema["properties"]["schema_version"]["const"],
        json!(ALERT_SCHEMA_VERSION)
    );
    let evidence = &schema["properties"]["dnsward"]["properties"]["evidence"];
    assert_eq!(evidence["maxItems"], json!(MAX_EVIDENCE));
}

#[test]
fn properties_are_the_keys_of_a_full_alert_and_required_those_of_a_minimal_one() {
    let schema = schema();
    let full = value_of(&full_alert());
    let minimal = value_of(&minimal_alert());
    let mut mismatches = Vec::new();
    let mut full_objects = Vec::new();
    described(&schema, &schema, &full, String::new(), &mut full_objects);
    for d in &full_objects {
        if d.keys != d.properties {
            mismatches.push(format!(
                "{:?}: serde writes {:?}, schema properties {:?}",
                d.pointer, d.keys, d.properties
            ));
        }
    }
    let mut minimal_objects = Vec::new();
    described(
        &schema,
        &schema,
        &minimal,
        String::new(),
        &mut minimal_objects,
    );
    for d in &minimal_objects {
        if d.keys != d.required {
            mismatches.push(format!(
                "{:?}: serde writes {:?}, schema requires {:?}",
                d.pointer, d.keys, d.required
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "schema and schemas::alert::Alert differ:\n{}",
        mismatches.join("\n")
    );
    // Every object of the alert was compared: root, event, rule, dns, dns/question,
    // dns/answers/0, source, observer, dnsward, baseline/0, observed/0, evidence/0.
    assert_eq!(full_objects.len(), 12);
    assert_eq!(minimal_objects.len(), 12);
    // The minimal alert really leaves the optional fields out.
    assert!(minimal["dnsward"].get("closed_reason").is_none());
    assert_eq!(
        minimal["dnsward"]["observed"][0],
        json!({"data": "203.0.113.66"})
    );
}

#[test]
fn full_and_minimal_alerts_validate_and_read_back() {
    let validator = compiled();
    for alert in [full_alert(), minimal_alert()] {
        let value = value_of(&alert);
        let found = problems(&validator, &value);
        assert!(found.is_empty(), "rejected:\n{found}{value:#}");
        let back: Alert = serde_json::from_value(value).unwrap();
        assert_eq!(back, alert);
    }
}

/// JSON pointers to every object of [`full_alert`].
const OBJECTS: [&str; 12] = [
    "",
    "/event",
    "/rule",
    "/dns",
    "/dns/question",
    "/dns/answers/0",
    "/source",
    "/observer",
    "/dnsward",
    "/dnsward/baseline/0",
    "/dnsward/observed/0",
    "/dnsward/evidence/0",
];

#[test]
fn unknown_fields_are_rejected_everywhere() {
    let validator = compiled();
    for pointer in OBJECTS {
        let mut instance = value_of(&full_alert());
        let object: &mut Map<String, Value> = instance
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{pointer:?} is not an object of the alert"));
        object.insert("unexpected".to_owned(), json!("x"));
        assert!(
            !validator.is_valid(&instance),
            "an unknown field at {pointer:?} was accepted"
        );
        assert!(
            serde_json::from_value::<Alert>(instance).is_err(),
            "schemas::alert::Alert accepted an unknown field at {pointer:?}"
        );
    }
}

#[test]
fn wrong_values_are_rejected() {
    let validator = compiled();
    let too_much_evidence = vec![value_of(&full_alert())["dnsward"]["evidence"][0].clone(); 17];
    let cases: Vec<(&str, Value)> = vec![
        // Ids: `dw1-` and 16 lower-case hex digits.
        ("/event/id", json!("dw1-258CE0F86A831030")),
        ("/event/id", json!("dw1-258ce0f86a83103")),
        ("/event/id", json!("dw1-258ce0f86a8310300")),
        ("/event/id", json!("dw2-258ce0f86a831030")),
        ("/event/id", json!("258ce0f86a831030")),
        ("/event/id", json!("dw1-258ce0f86a83103g")),
        // Scores 0-100.
        ("/dnsward/score", json!(101)),
        ("/dnsward/score", json!(-1)),
        ("/event/severity", json!(101)),
        // Severity names.
        ("/dnsward/severity", json!("severe")),
        ("/dnsward/severity", json!("CRITICAL")),
        ("/dnsward/severity", json!(4)),
        // Timestamps: RFC 3339 UTC with nine fraction digits.
        ("/@timestamp", json!("2026-01-09T02:05:17Z")),
        ("/@timestamp", json!("2026-01-09T02:05:17.924683Z")),
        ("/@timestamp", json!("2026-01-09 02:05:17.924683000Z")),
        ("/@timestamp", json!("2026-01-09T02:05:17.924683000+01:00")),
        ("/@timestamp", json!("2026-13-09T02:05:17.924683000Z")),
        ("/@timestamp", json!(1_767_924_317)),
        ("/event/start", json!("yesterday")),
        ("/event/end", json!("2026-01-32T00:00:00.000000000Z")),
        // Enums and constants.
        ("/schema_version", json!(2)),
        ("/event/kind", json!("event")),
        ("/event/action", json!("reopened")),
        ("/rule/name", json!("no_such_detector")),
        ("/rule/category", json!("signature")),
        ("/dnsward/detector", json!("newrdata")),
        ("/dnsward/status", json!("reverted")),
        ("/dnsward/closed_reason", json!("expired")),
        ("/observer/product", json!("suricata")),
        // Addresses and numbers.
        ("/source/ip", json!("10.0.1.300")),
        ("/dnsward/resolvers/0", json!("resolver-2")),
        ("/dnsward/evidence/0/txid", json!(65536)),
        ("/dnsward/evidence/0/frame", json!(-1)),
        ("/dns/answers/0/ttl", json!(4_294_967_296_u64)),
        ("/dnsward/observed/0/asn", json!("AS64511")),
        ("/dnsward/evidence", Value::Array(too_much_evidence)),
    ];
    let mut accepted = Vec::new();
    for (pointer, value) in cases {
        let mut instance = value_of(&full_alert());
        *instance
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer:?} is not in the alert")) = value.clone();
        if validator.is_valid(&instance) {
            accepted.push(format!("{pointer} = {value}"));
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
    // A missing required field.
    let mut instance = value_of(&full_alert());
    instance["event"].as_object_mut().unwrap().remove("id");
    assert!(!validator.is_valid(&instance));
}

/// Runs the binary with `args`; returns its standard output after checking it succeeded.
fn dnsward<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "dnsward failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_alert_dnsward_writes_for_the_sample_capture_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let file = dir.path().join("alerts.jsonl");
    let stdout = dnsward([
        "run".as_ref(),
        "--quiet".as_ref(),
        "--pcap".as_ref(),
        root.join("samples/cert-cc.pcap").as_os_str(),
        "--asn-table".as_ref(),
        root.join("samples/asn-sample.csv").as_os_str(),
        "--db".as_ref(),
        db.as_os_str(),
        "--alerts-file".as_ref(),
        file.as_os_str(),
        "--alerts-stdout".as_ref(),
    ]);
    let listed = dnsward([
        "alerts".as_ref(),
        "--json".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    let sink = std::fs::read_to_string(&file).unwrap();
    let validator = compiled();
    let mut checked = Vec::new();
    for (source, text) in [
        ("--alerts-file", &sink),
        ("--alerts-stdout", &stdout),
        ("alerts --json", &listed),
    ] {
        let mut count = 0;
        for (i, line) in text.lines().enumerate() {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{source} line {}: not JSON ({e}): {line}", i + 1));
            let found = problems(&validator, &value);
            assert!(found.is_empty(), "{source} line {}:\n{found}{line}", i + 1);
            count += 1;
        }
        checked.push((source, count));
    }
    // Two state changes (opened, closed) on the sinks; one stored episode.
    assert_eq!(
        checked,
        [
            ("--alerts-file", 2),
            ("--alerts-stdout", 2),
            ("alerts --json", 1)
        ]
    );
    assert_eq!(
        sink, stdout,
        "the file and stdout sinks write the same lines"
    );
}
