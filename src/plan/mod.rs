//! Plans: reading a file, checking it (YAML, version, schema, semantics), and the validated model.
//!
//! The pipeline: read the bytes (at most [`MAX_PLAN_BYTES`], UTF-8) → refuse deep nesting and
//! alias bombs before they cost anything ([`budget`]) → parse YAML (serde_yaml; straight into JSON
//! when nothing in it needs judging, [`fast`]) → read `version` before anything else → map every node to its position (saphyr-parser) → validate against the
//! committed JSON Schema → deserialize the raw types → semantic checks → [`model::Plan`]. When the
//! schema rejects parts of the plan, the semantic checks run on the rest (`prune`), so that one
//! run reports every problem.

pub mod budget;
pub mod check;
pub mod fast;
pub(crate) mod limits;
pub mod model;
pub(crate) mod prune;
mod quotes;
pub mod raw;
pub mod schema;
pub mod source;

use std::path::Path;

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use source::{Source, SourceMap};

/// The plan format versions this callplan reads.
pub const SUPPORTED_VERSIONS: &[u64] = &[1];

/// Plans are small; a larger file is refused before it is parsed.
pub const MAX_PLAN_BYTES: u64 = 8 * 1024 * 1024;

/// The result of checking one plan file.
#[derive(Debug)]
pub struct Checked {
    /// The text, when the file could be read (for rendering snippets).
    pub source: Option<Source>,
    /// Every finding, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The validated plan, when there is no error.
    pub plan: Option<model::Plan>,
}

/// Reads and checks a plan file. Never panics, whatever the file holds.
pub fn check_file(path: &Path) -> Checked {
    match read(path) {
        Ok(source) => {
            let (plan, diagnostics) = check_source(&source);
            Checked {
                source: Some(source),
                diagnostics,
                plan,
            }
        }
        Err((d, source)) => Checked {
            source: source.map(|s| *s),
            diagnostics: vec![d],
            plan: None,
        },
    }
}

/// A short reason for an I/O error, without the OS error number.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => {
            let text = e.to_string();
            text.split(" (os error")
                .next()
                .unwrap_or(&text)
                .to_lowercase()
        }
    }
}

/// Reads `reader` to its end when it holds at most `limit` bytes; `Ok(None)` when it holds more.
/// Never reads more than `limit + 1` bytes, so a pipe or a device such as `/dev/zero` costs no
/// more than a file at the limit.
pub(crate) fn read_capped(
    reader: impl std::io::Read,
    limit: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Why a plan file could not be read, with its text when there is some to show.
pub type ReadError = (Diagnostic, Option<Box<Source>>);

/// Reads a plan file: refuses directories, huge files and text that is not UTF-8.
pub fn read(path: &Path) -> Result<Source, ReadError> {
    read_inner(path).map_err(|e| match e {
        Unreadable::Plain(d) => (d, None),
        Unreadable::WithText(d, s) => (d, Some(s)),
    })
}

enum Unreadable {
    Plain(Diagnostic),
    WithText(Diagnostic, Box<Source>),
}

impl From<Diagnostic> for Unreadable {
    fn from(d: Diagnostic) -> Self {
        Unreadable::Plain(d)
    }
}

fn read_inner(path: &Path) -> Result<Source, Unreadable> {
    let shown = path.display();
    let cannot = |e: std::io::Error| {
        Diagnostic::error(
            "io.read",
            format!("cannot read plan `{shown}`: {}", io_reason(&e)),
        )
        .help("check the path; `callplan check` takes plan files, e.g. `plans/*.yaml`")
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if meta.is_dir() {
        return Err(Diagnostic::error(
            "io.read",
            format!("`{shown}` is a directory, not a plan file"),
        )
        .help(format!(
            "to check every plan in it: `callplan check {}/*.yaml`",
            shown.to_string().trim_end_matches('/')
        ))
        .into());
    }
    let too_large = |what: String| {
        Diagnostic::error(
            "io.too-large",
            format!(
                "plan `{shown}` is {what}; plans are limited to {} MiB",
                MAX_PLAN_BYTES / (1024 * 1024)
            ),
        )
        .help("put long contact lists in a CSV or JSONL file and read it with `for_each`")
    };
    // A regular file says its size; a pipe, a FIFO or a device does not, and is read up to the
    // limit below.
    if meta.len() > MAX_PLAN_BYTES {
        let mib = meta.len() as f64 / (1024.0 * 1024.0);
        return Err(too_large(format!("{mib:.1} MiB")).into());
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    let bytes = read_capped(file, MAX_PLAN_BYTES)
        .map_err(cannot)?
        .ok_or_else(|| {
            too_large(format!(
                "larger than {} MiB",
                MAX_PLAN_BYTES / (1024 * 1024)
            ))
        })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(path, text)),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let bad = bytes.get(valid).copied().unwrap_or(0);
            let before = String::from_utf8_lossy(&bytes[..valid]);
            let line = before.matches('\n').count() + 1;
            let col = before
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count())
                .unwrap_or(0)
                + 1;
            // The text is shown with the bad bytes replaced, so the snippet still points at them.
            let source = Source::new(path, String::from_utf8_lossy(bytes).into_owned());
            let d = Diagnostic::error(
                "io.utf8",
                format!("plan `{shown}` is not valid UTF-8: byte {bad:#04x} at offset {valid}"),
            )
            .at(Some(source.span_at(line, col, 1)))
            .help(if bytes.contains(&0) {
                "the file holds binary data; is this really a plan file?".to_owned()
            } else {
                "save the plan as UTF-8 (it looks like Latin-1 or Windows-1252 text)".to_owned()
            });
            Err(Unreadable::WithText(d, Box::new(source)))
        }
    }
}

