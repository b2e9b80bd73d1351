//! Bodies as written: what a raw request's `body:` and `form:` put on the wire, seen at the
//! sandbox's echo API byte for byte (its `raw_body`), with exactly one `Content-Type`; and a dry
//! run of the same plan, which prints exactly the URL, headers and body the run sent.

use serde_json::{Value, json};

use crate::fast_config;
use crate::run::{PlanFile, assert_exit, sandbox};

/// One step per kind of body, and a query merged into the path's own.
const PLAN: &str = r#"version: 1
name: bodies
providers:
  crm:
    type: http
    base_url: https://crm.example.com/api
    headers:
      X-Source: callplan
steps:
  - id: form_text
    provider: crm
    action: request
    with:
      method: POST
      path: /form
      headers: { Content-Type: application/x-www-form-urlencoded }
      body: "a=1&b=2"
  - id: xml
    provider: crm
    action: request
    with:
      method: PUT
      path: /notes/1
      headers: { content-type: application/xml; charset=utf-8 }
      body: |
        <?xml version="1.0" encoding="UTF-8"?>
        <note><to>Ada &amp; Grace</to><body>Ça va ? "yes"</body></note>
  - id: text
    provider: crm
    action: request
    with:
      method: POST
      path: /text
      body: "plain text, not JSON: \"quoted\"\n"
  - id: json
    provider: crm
    action: request
    with:
      method: PATCH
      path: /customers/42
      body: { name: Ada, tags: [a, b], n: 1, ok: true }
  - id: form
    provider: crm
    action: request
    with:
      method: POST
      path: /token
      headers: { X-Source: step }
      form: { grant: "a b", scope: [x&y, "3"], who: "é" }
  - id: query
    provider: crm
    action: request
    with:
      method: GET
      path: /search?x=1
      query: { y: 2, z: [a, b] }
"#;

/// What each step's body must be at the echo: exact bytes and the one Content-Type.
const EXPECTED: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    (
        "form_text",
        "POST",
        Some("application/x-www-form-urlencoded"),
        Some("a=1&b=2"),
    ),
    (
        "xml",
        "PUT",
        Some("application/xml; charset=utf-8"),
        Some(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<note><to>Ada &amp; Grace</to><body>Ça va ? \"yes\"</body></note>\n",
        ),
    ),
    (
        "text",
        "POST",
        Some("text/plain; charset=utf-8"),
        Some("plain text, not JSON: \"quoted\"\n"),
    ),
    (
        "json",
        "PATCH",
        Some("application/json"),
        Some(r#"{"name":"Ada","tags":["a","b"],"n":1,"ok":true}"#),
    ),
    (
        "form",
        "POST",
        Some("application/x-www-form-urlencoded"),
        Some("grant=a+b&scope=x%26y&scope=3&who=%C3%A9"),
    ),
    ("query", "GET", None, None),
];

/// Each step's echo, from the run's JSON report (the start of each answer's body).
fn echoes(report: &Value) -> Vec<(String, Value)> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            let id = step["id"].as_str().expect("id").to_owned();
            let text = step["items"][0]["response"]
                .as_str()
                .expect("an echoed answer");
            (id, serde_json::from_str(text).expect("the echo is JSON"))
        })
        .collect()
}

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the report is written");
    serde_json::from_str(&text).expect("the report is JSON")
}

