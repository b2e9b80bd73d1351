//! `notify:` webhooks: run and step lifecycle events POSTed as JSON to configured URLs.
//!
//! Delivery never holds the run up: events are queued to a background task that POSTs them in
//! order, each with a timeout and a few retries. A webhook that fails is reported as a warning,
//! never as a failure of the run. Payloads go through the run's [`Redactor`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Redactor;
use crate::plan::raw::NotifyEvent;
use crate::runner::events::{Clock, Event, Outcome, RunStatus, Sink};

/// One webhook, rendered.
#[derive(Clone)]
pub struct Hook {
    /// Where to POST.
    pub url: String,
    /// Which events (empty: `run_finished`).
    pub events: Vec<NotifyEvent>,
    /// Extra headers (may hold credentials: never printed).
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// How long one POST may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per event and webhook.
const ATTEMPTS: u32 = 3;

/// The webhooks' sink: queues payloads for the delivery task.
#[derive(Debug)]
pub struct Webhooks {
    queue: mpsc::UnboundedSender<(usize, String)>,
    hooks: Vec<Hook>,
    run_id: String,
    plan: String,
    redactor: Arc<Redactor>,
    clock: Clock,
}

/// The delivery task; [`Delivery::finish`] waits for what is queued (with a deadline).
#[derive(Debug)]
pub struct Delivery(tokio::task::JoinHandle<Vec<String>>);

impl Delivery {
    /// Waits up to `deadline` for the queued events to go out; returns the warnings.
    pub async fn finish(self, deadline: Duration) -> Vec<String> {
        match tokio::time::timeout(deadline, self.0).await {
            Ok(Ok(warnings)) => warnings,
            Ok(Err(_)) => vec!["webhook delivery stopped unexpectedly".into()],
            Err(_) => vec![format!(
                "webhooks: gave up waiting for deliveries after {}",
                crate::duration::human(deadline)
            )],
        }
    }
}

fn wanted(hook: &Hook, event: NotifyEvent) -> bool {
    if hook.events.is_empty() {
        return event == NotifyEvent::RunFinished;
    }
    hook.events.contains(&event)
}

impl Webhooks {
    /// Starts the delivery task (inside the current tokio runtime).
    pub fn start(
        hooks: Vec<Hook>,
        client: reqwest::Client,
        run_id: &str,
        plan: &str,
        redactor: Arc<Redactor>,
        clock: Clock,
    ) -> (Webhooks, Delivery) {
        let (queue, mut receive) = mpsc::unbounded_channel::<(usize, String)>();
        let targets = hooks.clone();
        let mask = redactor.clone();
        let task = tokio::spawn(async move {
            let mut warnings = Vec::new();
            while let Some((index, payload)) = receive.recv().await {
                let Some(hook) = targets.get(index) else {
                    continue;
                };
                if let Err(why) = deliver(&client, hook, payload).await {
                    warnings.push(mask.mask(&format!("webhook {}: {why}", hook.url)));
                }
            }
            warnings
        });
        (
            Webhooks {
                queue,
                hooks,
                run_id: run_id.to_owned(),
                plan: plan.to_owned(),
                redactor,
                clock,
            },
            Delivery(task),
        )
    }

    /// Stops queueing; the delivery task ends once the queue is empty.
    pub fn close(self) {
        drop(self.queue);
    }

    /// Whether any webhook wants `kind` (payloads are built only then).
    fn wants(&self, kind: NotifyEvent) -> bool {
        self.hooks.iter().any(|h| wanted(h, kind))
    }

    fn send(&self, kind: NotifyEvent, at: SystemTime, mut payload: Value) {
        if let Some(map) = payload.as_object_mut() {
            map.insert("run_id".into(), json!(self.run_id));
            map.insert("plan".into(), json!(self.plan));
            map.insert("at".into(), json!(crate::call::timestamp(at)));
        }
        let text = self.redactor.mask(&payload.to_string());
        for (index, hook) in self.hooks.iter().enumerate() {
            if wanted(hook, kind) {
                let _ = self.queue.send((index, text.clone()));
            }
        }
    }
}

async fn deliver(client: &reqwest::Client, hook: &Hook, payload: String) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let mut request = client
            .post(&hook.url)
            .timeout(TIMEOUT)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("callplan/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in &hook.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        match request.body(payload.clone()).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => last = format!("answered {}", response.status().as_u16()),
            Err(e) => last = crate::provider::auth::describe_transport(&e),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
        }
    }
    Err(format!("{last} (after {ATTEMPTS} attempts)"))
}

impl Sink for Webhooks {
    fn event(&self, event: &Event) {
        let any = [
            NotifyEvent::RunStarted,
            NotifyEvent::StepFinished,
            NotifyEvent::StepFailed,
            NotifyEvent::RunFinished,
            NotifyEvent::RunFailed,
        ];
        if !any.into_iter().any(|kind| self.wants(kind)) {
            return;
        }
        match event {
            Event::RunStarted { steps, at, .. } => {
                self.send(
                    NotifyEvent::RunStarted,
                    *at,
                    json!({ "event": "run_started", "steps": steps }),
                );
            }
            Event::StepFinished(r) => {
                let payload = json!({
                    "event": "step_finished",
                    "step": {
                        "id": r.id,
                        "name": r.name,
                        "item": r.item,
                        "item_name": r.item_name(),
                        "item_source": r.source,
                        "outcome": r.outcome.name(),
                        "ignored": r.ignored,
                        "status": r.status,
                        "message": r.message,
                        "duration_ms": r.duration.as_millis() as u64,
                        "correlation_id": r.correlation_id,
                        "call_state": r.call.as_ref().and_then(|c| c.get("state")),
                    },
                });
                let at = self.clock.wall(r.started + r.duration);
                self.send(NotifyEvent::StepFinished, at, payload.clone());
                if matches!(r.outcome, Outcome::Failed | Outcome::Errored) && !r.ignored {
                    let mut failed = payload;
                    failed["event"] = json!("step_failed");
                    self.send(NotifyEvent::StepFailed, at, failed);
                }
            }
            Event::RunFinished {
                status,
                reason,
                duration,
                at,
            } => {
                let payload = json!({
                    "event": "run_finished",
                    "status": status.name(),
                    "reason": reason,
                    "duration_ms": duration.as_millis() as u64,
                });
                self.send(NotifyEvent::RunFinished, *at, payload.clone());
                if *status != RunStatus::Passed {
                    let mut failed = payload;
                    failed["event"] = json!("run_failed");
                    self.send(NotifyEvent::RunFailed, *at, failed);
                }
            }
            Event::StepStarted { .. }
            | Event::AttemptFailed { .. }
            | Event::LoginRetried { .. }
            | Event::LoginFinished(_)
            | Event::NotRun { .. }
            | Event::Note(_) => {}
        }
    }
}
