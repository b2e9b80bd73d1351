//! The JSONL report: one line per step run or `for_each` item, streamed to disk as the run
//! goes, so that a campaign of any size keeps every item's details without holding them in
//! memory. Lines keep row order: an item that finishes early waits (serialized) until the items
//! before it are written. The file is written beside its final path and renamed into place when
//! the run ends, as the other reports are.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::Redactor;
use super::model::ItemReport;
use crate::runner::events::{Event, Sink};

struct Open {
    file: BufWriter<tempfile::NamedTempFile>,
    /// Finished items waiting for those before them: (step index, item) → line.
    waiting: BTreeMap<(usize, usize), String>,
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
        open.waiting.insert((r.index, item), group.join("\n"));
        let mut next = open.next.get(&r.index).copied().unwrap_or(0);
        while let Some(line) = open.waiting.remove(&(r.index, next)) {
            write_line(open, &line);
            next += 1;
        }
        open.next.insert(r.index, next);
    }
}
