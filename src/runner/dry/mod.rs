//! `--dry-run`: every request the plan would send, built by the code that builds the run's
//! ([`request`], [`wire`]: the same URL with its merged query, the same headers, the same body
//! bytes), with nothing sent and no secret read.
//!
//! - What only a run knows renders as a placeholder ([`crate::placeholder`]): the values earlier
//!   steps save and their outcomes, secrets (`<secret NAME>`), the run's id, `uuid()`, `now()`.
//!   Access tokens read `<access token>`.
//! - An `if` that reads one of them is undecided: its step is shown as if it runs.
//! - The guard judges every number it can know, as the run would; a placeholder is "decided at
//!   run time", never judged as a number. `max_calls` counts the dials in plan order; calling
//!   hours are decided at run time (a destination's zone is checked when it is known).
//! - A `for_each` step reads all its rows, streamed ([`rows`]): it sums them up and lists the
//!   requests of its first [`ROWS_SHOWN`] rows.

mod rows;

use std::collections::BTreeMap;

use indexmap::IndexMap;
use minijinja::Value;

use super::render::{self, Renderer};
use crate::placeholder;
use crate::plan::model::{Plan, Step};
use crate::provider::auth::Credentials;
use crate::provider::connection::Settings;
use crate::provider::request::{self, Request};
use crate::provider::wire::{self, Wire};
use crate::provider::{ActionKind, ProviderKind, wait};
use crate::report::planned::{self, Condition, DryRun, Planned, Verdict};
use crate::report::webhook::Hook;

/// How many rows of a `for_each` step have their requests listed (all are read and counted).
pub const ROWS_SHOWN: usize = 3;

/// The API base of a CXone provider without `base_url`: discovered after its login.
const DISCOVERED: &str = "https://{api_endpoint}";

/// What a dry run is given: the plan, resolved without reading a secret.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// Each provider's settings, rendered with placeholders for secrets.
    pub settings: &'a IndexMap<String, Settings>,
    /// `vars`, with `--var` overrides.
    pub vars: &'a IndexMap<String, serde_json::Value>,
    /// The plan's webhooks, rendered.
    pub hooks: &'a [Hook],
    /// Notes to print first (where requests would go).
    pub notes: Vec<String>,
}

/// Plans every request: what `--dry-run` prints and writes.
pub fn requests(inputs: Inputs<'_>) -> DryRun {
    let mut base = BTreeMap::new();
    base.insert("vars".to_owned(), render::value(inputs.vars));
    base.insert(
        "run".to_owned(),
        render::value(serde_json::json!({ "plan": inputs.plan.name })),
    );
    let mut walk = Walk {
        plan: inputs.plan,
        settings: inputs.settings,
        renderer: Renderer::planned(Vec::new()),
        base,
        dials: 0,
        steps: Vec::new(),
    };
    for step in &inputs.plan.steps {
        walk.step(step);
    }
    let ok = !walk
        .steps
        .iter()
        .any(|p| p.verdict == Verdict::Invalid || p.rows.as_ref().is_some_and(|r| r.invalid > 0));
    let mut notes = inputs.notes;
    notes.push(
        "no secret is read: `<secret NAME>` stands in for each; values only a run knows read `<…>` (saved values, outcomes, the run's id, `uuid()`, `now()`, access tokens)"
            .to_owned(),
    );
    DryRun {
        schema: planned::SCHEMA_ID.to_owned(),
        dry_run: true,
        plan: inputs.plan.name.clone(),
        path: inputs.plan.path.display().to_string(),
        ok,
        notes,
        providers: inputs
            .settings
            .iter()
            .map(|(name, s)| planned::Login {
                provider: name.clone(),
                kind: s.kind.name().to_owned(),
                login: login(s).map(|l| placeholder::shown(&l)),
            })
            .collect(),
        webhooks: inputs
            .hooks
            .iter()
            .map(|hook| planned::Webhook {
                url: placeholder::shown(&hook.url),
                events: if hook.events.is_empty() {
                    vec!["run_finished".to_owned()]
                } else {
                    hook.events
                        .iter()
                        .filter_map(|e| serde_json::to_value(e).ok())
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                },
            })
            .collect(),
        steps: walk.steps,
    }
}

