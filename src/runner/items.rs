//! `for_each` sources: an inline list, a CSV file (its header row names the fields), a JSON
//! array or JSON Lines. Files are read as the run goes, one item at a time; a malformed row
//! becomes an error item that names its line, handled by the step's `on_error`.
//!
//! Every file is read through a cap of [`MAX_DATA_BYTES`]: a FIFO or a device such as
//! `/dev/zero` named as a data file ends in one error item, never in unbounded reading.
//!
//! Each item comes with its [`Source`], the line it starts on, so that every report can point
//! at it: a CSV row's line counting the header, a JSON Lines line, the first line of a JSON
//! array's element, the plan's line of an inline item.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;

use crate::plan::model::{ForEachSource, Step};

/// Data files hold contact lists: hundreds of thousands of rows fit; more is refused.
pub const MAX_DATA_BYTES: u64 = 64 * 1024 * 1024;

/// One item, or what is wrong with it (with its line).
pub type Item = Result<Value, String>;

/// Where a `for_each` item is written: a file and the line it starts on.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[schemars(rename = "ItemSource")]
pub struct Source {
    /// The data file, as the plan names it joined to the plan's directory (so relative to where
    /// callplan ran, like the plan's own path), or the plan itself for an inline list.
    pub file: String,
    /// The line the item starts on, from 1 (a CSV file's header row is line 1).
    #[schemars(range(min = 1))]
    pub line: u64,
}

impl std::fmt::Display for Source {
    /// `contacts.csv:9`, as compilers and editors write a place in a file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

impl Source {
    fn at(file: &str, line: u64) -> Option<Source> {
        (line > 0).then(|| Source {
            file: file.to_owned(),
            line,
        })
    }
}

/// An item and where it is written (`None` for a list an earlier step saved, or an error about
/// the whole file).
#[derive(Debug, Clone)]
pub struct Located {
    /// The item, or what is wrong with it.
    pub item: Item,
    /// Where it is written.
    pub source: Option<Source>,
}

impl Located {
    /// An item, or an error, that is not written anywhere one line could name.
    pub fn nowhere(item: Item) -> Located {
        Located { item, source: None }
    }
}

type Items = Box<dyn Iterator<Item = Located> + Send>;

/// The items of a step's source, in order. A JSON Lines line that is not an object is an error
/// item (naming its line) when the step reads fields of its item (`item.phone`).
pub fn for_step(step: &Step, source: &ForEachSource) -> Box<dyn Iterator<Item = Item> + Send> {
    Box::new(located(step, source).map(|l| l.item))
}

/// [`for_step`], each item with where it is written.
pub fn located(step: &Step, source: &ForEachSource) -> Items {
    iterate_located(source, reads_fields(step))
}

/// The items of a source, in order; with `objects`, every JSON Lines line must be an object.
pub fn iterate(source: &ForEachSource, objects: bool) -> Box<dyn Iterator<Item = Item> + Send> {
    Box::new(iterate_located(source, objects).map(|l| l.item))
}

/// [`iterate`], each item with where it is written.
pub fn iterate_located(source: &ForEachSource, objects: bool) -> Items {
    match source {
        ForEachSource::Inline { items, file, lines } => {
            let file = shown(file);
            let lines = lines.clone();
            Box::new(items.clone().into_iter().enumerate().map(move |(k, v)| {
                let line = lines.get(k).copied().unwrap_or(0) as u64;
                Located {
                    item: Ok(v),
                    source: Source::at(&file, line),
                }
            }))
        }
        ForEachSource::Csv(path) => csv_items(path),
        ForEachSource::Json(path) => json_items(path),
        ForEachSource::Jsonl(path) => jsonl_items(path, objects),
        // Rendered by the runner into the list it names before the step runs.
        ForEachSource::Saved(template) => Box::new(std::iter::once(Located::nowhere(Err(
            format!("`for_each: {template}` was not rendered into a list"),
        )))),
    }
}

/// A path as reports show it: as joined to the plan's directory, without a leading `./`.
fn shown(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}

/// Whether any template of the step (or of a flow's steps) reads a field of the item.
fn reads_fields(step: &Step) -> bool {
    let env = crate::template::environment();
    let mut found = false;
    visit_templates(step, &mut |text, expression, item| {
        let names = if expression {
            crate::template::check_expression(&env, text)
        } else if crate::template::is_template(text) {
            crate::template::check_template(&env, text)
        } else {
            return;
        };
        let field = format!("{item}.");
        found |= names.is_ok_and(|names| names.iter().any(|n| n.starts_with(&field)));
    });
    found
}

/// Calls `f(text, is_expression, item_name)` on every template and expression of a step.
pub(super) fn visit_templates(step: &Step, f: &mut dyn FnMut(&str, bool, &str)) {
    fn strings(value: &Value, item: &str, f: &mut dyn FnMut(&str, bool, &str)) {
        match value {
            Value::String(s) => f(s, false, item),
            Value::Array(items) => items.iter().for_each(|v| strings(v, item, f)),
            Value::Object(map) => map.values().for_each(|v| strings(v, item, f)),
            _ => {}
        }
    }
    let item = step.item_name.as_str();
    step.with.values().for_each(|v| strings(v, item, f));
    step.save.values().for_each(|t| f(t, false, item));
    step.condition.iter().for_each(|c| f(c, true, item));
    step.expect.iter().for_each(|e| f(e, true, item));
    for inner in step.flow().unwrap_or_default() {
        visit_templates(inner, f);
    }
}

/// A reader that fails once more than `limit` bytes were asked of it.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a file of exactly the limit from a longer one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(too_large())),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn too_large() -> String {
    format!(
        "the file is larger than {} MiB; split it, or run the plan once per part",
        MAX_DATA_BYTES / (1024 * 1024)
    )
}

