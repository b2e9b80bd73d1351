//! A `for_each` step in a dry run: every row read (streamed, as the run reads them) and planned,
//! counted (would dial, refused by the guard and why, invalid and where), and the requests of the
//! first [`ROWS_SHOWN`] rows listed. What is kept of the others is bounded: counts, at most
//! [`REASONS_KEPT`] reasons and [`INVALID_LISTED`] invalid rows.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use minijinja::Value;

use super::{At, Entry, ROWS_SHOWN, Walk};
use crate::placeholder;
use crate::plan::model::{ForEachSource, Step};
use crate::report::planned::{Condition, Count, InvalidRow, Rows, Verdict};
use crate::runner::items;
use crate::runner::render::{Json, Renderer};

/// How many distinct refusal reasons are counted apart (the rest are "other reasons").
const REASONS_KEPT: usize = 20;

/// How many invalid rows are listed (all are counted).
const INVALID_LISTED: usize = 20;

impl Walk<'_> {
    /// A `for_each` step that runs: its summary entry, then its first rows' entries.
    pub(super) fn for_each(
        &mut self,
        step: &Step,
        source: &ForEachSource,
        condition: Option<Condition>,
    ) {
        let mut summary = self.planned(step, &At::default(), condition);
        summary.verdict = Verdict::Rows;
        let index = self.steps.len();
        self.steps.push(summary);
        let dials = match step.flow() {
            Some(inner) => inner.iter().any(|s| !s.action.dials.is_empty()),
            None => !step.action.dials.is_empty(),
        };
        let mut tally = Tally::new(described(source), dials);
        if let ForEachSource::Saved(_) = source {
            // The rows are what an earlier step saves: one row stands for all, its item and
            // `loop` placeholders too.
            let extra = vec![step.item_name.clone(), "loop".to_owned()];
            let outer = std::mem::replace(&mut self.renderer, Renderer::planned(extra));
            let entries = self.row(step, &At::default(), &serde_json::Value::Null, 0);
            self.renderer = outer;
            self.steps.extend(entries.into_iter().map(|e| e.planned));
            let mut rows = tally.finish();
            rows.read = None;
            self.steps[index].rows = Some(rows);
            return;
        }
        for (i, located) in items::located(step, source).enumerate() {
            let item = located.item;
            let at = At {
                row: Some(i as u64 + 1),
                source: located.source.map(|s| s.to_string()),
                flow: None,
                counted_only: i >= ROWS_SHOWN,
            };
            let entries = match item {
                Ok(value) => self.row(step, &at, &value, i),
                Err(problem) => {
                    let mut planned = self.planned(step, &at, None);
                    planned.verdict = Verdict::Invalid;
                    planned.message = Some(problem);
                    vec![Entry::of(planned)]
                }
            };
            tally.add(&at, &entries);
            if i < ROWS_SHOWN {
                self.steps.extend(entries.into_iter().map(|e| e.planned));
                tally.rows.shown += 1;
            }
        }
        self.steps[index].rows = Some(tally.finish());
    }

    /// One row: a flow's steps in order (each with its `if`), or the step itself for the item.
    fn row(&mut self, step: &Step, at: &At, value: &serde_json::Value, i: usize) -> Vec<Entry> {
        let mut context: BTreeMap<String, Value> = self.base.clone();
        context.insert(step.item_name.clone(), Json::value(value.clone()));
        context.insert(
            "loop".to_owned(),
            Json::value(serde_json::json!({ "index": i + 1, "index0": i, "first": i == 0 })),
        );
        match step.flow() {
            Some(inner) => {
                let at = At {
                    flow: Some(step.id.clone()),
                    ..at.clone()
                };
                inner
                    .iter()
                    .map(|s| self.conditioned(s, &context, &at))
                    .collect()
            }
            // A `for_each` step's own `if` was decided once, before its items.
            None => vec![self.action(step, &context, at, None)],
        }
    }
}

/// Where the rows come from, in words.
fn described(source: &ForEachSource) -> String {
    match source {
        ForEachSource::Inline { .. } => "the inline list".to_owned(),
        ForEachSource::Csv(p) | ForEachSource::Json(p) | ForEachSource::Jsonl(p) => {
            p.display().to_string()
        }
        ForEachSource::Saved(template) => format!("`{template}`"),
    }
}

/// The counts of a `for_each` step, as its rows are planned.
struct Tally {
    rows: Rows,
    read: u64,
    reasons: IndexMap<String, u64>,
    other_reasons: u64,
}

impl Tally {
    fn new(source: String, dials: bool) -> Tally {
        Tally {
            rows: Rows {
                source,
                dials,
                ..Rows::default()
            },
            read: 0,
            reasons: IndexMap::new(),
            other_reasons: 0,
        }
    }

    /// Counts a row by its entries: invalid first, then refused, then would send.
    fn add(&mut self, at: &At, entries: &[Entry]) {
        self.read += 1;
        let rows = &mut self.rows;
        if let Some(bad) = entries
            .iter()
            .find(|e| e.planned.verdict == Verdict::Invalid)
        {
            rows.invalid += 1;
            if rows.invalid_rows.len() < INVALID_LISTED {
                let message = bad.planned.message.clone().unwrap_or_default();
                // A malformed row's message already says where it is.
                let message = match &at.source {
                    Some(s) => message
                        .strip_prefix(&format!("{s}: "))
                        .map(str::to_owned)
                        .unwrap_or(message),
                    None => message,
                };
                let step = bad
                    .planned
                    .inner
                    .as_deref()
                    .map(|s| format!("step `{s}`: "));
                rows.invalid_rows.push(InvalidRow {
                    row: at.row.unwrap_or_default(),
                    source: at.source.clone(),
                    message: format!("{}{message}", step.unwrap_or_default()),
                });
            }
        } else if let Some(reason) = entries.iter().find_map(|e| e.reason.as_ref()) {
            rows.refused += 1;
            if self.reasons.len() < REASONS_KEPT || self.reasons.contains_key(reason) {
                *self.reasons.entry(reason.clone()).or_default() += 1;
            } else {
                self.other_reasons += 1;
            }
        } else if entries.iter().any(|e| e.dials) {
            rows.would_send += 1;
            if entries.iter().any(|e| e.later) {
                rows.decided_at_run_time += 1;
            }
        } else if rows.dials
            || entries
                .iter()
                .all(|e| e.planned.verdict == Verdict::Skipped)
        {
            rows.skipped += 1;
        } else {
            rows.would_send += 1;
        }
    }

    fn finish(self) -> Rows {
        let mut rows = self.rows;
        rows.read = Some(self.read);
        rows.refusals = self
            .reasons
            .into_iter()
            .map(|(reason, n)| Count {
                reason: placeholder::shown(&reason),
                rows: n,
            })
            .collect();
        if self.other_reasons > 0 {
            rows.refusals.push(Count {
                reason: "other reasons".to_owned(),
                rows: self.other_reasons,
            });
        }
        rows
    }
}