/// Checks a plan's text. Returns the model when there is no error, and every diagnostic.
///
/// One run finds every problem: when the schema rejects parts of the plan, the semantic checks
/// still run on the rest (`prune`), and say nothing about what was rejected.
pub fn check_source(source: &Source) -> (Option<model::Plan>, Vec<Diagnostic>) {
    // Both take a few milliseconds and need nothing from the parse: start them beside it.
    schema::prepare();
    crate::phone::prewarm(&source.text);
    let (value, mut map) = match parse(source) {
        Ok(parsed) => parsed,
        Err(d) => return (None, vec![d]),
    };
    let rejections = schema::rejections(&value, source, &map);
    if rejections.is_empty() {
        let raw: raw::RawPlan = match serde_json::from_value(value) {
            Ok(raw) => raw,
            // The schema and the types agree (a test keeps them equal); this is a fallback.
            Err(e) => return (None, vec![not_read(&e)]),
        };
        let (plan, mut diagnostics) = check::check(&raw, source, &map);
        sort(&mut diagnostics);
        return (plan, diagnostics);
    }
    let first: Vec<String> = rejections.iter().map(|r| r.take_out.clone()).collect();
    let mut diagnostics: Vec<Diagnostic> = rejections
        .into_iter()
        .filter(|r| r.shown)
        .map(|r| r.diagnostic)
        .collect();
    let pruned = prune::prune(&value, first, |copy| {
        schema::rejections(copy, source, &map)
            .into_iter()
            .map(|r| r.take_out)
            .collect()
    });
    drop(value);
    // When what is left cannot be read either (it always can: a test keeps the schema and the
    // types equal), the schema's findings are all there is to say.
    if let Some((copy, pruned, renumbered)) = pruned
        && let Ok(raw) = serde_json::from_value::<raw::RawPlan>(copy)
    {
        map.renumber(renumbered);
        let (_, semantic) = check::check_pruned(&raw, source, &map, &pruned);
        diagnostics.extend(semantic);
    }
    sort(&mut diagnostics);
    (None, diagnostics)
}

fn not_read(e: &serde_json::Error) -> Diagnostic {
    Diagnostic::error("schema.invalid", format!("invalid plan: {e}"))
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| d.span.as_ref().map(|s| (s.line, s.col)).unwrap_or((0, 0)));
}

