//! What a run tells the world: the only interface between running and reporting.
//!
//! Every moment an event names comes from the run's one [`Clock`].

use std::time::{Duration, Instant, SystemTime};

use indexmap::IndexMap;
use serde_json::Value;

pub use super::items::Source;

/// A run's clock: one monotonic start and the wall time it stands for. Every moment a run
/// reports (its start, its end, when each step started) is read from it, so the report's
/// timestamps and offsets agree with each other.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    wall: SystemTime,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// When the run started (wall time).
    pub fn started_at(&self) -> SystemTime {
        self.wall
    }

    /// When the run started (monotonic).
    pub fn started(&self) -> Instant {
        self.start
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The wall time of a moment `offset` after the start.
    pub fn wall(&self, offset: Duration) -> SystemTime {
        self.wall + offset
    }

    /// Now, as wall time on this clock.
    pub fn now(&self) -> SystemTime {
        self.wall(self.elapsed())
    }
}

/// How a provider's login went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginResult {
    /// The provider's name.
    pub provider: String,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
    /// When it started, from the start of the run.
    pub started: Duration,
    /// Wall time.
    pub duration: Duration,
}

/// How a step (or one `for_each` item) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It did what it should.
    Passed,
    /// The provider answered, but not as expected (an unmet `expect`, a call that did not reach
    /// the wanted state).
    Failed,
    /// It could not be done: a transport, auth, template or timeout error, or an error status.
    Errored,
    /// Not run: its `if` was false, the run was aborted, or the guard refused it.
    Skipped,
}

impl Outcome {
    /// The name plans compare `steps.<id>.outcome` with.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
            Outcome::Skipped => "skipped",
        }
    }

    /// Failed or errored.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Errored)
    }
}

/// One attempt at a request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attempt {
    /// The status answered, if any.
    pub status: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// How long the provider took (from the moment it was sent).
    pub elapsed: Duration,
    /// How long it waited for its turn in callplan first (pacing, a pause after a 429).
    pub queued: Duration,
    /// The wait before the next attempt, if there was one.
    pub retry_after: Option<Duration>,
}

/// The result of a step, or of one item of a `for_each` step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepResult {
    /// The step's position in the plan.
    pub index: usize,
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// The provider's name.
    pub provider: String,
    /// The action.
    pub action: String,
    /// The `for_each` item or flow row (0-based), if any.
    pub item: Option<usize>,
    /// Where that item is written (its file and line), when it is.
    pub source: Option<Source>,
    /// For a step of a flow's row: which step (`id`, `name`, `action` above are the flow's).
    pub inner: Option<InnerStep>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, in words, when it did not pass (or was skipped).
    pub message: Option<String>,
    /// What to do about it, when callplan knows.
    pub hint: Option<String>,
    /// The last status answered.
    pub status: Option<u16>,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// Wall time.
    pub duration: Duration,
    /// Of that, the time spent waiting for the provider's turn in callplan.
    pub queued: Duration,
    /// Values saved by `save`.
    pub saved: IndexMap<String, Value>,
    /// The vendor's correlation id of the last answer.
    pub correlation_id: Option<String>,
    /// `response.call` of a call step (state, disconnect type…).
    pub call: Option<Value>,
    /// The failure does not fail the run (`on_error: ignore`).
    pub ignored: bool,
    /// An `always` step.
    pub always: bool,
    /// When it started, from the start of the run.
    pub started: Duration,
    /// The request, `METHOD /path` below the provider's API base.
    pub request: Option<String>,
    /// The last answer's body (its start is what reports show: [`Body::excerpt`]).
    pub response: Option<Body>,
}

/// An answer's body, shared with the answer: only the reports that keep an item cut its
/// excerpt (a `for_each` step of thousands of items keeps a few hundred).
#[derive(Debug, Clone)]
pub struct Body(pub std::sync::Arc<Value>);

/// How much of a body an excerpt keeps, in bytes.
const EXCERPT: usize = 2_000;

impl Body {
    /// The start of the body, as text.
    pub fn excerpt(&self) -> String {
        let text = match &*self.0 {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        if text.len() <= EXCERPT {
            return text;
        }
        let mut end = EXCERPT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    }
}

impl From<String> for Body {
    /// A body that is text (an answer that is not JSON is kept so).
    fn from(text: String) -> Body {
        Body(std::sync::Arc::new(Value::String(text)))
    }
}

impl serde::Serialize for Body {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.excerpt())
    }
}

/// How every output names a `for_each` item, or a step of a flow's row: the step's id, the item's
/// number from 1 in brackets (as `loop.index` counts), then the row's step: `dial[8]`,
/// `campaign[3].hangup`.
pub fn item_name(step: &str, item: usize, inner: Option<&str>) -> String {
    match inner {
        Some(inner) => format!("{step}[{}].{inner}", item + 1),
        None => format!("{step}[{}]", item + 1),
    }
}

