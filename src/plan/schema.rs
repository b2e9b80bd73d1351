//! The plan's JSON Schema: generated from the raw types, committed as
//! `schemas/callplan.v1.schema.json`, and used by `check` to validate plans. Each violation is
//! turned into a located diagnostic with a hint.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::{Map, Value};

use super::raw::{RawPlan, SCHEMA_ID};
use super::source::{Source, SourceMap, child};
use crate::diagnostic::{Diagnostic, did_you_mean, suggest};

/// The committed schema, which `check` validates against (a test keeps it equal to [`generate`]).
pub const COMMITTED: &str = include_str!("../../schemas/callplan.v1.schema.json");

/// Generates the schema from the raw plan types, as pretty JSON with a trailing newline.
pub fn generate() -> String {
    generate_for::<RawPlan>(SCHEMA_ID, true)
}

/// Generates the JSON Schema (draft 2020-12) of `T` with `$id` `id`, as pretty JSON with a
/// trailing newline: doc comments written "Title\n\nDescription" give titles and descriptions.
/// `strip_nulls` drops the `null` alternatives of `Option`s, for documents (plans) that omit
/// unset keys rather than writing `null`.
pub fn generate_for<T: schemars::JsonSchema>(id: &str, strip_nulls: bool) -> String {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    if strip_nulls {
        strip_null(&mut value);
    }
    split_titles(&mut value);
    if let Value::Object(map) = &mut value {
        // `$schema` first, then `$id`, then the rest, as editors and readers expect.
        let mut ordered = Map::new();
        if let Some(s) = map.shift_remove("$schema") {
            ordered.insert("$schema".into(), s);
        }
        ordered.insert("$id".into(), Value::String(id.into()));
        ordered.extend(std::mem::take(map));
        *map = ordered;
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Optional keys are omitted, never written as `null`: drop the `null` alternatives schemars adds
/// for `Option`, so that editors offer the real type and errors name it.
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            let is_null = |v: &Value| v.get("type").is_some_and(|t| t == "null");
            if let Some(Value::Array(branches)) = map.get("anyOf")
                && branches.len() == 2
                && branches.iter().any(is_null)
            {
                let kept = branches.iter().find(|b| !is_null(b)).cloned();
                map.shift_remove("anyOf");
                if let Some(Value::Object(kept)) = kept {
                    for (k, v) in kept {
                        map.entry(k).or_insert(v);
                    }
                }
            }
            map.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// Doc comments are written as "Title\n\nDescription"; editors show `title` and `description`
/// separately, so split them, and unwrap the description's lines into paragraphs.
fn split_titles(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(doc)) = map.get("description").cloned() {
                let (title, rest) = match doc.split_once("\n\n") {
                    Some((title, rest)) => (Some(title.trim().to_owned()), rest.to_owned()),
                    None => (None, doc.clone()),
                };
                let unwrapped = rest
                    .split("\n\n")
                    .map(|para| {
                        para.split('\n')
                            .map(str::trim)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect::<Vec<_>>()
                    .join("\n\n");
                if let Some(title) = title
                    && !map.contains_key("title")
                {
                    map.insert("title".into(), Value::String(title));
                }
                map.insert("description".into(), Value::String(unwrapped));
            }
            for v in map.values_mut() {
                split_titles(v);
            }
            // An externally tagged variant (`{env: NAME}`) is documented on the variant; its one
            // property is what editors hover over, so it gets the same words.
            let doc = (map.get("title").cloned(), map.get("description").cloned());
            if let (Some(title), Some(description), Some(Value::Object(props))) =
                (doc.0, doc.1, map.get_mut("properties"))
                && props.len() == 1
                && let Some(Value::Object(prop)) = props.values_mut().next()
            {
                prop.entry("title").or_insert(title);
                prop.entry("description").or_insert(description);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(split_titles),
        _ => {}
    }
}

/// The committed schema, parsed.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| serde_json::from_str(COMMITTED).unwrap_or(Value::Bool(true)))
}

/// Starts compiling the validator on another thread, while the plan is being parsed.
pub fn prepare() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(validator);
    });
}

