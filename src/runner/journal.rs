//! The journal: what a run has done, appended and fsynced as it goes, so that a run killed at
//! any moment can be resumed without dialing anyone twice.
//!
//! One JSON object per line:
//!
//! - `{"kind":"run", …}` when a run (or a resume) starts, with the plan's SHA-256;
//! - `{"kind":"sending","step":…,"item":…}` before a request that creates something (a call, a
//!   callback, a contact) leaves: written ahead, so that after a crash the journal knows a
//!   request may have reached the provider;
//! - `{"kind":"done","step":…,"item":…,"outcome":…,"saved":{…}}` when a step or item finishes;
//! - `{"kind":"end","run_id":…,"status":…}` when a run ends, interrupted runs included (a journal
//!   without one after its last `run` record was killed).
//!
//! Resuming skips what is done (restoring its saved values) and reports an item that was
//! `sending` but never `done` as of unknown fate instead of sending it again, unless its step
//! allows unsafe retries.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::events::Outcome;

/// An open journal, appended to.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    /// Masks secrets in every record, as in every report.
    redactor: Option<std::sync::Arc<crate::report::Redactor>>,
}

/// A step (by id) or one of its `for_each` items.
pub type Key = (String, Option<usize>);

/// How a step or item ended, what it saved, and why it did not pass.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its outcome.
    pub outcome: Outcome,
    /// Its saved values.
    pub saved: IndexMap<String, Value>,
    /// Why it did not pass (a resume shows it again).
    pub message: Option<String>,
}

/// What an earlier run recorded.
#[derive(Debug, Default, Clone)]
pub struct Resume {
    /// Finished steps and items.
    pub done: HashMap<Key, Finished>,
    /// Creates that were sent and never finished: when each left, and what it dialed.
    pub unknown: HashMap<Key, crate::provider::reconcile::Sent>,
    /// The plan's SHA-256 when the journal was started.
    pub plan_sha256: Option<String>,
    /// How many creates the earlier runs sent for dialing steps (for `max_calls`).
    pub sent: u64,
}

fn outcome_of(name: &str) -> Option<Outcome> {
    Some(match name {
        "passed" => Outcome::Passed,
        "failed" => Outcome::Failed,
        "errored" => Outcome::Errored,
        "skipped" => Outcome::Skipped,
        _ => return None,
    })
}

impl Resume {
    /// Reads a journal. A last line cut short by a crash is ignored; any other unreadable line
    /// is an error naming it.
    pub fn read(path: &Path) -> Result<Resume, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut resume = Resume::default();
        let count = lines.len();
        for (n, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(_) if n + 1 == count => break,
                Err(e) => return Err(format!("{}:{}: {e}", path.display(), n + 1)),
            };
            let key = || {
                (
                    record["step"].as_str().unwrap_or_default().to_owned(),
                    record["item"].as_u64().map(|i| i as usize),
                )
            };
            match record["kind"].as_str() {
                Some("run") if resume.plan_sha256.is_none() => {
                    resume.plan_sha256 = record["plan_sha256"].as_str().map(str::to_owned);
                }
                Some("sending") => {
                    resume.sent += u64::from(record["dials"].as_bool().unwrap_or(false));
                    let at = record["at"]
                        .as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .map_or(std::time::UNIX_EPOCH, |t| {
                            t.with_timezone(&chrono::Utc).into()
                        });
                    let with = record["with"]
                        .as_object()
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default();
                    resume
                        .unknown
                        .insert(key(), crate::provider::reconcile::Sent { at, with });
                }
                Some("done") => {
                    let key = key();
                    resume.unknown.remove(&key);
                    let outcome = record["outcome"]
                        .as_str()
                        .and_then(outcome_of)
                        .unwrap_or(Outcome::Errored);
                    let saved = record["saved"]
                        .as_object()
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default();
                    let message = record["message"].as_str().map(str::to_owned);
                    resume.done.insert(
                        key,
                        Finished {
                            outcome,
                            saved,
                            message,
                        },
                    );
                }
                _ => {}
            }
        }
        Ok(resume)
    }
}

