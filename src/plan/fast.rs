//! Reading a plain plan straight into JSON, in one pass of saphyr-parser.
//!
//! The full path ([`super::parse`]) reads the text with serde_yaml (libyaml), builds its `Value`,
//! reads `version`, applies merge keys and converts the result to JSON, judging every node on the
//! way (tags, null or complex keys, numbers JSON cannot hold, nesting). Almost every plan has none
//! of those, and for a large one libyaml and the intermediate `Value` cost more than everything
//! else `check` does. This reader takes saphyr-parser's events (the parser the position map
//! already uses, and the faster of the two) and builds the JSON directly, resolving plain scalars
//! by the same rules serde_yaml applies (YAML 1.2's core schema: `null`, `true`, `0x1f`, `1e3`,
//! `007` stays text).
//!
//! It declines, by answering `None`, at the first thing the full path has to judge or where the
//! two YAML readers could disagree: anchors, aliases, tags, directives, complex or null keys,
//! merge keys, a key written twice, tabs and the line breaks only YAML 1.1 knows, numbers JSON
//! cannot hold, nesting past [`MAX_DEPTH`], more than one document, and every syntax error. The
//! full path then reads the text and gives exactly the findings it always gave. A plan read here
//! is the JSON the full path makes of it: a test compares the two on every plan in the
//! repository, and the fuzz harness on every input it makes.

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};
use std::num::ParseIntError;

use super::source::{Children, MAX_DEPTH, NodePos, Placed, Region, SourceMap};

/// libyaml refuses an implicit key whose `:` is more than 1,024 characters after its start
/// (YAML 1.2, 7.4.2); saphyr-parser does not. Where a line is longer than this, every key is
/// checked to end its `:` within it (with room for quotes and blanks), or left to the full path.
const MAX_KEY_SPAN: usize = 1000;

/// The plan as JSON, with where each node is written, or `None` when the full path must read
/// it. Only for text whose every line [`super::budget::simple`] follows (as libyaml's scanner
/// reads it): the two readers accept different things outside it, such as `|` inside a flow
/// mapping or a flow mapping broken across lines.
pub(super) fn read(text: &str) -> Option<(Value, Placed)> {
    // Without a final line break, a block scalar ending the text keeps one in saphyr-parser.
    if !text.ends_with('\n') {
        return None;
    }
    let longest = plain_text(text)?;
    // Each line's length in characters, when some key could be too far from its `:`.
    let lines: Option<Vec<usize>> =
        (longest > MAX_KEY_SPAN).then(|| text.split('\n').map(|l| l.chars().count()).collect());
    // Directives and document markers: libyaml refuses some uses saphyr-parser accepts (a text
    // of `...` lines), and a plan is one implicit document.
    if ["%", "---", "..."]
        .iter()
        .any(|m| text.starts_with(m) || text.contains(&format!("\n{m}")))
    {
        return None;
    }
    if text.len() < LARGE {
        return build(Parser::new_from_str(text).map(Result::ok), lines.as_deref());
    }
    // A large plan: saphyr-parser reads the text on one thread while this one builds from its
    // events, in batches. When the building declines, the channel closes and the reading stops.
    std::thread::scope(|scope| {
        let (batches, received) = std::sync::mpsc::sync_channel::<Vec<Option<Item<'_>>>>(8);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for item in Parser::new_from_str(text) {
                let failed = item.is_err();
                batch.push(item.ok());
                if batch.len() == BATCH || failed {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if batches.send(full).is_err() || failed {
                        return;
                    }
                }
            }
            let _ = batches.send(batch);
        });
        build(received.into_iter().flatten(), lines.as_deref())
    })
}

/// From this size on, a plan is large: its text is read on a thread of its own (see [`read`]),
/// and the whole read runs beside the budget check ([`super::parse`]).
pub(super) const LARGE: usize = 64 * 1024;

/// Events handed over at a time.
const BATCH: usize = 2048;

/// One event of saphyr-parser with where it is written.
type Item<'a> = (Event<'a>, saphyr_parser::Span);