fn validator() -> Option<&'static Validator> {
    static VALIDATOR: OnceLock<Option<Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            // Compiled as draft 7, which the committed schema's keywords mean the same in (a
            // test holds it to that): jsonschema checks every schema against its draft's
            // meta-schema before compiling it, and building the 2020-12 meta-schema's validator
            // is half of the instructions of checking a small plan. `$defs` is only reached by
            // JSON pointer, which both drafts resolve alike.
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .with_keyword("format", whole_number)
                .build(schema())
                .ok()
        })
        .as_ref()
}

/// The message of a number that is not a whole number of its field's type.
const NOT_WHOLE: &str = "not a whole number of this field's type";

/// JSON Schema counts `5.0` as an integer; the plan's integer fields (`"format": "uint32"`, as
/// schemars writes them) are read into Rust integers, which do not take it. This keyword makes
/// the schema say so, with the value's position, instead of the deserializer failing later
/// without one. It also holds the value to its type's width where the field states no
/// `maximum` of its own. Other formats stay annotations, as the 2020-12 draft has them.
fn whole_number<'a>(
    parent: &'a Map<String, Value>,
    value: &'a Value,
    _: jsonschema::paths::Location,
) -> Result<Box<dyn for<'i> jsonschema::Keyword<'i>>, ValidationError<'a>> {
    let width: Option<(i128, i128)> = match value.as_str() {
        Some("uint8") => Some((0, u8::MAX.into())),
        Some("uint16") => Some((0, u16::MAX.into())),
        Some("uint32" | "uint") => Some((0, u32::MAX.into())),
        Some("uint64") => Some((0, u64::MAX.into())),
        Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
        Some("int64") => Some((i64::MIN.into(), i64::MAX.into())),
        _ => None,
    };
    let bounded = parent.contains_key("minimum") && parent.contains_key("maximum");
    Ok(Box::new(WholeNumber {
        range: width.map(|w| if bounded { (i128::MIN, i128::MAX) } else { w }),
    }))
}

/// See [`whole_number`]; `range` is `None` for formats that are not integer types.
struct WholeNumber {
    range: Option<(i128, i128)>,
}

impl<'i> jsonschema::Keyword<'i> for WholeNumber {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            Ok(())
        } else {
            Err(ValidationError::custom(NOT_WHOLE))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        let (Some((min, max)), Value::Number(n)) = (self.range, instance) else {
            return true;
        };
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .is_some_and(|n| (min..=max).contains(&n))
    }
}

/// Validates a plan (as JSON) against the schema; every violation becomes a located diagnostic.
pub fn validate(instance: &Value, source: &Source, map: &SourceMap) -> Vec<Diagnostic> {
    rejections(instance, source, map)
        .into_iter()
        .filter(|r| r.shown)
        .map(|r| r.diagnostic)
        .collect()
}

/// One violation of the schema: what to tell the user, and which node of the plan the semantic
/// checks must not see because of it.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) diagnostic: Diagnostic,
    /// The JSON pointer of the node to take out: the unknown key's entry, the value of the wrong
    /// type or form, the mapping that lacks a required key.
    pub(crate) take_out: String,
    /// Whether the user is told (a key reported as misspelt is not reported missing too).
    pub(crate) shown: bool,
    /// For a missing key: its name.
    missing: Option<String>,
    /// For an unknown key: the allowed key it was probably meant to be.
    meant: Option<String>,
}

impl Rejection {
    fn new(diagnostic: Diagnostic, take_out: &str) -> Self {
        Rejection {
            diagnostic,
            take_out: take_out.to_owned(),
            shown: true,
            missing: None,
            meant: None,
        }
    }
}

