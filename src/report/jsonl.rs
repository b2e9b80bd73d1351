//! The JSONL report: one line per step run or `for_each` item, streamed to disk as the run
//! goes, so that a campaign of any size keeps every item's details without holding them in
//! memory. Lines keep row order: an item that finishes early waits (serialized) until the items
//! before it are written, but no more than [`MAX_WAITING`] of them or [`MAX_WAITING_BYTES`] in
//! all: past that, a slow row (a call that rings for a minute while thousands of later rows
//! finish) is written when it finishes, after the rows that overtook it, and memory stays flat.
//! Every line names its item, so readers that need strict order can sort. The file is written beside its final path and renamed into place when
//! the run ends, as the other reports are.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::Redactor;
use super::model::ItemReport;
use crate::runner::events::{Event, Sink};

/// How many finished items may wait for a slower one before them.
const MAX_WAITING: usize = 1024;
/// How many bytes of lines may wait for a slower item before them.
const MAX_WAITING_BYTES: usize = 4 << 20;

struct Open {
    file: BufWriter<tempfile::NamedTempFile>,
    /// Finished items waiting for those before them: (step index, item) → line.
    waiting: BTreeMap<(usize, usize), String>,
    /// The bytes in `waiting`.
    waiting_bytes: usize,
    /// The lines of flow rows' steps, until their row is written.
    rows: HashMap<(usize, usize), Vec<String>>,
    /// Per step, the next item to write.
    next: HashMap<usize, usize>,
    failed: Option<String>,
}

/// The JSONL report's sink.
pub struct ItemLog {
    /// As given (what messages show).
    path: PathBuf,
    /// What is written: the end of `path`'s symlinks.
    target: PathBuf,
    open: Mutex<Option<Open>>,
    redactor: Arc<Redactor>,
}

impl std::fmt::Debug for ItemLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemLog").field("path", &self.path).finish()
    }
}

impl ItemLog {
    /// Starts a JSONL report that will end up at `path`.
    pub fn create(path: PathBuf, redactor: Arc<Redactor>) -> std::io::Result<ItemLog> {
        // Through a symlink to its target, renamed into place in the target's directory.
        let target = super::destination::resolve(&path).map_err(std::io::Error::other)?;
        let dir = super::destination::directory_of(&target);
        std::fs::create_dir_all(&dir)?;
        let file = tempfile::NamedTempFile::new_in(&dir)?;
        Ok(ItemLog {
            path,
            target,
            open: Mutex::new(Some(Open {
                file: BufWriter::new(file),
                waiting: BTreeMap::new(),
                waiting_bytes: 0,
                rows: HashMap::new(),
                next: HashMap::new(),
                failed: None,
            })),
            redactor,
        })
    }

    /// Where it ends up.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Writes what is still waiting and renames the file into place (once; later calls do
    /// nothing).
    pub fn finish(&self) -> std::io::Result<()> {
        let Some(mut open) = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return Ok(());
        };
        let waiting = std::mem::take(&mut open.waiting);
        for line in waiting.into_values() {
            write_line(&mut open, &line);
        }
        if let Some(e) = open.failed {
            return Err(std::io::Error::other(e));
        }
        let file = open.file.into_inner().map_err(|e| e.into_error())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        file.as_file().sync_all()?;
        file.persist(&self.target).map_err(|e| e.error)?;
        Ok(())
    }
}

fn write_line(open: &mut Open, line: &str) {
    if open.failed.is_some() {
        return;
    }
    if let Err(e) = writeln!(open.file, "{line}") {
        open.failed = Some(e.to_string());
    }
}

