//! The file reports (JSON, JUnit XML, Markdown), rendered from fixed results models built the way
//! the runner builds them (step results added through a redactor), snapshotted, and read back.

use std::collections::BTreeMap;
use std::time::Duration;

use callplan::report::model::{Report, Status};
use callplan::report::{Redactor, json, junit, markdown};
use callplan::runner::events::{Attempt, Outcome, StepResult};
use indexmap::IndexMap;
use serde_json::{Value, json};

/// A secret the fixtures leak into a response and an error; no report may show it.
const SECRET: &str = "s3cr3t-bearer-token";

/// A message with everything XML and Markdown tables read specially.
const NASTY: &str = "expected <state> == \"connected\" & got | \"disconnected\"\nsecond line";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A step result with nothing but its identity and outcome; the fixtures fill in the rest.
fn result(index: usize, id: &str, name: &str, action: &str, outcome: Outcome) -> StepResult {
    StepResult {
        index,
        id: id.to_owned(),
        name: name.to_owned(),
        provider: "gc".to_owned(),
        action: action.to_owned(),
        item: None,
        source: None,
        outcome,
        inner: None,
        message: None,
        hint: None,
        status: None,
        attempts: Vec::new(),
        duration: Duration::ZERO,
        queued: Duration::ZERO,
        saved: IndexMap::new(),
        correlation_id: None,
        call: None,
        ignored: false,
        always: false,
        started: Duration::ZERO,
        request: None,
        response: None,
    }
}

fn attempt(status: Option<u16>, error: Option<&str>, elapsed: u64, retry: Option<u64>) -> Attempt {
    Attempt {
        status,
        error: error.map(str::to_owned),
        elapsed: ms(elapsed),
        queued: Duration::ZERO,
        retry_after: retry.map(ms),
    }
}

/// A report with fixed ids and times, as the collector starts it.
fn report(name: &str, run_id: &str) -> Report {
    let mut report = Report::new(
        run_id,
        callplan::report::model::PlanInfo {
            name: name.to_owned(),
            path: format!("plans/{name}.yaml"),
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
        },
    );
    report.started_at = "2025-03-14T09:26:53.589Z".to_owned();
    report.providers = vec![callplan::report::model::ProviderInfo {
        name: "gc".to_owned(),
        kind: "genesys-cloud".to_owned(),
        target: "http://127.0.0.1:4010".to_owned(),
    }];
    report
}

fn redactor() -> Redactor {
    let redactor = Redactor::default();
    redactor.add([SECRET.to_owned()]);
    redactor
}

