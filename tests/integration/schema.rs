//! The committed JSON Schema is the one the types generate, and every real plan validates.

use crate::{callplan, root};

#[test]
fn committed_schema_matches_the_types() {
    let generated = callplan::plan::schema::generate();
    let path = root().join("schemas/callplan.v1.schema.json");
    if std::env::var_os("CALLPLAN_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).expect("committed schema");
    assert!(
        committed == generated,
        "schemas/callplan.v1.schema.json is out of date with the plan types; regenerate it with \
         `CALLPLAN_UPDATE_SCHEMAS=1 cargo test committed_schema` and commit it"
    );
}

#[test]
fn schema_command_prints_the_committed_schema_byte_for_byte() {
    let out = callplan(&["schema"]);
    assert_eq!(out.code, 0);
    let committed =
        std::fs::read_to_string(root().join("schemas/callplan.v1.schema.json")).expect("schema");
    assert_eq!(out.stdout, committed);
}

/// Editors show a property's title and description on hover: every property has both.
#[test]
fn every_property_has_a_title_and_a_description() {
    let schema: serde_json::Value =
        serde_json::from_str(callplan::plan::schema::COMMITTED).expect("schema is JSON");
    assert_eq!(
        schema["$id"],
        "https://callplan.dev/schemas/callplan.v1.schema.json"
    );
    let mut missing = Vec::new();
    walk(&schema, "#", &mut missing);
    assert!(
        missing.is_empty(),
        "properties without title or description: {missing:#?}"
    );
}

fn walk(node: &serde_json::Value, at: &str, missing: &mut Vec<String>) {
    match node {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                for (name, prop) in props {
                    // A `type`/`grant` discriminator is described by its variant.
                    let is_tag = prop.get("const").is_some();
                    let has = |k: &str| {
                        prop.get(k)
                            .and_then(|v| v.as_str())
                            .is_some_and(|s| !s.is_empty())
                    };
                    if !(is_tag || has("title") && has("description")) {
                        missing.push(format!("{at}/properties/{name}"));
                    }
                }
            }
            for (k, v) in map {
                walk(v, &format!("{at}/{k}"), missing);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &format!("{at}/{i}"), missing);
            }
        }
        _ => {}
    }
}

/// `docs/actions.md` is generated from the catalogue; it must not drift from it.
#[test]
fn actions_doc_matches_the_catalogue() {
    let generated = callplan::provider::catalogue_markdown();
    let path = root().join("docs/actions.md");
    if std::env::var_os("CALLPLAN_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/actions.md");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/actions.md is out of date with the action catalogue; regenerate it with \
         `CALLPLAN_UPDATE_SCHEMAS=1 cargo test actions_doc` and commit it"
    );
}

/// The committed report schema is the one the results model generates.
#[test]
fn committed_report_schema_matches_the_types() {
    let generated = callplan::report::json::schema();
    let path = root().join("schemas/report.v1.schema.json");
    if std::env::var_os("CALLPLAN_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/report.v1.schema.json is out of date with the report model; regenerate it with \
         `CALLPLAN_UPDATE_SCHEMAS=1 cargo test committed_report_schema` and commit it"
    );
}

/// The committed dry-run schema is the one the dry run's model generates.
#[test]
fn committed_dry_run_schema_matches_the_types() {
    let generated = callplan::report::planned::schema();
    let path = root().join("schemas/dry-run.v1.schema.json");
    if std::env::var_os("CALLPLAN_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/dry-run.v1.schema.json is out of date with the dry run's model; regenerate it \
         with `CALLPLAN_UPDATE_SCHEMAS=1 cargo test committed_dry_run_schema` and commit it"
    );
}

/// Real JSON reports validate against the committed schema, and one that breaks it does not.
#[test]
fn json_reports_validate_against_the_committed_schema() {
    let text = std::fs::read_to_string(root().join("schemas/report.v1.schema.json"))
        .expect("committed report schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    assert_eq!(schema["$id"], callplan::report::model::SCHEMA_ID);
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    for report in [crate::reports::passing(), crate::reports::failing()] {
        let rendered = callplan::report::json::render(&report);
        let instance: serde_json::Value = serde_json::from_str(&rendered).expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    let mut broken: serde_json::Value =
        serde_json::from_str(&callplan::report::json::render(&crate::reports::failing()))
            .expect("JSON");
    broken["steps"][1]["items"][0]["outcome"] = "exploded".into();
    assert!(!validator.is_valid(&broken));
}