fn open(path: &Path) -> Result<Capped<File>, String> {
    File::open(path)
        .map(|inner| Capped {
            inner,
            left: MAX_DATA_BYTES,
        })
        .map_err(|e| format!("{}: {}", shown(path), crate::plan::io_reason(&e)))
}

/// Ends an item stream after its first error that is not about one row: an unreadable or
/// oversized file would otherwise repeat the same error for ever.
fn fuse_after_fatal(items: impl Iterator<Item = (Located, bool)> + Send + 'static) -> Items {
    let mut done = false;
    Box::new(items.map_while(move |(item, fatal)| {
        if done {
            return None;
        }
        done = fatal;
        Some(item)
    }))
}

fn csv_items(path: &Path) -> Items {
    let shown = shown(path);
    let file = match open(path) {
        Ok(f) => f,
        Err(e) => return Box::new(std::iter::once(Located::nowhere(Err(e)))),
    };
    let (file, mut lines) = LineCounter::wrap(file);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(file);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Box::new(std::iter::once(Located::nowhere(Err(format!(
                "{shown}: the header row: {e}"
            )))));
        }
    };
    fuse_after_fatal(reader.into_records().map(move |record| {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                let (why, fatal) = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => (
                        format!("malformed row: {len} fields where the header has {expected_len}"),
                        false,
                    ),
                    csv::ErrorKind::Io(io) => (io.to_string(), true),
                    _ => (format!("malformed row: {e}"), false),
                };
                let item = Located {
                    item: Err(format!("{shown}:{line}: {why}")),
                    source: Source::at(&shown, line),
                };
                return (item, fatal);
            }
        };
        let mut map = serde_json::Map::new();
        for (name, value) in headers.iter().zip(record.iter()) {
            map.insert(name.to_owned(), Value::String(value.to_owned()));
        }
        // The line the record starts on (a quoted field may hold line breaks).
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        let item = Located {
            item: Ok(Value::Object(map)),
            source: Source::at(&shown, line),
        };
        (item, false)
    }))
}

/// Where the line breaks of a CSV file are, for the line a record starts on. The csv crate's
/// line numbers leave out the blank lines it skips, and a record's byte offset points at the
/// first of the blank lines before it; its byte offsets are exact otherwise.
///
/// The reader notes each line break as the bytes go by, and whether its line was blank; the
/// records, asked for in order, retire the breaks before them, so only the breaks of the bytes
/// read ahead are held.
struct LineCounter<R> {
    inner: R,
    read: u64,
    /// What the current line holds so far: nothing, only `\r`, or more.
    line: LineSoFar,
    breaks: Breaks,
}

