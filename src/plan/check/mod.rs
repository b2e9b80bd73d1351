//! Semantic checks on a plan that passed the schema (or on what is left of one once the parts the
//! schema rejected are taken out: see `plan::prune`), and the validated model they produce.
//!
//! Everything a schema cannot say: references between steps and providers, the action catalogue,
//! templates and the names they read, durations, phone numbers, guard patterns, input files.
//! Every finding points at the node it is about.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use indexmap::IndexMap;
use minijinja::Environment;
use serde_json::Value;

use super::limits;
use super::model::{self, DEFAULT_TIMEOUT, DestinationPattern, ForEachSource, Plan, RetryPolicy};
use super::prune::Pruned;
use super::raw::{self, RawPlan};
use super::source::{Source, SourceMap, child};
use crate::diagnostic::{Diagnostic, Span, did_you_mean, suggest};
use crate::duration::human;
use crate::provider::{ActionKind, ActionSpec, In, ParamSpec, ParamType, ProviderKind};
use crate::template::{self, Problem};

mod flow;

/// Fields of `run` in templates.
pub const RUN_FIELDS: &[&str] = &["id", "started_at", "plan"];
/// Fields of `response` in `expect` and `save`.
pub const RESPONSE_FIELDS: &[&str] = &["status", "headers", "body", "elapsed_ms", "call"];
/// Fields of `loop` in a `for_each` step.
pub const LOOP_FIELDS: &[&str] = &["index", "index0", "first"];
/// Fields every step has besides its saved values.
pub const STEP_FIELDS: &[&str] = &["outcome"];
/// Names the loop item may not take.
const RESERVED: &[&str] = &["vars", "secrets", "steps", "response", "run", "loop"];

/// Checks a schema-valid plan. Returns the model when there is no error, and every diagnostic.
pub fn check(raw: &RawPlan, source: &Source, map: &SourceMap) -> (Option<Plan>, Vec<Diagnostic>) {
    check_pruned(raw, source, map, &Pruned::default())
}

/// Checks what is left of a plan once the nodes the schema rejected are taken out (`pruned`
/// says which; `map` places what is left): nothing is said about what was taken out, nor about
/// what reads it.
pub(crate) fn check_pruned(
    raw: &RawPlan,
    source: &Source,
    map: &SourceMap,
    pruned: &Pruned,
) -> (Option<Plan>, Vec<Diagnostic>) {
    let mut cx = Checker {
        raw,
        source,
        map,
        pruned,
        env: template::environment(),
        out: Vec::new(),
        inline_items: None,
        compiled: HashMap::new(),
        guard_refuses_all: false,
        guard_unknown: false,
        plus_numbers: None,
    };
    let plan = cx.run();
    let has_error = cx.out.iter().any(Diagnostic::is_error);
    (if has_error { None } else { Some(plan) }, cx.out)
}

/// A step's loop: where its items come from, what the item is called and which fields it has.
#[derive(Debug, Clone)]
struct Loop {
    /// The step loops (even if its source is broken: its item is still named).
    declared: bool,
    source: Option<ForEachSource>,
    name: String,
    /// The schema rejected `as`: the item's name is not known.
    unnamed: bool,
    /// The item's fields, when known.
    fields: Option<BTreeSet<String>>,
    /// Inline items (the guard judges the numbers they dial).
    inline: Option<Vec<Value>>,
}

/// What templates may read at one place in the plan.
struct Scope<'a> {
    /// `response` is readable (in `expect` and `save`).
    response: bool,
    /// `steps` is readable, with these earlier steps and their saved names.
    steps: Option<&'a IndexMap<String, BTreeSet<String>>>,
    /// Where each step is defined (its index), to explain a reference to a later one.
    step_lines: &'a HashMap<String, usize>,
    /// The loop item's name and its known fields (`None`: fields unknown).
    item: Option<(&'a str, Option<&'a BTreeSet<String>>)>,
    /// The item's name is not known (the schema rejected `as`): any name may be it.
    any_name: bool,
}

struct Checker<'a> {
    raw: &'a RawPlan,
    source: &'a Source,
    map: &'a SourceMap<'a>,
    /// What the schema rejected and was taken out of `raw`.
    pruned: &'a Pruned,
    env: Environment<'static>,
    out: Vec<Diagnostic>,
    /// The loop item's name and the inline `for_each` items of the step being checked.
    inline_items: Option<(String, Vec<Value>)>,
    /// Templates and expressions already compiled, by text: plans repeat the same ones often.
    compiled: HashMap<(bool, String), Result<template::Names, Problem>>,
    /// The guard refuses every number (reported once; each dial is not reported again).
    guard_refuses_all: bool,
    /// The schema rejected part of the guard's allow list: dials are not judged.
    guard_unknown: bool,
    /// Every `+` followed by digits in the text, as written (found on first need, in one pass).
    plus_numbers: Option<Vec<&'a str>>,
}

impl<'a> Checker<'a> {
    fn value_span(&self, pointer: &str) -> Option<Span> {
        self.map.value_span(self.source, pointer)
    }

    fn key_span(&self, pointer: &str) -> Option<Span> {
        self.map.key_span(self.source, pointer)
    }

    /// The line a step's `id` is written on.
    fn step_line(&self, index: usize) -> usize {
        self.map
            .get(&format!("/steps/{index}/id"))
            .map(|n| n.value.line)
            .unwrap_or(0)
    }

    /// Whether the node at `pointer` was taken out (the schema rejected it or an ancestor).
    fn taken_out(&self, pointer: &str) -> bool {
        self.pruned.covers(&self.map.written(pointer))
    }

    /// Whether anything at, above or below `pointer` was taken out.
    fn touched(&self, pointer: &str) -> bool {
        self.pruned.touches(&self.map.written(pointer))
    }

    fn push(&mut self, d: Diagnostic) {
        self.out.push(d);
    }

    fn run(&mut self) -> Plan {
        let empty_lines = HashMap::new();
        let root_scope = Scope {
            response: false,
            steps: None,
            step_lines: &empty_lines,
            item: None,
            any_name: false,
        };
        self.check_vars();
        let providers = self.check_providers(&root_scope);
        let guard = self.check_guard();
        let defaults = self.check_defaults();
        let providers = self.login_retries(providers, &defaults.2);
        self.check_notify(&root_scope);
        self.check_report(&root_scope);
        let steps = self.check_steps(&providers, &guard, &defaults);
        Plan {
            path: self.source.path.clone(),
            name: self.raw.name.clone(),
            description: self.raw.description.clone(),
            vars: self.raw.vars.clone(),
            secrets: self.raw.secrets.clone(),
            providers,
            guard,
            notify: self.raw.notify.clone(),
            report: self.raw.report.clone(),
            steps,
        }
    }

    /// A string var that starts with `+` is a phone number and must be valid E.164.
    fn check_vars(&mut self) {
        for (name, value) in &self.raw.vars {
            self.check_var_value(value, &child("/vars", name));
        }
    }

