//! The end of a run, however it ended: every report written (atomically, through symlinks), the
//! GitHub job summary appended, the journal's end record.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::outputs::ReportFile;
use crate::report::Format;
use crate::report::jsonl::ItemLog;
use crate::report::model::Collector;
use crate::report::notices::Notices;
use crate::runner::events::{Clock, RunStatus};
use crate::runner::journal::Journal;

/// Where a run's reports go.
pub(super) struct Reports {
    pub(super) files: Vec<ReportFile>,
    /// JSONL reports, streamed during the run.
    pub(super) logs: Vec<Arc<ItemLog>>,
    pub(super) collector: Arc<Collector>,
    pub(super) step_summary: Option<PathBuf>,
    pub(super) notices: Notices,
    /// The last filter on every file written.
    pub(super) redactor: Arc<crate::report::Redactor>,
}

impl Reports {
    /// Writes every report from the results so far (also after a failure or a signal).
    pub(super) fn write(&self) {
        for log in &self.logs {
            match log.finish() {
                Ok(()) => self
                    .notices
                    .line(&format!("report: {}", log.path().display())),
                Err(e) => self.notices.warning(&format!(
                    "cannot write the report {}: {e}",
                    log.path().display()
                )),
            }
        }
        let report = self.collector.snapshot();
        for file in &self.files {
            match crate::report::write_atomic(Path::new(&file.path), &file.format.render(&report)) {
                Ok(()) => self.notices.line(&format!("report: {}", file.path)),
                Err(e) => self
                    .notices
                    .warning(&format!("cannot write the report {}: {e}", file.path)),
            }
        }
        // GitHub Actions: the Markdown summary is appended to the job's summary.
        if let Some(summary) = &self.step_summary {
            let text = self.redactor.mask(&Format::Markdown.render(&report));
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(summary)
                .and_then(|mut f| f.write_all(format!("{text}\n").as_bytes()));
            if let Err(e) = appended {
                self.notices.warning(&format!(
                    "cannot append to $GITHUB_STEP_SUMMARY ({}): {e}",
                    summary.display()
                ));
            }
        }
    }
}

/// Closes the journal with its end record.
pub(super) fn close_journal(
    journal: Option<&Arc<Journal>>,
    run_id: &str,
    status: RunStatus,
    clock: &Clock,
    notices: &Notices,
) {
    if let Some(journal) = journal
        && let Err(e) = journal.end(run_id, status.name(), clock.now())
    {
        notices.warning(&e);
    }
}