/// YAML → JSON value and position map; reads `version` before anything else.
fn parse(source: &Source) -> Result<(Value, SourceMap<'_>), Diagnostic> {
    if source
        .text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(Diagnostic::error("plan.empty", "the plan is empty")
            .at(Some(source.span_at(1, 1, 1)))
            .help("a plan starts with `version: 1`, a `name`, `providers` and `steps`; see plans/ for examples"));
    }
    // libyaml's time grows with the square of the flow nesting and serde_yaml expands aliases
    // without counting nodes: both limits are enforced on the text (`budget::check`) before
    // either reads it. Most plans need no judging on the way to JSON: they are read straight
    // into it when that check finds every line plain; a large one while the check runs.
    let (shape, read) = if source.text.len() >= fast::LARGE {
        std::thread::scope(|scope| {
            let read = scope.spawn(|| fast::read(&source.text));
            let shape = budget::check(source);
            (shape, read.join().ok().flatten())
        })
    } else {
        let shape = budget::check(source);
        let read = match shape {
            Ok(budget::Shape::Simple) => fast::read(&source.text),
            _ => None,
        };
        (shape, read)
    };
    if shape? == budget::Shape::Simple
        && let Some((value, placed)) = read
        && supported_version(&value)
    {
        return Ok((value, SourceMap::placed(source, placed)));
    }
    // libyaml-based parsing gives the syntax error positions users know from other tools.
    let yaml: serde_yaml::Value = match serde_yaml::from_str(&source.text) {
        Ok(yaml) => yaml,
        Err(e) => {
            // libyaml places a duplicate key at the start of its mapping; the span-aware walk
            // knows where the second one is written.
            if e.to_string().contains("duplicate entry") {
                SourceMap::build(source)?;
            }
            return Err(yaml_error(&e, source));
        }
    };
    // Positions are found only if a diagnostic needs one.
    let map = SourceMap::lazy(source);
    check_version(&yaml, source, &map)?;
    let value = yaml_to_json(yaml, source, &map)?;
    Ok((value, map))
}

/// serde_yaml's value of a plan, its merge keys applied, as JSON: the full path's conversion.
fn yaml_to_json(
    mut yaml: serde_yaml::Value,
    source: &Source,
    map: &SourceMap,
) -> Result<Value, Diagnostic> {
    yaml.apply_merge().map_err(|e| {
        let at = source.text.find("<<").unwrap_or(0);
        Diagnostic::error("yaml.merge", format!("invalid merge key (`<<`): {e}"))
            .at(Some(source.span_at_offset(at)))
            .help("`<<: *anchor` merges a mapping (or a list of mappings) into this one")
    })?;
    to_json(yaml, &At::Root, 0, source, map)
}

