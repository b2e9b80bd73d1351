//! The HTML report: self-contained (nothing loads), escaped, one timeline bar per step and
//! `for_each` item, and still reasonable with no step or a thousand items.
//!
//! `CALLPLAN_WRITE_HTML=path cargo test --test integration html_report::demo` writes the demo
//! report's page to `path` (`scripts/screenshot-report.sh demo` screenshots it).
//!
//! The timeline's promises are checked on the parsed markup ([`markup::checked_bars`]): every
//! bar inside its track and at least the minimum width, failures drawn above passes; also on the
//! reports of the two runs docs/reports.md screenshots, made for real against the sandbox.

mod markup;

use callplan::report::Format;
use callplan::report::model::{
    AttemptReport, Counts, ItemOutcome, ItemReport, PlanInfo, ProviderInfo, Report, SCHEMA_ID,
    Status, StepReport,
};
use indexmap::IndexMap;
use markup::{bar_to, checked_bars, group_by_row};
use serde_json::json;

fn report(steps: Vec<StepReport>) -> Report {
    let mut counts = Counts::default();
    for s in &steps {
        for i in &s.items {
            match (i.outcome, s.ignored) {
                (ItemOutcome::Passed, _) => counts.passed += 1,
                (ItemOutcome::Skipped, _) => counts.skipped += 1,
                (_, true) => counts.warned += 1,
                (ItemOutcome::Failed, false) => counts.failed += 1,
                (ItemOutcome::Errored, false) => counts.errored += 1,
            }
        }
    }
    let failed = counts.failed + counts.errored > 0;
    let reason = steps
        .iter()
        .find(|s| !s.ignored && matches!(s.outcome, ItemOutcome::Failed | ItemOutcome::Errored))
        .map(|s| format!("step `{}` failed", s.id));
    let duration_ms = steps
        .iter()
        .flat_map(|s| &s.items)
        .map(|i| i.started_ms + i.duration_ms)
        .max()
        .unwrap_or(0)
        + 20;
    Report {
        schema: SCHEMA_ID.to_owned(),
        run_id: "0f6d2c8e-3a51-4c7e-9b1e-5d0c2a7f4e11".to_owned(),
        plan: PlanInfo {
            name: "genesys-external-contact-crm".to_owned(),
            path: "plans/genesys-external-contact-crm.yaml".to_owned(),
            sha256: "9c1f6b2e0d4a7c35e8b1f0a2d6c4e8b7a1f3d5c7e9b0a2c4d6e8f0a1b3c5d7e9".to_owned(),
        },
        providers: vec![
            ProviderInfo {
                name: "gc".to_owned(),
                kind: "genesys-cloud".to_owned(),
                target: "https://api.mypurecloud.ie".to_owned(),
            },
            ProviderInfo {
                name: "crm".to_owned(),
                kind: "http".to_owned(),
                target: "https://crm.example.com/api".to_owned(),
            },
        ],
        started_at: "2026-11-02T09:14:03.512Z".to_owned(),
        finished_at: Some("2026-11-02T09:14:15.033Z".to_owned()),
        duration_ms,
        status: if failed {
            Status::Failed
        } else {
            Status::Passed
        },
        reason,
        counts,
        not_run: 0,
        logins: Vec::new(),
        steps,
    }
}

fn step(index: usize, id: &str, name: &str, provider: &str, action: &str) -> StepReport {
    StepReport {
        index,
        id: id.to_owned(),
        name: name.to_owned(),
        provider: provider.to_owned(),
        action: action.to_owned(),
        outcome: ItemOutcome::Passed,
        ignored: false,
        always: false,
        total: 0,
        counts: Counts::default(),
        omitted: 0,
        not_run: 0,
        not_run_reason: None,
        items: Vec::new(),
    }
}

fn attempt(status: u16, elapsed_ms: u64) -> AttemptReport {
    AttemptReport {
        status: Some(status),
        error: None,
        elapsed_ms,
        queued_ms: 0,
        retry_after_ms: None,
    }
}