/// The login request of a provider, in a line; `None` for one without a login.
fn login(settings: &Settings) -> Option<String> {
    let basic = |id: &str, secret: &str| {
        let credentials = Credentials::Basic {
            username: id.to_owned(),
            password: secret.to_owned(),
        };
        wire::authorization(&credentials, None).unwrap_or_default()
    };
    Some(match &settings.credentials {
        Credentials::GenesysClient {
            login_base,
            client_id,
            client_secret,
        } => format!(
            "logs in with POST {}/oauth/token, grant_type=client_credentials, Authorization: {}",
            login_base.trim_end_matches('/'),
            basic(client_id, client_secret)
        ),
        Credentials::CxonePassword {
            auth_base,
            access_key_id,
            access_key_secret,
            client_id,
            client_secret,
        } => {
            let auth_base = auth_base.trim_end_matches('/');
            let mut line = format!(
                "logs in with POST {auth_base}/auth/token, grant_type=password, username {access_key_id}, password {access_key_secret}, Authorization: {}",
                basic(client_id, client_secret)
            );
            if settings.api_base.is_none() {
                line.push_str(&format!(
                    "; then GET {}/.well-known/cxone-configuration?tenantId={} gives {{api_endpoint}}",
                    settings
                        .discovery_base
                        .as_deref()
                        .unwrap_or(auth_base)
                        .trim_end_matches('/'),
                    placeholder::marker("tenant id from the login's id_token")
                ));
            }
            line
        }
        Credentials::OAuth2 {
            token_url,
            client_id,
            client_secret,
            scope,
            audience,
        } => {
            let mut line = format!("logs in with POST {token_url}, grant_type=client_credentials");
            for (key, value) in [("scope", scope), ("audience", audience)] {
                if let Some(value) = value {
                    line.push_str(&format!(", {key}={value}"));
                }
            }
            line.push_str(&format!(
                ", Authorization: {}",
                basic(client_id, client_secret)
            ));
            line
        }
        Credentials::Bearer { .. } | Credentials::Basic { .. } | Credentials::None => {
            return None;
        }
    })
}

/// Where a planned entry is: a row of a `for_each`, or none.
#[derive(Debug, Clone, Default)]
struct At {
    /// The row, from 1 (`None` for a step that does not loop, or a saved list's rows).
    row: Option<u64>,
    /// `file:line`.
    source: Option<String>,
    /// The flow whose row this is.
    flow: Option<String>,
    /// A row past the listed ones: only counted, its request not laid out.
    counted_only: bool,
}

/// A planned entry, and what a `for_each` summary counts of it.
#[derive(Debug)]
struct Entry {
    planned: Planned,
    /// It would dial.
    dials: bool,
    /// The number it would dial is known only at run time.
    later: bool,
    /// Why the guard refuses it, without the number (rows are counted by reason).
    reason: Option<String>,
}

/// What the guard says of a dial.
enum GuardWord {
    /// Allowed, or decided at run time: the line to show, and whether a number it dials is
    /// known only at run time.
    Sends(String, bool),
    /// Refused: why, and the reason without the number.
    Refused(String, String),
}

/// How a step's `if` turns out in a dry run.
enum Decision {
    /// It runs (decided true, undecided, or there is no `if`).
    Runs(Option<Condition>),
    /// Decided false.
    Skipped(Condition),
    /// It could not be evaluated.
    Fails(String),
}

struct Walk<'a> {
    plan: &'a Plan,
    settings: &'a IndexMap<String, Settings>,
    renderer: Renderer,
    /// `vars` and `run`: everything else a template may read is a placeholder.
    base: BTreeMap<String, Value>,
    /// Dials so far, in plan order (for `max_calls`).
    dials: u64,
    steps: Vec<Planned>,
}