impl StepResult {
    /// The result of step `step` (at `index` in the plan), item `item`, started `started` into
    /// the run, before anything is known of it: passed, nothing sent.
    pub fn of(
        index: usize,
        step: &crate::plan::model::Step,
        item: Option<usize>,
        started: Duration,
    ) -> StepResult {
        StepResult {
            index,
            id: step.id.clone(),
            name: step.name.clone(),
            provider: step.provider.clone(),
            action: step.action.name.to_owned(),
            item,
            source: None,
            inner: None,
            outcome: Outcome::Passed,
            message: None,
            hint: None,
            status: None,
            attempts: Vec::new(),
            duration: Duration::ZERO,
            queued: Duration::ZERO,
            saved: IndexMap::new(),
            correlation_id: None,
            call: None,
            ignored: false,
            always: step.always,
            started,
            request: None,
            response: None,
        }
    }

    /// [`item_name`] of this item or row step; `None` for a step without `for_each`.
    pub fn item_name(&self) -> Option<String> {
        let inner = self.inner.as_ref().map(|i| i.id.as_str());
        self.item.map(|i| item_name(&self.id, i, inner))
    }

    /// How every output names this run of the step: [`item_name`], or the step's id.
    pub fn display_name(&self) -> String {
        self.item_name().unwrap_or_else(|| self.id.clone())
    }

    /// [`StepResult::display_name`], written at the end of `out` (a console line is built in one
    /// buffer for every item).
    pub fn push_display_name(&self, out: &mut String) {
        use std::fmt::Write as _;
        out.push_str(&self.id);
        let Some(item) = self.item else {
            return;
        };
        let _ = write!(out, "[{}]", item + 1);
        if let Some(inner) = &self.inner {
            out.push('.');
            out.push_str(&inner.id);
        }
    }
}

/// A step of a flow, as run in one row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InnerStep {
    /// Its position in the flow, from 0.
    pub position: usize,
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// The provider's name.
    pub provider: String,
    /// The action.
    pub action: String,
    /// An `always` step of the row.
    pub always: bool,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every step passed (or failed with `on_error: ignore`).
    Passed,
    /// A step failed.
    Failed,
    /// It could not run: a provider's login failed, or the guard refused the first dial.
    CouldNotRun,
    /// Stopped by a signal (Ctrl-C, SIGTERM, SIGHUP).
    Interrupted,
}

impl RunStatus {
    /// Its name in reports, webhooks and the journal.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::CouldNotRun => "could_not_run",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// Something that happened during a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run began.
    RunStarted {
        /// The run's id.
        run_id: String,
        /// The plan's name.
        plan: String,
        /// The plan's file.
        path: std::path::PathBuf,
        /// The providers: name, type and where they point.
        providers: Vec<(String, String, String)>,
        /// How many steps.
        steps: usize,
        /// When.
        at: SystemTime,
    },
    /// A provider's login attempt failed and will be retried.
    LoginRetried {
        /// The provider's name.
        provider: String,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// What went wrong.
        error: String,
        /// When the next attempt goes.
        retry_in: Duration,
    },
    /// A provider's login ended (logged in, or gave up).
    LoginFinished(Box<LoginResult>),
    /// A step (or item) began.
    StepStarted {
        /// Position in the plan.
        index: usize,
        /// `id`.
        id: String,
        /// `for_each` item.
        item: Option<usize>,
    },
    /// An attempt failed and will be retried.
    AttemptFailed {
        /// Position in the plan.
        index: usize,
        /// `id` (of the row's step, for a step of a flow's row).
        id: String,
        /// `for_each` item.
        item: Option<usize>,
        /// How outputs name it: [`StepResult::display_name`].
        name: String,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// What went wrong.
        error: String,
        /// When the next attempt goes.
        retry_in: Duration,
    },
    /// A step (or item) ended.
    StepFinished(Box<StepResult>),
    /// A `for_each` step stopped launching its items or rows: how many it never started, and
    /// why (a signal, or a failure under `on_error: abort`).
    NotRun {
        /// Position in the plan.
        index: usize,
        /// `id`.
        id: String,
        /// `name`.
        name: String,
        /// Items or rows never started.
        count: u64,
        /// Why.
        reason: String,
    },
    /// Something worth telling the user that is not a step (sandbox credentials, …).
    Note(String),
    /// The run ended.
    RunFinished {
        /// How.
        status: RunStatus,
        /// Why, when it did not pass.
        reason: Option<String>,
        /// Wall time.
        duration: Duration,
        /// When.
        at: SystemTime,
    },
}

/// Receives events as they happen.
pub trait Sink: Send + Sync {
    /// One event.
    fn event(&self, event: &Event);
}