    /// Whether `+<n>` is written somewhere in the text (the `+` of an unquoted number is lost).
    fn written_with_plus(&mut self, n: &serde_json::Number) -> bool {
        let text: &'a str = &self.source.text;
        // What follows each `+` that a number's text could be the start of, sorted: one pass
        // over the text, then a binary search per number.
        let runs = self.plus_numbers.get_or_insert_with(|| {
            let mut runs: Vec<&str> = text
                .match_indices('+')
                .map(|(i, _)| {
                    let rest = &text[i + 1..];
                    let len = rest
                        .bytes()
                        .take_while(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                        .count();
                    &rest[..len]
                })
                .filter(|run| !run.is_empty())
                .collect();
            runs.sort_unstable();
            runs
        });
        let n = n.to_string();
        let at = runs.partition_point(|run| *run < n.as_str());
        runs.get(at).is_some_and(|run| run.starts_with(&n))
    }

    fn check_var_value(&mut self, value: &Value, pointer: &str) {
        // Depth is bounded by the YAML nesting limit enforced when loading.
        match value {
            Value::String(s) if looks_like_phone(s) && !crate::phone::is_e164(s) => {
                self.push(phone_error(s, self.value_span(pointer)));
            }
            Value::String(s) if template::is_template(s) => {
                self.push(
                    Diagnostic::warning(
                        "plan.vars-template",
                        "vars are plain values, not templates",
                    )
                    .at(self.value_span(pointer))
                    .label("this text is used as written, braces included")
                    .help("compute the value in the step that uses it, or pass it with `--var`"),
                );
            }
            // `+13175550100` unquoted is the number 13175550100 to YAML: the `+` is lost. (The
            // text is searched first: positions are looked up only for a likely mistake.)
            Value::Number(n) if self.written_with_plus(n) => {
                let written = self.map.exact(pointer).map(|n| self.source.slice(n.value));
                if let Some(text) = written.filter(|t| looks_like_phone(t)) {
                    self.push(
                        Diagnostic::error(
                            "plan.phone",
                            format!("`{text}` is read as a number, not a phone number"),
                        )
                        .at(self.value_span(pointer))
                        .label("YAML drops the `+` of an unquoted number")
                        .help(format!("quote it: `\"{text}\"`")),
                    );
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.check_var_value(item, &child(pointer, &i.to_string()));
                }
            }
            Value::Object(m) => {
                for (k, v) in m {
                    self.check_var_value(v, &child(pointer, k));
                }
            }
            _ => {}
        }
    }

    /// A duration of the plan, within `bound`; a mistake is reported at the value.
    fn duration(
        &mut self,
        text: &raw::DurationText,
        pointer: &str,
        bound: crate::duration::Bound,
    ) -> Option<Duration> {
        match crate::duration::parse(&text.0, bound) {
            Ok(d) => Some(d),
            Err(e) => {
                self.push(
                    Diagnostic::error("plan.duration", e.to_string())
                        .at(self.value_span(pointer))
                        .help(e.hint()),
                );
                None
            }
        }
    }

    fn check_providers(&mut self, scope: &Scope<'_>) -> IndexMap<String, model::Provider> {
        let mut providers = IndexMap::new();
        for (name, provider) in &self.raw.providers {
            let base = child("/providers", name);
            let (kind, rate_limit, timeout) = match provider {
                raw::Provider::GenesysCloud(g) => {
                    // A `region` the schema rejected was written: it is not missing.
                    if g.region.is_none()
                        && g.base_url.is_none()
                        && !self.taken_out(&child(&base, "region"))
                        && !self.taken_out(&child(&base, "base_url"))
                    {
                        self.push(
                            Diagnostic::error(
                                "plan.provider",
                                format!("provider `{name}` needs `region` or `base_url`"),
                            )
                            .at(self.key_span(&base))
                            .help("add `region: mypurecloud.com` (your org's region domain)"),
                        );
                    }
                    self.url(g.base_url.as_deref(), &child(&base, "base_url"), scope);
                    self.url(g.login_url.as_deref(), &child(&base, "login_url"), scope);
                    let auth = child(&base, "auth");
                    match &g.auth {
                        raw::GenesysAuth::ClientCredentials {
                            client_id,
                            client_secret,
                        } => {
                            self.credential(client_id, &child(&auth, "client_id"), false, scope);
                            self.credential(
                                client_secret,
                                &child(&auth, "client_secret"),
                                true,
                                scope,
                            );
                        }
                        raw::GenesysAuth::Bearer { token } => {
                            self.credential(token, &child(&auth, "token"), true, scope);
                        }
                    }
                    (ProviderKind::GenesysCloud, &g.rate_limit, &g.timeout)
                }
                raw::Provider::NiceCxone(c) => {
                    self.url(c.auth_url.as_deref(), &child(&base, "auth_url"), scope);
                    self.url(c.base_url.as_deref(), &child(&base, "base_url"), scope);
                    let auth = child(&base, "auth");
                    let raw::CxoneAuth::Password {
                        access_key_id,
                        access_key_secret,
                        client_id,
                        client_secret,
                    } = &c.auth;
                    self.credential(access_key_id, &child(&auth, "access_key_id"), true, scope);
                    self.credential(
                        access_key_secret,
                        &child(&auth, "access_key_secret"),
                        true,
                        scope,
                    );
                    self.credential(client_id, &child(&auth, "client_id"), false, scope);
                    self.credential(client_secret, &child(&auth, "client_secret"), true, scope);
                    (ProviderKind::NiceCxone, &c.rate_limit, &c.timeout)
                }
                raw::Provider::Http(h) => {
                    self.url(Some(&h.base_url), &child(&base, "base_url"), scope);
                    for (header, value) in &h.headers {
                        let pointer = child(&child(&base, "headers"), header);
                        self.header(header, value, &pointer, scope);
                    }
                    let auth = child(&base, "auth");
                    match &h.auth {
                        None | Some(raw::HttpAuth::None) => {}
                        Some(raw::HttpAuth::Bearer { token }) => {
                            self.credential(token, &child(&auth, "token"), true, scope);
                        }
                        Some(raw::HttpAuth::Basic { username, password }) => {
                            self.credential(username, &child(&auth, "username"), false, scope);
                            self.credential(password, &child(&auth, "password"), true, scope);
                        }
                        Some(raw::HttpAuth::Oauth2ClientCredentials {
                            token_url,
                            client_id,
                            client_secret,
                            scope: oauth_scope,
                            audience,
                        }) => {
                            self.url(Some(token_url), &child(&auth, "token_url"), scope);
                            self.credential(client_id, &child(&auth, "client_id"), false, scope);
                            self.credential(
                                client_secret,
                                &child(&auth, "client_secret"),
                                true,
                                scope,
                            );
                            if let Some(s) = oauth_scope {
                                self.template(s, &child(&auth, "scope"), scope);
                            }
                            if let Some(a) = audience {
                                self.template(a, &child(&auth, "audience"), scope);
                            }
                        }
                    }
                    (ProviderKind::Http, &h.rate_limit, &h.timeout)
                }
            };
            let rate_limit = rate_limit.as_ref().and_then(|r| {
                let per = self.duration(
                    &r.per,
                    &child(&child(&base, "rate_limit"), "per"),
                    limits::RATE_PERIOD,
                )?;
                Some(crate::provider::pacing::Limit {
                    requests: r.requests,
                    per,
                    burst: r.burst,
                })
            });
            let timeout = timeout
                .as_ref()
                .and_then(|t| self.duration(t, &child(&base, "timeout"), limits::TIMEOUT));
            let reconcile_delay = match provider {
                raw::Provider::GenesysCloud(g) => g.reconcile_delay.as_ref(),
                raw::Provider::NiceCxone(c) => c.reconcile_delay.as_ref(),
                raw::Provider::Http(_) => None,
            }
            .and_then(|d| {
                self.duration(d, &child(&base, "reconcile_delay"), limits::RECONCILE_DELAY)
            });
            providers.insert(
                name.clone(),
                model::Provider {
                    kind,
                    config: provider.clone(),
                    rate_limit,
                    timeout,
                    login_retry: RetryPolicy::login(),
                    reconcile_delay,
                },
            );
        }
        providers
    }

    /// Each provider's login retries: its own `retry`, else the plan's `defaults.retry`, else
    /// the login default.
    fn login_retries(
        &mut self,
        mut providers: IndexMap<String, model::Provider>,
        defaults: &RetryPolicy,
    ) -> IndexMap<String, model::Provider> {
        let plan_default = self
            .raw
            .defaults
            .as_ref()
            .is_some_and(|d| d.retry.is_some());
        for (name, provider) in providers.iter_mut() {
            let own = match &provider.config {
                raw::Provider::GenesysCloud(p) => p.retry.as_ref(),
                raw::Provider::NiceCxone(p) => p.retry.as_ref(),
                raw::Provider::Http(p) => p.retry.as_ref(),
            };
            provider.login_retry = match own {
                Some(r) => self.retry(
                    r,
                    &child(&child("/providers", name), "retry"),
                    &RetryPolicy::login(),
                ),
                None if plan_default => defaults.clone(),
                None => RetryPolicy::login(),
            };
        }
        providers
    }

    /// A URL setting: a template, or an absolute http(s) URL.
    fn url(&mut self, value: Option<&str>, pointer: &str, scope: &Scope<'_>) {
        let Some(value) = value else { return };
        if template::is_template(value) {
            self.template(value, pointer, scope);
        } else if !(value.starts_with("http://") || value.starts_with("https://"))
            || value.len() <= "https://".len()
        {
            self.push(
                Diagnostic::error("plan.url", format!("`{value}` is not an http(s) URL"))
                    .at(self.value_span(pointer))
                    .help("write an absolute URL such as `https://api.example.com`"),
            );
        }
    }

    /// A credential: secret ones must come from `secrets`, never be written in the plan.
    fn credential(&mut self, value: &str, pointer: &str, secret: bool, scope: &Scope<'_>) {
        if template::is_template(value) {
            self.template(value, pointer, scope);
            if secret {
                self.secret_source(value, pointer);
            }
        } else if secret {
            self.push(literal_secret(self.value_span(pointer)));
        }
    }

    /// A templated credential must read a secret (a broken template was reported already).
    fn secret_source(&mut self, value: &str, pointer: &str) {
        let Ok(names) = self.compile(value, false) else {
            return;
        };
        if !names.iter().any(|n| n.starts_with("secrets.")) {
            self.push(
                Diagnostic::error("plan.secret-source", "a credential must come from `secrets`")
                    .at(self.value_span(pointer))
                    .label("this template reads no secret")
                    .help(
                        "declare it under `secrets:` and write `{{ secrets.<name> }}`: vars are printed in dry runs and reports, secrets never are",
                    ),
            );
        }
    }

    /// A header: a template, and a credential when its name says so.
    fn header(&mut self, name: &str, value: &str, pointer: &str, scope: &Scope<'_>) {
        let secret = CREDENTIAL_HEADERS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name));
        if secret {
            self.credential(value, pointer, true, scope);
        } else {
            self.template(value, pointer, scope);
        }
    }

    fn check_guard(&mut self) -> model::Guard {
        let Some(guard) = &self.raw.guard else {
            return model::Guard::default();
        };
        let parse = |list: &[String], key: &str, cx: &mut Self| {
            let mut patterns = Vec::new();
            for (i, text) in list.iter().enumerate() {
                let pointer = child(&child("/guard", key), &i.to_string());
                match DestinationPattern::parse(text) {
                    Ok(p) => patterns.push(p),
                    Err(why) => cx.push(
                        Diagnostic::error(
                            "guard.pattern",
                            format!("invalid destination pattern `{text}`"),
                        )
                        .at(cx.value_span(&pointer))
                        .label(why)
                        .help("write E.164 with `*` for any one digit, e.g. `+1317555****`"),
                    ),
                }
            }
            patterns
        };
        let allow = parse(&guard.allow_destinations, "allow_destinations", self);
        let deny = parse(&guard.deny_destinations, "deny_destinations", self);
        // Without a pattern the schema rejected, the guard would refuse numbers it allows.
        self.guard_unknown = self.touched("/guard/allow_destinations");
        // An allowed pattern a deny pattern swallows whole can never let a number through.
        let everything =
            !allow.is_empty() && allow.iter().all(|a| deny.iter().any(|d| a.within(d)));
        self.guard_refuses_all = everything;
        for (i, a) in allow.iter().enumerate() {
            if let Some(d) = deny.iter().find(|d| a.within(d)) {
                let pointer = child(&child("/guard", "allow_destinations"), &i.to_string());
                let (kind, message) = if everything {
                    (
                        Diagnostic::error as fn(&'static str, String) -> Diagnostic,
                        format!(
                            "no number can ever be dialed: `{}` is denied by `{}`, and so is every other allowed pattern",
                            a.text, d.text
                        ),
                    )
                } else {
                    (
                        Diagnostic::warning as fn(&'static str, String) -> Diagnostic,
                        format!(
                            "`{}` can never match: `{}` in deny_destinations denies every number it allows",
                            a.text, d.text
                        ),
                    )
                };
                self.push(
                    kind("guard.never", message)
                        .at(self.value_span(&pointer))
                        .help("remove the pattern, or narrow the deny pattern"),
                );
                if everything {
                    break;
                }
            }
        }
        let hours = guard
            .calling_hours
            .as_ref()
            .and_then(|h| self.calling_hours(h));
        model::Guard {
            allow,
            deny,
            max_calls: guard.max_calls,
            hours,
        }
    }

    fn calling_hours(&mut self, h: &raw::CallingHours) -> Option<model::CallingHours> {
        let base = "/guard/calling_hours";
        let minutes = |text: &str| {
            let (hh, mm) = text.split_once(':')?;
            let (hh, mm): (u32, u32) = (hh.parse().ok()?, mm.parse().ok()?);
            (hh < 24 && mm < 60).then_some(hh * 60 + mm)
        };
        // The schema has checked the HH:MM shape already.
        let (from, to) = (minutes(&h.from)?, minutes(&h.to)?);
        let zone: Option<chrono_tz::Tz> = match h.time_zone.parse() {
            Ok(z) => Some(z),
            Err(_) => {
                let names = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name());
                let hint = crate::diagnostic::did_you_mean(&h.time_zone, names)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        "use an IANA zone name such as `America/New_York` or `Europe/London`".into()
                    });
                self.push(
                    Diagnostic::error(
                        "guard.time-zone",
                        format!("`{}` is not an IANA time zone", h.time_zone),
                    )
                    .at(self.value_span(&child(base, "time_zone")))
                    .help(hint),
                );
                None
            }
        };
        if from == to {
            self.push(
                Diagnostic::error(
                    "guard.never",
                    format!(
                        "calling hours are never open: `from` and `to` are both {}",
                        h.from
                    ),
                )
                .at(self.value_span(&child(base, "to")))
                .help("calling hours run from `from` up to `to`; use a later `to`"),
            );
            return None;
        }
        if h.days.as_ref().is_some_and(Vec::is_empty) {
            self.push(
                Diagnostic::error("guard.never", "calling hours have no days: no dial can ever be placed")
                    .at(self.value_span(&child(base, "days")))
                    .help("list the days, e.g. `[mon, tue, wed, thu, fri]`, or leave `days` out for every day"),
            );
            return None;
        }
        if let Some(template) = &h.destination_time_zone
            && let Err(problem) = crate::template::check_template(&self.env, template)
        {
            let message = match problem {
                crate::template::Problem::Syntax { message, .. }
                | crate::template::Problem::Unknown { message, .. } => message,
            };
            self.push(
                Diagnostic::error(
                    "template.syntax",
                    format!("destination_time_zone: {message}"),
                )
                .at(self.value_span(&child(base, "destination_time_zone"))),
            );
        }
        let day = |d: &raw::Weekday| match d {
            raw::Weekday::Mon => chrono::Weekday::Mon,
            raw::Weekday::Tue => chrono::Weekday::Tue,
            raw::Weekday::Wed => chrono::Weekday::Wed,
            raw::Weekday::Thu => chrono::Weekday::Thu,
            raw::Weekday::Fri => chrono::Weekday::Fri,
            raw::Weekday::Sat => chrono::Weekday::Sat,
            raw::Weekday::Sun => chrono::Weekday::Sun,
        };
        Some(model::CallingHours {
            days: h.days.as_ref().map(|d| d.iter().map(day).collect()),
            from,
            to,
            zone: zone?,
            destination_zone: h.destination_time_zone.clone(),
        })
    }

    fn check_defaults(&mut self) -> (Duration, raw::OnError, RetryPolicy) {
        let Some(defaults) = &self.raw.defaults else {
            return (DEFAULT_TIMEOUT, raw::OnError::Abort, RetryPolicy::default());
        };
        let timeout = defaults
            .timeout
            .as_ref()
            .and_then(|t| self.duration(t, "/defaults/timeout", limits::TIMEOUT))
            .unwrap_or(DEFAULT_TIMEOUT);
        let retry = match &defaults.retry {
            Some(r) => self.retry(r, "/defaults/retry", &RetryPolicy::default()),
            None => RetryPolicy::default(),
        };
        (
            timeout,
            defaults.on_error.unwrap_or(raw::OnError::Abort),
            retry,
        )
    }

    fn retry(&mut self, r: &raw::Retry, pointer: &str, base: &RetryPolicy) -> RetryPolicy {
        let initial = r
            .initial
            .as_ref()
            .and_then(|d| self.duration(d, &child(pointer, "initial"), limits::RETRY_DELAY))
            .unwrap_or(base.initial);
        let max = r
            .max
            .as_ref()
            .and_then(|d| self.duration(d, &child(pointer, "max"), limits::RETRY_DELAY))
            .unwrap_or(base.max);
        // A delay the schema rejected (here or in the defaults this inherits) is not known.
        let unknown = [pointer, "/defaults/retry", "/defaults"]
            .iter()
            .any(|p| self.taken_out(&child(p, "initial")) || self.taken_out(&child(p, "max")));
        if initial > max && !unknown {
            self.push(
                Diagnostic::error(
                    "plan.retry",
                    format!(
                        "retry `initial` ({}) is longer than `max` ({})",
                        human(initial),
                        human(max)
                    ),
                )
                .at(self.value_span(&child(
                    pointer,
                    if r.initial.is_some() {
                        "initial"
                    } else {
                        "max"
                    },
                )))
                .help("the first delay cannot exceed the largest one"),
            );
        }
        RetryPolicy {
            attempts: r.attempts,
            backoff: r.backoff.unwrap_or(base.backoff),
            initial,
            max,
            jitter: r.jitter.unwrap_or(base.jitter),
            when: if r.when.is_empty() {
                base.when.clone()
            } else {
                r.when.clone()
            },
            allow_unsafe: r.unsafe_.unwrap_or(base.allow_unsafe),
        }
    }

    fn check_notify(&mut self, scope: &Scope<'_>) {
        for (i, n) in self.raw.notify.iter().enumerate() {
            let base = child("/notify", &i.to_string());
            self.url(Some(&n.url), &child(&base, "url"), scope);
            for (header, value) in &n.headers {
                self.header(
                    header,
                    value,
                    &child(&child(&base, "headers"), header),
                    scope,
                );
            }
        }
    }

    fn check_report(&mut self, scope: &Scope<'_>) {
        let Some(report) = &self.raw.report else {
            return;
        };
        for (key, path) in [
            ("json", &report.json),
            ("junit", &report.junit),
            ("markdown", &report.markdown),
            ("html", &report.html),
        ] {
            if let Some(path) = path {
                let pointer = child("/report", key);
                let names = self.template(path, &pointer, scope);
                if names.iter().any(|n| n.starts_with("secrets.")) {
                    self.push(
                        Diagnostic::error("plan.secret-leak", "a report path reads a secret")
                            .at(self.value_span(&pointer))
                            .label("file names are printed and listed; the secret would leak")
                            .help("name reports with `vars` or `run.id` instead"),
                    );
                }
            }
        }
    }

    fn check_steps(
        &mut self,
        providers: &IndexMap<String, model::Provider>,
        guard: &model::Guard,
        defaults: &(Duration, raw::OnError, RetryPolicy),
    ) -> Vec<model::Step> {
        // Where every step is defined (its index), for "defined later" hints and duplicate ids.
        let mut step_lines: HashMap<String, usize> = HashMap::new();
        let mut duplicates = Vec::new();
        for (i, step) in self.raw.steps.iter().enumerate() {
            if let Some(first) = step_lines.get(&step.id) {
                duplicates.push((i, step.id.clone(), *first));
            } else {
                step_lines.insert(step.id.clone(), i);
            }
        }
        for (i, id, first) in duplicates {
            let first = self.step_line(first);
            self.push(
                Diagnostic::error("plan.duplicate-step", format!("duplicate step id `{id}`"))
                    .at(self.value_span(&format!("/steps/{i}/id")))
                    .help(format!(
                        "step ids are unique: `{id}` is already used on line {first}; rename one of them"
                    )),
            );
        }

        let mut earlier: IndexMap<String, BTreeSet<String>> = IndexMap::new();
        let mut steps = Vec::new();
        for (i, step) in self.raw.steps.iter().enumerate() {
            let base = format!("/steps/{i}");
            let resolved = match &step.steps {
                Some(inner) => self.check_flow(
                    step,
                    inner,
                    &base,
                    providers,
                    guard,
                    defaults,
                    &earlier,
                    &step_lines,
                ),
                None => self.check_step(
                    step,
                    &base,
                    providers,
                    guard,
                    defaults,
                    &earlier,
                    &step_lines,
                    None,
                ),
            };
            if let Some(resolved) = resolved {
                steps.push(resolved);
            }
            // A name that cannot be read back is reported once, where it is saved; later steps
            // then read it as it should have been written.
            let mut saved: BTreeSet<String> = step.save.keys().map(|k| identifier_for(k)).collect();
            saved.extend(STEP_FIELDS.iter().map(|s| (*s).to_owned()));
            if step.steps.is_some() {
                saved.extend(flow::FLOW_FIELDS.iter().map(|s| (*s).to_owned()));
            }
            earlier.entry(step.id.clone()).or_insert(saved);
        }
        steps
    }

    #[allow(clippy::too_many_arguments)]
    fn check_step(
        &mut self,
        step: &raw::Step,
        base: &str,
        providers: &IndexMap<String, model::Provider>,
        guard: &model::Guard,
        defaults: &(Duration, raw::OnError, RetryPolicy),
        earlier: &IndexMap<String, BTreeSet<String>>,
        step_lines: &HashMap<String, usize>,
        inherited: Option<&Loop>,
    ) -> Option<model::Step> {
        // Provider and action.
        let provider = match providers.get(&step.provider) {
            Some(p) => Some(p),
            // The schema rejected the provider: already said.
            None if self.taken_out(&child("/providers", &step.provider)) => None,
            None => {
                let names: Vec<&str> = providers.keys().map(String::as_str).collect();
                let help = match did_you_mean(&step.provider, names.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if names.is_empty() => "declare it under `providers:`".to_owned(),
                    None => format!("declared providers: {}", code_list(&names)),
                };
                self.push(
                    Diagnostic::error(
                        "plan.unknown-provider",
                        format!(
                            "step `{}` uses unknown provider `{}`",
                            step.id, step.provider
                        ),
                    )
                    .at(self.value_span(&child(base, "provider")))
                    .help(help),
                );
                None
            }
        };
        let action = provider.and_then(|p| {
            let found = p.kind.action(&step.action);
            if found.is_none() {
                let names: Vec<&str> = p.kind.actions().iter().map(|a| a.name).collect();
                let elsewhere = ProviderKind::ALL.into_iter().find(|k| {
                    *k != p.kind && k.action(&step.action).is_some() && step.action != "request"
                });
                let help = match (elsewhere, did_you_mean(&step.action, names.iter().copied())) {
                    (Some(other), _) => format!(
                        "`{}` is an action of {} providers; {} actions: {}",
                        step.action,
                        other.name(),
                        p.kind.name(),
                        code_list(&names)
                    ),
                    (None, Some(best)) => format!("did you mean `{best}`?"),
                    (None, None) => format!("{} actions: {}", p.kind.name(), code_list(&names)),
                };
                self.push(
                    Diagnostic::error(
                        "plan.unknown-action",
                        format!(
                            "`{}` is not an action of {} provider `{}`",
                            step.action,
                            p.kind.name(),
                            step.provider
                        ),
                    )
                    .at(self.value_span(&child(base, "action")))
                    .help(help),
                );
            }
            found
        });
        if let (Some(p), Some(a)) = (provider, action)
            && a.needs_user
            && matches!(
                p.config,
                raw::Provider::GenesysCloud(raw::GenesysProvider {
                    auth: raw::GenesysAuth::ClientCredentials { .. },
                    ..
                })
            )
        {
            let alternative = match a.name {
                "calls.create" => "use `calls.create_for_user` with a `user_id`",
                _ => "use `conversations.disconnect`",
            };
            self.push(
                Diagnostic::error(
                    "plan.needs-user",
                    format!(
                        "`{}` needs a user context, but provider `{}` uses client credentials",
                        a.name, step.provider
                    ),
                )
                .at(self.value_span(&child(base, "action")))
                .label("Genesys answers 400 `not.a.user` to a client-credentials token")
                .help(format!(
                    "{alternative}, or give the provider a user token (`auth: {{ grant: bearer, token: \"{{{{ secrets.user_token }}}}\" }}`)"
                )),
            );
        }

        // for_each, `as`, concurrency: the step's own, or its flow's.
        let looped = match inherited {
            Some(l) => l.clone(),
            None => self.loop_of(step, base, earlier, step_lines),
        };
        let item = looped
            .declared
            .then_some((looped.name.as_str(), looped.fields.as_ref()));
        let scope = Scope {
            response: false,
            steps: Some(earlier),
            step_lines,
            item,
            any_name: looped.unnamed,
        };
        let response_scope = Scope {
            response: true,
            ..scope
        };
        if let Some(condition) = &step.if_ {
            self.expression(condition, &child(base, "if"), &scope);
        }
        for (i, e) in step.expect.iter().enumerate() {
            self.expression(
                e,
                &child(&child(base, "expect"), &i.to_string()),
                &response_scope,
            );
        }
        for (name, value) in &step.save {
            let pointer = child(&child(base, "save"), name);
            if STEP_FIELDS.contains(&name.as_str()) {
                self.push(
                    Diagnostic::error(
                        "plan.save-name",
                        format!("`{name}` is set by callplan for every step and cannot be saved"),
                    )
                    .at(self.key_span(&pointer))
                    .help(format!(
                        "`steps.{}.{name}` is the step's own result; save under another name",
                        step.id
                    )),
                );
            } else if !is_identifier(name) {
                self.push(
                    Diagnostic::error(
                        "plan.save-name",
                        format!("`{name}` cannot be read back as `steps.{}.{name}`", step.id),
                    )
                    .at(self.key_span(&pointer))
                    .help(format!(
                        "saved names are letters, digits and `_`, not starting with a digit: `{}`",
                        identifier_for(name)
                    )),
                );
            }
            let names = self.template(value, &pointer, &response_scope);
            if names.iter().any(|n| n.starts_with("secrets.")) {
                self.push(
                    Diagnostic::warning("plan.secret-leak", format!("saved value `{name}` reads a secret"))
                        .at(self.value_span(&pointer))
                        .help("saved values are meant for later steps and reports; read `secrets` where it is needed instead"),
                );
            }
        }
        let with_pointer = child(base, "with");
        for (key, value) in &step.with {
            self.walk_templates(value, &child(&with_pointer, key), &scope);
        }

        // The teardown as an ordinary hang-up.
        if step.always && action.is_some_and(|a| a.name == crate::provider::genesys::TEARDOWN) {
            self.push(
                Diagnostic::warning(
                    "plan.teardown-hang-up",
                    format!(
                        "step `{}` hangs up with Genesys's teardown for stuck conversations",
                        step.id
                    ),
                )
                .at(self.value_span(&child(base, "action")))
                .label("\"not intended to be the normal way of ending interactions\" (Genesys)")
                .help(format!(
                    "use `action: {}` (the customer's participant, ended the normal way; works with client credentials)",
                    crate::provider::genesys::HANG_UP
                )),
            );
        }
        // `with:` against the catalogue.
        if let Some(action) = action
            && !self.taken_out(&child(base, "with"))
        {
            self.inline_items = looped
                .inline
                .clone()
                .map(|items| (looped.name.clone(), items));
            self.check_with(step, action, base, guard);
            self.inline_items = None;
        }

        // Timeouts and retries.
        let timeout = step
            .timeout
            .as_ref()
            .and_then(|t| self.duration(t, &child(base, "timeout"), limits::TIMEOUT))
            .unwrap_or(defaults.0);
        let retry = match &step.retry {
            Some(r) => self.retry(r, &child(base, "retry"), &defaults.2),
            None => defaults.2.clone(),
        };
        if action.is_some_and(|a| a.kind == ActionKind::Wait) {
            let wait = match step.with.get("timeout") {
                Some(Value::String(t)) => crate::duration::parse(t, limits::WITH).ok(),
                Some(_) => None,
                None => Some(crate::provider::WAIT_TIMEOUT),
            };
            let unknown =
                self.taken_out(&child(base, "timeout")) || self.taken_out("/defaults/timeout");
            if let Some(wait) = wait.filter(|w| *w > timeout && !unknown) {
                let with_timeout = child(&child(base, "with"), "timeout");
                let at = if step.timeout.is_some() {
                    self.value_span(&child(base, "timeout"))
                } else if self.map.exact(&with_timeout).is_some() {
                    self.value_span(&with_timeout)
                } else {
                    self.value_span(&child(base, "action"))
                };
                self.push(
                    Diagnostic::warning(
                        "plan.wait-timeout",
                        format!(
                            "step `{}` times out after {} but waits up to {} for the call",
                            step.id,
                            human(timeout),
                            human(wait)
                        ),
                    )
                    .at(at)
                    .help(format!(
                        "set the step's `timeout:` above {} (the step timeout includes the waiting)",
                        human(wait)
                    )),
                );
            }
        }

        Some(model::Step {
            id: step.id.clone(),
            name: step.name.clone().unwrap_or_else(|| step.id.clone()),
            provider: step.provider.clone(),
            action: action?,
            with: step.with.clone(),
            condition: step.if_.clone(),
            for_each: if inherited.is_some() {
                None
            } else {
                looped.source
            },
            item_name: looped.name,
            concurrency: step.concurrency.unwrap_or(1),
            expect: step.expect.clone(),
            save: step.save.clone(),
            on_error: step.on_error.unwrap_or(defaults.1),
            retry,
            timeout,
            always: step.always,
            flow: None,
        })
    }

    /// A step's `for_each`, `as` and `concurrency`.
    fn loop_of(
        &mut self,
        step: &raw::Step,
        base: &str,
        earlier: &IndexMap<String, BTreeSet<String>>,
        step_lines: &HashMap<String, usize>,
    ) -> Loop {
        let name = step.as_.clone().unwrap_or_else(|| "item".to_owned());
        let mut fields: Option<BTreeSet<String>> = None;
        let pointer = child(base, "for_each");
        let source = step
            .for_each
            .as_ref()
            .and_then(|f| self.for_each(f, &pointer, &name, &mut fields));
        if let Some(raw::ForEach::Saved(template)) = &step.for_each {
            let scope = Scope {
                response: false,
                steps: Some(earlier),
                step_lines,
                item: None,
                any_name: false,
            };
            self.template(template, &pointer, &scope);
        }
        // A `for_each` the schema rejected was written: the step loops over unknown items.
        let rejected = self.taken_out(&pointer);
        if step.for_each.is_none() && !rejected {
            for (key, set) in [
                ("as", step.as_.is_some()),
                ("concurrency", step.concurrency.is_some()),
            ] {
                if set {
                    self.push(
                        Diagnostic::error(
                            "plan.needs-for-each",
                            format!("`{key}` only applies to a step with `for_each`"),
                        )
                        .at(self.key_span(&child(base, key)))
                        .help("add `for_each:` or remove it"),
                    );
                }
            }
        }
        if RESERVED.contains(&name.as_str()) {
            self.push(
                Diagnostic::error(
                    "plan.reserved-name",
                    format!("`{name}` is a reserved name and cannot name the loop item"),
                )
                .at(self.value_span(&child(base, "as")))
                .help("pick another name, e.g. `row` or `contact`"),
            );
        }
        let inline = match &step.for_each {
            Some(raw::ForEach::Inline(items)) => Some(items.clone()),
            _ => None,
        };
        Loop {
            declared: step.for_each.is_some() || rejected,
            source,
            unnamed: self.taken_out(&child(base, "as")),
            name,
            fields,
            inline,
        }
    }

    fn for_each(
        &mut self,
        f: &raw::ForEach,
        pointer: &str,
        item_name: &str,
        fields: &mut Option<BTreeSet<String>>,
    ) -> Option<ForEachSource> {
        let (file, key, make): (&str, &str, fn(std::path::PathBuf) -> ForEachSource) = match f {
            raw::ForEach::Inline(items) => {
                // Fields any item has (an item without one fails when it runs), or none when the
                // items are plain values.
                let mappings = items.iter().filter(|i| i.is_object()).count();
                *fields = if mappings == items.len() && !items.is_empty() {
                    Some(
                        items
                            .iter()
                            .filter_map(Value::as_object)
                            .flat_map(|m| m.keys().cloned())
                            .collect(),
                    )
                } else if mappings == 0 && !items.is_empty() {
                    // Plain values have no fields at all.
                    Some(BTreeSet::new())
                } else {
                    // Mixed items: which fields exist depends on the item.
                    None
                };
                if items.is_empty() {
                    self.push(
                        Diagnostic::warning("plan.for-each-empty", "`for_each` has no items")
                            .at(self.value_span(pointer))
                            .help("the step never runs; remove it or give it items"),
                    );
                }
                // Where each item is written, for the reports to point at it.
                let lines = (0..items.len())
                    .map(|k| {
                        self.value_span(&child(pointer, &k.to_string()))
                            .map_or(0, |s| s.line)
                    })
                    .collect();
                return Some(ForEachSource::Inline {
                    items: items.clone(),
                    file: self.source.path.clone(),
                    lines,
                });
            }
            raw::ForEach::File(raw::ForEachFile::Csv(p)) => (p, "csv", ForEachSource::Csv),
            raw::ForEach::File(raw::ForEachFile::Json(p)) => (p, "json", ForEachSource::Json),
            raw::ForEach::File(raw::ForEachFile::Jsonl(p)) => (p, "jsonl", ForEachSource::Jsonl),
            raw::ForEach::Saved(template) => {
                // What the list holds is known only when it is rendered.
                *fields = None;
                if !template::is_template(template) {
                    self.push(
                        Diagnostic::error(
                            "plan.for-each-saved",
                            format!("`for_each: {template}` is a string, not a list"),
                        )
                        .at(self.value_span(pointer))
                        .help("write the items as a list, name a file (`{csv: contacts.csv}`), or a list an earlier step saved: `\"{{ steps.lookup.contacts }}\"`"),
                    );
                    return None;
                }
                return Some(ForEachSource::Saved(template.clone()));
            }
        };
        let file_pointer = child(pointer, key);
        let path = self.source.dir().join(file);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                self.push(
                    Diagnostic::error("plan.for-each-file", format!("`{file}` is not a file"))
                        .at(self.value_span(&file_pointer))
                        .help("paths are relative to the plan's directory"),
                );
                return None;
            }
            Err(e) => {
                self.push(
                    Diagnostic::error(
                        "plan.for-each-file",
                        format!("cannot read `{file}`: {}", super::io_reason(&e)),
                    )
                    .at(self.value_span(&file_pointer))
                    .help(format!(
                        "paths are relative to the plan's directory; looked for {}",
                        path.display()
                    )),
                );
                return None;
            }
        }
        if key == "json" {
            // The first 4 KiB are enough to see how the file starts.
            let starts_with_array = std::fs::File::open(&path)
                .ok()
                .and_then(|f| {
                    use std::io::Read as _;
                    let mut head = Vec::with_capacity(4096);
                    f.take(4096).read_to_end(&mut head).ok()?;
                    head.into_iter()
                        .find(|b| !b.is_ascii_whitespace() && ![0xef, 0xbb, 0xbf].contains(b))
                })
                .is_some_and(|b| b == b'[');
            if !starts_with_array {
                self.push(
                    Diagnostic::error(
                        "plan.for-each-file",
                        format!("`{file}` does not hold a JSON array"),
                    )
                    .at(self.value_span(&file_pointer))
                    .help("`{json: file}` reads an array of items; for one JSON value per line use `{jsonl: file}`"),
                );
            }
        }
        if key == "csv" {
            // A header row is short; the cap keeps a FIFO or a device from being read for ever.
            let header = std::fs::File::open(&path)
                .map_err(csv::Error::from)
                .and_then(|f| {
                    csv::Reader::from_reader(std::io::Read::take(f, 1024 * 1024))
                        .headers()
                        .cloned()
                });
            match header {
                Ok(headers) => {
                    let columns: Vec<String> =
                        headers.iter().map(|h| h.trim().to_owned()).collect();
                    let names: BTreeSet<String> = columns.iter().cloned().collect();
                    let problem = if columns.is_empty() {
                        Some(format!("`{file}` is empty: it has no header row"))
                    } else if names.contains("") {
                        Some(format!(
                            "the header row of `{file}` has an empty column name"
                        ))
                    } else if names.len() < columns.len() {
                        let twice = columns
                            .iter()
                            .find(|c| columns.iter().filter(|d| d == c).count() > 1)
                            .cloned()
                            .unwrap_or_default();
                        Some(format!(
                            "the header row of `{file}` names column `{twice}` twice"
                        ))
                    } else {
                        None
                    };
                    match problem {
                        Some(message) => self.push(
                            Diagnostic::error("plan.for-each-file", message)
                                .at(self.value_span(&file_pointer))
                                .help(format!(
                                    "the first row names every column once; templates read them as `{item_name}.<name>`"
                                )),
                        ),
                        None => *fields = Some(names),
                    }
                }
                Err(e) => self.push(
                    Diagnostic::error(
                        "plan.for-each-file",
                        format!("cannot read the header row of `{file}`: {e}"),
                    )
                    .at(self.value_span(&file_pointer)),
                ),
            }
        }
        Some(make(path))
    }

    /// `with:` keys and literal values against the action's parameters.
    fn check_with(
        &mut self,
        step: &raw::Step,
        action: &'static ActionSpec,
        base: &str,
        guard: &model::Guard,
    ) {
        let with_pointer = child(base, "with");
        let names: Vec<&str> = action.params.iter().map(|p| p.name).collect();
        // Parameters a misspelled key was meant to be: not reported missing as well.
        let mut meant: Vec<&str> = Vec::new();
        for (key, value) in &step.with {
            let pointer = child(&with_pointer, key);
            let Some(param) = action.param(key) else {
                let best = did_you_mean(key, names.iter().copied());
                meant.extend(best);
                let help = match best {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("`{}` takes: {}", action.name, code_list(&names)),
                };
                self.push(
                    Diagnostic::error(
                        "plan.unknown-parameter",
                        format!("`{}` has no parameter `{key}`", action.name),
                    )
                    .at(self.key_span(&pointer))
                    .help(help),
                );
                continue;
            };
            self.check_value(param, value, &pointer, action, guard);
        }
        if let Some(Value::Object(headers)) = step.with.get("headers") {
            for (name, value) in headers {
                let is_credential = CREDENTIAL_HEADERS
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name));
                if let (true, Value::String(v)) = (is_credential, value) {
                    let pointer = child(&child(&with_pointer, "headers"), name);
                    if template::is_template(v) {
                        self.secret_source(v, &pointer);
                    } else {
                        self.push(literal_secret(self.value_span(&pointer)));
                    }
                }
            }
        }
        for param in action.params.iter().filter(|p| p.required) {
            if !step.with.contains_key(param.name) && !meant.contains(&param.name) {
                let at = self.missing_at(step, base);
                self.push(
                    Diagnostic::error(
                        "plan.missing-parameter",
                        format!("`{}` needs `{}` in `with:`", action.name, param.name),
                    )
                    .at(at)
                    .help(format!(
                        "`{}`: {} ({})",
                        param.name,
                        param.doc,
                        param.ty.describe()
                    )),
                );
            }
        }
        let set: Vec<&str> = action
            .exclusive
            .iter()
            .copied()
            .filter(|k| step.with.contains_key(*k))
            .collect();
        if set.len() > 1 {
            self.push(
                Diagnostic::error(
                    "plan.exclusive-parameters",
                    format!(
                        "`{}` takes only one of {}; found {}",
                        action.name,
                        code_list(action.exclusive),
                        code_list(&set)
                    ),
                )
                .at(self.key_span(&child(&with_pointer, set[1])))
                .help("set only one of them: the provider refuses a request with several"),
            );
        } else if set.is_empty()
            && action.destination_required
            && !action.exclusive.iter().any(|k| meant.contains(k))
        {
            self.push(
                Diagnostic::error(
                    "plan.missing-parameter",
                    format!(
                        "`{}` needs one of {} in `with:`",
                        action.name,
                        code_list(action.exclusive)
                    ),
                )
                .at(self.missing_at(step, base))
                .help(format!(
                    "e.g. `{}`: {}",
                    action.exclusive[0],
                    action
                        .param(action.exclusive[0])
                        .map(|p| p.doc)
                        .unwrap_or_default()
                )),
            );
        }
    }

    /// Where a missing `with:` parameter is reported: at `with:`, or at `action:` when the step
    /// has no `with:` at all.
    fn missing_at(&self, step: &raw::Step, base: &str) -> Option<Span> {
        if step.with.is_empty() {
            self.key_span(&child(base, "action"))
        } else {
            self.key_span(&child(base, "with"))
        }
    }

    /// A literal value against its parameter type (templated strings are checked when rendered).
    fn check_value(
        &mut self,
        param: &ParamSpec,
        value: &Value,
        pointer: &str,
        action: &ActionSpec,
        guard: &model::Guard,
    ) {
        let dialed = action.dials.contains(&param.name);
        if let Value::String(s) = value
            && template::is_template(s)
        {
            if dialed {
                self.dialed_template(s, pointer, guard);
            }
            return;
        }
        let ok = match (param.ty, value) {
            (ParamType::Any, _) => true,
            (ParamType::String, Value::String(_)) => true,
            // Numbers and booleans are sent as their text where a string is expected.
            (ParamType::String, Value::Number(_) | Value::Bool(_)) => param.location != In::Body,
            (ParamType::Integer { .. }, Value::Number(n)) if n.is_i64() || n.is_u64() => {
                if !n.as_i64().is_some_and(|n| param.ty.admits(n)) {
                    self.push(
                        Diagnostic::error(
                            "plan.parameter-value",
                            format!(
                                "`{}` of `{}` must be {}, found {n}",
                                param.name,
                                action.name,
                                param.ty.describe()
                            ),
                        )
                        .at(self.value_span(pointer))
                        .help(format!("`{}`: {}", param.name, param.doc)),
                    );
                }
                true
            }
            (ParamType::Boolean, Value::Bool(_)) => true,
            (ParamType::Object, Value::Object(_)) => true,
            (ParamType::List, Value::Array(_)) => true,
            (ParamType::StringList, Value::Array(items)) => items.iter().all(|i| i.is_string()),
            (ParamType::Phone, Value::String(s)) => {
                self.phone(s, pointer, dialed.then_some(guard));
                true
            }
            (ParamType::PhoneList, Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let item_pointer = child(pointer, &i.to_string());
                    match item {
                        Value::String(s) if template::is_template(s) => {
                            if dialed {
                                self.dialed_template(s, &item_pointer, guard);
                            }
                        }
                        Value::String(s) => self.phone(s, &item_pointer, dialed.then_some(guard)),
                        other => self.push(
                            Diagnostic::error(
                                "plan.parameter-type",
                                format!(
                                    "`{}` items must be phone numbers, found {}",
                                    param.name,
                                    kind_of(other)
                                ),
                            )
                            .at(self.value_span(&item_pointer))
                            .help("quote numbers: `\"+13175550100\"`"),
                        ),
                    }
                }
                true
            }
            (ParamType::Duration, Value::String(s)) => {
                self.duration(&raw::DurationText(s.clone()), pointer, limits::WITH);
                true
            }
            (ParamType::OneOf(options), Value::String(s)) => {
                if !options.contains(&s.as_str()) {
                    let help = suggest(s, options.iter().copied())
                        .unwrap_or_else(|| format!("expected {}", param.ty.describe()));
                    self.push(
                        Diagnostic::error(
                            "plan.parameter-value",
                            format!(
                                "`{s}` is not a valid `{}` for `{}`",
                                param.name, action.name
                            ),
                        )
                        .at(self.value_span(pointer))
                        .help(help),
                    );
                }
                true
            }
            _ => false,
        };
        if !ok {
            let hint = match (param.ty, value) {
                (ParamType::Phone | ParamType::String, Value::Number(_)) => {
                    "quote it: YAML reads unquoted digits as a number".to_owned()
                }
                (ParamType::Duration, Value::Number(n)) => format!("durations need a unit: `{n}s`"),
                _ => format!("`{}`: {}", param.name, param.doc),
            };
            self.push(
                Diagnostic::error(
                    "plan.parameter-type",
                    format!(
                        "`{}` of `{}` must be {}, found {}",
                        param.name,
                        action.name,
                        param.ty.describe(),
                        kind_of(value)
                    ),
                )
                .at(self.value_span(pointer))
                .help(hint),
            );
        }
        if param.name == "path"
            && param.location == In::Control
            && let Value::String(s) = value
            && !s.starts_with('/')
        {
            self.push(
                Diagnostic::error(
                    "plan.parameter-value",
                    format!("request path `{s}` must start with `/`"),
                )
                .at(self.value_span(pointer))
                .help("paths are relative to the provider's API base, e.g. `/api/v2/users/me`"),
            );
        }
    }

    /// A literal phone number: valid E.164, and allowed by the guard when the action dials it.
    fn phone(&mut self, s: &str, pointer: &str, guard: Option<&model::Guard>) {
        if !crate::phone::is_e164(s) {
            self.push(phone_error(s, self.value_span(pointer)));
            return;
        }
        if let Some(guard) = guard {
            self.guard_refusal(guard, s, None, pointer);
        }
    }

    /// Reports a dialed number the guard refuses; `origin` names where the number came from.
    fn guard_refusal(
        &mut self,
        guard: &model::Guard,
        number: &str,
        origin: Option<&str>,
        pointer: &str,
    ) {
        if self.guard_refuses_all || self.guard_unknown {
            return;
        }
        let Some(why) = guard.refusal(number) else {
            return;
        };
        let message = match origin {
            Some(origin) => format!("the guard refuses to dial {number} ({origin})"),
            None => format!("the guard refuses to dial {number}"),
        };
        self.push(
            Diagnostic::error("guard.refused", message)
                .at(self.value_span(pointer))
                .label(why)
                .help("dial a number the guard allows, or change `guard:`"),
        );
    }

    /// A dialed number written as `{{ vars.x }}` or `{{ item.field }}` (optionally `| e164`):
    /// its values are known now, from `vars` or an inline `for_each`, so they are checked as
    /// literal numbers would be.
    fn dialed_template(&mut self, text: &str, pointer: &str, guard: &model::Guard) {
        let Some(body) = text
            .trim()
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
            .map(str::trim)
        else {
            return;
        };
        let (path, normalized) = match body.split_once('|') {
            Some((path, filter)) if filter.trim() == "e164" => (path.trim(), true),
            Some(_) => return,
            None => (body, false),
        };
        if !path.split('.').all(is_identifier) {
            return;
        }
        let mut values: Vec<(String, Value)> = Vec::new();
        if let Some(rest) = path.strip_prefix("vars.") {
            if let Some(v) = lookup(&self.raw.vars, rest) {
                values.push((format!("vars.{rest}"), v.clone()));
            }
        } else if let Some((name, items)) = &self.inline_items {
            let rest = path.strip_prefix(name.as_str());
            if let Some(rest) = rest.filter(|r| r.is_empty() || r.starts_with('.')) {
                for (i, item) in items.iter().enumerate() {
                    let v = if rest.is_empty() {
                        Some(item)
                    } else {
                        item.as_object().and_then(|m| lookup_map(m, &rest[1..]))
                    };
                    if let Some(v) = v {
                        values.push((format!("for_each item {}", i + 1), v.clone()));
                    }
                }
            }
        }
        for (origin, value) in values {
            let number = match &value {
                Value::String(s) if normalized => crate::phone::normalize(s),
                Value::String(s) => crate::phone::is_e164(s).then(|| s.clone()),
                _ => None,
            };
            let Some(number) = number else {
                // A var that looks like a phone number was already judged where it is written.
                let written = origin
                    .strip_prefix("vars.")
                    .and_then(|p| self.map.exact(&format!("/vars/{}", p.replace('.', "/"))))
                    .map(|n| self.source.slice(n.value).trim_matches(['"', '\'']));
                if written.is_some_and(looks_like_phone) {
                    continue;
                }
                let shown = match &value {
                    Value::String(s) => format!("`{s}`"),
                    other => kind_of(other),
                };
                let help = match &value {
                    Value::String(s) if !normalized && crate::phone::normalize(s).is_some() => {
                        format!(
                            "write it in E.164 (`{}`), or normalize it here with `| e164`",
                            crate::phone::normalize(s).unwrap_or_default()
                        )
                    }
                    Value::Number(_) => "quote phone numbers in YAML, with their `+`".to_owned(),
                    _ => {
                        "dialed numbers are E.164: `+`, country code, number (e.g. `+13175550100`)"
                            .to_owned()
                    }
                };
                self.push(
                    Diagnostic::error(
                        "plan.phone",
                        format!("{origin} is {shown}, not a valid E.164 phone number"),
                    )
                    .at(self.value_span(pointer))
                    .label("dialed here")
                    .help(help),
                );
                continue;
            };
            self.guard_refusal(guard, &number, Some(&origin), pointer);
        }
    }

    /// Checks every template string inside a value.
    fn walk_templates(&mut self, value: &Value, pointer: &str, scope: &Scope<'_>) {
        // Depth is bounded by the YAML nesting limit enforced when loading.
        match value {
            Value::String(s) => {
                self.template(s, pointer, scope);
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk_templates(item, &child(pointer, &i.to_string()), scope);
                }
            }
            Value::Object(m) => {
                for (k, v) in m {
                    self.walk_templates(v, &child(pointer, k), scope);
                }
            }
            _ => {}
        }
    }

    /// Compiles a template or an expression once per distinct text.
    fn compile(&mut self, text: &str, expression: bool) -> Result<template::Names, Problem> {
        let key = (expression, text.to_owned());
        if let Some(known) = self.compiled.get(&key) {
            return known.clone();
        }
        let result = if expression {
            template::check_expression(&self.env, text)
        } else {
            template::check_template(&self.env, text)
        };
        self.compiled.insert(key, result.clone());
        result
    }

    /// Checks a template; returns the names it reads (none for plain text or a broken template).
    fn template(&mut self, text: &str, pointer: &str, scope: &Scope<'_>) -> template::Names {
        if !template::is_template(text) {
            return template::Names::new();
        }
        let result = self.compile(text, false);
        self.template_result(result, text, pointer, scope, "template")
    }

    fn expression(&mut self, text: &str, pointer: &str, scope: &Scope<'_>) {
        let body = text.trim();
        if body.starts_with("{{") && body.ends_with("}}") {
            self.push(
                Diagnostic::error(
                    "template.expression-braces",
                    "expressions are written without `{{ }}`",
                )
                .at(self.value_span(pointer))
                .help(format!(
                    "write `{}`",
                    body.trim_start_matches("{{").trim_end_matches("}}").trim()
                )),
            );
            return;
        }
        let result = self.compile(text, true);
        self.template_result(result, text, pointer, scope, "expression");
    }

    fn template_result(
        &mut self,
        result: Result<template::Names, Problem>,
        text: &str,
        pointer: &str,
        scope: &Scope<'_>,
        what: &str,
    ) -> template::Names {
        // Positions are looked up only when there is something to report.
        let locate = |needle: &str| -> Option<Span> {
            self.map
                .get(pointer)
                .map(|n| self.source.find_in(n.value, needle))
        };
        match result {
            Err(Problem::Syntax { message, snippet }) => {
                let at = snippet
                    .as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .and_then(&locate)
                    .or_else(|| self.value_span(pointer));
                let help = if message.contains("expected end of variable block") {
                    "close `{{` with `}}`".to_owned()
                } else if what == "expression" && text.contains('=') && !text.contains("==") {
                    "compare with `==`; `=` is not an operator in expressions".to_owned()
                } else {
                    format!("the {what} is `{}`", one_line(text))
                };
                self.push(
                    Diagnostic::error("template.syntax", format!("invalid {what}: {message}"))
                        .at(at)
                        .help(help),
                );
            }
            Err(Problem::Unknown { message, name }) => {
                let at = name
                    .as_deref()
                    .and_then(&locate)
                    .or_else(|| self.value_span(pointer));
                let known: Vec<&str> = FILTERS.to_vec();
                let help = name
                    .as_deref()
                    .and_then(|n| suggest(n.trim_start_matches('|').trim(), known.iter().copied()))
                    .unwrap_or_else(|| {
                        "see the filters and functions in docs/plan-format.md".to_owned()
                    });
                let message = match name.as_deref().map(|n| n.trim_start_matches('|').trim()) {
                    Some(n) if !n.is_empty() => {
                        let kind = message.split(':').next().unwrap_or("unknown name");
                        format!("{kind} `{n}`")
                    }
                    _ => message,
                };
                self.push(
                    Diagnostic::error("template.unknown", format!("invalid {what}: {message}"))
                        .at(at)
                        .help(help),
                );
            }
            Ok(names) => {
                for name in &names {
                    if let Some((message, help)) = self.resolve_name(name, scope) {
                        let first = name.split('.').next().unwrap_or(name);
                        let at = locate(name)
                            .filter(|s| s.len > 1 || name.len() == 1)
                            .or_else(|| locate(first))
                            .or_else(|| self.value_span(pointer));
                        self.push(
                            Diagnostic::error("template.undefined", message)
                                .at(at)
                                .maybe_help(help),
                        );
                    }
                }
                return names;
            }
        }
        template::Names::new()
    }

    /// Whether a dotted name read by a template exists where it is read. Returns the message and a
    /// hint when it does not.
    fn resolve_name(&self, name: &str, scope: &Scope<'_>) -> Option<(String, Option<String>)> {
        let mut parts = name.split('.');
        let root = parts.next().unwrap_or_default();
        let field = parts.next();
        let sub = parts.next();
        let mut roots: Vec<&str> = vec!["vars", "secrets", "run"];
        if scope.steps.is_some() {
            roots.push("steps");
        }
        if scope.response {
            roots.push("response");
        }
        if let Some((item, _)) = scope.item {
            if !roots.contains(&item) {
                roots.push(item);
            }
            roots.push("loop");
        }
        // A name with a fixed set of fields: `None` when `field` is one of them.
        let check_field = |what: &str, known: Vec<&str>, hint_empty: &str| {
            let field = field?;
            if known.contains(&field) {
                return None;
            }
            let help = match did_you_mean(field, known.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None if known.is_empty() => hint_empty.to_owned(),
                None => format!("known: {}", code_list(&known)),
            };
            Some((format!("undefined {what} `{field}`"), Some(help)))
        };
        // A name whose declaration the schema rejected is not reported again where it is read.
        match root {
            "vars" | "secrets"
                if field.is_some_and(|f| self.taken_out(&child(&format!("/{root}"), f))) =>
            {
                None
            }
            "vars" => check_field(
                "variable",
                self.raw.vars.keys().map(String::as_str).collect(),
                "declare it under `vars:`",
            ),
            "secrets" => check_field(
                "secret",
                self.raw.secrets.keys().map(String::as_str).collect(),
                "declare it under `secrets:`",
            ),
            "run" => check_field("run field", RUN_FIELDS.to_vec(), ""),
            "response" if scope.response => {
                check_field("response field", RESPONSE_FIELDS.to_vec(), "")
            }
            "response" => Some((
                "`response` is only defined in `expect` and `save`".to_owned(),
                Some(
                    "save the value in the step that received it, then read `steps.<id>.<name>`"
                        .to_owned(),
                ),
            )),
            "loop" if scope.item.is_some() => check_field("loop field", LOOP_FIELDS.to_vec(), ""),
            "steps" => {
                let Some(earlier) = scope.steps else {
                    return Some((
                        "`steps` is not defined here".to_owned(),
                        Some("step results can be read only inside steps".to_owned()),
                    ));
                };
                let id = field?;
                if self.pruned.step(id) {
                    return None;
                }
                match earlier.get(id) {
                    Some(_) if self.pruned.saves_unknown(id) => None,
                    Some(saved) => {
                        let field = sub?;
                        if saved.contains(field) {
                            return None;
                        }
                        let known: Vec<&str> = saved.iter().map(String::as_str).collect();
                        let help = suggest(field, known.iter().copied()).unwrap_or_else(|| {
                            format!(
                                "step `{id}` provides {}; add `{field}` to its `save:`",
                                code_list(&known)
                            )
                        });
                        Some((format!("step `{id}` does not save `{field}`"), Some(help)))
                    }
                    None => {
                        if let Some(&index) = scope.step_lines.get(id) {
                            let line = self.step_line(index);
                            Some((
                                format!("step `{id}` is not defined before this step"),
                                Some(format!(
                                    "`{id}` is defined on line {line}; a step can only read the steps before it"
                                )),
                            ))
                        } else {
                            let known: Vec<&str> = earlier.keys().map(String::as_str).collect();
                            let help = suggest(id, known.iter().copied()).or_else(|| {
                                (!known.is_empty())
                                    .then(|| format!("earlier steps: {}", code_list(&known)))
                            });
                            Some((format!("unknown step `{id}`"), help))
                        }
                    }
                }
            }
            r if scope.item.is_some_and(|(item, _)| item == r) => {
                let (_, fields) = scope.item?;
                let (field, fields) = (field?, fields?);
                if fields.contains(field) {
                    return None;
                }
                let known: Vec<&str> = fields.iter().map(String::as_str).collect();
                let help = match did_you_mean(field, known.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if known.is_empty() => {
                        format!("the items are plain values: write `{{{{ {r} }}}}`")
                    }
                    None => format!("`{r}` has {}", code_list(&known)),
                };
                Some((format!("`{r}` has no field `{field}`"), Some(help)))
            }
            _ if scope.any_name => None,
            other => {
                let help = match did_you_mean(other, roots.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if scope.item.is_some() => format!(
                        "this step's loop item is `{}`; to call it `{other}`, add `as: {other}`",
                        scope.item.map(|(i, _)| i).unwrap_or("item")
                    ),
                    None => format!("templates here can read {}", code_list(&roots)),
                };
                Some((format!("undefined name `{other}`"), Some(help)))
            }
        }
    }
}

