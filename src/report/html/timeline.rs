//! The HTML report's timeline: one row per step on a common time axis; a row per item of a small
//! `for_each` step, and one row of thin bars in lanes for a larger one.
//!
//! Every step and item is drawn, however short and however late: a bar is at least
//! [`MIN_WIDTH`] wide (and, on the page, at least `--min-bar` pixels), and its left edge moves
//! back so that it ends inside the track, whose drawing area keeps `--min-bar` pixels free on its
//! right for that minimum. An item that errored before it began (a malformed row) or a last step
//! that ends with the run is a visible bar at the right place, not a sliver past the edge.
//!
//! Failures are drawn above passes, so that a failed campaign never looks green: each outcome has
//! its own `z-index` (errored above failed above an ignored failure above skipped and passed),
//! and in a row of lanes the items that did not pass are packed first, into the top lanes, and
//! come last in the markup.

use std::cmp::Reverse;
use std::fmt::Write as _;

use super::{
    anchor, attempt_failed, call_state, escape, human_ms, is_ignored, items, outcome_name,
};
use crate::report::markdown::{breakdown, omitted_counts, thousands};
use crate::report::model::{ItemOutcome, ItemReport, Report, StepReport};

/// A `for_each` step with more items than this is drawn as one row of thin segments (in lanes,
/// so that concurrent items stay visible); below it, one row per item.
const ROWS_PER_ITEM_UP_TO: usize = 12;

/// The most lanes a collapsed `for_each` row has; busier items share a lane.
const MAX_LANES: usize = 16;

/// The whole track, in thousandths of a percent (positions are integers, so that a bar's left
/// edge plus its width is exactly what the page says).
const FULL: u32 = 100_000;

/// The least width of a bar, in thousandths of a percent of the track (0.4 %). The page also
/// gives each bar at least `--min-bar` pixels (see the stylesheet).
pub const MIN_WIDTH: u32 = 400;

/// Where a bar sits on the track, in thousandths of a percent: at least [`MIN_WIDTH`] wide, and
/// never past the track's right end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    left: u32,
    width: u32,
}

impl Extent {
    /// The bar of something that started `start_ms` into the run and took `duration_ms`, on an
    /// axis that ends at `end` ms.
    fn of(start_ms: u64, duration_ms: u64, end: u64) -> Extent {
        let width = share(duration_ms, end).max(MIN_WIDTH);
        Extent {
            left: share(start_ms, end).min(FULL - width),
            width,
        }
    }

    fn right(self) -> u32 {
        self.left + self.width
    }

    fn css(self) -> String {
        format!("left:{};width:{}", pct(self.left), pct(self.width))
    }
}

/// `part` of `whole`, in thousandths of a percent, at most the whole.
fn share(part: u64, whole: u64) -> u32 {
    let fraction = part as f64 / whole.max(1) as f64;
    (fraction * f64::from(FULL))
        .round()
        .clamp(0.0, f64::from(FULL)) as u32
}

/// Thousandths of a percent, for CSS: `12.345%`.
fn pct(thousandths: u32) -> String {
    format!("{}.{:03}%", thousandths / 1_000, thousandths % 1_000)
}

/// How far above the others an item is drawn: errors over failures over ignored failures over
/// skips and passes (the stylesheet's `z-index` follows the same order).
fn severity(s: &StepReport, item: &ItemReport) -> u8 {
    match item.outcome {
        _ if is_ignored(s, item) => 2,
        ItemOutcome::Passed => 0,
        ItemOutcome::Skipped => 1,
        ItemOutcome::Failed => 3,
        ItemOutcome::Errored => 4,
    }
}

/// The end of the time axis: the run's duration, or the last item's end if later.
fn axis_end(report: &Report) -> u64 {
    report
        .steps
        .iter()
        .flat_map(|s| &s.items)
        .map(|i| i.started_ms.saturating_add(i.duration_ms))
        .chain([report.duration_ms])
        .max()
        .unwrap_or(0)
        .max(1)
}

