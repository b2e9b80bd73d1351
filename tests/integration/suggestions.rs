//! Every YAML snippet callplan suggests passes `check`: the snippets in hints (a provider's error
//! answer) and in `check`'s own help, and every ```yaml block of the README and docs/.
//!
//! A snippet is a fragment, so each is set where it says it goes (a step, a provider, the plan's
//! top level) in a plan that is valid without it, and that plan must check without an error. A doc
//! block that shows a mistake on purpose is preceded by `<!-- check: invalid -->`, and then must
//! fail `check`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use callplan::diagnostic::{Diagnostic, Severity};
use callplan::provider::ProviderKind;
use callplan::provider::hints::{Context, VendorError, hint};
use serde_yaml::{Mapping, Value};

use crate::root;

/// The marker of a doc block that must fail `check`.
const INVALID: &str = "<!-- check: invalid -->";

/// Where a snippet goes in a plan.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// The plan's top level (`version: 1`).
    Top,
    /// A step (`retry: …`, `action: …`).
    Step,
    /// A provider (`rate_limit: …`, `auth: …`).
    Provider,
    /// A step's `retry` (`unsafe: true`).
    Retry,
    /// An entry of `secrets:`.
    Secret,
}

/// Where a snippet starting with `key:` goes. A new hint with a key not listed here fails the test
/// until it is placed.
fn place(key: &str) -> Option<Place> {
    Some(match key {
        "version" | "name" | "description" | "vars" | "secrets" | "providers" | "guard"
        | "defaults" | "notify" | "report" | "steps" => Place::Top,
        "id" | "provider" | "action" | "with" | "if" | "for_each" | "as" | "concurrency"
        | "expect" | "save" | "retry" | "timeout" | "on_error" | "always" => Place::Step,
        "type" | "region" | "base_url" | "login_url" | "auth_url" | "api_version" | "auth"
        | "rate_limit" | "headers" => Place::Provider,
        "attempts" | "when" | "backoff" | "initial" | "max" | "jitter" | "unsafe" => Place::Retry,
        "my_secret" => Place::Secret,
        _ => return None,
    })
}

/// The backquoted pieces of a text that read as YAML mappings: `` `key: value` ``.
fn snippets(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.split_once(": ").is_some_and(|(key, _)| {
                !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            })
        })
        .map(str::to_owned)
        .collect()
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text)
        .map_err(|e| format!("{e}\n{text}"))
        .expect("YAML")
}

fn map(value: &mut Value) -> &mut Mapping {
    value.as_mapping_mut().expect("a mapping")
}

/// A valid plan: one provider of each type, the secrets they read, one step.
fn base() -> Value {
    yaml(
        r#"
version: 1
name: suggestion
secrets:
  gc_client_id: { env: GC_ID }
  gc_client_secret: { env: GC_SECRET }
  cx_key_id: { env: CX_KEY_ID }
  cx_key_secret: { env: CX_KEY_SECRET }
  cx_client_id: { env: CX_CLIENT_ID }
  cx_client_secret: { env: CX_CLIENT_SECRET }
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth: { grant: client_credentials, client_id: "{{ secrets.gc_client_id }}", client_secret: "{{ secrets.gc_client_secret }}" }
  cx:
    type: nice-cxone
    auth:
      grant: password
      access_key_id: "{{ secrets.cx_key_id }}"
      access_key_secret: "{{ secrets.cx_key_secret }}"
      client_id: "{{ secrets.cx_client_id }}"
      client_secret: "{{ secrets.cx_client_secret }}"
  crm:
    type: http
    base_url: https://crm.example.com
steps:
  - id: suggested
    provider: gc
    action: conversations.disconnect
    for_each: ["c-1"]
    with: { conversation_id: "c-1" }
"#,
    )
}