/// The JSON and the positions from the events of one text; `None` stands for a syntax error.
fn build<'a>(
    events: impl Iterator<Item = Option<Item<'a>>>,
    lines: Option<&[usize]>,
) -> Option<(Value, Placed)> {
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(Value, Placed)> = None;
    let mut documents = 0;
    for item in events {
        let (event, span) = item?;
        let region = Region::from_yaml(&span);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return None;
                }
            }
            Event::Alias(_) => return None,
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                if let Some(Open::Map {
                    key: key @ None, ..
                }) = stack.last_mut()
                {
                    let name = name(&value, style)?;
                    if name == "<<" {
                        return None;
                    }
                    *key = Some((name, region));
                    continue;
                }
                let value = if style == ScalarStyle::Plain {
                    resolve(&value)?
                } else {
                    Value::String(value.into_owned())
                };
                let at = NodePos {
                    key: pending_key(&stack),
                    value: region,
                };
                if !key_near(at, lines) {
                    return None;
                }
                let placed = Placed {
                    at,
                    children: Children::None,
                };
                place(&mut stack, &mut root, value, placed)?;
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if anchor != 0 || tag.is_some() || stack.len() >= MAX_DEPTH {
                    return None;
                }
                // A list or mapping as a mapping key.
                if let Some(Open::Map { key: None, .. }) = stack.last() {
                    return None;
                }
                let at = NodePos {
                    key: pending_key(&stack),
                    value: region,
                };
                if !key_near(at, lines) {
                    return None;
                }
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Open::Map {
                        at,
                        entries: Map::new(),
                        placed: Vec::new(),
                        key: None,
                    }
                } else {
                    Open::Seq {
                        at,
                        items: Vec::new(),
                        placed: Vec::new(),
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, placed) = match stack.pop()? {
                    Open::Seq { at, items, placed } => (
                        Value::Array(items),
                        Placed {
                            at,
                            children: Children::Seq(placed),
                        },
                    ),
                    Open::Map {
                        at,
                        entries,
                        mut placed,
                        key: None,
                    } => {
                        placed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                        (
                            Value::Object(entries),
                            Placed {
                                at,
                                children: Children::Map(placed),
                            },
                        )
                    }
                    Open::Map { key: Some(_), .. } => return None,
                };
                place(&mut stack, &mut root, value, placed)?;
            }
        }
    }
    // The root sits at depth 0; the deepest list or mapping opened was checked on the way in.
    root
}

/// A list or mapping being read, with its position and its children's; a mapping holds the
/// key waiting for its value.
enum Open {
    Seq {
        at: NodePos,
        items: Vec<Value>,
        placed: Vec<Placed>,
    },
    Map {
        at: NodePos,
        entries: Map<String, Value>,
        placed: Vec<(String, Placed)>,
        key: Option<(String, Region)>,
    },
}

/// Whether the `:` after the key of an entry (if it is one) is certainly within
/// [`MAX_KEY_SPAN`] of the key's start: its value starts within that on the key's line, or the
/// key's whole line is within it. Always, when no line is that long.
fn key_near(at: NodePos, lines: Option<&[usize]>) -> bool {
    let (Some(key), Some(lines)) = (at.key, lines) else {
        return true;
    };
    let end = if at.value.line == key.line {
        at.value.col
    } else {
        lines
            .get(key.line.saturating_sub(1))
            .copied()
            .unwrap_or(usize::MAX)
    };
    end.saturating_sub(key.col) <= MAX_KEY_SPAN
}

/// Where the key of the entry a value is about to fill is written.
fn pending_key(stack: &[Open]) -> Option<Region> {
    match stack.last() {
        Some(Open::Map {
            key: Some((_, region)),
            ..
        }) => Some(*region),
        _ => None,
    }
}