#[test]
fn string_and_form_bodies_arrive_at_the_echo_byte_for_byte() {
    let plan = PlanFile::new(PLAN);
    let sb = sandbox(fast_config());
    let out = plan.run_against(&sb, &["--report", "json:r.json"], &[]);
    assert_exit(&out, 0);
    let echoes = echoes(&read_json(&plan.dir().join("r.json")));
    assert_eq!(echoes.len(), EXPECTED.len());
    for ((id, echo), (want_id, method, content_type, body)) in echoes.iter().zip(EXPECTED) {
        assert_eq!(id, want_id);
        assert_eq!(echo["method"], *method, "{id}: {echo:#}");
        // One Content-Type: repeated headers are echoed joined with ", ".
        assert_eq!(
            echo["headers"]["content-type"].as_str(),
            *content_type,
            "{id}: {echo:#}"
        );
        assert_eq!(echo["raw_body"].as_str(), *body, "{id}: {echo:#}");
    }
    let by_id = |id: &str| &echoes.iter().find(|(i, _)| i == id).expect(id).1;
    // Text is text, never a JSON string.
    assert_eq!(by_id("form_text")["body"], "a=1&b=2");
    assert_eq!(
        by_id("json")["body"],
        json!({ "name": "Ada", "tags": ["a", "b"], "n": 1, "ok": true })
    );
    // The step's header replaces the provider's of the same name.
    assert_eq!(by_id("form")["headers"]["x-source"], "step");
    assert_eq!(by_id("json")["headers"]["x-source"], "callplan");
    assert_eq!(by_id("query")["path"], "/crm/search");
    assert_eq!(
        by_id("query")["query"],
        json!({ "x": "1", "y": "2", "z": ["a", "b"] })
    );
}

#[test]
fn a_dry_run_prints_exactly_what_the_run_sends() {
    let plan = PlanFile::new(PLAN);
    let sb = sandbox(fast_config());
    let real = plan.run_against(&sb, &["--report", "json:r.json"], &[]);
    assert_exit(&real, 0);
    let dry = plan.run_against(&sb, &["--dry-run", "--report", "json:dry.json"], &[]);
    assert_exit(&dry, 0);
    let echoes = echoes(&read_json(&plan.dir().join("r.json")));
    let planned = read_json(&plan.dir().join("dry.json"));
    let requests: Vec<&Value> = planned["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| &s["request"])
        .collect();
    assert_eq!(requests.len(), echoes.len());
    let echo_base = format!("{}/_sandbox/http", sb.url());
    for ((id, echo), request) in echoes.iter().zip(requests) {
        assert_eq!(request["method"], echo["method"], "{id}");
        // The URL: the path as it went out, and the query with every pair in order.
        let url = request["url"].as_str().expect("a URL");
        let parsed = reqwest::Url::parse(url).expect("the URL parses");
        assert_eq!(
            url.matches('?').count(),
            usize::from(parsed.query().is_some())
        );
        let path = url.split('?').next().unwrap_or_default();
        assert_eq!(
            path.strip_prefix(&echo_base),
            echo["path"].as_str(),
            "{id}: {url}"
        );
        let mut query = serde_json::Map::new();
        for (k, v) in parsed.query_pairs() {
            match query.get_mut(k.as_ref()) {
                None => {
                    query.insert(k.into_owned(), Value::String(v.into_owned()));
                }
                Some(Value::Array(all)) => all.push(Value::String(v.into_owned())),
                Some(first) => *first = json!([first.take(), v]),
            }
        }
        assert_eq!(Value::Object(query), echo["query"], "{id}");
        // The headers: each printed one arrived with its value, and nothing else was sent but
        // what the transport adds.
        let headers = request["headers"].as_array().expect("headers");
        for header in headers {
            let name = header["name"].as_str().expect("name").to_ascii_lowercase();
            assert_eq!(
                echo["headers"][&name], header["value"],
                "{id}: header {name}: {echo:#}"
            );
        }
        let echoed = echo["headers"].as_object().expect("echoed headers");
        for name in echoed.keys() {
            let printed = headers.iter().any(|h| {
                h["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
            assert!(
                printed || ["host", "content-length"].contains(&name.as_str()),
                "{id}: {name} was sent but not printed"
            );
        }
        assert_eq!(request["body"], echo["raw_body"], "{id}");
    }
    // And the terminal shows the same: one Content-Type per body, the XML's lines as written.
    assert!(
        dry.stdout.contains("    body: <?xml version=\"1.0\" encoding=\"UTF-8\"?>\n          <note><to>Ada &amp; Grace</to>"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("    body: a=1&b=2\n"), "{}", dry.stdout);
}
