//! The JSON report: the results model as pretty JSON, following `schemas/report.v1.schema.json`.
//!
//! The schema is generated from the model's types ([`schema`]) and committed; a test fails when
//! the two drift apart, and another validates a real report against the committed file.

use serde_json::{Map, Value};

use super::model::{Report, SCHEMA_ID};

/// Renders a report as pretty JSON, with a trailing newline.
pub fn render(report: &Report) -> String {
    // The model holds only strings, numbers, string-keyed maps and JSON values: serializing it
    // cannot fail, so there is no error to report.
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}

/// Generates the report's JSON Schema (draft 2020-12) from the model's types, as pretty JSON with
/// a trailing newline. Descriptions come from the types' doc comments.
pub fn schema() -> String {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut value = generator.into_root_schema_for::<Report>().to_value();
    split_titles(&mut value);
    if let Value::Object(map) = &mut value {
        // `$schema` first, then `$id`, then the rest, as readers expect.
        let mut ordered = Map::new();
        if let Some(s) = map.shift_remove("$schema") {
            ordered.insert("$schema".into(), s);
        }
        ordered.insert("$id".into(), Value::String(SCHEMA_ID.into()));
        ordered.extend(std::mem::take(map));
        *map = ordered;
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// A doc comment written as "Title\n\nDescription" becomes a `title` and a `description`, as in
/// the plan's schema; a one-paragraph comment stays a description, its lines unwrapped.
fn split_titles(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(doc)) = map.get("description").cloned() {
                let (title, rest) = match doc.split_once("\n\n") {
                    Some((title, rest)) => (Some(title.trim().to_owned()), rest.to_owned()),
                    None => (None, doc),
                };
                let unwrapped = rest
                    .split("\n\n")
                    .map(|para| para.lines().map(str::trim).collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\n\n");
                if let Some(title) = title {
                    map.entry("title").or_insert(Value::String(title));
                }
                map.insert("description".into(), Value::String(unwrapped));
            }
            map.values_mut().for_each(split_titles);
        }
        Value::Array(items) => items.iter_mut().for_each(split_titles),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_itself_and_its_draft() {
        let schema: Value = serde_json::from_str(&schema()).unwrap_or_default();
        assert_eq!(schema["$id"], SCHEMA_ID);
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(
            schema["properties"]["run_id"]["description"],
            "The run's id."
        );
    }
}