/// Validates a plan (as JSON) against the schema: every violation, with its diagnostic and the
/// node it rejects. A key reported as misspelt (`acton` for `action`) is not reported missing
/// as well.
pub(crate) fn rejections(instance: &Value, source: &Source, map: &SourceMap) -> Vec<Rejection> {
    let Some(validator) = validator() else {
        let d = Diagnostic::error(
            "internal.schema",
            "the built-in plan schema could not be compiled",
        );
        return vec![Rejection::new(d, "")];
    };
    let cx = Cx {
        source,
        map,
        instance,
    };
    let mut out = Vec::new();
    for error in validator.iter_errors(instance) {
        cx.translate(&error, &mut out);
    }
    // One node can fail several keywords the same way (e.g. through several branches); say it
    // once. The node is still taken out once for each way it fails: that costs nothing.
    let mut said = std::collections::HashSet::new();
    for r in &mut out {
        let place = r.diagnostic.span.as_ref().map(|s| (s.line, s.col, s.len));
        if !said.insert((r.diagnostic.message.clone(), place)) {
            r.shown = false;
        }
    }
    let misspelt: Vec<(String, String)> = out
        .iter()
        .filter_map(|r| {
            let meant = r.meant.clone()?;
            Some((parent_of(&r.take_out).to_owned(), meant))
        })
        .collect();
    for r in &mut out {
        if let Some(name) = &r.missing
            && misspelt
                .iter()
                .any(|(at, meant)| *at == r.take_out && meant == name)
        {
            // Still taken out (the mapping lacks the key), but said once, at the misspelling.
            r.shown = false;
        }
    }
    out
}

/// Keys renamed because YAML 1.1 tools read them as booleans: the old key, and the new one in the
/// mappings that have it.
const RENAMED: &[(&str, &str)] = &[("on", "when"), ("on", "events")];

struct Cx<'a> {
    source: &'a Source,
    map: &'a SourceMap<'a>,
    instance: &'a Value,
}