impl Walk<'_> {
    /// A step of the plan.
    fn step(&mut self, step: &Step) {
        let context = self.base.clone();
        let at = At::default();
        match &step.for_each {
            None => {
                let entry = self.conditioned(step, &context, &at);
                self.steps.push(entry.planned);
            }
            Some(source) => match self.decide(step, &context) {
                Decision::Runs(condition) => self.for_each(step, source, condition),
                other => {
                    let entry = self.undone(step, &at, other);
                    self.steps.push(entry.planned);
                }
            },
        }
    }

    fn decide(&self, step: &Step, context: &BTreeMap<String, Value>) -> Decision {
        let Some(expression) = &step.condition else {
            return Decision::Runs(None);
        };
        let condition = |decided: bool, value: Option<bool>| Condition {
            expression: expression.clone(),
            decided,
            value,
        };
        if self.renderer.undecided(expression) {
            return Decision::Runs(Some(condition(false, None)));
        }
        match self
            .renderer
            .eval(expression, &Value::from_pairs(context.clone()))
        {
            Ok(v) if v.is_true() => Decision::Runs(Some(condition(true, Some(true)))),
            Ok(_) => Decision::Skipped(condition(true, Some(false))),
            Err(e) => Decision::Fails(format!("`if` could not be evaluated: {e}")),
        }
    }

    /// A step with its `if` decided first.
    fn conditioned(&mut self, step: &Step, context: &BTreeMap<String, Value>, at: &At) -> Entry {
        match self.decide(step, context) {
            Decision::Runs(condition) => self.action(step, context, at, condition),
            other => self.undone(step, at, other),
        }
    }

    /// The entry of a step that does not run: skipped, or its `if` failed.
    fn undone(&self, step: &Step, at: &At, decision: Decision) -> Entry {
        let mut planned = self.planned(step, at, None);
        match decision {
            Decision::Skipped(condition) => {
                planned.verdict = Verdict::Skipped;
                planned.condition = Some(condition);
            }
            Decision::Fails(why) => {
                planned.verdict = Verdict::Invalid;
                planned.message = Some(placeholder::shown(&why));
            }
            Decision::Runs(_) => {}
        }
        Entry::of(planned)
    }

    /// An empty entry for `step` at `at`.
    fn planned(&self, step: &Step, at: &At, condition: Option<Condition>) -> Planned {
        let (id, inner) = match &at.flow {
            Some(flow) => (flow.clone(), Some(step.id.clone())),
            None => (step.id.clone(), None),
        };
        Planned {
            step: id,
            inner,
            always: step.always,
            row: at.row,
            source: at.source.clone(),
            condition,
            verdict: Verdict::Sends,
            message: None,
            guard: None,
            request: None,
            rows: None,
        }
    }

    /// An action step that runs: its request, built as the run builds it, and the guard's word.
    fn action(
        &mut self,
        step: &Step,
        context: &BTreeMap<String, Value>,
        at: &At,
        condition: Option<Condition>,
    ) -> Entry {
        let mut entry = Entry::of(self.planned(step, at, condition));
        let context = Value::from_pairs(context.clone());
        let built = super::render_with(&self.renderer, step, &context).and_then(|with| {
            let provider = self
                .settings
                .get(&step.provider)
                .ok_or_else(|| format!("no provider `{}`", step.provider))?;
            let request = request::build_planned(provider.kind, step.action, &with)
                .map_err(|bad| format!("with.{}: {}", bad.param, bad.message))?;
            Ok((with, provider, request))
        });
        let (with, provider, request) = match built {
            Ok(built) => built,
            Err(why) => {
                entry.planned.verdict = Verdict::Invalid;
                entry.planned.message = Some(placeholder::shown(&why));
                return entry;
            }
        };
        // The guard, as the run: once the request is built, before anything would leave.
        if !step.action.dials.is_empty() {
            match self.guard(step, &with, &context) {
                GuardWord::Sends(line, later) => {
                    entry.dials = true;
                    entry.later = later;
                    entry.planned.guard = Some(line);
                }
                GuardWord::Refused(why, reason) => {
                    entry.planned.verdict = Verdict::Refused;
                    entry.planned.message = Some(why);
                    entry.reason = Some(reason);
                    return entry;
                }
            }
        }
        if !at.counted_only {
            let wire = planned_wire(provider, &request);
            entry.planned.request = Some(shown(&wire, note(step, provider, &with, &request)));
        }
        entry
    }

    /// The guard's word on a dial: as the run judges it, with a placeholder left to the run.
    fn guard(
        &mut self,
        step: &Step,
        with: &IndexMap<String, serde_json::Value>,
        context: &Value,
    ) -> GuardWord {
        let guard = &self.plan.guard;
        let (mut known, mut later) = (Vec::new(), Vec::new());
        for param in step.action.dials {
            for number in with.get(*param).map(super::numbers).unwrap_or_default() {
                if placeholder::is_in(&number) {
                    later.push(placeholder::shown(&number));
                    continue;
                }
                if let Some(why) = guard.refusal(&number) {
                    let reason = why
                        .strip_prefix(number.as_str())
                        .map_or(why.as_str(), str::trim_start)
                        .to_owned();
                    return GuardWord::Refused(why, reason);
                }
                known.push(number);
            }
        }
        let mut hours = None;
        if let Some(h) = &guard.hours {
            match super::dial_zone(h, &self.renderer, context) {
                Ok(zone) => {
                    let zone = zone.map_or_else(
                        || "the destination's zone, known at run time".to_owned(),
                        |z| z.to_string(),
                    );
                    hours = Some(format!(
                        "calling hours decided at run time (allowed {} in {zone})",
                        h.allowed()
                    ));
                }
                Err(why) => return GuardWord::Refused(why.clone(), why),
            }
        }
        let dialed = self.dials;
        self.dials += 1;
        if let Some(max) = guard.max_calls
            && dialed >= max
        {
            let why = format!("max_calls ({max}) reached");
            return GuardWord::Refused(why.clone(), why);
        }
        let mut words = Vec::new();
        if !known.is_empty() {
            words.push(format!("{} allowed", known.join(", ")));
        }
        if !later.is_empty() {
            words.push(format!("decided at run time: {}", later.join(", ")));
        }
        words.extend(hours);
        GuardWord::Sends(words.join("; "), !later.is_empty())
    }
}