/// Headers whose values are credentials.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "cookie",
];

/// Filters and functions of the environment, for "did you mean".
const FILTERS: &[&str] = &[
    "e164",
    "tojson",
    "b64encode",
    "upper",
    "lower",
    "trim",
    "default",
    "length",
    "replace",
    "join",
    "first",
    "last",
    "int",
    "float",
    "string",
    "round",
    "abs",
    "title",
    "capitalize",
    "uuid",
    "now",
    "range",
    "dict",
];

fn literal_secret(span: Option<Span>) -> Diagnostic {
    Diagnostic::error(
        "plan.literal-secret",
        "a credential is written in the plan in plain text",
    )
    .at(span)
    .label("this value would be committed to git and shown in reviews")
    .help(
        "declare it under `secrets:` (e.g. `my_secret: { env: MY_SECRET }`) and write `{{ secrets.my_secret }}` here",
    )
}

fn phone_error(s: &str, span: Option<Span>) -> Diagnostic {
    let help = match crate::phone::normalize(s) {
        Some(normalized) if normalized != s => format!("write it in E.164: `{normalized}`"),
        _ => "write numbers in E.164: `+`, country code, number, no spaces (e.g. `+13175550100`)"
            .to_owned(),
    };
    Diagnostic::error(
        "plan.phone",
        format!("`{s}` is not a valid E.164 phone number"),
    )
    .at(span)
    .help(help)
}

/// A string that starts like a phone number: `+` then a digit.
fn looks_like_phone(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next() == Some('+')
        && chars.next().is_some_and(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// A value inside `vars` by dotted path.
fn lookup<'v>(vars: &'v IndexMap<String, Value>, path: &str) -> Option<&'v Value> {
    let (first, rest) = path.split_once('.').unwrap_or((path, ""));
    let v = vars.get(first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        lookup_map(v.as_object()?, rest)
    }
}

fn lookup_map<'v>(map: &'v serde_json::Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut v = map.get(parts.next()?)?;
    for part in parts {
        v = v.as_object()?.get(part)?;
    }
    Some(v)
}

/// The identifier closest to a name: other characters become `_`.
fn identifier_for(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string `{s}`"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

fn code_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn one_line(text: &str) -> String {
    let flat = text.replace('\n', " ");
    if flat.chars().count() > 60 {
        format!("{}…", flat.chars().take(60).collect::<String>())
    } else {
        flat
    }
}