/// A run where every step passed: a login check and a call.
pub(crate) fn passing() -> Report {
    let redactor = redactor();
    let mut report = report("genesys-smoke", "00000000-0000-4000-8000-00000000000a");

    let mut me = result(0, "whoami", "Who am I", "users.me", Outcome::Passed);
    me.status = Some(200);
    me.attempts = vec![attempt(Some(200), None, 42, None)];
    me.duration = ms(45);
    me.started = ms(3);
    me.request = Some("GET /api/v2/users/me".to_owned());
    me.response = Some(r#"{"id":"u-1","name":"Agent One"}"#.to_owned().into());
    me.saved.insert("user_id".to_owned(), json!("u-1"));
    me.correlation_id = Some("corr-0001".to_owned());
    report.add(&me, &redactor);

    let mut call = result(1, "call", "Place a call", "calls.create", Outcome::Passed);
    call.status = Some(200);
    call.attempts = vec![attempt(Some(200), None, 130, None)];
    call.duration = ms(2_400);
    call.started = ms(50);
    call.request = Some("POST /api/v2/conversations/calls".to_owned());
    call.correlation_id = Some("corr-0002".to_owned());
    call.call = Some(json!({"state": "disconnected", "disconnect_type": "peer"}));
    report.add(&call, &redactor);

    report.status = Status::Passed;
    report.duration_ms = 2_460;
    report.finished_at = Some("2025-03-14T09:26:56.049Z".to_owned());
    report
}

/// A run with one step of each kind of trouble: an unmet expectation (with a hint and a message
/// full of markup), an error after retries (with a secret in the response), a failure under
/// `on_error: ignore`, a `for_each` with one errored item of three, a skipped step and an
/// `always` step.
pub(crate) fn failing() -> Report {
    let redactor = redactor();
    let mut report = report("genesys-regression", "00000000-0000-4000-8000-00000000000b");

    let mut user = result(0, "user", "Find the agent", "users.me", Outcome::Passed);
    user.status = Some(200);
    user.attempts = vec![attempt(Some(200), None, 40, None)];
    user.duration = ms(41);
    user.started = ms(2);
    user.request = Some("GET /api/v2/users/me".to_owned());
    user.response = Some(r#"{"id":"u-1"}"#.to_owned().into());
    user.saved.insert("user_id".to_owned(), json!("u-1"));
    user.saved
        .insert("queues".to_owned(), json!(["q-1", "q-2"]));
    user.correlation_id = Some("corr-1000".to_owned());
    report.add(&user, &redactor);

    let mut call = result(1, "call", "Place a call", "calls.create", Outcome::Failed);
    call.status = Some(200);
    call.message = Some(NASTY.to_owned());
    call.hint = Some("the destination `+13175550102` never answers in the sandbox".to_owned());
    call.attempts = vec![attempt(Some(200), None, 120, None)];
    call.duration = ms(3_050);
    call.started = ms(45);
    call.request = Some("POST /api/v2/conversations/calls".to_owned());
    call.response = Some(r#"{"id":"c-1","state":"disconnected"}"#.to_owned().into());
    call.correlation_id = Some("corr-1001".to_owned());
    call.call = Some(json!({"state": "disconnected", "disconnect_type": "noAnswer"}));
    report.add(&call, &redactor);

    let mut queue = result(2, "queue", "Read the queue", "queues.get", Outcome::Errored);
    queue.status = Some(503);
    queue.message = Some("503 Service Unavailable after 3 attempts".to_owned());
    queue.hint = Some("the API is overloaded: raise `retry.attempts` or slow the plan".to_owned());
    queue.attempts = vec![
        attempt(Some(503), Some("503 Service Unavailable"), 80, Some(500)),
        attempt(Some(503), Some("503 Service Unavailable"), 75, Some(1_000)),
        attempt(
            Some(503),
            Some(&format!("503 Service Unavailable (token {SECRET})")),
            90,
            None,
        ),
    ];
    queue.duration = ms(1_760);
    queue.started = ms(3_100);
    queue.request = Some("GET /api/v2/routing/queues/q-1".to_owned());
    queue.response = Some(format!(r#"{{"message":"overloaded","echo":"Bearer {SECRET}"}}"#).into());
    queue.correlation_id = Some("corr-1002".to_owned());
    report.add(&queue, &redactor);

    let mut notify = result(
        3,
        "notify",
        "Tell the webhook",
        "http.post",
        Outcome::Errored,
    );
    notify.ignored = true;
    notify.message = Some("connection refused (os error 111)".to_owned());
    notify.attempts = vec![attempt(
        None,
        Some("connection refused (os error 111)"),
        2,
        None,
    )];
    notify.duration = ms(3);
    notify.started = ms(4_870);
    notify.request = Some("POST /hooks/callplan".to_owned());
    report.add(&notify, &redactor);

    let outcomes = [Outcome::Passed, Outcome::Errored, Outcome::Passed];
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let mut dial = result(4, "dial", "Dial each number", "calls.create", outcome);
        dial.item = Some(i);
        // Rows of a CSV file: its header is line 1.
        dial.source = Some(callplan::runner::events::Source {
            file: "plans/numbers.csv".to_owned(),
            line: i as u64 + 2,
        });
        dial.started = ms(4_900 + 10 * i as u64);
        dial.duration = ms(600 + 100 * i as u64);
        dial.request = Some("POST /api/v2/conversations/calls".to_owned());
        dial.correlation_id = Some(format!("corr-20{i:02}"));
        if outcome == Outcome::Passed {
            dial.status = Some(200);
            dial.attempts = vec![attempt(Some(200), None, 90, None)];
            dial.saved
                .insert("call_id".to_owned(), json!(format!("c-{i}")));
            dial.call = Some(json!({"state": "disconnected"}));
        } else {
            dial.status = Some(500);
            dial.message = Some("500 Internal Server Error".to_owned());
            dial.hint =
                Some("a vendor fault: retry later, and quote the correlation id".to_owned());
            dial.attempts = vec![attempt(
                Some(500),
                Some("500 Internal Server Error"),
                70,
                None,
            )];
            dial.response = Some(r#"{"message":"boom"}"#.to_owned().into());
        }
        report.add(&dial, &redactor);
    }

    let mut wrap = result(
        5,
        "wrap_up",
        "Wrap up",
        "conversations.wrapup",
        Outcome::Skipped,
    );
    wrap.message = Some("its `if` was false".to_owned());
    wrap.started = ms(5_700);
    report.add(&wrap, &redactor);

    let mut hangup = result(6, "hangup", "Hang up", "calls.disconnect", Outcome::Passed);
    hangup.always = true;
    hangup.status = Some(202);
    hangup.attempts = vec![attempt(Some(202), None, 60, None)];
    hangup.duration = ms(61);
    hangup.started = ms(5_710);
    hangup.request = Some("POST /api/v2/conversations/calls/c-1/disconnect".to_owned());
    report.add(&hangup, &redactor);

    report.status = Status::Failed;
    report.reason = Some("step `call` failed".to_owned());
    report.duration_ms = 5_780;
    report.finished_at = Some("2025-03-14T09:26:59.369Z".to_owned());
    report
}

/// A run that could not log in: no step ran.
fn could_not_run() -> Report {
    let mut report = report("genesys-smoke", "00000000-0000-4000-8000-00000000000c");
    report.status = Status::CouldNotRun;
    report.reason = Some("provider `gc`: login failed: 401 invalid_client".to_owned());
    report.duration_ms = 210;
    report.finished_at = Some("2025-03-14T09:26:53.799Z".to_owned());
    report
}

#[test]
fn the_fixtures_count_what_they_hold() {
    let c = failing().counts;
    assert_eq!(
        (c.passed, c.failed, c.errored, c.skipped, c.warned),
        (4, 1, 2, 1, 1)
    );
}

// --- JSON ---------------------------------------------------------------------------------

#[test]
fn json_snapshots() {
    insta::assert_snapshot!("json_passing", json::render(&passing()));
    insta::assert_snapshot!("json_failing", json::render(&failing()));
}

#[test]
fn json_reads_back_as_the_model() {
    let value: Value = serde_json::from_str(&json::render(&failing())).expect("json");
    assert_eq!(value["$schema"], callplan::report::model::SCHEMA_ID);
    assert_eq!(value["status"], "failed");
    assert_eq!(value["counts"]["errored"], 2);
    let dial = &value["steps"][4];
    assert_eq!(dial["id"], "dial");
    assert_eq!(dial["outcome"], "errored");
    assert_eq!(dial["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(value["steps"][1]["items"][0]["message"], NASTY);
    assert_eq!(
        value["steps"][2]["items"][0]["attempts"][0]["retry_after_ms"],
        500
    );
}

// --- JUnit --------------------------------------------------------------------------------

#[test]
fn junit_snapshots() {
    insta::assert_snapshot!("junit_passing", junit::render(&passing()));
    insta::assert_snapshot!("junit_failing", junit::render(&failing()));
}

/// An element of a parsed XML document.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn attr(&self, name: &str) -> &str {
        self.attrs.get(name).map(String::as_str).unwrap_or_default()
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Parses XML with quick-xml into a tree, as a CI's JUnit reader would: entities resolved,
/// attribute values normalized.
fn parse_xml(xml: &str) -> Element {
    use quick_xml::XmlVersion;
    use quick_xml::events::{BytesStart, Event};

    fn element(start: &BytesStart<'_>) -> Element {
        let attrs = start
            .attributes()
            .map(|a| {
                let a = a.expect("a well-formed attribute");
                let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                let value = a
                    .normalized_value(XmlVersion::Implicit1_0)
                    .expect("an attribute value")
                    .into_owned();
                (key, value)
            })
            .collect();
        Element {
            name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
            attrs,
            ..Element::default()
        }
    }

    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack = vec![Element::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) => stack.push(element(&start)),
            Event::Empty(start) => {
                let e = element(&start);
                stack.last_mut().expect("a parent").children.push(e);
            }
            Event::End(_) => {
                let done = stack.pop().expect("an open element");
                stack.last_mut().expect("a parent").children.push(done);
            }
            Event::Text(text) => {
                let text = text.xml10_content().expect("text");
                stack.last_mut().expect("an element").text.push_str(&text);
            }
            Event::CData(data) => {
                let data = data.decode().expect("cdata");
                stack.last_mut().expect("an element").text.push_str(&data);
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().expect("a char ref") {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().expect("an entity name");
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .expect("a predefined entity")
                            .to_owned()
                    }
                };
                stack
                    .last_mut()
                    .expect("an element")
                    .text
                    .push_str(&resolved);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "every element is closed");
    let mut document = stack.pop().expect("the document");
    assert_eq!(document.children.len(), 1, "one root element");
    document.children.remove(0)
}

fn cases(root: &Element) -> Vec<&Element> {
    root.child("testsuite")
        .expect("a testsuite")
        .all("testcase")
        .collect()
}

fn case<'a>(root: &'a Element, name: &str) -> &'a Element {
    cases(root)
        .into_iter()
        .find(|c| c.attr("name") == name)
        .expect("a testcase of that name")
}

#[test]
fn junit_has_one_suite_per_plan_and_one_case_per_step_or_item() {
    let root = parse_xml(&junit::render(&failing()));
    assert_eq!(root.name, "testsuites");
    let suites: Vec<_> = root.all("testsuite").collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.attr("name"), "genesys-regression");
    let names: Vec<&str> = cases(&root).iter().map(|c| c.attr("name")).collect();
    assert_eq!(
        names,
        [
            "user", "call", "queue", "notify", "dial[1]", "dial[2]", "dial[3]", "wrap_up", "hangup"
        ]
    );
    assert!(
        cases(&root)
            .iter()
            .all(|c| c.attr("classname") == "genesys-regression")
    );
    // Counts: one failure (the unmet expectation), two errors (the retried 503 and `dial[2]`;
    // the ignored one passes), one skipped.
    for element in [&root, suite] {
        assert_eq!(element.attr("tests"), "9");
        assert_eq!(element.attr("failures"), "1");
        assert_eq!(element.attr("errors"), "2");
        assert_eq!(element.attr("skipped"), "1");
        assert_eq!(element.attr("time"), "5.780");
        assert_eq!(element.attr("timestamp"), "2025-03-14T09:26:53.589+00:00");
    }
    assert_eq!(case(&root, "call").attr("time"), "3.050");
    assert_eq!(
        case(&root, "queue").attr("timestamp"),
        "2025-03-14T09:26:56.689+00:00"
    );

    let properties: BTreeMap<&str, &str> = suite
        .child("properties")
        .expect("properties")
        .all("property")
        .map(|p| (p.attr("name"), p.attr("value")))
        .collect();
    assert_eq!(
        properties.get("run_id"),
        Some(&"00000000-0000-4000-8000-00000000000b")
    );
    assert_eq!(
        properties.get("plan_sha256"),
        Some(&"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    );
    assert_eq!(properties.get("status"), Some(&"failed"));
    assert_eq!(properties.get("reason"), Some(&"step `call` failed"));
}

#[test]
fn junit_tells_a_failure_from_an_error_and_a_skip() {
    let root = parse_xml(&junit::render(&failing()));
    let outcome = |name: &str| -> Vec<&str> {
        case(&root, name)
            .children
            .iter()
            .map(|c| c.name.as_str())
            .filter(|n| *n != "system-out")
            .collect()
    };
    assert_eq!(outcome("user"), Vec::<&str>::new());
    assert_eq!(outcome("call"), ["failure"]);
    assert_eq!(outcome("queue"), ["error"]);
    assert_eq!(outcome("notify"), Vec::<&str>::new(), "ignored: passes");
    assert_eq!(outcome("dial[1]"), Vec::<&str>::new());
    assert_eq!(outcome("dial[2]"), ["error"]);
    assert_eq!(outcome("wrap_up"), ["skipped"]);

    let failure = case(&root, "call").child("failure").expect("a failure");
    assert_eq!(failure.attr("type"), "failed");
    assert_eq!(
        failure.attr("message"),
        "expected <state> == \"connected\" & got | \"disconnected\""
    );
    assert_eq!(
        failure.text,
        format!("{NASTY}\nhint: the destination `+13175550102` never answers in the sandbox")
    );
    let skipped = case(&root, "wrap_up").child("skipped").expect("skipped");
    assert_eq!(skipped.attr("message"), "its `if` was false");

    let notify = case(&root, "notify")
        .child("system-out")
        .expect("system-out");
    assert!(
        notify
            .text
            .starts_with("ignored: errored (on_error: ignore): connection refused"),
        "{}",
        notify.text
    );
}

#[test]
fn junit_system_out_carries_the_request_attempts_and_call() {
    let root = parse_xml(&junit::render(&failing()));
    let out = |name: &str| {
        case(&root, name)
            .child("system-out")
            .map(|s| s.text.clone())
            .unwrap_or_default()
    };
    let queue = out("queue");
    for line in [
        "request: GET /api/v2/routing/queues/q-1",
        "status: 503",
        "attempt 1: status 503 error: 503 Service Unavailable (80 ms), retry after 500 ms",
        "attempt 2: status 503 error: 503 Service Unavailable (75 ms), retry after 1 s",
        "attempt 3: status 503 error: 503 Service Unavailable (token ****) (90 ms)",
        "correlation id: corr-1002",
        r#"{"message":"overloaded","echo":"Bearer ****"}"#,
    ] {
        assert!(queue.lines().any(|l| l == line), "{line:?} in:\n{queue}");
    }
    let call = out("call");
    assert!(call.contains(r#"call: {"state":"disconnected","disconnect_type":"noAnswer"}"#));
    assert!(out("user").contains(r#"saved: queues = ["q-1","q-2"]"#));
}

#[test]
fn junit_marks_a_run_that_could_not_run_as_an_error() {
    let root = parse_xml(&junit::render(&could_not_run()));
    assert_eq!(root.attr("tests"), "1");
    assert_eq!(root.attr("errors"), "1");
    let error = case(&root, "(run)").child("error").expect("an error");
    assert_eq!(
        error.attr("message"),
        "provider `gc`: login failed: 401 invalid_client"
    );
    assert_eq!(error.attr("type"), "could_not_run");
}

// --- Markdown -----------------------------------------------------------------------------

#[test]
fn markdown_snapshots() {
    insta::assert_snapshot!("markdown_passing", markdown::render(&passing()));
    insta::assert_snapshot!("markdown_failing", markdown::render(&failing()));
    insta::assert_snapshot!("markdown_could_not_run", markdown::render(&could_not_run()));
}

/// The cell separators of a table row: the `|` not escaped with a backslash.
fn cells(row: &str) -> usize {
    let mut count = 0usize;
    let mut escaped = false;
    for c in row.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count.saturating_sub(1)
}

#[test]
fn markdown_table_cells_hold_markup_safely() {
    let text = markdown::render(&failing());
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
    // The header, its rule and seven steps, each with eight cells.
    assert_eq!(rows.len(), 9, "{text}");
    assert!(rows.iter().all(|r| cells(r) == 8), "{rows:#?}");
    let call = rows
        .iter()
        .find(|r| r.contains("`call`"))
        .expect("the call row");
    assert!(
        call.contains(r#"expected \<state\> == "connected" \& got \| "disconnected" second line"#),
        "{call}"
    );
    assert!(!text.contains(SECRET));
}

#[test]
fn markdown_summarises_for_each_steps_in_one_row() {
    let text = markdown::render(&failing());
    let dial = text
        .lines()
        .find(|l| l.contains("`dial`") && l.starts_with('|'))
        .expect("the dial row");
    assert!(dial.contains("❌ 2/3 passed"), "{dial}");
    // The first item that did not pass, named as every report names it.
    assert!(
        dial.contains("dial\\[2\\]: 500 Internal Server Error"),
        "{dial}"
    );
    assert!(text.contains(
        "- `dial[2]` (`plans/numbers.csv:3`) ❌ errored (500): 500 Internal Server Error"
    ));
    assert!(text.contains("⚠️ errored (ignored)"));
}

#[test]
fn markdown_lists_at_most_twenty_failed_items_a_step() {
    let redactor = Redactor::default();
    let mut report = report("many", "00000000-0000-4000-8000-00000000000d");
    for i in 0..25 {
        let mut item = result(0, "each", "Each", "calls.create", Outcome::Failed);
        item.item = Some(i);
        item.message = Some(format!("item {i} did not connect"));
        report.add(&item, &redactor);
    }
    let text = markdown::render(&report);
    assert!(text.contains("❌ 0/25 passed"));
    assert!(text.contains("- `each[20]` ❌ failed: item 19 did not connect"));
    assert!(!text.contains("`each[21]`"));
    assert!(text.contains("- … and 5 more"));
}

#[test]
fn markdown_stays_under_github_summary_limit() {
    let redactor = Redactor::default();
    let mut report = report("huge", "00000000-0000-4000-8000-00000000000e");
    let long = "x".repeat(500);
    let steps = 12_000;
    for i in 0..steps {
        let outcome = if i == steps - 1 {
            Outcome::Failed
        } else {
            Outcome::Passed
        };
        let mut step = result(i, &format!("step_{i}"), &long, "http.get", outcome);
        step.message = Some(long.clone());
        report.add(&step, &redactor);
    }
    let text = markdown::render(&report);
    assert!(text.len() <= markdown::LIMIT, "{} bytes", text.len());
    assert!(text.len() > markdown::LIMIT / 2, "the room is used");
    assert!(text.contains("steps are not shown, to keep this summary under GitHub's 1 MiB"));
    // The step that failed is kept although it is the last.
    assert!(text.contains(&format!("`step_{}`", steps - 1)));
}

// --- A large `for_each`: the model keeps some items, the reports count them all ----------

/// A run with a `for_each` of 100,000 items (98,890 passed, 1,000 failed, 100 errored, 10
/// skipped) and one of 1,000 under `on_error: ignore` (250 passed, 750 errored): the model
/// keeps 700 items of each (the first 200 passed, the first 500 others) and counts the rest.
fn large() -> Report {
    let redactor = redactor();
    let mut report = report("campaign", "00000000-0000-4000-8000-00000000000f");

    let mut login = result(0, "login", "Log in", "users.me", Outcome::Passed);
    login.status = Some(200);
    login.attempts = vec![attempt(Some(200), None, 40, None)];
    report.add(&login, &redactor);

    for i in 0..100_000usize {
        let outcome = match i {
            _ if i % 100 == 3 => Outcome::Failed,
            _ if i % 1_000 == 7 => Outcome::Errored,
            _ if i % 10_000 == 5 => Outcome::Skipped,
            _ => Outcome::Passed,
        };
        let mut dial = result(1, "dial", "Dial each number", "calls.create", outcome);
        dial.item = Some(i);
        dial.started = ms(50 + i as u64 / 10);
        dial.duration = ms(300);
        dial.attempts = vec![attempt(Some(200), None, 90, None)];
        dial.status = Some(200);
        match outcome {
            Outcome::Failed => dial.message = Some("the call never connected".to_owned()),
            Outcome::Errored => {
                dial.status = Some(500);
                dial.message = Some("500 Internal Server Error".to_owned());
                dial.hint =
                    Some("a vendor fault: retry later, and quote the correlation id".to_owned());
            }
            Outcome::Skipped => dial.message = Some("its `if` was false".to_owned()),
            Outcome::Passed => {}
        }
        report.add(&dial, &redactor);
    }

    for i in 0..1_000usize {
        let outcome = if i % 4 == 0 {
            Outcome::Passed
        } else {
            Outcome::Errored
        };
        let mut notify = result(2, "notify", "Tell the CRM", "http.post", outcome);
        notify.ignored = true;
        notify.item = Some(i);
        notify.started = ms(10_100 + i as u64);
        notify.duration = ms(20);
        if outcome == Outcome::Errored {
            notify.message = Some("connection refused (os error 111)".to_owned());
        }
        report.add(&notify, &redactor);
    }

    report.status = Status::Failed;
    report.reason = Some("step `dial` failed".to_owned());
    report.duration_ms = 11_200;
    report
}

#[test]
fn the_large_fixture_keeps_seven_hundred_items_a_step() {
    let r = large();
    let dial = &r.steps[1];
    assert_eq!(
        (dial.total, dial.omitted, dial.items.len()),
        (100_000, 99_300, 700)
    );
    let c = dial.counts;
    assert_eq!(
        (c.passed, c.failed, c.errored, c.skipped, c.warned),
        (98_890, 1_000, 100, 10, 0)
    );
    let notify = &r.steps[2];
    assert_eq!(
        (notify.total, notify.omitted, notify.items.len()),
        (1_000, 300, 700)
    );
    assert_eq!((notify.counts.passed, notify.counts.warned), (250, 750));
}

/// How many items a test case stands for: a summing one says, `dial (98,690 more items passed)`.
fn items_of(case: &Element) -> u64 {
    let name = case.attr("name");
    match name.split_once(" (") {
        Some((_, rest)) => rest
            .split(' ')
            .next()
            .expect("a count")
            .replace(',', "")
            .parse()
            .expect("a number"),
        None => 1,
    }
}

#[test]
fn junit_sums_up_the_items_a_large_step_did_not_keep() {
    let report = large();
    let root = parse_xml(&junit::render(&report));
    let suite = root.child("testsuite").expect("a testsuite");
    let all = cases(&root);
    let with = |child: &str| all.iter().filter(|c| c.child(child).is_some()).count();

    // The attributes count the test cases written: the kept items and the summing ones.
    assert_eq!(all.len(), 1 + (700 + 4) + (700 + 2));
    for element in [&root, suite] {
        assert_eq!(element.attr("tests"), all.len().to_string());
        assert_eq!(element.attr("failures"), with("failure").to_string());
        assert_eq!(element.attr("errors"), with("error").to_string());
        assert_eq!(element.attr("skipped"), with("skipped").to_string());
    }
    assert_eq!(
        (with("failure"), with("error"), with("skipped")),
        (450 + 1, 45 + 1, 5 + 1)
    );

    // The properties hold the per-item totals.
    let properties: BTreeMap<&str, &str> = suite
        .child("properties")
        .expect("properties")
        .all("property")
        .map(|p| (p.attr("name"), p.attr("value")))
        .collect();
    for (name, value) in [
        ("items_total", "101001"),
        ("items_passed", "99141"),
        ("items_failed", "1000"),
        ("items_errored", "100"),
        ("items_skipped", "10"),
        ("items_ignored", "750"),
        ("items_not_listed", "99600"),
    ] {
        assert_eq!(properties.get(name), Some(&value), "{name}");
    }

    // Read back, the test cases stand for every item, and for every outcome.
    let sum = |pick: &dyn Fn(&Element) -> bool| -> u64 {
        all.iter().filter(|c| pick(c)).map(|c| items_of(c)).sum()
    };
    assert_eq!(sum(&|_| true), 101_001);
    assert_eq!(sum(&|c| c.child("failure").is_some()), 1_000);
    assert_eq!(sum(&|c| c.child("error").is_some()), 100);
    assert_eq!(sum(&|c| c.child("skipped").is_some()), 10);
    // Passed test cases: the items that passed, and the failures under `on_error: ignore`.
    assert_eq!(
        sum(&|c| c.children.iter().all(|e| e.name == "system-out")),
        99_141 + 750
    );
    let dial_kept = all
        .iter()
        .filter(|c| c.attr("name").starts_with("dial["))
        .count();
    assert_eq!(dial_kept, 700);

    // One summing test case per outcome the omitted items had.
    let summing: Vec<&str> = all
        .iter()
        .map(|c| c.attr("name"))
        .filter(|n| n.contains(" more item"))
        .collect();
    assert_eq!(
        summing,
        [
            "dial (98,690 more items passed)",
            "dial (550 more items failed)",
            "dial (55 more items errored)",
            "dial (5 more items skipped)",
            "notify (50 more items passed)",
            "notify (250 more items ignored)",
        ]
    );
    let failure = case(&root, "dial (550 more items failed)")
        .child("failure")
        .expect("a failure");
    assert_eq!(failure.attr("type"), "failed");
    assert_eq!(
        failure.attr("message"),
        "550 more items of step `dial` failed; their details are in the JSONL report \
         (--report jsonl:PATH)"
    );
    let error = case(&root, "dial (55 more items errored)")
        .child("error")
        .expect("an error");
    assert!(
        error
            .attr("message")
            .starts_with("55 more items of step `dial` errored; ")
    );
    let skipped = case(&root, "dial (5 more items skipped)")
        .child("skipped")
        .expect("skipped");
    assert!(skipped.attr("message").contains("JSONL report"));
    let ignored = case(&root, "notify (250 more items ignored)");
    let out = &ignored.child("system-out").expect("system-out").text;
    assert!(
        out.starts_with(
            "ignored (on_error: ignore): 250 more items of step `notify` failed or errored; "
        ),
        "{out}"
    );
    let passed = &case(&root, "dial (98,690 more items passed)")
        .child("system-out")
        .expect("system-out")
        .text;
    assert!(
        passed.contains(
            "items: 100,000 ran; 700 have a test case of their own; the other 99,300 \
             (98,690 passed, 550 failed, 55 errored, 5 skipped)"
        ),
        "{passed}"
    );
}

#[test]
fn markdown_counts_every_item_of_a_large_step() {
    let text = markdown::render(&large());
    let row = |id: &str| {
        text.lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`{id}`")))
            .expect("the row")
            .to_owned()
    };
    let dial = row("dial");
    assert!(dial.contains("❌ 98,890/100,000 passed"), "{dial}");
    // The span and the attempts are read from the kept items: at least.
    assert!(dial.contains("| ≥ 700 |"), "{dial}");
    let notify = row("notify");
    assert!(notify.contains("⚠️ 250/1,000 passed"), "{notify}");
    assert!(text.contains(
        "Steps and `for_each` items: **99,141 passed**, 1,000 failed, 100 errored, 10 skipped, \
         750 ignored (`on_error: ignore`)."
    ));
    // Under the table: what is not listed, and where it is.
    assert!(text.contains(
        "\n_99,300 of the 100,000 items of `dial` (98,690 passed, 550 failed, 55 errored, \
         5 skipped) are not listed here; every item is in the JSONL report \
         (`--report jsonl:PATH`)._\n"
    ));
    assert!(text.contains(
        "\n_300 of the 1,000 items of `notify` (50 passed, 250 ignored) are not listed here; \
         every item is in the JSONL report (`--report jsonl:PATH`)._\n"
    ));
    // The failed items: counted over all of them, twenty listed.
    assert!(text.contains("`dial` (Dial each number): 1,100 of 100,000 items did not pass\n"));
    assert!(text.contains(
        "- … and 1,080 more (605 of them only in the JSONL report, `--report jsonl:PATH`)\n"
    ));
    assert!(text.contains(
        "`notify` (Tell the CRM): 750 of 1,000 items did not pass (ignored, `on_error: ignore`)"
    ));
    assert!(text.contains("- … and 730 more (250 of them only in the JSONL report"));
    // Hints are read from the kept items, and the section says so.
    assert!(text.contains(
        "### Hints\n\n_From the items this report keeps; the JSONL report has every item._\n\n\
         - `dial[8]`, `dial[1008]`,"
    ));
    assert!(text.contains(" and 25 more: a vendor fault: retry later"));
    assert!(text.len() <= markdown::LIMIT);
}

/// A campaign over a CSV file (with a blank line, a busy number and a malformed row) and a step
/// over an inline list, run for real: every output names each item the same way, `campaign[2]`
/// from 1, and says where it is written (`rows.csv:4`, the plan's line of an inline item).
#[test]
fn an_item_has_one_name_and_one_place_in_every_output() {
    let sandbox = callplan::sandbox::Sandbox::start_background(crate::fast_config())
        .expect("the sandbox starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    // Line 3 of its CSV file is blank: the busy number is on line 4, the malformed row on line 5.
    let plan = "tests/plans/ok/item-names.yaml";
    let text = std::fs::read_to_string(crate::root().join(plan)).expect("the plan");
    let inline_line = text
        .lines()
        .position(|l| l.ends_with("-00000000dead"))
        .expect("the inline item")
        + 1;
    // From the repository's root, as a user runs an example; the reports in a temporary
    // directory. Unset secrets: the sandbox's own credentials stand in.
    let url = sandbox.url();
    let mut args = vec!["run", plan, "--sandbox-url", &url, "--color", "never"];
    let reports: Vec<String> = [
        "json:r.json",
        "jsonl:r.jsonl",
        "junit:r.xml",
        "markdown:r.md",
    ]
    .into_iter()
    .chain(["html:r.html"])
    .map(|r| {
        let (format, name) = r.split_once(':').expect("FORMAT:NAME");
        format!("{format}:{}", dir.path().join(name).display())
    })
    .collect();
    for report in &reports {
        args.extend(["--report", report.as_str()]);
    }
    let out = crate::callplan(&args);
    let stdout = out.stdout;
    assert_eq!(out.code, 1, "{stdout}");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect(name);
    let (json, jsonl, junit, md, page) = (
        read("r.json"),
        read("r.jsonl"),
        read("r.xml"),
        read("r.md"),
        read("r.html"),
    );
    let report: Value = serde_json::from_str(&json).expect("JSON");
    // (name, index from 0, file, line, outcome) of the items that did not pass.
    let expected = [
        (
            "campaign[2]",
            0,
            1,
            "tests/plans/ok/item-names.csv",
            4,
            "failed",
        ),
        (
            "campaign[3]",
            0,
            2,
            "tests/plans/ok/item-names.csv",
            5,
            "errored",
        ),
        ("agents[2]", 1, 1, plan, inline_line, "errored"),
    ];
    for (name, step, index, file, line, outcome) in expected {
        let place = format!("{file}:{line}");
        // The terminal.
        assert!(
            stdout.contains(&format!("{name} ({place})")),
            "{name} ({place}) on the terminal:\n{stdout}"
        );
        // JSON: the index for programs, the name and the place for people.
        let item = &report["steps"][step]["items"][index];
        assert_eq!(item["item"], index, "{name}");
        assert_eq!(item["item_name"], name);
        assert_eq!(item["item_source"], json!({ "file": file, "line": line }));
        assert_eq!(item["outcome"], outcome, "{name}");
        // JSONL: the item's own line.
        let lines: Vec<Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .filter(|l: &Value| l["item_name"] == name)
            .collect();
        assert_eq!(lines.len(), 1, "{name} in the JSONL report");
        assert_eq!(lines[0]["item_source"]["line"], line);
        // JUnit: the test case, with where its item is written.
        assert!(
            junit.contains(&format!("name=\"{name}\""))
                && junit.contains(&format!("source: {place}")),
            "{name} in the JUnit report:\n{junit}"
        );
        assert!(junit.contains(&format!("file=\"{file}\" line=\"{line}\"")));
        // Markdown, HTML.
        assert!(
            md.contains(&format!("- `{name}` (`{place}`)")),
            "{name}:\n{md}"
        );
        assert!(
            page.contains(&format!("<b>{name}</b>")),
            "{name} in the HTML table"
        );
        assert!(page.contains(&place), "{place} in the HTML report");
    }
    // A step of a flow's row: the row's name, then the step's.
    let answered = &report["steps"][0]["items"][1]["steps"][1];
    assert_eq!(answered["item_name"], "campaign[2].answered");
    assert_eq!(answered["item_source"]["line"], 4);
    assert!(
        stdout.contains("campaign[2].answered (tests/plans/ok/item-names.csv:4)"),
        "{stdout}"
    );
    assert!(jsonl.contains("\"item_name\":\"campaign[2].answered\""));
    // No output numbers items from 0 any more.
    for text in [&stdout, &md, &page, &junit] {
        assert!(!text.contains("item 0"), "an item numbered from 0:\n{text}");
    }
}