fn yaml_error(e: &serde_yaml::Error, source: &Source) -> Diagnostic {
    let text = e.to_string();
    // An integer of 65 to 128 bits: the YAML reader holds it, a plan's values cannot.
    if let Some(number) = wide_integer(&text) {
        let span = e.location().map_or_else(
            || source.span_at(1, 1, 1),
            |l| source.span_at(l.line(), l.column(), number.chars().count()),
        );
        return too_wide(number, span);
    }
    let (code, message, help) = if text.contains("repetition limit exceeded") {
        (
            "yaml.alias-bomb",
            "the plan expands YAML aliases too many times".to_owned(),
            Some("aliases (`*name`) that refer to lists of aliases grow exponentially; write the values out".to_owned()),
        )
    } else if text.contains("recursion limit exceeded") {
        (
            "yaml.too-deep",
            format!("the plan nests deeper than {} levels", source::MAX_DEPTH),
            Some("flatten this structure; no plan needs this much nesting".to_owned()),
        )
    } else if text.contains("more than one document") {
        (
            "yaml.multiple-documents",
            "a plan file holds one YAML document".to_owned(),
            Some("remove the `---` separator, or split the file into several plans".to_owned()),
        )
    } else {
        let message = text.split(" at line ").next().unwrap_or(&text);
        let message = message.split(" at position ").next().unwrap_or(message);
        (
            "yaml.syntax",
            format!("invalid YAML: {message}"),
            yaml_hint(&text),
        )
    };
    // Reader errors (bad characters) carry a byte offset in the message, and their `location()`
    // says 1:1; the offset wins.
    let offset = text
        .split(" at position ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok());
    // Some errors have no useful position of their own; the text shows where the cause is.
    let found = match code {
        "yaml.alias-bomb" => first_alias(&source.text),
        "yaml.multiple-documents" => second_document(&source.text),
        _ => None,
    };
    let span = found
        .or(offset)
        .map(|o| source.span_at_offset(o))
        .or_else(|| {
            e.location()
                .map(|l| source.span_at(l.line(), l.column(), 1))
        });
    let span = span.unwrap_or_else(|| source.span_at(1, 1, 1));
    // Where the reader gave up is often far below a quote left open: show the quote.
    if code == "yaml.syntax"
        && let Some(d) = quotes::unclosed(source, &text, span.line, span.col)
    {
        return d;
    }
    // A tab where indentation belongs is the most common cause of "cannot start any token".
    let at_tab = source
        .line_text(span.line)
        .and_then(|l| l.chars().nth(span.col.saturating_sub(1)))
        == Some('\t');
    let help = if at_tab {
        Some("YAML indents with spaces, never tabs".to_owned())
    } else {
        help
    };
    Diagnostic::error(code, message)
        .at(Some(span))
        .maybe_help(help)
}

/// The integer of a "invalid type: integer `N` as u128" error: one wider than 64 bits.
fn wide_integer(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("invalid type: integer `")?;
    let (number, rest) = rest.split_once('`')?;
    (rest.starts_with(" as u128") || rest.starts_with(" as i128")).then_some(number)
}

/// Whether a number as written is an integer literal (decimal, hex or octal).
fn is_integer_literal(text: &str) -> bool {
    let number = text.trim().trim_start_matches(['-', '+']);
    let (digits, radix) = match (number.strip_prefix("0x"), number.strip_prefix("0o")) {
        (Some(hex), _) => (hex, 16),
        (_, Some(octal)) => (octal, 8),
        _ => (number, 10),
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

/// An integer a plan cannot hold: wider than 64 bits.
fn too_wide(number: &str, span: crate::diagnostic::Span) -> Diagnostic {
    Diagnostic::error(
        "yaml.number",
        format!("the whole number `{number}` does not fit in 64 bits"),
    )
    .at(Some(span))
    .help(format!(
        "whole numbers in a plan go from {} to {}; quote it if it is meant as text",
        i64::MIN,
        u64::MAX
    ))
}

/// Byte offset of the first alias (`*name`) in the text.
fn first_alias(text: &str) -> Option<usize> {
    text.match_indices('*').map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back().unwrap_or(' ');
        let after = text[i + 1..].chars().next().unwrap_or(' ');
        " \t[,{:-".contains(before) && (after.is_alphanumeric() || after == '_')
    })
}

/// Byte offset of the `---` that starts a second document.
fn second_document(text: &str) -> Option<usize> {
    let mut offset = 0;
    let mut content = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            if content {
                return Some(offset);
            }
        } else if !trimmed.is_empty() && !trimmed.trim_start().starts_with('#') {
            content = true;
        }
        offset += line.len();
    }
    None
}

fn yaml_hint(message: &str) -> Option<String> {
    if message.contains("tab") {
        Some("YAML indents with spaces, never tabs".to_owned())
    } else if message.contains("mapping values are not allowed") {
        Some("quote values that contain `: `, e.g. `name: \"a: b\"`".to_owned())
    } else if message.contains("did not find expected key")
        || message.contains("expected <block end>")
    {
        Some("check the indentation of this line against the lines above it".to_owned())
    } else if message.contains("found character that cannot start any token") {
        Some("quote values that start with `@`, `` ` `` or `%`".to_owned())
    } else if message.contains("unknown anchor") {
        Some(
            "an alias `*name` can only follow the anchor `&name` it refers to, higher in the file"
                .to_owned(),
        )
    } else if message.contains("while parsing a flow") {
        Some("a `{` or `[` opened earlier is not closed; quote templates: `\"{{ … }}\"`".to_owned())
    } else if message.contains("control characters") || message.contains("invalid trailing UTF-8") {
        Some("the file holds binary data; is this really a plan file?".to_owned())
    } else {
        None
    }
}

/// Whether a plan read as JSON says a version this callplan reads; any other plan goes the full
/// way, whose [`check_version`] words what is wrong.
fn supported_version(plan: &Value) -> bool {
    plan.get("version")
        .and_then(Value::as_u64)
        .is_some_and(|v| SUPPORTED_VERSIONS.contains(&v))
}