fn item(outcome: ItemOutcome, started_ms: u64, duration_ms: u64, status: u16) -> ItemReport {
    ItemReport {
        item: None,
        item_name: None,
        item_source: None,
        outcome,
        message: None,
        hint: None,
        status: Some(status),
        started_ms,
        duration_ms,
        queued_ms: 0,
        attempts: vec![attempt(status, duration_ms)],
        saved: IndexMap::new(),
        correlation_id: Some(format!("c0ffee00-0000-4000-8000-{started_ms:012}")),
        call: None,
        request: None,
        response: None,
        steps: Vec::new(),
    }
}

/// Sets a step's items, its outcome (the worst of them), its total and its counts.
fn with(mut s: StepReport, items: Vec<ItemReport>) -> StepReport {
    let rank = |o: ItemOutcome| match o {
        ItemOutcome::Passed => 0,
        ItemOutcome::Skipped => 1,
        ItemOutcome::Failed => 2,
        ItemOutcome::Errored => 3,
    };
    s.outcome = items
        .iter()
        .map(|i| i.outcome)
        .max_by_key(|o| rank(*o))
        .unwrap_or(ItemOutcome::Passed);
    s.total = items.len() as u64;
    s.counts = Counts::default();
    for i in &items {
        match (i.outcome, s.ignored) {
            (ItemOutcome::Passed, _) => s.counts.passed += 1,
            (ItemOutcome::Skipped, _) => s.counts.skipped += 1,
            (_, true) => s.counts.warned += 1,
            (ItemOutcome::Failed, false) => s.counts.failed += 1,
            (ItemOutcome::Errored, false) => s.counts.errored += 1,
        }
    }
    s.items = items;
    s
}