impl Journal {
    /// Opens (or creates) a journal for appending.
    pub fn open(path: &Path) -> Result<Journal, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let fail = |e: std::io::Error| format!("{}: {e}", path.display());
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(fail)?;
        // One run at a time: two runs on one journal would each dial what the other has not
        // recorded yet. The lock lasts as long as the file is open (the process, at most), and
        // is taken before the journal is read or repaired.
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => format!(
                "{} is in use by another run of callplan; wait for it to end, or give this run a journal of its own",
                path.display()
            ),
            std::fs::TryLockError::Error(e) => fail(e),
        })?;
        // A run killed in the middle of a write leaves a torn last line: cut it off, so that
        // what is appended next starts on a line of its own.
        if let Ok(bytes) = std::fs::read(path)
            && !bytes.is_empty()
            && !bytes.ends_with(b"\n")
        {
            let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            file.set_len(keep as u64).map_err(fail)?;
            file.sync_all().map_err(fail)?;
        }
        Ok(Journal {
            path: path.to_owned(),
            file: Mutex::new(file),
            redactor: None,
        })
    }

    /// Masks secrets in every record from now on (a journal holds messages and saved values,
    /// and is kept like a report).
    pub fn masked_with(mut self, redactor: std::sync::Arc<crate::report::Redactor>) -> Journal {
        self.redactor = Some(redactor);
        self
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and makes it durable before returning.
    fn append(&self, record: &Value) -> Result<(), String> {
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut line = match &self.redactor {
            Some(r) => r.mask(&record.to_string()),
            None => record.to_string(),
        };
        line.push('\n');
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("journal {}: {e}", self.path.display()))
    }

    /// A run (or a resume) starts.
    pub fn start(
        &self,
        run_id: &str,
        plan_sha256: &str,
        resumed: bool,
        at: std::time::SystemTime,
    ) -> Result<(), String> {
        self.append(&json!({
            "kind": "run",
            "run_id": run_id,
            "plan_sha256": plan_sha256,
            "resumed": resumed,
            "at": crate::call::timestamp(at),
        }))
    }

    /// The run ended (`status` as the JSON report says it: `passed`, `interrupted`, …).
    pub fn end(&self, run_id: &str, status: &str, at: std::time::SystemTime) -> Result<(), String> {
        self.append(&json!({
            "kind": "end",
            "run_id": run_id,
            "status": status,
            "at": crate::call::timestamp(at),
        }))
    }

    /// A request that creates something is about to leave.
    ///
    /// `with` holds what a resume needs to look the create up at the provider (the dialed
    /// number, the user or session), `at` when it left.
    pub fn sending(
        &self,
        step: &str,
        item: Option<usize>,
        dials: bool,
        with: &IndexMap<String, Value>,
        at: std::time::SystemTime,
    ) -> Result<(), String> {
        self.append(&json!({
            "kind": "sending",
            "step": step,
            "item": item,
            "dials": dials,
            "with": with,
            "at": crate::call::timestamp(at),
        }))
    }

    /// What a resume found out about a create of unknown fate.
    pub fn reconciled(&self, step: &str, item: Option<usize>, found: &str) -> Result<(), String> {
        self.append(&json!({ "kind": "reconciled", "step": step, "item": item, "found": found }))
    }

    /// A step or item finished.
    pub fn done(&self, step: &str, item: Option<usize>, finished: &Finished) -> Result<(), String> {
        self.append(&json!({
            "kind": "done",
            "step": step,
            "item": item,
            "outcome": finished.outcome.name(),
            "saved": finished.saved,
            "message": finished.message,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_reads_back_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let journal = Journal::open(&path).unwrap();
        journal
            .start("r1", "abc", false, std::time::SystemTime::now())
            .unwrap();
        journal
            .sending(
                "dial",
                Some(0),
                true,
                &IndexMap::new(),
                std::time::SystemTime::now(),
            )
            .unwrap();
        let mut saved = IndexMap::new();
        saved.insert("id".to_owned(), json!("c-1"));
        let finished = Finished {
            outcome: Outcome::Passed,
            saved,
            message: None,
        };
        journal.done("dial", Some(0), &finished).unwrap();
        journal
            .sending(
                "dial",
                Some(1),
                true,
                &IndexMap::new(),
                std::time::SystemTime::now(),
            )
            .unwrap();
        drop(journal);
        // A crash in the middle of a write.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"kind\":\"done\",\"st").unwrap();
        let resume = Resume::read(&path).unwrap();
        // Appending after the crash cuts the torn line off first.
        Journal::open(&path)
            .unwrap()
            .start("r2", "abc", true, std::time::SystemTime::now())
            .unwrap();
        assert_eq!(Resume::read(&path).unwrap().done.len(), 1);
        assert_eq!(resume.plan_sha256.as_deref(), Some("abc"));
        assert_eq!(resume.done.len(), 1);
        let done = &resume.done[&("dial".to_owned(), Some(0))];
        assert_eq!(done.outcome, Outcome::Passed);
        assert_eq!(done.saved["id"], "c-1");
        assert!(resume.unknown.contains_key(&("dial".to_owned(), Some(1))));
        assert_eq!(resume.sent, 2);
    }

    #[test]
    fn a_broken_line_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"kind\":\"run\"}\nnot json\n{\"kind\":\"run\"}\n").unwrap();
        let err = Resume::read(&path).unwrap_err();
        assert!(err.contains("j.jsonl:2"), "{err}");
    }
}