/// Puts a complete value where it belongs: the root, the open list, or the open mapping's key.
fn place(
    stack: &mut [Open],
    root: &mut Option<(Value, Placed)>,
    value: Value,
    at: Placed,
) -> Option<()> {
    match stack.last_mut() {
        None if root.is_none() => *root = Some((value, at)),
        None => return None,
        Some(Open::Seq { items, placed, .. }) => {
            items.push(value);
            placed.push(at);
        }
        Some(Open::Map {
            entries,
            placed,
            key,
            ..
        }) => {
            let (key, _) = key.take()?;
            placed.push((key.clone(), at));
            match entries.entry(key) {
                serde_json::map::Entry::Vacant(entry) => {
                    entry.insert(value);
                }
                // A key written twice (or twice once converted, as `1` and "1"): the full path
                // reports it, or settles it as it always has.
                serde_json::map::Entry::Occupied(_) => return None,
            }
        }
    }
    Some(())
}

/// True when the text holds only what both YAML readers read alike: the characters libyaml
/// accepts (YAML 1.1's printable set; saphyr-parser accepts control characters it refuses), no
/// tab, none of the line breaks only YAML 1.1 knows (NEL, LS, PS), no byte-order mark inside, and
/// `\r` only in `\r\n` line ends. Answers the longest line's length in characters.
fn plain_text(text: &str) -> Option<usize> {
    let mut after_cr = false;
    let (mut column, mut longest) = (0, 0);
    for c in text.chars() {
        column = if c == '\n' { 0 } else { column + 1 };
        longest = longest.max(column);
        if after_cr && c != '\n' {
            return None;
        }
        after_cr = c == '\r';
        let printable = matches!(c, '\n' | '\r' | ' '..='~')
            || matches!(c, '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
                && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}');
        if !printable {
            return None;
        }
    }
    (!after_cr).then_some(longest)
}

/// A scalar mapping key as the full path names it: text as written; a plain integer or boolean
/// as its value's text. Null and float keys are left to the full path.
fn name(value: &str, style: ScalarStyle) -> Option<String> {
    if style != ScalarStyle::Plain {
        return Some(value.to_owned());
    }
    match resolve(value)? {
        Value::String(s) => Some(s),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) if !n.is_f64() => Some(n.to_string()),
        _ => None,
    }
}

/// Whole floats past these bounds may be integers too wide for a plan: the full path words that.
const WHOLE: std::ops::RangeInclusive<f64> = -9.3e18..=1.9e19;

/// A plain scalar's value by serde_yaml's rules (YAML 1.2 core schema). `None`: an integer wider
/// than 64 bits or a float JSON cannot hold, which the full path refuses with its own words.
fn resolve(v: &str) -> Option<Value> {
    if v.is_empty() || matches!(v, "null" | "Null" | "NULL" | "~") {
        return Some(Value::Null);
    }
    match v {
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    // Numbers start with a digit, a sign or a point (`.5`, `.inf`); everything else is text.
    if !v.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return Some(Value::String(v.to_owned()));
    }
    if let Some(u) = unsigned(v, u64::from_str_radix) {
        return Some(Value::from(u));
    }
    if let Some(i) = negative(v, i64::from_str_radix) {
        return Some(Value::from(i));
    }
    if unsigned(v, u128::from_str_radix).is_some() || negative(v, i128::from_str_radix).is_some() {
        return None;
    }
    if !leading_zero_digits(v)
        && let Some(f) = float(v)
    {
        if f.fract() == 0.0 && !WHOLE.contains(&f) {
            return None;
        }
        return Number::from_f64(f).map(Value::Number);
    }
    Some(Value::String(v.to_owned()))
}

/// A non-negative integer: decimal, `0x`, `0o` or `0b`, with an optional `+`.
fn unsigned<T>(v: &str, radix: fn(&str, u32) -> Result<T, ParseIntError>) -> Option<T> {
    let unsigned = v.strip_prefix('+').unwrap_or(v);
    for (prefix, base) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unsigned.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(n) = radix(rest, base) {
                return Some(n);
            }
        }
    }
    if unsigned.starts_with(['+', '-']) || leading_zero_digits(v) {
        return None;
    }
    radix(unsigned, 10).ok()
}

