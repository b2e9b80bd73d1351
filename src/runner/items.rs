//! `for_each` sources: an inline list, a CSV file (its header row names the fields), a JSON
//! array or JSON Lines. Files are read as the run goes, one item at a time; a malformed row
//! becomes an error item that names its line, handled by the step's `on_error`.
//!
//! Every file is read through a cap of [`MAX_DATA_BYTES`]: a FIFO or a device such as
//! `/dev/zero` named as a data file ends in one error item, never in unbounded reading.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;

use crate::plan::model::{ForEachSource, Step};

/// Data files hold contact lists: hundreds of thousands of rows fit; more is refused.
pub const MAX_DATA_BYTES: u64 = 64 * 1024 * 1024;

/// One item, or what is wrong with it (with its line).
pub type Item = Result<Value, String>;

/// An item with the line of its file it starts on (CSV rows and JSON Lines; `None` for the items
/// of an inline list or a JSON array).
pub type Located = (Option<u64>, Item);

/// The items of a step's source, in order. A JSON Lines line that is not an object is an error
/// item (naming its line) when the step reads fields of its item (`item.phone`).
pub fn for_step(step: &Step, source: &ForEachSource) -> Box<dyn Iterator<Item = Item> + Send> {
    iterate(source, reads_fields(step))
}

/// [`for_step`], each item with its line.
pub fn located_for_step(
    step: &Step,
    source: &ForEachSource,
) -> Box<dyn Iterator<Item = Located> + Send> {
    located(source, reads_fields(step))
}

/// The items of a source, in order; with `objects`, every JSON Lines line must be an object.
pub fn iterate(source: &ForEachSource, objects: bool) -> Box<dyn Iterator<Item = Item> + Send> {
    Box::new(located(source, objects).map(|(_, item)| item))
}

fn located(source: &ForEachSource, objects: bool) -> Box<dyn Iterator<Item = Located> + Send> {
    match source {
        ForEachSource::Inline(items) => Box::new(items.clone().into_iter().map(|v| (None, Ok(v)))),
        ForEachSource::Csv(path) => csv_items(path),
        ForEachSource::Json(path) => Box::new(json_items(path).map(|item| (None, item))),
        ForEachSource::Jsonl(path) => jsonl_items(path, objects),
        // Rendered by the runner into the list it names before the step runs.
        ForEachSource::Saved(template) => Box::new(std::iter::once((
            None,
            Err(format!(
                "`for_each: {template}` was not rendered into a list"
            )),
        ))),
    }
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
fn visit_templates(step: &Step, f: &mut dyn FnMut(&str, bool, &str)) {
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
        .map_err(|e| format!("{}: {}", path.display(), crate::plan::io_reason(&e)))
}

/// Ends an item stream after its first error that is not about one row: an unreadable or
/// oversized file would otherwise repeat the same error for ever.
fn fuse_after_fatal(
    items: impl Iterator<Item = (Located, bool)> + Send + 'static,
) -> Box<dyn Iterator<Item = Located> + Send> {
    let mut done = false;
    Box::new(items.map_while(move |(item, fatal)| {
        if done {
            return None;
        }
        done = fatal;
        Some(item)
    }))
}

fn csv_items(path: &Path) -> Box<dyn Iterator<Item = Located> + Send> {
    let file = match open(path) {
        Ok(f) => f,
        Err(e) => return Box::new(std::iter::once((None, Err(e)))),
    };
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(file);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Box::new(std::iter::once((
                None,
                Err(format!("{}: the header row: {e}", path.display())),
            )));
        }
    };
    let shown = path.display().to_string();
    fuse_after_fatal(reader.into_records().map(move |record| {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
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
                return ((Some(line), Err(format!("{shown}:{line}: {why}"))), fatal);
            }
        };
        let line = record.position().map(|p| p.line());
        let mut map = serde_json::Map::new();
        for (name, value) in headers.iter().zip(record.iter()) {
            map.insert(name.to_owned(), Value::String(value.to_owned()));
        }
        ((line, Ok(Value::Object(map))), false)
    }))
}

fn json_items(path: &Path) -> Box<dyn Iterator<Item = Item> + Send> {
    let parsed = open(path).and_then(|f| {
        serde_json::from_reader::<_, Vec<Value>>(BufReader::new(f)).map_err(|e| {
            if e.is_io() {
                format!("{}: {e}", path.display())
            } else {
                format!("{}:{}: {e}", path.display(), e.line())
            }
        })
    });
    match parsed {
        Ok(items) => Box::new(items.into_iter().map(Ok)),
        Err(e) => Box::new(std::iter::once(Err(e))),
    }
}

fn jsonl_items(path: &Path, objects: bool) -> Box<dyn Iterator<Item = Located> + Send> {
    let file = match open(path) {
        Ok(f) => f,
        Err(e) => return Box::new(std::iter::once((None, Err(e)))),
    };
    let shown = path.display().to_string();
    fuse_after_fatal(
        BufReader::new(file)
            .lines()
            .enumerate()
            .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
            .map(move |(i, line)| {
                let number = Some(i as u64 + 1);
                let at = format!("{shown}:{}", i + 1);
                let line = match line {
                    Ok(line) => line,
                    Err(e) => return ((number, Err(format!("{at}: {e}"))), true),
                };
                let item = match serde_json::from_str::<Value>(&line) {
                    Err(e) => Err(format!("{at}: malformed line: {e}")),
                    Ok(value) if objects && !value.is_object() => Err(format!(
                        "{at}: the line is {}, not a JSON object, and the step reads its fields",
                        kind(&value)
                    )),
                    Ok(value) => Ok(value),
                };
                ((number, item), false)
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
    fn csv_and_jsonl_items_carry_the_line_they_start_on() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "name,phone\n\"Ada\nL.\",+13175550100\nBad\nGrace,+13175550101\n"
        )
        .unwrap();
        let lines: Vec<Option<u64>> = located(&ForEachSource::Csv(file.path().to_owned()), true)
            .map(|(line, _)| line)
            .collect();
        assert_eq!(lines, vec![Some(2), Some(4), Some(5)]);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "{{\"a\":1}}\n\n{{\"a\":2}}\n").unwrap();
        let lines: Vec<Option<u64>> = located(&ForEachSource::Jsonl(file.path().to_owned()), true)
            .map(|(line, _)| line)
            .collect();
        assert_eq!(lines, vec![Some(1), Some(3)]);
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
