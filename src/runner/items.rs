//! `for_each` sources: an inline list, a CSV file (its header row names the fields), a JSON
//! array or JSON Lines. Files are read as the run goes, one item at a time; a malformed row
//! becomes an error item that names its line, handled by the step's `on_error`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use crate::plan::model::ForEachSource;

/// One item, or what is wrong with it (with its line).
pub type Item = Result<Value, String>;

/// The items of a source, in order.
pub fn iterate(source: &ForEachSource) -> Box<dyn Iterator<Item = Item> + Send> {
    match source {
        ForEachSource::Inline(items) => Box::new(items.clone().into_iter().map(Ok)),
        ForEachSource::Csv(path) => csv_items(path),
        ForEachSource::Json(path) => json_items(path),
        ForEachSource::Jsonl(path) => jsonl_items(path),
        // Rendered by the runner into the list it names before the step runs.
        ForEachSource::Saved(template) => Box::new(std::iter::once(Err(format!(
            "`for_each: {template}` was not rendered into a list"
        )))),
    }
}

fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn csv_items(path: &Path) -> Box<dyn Iterator<Item = Item> + Send> {
    let file = match open(path) {
        Ok(f) => f,
        Err(e) => return Box::new(std::iter::once(Err(e))),
    };
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(file);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Box::new(std::iter::once(Err(format!(
                "{}: the header row: {e}",
                path.display()
            ))));
        }
    };
    let shown = path.display().to_string();
    Box::new(reader.into_records().map(move |record| {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            let why = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("{len} fields where the header has {expected_len}"),
                _ => e.to_string(),
            };
            format!("{shown}:{line}: malformed row: {why}")
        })?;
        let mut map = serde_json::Map::new();
        for (name, value) in headers.iter().zip(record.iter()) {
            map.insert(name.to_owned(), Value::String(value.to_owned()));
        }
        Ok(Value::Object(map))
    }))
}

fn json_items(path: &Path) -> Box<dyn Iterator<Item = Item> + Send> {
    let parsed = open(path).and_then(|f| {
        serde_json::from_reader::<_, Vec<Value>>(BufReader::new(f))
            .map_err(|e| format!("{}:{}: {e}", path.display(), e.line()))
    });
    match parsed {
        Ok(items) => Box::new(items.into_iter().map(Ok)),
        Err(e) => Box::new(std::iter::once(Err(e))),
    }
}

fn jsonl_items(path: &Path) -> Box<dyn Iterator<Item = Item> + Send> {
    let file = match open(path) {
        Ok(f) => f,
        Err(e) => return Box::new(std::iter::once(Err(e))),
    };
    let shown = path.display().to_string();
    Box::new(
        BufReader::new(file)
            .lines()
            .enumerate()
            .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
            .map(move |(i, line)| {
                let line = line.map_err(|e| format!("{shown}:{}: {e}", i + 1))?;
                serde_json::from_str(&line)
                    .map_err(|e| format!("{shown}:{}: malformed line: {e}", i + 1))
            }),
    )
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
        let items: Vec<Item> = iterate(&ForEachSource::Csv(file.path().to_owned())).collect();
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
        let items: Vec<Item> = iterate(&ForEachSource::Json(file.path().to_owned())).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap()["a"], 1);
        assert_eq!(items[1].as_ref().unwrap(), "two");
        let mut bad = tempfile::NamedTempFile::new().unwrap();
        write!(bad, "[1,\n2,\n{{oops]").unwrap();
        let items: Vec<Item> = iterate(&ForEachSource::Json(bad.path().to_owned())).collect();
        assert_eq!(items.len(), 1);
        assert!(items[0].as_ref().unwrap_err().contains(":3:"), "{items:?}");
    }

    #[test]
    fn jsonl_skips_blank_lines_and_names_bad_ones() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "{{\"a\":1}}\n\n{{oops\n{{\"a\":2}}\n").unwrap();
        let items: Vec<Item> = iterate(&ForEachSource::Jsonl(file.path().to_owned())).collect();
        assert_eq!(items.len(), 3);
        assert!(
            items[1]
                .as_ref()
                .unwrap_err()
                .contains(":3: malformed line")
        );
    }
}