/// A realistic run: a retried dial, a call wait, a `for_each` of five with one unmet
/// expectation and one retry, an ignored timeout, and two `always` steps.
fn demo() -> Report {
    let mut contact = item(ItemOutcome::Passed, 4, 312, 200);
    contact.request = Some("POST /api/v2/externalcontacts/contacts".to_owned());
    contact.response = Some(
        r#"{"id":"8f1c2d3e-0000-4000-8000-000000000042","firstName":"Ada","lastName":"Lovelace"}"#
            .to_owned(),
    );
    contact.saved.insert(
        "contact_id".to_owned(),
        json!("8f1c2d3e-0000-4000-8000-000000000042"),
    );

    let mut dial = item(ItemOutcome::Passed, 330, 1_590, 200);
    dial.request = Some("POST /api/v2/conversations/calls".to_owned());
    dial.attempts = vec![
        AttemptReport {
            status: Some(503),
            error: Some("503 Service Unavailable".to_owned()),
            elapsed_ms: 240,
            queued_ms: 0,
            retry_after_ms: Some(1_000),
        },
        attempt(200, 345),
    ];
    dial.response = Some(r#"{"id":"3b7e9d10-0000-4000-8000-000000000007"}"#.to_owned());

    let mut answered = item(ItemOutcome::Passed, 1_930, 4_870, 200);
    answered.request =
        Some("GET /api/v2/conversations/3b7e9d10-0000-4000-8000-000000000007".to_owned());
    answered.call = Some(json!({
        "conversation_id": "3b7e9d10-0000-4000-8000-000000000007",
        "purpose": "customer",
        "state": "connected",
        "connected_time": "2026-11-02T09:14:10.301Z",
    }));

    let notify_items = (0..5u64)
        .map(|n| {
            let start = 6_820 + (n / 2) * 720 + (n % 2) * 35;
            let mut i = item(ItemOutcome::Passed, start, 380 + n * 45, 201);
            i.item = Some(n as usize);
            i.item_name = Some(format!("notify[{}]", n + 1));
            i.item_source = Some(callplan::runner::events::Source {
                file: "plans/open-cases.jsonl".to_owned(),
                line: n + 1,
            });
            i.request = Some(format!("POST /api/customers/CRM-181{n}/notes"));
            match n {
                2 => {
                    i.outcome = ItemOutcome::Failed;
                    i.status = Some(409);
                    i.attempts = vec![attempt(409, i.duration_ms)];
                    i.message = Some(
                        "expectation `response.status in [200, 201]` was not met: response.status is 409"
                            .to_owned(),
                    );
                    i.hint = Some(
                        "the CRM already has a note for this call; make the note's key unique per run with `{{ run.id }}`"
                            .to_owned(),
                    );
                    i.response = Some(r#"{"error":"duplicate note","key":"CRM-1812/call"}"#.to_owned());
                }
                3 => {
                    i.duration_ms = 1_310;
                    i.attempts = vec![
                        AttemptReport {
                            status: Some(429),
                            error: Some("429 Too Many Requests".to_owned()),
                            elapsed_ms: 110,
                            queued_ms: 0,
                            retry_after_ms: Some(800),
                        },
                        attempt(201, 360),
                    ];
                }
                _ => {}
            }
            i
        })
        .collect();

    let mut survey = item(ItemOutcome::Errored, 8_920, 2_000, 0);
    survey.status = None;
    survey.attempts = vec![AttemptReport {
        status: None,
        error: Some("timed out after 2s".to_owned()),
        elapsed_ms: 2_000,
        queued_ms: 0,
        retry_after_ms: None,
    }];
    survey.message = Some("the request timed out after 2s".to_owned());
    survey.hint = Some("raise the step's `timeout`, or check the survey service".to_owned());
    survey.request = Some("POST /api/surveys".to_owned());
    survey.correlation_id = None;

    let mut hangup = item(ItemOutcome::Passed, 8_930, 420, 202);
    hangup.request =
        Some("PATCH /api/v2/conversations/calls/3b7e9d10-0000-4000-8000-000000000007".to_owned());
    hangup.call = Some(json!({ "state": "disconnected", "disconnect_type": "client" }));

    let mut crm = item(ItemOutcome::Passed, 10_930, 560, 201);
    crm.request = Some("POST /api/customers/CRM-1815/calls".to_owned());
    crm.response = Some(r#"{"ok":true}"#.to_owned());

    let mut survey_step = step(4, "survey", "Ask for a survey", "crm", "request");
    survey_step.ignored = true;
    let mut hangup_step = step(5, "hangup", "Hang up", "gc", "conversations.disconnect");
    hangup_step.always = true;
    let mut crm_step = step(
        6,
        "crm_update",
        "Post the outcome to the CRM",
        "crm",
        "request",
    );
    crm_step.always = true;

    report(vec![
        with(
            step(
                0,
                "contact",
                "Register the external contact",
                "gc",
                "external_contacts.create",
            ),
            vec![contact],
        ),
        with(
            step(
                1,
                "dial",
                "Call the contact on behalf of the agent",
                "gc",
                "calls.create_for_user",
            ),
            vec![dial],
        ),
        with(
            step(
                2,
                "answered",
                "Wait for the customer to answer",
                "gc",
                "calls.wait",
            ),
            vec![answered],
        ),
        with(
            step(3, "notify", "Add a note per open case", "crm", "request"),
            notify_items,
        ),
        with(survey_step, vec![survey]),
        with(hangup_step, vec![hangup]),
        with(crm_step, vec![crm]),
    ])
}

fn html(report: &Report) -> String {
    Format::Html.render(report)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Writes the demo page to `$CALLPLAN_WRITE_HTML` (for the screenshot), else to a temporary
/// directory, through the same atomic write every report uses.
#[test]
fn demo_page_is_written_whole() {
    let page = html(&demo());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = std::env::var_os("CALLPLAN_WRITE_HTML")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("report.html"));
    callplan::report::write_atomic(&path, &page).expect("write the page");
    let written = std::fs::read_to_string(&path).expect("read it back");
    assert_eq!(written, page);
    assert!(written.starts_with("<!DOCTYPE html>"));
    assert!(written.ends_with("</html>\n"));
}

#[test]
fn nothing_on_the_page_loads_from_the_network() {
    let mut r = demo();
    // Text that holds URLs and markup that would load them, were it not escaped.
    r.steps[0].items[0].message = Some(
        r#"see <img src="https://evil.example/x.png"> and <link rel="stylesheet" href="http://evil.example/a.css">"#
            .to_owned(),
    );
    r.steps[0].items[0].response =
        Some(r#"<style>@import url(https://evil.example/b.css);</style>"#.to_owned());
    let page = html(&r);
    assert!(
        page.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        ),
        "the page forbids every fetch"
    );
    // Markup in text is escaped, so every `<` on the page opens a real tag: look at those, and
    // at the stylesheet.
    let tags: Vec<&str> = page
        .match_indices('<')
        .map(|(at, _)| &page[at..at + page[at..].find('>').expect("a closed tag")])
        .collect();
    for tag in &tags {
        for element in [
            "<img",
            "<link",
            "<script",
            "<iframe",
            "<object",
            "<embed",
            "<base",
            "<form",
            "<video",
            "<audio",
            "<source",
            "<svg",
            "<meta http-equiv=\"refresh",
        ] {
            assert!(
                !tag.starts_with(element),
                "the page has a {element} element"
            );
        }
        // Quotes in text are escaped, so `name="` inside a tag is a real attribute.
        for loader in [
            "src=\"",
            "srcset=\"",
            "=\"http",
            "=\"//",
            "action=\"",
            "poster=\"",
            "data=\"",
        ] {
            assert!(!tag.contains(loader), "a tag has `{loader}`: {tag}");
        }
        for (at, _) in tag.match_indices("style=\"") {
            let style = &tag[at + 7..];
            let style = &style[..style.find('"').expect("closing quote")];
            assert!(!style.contains("url("), "a style loads: {style}");
        }
    }
    assert_eq!(count(&page, "<style>"), 1);
    let css = &page[page.find("<style>").expect("style")..page.find("</style>").expect("end")];
    for loader in ["@import", "url(", "http", "//"] {
        assert!(!css.contains(loader), "the stylesheet has `{loader}`");
    }
    // Every link is to an anchor on the page.
    for (at, _) in page.match_indices("href=\"") {
        let target = &page[at + 6..];
        assert!(
            target.starts_with('#'),
            "a link leaves the page: {}",
            &target[..40.min(target.len())]
        );
        let id = &target[1..target.find('"').expect("closing quote")];
        assert!(
            page.contains(&format!("id=\"{id}\"")),
            "the link to #{id} has no target"
        );
    }
    // The URLs are still there, as text.
    assert!(page.contains("https://evil.example/x.png"));
    assert!(page.contains("https://api.mypurecloud.ie"));
}

#[test]
fn markup_in_messages_and_names_is_escaped() {
    let mut r = demo();
    r.steps[1].name = r#"Dial "now" & <b>fast</b>"#.to_owned();
    r.steps[3].items[2].message = Some("</td><script>alert('x')</script>".to_owned());
    r.steps[3].items[2].hint = Some("<!-- comment -->".to_owned());
    r.steps[3].items[2].response = Some("</pre></details><script>1</script>".to_owned());
    let page = html(&r);
    assert!(!page.contains("<script"));
    assert!(!page.contains("<!--"));
    assert!(!page.contains("<b>fast"));
    assert!(page.contains("&lt;/td&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(page.contains("&lt;/pre&gt;&lt;/details&gt;&lt;script&gt;1&lt;/script&gt;"));
    // In an attribute (the bar's hover text) and in content.
    assert!(page.contains("title=\"Dial &quot;now&quot; &amp; &lt;b&gt;fast&lt;/b&gt;\""));
    assert!(page.contains(
        "<div class=\"muted small\">Dial &quot;now&quot; &amp; &lt;b&gt;fast&lt;/b&gt;</div>"
    ));
}

#[test]
fn the_timeline_has_one_bar_per_step_and_item_coloured_by_outcome() {
    let r = demo();
    let page = html(&r);
    let items: usize = r.steps.iter().map(|s| s.items.len()).sum();
    assert_eq!(items, 11);
    assert_eq!(count(&page, "<a class=\"bar o-"), items);
    assert_eq!(count(&page, "<a class=\"bar o-passed\""), 9);
    assert_eq!(count(&page, "<a class=\"bar o-failed\""), 1);
    // The survey's timeout is ignored (`on_error: ignore`): a muted bar, a warning.
    assert_eq!(count(&page, "<a class=\"bar o-errored ignored\""), 1);
    assert!(page.contains("<span class=\"badge b-warned\"><b>1</b> warned</span>"));
    assert!(page.contains("<span class=\"badge b-failed\"><b>1</b> failed</span>"));
    assert!(page.contains("<span class=\"badge b-errored zero\"><b>0</b> errored</span>"));
    // The five items have a row each, under the step's span.
    assert_eq!(count(&page, "<div class=\"row item\">"), 5);
    // The retried dial and the retried item: their first attempt failed, then a wait.
    assert_eq!(count(&page, "<i class=\"att bad first\""), 2 + 1); // + the legend's
    assert_eq!(count(&page, "<i class=\"wait\""), 2 + 1);
    // Call steps say where the call got to.
    assert!(page.contains(">call: connected</span>"));
    assert!(page.contains(">call: disconnected (client)</span>"));
    // The axis is labelled, in seconds for an 11.5 s run.
    assert!(page.contains(">0 s</span>"));
    assert!(page.contains(">10 s</span>"));
    // The details table has a row per item, each a link target of its bar.
    assert_eq!(count(&page, "<tr id=\"step-"), items);
    assert!(page.contains("href=\"#step-3-2\""));
    assert!(page.contains("<tr id=\"step-3-2\" class=\"r-failed\">"));
}

#[test]
fn a_run_with_no_steps_still_renders() {
    let mut r = report(Vec::new());
    r.status = Status::CouldNotRun;
    r.reason = Some("login to gc failed: 401 invalid_client".to_owned());
    let page = html(&r);
    assert!(page.ends_with("</html>\n"));
    assert!(page.contains("<span class=\"status s-could-not-run\">could not run</span>"));
    assert!(page.contains("login to gc failed: 401 invalid_client"));
    assert_eq!(count(&page, "No step ran."), 2);
    assert_eq!(count(&page, "class=\"bar "), 0);
    assert!(!page.contains("<table"));
}

#[test]
fn a_thousand_items_collapse_into_one_row() {
    let items: Vec<ItemReport> = (0..1_000u64)
        .map(|n| {
            // Ten at a time, about 300 ms each.
            let mut i = item(
                ItemOutcome::Passed,
                (n / 10) * 310 + n % 10,
                290 + n % 7,
                200,
            );
            i.item = Some(n as usize);
            i.response = Some(format!(
                "{{\"id\":{n},\"padding\":\"{}\"}}",
                "x".repeat(400)
            ));
            if n % 250 == 7 {
                i.outcome = ItemOutcome::Errored;
                i.status = Some(500);
                i.message = Some(format!("item {n}: 500 Internal Server Error"));
            }
            i
        })
        .collect();
    let r = report(vec![with(
        step(
            0,
            "bulk",
            "Create a thousand contacts",
            "gc",
            "external_contacts.create",
        ),
        items,
    )]);
    let page = html(&r);
    assert_eq!(count(&page, "<a class=\"bar o-"), 1_000);
    assert_eq!(count(&page, "<a class=\"bar o-errored\""), 4);
    assert_eq!(count(&page, "<div class=\"row many\">"), 1);
    assert_eq!(count(&page, "<div class=\"row item\">"), 0);
    assert!(page.contains("1,000 items: 996 passed, 4 errored"));
    // Ten concurrent items: ten lanes.
    let tops: std::collections::BTreeSet<&str> = page
        .split("style=\"top:")
        .skip(1)
        .map(|rest| &rest[..rest.find("px").expect("a top in pixels")])
        .collect();
    assert_eq!(tops.len(), 10, "{tops:?}");
    // The table lists every item the report kept (no other limit than the model's).
    assert_eq!(count(&page, "\" class=\"r-"), 1_000);
    assert!(!page.contains("more items of"));
    // About a kilobyte an item besides its response excerpt (here 400 bytes): the page is as
    // large as the items the model keeps, which the model bounds.
    assert!(page.len() < 1_400_000, "the page is {} bytes", page.len());

    // When most fail, they are all listed, and named under the row's label.
    let mut r = r;
    for i in &mut r.steps[0].items {
        i.outcome = ItemOutcome::Failed;
        i.message = Some(format!("item {:?}: expected 201, got 409", i.item));
    }
    let step = r.steps.remove(0);
    let items = step.items.clone();
    let r = report(vec![with(step, items)]);
    let page = html(&r);
    assert!(page.contains("1,000 items: 1,000 failed"));
    assert_eq!(count(&page, "\" class=\"r-failed\""), 1_000);
    assert!(page.contains("… 995 more</span>"));
    assert!(page.len() < 1_400_000, "the page is {} bytes", page.len());
}

/// A `for_each` of 100,000 items, added as the runner adds them: the model keeps the first 200
/// that passed and the first 500 others, and counts the rest.
#[test]
fn a_large_step_notes_the_items_the_report_did_not_keep() {
    use callplan::report::Redactor;
    use callplan::runner::events::{Outcome, StepResult};
    use std::time::Duration;

    let redactor = Redactor::default();
    let mut r = report(Vec::new());
    for i in 0..100_000usize {
        let outcome = match i {
            _ if i % 100 == 3 => Outcome::Failed,
            _ if i % 1_000 == 7 => Outcome::Errored,
            _ => Outcome::Passed,
        };
        r.add(
            &StepResult {
                index: 0,
                id: "dial".to_owned(),
                name: "Dial each number".to_owned(),
                provider: "gc".to_owned(),
                action: "calls.create".to_owned(),
                item: Some(i),
                source: None,
                inner: None,
                outcome,
                message: (outcome != Outcome::Passed).then(|| format!("item {i} did not connect")),
                hint: None,
                status: Some(200),
                attempts: Vec::new(),
                duration: Duration::from_millis(300),
                queued: Duration::ZERO,
                saved: IndexMap::new(),
                correlation_id: None,
                call: None,
                ignored: false,
                always: false,
                started: Duration::from_millis(i as u64 / 10),
                request: None,
                response: None,
            },
            &redactor,
        );
    }
    r.duration_ms = 10_400;
    let s = &r.steps[0];
    assert_eq!((s.total, s.omitted, s.items.len()), (100_000, 99_300, 700));

    let page = html(&r);
    // The badges count every item.
    assert!(page.contains("<span class=\"badge b-passed\"><b>98900</b> passed</span>"));
    assert!(page.contains("<span class=\"badge b-failed\"><b>1000</b> failed</span>"));
    assert!(page.contains("<span class=\"badge b-errored\"><b>100</b> errored</span>"));
    // The timeline draws the kept items, its label counts them all, and a note says where the
    // others are.
    assert_eq!(count(&page, "<a class=\"bar o-"), 700);
    assert!(page.contains("100,000 items: 98,900 passed, 1,000 failed, 100 errored"));
    assert!(page.contains(
        "<div class=\"row omitted\"><div class=\"label\"></div><p class=\"omitted\">99,300 more \
         items (98,700 passed, 546 failed, 54 errored) are not drawn here: every item is in the \
         JSONL report (<code>--report jsonl:PATH</code>).</p></div>"
    ));
    // The table lists the items the report kept, as the JSON report does; the JSONL report has
    // every one.
    assert_eq!(count(&page, "\" class=\"r-"), 700);
    assert!(page.contains(
        "… and 99,300 more items of <code>dial</code> (98,700 passed, 546 failed, 54 errored): \
         the JSONL report (<code>--report jsonl:PATH</code>) lists every one.</td></tr>"
    ));
    eprintln!("page {}", page.len());
    assert!(page.len() < 1_000_000, "the page is {} bytes", page.len());
}

/// The page's body for a small fixed report (the stylesheet is left out: it is not behaviour).
#[test]
fn small_report_snapshot() {
    let mut contact = item(ItemOutcome::Passed, 0, 120, 200);
    contact.request = Some("POST /api/v2/externalcontacts/contacts".to_owned());
    let mut dial = item(ItemOutcome::Errored, 130, 900, 503);
    dial.attempts = vec![
        AttemptReport {
            status: Some(503),
            error: Some("503 Service Unavailable".to_owned()),
            elapsed_ms: 100,
            queued_ms: 0,
            retry_after_ms: Some(500),
        },
        AttemptReport {
            status: Some(503),
            error: Some("503 Service Unavailable".to_owned()),
            elapsed_ms: 300,
            queued_ms: 0,
            retry_after_ms: None,
        },
    ];
    dial.message = Some("Genesys answered 503 twice".to_owned());
    dial.hint = Some("retry later".to_owned());
    dial.call = Some(json!({ "state": "disconnected" }));
    let r = report(vec![
        with(
            step(0, "contact", "Register", "gc", "external_contacts.create"),
            vec![contact],
        ),
        with(step(1, "dial", "Dial", "gc", "calls.create"), vec![dial]),
    ]);
    let page = html(&r);
    let body = &page[page.find("<body>").expect("a body")..];
    let body = body.replace(
        concat!("callplan ", env!("CARGO_PKG_VERSION")),
        "callplan [version]",
    );
    insta::assert_snapshot!(body);
}

/// The cases that hid failures: a step that fails at the very end of the run, items that errored
/// before they began (zero length) among concurrent items that passed, in a row of lanes and in a
/// row per item.
#[test]
fn every_bar_is_visible_and_failures_are_drawn_above_passes() {
    // Twenty rows, four at a time, 300 ms each; rows 6 and 14 errored at once (a malformed
    // row), row 10 failed.
    let rows: Vec<ItemReport> = (0..20u64)
        .map(|n| {
            let mut i = item(ItemOutcome::Passed, 100 + (n / 4) * 300, 300, 200);
            i.item = Some(n as usize);
            match n {
                5 | 13 => {
                    i.outcome = ItemOutcome::Errored;
                    i.duration_ms = 0;
                    i.status = None;
                    i.attempts.clear();
                    i.message = Some("contacts.csv:7: malformed row".to_owned());
                }
                9 => {
                    i.outcome = ItemOutcome::Failed;
                    i.message = Some("the call ended before it connected".to_owned());
                }
                _ => {}
            }
            i
        })
        .collect();
    // Three items, the last errored at once, at the moment the next step starts.
    let mut few: Vec<ItemReport> = (0..3u64)
        .map(|n| {
            let mut i = item(ItemOutcome::Passed, 1_700 + n * 100, 100, 200);
            i.item = Some(n as usize);
            i
        })
        .collect();
    few[2].outcome = ItemOutcome::Errored;
    few[2].duration_ms = 0;
    // The last step fails in no time, as the run ends; an ignored failure before it.
    let mut ignored = item(ItemOutcome::Errored, 2_000, 0, 503);
    ignored.message = Some("HTTP 503".to_owned());
    let mut last = item(ItemOutcome::Failed, 2_000, 0, 201);
    last.message = Some("expected `response.status == 200`".to_owned());
    let mut survey = step(3, "survey", "Survey", "crm", "request");
    survey.ignored = true;
    let mut r = report(vec![
        with(step(0, "campaign", "Call each row", "", "flow"), rows),
        with(step(1, "notify", "Notify", "crm", "request"), few),
        with(
            step(2, "crm", "Update the CRM", "crm", "request"),
            vec![last],
        ),
        with(survey, vec![ignored]),
    ]);
    r.duration_ms = 2_000;
    let page = html(&r);
    let bars = checked_bars(&page);
    assert_eq!(bars.len(), 20 + 3 + 1 + 1, "a bar per item");
    for (anchor, outcome) in [
        ("step-0-5", "errored"),
        ("step-0-13", "errored"),
        ("step-0-9", "failed"),
        ("step-1-2", "errored"),
        ("step-2", "failed"),
        ("step-3", "errored"),
    ] {
        let bar = bar_to(&bars, anchor);
        assert_eq!(bar.outcome, outcome, "{anchor}");
    }
    // The last step, zero-length at the run's end, ends at the track's right end.
    let crm = bar_to(&bars, "step-2");
    assert_eq!(crm.left + crm.width, 100_000, "{crm:?}");
    // The ignored failure is drawn, striped, and under a real one.
    assert!(bar_to(&bars, "step-3").ignored);
    // The errored rows share no lane with a bar that covers them: where two bars of a row of
    // lanes overlap, they are in different lanes.
    for in_row in group_by_row(&bars).values().filter(|r| r[0].lanes) {
        for (n, a) in in_row.iter().enumerate() {
            for b in &in_row[n + 1..] {
                if a.left < b.left + b.width && b.left < a.left + a.width {
                    assert_ne!(a.top, b.top, "{a:?} covers {b:?}");
                }
            }
        }
    }
}

/// The screenshot scenarios of docs/reports.md, run for real against the sandbox: in the HTML
/// report of a failed campaign, and of a run whose last step failed, every item that did not pass
/// has its bar, inside the track and at least the minimum width, drawn above the passes.
#[test]
fn the_failed_campaign_and_the_failed_last_step_show_their_failures() {
    // Without a rate limit, and with the plans paced to match: the calls play in milliseconds.
    let mut config = super::fast_config();
    config.genesys.rate_limit = None;
    let sandbox = callplan::sandbox::Sandbox::start_background(config).expect("the sandbox starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let fixtures = crate::root().join("tests/plans/ok");
    std::fs::copy(
        fixtures.join("failed-campaign.csv"),
        dir.path().join("failed-campaign.csv"),
    )
    .expect("copy the rows");
    for plan in ["failed-campaign.yaml", "last-step-fails.yaml"] {
        let text = std::fs::read_to_string(fixtures.join(plan)).expect("the plan");
        let paced = text.replace(
            "    region: mypurecloud.com\n",
            "    region: mypurecloud.com\n    rate_limit: { requests: 100, per: 1s }\n",
        );
        assert_ne!(text, paced, "{plan} names its region");
        std::fs::write(dir.path().join(plan), paced).expect("write the plan");
        // Unset secrets: the sandbox's own credentials stand in.
        let url = sandbox.url();
        let out = crate::callplan_in(
            dir.path(),
            &[
                "run",
                plan,
                "--sandbox-url",
                &url,
                "--color",
                "never",
                "--report",
                "html:report.html",
                "--report",
                "json:report.json",
            ],
        );
        assert_eq!(out.code, 1, "{plan} fails\n{}", out.stdout);
        let stdout = out.stdout;
        let page = std::fs::read_to_string(dir.path().join("report.html")).expect("the HTML");
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("report.json")).expect("the JSON report"),
        )
        .expect("JSON");
        let bars = checked_bars(&page);
        let mut not_passed = 0;
        for step in report["steps"].as_array().expect("steps") {
            for item in step["items"].as_array().expect("items") {
                let outcome = item["outcome"].as_str().expect("an outcome");
                let anchor = match item["item"].as_u64() {
                    Some(i) => format!("step-{}-{i}", step["index"]),
                    None => format!("step-{}", step["index"]),
                };
                let bar = bar_to(&bars, &anchor);
                assert_eq!(bar.outcome, outcome, "{plan}: {anchor}");
                if matches!(outcome, "failed" | "errored") {
                    not_passed += 1;
                    // Named in the details table as in every report.
                    let name = item["item_name"]
                        .as_str()
                        .or(step["id"].as_str())
                        .expect("a name");
                    assert!(
                        page.contains(&format!("<b>{name}</b>")),
                        "{plan}: {name} is not in the table"
                    );
                }
            }
        }
        assert!(not_passed > 0, "{plan}: nothing failed\n{stdout}");
        if plan.ends_with("last-step-fails.yaml") {
            // The run's last step failed, and its bar is the last one on the axis.
            let last = bar_to(&bars, "step-3");
            assert_eq!(last.outcome, "failed");
            let right = bars.iter().map(|b| b.left + b.width).max();
            assert_eq!(Some(last.left + last.width), right, "{last:?}");
        } else {
            // The malformed row and the number that is not one errored in no time; the busy and
            // unanswered rows failed.
            assert_eq!(bar_to(&bars, "step-0-8").outcome, "errored");
            assert_eq!(bar_to(&bars, "step-0-11").outcome, "errored");
            assert_eq!(bar_to(&bars, "step-0-1").outcome, "failed");
            assert!(
                page.contains("failed-campaign.csv:10"),
                "the malformed row's line"
            );
        }
    }
}