impl Entry {
    fn of(planned: Planned) -> Entry {
        Entry {
            planned,
            dials: false,
            later: false,
            reason: None,
        }
    }
}

/// The request on the wire, as the run builds it: below the provider's API base (a CXone base
/// discovered after the login is `https://{api_endpoint}`), the token a placeholder.
fn planned_wire(provider: &Settings, request: &Request) -> Wire {
    let root = provider.api_base.as_deref().unwrap_or(DISCOVERED);
    let token = placeholder::marker("access token");
    wire::build(
        &wire::Base::new(provider.base_below(root)),
        request,
        &provider.headers,
        wire::authorization(&provider.credentials, Some(&token)),
    )
}

/// What else an action does besides its request: a wait repeats it, a hang-up sends another.
fn note(
    step: &Step,
    provider: &Settings,
    with: &IndexMap<String, serde_json::Value>,
    request: &Request,
) -> Option<String> {
    let text = |name: &str, default: &str| {
        with.get(name)
            .and_then(|v| v.as_str())
            .unwrap_or(default)
            .to_owned()
    };
    match step.action.kind {
        ActionKind::Request => None,
        ActionKind::Wait => with
            .get("until")
            .and_then(|v| v.as_str())
            .or(wait::default_until(provider.kind))
            .map(|until| format!("repeated until the call is {until}")),
        ActionKind::HangUp if provider.kind == ProviderKind::GenesysCloud => {
            let conversation = request
                .path
                .rsplit('/')
                .next()
                .map(placeholder::shown)
                .unwrap_or_default();
            Some(format!(
                "then PATCH /api/v2/conversations/{conversation}/participants/<the {}'s participant id> with {{\"state\":\"disconnected\"}}, unless it is gone",
                text("participant", "customer")
            ))
        }
        ActionKind::HangUp => None,
    }
}

/// A wire request as a dry run shows it: every placeholder as `<label>`.
fn shown(wire: &Wire, note: Option<String>) -> planned::Request {
    planned::Request {
        method: wire.method.as_str().to_owned(),
        url: placeholder::shown(wire.url.as_str()),
        headers: wire
            .headers
            .iter()
            .map(|(name, value)| planned::Header {
                name: name.clone(),
                value: placeholder::shown(value),
            })
            .collect(),
        body: wire
            .body
            .as_ref()
            .map(|bytes| placeholder::shown(&String::from_utf8_lossy(bytes))),
        note,
    }
}