type Breaks = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<(u64, bool)>>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum LineSoFar {
    Empty,
    CarriageReturn,
    Text,
}

/// The records' side of a [`LineCounter`].
struct Lines {
    breaks: Breaks,
    /// Line breaks retired so far.
    passed: u64,
}

impl<R: Read> LineCounter<R> {
    fn wrap(inner: R) -> (LineCounter<R>, Lines) {
        let breaks = Breaks::default();
        let lines = Lines {
            breaks: std::sync::Arc::clone(&breaks),
            passed: 0,
        };
        let counter = LineCounter {
            inner,
            read: 0,
            line: LineSoFar::Empty,
            breaks,
        };
        (counter, lines)
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut breaks = self
            .breaks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, byte) in buf[..n].iter().enumerate() {
            self.line = match (*byte, self.line) {
                (b'\n', line) => {
                    breaks.push_back((self.read + i as u64, line != LineSoFar::Text));
                    LineSoFar::Empty
                }
                (b'\r', LineSoFar::Empty) => LineSoFar::CarriageReturn,
                _ => LineSoFar::Text,
            };
        }
        self.read += n as u64;
        Ok(n)
    }
}

impl Lines {
    /// The line (from 1) a record reported at byte `offset` starts on; records are asked about
    /// in order.
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut breaks = self
            .breaks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A record's offset is its first byte, or the `\n` that ended the line before it (after
        // a `\r`), or the first of the blank lines before it: the breaks up to it are behind.
        while breaks.front().is_some_and(|(at, _)| *at <= offset) {
            breaks.pop_front();
            self.passed += 1;
        }
        // The blank lines the reader skipped to reach the record.
        while breaks.front().is_some_and(|(_, blank)| *blank) {
            breaks.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

fn json_items(path: &Path) -> Items {
    let shown = shown(path);
    let mut bytes = Vec::new();
    let read = open(path).and_then(|mut f| {
        f.read_to_end(&mut bytes)
            .map_err(|e| format!("{shown}: {e}"))
    });
    if let Err(e) = read {
        return Box::new(std::iter::once(Located::nowhere(Err(e))));
    }
    match elements(&bytes) {
        Some(items) => Box::new(items.into_iter().map(move |(value, line)| Located {
            item: Ok(value),
            source: Source::at(&shown, line),
        })),
        // Not an array of JSON values: serde_json says where and why, for the whole file.
        None => {
            let why = match serde_json::from_slice::<Vec<Value>>(&bytes) {
                Err(e) => format!("{shown}:{}: {e}", e.line()),
                Ok(_) => format!("{shown}: not a JSON array"),
            };
            Box::new(std::iter::once(Located::nowhere(Err(why))))
        }
    }
}

/// The elements of a JSON array, each with the line it starts on; `None` when `bytes` is not
/// one JSON array. serde_json parses each element (from where the previous one ended) and tells
/// how far it read; only the whitespace, commas and brackets between elements are scanned here,
/// since serde_json does not report where in the text a value of a sequence began.
fn elements(bytes: &[u8]) -> Option<Vec<(Value, u64)>> {
    let blank = |from: usize| {
        from + bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count()
    };
    let mut at = blank(0);
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    at = blank(at + 1);
    let mut out = Vec::new();
    let (mut line, mut counted) = (1u64, 0usize);
    if bytes.get(at) == Some(&b']') {
        return (blank(at + 1) == bytes.len()).then_some(out);
    }
    loop {
        line += bytes[counted..at].iter().filter(|b| **b == b'\n').count() as u64;
        counted = at;
        let mut stream = serde_json::Deserializer::from_slice(&bytes[at..]).into_iter::<Value>();
        let value = stream.next()?.ok()?;
        out.push((value, line));
        at = blank(at + stream.byte_offset());
        match bytes.get(at) {
            Some(b',') => at = blank(at + 1),
            Some(b']') => return (blank(at + 1) == bytes.len()).then_some(out),
            _ => return None,
        }
    }
}

fn jsonl_items(path: &Path, objects: bool) -> Items {
    let shown = shown(path);
    let file = match open(path) {
        Ok(f) => f,
        Err(e) => return Box::new(std::iter::once(Located::nowhere(Err(e)))),
    };
    fuse_after_fatal(
        BufReader::new(file)
            .lines()
            .enumerate()
            .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
            .map(move |(i, line)| {
                let number = i as u64 + 1;
                let at = format!("{shown}:{number}");
                let source = Source::at(&shown, number);
                let line = match line {
                    Ok(line) => line,
                    Err(e) => {
                        let item = Located {
                            item: Err(format!("{at}: {e}")),
                            source,
                        };
                        return (item, true);
                    }
                };
                let item = match serde_json::from_str::<Value>(&line) {
                    Err(e) => Err(format!("{at}: malformed line: {e}")),
                    Ok(value) if objects && !value.is_object() => Err(format!(
                        "{at}: the line is {}, not a JSON object, and the step reads its fields",
                        kind(&value)
                    )),
                    Ok(value) => Ok(value),
                };
                (Located { item, source }, false)
            }),
    )
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn csv_rows_become_objects_and_bad_rows_name_their_line() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "name,phone\nAda,+13175550100\nBad\nGrace,+13175550101\n"
        )
        .unwrap();
        let items: Vec<Item> = iterate(&ForEachSource::Csv(file.path().to_owned()), true).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap()["phone"], "+13175550100");
        let bad = items[1].as_ref().unwrap_err();
        assert!(bad.contains(":3: malformed row"), "{bad}");
        assert_eq!(items[2].as_ref().unwrap()["name"], "Grace");
    }

    #[test]
    fn json_arrays_give_their_values_and_anything_else_is_one_located_error() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "[{{\"a\": 1}}, \"two\", 3]").unwrap();
        let items: Vec<Item> =
            iterate(&ForEachSource::Json(file.path().to_owned()), true).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap()["a"], 1);
        assert_eq!(items[1].as_ref().unwrap(), "two");
        let mut bad = tempfile::NamedTempFile::new().unwrap();
        write!(bad, "[1,\n2,\n{{oops]").unwrap();
        let items: Vec<Item> = iterate(&ForEachSource::Json(bad.path().to_owned()), true).collect();
        assert_eq!(items.len(), 1);
        assert!(items[0].as_ref().unwrap_err().contains(":3:"), "{items:?}");
    }

    #[test]
    fn jsonl_skips_blank_lines_and_names_bad_ones() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "{{\"a\":1}}\n\n{{oops\n{{\"a\":2}}\n").unwrap();
        let items: Vec<Item> =
            iterate(&ForEachSource::Jsonl(file.path().to_owned()), true).collect();
        assert_eq!(items.len(), 3);
        assert!(
            items[1]
                .as_ref()
                .unwrap_err()
                .contains(":3: malformed line")
        );
    }

    #[test]
    fn jsonl_lines_that_are_not_objects_name_their_line_when_fields_are_read() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "{{\"a\":1}}\n5\n\"text\"\n").unwrap();
        let source = ForEachSource::Jsonl(file.path().to_owned());
        let items: Vec<Item> = iterate(&source, true).collect();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok());
        let bad = items[1].as_ref().unwrap_err();
        assert!(
            bad.ends_with(
                ":2: the line is a number, not a JSON object, and the step reads its fields"
            ),
            "{bad}"
        );
        assert!(
            items[2]
                .as_ref()
                .unwrap_err()
                .contains(":3: the line is a string")
        );
        // A step that uses the item whole takes any JSON value.
        let items: Vec<Item> = iterate(&source, false).collect();
        assert!(items.iter().all(Result::is_ok), "{items:?}");
    }

    fn lines(items: Vec<Located>) -> Vec<Option<u64>> {
        items
            .into_iter()
            .map(|l| l.source.map(|s| s.line))
            .collect()
    }

    #[test]
    fn csv_rows_name_the_line_they_start_on_counting_the_header() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "name,phone\nAda,+13175550100\n\"Two\nlines\",+13175550101\nBad\n\nGrace,+13175550102\n"
        )
        .unwrap();
        let source = ForEachSource::Csv(file.path().to_owned());
        let items: Vec<Located> = iterate_located(&source, true).collect();
        let shown = file.path().display().to_string();
        assert_eq!(
            items[0].source,
            Some(Source {
                file: shown.clone(),
                line: 2
            })
        );
        assert_eq!(
            items[0].source.as_ref().unwrap().to_string(),
            format!("{shown}:2")
        );
        // A quoted field's line break; a malformed row; a blank line, skipped.
        assert_eq!(lines(items), [Some(2), Some(3), Some(5), Some(7)]);
        // Windows line ends, blank lines in a row.
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "a,b\r\n1,2\r\n\r\n\r\n3,4\r\n\n5,6").unwrap();
        let items: Vec<Located> =
            iterate_located(&ForEachSource::Csv(file.path().to_owned()), true).collect();
        assert_eq!(lines(items), [Some(2), Some(5), Some(7)]);
    }

    #[test]
    fn json_elements_name_the_line_they_start_on() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "[\n  {{\"a\": \"x, ] y\",\n   \"b\": [1,\n 2]}},\n  \"two\",\n\n  3, null,\n  {{}}\n]\n"
        )
        .unwrap();
        let items: Vec<Located> =
            iterate_located(&ForEachSource::Json(file.path().to_owned()), true).collect();
        assert_eq!(items[0].item.as_ref().unwrap()["b"][1], 2);
        assert_eq!(lines(items), [Some(2), Some(5), Some(7), Some(7), Some(8)]);
        for (text, expected) in [("[]", 0), (" [ ] ", 0), ("[1]", 1), ("[1,2,3]", 3)] {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            write!(file, "{text}").unwrap();
            let items: Vec<Located> =
                iterate_located(&ForEachSource::Json(file.path().to_owned()), true).collect();
            assert_eq!(items.len(), expected, "{text}");
            assert!(
                items.iter().all(|l| l.item.is_ok() && l.source.is_some()),
                "{text}"
            );
        }
        // Not one array: one error for the file, where serde_json says.
        for (text, line) in [
            ("[1,\n2,]", 2),
            ("{\"a\": 1}", 1),
            ("[1] [2]", 1),
            ("[1,\n\n2", 3),
        ] {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            write!(file, "{text}").unwrap();
            let items: Vec<Located> =
                iterate_located(&ForEachSource::Json(file.path().to_owned()), true).collect();
            assert_eq!(items.len(), 1, "{text}");
            let error = items[0].item.as_ref().unwrap_err();
            assert!(error.contains(&format!(":{line}: ")), "{text}: {error}");
            assert!(items[0].source.is_none());
        }
    }

    #[test]
    fn jsonl_lines_and_inline_items_name_their_line() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "{{\"a\":1}}\n\n{{oops\n{{\"a\":2}}\n").unwrap();
        let items: Vec<Located> =
            iterate_located(&ForEachSource::Jsonl(file.path().to_owned()), true).collect();
        assert_eq!(lines(items), [Some(1), Some(3), Some(4)]);
        let inline = ForEachSource::Inline {
            items: vec![Value::from(1), Value::from(2)],
            file: "./plans/p.yaml".into(),
            lines: vec![12, 13],
        };
        let items: Vec<Located> = iterate_located(&inline, true).collect();
        assert_eq!(
            items[1].source.as_ref().unwrap().to_string(),
            "plans/p.yaml:13"
        );
    }

    #[test]
    fn a_file_without_end_is_one_error_item() {
        let dev = std::path::PathBuf::from("/dev/zero");
        if !dev.exists() {
            return;
        }
        for source in [
            ForEachSource::Csv(dev.clone()),
            ForEachSource::Json(dev.clone()),
            ForEachSource::Jsonl(dev.clone()),
        ] {
            let items: Vec<Item> = iterate(&source, true).take(3).collect();
            assert_eq!(items.len(), 1, "{source:?}: {items:?}");
            let error = items[0].as_ref().unwrap_err();
            // JSON stops at the first byte, which is not JSON; the others read to the cap.
            if !matches!(source, ForEachSource::Json(_)) {
                assert!(error.contains("larger than 64 MiB"), "{source:?}: {error}");
            }
        }
    }
}