/// A negative integer: decimal, `-0x`, `-0o` or `-0b`.
fn negative<T>(v: &str, radix: fn(&str, u32) -> Result<T, ParseIntError>) -> Option<T> {
    for (prefix, base) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = v.strip_prefix(prefix)
            && let Ok(n) = radix(&format!("-{rest}"), base)
        {
            return Some(n);
        }
    }
    if leading_zero_digits(v) {
        return None;
    }
    radix(v, 10).ok()
}

/// A float, `.inf` and `.nan` included (JSON refuses the last two later).
fn float(v: &str) -> Option<f64> {
    let unsigned = match v.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => v,
    };
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return Some(f64::INFINITY);
    }
    if matches!(v, "-.inf" | "-.Inf" | "-.INF") {
        return Some(f64::NEG_INFINITY);
    }
    if matches!(v, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    unsigned.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Digits after a leading zero (`007`, `-01`): text, as YAML 1.2 says.
fn leading_zero_digits(v: &str) -> bool {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    digits.len() > 1 && digits.starts_with('0') && digits[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Whether this reader, where it reads `text` at all, reads the JSON the full path reads (the
/// full path's `version` check aside). For the tests and the fuzz harness.
pub fn agrees(text: &str) -> bool {
    if !super::budget::simple(text) {
        return true;
    }
    read(text).is_none_or(|(fast, placed)| {
        full(text).as_ref() == Some(&fast) && placed_as_walked(text, &placed, &fast)
    })
}

/// Whether every node of `value` is placed where the position walk places it.
fn placed_as_walked(text: &str, placed: &Placed, value: &Value) -> bool {
    fn all(value: &Value, pointer: &str, same: &mut dyn FnMut(&str) -> bool) -> bool {
        same(pointer)
            && match value {
                Value::Array(items) => items.iter().enumerate().all(|(i, item)| {
                    all(item, &super::source::child(pointer, &i.to_string()), same)
                }),
                Value::Object(entries) => entries
                    .iter()
                    .all(|(k, v)| all(v, &super::source::child(pointer, k), same)),
                _ => true,
            }
    }
    let source = super::source::Source::new("plan.yaml", text.to_owned());
    let walked = SourceMap::lazy(&source);
    let tree = SourceMap::placed(&source, placed.clone());
    all(value, "", &mut |pointer| {
        walked.exact(pointer) == tree.exact(pointer) && walked.get(pointer) == tree.get(pointer)
    })
}

/// The full path's JSON for `text`; `None` where it finds a mistake.
fn full(text: &str) -> Option<Value> {
    let source = super::source::Source::new("plan.yaml", text.to_owned());
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    super::yaml_to_json(yaml, &source, &SourceMap::lazy(&source)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_full_path_reads() {
        for text in [
            "version: 1\nname: x\nsteps: [1, -2, 3.5, true, null, ~, '', \"s\", 0x10, 0o7, 1e3]\n",
            "a:\n  b: [c, {d: e}]\n  'f g': |\n    block\n    text\n  h: >-\n    folded\n    line\n",
            "1: one\ntrue: yes\n-5: minus\n18446744073709551615: max\n",
            "on: off\ny: n\nempty:\nnothing: ~\n",
            "big: 9007199254740993\nneg: -9223372036854775808\nf: -0.0\nz: 007\nm: -0x1f\n",
            "f: [+1, +0x10, -0o17, 0b101, 1_000, 1.5e-3, +.inf2, .5, 5., 1e400x]\n",
            "s: \"esc \\\" \\u00e9 \\n \\t\"\nq: 'it''s'\nplain: a b  c\nmulti: one\n  two\n",
            "list:\n- a\n- - b\n  - c\n-\n- {x: }\n",
            "crlf: 1\r\nblock: |\r\n  a\r\n  b\r\n",
            "k: \"{{ vars.x }}\"\nt: '{{ item }}'\nu: http://example.com:8080/a?b=c#d\n",
            "# only a comment and a key\nk: v # trailing\n",
        ] {
            let fast = read(text).map(|(value, _)| value);
            assert!(fast.is_some(), "declined: {text:?}");
            assert_eq!(fast, full(text), "{text:?}");
            assert!(agrees(text), "{text:?}");
        }
    }

    #[test]
    fn leaves_to_the_full_path_what_it_must_judge() {
        for text in [
            "a: 1\na: 2\n",
            "1: x\n'1': y\n",
            "base: &b {x: 1}\nm: {<<: *b, y: 2}\n",
            "anchors: &a {x: 1}\nuse: *a\n",
            "t: !custom x\n",
            "s: !!str 12\n",
            "? [a]\n: x\n",
            "~: x\n",
            "1.5: x\n",
            "n: .nan\n",
            "i: .inf\n",
            "w: 1e30\n",
            "w: 123456789012345678901234567890\n",
            "a: [\n",
            "a: 1\n---\nb: 2\n",
            "%YAML 1.2\n---\na: 1\n",
            "---\nexplicit: start\n...\n",
            "# y\n...\n...\n",
            "a:\tb\n",
            "a: b\rc: d\n",
            "a: b\r",
            "name: \x01\x02\n",
            "name: \u{7f}\n",
            "name: \u{9f}\n",
            "name: a\u{2028}b\n",
            "name: \u{ffff}\n",
        ] {
            assert!(read(text).is_none(), "{text:?}");
        }
        let deep =
            "a: ".to_owned() + &"[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1) + "\n";
        assert!(read(&deep).is_none());
        let deepest =
            "a: ".to_owned() + &"[".repeat(MAX_DEPTH - 1) + &"]".repeat(MAX_DEPTH - 1) + "\n";
        assert_eq!(read(&deepest).map(|(value, _)| value), full(&deepest));
        assert!(agrees(&deepest));
        // A key too far from its `:` is left to the full path; a long value is read.
        let far = format!("{}: v\n", "k".repeat(MAX_KEY_SPAN + 30));
        assert!(read(&far).is_none());
        let flow_key = format!("m: {{ {}: v }}\n", "k".repeat(MAX_KEY_SPAN + 30));
        assert!(read(&flow_key).is_none());
        let long = format!("k: [{}]\nnext:\n  - x\n", vec!["1"; 2000].join(", "));
        assert!(read(&long).is_some());
        assert!(agrees(&long));
        assert!(read("a: |\n  no final line break").is_none());
    }

    /// A large text is read on two threads: the same JSON and positions, and a decline or a
    /// syntax error anywhere ends the reading.
    #[test]
    fn reads_a_large_text_in_a_pipeline() {
        let mut text = String::from("version: 1\nsteps:\n");
        let mut i = 0;
        while text.len() < 4 * LARGE {
            text.push_str(&format!(
                "  - id: s{i}\n    with: {{ path: \"/items/{{{{ item }}}}\", n: {i}, f: {i}.5 }}\n    expect: [response.status == 200]\n"
            ));
            i += 1;
        }
        let (value, _) = read(&text).expect("read");
        assert_eq!(Some(value), full(&text));
        assert!(agrees(&text));
        let anchored = text.replacen("steps:", "steps: &all", 1);
        assert!(read(&anchored).is_none());
        let broken = text.clone() + "  - id: [unclosed\n";
        assert!(read(&broken).is_none());
    }

    /// Every plan and fixture in the repository, valid or not: where this reader reads one, it
    /// reads what the full path reads; and it reads every valid example plan.
    #[test]
    fn agrees_on_every_plan_in_the_repository() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("readable").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    out.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["plans", "tests"] {
            walk(&root.join(dir), &mut files);
        }
        assert!(files.len() > 150, "found {} plans", files.len());
        let mut read_fast = 0;
        for path in &files {
            // Fixtures that are not UTF-8 are checked as the plan reader shows them.
            let text =
                String::from_utf8_lossy(&std::fs::read(path).expect("readable")).into_owned();
            assert!(agrees(&text), "{} reads differently", path.display());
            let fast = super::super::budget::simple(&text) && read(&text).is_some();
            read_fast += usize::from(fast);
            if path.starts_with(root.join("plans")) {
                assert!(fast, "{} not read in one pass", path.display());
            }
        }
        assert!(
            read_fast > files.len() / 2,
            "{read_fast} of {} read fast",
            files.len()
        );
    }
}
