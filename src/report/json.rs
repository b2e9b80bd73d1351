//! The JSON report: the results model as pretty JSON, following `schemas/report.v1.schema.json`.
//!
//! The schema is generated from the model's types ([`schema`]) and committed; a test fails when
//! the two drift apart, and another validates a real report against the committed file.

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
/// a trailing newline, the same way as the plan's. Reports write unset values as `null`, so the
/// `null` alternatives stay.
pub fn schema() -> String {
    crate::plan::schema::generate_for::<Report>(SCHEMA_ID, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