impl Cx<'_> {
    fn translate(&self, error: &ValidationError<'_>, out: &mut Vec<Rejection>) {
        let pointer = error.instance_path().as_str().to_owned();
        // The schema object holding the failed keyword.
        let schema_node = resolve(schema(), parent_of(error.schema_path().as_str()));
        let at = human_path(&pointer);
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let allowed = property_names(schema_node);
                for key in unexpected {
                    let key_pointer = child(&pointer, key);
                    let renamed = RENAMED
                        .iter()
                        .find(|(old, new)| old == key && allowed.iter().any(|a| a == new));
                    let best = did_you_mean(key, allowed.iter().map(String::as_str));
                    let help = match best {
                        _ if let Some((old, new)) = renamed => format!(
                            "`{old}` is now `{new}`: YAML 1.1 tools (PyYAML, yamllint) read a key `{old}` as the boolean true"
                        ),
                        Some(best) => format!("did you mean `{best}`?"),
                        None if allowed.is_empty() => "remove it".to_owned(),
                        None => format!("allowed keys here: {}", list(&allowed)),
                    };
                    let d = Diagnostic::error(
                        "schema.unknown-key",
                        format!("unknown key `{key}` in {at}"),
                    )
                    .at(self.map.key_span(self.source, &key_pointer))
                    .label("not a key of this mapping")
                    .help(help);
                    out.push(Rejection {
                        meant: renamed.map(|(_, new)| *new).or(best).map(str::to_owned),
                        ..Rejection::new(d, &key_pointer)
                    });
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                // A key required by an `if`/`then`/`else` branch is described by the schema the
                // branch belongs to.
                let path = error.schema_path().as_str();
                let owner = match parent_of(path).rsplit_once('/') {
                    Some((up, "then" | "else")) => resolve(schema(), up),
                    _ => schema_node,
                };
                let about = owner
                    .and_then(|p| p.get("properties"))
                    .and_then(|p| p.get(name))
                    .and_then(describe);
                let mut d = Diagnostic::error(
                    "schema.missing-key",
                    format!("missing required key `{name}` in {at}"),
                )
                .at(self.map.key_span(self.source, &pointer))
                .label(format!("`{name}` is missing here"));
                if let Some(about) = about {
                    d = d.help(format!("add `{name}`: {about}"));
                }
                out.push(Rejection {
                    missing: Some(name.to_owned()),
                    ..Rejection::new(d, &pointer)
                });
            }
            ValidationErrorKind::Enum { options } => {
                let options: Vec<String> = options
                    .as_array()
                    .map(|a| a.iter().map(short_json).collect())
                    .unwrap_or_default();
                out.push(Rejection::new(self.bad_value(&pointer, &options), &pointer));
            }
            ValidationErrorKind::Constant { expected_value } => {
                out.push(Rejection::new(
                    self.bad_value(&pointer, &[short_json(expected_value)]),
                    &pointer,
                ));
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => article(&t.to_string()),
                    TypeKind::Multiple(ts) => {
                        let names: Vec<String> =
                            ts.iter().map(|t| article(&t.to_string())).collect();
                        names.join(" or ")
                    }
                };
                let found = self
                    .value_at(&pointer)
                    .map(describe_value)
                    .unwrap_or_default();
                let mut d = Diagnostic::error(
                    "schema.type",
                    format!("{at} must be {expected}, found {found}"),
                )
                // A mapping or list written where a value belongs: point at its key.
                .at(match self.value_at(&pointer) {
                    Some(Value::Object(_) | Value::Array(_)) => {
                        self.map.key_span(self.source, &pointer)
                    }
                    _ => self.map.value_span(self.source, &pointer),
                });
                let wants_list = matches!(kind, TypeKind::Single(t) if t.to_string() == "array");
                if wants_list {
                    let key = last_segment(&pointer);
                    d = d.help(format!("write `{key}:` as a list, one `- ` item per line"));
                } else if let Some(example) = schema_node
                    .and_then(|n| n.get("examples"))
                    .and_then(|e| e.as_array())
                    .and_then(|e| e.first())
                {
                    d = d.help(format!("for example `{}`", short_json(example)));
                } else if let Some(about) = schema_node.and_then(describe) {
                    d = d.help(about);
                }
                out.push(Rejection::new(d, &pointer));
            }
            ValidationErrorKind::Minimum { .. }
            | ValidationErrorKind::Maximum { .. }
            | ValidationErrorKind::MinLength { .. }
            | ValidationErrorKind::MaxLength { .. }
            | ValidationErrorKind::MinItems { .. } => {
                let found = self.value_at(&pointer);
                let n = limit_of(error.kind()).unwrap_or_default();
                let message = match error.kind() {
                    ValidationErrorKind::Minimum { .. } => format!(
                        "{at} must be at least {n}, found {}",
                        found.map(short_json).unwrap_or_default()
                    ),
                    ValidationErrorKind::Maximum { .. } => format!(
                        "{at} must be at most {n}, found {}",
                        found.map(short_json).unwrap_or_default()
                    ),
                    ValidationErrorKind::MinLength { .. } if n == "1" => {
                        format!("{at} must not be empty")
                    }
                    ValidationErrorKind::MinLength { .. } => {
                        format!("{at} must be at least {n} characters long")
                    }
                    ValidationErrorKind::MaxLength { .. } => {
                        format!("{at} must be at most {n} characters long")
                    }
                    _ if n == "1" => format!("{at} needs at least one item"),
                    _ => format!("{at} needs at least {n} items"),
                };
                let mut d = Diagnostic::error("schema.range", message)
                    .at(self.map.value_span(self.source, &pointer));
                if let Some(about) = schema_node.and_then(describe) {
                    d = d.help(about);
                }
                out.push(Rejection::new(d, &pointer));
            }
            ValidationErrorKind::Pattern { pattern } => {
                let found = self.value_at(&pointer).map(short_json).unwrap_or_default();
                // The usual slip: a dash where only letters, digits and `_` are allowed.
                let fixed = found.replace(['-', ' ', '.'], "_");
                let fits = |candidate: &str| {
                    jsonschema::validator_for(&serde_json::json!({ "pattern": pattern }))
                        .is_ok_and(|v| v.is_valid(&Value::String(candidate.to_owned())))
                };
                let help = if fixed != found && fits(&fixed) {
                    format!("did you mean `{fixed}`?")
                } else if fits(&format!("{found}.0")) {
                    format!("did you mean `\"{found}.0\"`?")
                } else {
                    schema_node
                        .and_then(describe)
                        .unwrap_or_else(|| format!("it must match `{pattern}`"))
                };
                let d = Diagnostic::error(
                    "schema.pattern",
                    format!("`{found}` is not a valid value for {at}"),
                )
                .at(self.map.value_span(self.source, &pointer))
                .help(help);
                out.push(Rejection::new(d, &pointer));
            }
            ValidationErrorKind::Custom { message, .. } if message == NOT_WHOLE => {
                out.push(Rejection::new(
                    self.not_whole(&pointer, schema_node),
                    &pointer,
                ));
            }
            ValidationErrorKind::OneOfNotValid { context }
            | ValidationErrorKind::AnyOf { context } => {
                self.one_of(error, &pointer, context, out);
            }
            _ => {
                let mut d =
                    Diagnostic::error("schema.invalid", format!("{at}: {}", error.masked()))
                        .at(self.map.value_span(self.source, &pointer));
                if let Some(about) = schema_node.and_then(describe) {
                    d = d.help(about);
                }
                out.push(Rejection::new(d, &pointer));
            }
        }
    }

    /// A number in an integer field that is not a whole number of its type: `5.0`, or past
    /// the type's width.
    fn not_whole(&self, pointer: &str, schema_node: Option<&Value>) -> Diagnostic {
        let at = human_path(pointer);
        let value = self.value_at(pointer);
        // As written: `5.0` stays `5.0`, where the parsed value would print `5`.
        let found = self
            .map
            .exact(pointer)
            .map(|n| self.source.slice(n.value).trim().to_owned())
            .filter(|t| !t.is_empty())
            .or_else(|| value.map(short_json))
            .unwrap_or_default();
        let d = match value {
            Some(Value::Number(n)) if n.is_f64() => {
                let d = Diagnostic::error(
                    "schema.type",
                    format!("{at} must be a whole number, found `{found}`"),
                );
                match n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15) {
                    Some(whole) => d.help(format!("write `{whole:.0}`, without a decimal point")),
                    None => d.maybe_help(schema_node.and_then(describe)),
                }
            }
            _ => Diagnostic::error(
                "schema.range",
                format!("{at} is out of range, found `{found}`"),
            )
            .maybe_help(schema_node.and_then(describe)),
        };
        d.at(self.map.value_span(self.source, pointer))
    }

    /// A value that is not one of the allowed ones, with "did you mean".
    fn bad_value(&self, pointer: &str, options: &[String]) -> Diagnostic {
        let at = human_path(pointer);
        let found = self.value_at(pointer).map(short_json).unwrap_or_default();
        // Hosts are often pasted as URLs: `https://api.mypurecloud.com` means `mypurecloud.com`.
        let bare = found
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_start_matches("api.")
            .trim_start_matches("login.")
            .trim_end_matches('/');
        let exact = options.iter().map(String::as_str).find(|o| *o == bare);
        let best = exact.or_else(|| did_you_mean(&found, options.iter().map(String::as_str)));
        let help = match best {
            Some(best) if options.len() > 1 => format!("did you mean `{best}`?"),
            _ if options.len() == 1 => format!("the only allowed value is `{}`", options[0]),
            _ => format!("expected one of {}", list(options)),
        };
        Diagnostic::error(
            "schema.value",
            format!("`{found}` is not a valid value for {at}"),
        )
        .at(self.map.value_span(self.source, pointer))
        .help(help)
    }

    /// `oneOf` failed: find the branch the user meant, and report its errors instead of the
    /// useless "not valid under any of the schemas".
    fn one_of(
        &self,
        error: &ValidationError<'_>,
        pointer: &str,
        branches: &[Vec<ValidationError<'static>>],
        out: &mut Vec<Rejection>,
    ) {
        let at = human_path(pointer);
        let value = self.value_at(pointer);
        // A branch the value cannot be meant for fails at its root on its type, its
        // discriminator (`type`, `grant`: a const or enum one level down) or, for an externally
        // tagged enum, its one required key.
        let mut discriminators: Vec<(String, String)> = Vec::new(); // (key, allowed value)
        let mut tags: Vec<String> = Vec::new();
        let mut consts: Vec<String> = Vec::new(); // a documented enum: one `const` per branch
        let mut candidates: Vec<&Vec<ValidationError<'static>>> = Vec::new();
        for branch in branches {
            let mut excluded = false;
            for e in branch {
                let path = e.instance_path().as_str();
                match e.kind() {
                    ValidationErrorKind::Type { .. } if path == pointer => excluded = true,
                    ValidationErrorKind::Constant { expected_value } if path == pointer => {
                        excluded = true;
                        consts.push(short_json(expected_value));
                    }
                    ValidationErrorKind::Constant { expected_value }
                        if parent_of(path) == pointer =>
                    {
                        excluded = true;
                        discriminators.push((last_segment(path), short_json(expected_value)));
                    }
                    ValidationErrorKind::Required { property }
                        if path == pointer && branch.len() <= 2 && is_single_key_branch(e) =>
                    {
                        excluded = true;
                        tags.push(property.as_str().unwrap_or_default().to_owned());
                    }
                    _ => {}
                }
            }
            if !excluded {
                candidates.push(branch);
            }
        }
        if let [branch] = candidates.as_slice() {
            for e in branch.iter() {
                self.translate(e, out);
            }
            return;
        }
        if candidates.is_empty() {
            if !consts.is_empty() && discriminators.is_empty() && tags.is_empty() {
                out.push(Rejection::new(self.bad_value(pointer, &consts), pointer));
                return;
            }
            if let Some((key, _)) = discriminators.first() {
                let key = key.clone();
                let allowed: Vec<String> = discriminators.iter().map(|(_, v)| v.clone()).collect();
                let disc_pointer = child(pointer, &key);
                let found = self.value_at(&disc_pointer);
                let d = match found {
                    None => Diagnostic::error(
                        "schema.missing-key",
                        format!("missing required key `{key}` in {at}"),
                    )
                    .at(self.map.key_span(self.source, pointer))
                    .help(format!("set `{key}` to one of {}", list(&allowed))),
                    Some(found) => {
                        let found = short_json(found);
                        let help = suggest(&found, allowed.iter().map(String::as_str))
                            .unwrap_or_else(|| format!("expected one of {}", list(&allowed)));
                        Diagnostic::error(
                            "schema.value",
                            format!("`{found}` is not a valid `{key}` for {at}"),
                        )
                        .at(self.map.value_span(self.source, &disc_pointer))
                        .help(help)
                    }
                };
                out.push(Rejection::new(d, pointer));
                return;
            }
            if !tags.is_empty() {
                let keys: Vec<String> = value
                    .and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                let (span, help) = match keys.first() {
                    Some(k) => (
                        self.map.key_span(self.source, &child(pointer, k)),
                        suggest(k, tags.iter().map(String::as_str))
                            .unwrap_or_else(|| format!("use one of {}", list(&tags))),
                    ),
                    None => (
                        self.map.value_span(self.source, pointer),
                        format!("use one of {}", list(&tags)),
                    ),
                };
                let msg = if keys.len() > 1 {
                    format!(
                        "{at} must have exactly one of {}, found {}",
                        list(&tags),
                        list(&keys)
                    )
                } else {
                    format!("{at} must be one of {}", list(&tags))
                };
                out.push(Rejection::new(
                    Diagnostic::error("schema.value", msg).at(span).help(help),
                    pointer,
                ));
                return;
            }
        }
        // Several branches still fit (or none explained itself): say what was expected.
        let expected = resolve(schema(), error.schema_path().as_str())
            .and_then(Value::as_array)
            .map(|branches| {
                branches
                    .iter()
                    .filter_map(|b| resolve_ref(b).and_then(describe_title))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let mut d = Diagnostic::error(
            "schema.invalid",
            format!("{at} does not match any allowed form"),
        )
        .at(self.map.value_span(self.source, pointer));
        if !expected.is_empty() {
            d = d.help(format!("expected {}", expected.join(", or ")));
        }
        out.push(Rejection::new(d, pointer));
    }

    fn value_at(&self, pointer: &str) -> Option<&Value> {
        self.instance.pointer(pointer)
    }
}

/// The bound of a range keyword, as written in messages.
fn limit_of(kind: &ValidationErrorKind) -> Option<String> {
    match kind {
        ValidationErrorKind::Minimum { limit } | ValidationErrorKind::Maximum { limit } => {
            Some(limit.to_string())
        }
        ValidationErrorKind::MinLength { limit }
        | ValidationErrorKind::MaxLength { limit }
        | ValidationErrorKind::MinItems { limit } => Some(limit.to_string()),
        _ => None,
    }
}

fn is_single_key_branch(e: &ValidationError<'_>) -> bool {
    resolve(schema(), parent_of(e.schema_path().as_str()))
        .and_then(|n| n.get("required"))
        .and_then(Value::as_array)
        .is_some_and(|r| r.len() == 1)
}

/// Follows a schema location (a JSON pointer through the schema, with `$ref` segments) to the
/// schema node it names.
fn resolve<'a>(root: &'a Value, location: &str) -> Option<&'a Value> {
    let mut node = root;
    for raw in location.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        if segment == "$ref" {
            node = resolve_ref(node)?;
            continue;
        }
        node = match node {
            Value::Object(m) => m.get(&segment)?,
            Value::Array(a) => a.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Follows a node's local `$ref`, if it has one.
fn resolve_ref(node: &Value) -> Option<&Value> {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => schema().pointer(r.strip_prefix('#')?),
        None => Some(node),
    }
}

fn property_names(node: Option<&Value>) -> Vec<String> {
    node.and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// A schema node's title and description, as one hint.
fn describe(node: &Value) -> Option<String> {
    let node = resolve_ref(node)
        .filter(|n| n.get("description").is_some())
        .unwrap_or(node);
    let description = node.get("description").and_then(Value::as_str)?;
    Some(
        description
            .split("\n\n")
            .next()
            .unwrap_or(description)
            .replace('\n', " "),
    )
}

fn describe_title(node: &Value) -> Option<String> {
    node.get("title")
        .and_then(Value::as_str)
        .map(|t| t.to_owned())
}

fn parent_of(pointer: &str) -> &str {
    pointer.rfind('/').map(|i| &pointer[..i]).unwrap_or("")
}

fn last_segment(pointer: &str) -> String {
    pointer
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .replace("~1", "/")
        .replace("~0", "~")
}

/// `/steps/2/with/user_id` → `` `steps[2].with.user_id` ``; the root is "the plan".
pub fn human_path(pointer: &str) -> String {
    if pointer.is_empty() {
        return "the plan".to_owned();
    }
    let mut out = String::new();
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            out.push('[');
            out.push_str(&segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    format!("`{out}`")
}

fn short_json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => {
            let text = other.to_string();
            if text.chars().count() > 40 {
                format!("{}…", text.chars().take(40).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".to_owned(),
        Value::Bool(b) => format!("a boolean `{b}`"),
        Value::Number(n) => format!("a number `{n}`"),
        Value::String(s) => format!("a string `{}`", short_json(&Value::String(s.clone()))),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

fn article(json_type: &str) -> String {
    match json_type {
        "object" => "a mapping".to_owned(),
        "array" => "a list".to_owned(),
        "integer" => "an integer".to_owned(),
        "null" => "empty".to_owned(),
        other => format!("a {other}"),
    }
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The validator compiles the schema as draft 7 (see `validator`): that reads it as 2020-12
    /// does only while it uses no keyword newer than draft 7 and puts nothing but annotations
    /// beside a `$ref` (draft 7 ignores a `$ref`'s siblings).
    #[test]
    fn the_schema_means_the_same_in_draft_7() {
        const NEWER: [&str; 10] = [
            "prefixItems",
            "unevaluatedProperties",
            "unevaluatedItems",
            "dependentRequired",
            "dependentSchemas",
            "$dynamicRef",
            "$dynamicAnchor",
            "$anchor",
            "minContains",
            "maxContains",
        ];
        const ANNOTATIONS: [&str; 5] =
            ["description", "title", "examples", "default", "deprecated"];
        fn walk(node: &Value, at: &str) {
            match node {
                Value::Object(map) => {
                    for (key, value) in map {
                        assert!(!NEWER.contains(&key.as_str()), "`{key}` at {at}");
                        if key == "$id" {
                            assert!(at.is_empty(), "an embedded resource at {at}");
                        }
                        if map.contains_key("$ref") && key != "$ref" {
                            assert!(
                                ANNOTATIONS.contains(&key.as_str()),
                                "`{key}` beside $ref at {at}"
                            );
                        }
                        walk(value, &format!("{at}/{key}"));
                    }
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, &format!("{at}/{i}"));
                    }
                }
                _ => {}
            }
        }
        walk(schema(), "");
        assert!(validator().is_some(), "the schema compiles");
    }

    #[test]
    fn human_paths_read_like_yaml() {
        assert_eq!(human_path(""), "the plan");
        assert_eq!(human_path("/steps/2/with/a~1b"), "`steps[2].with.a/b`");
    }

    #[test]
    fn schema_locations_follow_refs() {
        let root = schema();
        let node = resolve(root, "/properties/steps/items/$ref/properties/on_error");
        assert!(node.is_some(), "step.on_error must resolve through $ref");
    }
}