fn check_version(
    yaml: &serde_yaml::Value,
    source: &Source,
    map: &SourceMap,
) -> Result<(), Diagnostic> {
    let supported = SUPPORTED_VERSIONS
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let serde_yaml::Value::Mapping(root) = yaml else {
        let what = match yaml {
            serde_yaml::Value::Sequence(_) => "a list",
            serde_yaml::Value::Null => "empty",
            _ => "a single value",
        };
        return Err(Diagnostic::error("plan.not-a-mapping", format!("a plan is a mapping of keys, but this file is {what}"))
            .at(map.value_span(source, "").or_else(|| Some(source.span_at(1, 1, 1))))
            .help("a plan starts with `version: 1`, a `name`, `providers` and `steps`; see plans/ for examples"));
    };
    let Some(version) = root.get("version") else {
        return Err(Diagnostic::error(
            "plan.version-missing",
            "the plan does not say which format version it is written in",
        )
        .at(Some(source.span_at(1, 1, 1)))
        .help(format!(
            "add `version: 1` as the first key (supported versions: {supported})"
        )));
    };
    let span = || map.value_span(source, "/version");
    match version.as_u64() {
        Some(v) if SUPPORTED_VERSIONS.contains(&v) => Ok(()),
        Some(v) => Err(Diagnostic::error(
            "plan.version-unsupported",
            format!("plan format version {v} is not supported by this callplan"),
        )
        .at(span())
        .help(format!(
            "supported versions: {supported}; a newer callplan may read version {v}"
        ))),
        None => {
            let shown = serde_yaml::to_string(version).unwrap_or_default();
            Err(Diagnostic::error(
                "plan.version-unsupported",
                format!("`version` must be a whole number, found `{}`", shown.trim()),
            )
            .at(span())
            .help(format!(
                "write `version: 1` (supported versions: {supported})"
            )))
        }
    }
}

/// serde_yaml's value → JSON, refusing what JSON cannot hold (tags, NaN, non-scalar keys).
fn to_json(
    value: serde_yaml::Value,
    at: &At<'_>,
    depth: usize,
    source: &Source,
    map: &SourceMap,
) -> Result<Value, Diagnostic> {
    use serde_yaml::Value as Y;
    if depth > source::MAX_DEPTH {
        return Err(Diagnostic::error(
            "yaml.too-deep",
            format!("the plan nests deeper than {} levels", source::MAX_DEPTH),
        )
        .at(map.value_span(source, &at.pointer()))
        .help("flatten this structure; no plan needs this much nesting"));
    }
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                // An integer past 128 bits reaches here as a float: refuse it like a narrower
                // one rather than keep a rounded value (its text is looked up only then).
                if f.fract() == 0.0 && !(-9.3e18..=1.9e19).contains(&f) {
                    let pointer = at.pointer();
                    if let Some(node) = map.exact(&pointer)
                        && is_integer_literal(source.slice(node.value))
                    {
                        let written = source.slice(node.value).trim();
                        return Err(too_wide(written, source.span(node.value)));
                    }
                }
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| {
                        Diagnostic::error(
                            "yaml.number",
                            format!("`{n}` is not a number a plan can hold"),
                        )
                        .at(map.value_span(source, &at.pointer()))
                        .help("quote it if it is meant as text")
                    })?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                out.push(to_json(item, &At::Index(at, i), depth + 1, source, map)?);
            }
            Value::Array(out)
        }
        Y::Mapping(m) => {
            let mut out = serde_json::Map::with_capacity(m.len());
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => {
                        return Err(
                            Diagnostic::error("yaml.key", "a mapping key is empty (null)")
                                .at(map.value_span(source, &at.pointer()))
                                .help("give every key a name"),
                        );
                    }
                    _ => {
                        return Err(Diagnostic::error(
                            "yaml.key",
                            "mapping keys must be plain names, not lists or mappings",
                        )
                        .at(map.value_span(source, &at.pointer()))
                        .help("a value that starts with `{` or `[` is read as YAML; quote templates: `\"{{ … }}\"`"));
                    }
                };
                let v = to_json(v, &At::Key(at, &key), depth + 1, source, map)?;
                out.insert(key, v);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            return Err(Diagnostic::error(
                "yaml.tag",
                format!("YAML tags such as `{}` are not supported in plans", t.tag),
            )
            .at(map.value_span(source, &at.pointer()))
            .help("remove the tag; plans hold plain strings, numbers, lists and mappings"));
        }
    })
}

/// Where a node is while converting: turned into a JSON pointer only when an error needs one
/// (building a string per node would cost more than the conversion).
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn pointer(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(parent, key) => source::child(&parent.pointer(), key),
            At::Index(parent, i) => source::child(&parent.pointer(), &i.to_string()),
        }
    }
}
