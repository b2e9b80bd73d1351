//! `--dry-run`: every request the plan would send, rendered, with nothing sent.
//!
//! Values that only a real run would know (what earlier steps save) are shown as
//! `<steps.dial.conversation_id>`; earlier steps count as passed. Credentials are never
//! rendered into the output: `Authorization` reads `Bearer ****` or `Basic ****`, and the
//! caller masks every secret value in the text as well.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::{Object, ObjectRepr};

use super::items;
use super::render::{self, Renderer};
use crate::plan::model::Plan;
use crate::provider::auth::Credentials;
use crate::provider::connection::Settings;
use crate::provider::{ActionKind, ProviderKind, cxone, request, wait};

/// How many items of a `for_each` step are shown.
const ITEMS_SHOWN: usize = 10;

/// An earlier step as a dry run sees it: passed, every saved value a placeholder.
#[derive(Debug)]
struct Placeholder(String);

impl Object for Placeholder {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        Some(if key == "outcome" {
            Value::from("passed")
        } else {
            Value::from(format!("<steps.{}.{key}>", self.0))
        })
    }
}

/// What the dry run found: the text to print, and whether every step rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    /// The requests, one block per step.
    pub text: String,
    /// Every step rendered.
    pub ok: bool,
}

fn base_url(settings: &Settings) -> String {
    match (&settings.kind, &settings.api_base) {
        (ProviderKind::NiceCxone, base) => format!(
            "{}{}{}",
            base.clone()
                .unwrap_or_else(|| "<api_endpoint from cxone-configuration>".into())
                .trim_end_matches('/'),
            cxone::SERVICES_PREFIX,
            settings.api_version
        ),
        (_, Some(base)) => base.trim_end_matches('/').to_owned(),
        (_, None) => String::new(),
    }
}

fn login_line(settings: &Settings) -> Option<String> {
    Some(match &settings.credentials {
        Credentials::GenesysClient { login_base, .. } => format!(
            "POST {}/oauth/token  (client credentials; Authorization: Basic ****)",
            login_base.trim_end_matches('/')
        ),
        Credentials::CxonePassword { auth_base, .. } => format!(
            "POST {}/auth/token  (password grant with the access key; Authorization: Basic ****)",
            auth_base.trim_end_matches('/')
        ),
        Credentials::OAuth2 { token_url, .. } => {
            format!("POST {token_url}  (client credentials; Authorization: Basic ****)")
        }
        _ => return None,
    })
}

fn auth_header(credentials: &Credentials) -> Option<&'static str> {
    match credentials {
        Credentials::None => None,
        Credentials::Basic { .. } => Some("Authorization: Basic ****"),
        _ => Some("Authorization: Bearer ****"),
    }
}

/// Renders every step's request.
pub fn requests(
    plan: &Plan,
    settings: &IndexMap<String, Settings>,
    vars: &IndexMap<String, serde_json::Value>,
    secrets: &IndexMap<String, String>,
) -> DryRun {
    let renderer = Renderer::new();
    let mut text = String::new();
    let mut ok = true;
    let mut base = BTreeMap::new();
    base.insert("vars".to_owned(), render::value(vars));
    base.insert("secrets".to_owned(), render::value(secrets));
    base.insert(
        "run".to_owned(),
        render::value(serde_json::json!({
            "id": "<run.id>",
            "started_at": "<run.started_at>",
            "plan": plan.name,
        })),
    );
    let mut steps = BTreeMap::new();
    let _ = writeln!(text, "dry run of {}: nothing is sent", plan.name);
    for (name, s) in settings {
        if let Some(line) = login_line(s) {
            let _ = writeln!(text, "provider {name}: {line}");
        }
    }
    for step in &plan.steps {
        let mut context = base.clone();
        context.insert("steps".to_owned(), Value::from(steps.clone()));
        let header = format!(
            "step {}{}",
            step.id,
            if step.always { " (always)" } else { "" }
        );
        if let Some(condition) = &step.condition {
            match renderer.eval(condition, &Value::from_pairs(context.clone())) {
                Ok(v) if !v.is_true() => {
                    let _ = writeln!(text, "{header}: skipped (`if: {condition}` is false)");
                    steps.insert(
                        step.id.clone(),
                        Value::from_object(Placeholder(step.id.clone())),
                    );
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    ok = false;
                    let _ = writeln!(text, "{header}: error: `if`: {e}");
                }
            }
        }
        let items: Vec<Option<(usize, serde_json::Value)>> = match &step.for_each {
            None => vec![None],
            Some(source) => {
                let mut shown = Vec::new();
                let mut more = 0usize;
                for (i, item) in items::for_step(step, source).enumerate() {
                    if i >= ITEMS_SHOWN {
                        more += 1;
                        continue;
                    }
                    match item {
                        Ok(v) => shown.push(Some((i, v))),
                        Err(e) => {
                            let _ = writeln!(text, "{header} item {}: error: {e}", i + 1);
                        }
                    }
                }
                if more > 0 {
                    let _ = writeln!(
                        text,
                        "{header}: showing the first {ITEMS_SHOWN} items of {}",
                        ITEMS_SHOWN + more
                    );
                }
                shown
            }
        };
        for item in items {
            let mut context = context.clone();
            let label = match &item {
                Some((i, value)) => {
                    context.insert(step.item_name.clone(), render::value(value));
                    context.insert(
                        "loop".to_owned(),
                        render::value(serde_json::json!({
                            "index": i + 1, "index0": i, "first": *i == 0,
                        })),
                    );
                    let what = if step.flow().is_some() { "row" } else { "item" };
                    format!("{header} {what} {}", i + 1)
                }
                None => header.clone(),
            };
            if let Some(inner) = step.flow() {
                // A flow's row: its steps in order, each reading the row's earlier steps.
                let mut row_steps = steps.clone();
                for s in inner {
                    let mut context = context.clone();
                    context.insert("steps".to_owned(), Value::from(row_steps.clone()));
                    let label = format!(
                        "{label} {}{}",
                        s.id,
                        if s.always { " (always)" } else { "" }
                    );
                    ok &= show(plan, settings, s, &renderer, context, &label, &mut text);
                    row_steps.insert(s.id.clone(), Value::from_object(Placeholder(s.id.clone())));
                }
                continue;
            }
            ok &= show(plan, settings, step, &renderer, context, &label, &mut text);
        }
        steps.insert(
            step.id.clone(),
            Value::from_object(Placeholder(step.id.clone())),
        );
    }
    DryRun { text, ok }
}