impl Sink for ItemLog {
    fn event(&self, event: &Event) {
        let Event::StepFinished(r) = event else {
            return;
        };
        let mut line = serde_json::json!({ "step": r.id, "step_index": r.index });
        if let (Some(map), Some(inner)) = (line.as_object_mut(), &r.inner) {
            // A flow row's step: which step of the row.
            map.insert("row_step".into(), inner.id.clone().into());
            map.insert("row_step_position".into(), inner.position.into());
        }
        if let (Some(map), Ok(serde_json::Value::Object(item))) = (
            line.as_object_mut(),
            serde_json::to_value(ItemReport::of(r, &self.redactor)),
        ) {
            map.extend(item);
        }
        let line = self.redactor.mask(&line.to_string());
        let mut guard = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(open) = guard.as_mut() else {
            return;
        };
        let Some(item) = r.item else {
            write_line(open, &line);
            return;
        };
        // A row's steps are written with their row, just before it, in the rows' order.
        if r.inner.is_some() {
            open.rows.entry((r.index, item)).or_default().push(line);
            return;
        }
        let mut group = open.rows.remove(&(r.index, item)).unwrap_or_default();
        group.push(line);
        let group = group.join("\n");
        let mut next = open.next.get(&r.index).copied().unwrap_or(0);
        if item < next {
            // Overtaken: the rows after it were written when too many waited.
            write_line(open, &group);
            return;
        }
        open.waiting_bytes += group.len();
        open.waiting.insert((r.index, item), group);
        // Too many wait for a slow row: the oldest go now, and the slow row when it finishes.
        while open.waiting.len() > MAX_WAITING || open.waiting_bytes > MAX_WAITING_BYTES {
            let Some(((step, first), line)) = open.waiting.pop_first() else {
                break;
            };
            open.waiting_bytes -= line.len();
            write_line(open, &line);
            if step == r.index {
                next = next.max(first + 1);
            } else {
                let other = open.next.entry(step).or_default();
                *other = (*other).max(first + 1);
            }
        }
        while let Some(line) = open.waiting.remove(&(r.index, next)) {
            open.waiting_bytes -= line.len();
            write_line(open, &line);
            next += 1;
        }
        open.next.insert(r.index, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::events::{Outcome, StepResult};
    use std::time::Duration;

    fn item(i: usize) -> Event {
        Event::StepFinished(Box::new(StepResult {
            index: 0,
            id: "dial".into(),
            name: "dial".into(),
            provider: "gc".into(),
            action: "calls.create_for_user".into(),
            item: Some(i),
            source: None,
            outcome: Outcome::Passed,
            inner: None,
            message: None,
            hint: None,
            status: Some(200),
            attempts: Vec::new(),
            duration: Duration::ZERO,
            queued: Duration::ZERO,
            saved: indexmap::IndexMap::new(),
            correlation_id: None,
            call: None,
            ignored: false,
            always: false,
            started: Duration::ZERO,
            request: None,
            response: None,
        }))
    }

    fn items_written(path: &std::path::Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .expect("the report")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
                v["item"].as_u64().expect("an item")
            })
            .collect()
    }

    #[test]
    fn lines_keep_row_order_when_rows_finish_out_of_order() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("r.jsonl");
        let log = ItemLog::create(path.clone(), Arc::new(Redactor::default())).expect("created");
        for i in [2, 0, 3, 1, 4] {
            log.event(&item(i));
        }
        log.finish().expect("finished");
        assert_eq!(items_written(&path), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_slow_row_holds_back_a_bounded_number_of_lines() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("r.jsonl");
        let log = ItemLog::create(path.clone(), Arc::new(Redactor::default())).expect("created");
        // Row 0 rings for ever while 5,000 later rows finish.
        for i in 1..=5_000 {
            log.event(&item(i));
            let open = log.open.lock().expect("not poisoned");
            let open = open.as_ref().expect("open");
            assert!(open.waiting.len() <= MAX_WAITING, "{}", open.waiting.len());
        }
        log.event(&item(0));
        log.finish().expect("finished");
        let written = items_written(&path);
        // Every row once; the slow one after those that overtook it, the rest in order.
        let mut sorted = written.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..=5_000).collect::<Vec<u64>>());
        let slow = written.iter().position(|i| *i == 0).expect("row 0");
        assert!(slow >= 5_000 - MAX_WAITING, "{slow}");
        let others: Vec<u64> = written.iter().copied().filter(|i| *i != 0).collect();
        assert!(others.windows(2).all(|w| w[0] < w[1]), "in order");
    }
}