/// The error diagnostics of `check` on a plan written to `dir`.
fn errors(dir: &Path, text: &str) -> Vec<Diagnostic> {
    let path = dir.join("plan.yaml");
    std::fs::write(&path, text).expect("write the plan");
    callplan::plan::check_file(&path)
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

fn describe(errors: &[Diagnostic]) -> String {
    errors
        .iter()
        .map(|d| {
            let at = d
                .span
                .as_ref()
                .map(|s| format!("{}:{}", s.line, s.col))
                .unwrap_or_default();
            format!("  {at} {}: {}", d.code, d.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The base plan with `snippet` set where it goes.
fn with_snippet(snippet: &str) -> String {
    let key = snippet.split(':').next().unwrap_or_default();
    let place = place(key)
        .ok_or_else(|| format!("the suggested `{snippet}`: say where `{key}:` goes in `place`"))
        .expect("a known place");
    let fragment = yaml(snippet);
    let mut plan = base();
    let target = match place {
        Place::Top => map(&mut plan),
        Place::Step => map(&mut plan["steps"][0]),
        Place::Provider => map(&mut plan["providers"]["gc"]),
        Place::Retry => {
            let step = map(&mut plan["steps"][0]);
            step.insert(
                Value::from("retry"),
                yaml("{ attempts: 3, when: [server_error] }"),
            );
            map(&mut step["retry"])
        }
        Place::Secret => map(&mut plan["secrets"]),
    };
    for (k, v) in fragment.as_mapping().expect("a mapping") {
        target.insert(k.clone(), v.clone());
    }
    declare_secrets(&mut plan, snippet);
    serde_yaml::to_string(&plan).expect("serialize")
}

/// Declares the secrets `text` reads that `plan` does not declare, each from an environment variable.
fn declare_secrets(plan: &mut Value, text: &str) {
    for (name, _) in references(text, "secrets.") {
        let secrets = map(&mut plan["secrets"]);
        if !secrets.contains_key(name.as_str()) {
            secrets.insert(
                Value::from(name.clone()),
                yaml(&format!("{{ env: {} }}", name.to_uppercase())),
            );
        }
    }
}

/// Every hint callplan gives for a provider's error answer, over the codes, statuses and messages
/// the vendors' hint tables know.
fn provider_hints() -> BTreeSet<String> {
    const CODES: &[&str] = &[
        "",
        "not.a.user",
        "missing.permissions",
        "missing.any.permissions",
        "not.authorized",
        "invalid_client",
        "invalid_grant",
        "bad.credentials",
        "authentication.required",
        "too.many.requests",
        "conversation.error.no.user.station",
        "too.many.create.conversation.parameters",
        "conversation.error.conversation.not.found",
        "contact.not.found",
        "InvalidSession",
        "InvalidContactId",
        "InvalidPhoneNumber",
        "InvalidSkill",
    ];
    const MESSAGES: &[&str] = &[
        "",
        "Rate limit exceeded the maximum [300] requests within [60] seconds",
        "You are missing the following permission(s): [conversation:call:add]",
        "invalid agent session",
        "phone number is not valid",
        "skill is not valid",
    ];
    const ACTIONS: &[&str] = &[
        "calls.create",
        "calls.create_for_user",
        "calls.disconnect",
        "conversations.disconnect",
        "request",
    ];
    let mut hints = BTreeSet::new();
    for kind in [
        ProviderKind::GenesysCloud,
        ProviderKind::NiceCxone,
        ProviderKind::Http,
    ] {
        for code in CODES {
            for message in MESSAGES {
                let error = VendorError {
                    code: Some((*code).to_owned()).filter(|c| !c.is_empty()),
                    message: Some((*message).to_owned()).filter(|m| !m.is_empty()),
                    context_id: None,
                };
                for status in [400, 401, 403, 404, 409, 429, 500, 503] {
                    for action in ACTIONS {
                        for rate_limit in [None, Some((300, Duration::from_secs(60)))] {
                            for retried in [false, true] {
                                let cx = Context {
                                    provider: "gc",
                                    action,
                                    rate_limit,
                                    retried,
                                };
                                hints.extend(hint(kind, status, &error, &cx));
                            }
                        }
                    }
                }
            }
        }
    }
    hints
}

/// Every `help` that `check` gives on the plans under tests/plans/.
fn check_helps() -> BTreeSet<String> {
    fn plans(dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read tests/plans") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                plans(&path, into);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                into.push(path);
            }
        }
    }
    let mut files = Vec::new();
    plans(&root().join("tests/plans"), &mut files);
    assert!(files.len() > 100, "the fixtures are there");
    files
        .iter()
        .flat_map(|f| callplan::plan::check_file(f).diagnostics)
        .filter_map(|d| d.help)
        .collect()
}

#[test]
fn every_snippet_a_hint_suggests_passes_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let provider = provider_hints();
    let check = check_helps();
    // Where each snippet was suggested, for the failure message.
    let mut suggested: BTreeMap<String, String> = BTreeMap::new();
    for text in provider.iter().chain(&check) {
        for snippet in snippets(text) {
            suggested.entry(snippet).or_insert_with(|| text.clone());
        }
    }
    // The hints this test was written for are among them: the collection works.
    for expected in [
        "retry: { attempts: 3, when: [rate_limited] }",
        "retry: { attempts: 3, when: [server_error] }",
        "rate_limit: { requests: 300, per: 1m }",
        r#"auth: { grant: bearer, token: "{{ secrets.user_token }}" }"#,
        "version: 1",
        "action: calls.hang_up",
        "as: customer",
    ] {
        assert!(
            suggested.contains_key(expected),
            "`{expected}` was not among the suggestions: {:?}",
            suggested.keys().collect::<Vec<_>>()
        );
    }
    let mut failures = Vec::new();
    for (snippet, text) in &suggested {
        let plan = with_snippet(snippet);
        let errors = errors(dir.path(), &plan);
        if !errors.is_empty() {
            failures.push(format!(
                "`{snippet}` (from: {text}) fails check:\n{}",
                describe(&errors)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A ```yaml block of a Markdown file: where it starts, its text, and whether it is marked invalid.
struct Block {
    file: PathBuf,
    line: usize,
    text: String,
    invalid: bool,
}

fn yaml_blocks(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(file).expect("read the doc");
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    let mut previous = "";
    for (i, line) in text.lines().enumerate() {
        match open.as_mut() {
            None if line.trim_start() == "```yaml" => {
                open = Some(Block {
                    file: file.to_owned(),
                    line: i + 1,
                    text: String::new(),
                    invalid: previous.trim() == INVALID,
                });
            }
            Some(_) if line.trim_start().starts_with("```") => {
                blocks.extend(open.take());
            }
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            None => {}
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
    assert!(
        open.is_none(),
        "{}: a ```yaml block is not closed",
        file.display()
    );
    blocks
}

/// The names written after `prefix` in `text` (`secrets.` → `gc_client_id`, …), each with the
/// name that follows it, if any (`steps.dial.conversation_id` → (`dial`, `conversation_id`)).
fn references(text: &str, prefix: &str) -> Vec<(String, Option<String>)> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    text.match_indices(prefix)
        .filter(|(at, _)| {
            !text[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let name = ident(rest);
            if name.is_empty() {
                return None;
            }
            let field = rest[name.len()..].strip_prefix('.').map(ident);
            Some((name, field.filter(|f| !f.is_empty())))
        })
        .collect()
}

/// A doc block as a whole plan: the block's keys over a base that declares what it refers to (the
/// secrets, vars, providers and earlier steps it names but does not define).
fn doc_plan(block: &str) -> String {
    let fragment = match yaml(block) {
        Value::Null => Value::Mapping(Mapping::new()),
        value => value,
    };
    let fragment = fragment.as_mapping().expect("a doc block is a mapping");
    let mut plan = base();
    map(&mut plan).remove("steps");
    // The vars docs/plan-format.md declares in its `vars` section.
    map(&mut plan).insert(
        Value::from("vars"),
        yaml(
            r#"
agent_user_id: 00000000-0000-4000-8000-000000000001
destination: "+13175550100"
queue_id: 5a2b3c4d-0000-4000-8000-00000000000a
dial_enabled: true
skill_id: 4401
"#,
        ),
    );
    let mut steps: Vec<Value> = Vec::new();
    for (key, value) in fragment {
        match (key.as_str(), value) {
            (Some("steps"), Value::Sequence(list)) => steps.extend(list.iter().cloned()),
            (Some(name @ ("providers" | "secrets" | "vars")), Value::Mapping(entries)) => {
                let into = map(&mut plan)
                    .entry(Value::from(name))
                    .or_insert_with(|| Value::Mapping(Mapping::new()));
                for (k, v) in entries {
                    map(into).insert(k.clone(), v.clone());
                }
            }
            _ => {
                map(&mut plan).insert(key.clone(), value.clone());
            }
        }
    }
    // What the block reads but does not define.
    declare_secrets(&mut plan, block);
    for (name, field) in references(block, "vars.") {
        let vars = map(&mut plan)
            .entry(Value::from("vars"))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        let value = match field {
            Some(field) => yaml(&format!("{{ {field}: x }}")),
            None => Value::from("x"),
        };
        map(vars).entry(Value::from(name)).or_insert(value);
    }
    fn ids(steps: &[Value], into: &mut BTreeSet<String>) {
        for step in steps {
            into.extend(step["id"].as_str().map(str::to_owned));
            if let Value::Sequence(inner) = &step["steps"] {
                ids(inner, into);
            }
        }
    }
    let mut defined = BTreeSet::new();
    ids(&steps, &mut defined);
    let mut earlier: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, field) in references(block, "steps.") {
        if !defined.contains(&name) {
            let saves = earlier.entry(name).or_default();
            saves.extend(field.filter(|f| f != "outcome"));
        }
    }
    let mut stubs: Vec<Value> = earlier
        .iter()
        .map(|(id, saves)| {
            let save: Mapping = saves
                .iter()
                .map(|s| (Value::from(s.as_str()), Value::from("{{ response.body.id }}")))
                .collect();
            let mut step = yaml(&format!(
                "{{ id: {id}, provider: crm, action: request, with: {{ method: GET, path: /{id} }} }}"
            ));
            if !save.is_empty() {
                map(&mut step).insert(Value::from("save"), Value::Mapping(save));
            }
            step
        })
        .collect();
    if steps.is_empty() && stubs.is_empty() {
        stubs.push(yaml(
            "{ id: ping, provider: crm, action: request, with: { method: GET, path: / } }",
        ));
    }
    stubs.extend(steps);
    // Providers the steps name that the block does not define: HTTP APIs.
    for step in &stubs {
        if let Some(name) = step["provider"].as_str() {
            let providers = map(&mut plan["providers"]);
            if !providers.contains_key(name) {
                providers.insert(
                    Value::from(name),
                    yaml(&format!(
                        "{{ type: http, base_url: https://{name}.example.com }}"
                    )),
                );
            }
        }
    }
    map(&mut plan).insert(Value::from("steps"), Value::Sequence(stubs));
    serde_yaml::to_string(&plan).expect("serialize")
}

/// A doc block is a plan fragment unless it is the sandbox's configuration (docs/sandbox.md).
fn is_sandbox_config(block: &Block) -> bool {
    block.file.ends_with("docs/sandbox.md")
}

#[test]
fn every_yaml_block_in_the_docs_passes_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    // What the docs' campaigns read.
    std::fs::write(
        dir.path().join("contacts.csv"),
        "phone,name\n+13175550100,Ada\n",
    )
    .expect("write contacts.csv");
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("read docs/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let blocks: Vec<Block> = files.iter().flat_map(|f| yaml_blocks(f)).collect();
    assert!(blocks.len() >= 40, "found {} yaml blocks", blocks.len());

    let mut failures = Vec::new();
    let mut plans = 0;
    for block in &blocks {
        let at = format!(
            "{}:{}",
            block
                .file
                .strip_prefix(root())
                .unwrap_or(&block.file)
                .display(),
            block.line
        );
        if is_sandbox_config(block) {
            let path = dir.path().join("sandbox.yaml");
            std::fs::write(&path, &block.text).expect("write the config");
            match callplan::sandbox::config::Config::from_file(&path) {
                Ok(_) if block.invalid => failures.push(format!("{at}: marked invalid, but loads")),
                Err(e) if !block.invalid => {
                    failures.push(format!("{at}: the sandbox refuses it: {e}"))
                }
                _ => {}
            }
            continue;
        }
        plans += 1;
        let plan = doc_plan(&block.text);
        let errors = errors(dir.path(), &plan);
        match (block.invalid, errors.is_empty()) {
            (false, false) => failures.push(format!(
                "{at} fails check:\n{}\n--- as checked:\n{plan}",
                describe(&errors)
            )),
            (true, true) => failures.push(format!("{at}: marked invalid, but passes check")),
            _ => {}
        }
    }
    assert!(plans >= 40, "checked {plans} plan blocks");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn snippets_are_the_backquoted_mappings() {
    assert_eq!(
        snippets("add `retry: { attempts: 3 }` to the `dial` step; `x` or `rate_limit: 1`"),
        ["retry: { attempts: 3 }", "rate_limit: 1"]
    );
    assert_eq!(
        references("{{ steps.dial.id }} {{ vars.a }} xsteps.no", "steps."),
        [("dial".to_owned(), Some("id".to_owned()))]
    );
}