/// Renders one step's request into `text` (its `if` first); false when it did not render.
fn show(
    plan: &Plan,
    settings: &IndexMap<String, Settings>,
    step: &crate::plan::model::Step,
    renderer: &Renderer,
    context: BTreeMap<String, Value>,
    label: &str,
    text: &mut String,
) -> bool {
    let context = Value::from_pairs(context);
    if let Some(condition) = &step.condition
        && step.flow().is_none()
    {
        match renderer.eval(condition, &context) {
            Ok(v) if !v.is_true() => {
                let _ = writeln!(text, "{label}: skipped (`if: {condition}` is false)");
                return true;
            }
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(text, "{label}: error: `if`: {e}");
                return false;
            }
        }
    }
    match describe(plan, settings, step, renderer, &context) {
        Ok(block) => {
            let _ = write!(text, "{label}: {block}");
            true
        }
        Err(e) => {
            let _ = writeln!(text, "{label}: error: {e}");
            false
        }
    }
}

fn describe(
    plan: &Plan,
    settings: &IndexMap<String, Settings>,
    step: &crate::plan::model::Step,
    renderer: &Renderer,
    context: &Value,
) -> Result<String, String> {
    let provider = settings
        .get(&step.provider)
        .ok_or_else(|| format!("no provider `{}`", step.provider))?;
    let mut with = IndexMap::new();
    for (name, value) in &step.with {
        let rendered = renderer
            .render_json(value, context)
            .map_err(|e| format!("with.{name}: {e}"))?;
        with.insert(name.clone(), rendered);
    }
    for param in step.action.dials {
        for number in with.get(*param).map(super::numbers).unwrap_or_default() {
            if let Some(why) = plan.guard.refusal(&number) {
                return Ok(format!("refused by the guard: {why}\n"));
            }
        }
    }
    let request = request::build(provider.kind, step.action, &with)
        .map_err(|bad| format!("with.{}: {}", bad.param, bad.message))?;
    let mut url = format!("{}{}", base_url(provider), request.path)
        .replace("%3C", "<")
        .replace("%3E", ">");
    if !request.query.is_empty() {
        let query: Vec<String> = request
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        url.push('?');
        url.push_str(&query.join("&"));
    }
    let mut block = format!("{} {url}", request.method.as_str());
    if step.action.kind == ActionKind::Wait
        && let Some(until) = with
            .get("until")
            .and_then(|v| v.as_str())
            .or(wait::default_until(provider.kind))
    {
        let _ = write!(block, "  (repeated until the call is {until})");
    }
    block.push('\n');
    for (k, v) in provider.headers.iter().chain(&request.headers) {
        let _ = writeln!(block, "    {k}: {v}");
    }
    if let Some(auth) = auth_header(&provider.credentials) {
        let _ = writeln!(block, "    {auth}");
    }
    if let Some(body) = &request.body {
        let _ = writeln!(block, "    Content-Type: {}", body.default_type());
        let _ = writeln!(block, "    {}", String::from_utf8_lossy(&body.bytes()));
    }
    Ok(block)
}