/// Tick spacing for about eight ticks: 1, 2 or 5 times a power of ten milliseconds.
fn tick_step(end: u64) -> u64 {
    let raw = end.div_ceil(8).max(1);
    let mut magnitude = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = magnitude.saturating_mul(m);
            if step >= raw {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// A tick's label, in one unit across the axis.
fn tick_label(ms: u64, end: u64) -> String {
    if end < 2_000 {
        format!("{ms} ms")
    } else if end < 120_000 {
        let s = format!("{:.1}", ms as f64 / 1_000.0);
        format!("{} s", s.trim_end_matches(".0"))
    } else {
        format!("{}:{:02}", ms / 60_000, ms / 1_000 % 60)
    }
}

/// The timeline section.
pub(super) fn timeline(out: &mut String, report: &Report, steps: &[&StepReport]) {
    out.push_str("<section class=\"timeline\">\n<h2>Timeline</h2>\n");
    if steps.is_empty() {
        out.push_str("<p class=\"empty\">No step ran.</p>\n</section>\n");
        return;
    }
    let end = axis_end(report);
    let step = tick_step(end);
    let ticks: Vec<u64> = (0..=end / step).map(|k| k * step).collect();
    let mut grid = String::new();
    for t in &ticks {
        let _ = write!(
            grid,
            "<i class=\"grid\" style=\"left:{}\"></i>",
            pct(share(*t, end))
        );
    }
    out.push_str("<div class=\"tl\">\n");
    axis(out, &ticks, end);
    for s in steps {
        let items = items(s);
        if items.len() > ROWS_PER_ITEM_UP_TO {
            collapsed_row(out, s, &items, end, &grid);
        } else if items.iter().any(|i| i.item.is_some()) {
            item_rows(out, s, &items, end, &grid);
        } else {
            let _ = write!(
                out,
                "<div class=\"row\"><div class=\"label\">{}</div><div class=\"track\"><div class=\"area\">{grid}",
                step_label(s, "")
            );
            for item in &items {
                bar(out, s, item, end, None, &anchor(s, item));
            }
            out.push_str("</div></div></div>\n");
        }
        if s.omitted > 0 {
            let _ = writeln!(
                out,
                "<div class=\"row omitted\"><div class=\"label\"></div><p class=\"omitted\">{}</p></div>",
                omitted_note(s),
            );
        }
    }
    axis(out, &ticks, end);
    out.push_str("</div>\n");
    legend(out);
    out.push_str("</section>\n");
}

fn axis(out: &mut String, ticks: &[u64], end: u64) {
    out.push_str("<div class=\"row axis\"><div class=\"label\"></div><div class=\"ticks\">");
    for t in ticks {
        // The last label would run off the right edge: anchor it at its right.
        let edge = if (*t as f64) / (end as f64) > 0.94 {
            " end"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<span class=\"tick{edge}\" style=\"left:{}\">{}</span>",
            pct(share(*t, end)),
            escape(&tick_label(*t, end)),
        );
    }
    out.push_str("</div></div>\n");
}

fn step_label(s: &StepReport, extra: &str) -> String {
    let mut tags = String::new();
    if s.always {
        tags.push_str("<span class=\"tag\">always</span>");
    }
    if s.ignored {
        tags.push_str("<span class=\"tag\">on_error: ignore</span>");
    }
    // A flow has no provider of its own.
    let action = if s.provider.is_empty() {
        escape(&s.action)
    } else {
        format!("{} · {}", escape(&s.provider), escape(&s.action))
    };
    format!(
        "<a class=\"sname\" href=\"#step-{}\" title=\"{}\">{}</a>{tags}<span class=\"action\">{action}{extra}</span>",
        s.index,
        escape(&s.name),
        escape(&s.id),
    )
}

/// A small `for_each`: the step's span, then a row per item, labelled with the item's name and
/// where it is written (the file's name; the whole path on hover and in the table).
fn item_rows(out: &mut String, s: &StepReport, items: &[&ItemReport], end: u64, grid: &str) {
    let mut count = match s.total {
        1 => " · 1 item".to_owned(),
        n => format!(" · {} items", thousands(n)),
    };
    if s.not_run > 0 {
        let _ = write!(count, ", {} not run", thousands(s.not_run));
    }
    let from = items.iter().map(|i| i.started_ms).min().unwrap_or(0);
    let to = items
        .iter()
        .map(|i| i.started_ms.saturating_add(i.duration_ms))
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "<div class=\"row group\"><div class=\"label\">{}</div><div class=\"track\"><div class=\"area\">{grid}\
         <span class=\"span\" style=\"{}\"></span></div></div></div>",
        step_label(s, &count),
        Extent::of(from, to.saturating_sub(from), end).css(),
    );
    for item in items {
        let name = item.item_name.as_deref().unwrap_or(&s.id);
        let source = item
            .item_source
            .as_ref()
            .map(|source| {
                let file = std::path::Path::new(&source.file)
                    .file_name()
                    .map_or_else(|| source.file.clone(), |f| f.to_string_lossy().into_owned());
                format!(
                    "<span class=\"src\" title=\"{}\">{}:{}</span>",
                    escape(&source.to_string()),
                    escape(&file),
                    source.line
                )
            })
            .unwrap_or_default();
        let _ = write!(
            out,
            "<div class=\"row item\"><div class=\"label\"><span class=\"iname\">{}</span>{source}</div>\
             <div class=\"track\"><div class=\"area\">{grid}",
            escape(name)
        );
        bar(out, s, item, end, None, &anchor(s, item));
        out.push_str("</div></div></div>\n");
    }
}

/// A hover text for a bar: `campaign[3] (contacts.csv:4): failed · starts at …`.
fn bar_title(s: &StepReport, item: &ItemReport) -> String {
    let mut t = item.item_name.clone().unwrap_or_else(|| s.id.clone());
    if let Some(source) = &item.item_source {
        let _ = write!(t, " ({source})");
    }
    let _ = write!(
        t,
        ": {}{} · starts at {} · {}",
        outcome_name(item.outcome),
        if is_ignored(s, item) {
            " (ignored)"
        } else {
            ""
        },
        human_ms(item.started_ms),
        human_ms(item.duration_ms),
    );
    if let Some(status) = item.status {
        let _ = write!(t, " · HTTP {status}");
    }
    if item.attempts.len() > 1 {
        let _ = write!(t, " · {} attempts", item.attempts.len());
    }
    if let Some(state) = item.call.as_ref().and_then(call_state) {
        let _ = write!(t, " · call {state}");
    }
    if let Some(m) = &item.message {
        let first: String = m.chars().take(200).collect();
        let _ = write!(t, "\n{first}");
    }
    if let Some(steps) = item.row_steps_line() {
        let _ = write!(t, "\nsteps: {steps}");
    }
    t
}

/// One item's bar; `lane` places it in a collapsed row (top offset and height, in pixels).
fn bar(
    out: &mut String,
    s: &StepReport,
    item: &ItemReport,
    end: u64,
    lane: Option<(usize, f64)>,
    target: &str,
) {
    let ignored = if is_ignored(s, item) { " ignored" } else { "" };
    let extent = Extent::of(item.started_ms, item.duration_ms, end);
    let place = match lane {
        Some((lane, height)) => format!(
            "top:{:.1}px;height:{:.1}px;",
            2.0 + lane as f64 * height,
            (height - 1.0).max(1.0)
        ),
        None => String::new(),
    };
    let _ = write!(
        out,
        "<a class=\"bar o-{}{ignored}\" href=\"#{target}\" style=\"{place}{}\" title=\"{}\">",
        outcome_name(item.outcome),
        extent.css(),
        escape(&bar_title(s, item)),
    );
    if lane.is_none() {
        attempts(out, item);
    }
    out.push_str("</a>");
    if lane.is_none() {
        note(out, item, extent, is_ignored(s, item));
    }
}

/// Beside a bar: its duration, and for a call step where the call got to. After the bar if it
/// fits there, else before it, else inside the bar's right end.
fn note(out: &mut String, item: &ItemReport, extent: Extent, ignored: bool) {
    let call = item
        .call
        .as_ref()
        .and_then(call_state)
        .map(|state| format!("call: {state}"));
    let duration = human_ms(item.duration_ms);
    // Not only the colour says that an item did not pass.
    let what = match item.outcome {
        _ if ignored => "ignored",
        ItemOutcome::Passed => "",
        ItemOutcome::Failed => "failed",
        ItemOutcome::Errored => "errored",
        ItemOutcome::Skipped => "skipped",
    };
    // Whether it fits is judged on a track of about 900 px (a 1280 px window) and about 6.5 px a
    // character; the track clips what does not fit on a narrower screen.
    let chars = duration.len() + what.len() + call.as_ref().map_or(0, |c| c.len() + 4);
    let needed = (chars as f64 * 6.5 + 24.0) / 900.0;
    let start = f64::from(extent.left) / f64::from(FULL);
    let stop = f64::from(extent.right()) / f64::from(FULL);
    let (class, place) = if 1.0 - stop >= needed || (1.0 - stop >= start && stop - start < needed) {
        (
            "note",
            format!("left:calc({} + var(--min-bar))", pct(extent.right())),
        )
    } else if start >= needed || stop - start < needed {
        (
            "note before",
            format!("right:calc({} + 6px)", pct(FULL - extent.left)),
        )
    } else {
        (
            "note inside",
            format!("right:calc({} + 6px)", pct(FULL - extent.right())),
        )
    };
    let duration = if what.is_empty() {
        format!("<span class=\"dur\">{}</span>", escape(&duration))
    } else {
        format!(
            "<span class=\"what w-{what}\">{what}</span><span class=\"dur\">{}</span>",
            escape(&duration)
        )
    };
    let call = call
        .map(|c| format!("<span class=\"call\">{}</span>", escape(&c)))
        .unwrap_or_default();
    // The duration next to the bar, the call's state beyond it.
    let inner = if class == "note before" {
        format!("{call}{duration}")
    } else {
        format!("{duration}{call}")
    };
    let _ = write!(
        out,
        "<span class=\"{class}\" style=\"{place}\">{inner}</span>"
    );
}

/// The attempts inside a bar: each attempt a segment (failed ones darker, a tick between
/// them), each retry wait a hatched segment. Drawn only when there was more than one attempt.
fn attempts(out: &mut String, item: &ItemReport) {
    if item.attempts.len() < 2 && item.attempts.iter().all(|a| a.retry_after_ms.is_none()) {
        return;
    }
    let used: u64 = item
        .attempts
        .iter()
        .map(|a| a.elapsed_ms.saturating_add(a.retry_after_ms.unwrap_or(0)))
        .sum();
    let whole = used.max(item.duration_ms).max(1);
    let mut at = 0u64;
    for (n, a) in item.attempts.iter().enumerate() {
        let bad = if attempt_failed(a) { " bad" } else { "" };
        let first = if n == 0 { " first" } else { "" };
        let _ = write!(
            out,
            "<i class=\"att{bad}{first}\" style=\"left:{};width:{}\"></i>",
            pct(share(at, whole)),
            pct(share(a.elapsed_ms, whole)),
        );
        at = at.saturating_add(a.elapsed_ms);
        if let Some(wait) = a.retry_after_ms {
            let _ = write!(
                out,
                "<i class=\"wait\" style=\"left:{};width:{}\"></i>",
                pct(share(at, whole)),
                pct(share(wait, whole)),
            );
            at = at.saturating_add(wait);
        }
    }
}

/// A big `for_each` in one row: a thin bar per item, in lanes so that items running at the same
/// time do not hide each other. Items that did not pass are packed first (the top lanes) and
/// written last (drawn over anything they still share a lane with).
fn collapsed_row(out: &mut String, s: &StepReport, items: &[&ItemReport], end: u64, grid: &str) {
    let mut order: Vec<&ItemReport> = items.to_vec();
    order.sort_by_key(|i| (Reverse(severity(s, i)), i.started_ms, i.item));
    // Greedy interval packing on the bars as drawn (a short item takes its minimum width): the
    // first lane with room where the bar goes, else the lane that frees up there soonest. A lane
    // keeps its bars, not only its end: the items that did not pass went in first, out of time
    // order, and the others fill the room around them.
    let mut lanes: Vec<Vec<Extent>> = Vec::new();
    let mut placed: Vec<(usize, &ItemReport)> = Vec::with_capacity(order.len());
    for item in order {
        let extent = Extent::of(item.started_ms, item.duration_ms, end);
        let overlapping = |lane: &Vec<Extent>| {
            lane.iter()
                .filter(|e| e.left < extent.right() && extent.left < e.right())
                .map(|e| e.right())
                .max()
        };
        let lane = match lanes.iter().position(|l| overlapping(l).is_none()) {
            Some(l) => l,
            None if lanes.len() < MAX_LANES => {
                lanes.push(Vec::new());
                lanes.len() - 1
            }
            None => lanes
                .iter()
                .enumerate()
                .min_by_key(|(_, l)| overlapping(l))
                .map(|(l, _)| l)
                .unwrap_or(0),
        };
        lanes[lane].push(extent);
        placed.push((lane, item));
    }
    placed.sort_by_key(|(_, i)| (severity(s, i), i.started_ms, i.item));
    let lanes = lanes.len().max(1);
    let lane_height = (56.0 / lanes as f64).clamp(3.0, 14.0);
    let height = lanes as f64 * lane_height + 4.0;
    let _ = write!(
        out,
        "<div class=\"row many\"><div class=\"label\">{}<span class=\"sub\">{} items: {}{}</span>{}</div>\
         <div class=\"track\" style=\"height:{height:.1}px\"><div class=\"area\">{grid}",
        step_label(s, ""),
        thousands(s.total),
        escape(&breakdown(s.counts, "warned")),
        match s.not_run {
            0 => String::new(),
            n => format!("; {} not run", thousands(n)),
        },
        not_passed(s, items),
    );
    for (lane, item) in placed {
        bar(
            out,
            s,
            item,
            end,
            Some((lane, lane_height)),
            &anchor(s, item),
        );
    }
    out.push_str("</div></div></div>\n");
}

/// How many items that did not pass a collapsed row names under its label.
const NAMED_FAILURES: usize = 5;

/// Under a collapsed row's label: the first items that failed or errored, by name, each a link
/// to its row in the table.
fn not_passed(s: &StepReport, items: &[&ItemReport]) -> String {
    let failed: Vec<&&ItemReport> = items
        .iter()
        .filter(|i| matches!(i.outcome, ItemOutcome::Failed | ItemOutcome::Errored))
        .collect();
    if failed.is_empty() {
        return String::new();
    }
    let mut names: Vec<String> = failed
        .iter()
        .take(NAMED_FAILURES)
        .map(|i| {
            format!(
                "<a href=\"#{}\">{}</a>",
                anchor(s, i),
                escape(i.item_name.as_deref().unwrap_or(&s.id))
            )
        })
        .collect();
    if failed.len() > NAMED_FAILURES {
        names.push(format!(
            "… {} more",
            thousands((failed.len() - NAMED_FAILURES) as u64)
        ));
    }
    format!(
        "<span class=\"sub bad\">{}: {}</span>",
        if s.ignored {
            "ignored failures"
        } else {
            "did not pass"
        },
        names.join(", ")
    )
}

fn legend(out: &mut String) {
    out.push_str(
        "<div class=\"legend\">\
         <span><i class=\"sw o-passed\"></i>passed</span>\
         <span><i class=\"sw o-failed\"></i>failed (an expectation)</span>\
         <span><i class=\"sw o-errored\"></i>errored (transport, auth, timeout, status)</span>\
         <span><i class=\"sw o-skipped\"></i>skipped</span>\
         <span><i class=\"sw o-failed ignored\"></i>ignored failure</span>\
         <span><i class=\"sw wide o-passed\"><i class=\"att bad first\" style=\"left:0;width:40%\"></i>\
         <i class=\"wait\" style=\"left:40%;width:30%\"></i><i class=\"att\" style=\"left:70%;width:30%\"></i></i>\
         failed attempt, retry wait, next attempt</span>\
         </div>\n",
    );
}

/// Under a step's timeline row: the items the report did not keep, and where they are.
fn omitted_note(s: &StepReport) -> String {
    format!(
        "{} more {} ({}) {} not drawn here: every item is in the JSONL report \
         (<code>--report jsonl:PATH</code>).",
        thousands(s.omitted),
        if s.omitted == 1 { "item" } else { "items" },
        escape(&breakdown(omitted_counts(s), "warned")),
        if s.omitted == 1 { "is" } else { "are" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(1), 1);
        assert_eq!(tick_step(1_000), 200);
        assert_eq!(tick_step(7_300), 1_000);
        assert_eq!(tick_step(45_000), 10_000);
        assert_eq!(tick_label(2_500, 7_300), "2.5 s");
        assert_eq!(tick_label(3_000, 7_300), "3 s");
        assert_eq!(tick_label(150_000, 300_000), "2:30");
    }

    #[test]
    fn a_bar_is_never_narrower_than_the_minimum_nor_past_the_end() {
        // Zero-length, at the very end of the run: moved back by its minimum width.
        let last = Extent::of(1_000, 0, 1_000);
        assert_eq!((last.left, last.width), (FULL - MIN_WIDTH, MIN_WIDTH));
        assert_eq!(last.css(), "left:99.600%;width:0.400%");
        // Zero-length at the start.
        assert_eq!(Extent::of(0, 0, 1_000).css(), "left:0.000%;width:0.400%");
        // Long enough: as it is.
        assert_eq!(
            Extent::of(250, 500, 1_000).css(),
            "left:25.000%;width:50.000%"
        );
        // Ending at the run's end, with rounding: still inside.
        for start in 0..=3_000u64 {
            for duration in [0, 1, 7, 3_000 - start] {
                let e = Extent::of(start, duration, 3_000);
                assert!(
                    e.right() <= FULL && e.width >= MIN_WIDTH,
                    "{start} {duration}"
                );
            }
        }
        // Longer than the axis (an item past the run's end): the whole track.
        assert_eq!(
            Extent::of(0, 5_000, 1_000).css(),
            "left:0.000%;width:100.000%"
        );
    }

    #[test]
    fn failures_rank_above_skips_and_passes() {
        let mut s = StepReport {
            index: 0,
            id: "dial".into(),
            name: "dial".into(),
            provider: "gc".into(),
            action: "calls.create".into(),
            outcome: ItemOutcome::Passed,
            ignored: false,
            always: false,
            total: 0,
            counts: Default::default(),
            omitted: 0,
            not_run: 0,
            not_run_reason: None,
            items: Vec::new(),
        };
        let item = |outcome| ItemReport {
            item: Some(0),
            item_name: None,
            item_source: None,
            outcome,
            message: None,
            hint: None,
            status: None,
            started_ms: 0,
            duration_ms: 0,
            queued_ms: 0,
            attempts: Vec::new(),
            saved: Default::default(),
            correlation_id: None,
            call: None,
            request: None,
            response: None,
            steps: Vec::new(),
        };
        let ranks: Vec<u8> = [
            ItemOutcome::Passed,
            ItemOutcome::Skipped,
            ItemOutcome::Failed,
            ItemOutcome::Errored,
        ]
        .map(|o| severity(&s, &item(o)))
        .to_vec();
        assert_eq!(ranks, [0, 1, 3, 4]);
        s.ignored = true;
        assert_eq!(severity(&s, &item(ItemOutcome::Errored)), 2);
        assert_eq!(severity(&s, &item(ItemOutcome::Passed)), 0);
    }
}
