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
//!
//! One thread writes the file. Callers hand it a record and wait until it is durable; the
//! thread writes every record queued meanwhile and makes them durable with one `fdatasync`
//! (group commit). A record is still on disk before its caller goes on (a `sending` record
//! before its request leaves), but a campaign with 64 rows in flight costs one sync per batch
//! instead of one per record, and no pool of blocking threads (each with its own allocator
//! heap) grows to wait on a mutex around the file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::events::Outcome;

/// An open journal, appended to by its writer thread.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// Records on their way to the writer thread (`None` once the journal is closed).
    queue: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Masks secrets in every record, as in every report.
    redactor: Option<std::sync::Arc<crate::report::Redactor>>,
}

/// One line to append, and who waits for it to be durable.
#[derive(Debug)]
struct Job {
    line: String,
    reply: Reply,
}

/// Where the writer says a record is durable (or why it is not).
#[derive(Debug)]
enum Reply {
    /// A task of the runtime awaits it.
    Task(tokio::sync::oneshot::Sender<Result<(), String>>),
    /// A plain thread blocks on it (the run's first and last records).
    Thread(mpsc::SyncSender<Result<(), String>>),
}

impl Reply {
    fn send(self, result: Result<(), String>) {
        // A caller that stopped waiting (its task was cancelled) needs no answer.
        let _ = match self {
            Reply::Task(tx) => tx.send(result).map_err(drop),
            Reply::Thread(tx) => tx.send(result).map_err(drop),
        };
    }
}

/// The writer thread: takes what is queued, writes it in one go, syncs once, answers each.
fn write_batches(mut file: File, path: &Path, jobs: &mpsc::Receiver<Job>) {
    let mut batch = Vec::new();
    let mut replies = Vec::new();
    while let Ok(first) = jobs.recv() {
        batch.clear();
        let mut push = |job: Job| {
            batch.extend_from_slice(job.line.as_bytes());
            replies.push(job.reply);
        };
        push(first);
        while let Ok(job) = jobs.try_recv() {
            push(job);
        }
        let result = file
            .write_all(&batch)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("journal {}: {e}", path.display()));
        for reply in replies.drain(..) {
            reply.send(result.clone());
        }
    }
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
        let (queue, jobs) = mpsc::channel();
        let owned = path.to_owned();
        let writer = std::thread::Builder::new()
            .name("callplan-journal".into())
            .spawn(move || write_batches(file, &owned, &jobs))
            .map_err(fail)?;
        Ok(Journal {
            path: path.to_owned(),
            queue: Some(queue),
            writer: Some(writer),
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

    /// The record as its line: masked, ended.
    fn line_of(&self, record: &Value) -> String {
        let mut line = match &self.redactor {
            Some(r) => r.mask(&record.to_string()),
            None => record.to_string(),
        };
        line.push('\n');
        line
    }

    /// Hands a line to the writer thread.
    fn enqueue(&self, line: String, reply: Reply) -> Result<(), String> {
        let closed = || format!("journal {}: closed", self.path.display());
        self.queue
            .as_ref()
            .ok_or_else(closed)?
            .send(Job { line, reply })
            .map_err(|_| closed())
    }

    /// Appends one record; returns once it is durable. Blocks the calling thread: for the
    /// records written before and after the steps run.
    fn append(&self, record: &Value) -> Result<(), String> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(self.line_of(record), Reply::Thread(tx))?;
        rx.recv()
            .map_err(|_| format!("journal {}: its writer stopped", self.path.display()))?
    }

    /// Appends one record; resolves once it is durable, without holding a thread meanwhile.
    async fn append_async(&self, record: &Value) -> Result<(), String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(self.line_of(record), Reply::Task(tx))?;
        rx.await
            .map_err(|_| format!("journal {}: its writer stopped", self.path.display()))?
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
    pub async fn sending(
        &self,
        step: &str,
        item: Option<usize>,
        dials: bool,
        with: &IndexMap<String, Value>,
        at: std::time::SystemTime,
    ) -> Result<(), String> {
        self.append_async(&json!({
            "kind": "sending",
            "step": step,
            "item": item,
            "dials": dials,
            "with": with,
            "at": crate::call::timestamp(at),
        }))
        .await
    }

    /// What a resume found out about a create of unknown fate.
    pub async fn reconciled(
        &self,
        step: &str,
        item: Option<usize>,
        found: &str,
    ) -> Result<(), String> {
        self.append_async(
            &json!({ "kind": "reconciled", "step": step, "item": item, "found": found }),
        )
        .await
    }

    /// A step or item finished.
    pub async fn done(
        &self,
        step: &str,
        item: Option<usize>,
        finished: &Finished,
    ) -> Result<(), String> {
        self.append_async(&json!({
            "kind": "done",
            "step": step,
            "item": item,
            "outcome": finished.outcome.name(),
            "saved": finished.saved,
            "message": finished.message,
        }))
        .await
    }
}

impl Drop for Journal {
    /// Closes the queue and lets the writer finish what is queued.
    fn drop(&mut self) {
        self.queue = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_journal_reads_back_and_a_torn_last_line_is_ignored() {
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
            .await
            .unwrap();
        let mut saved = IndexMap::new();
        saved.insert("id".to_owned(), json!("c-1"));
        let finished = Finished {
            outcome: Outcome::Passed,
            saved,
            message: None,
        };
        journal.done("dial", Some(0), &finished).await.unwrap();
        journal
            .sending(
                "dial",
                Some(1),
                true,
                &IndexMap::new(),
                std::time::SystemTime::now(),
            )
            .await
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_from_many_tasks_are_each_durable_when_their_caller_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let journal = std::sync::Arc::new(Journal::open(&path).unwrap());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let (journal, path) = (journal.clone(), path.clone());
                tokio::spawn(async move {
                    let finished = Finished {
                        outcome: Outcome::Passed,
                        saved: IndexMap::new(),
                        message: None,
                    };
                    journal.done("dial", Some(i), &finished).await.unwrap();
                    // Written by the time its caller goes on, whatever else was queued.
                    let resume = Resume::read(&path).unwrap();
                    assert!(resume.done.contains_key(&("dial".to_owned(), Some(i))));
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        drop(journal);
        let resume = Resume::read(&path).unwrap();
        assert_eq!(resume.done.len(), 200);
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
