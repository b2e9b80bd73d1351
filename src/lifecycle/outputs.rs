//! Outputs, checked before the first request: every report (`--report` and the plan's
//! `report:` section) and the journal must be writable, or the run stops with exit 2 and a
//! message that says which one and why. Nothing is sent before they are.

use std::path::{Path, PathBuf};

use crate::diagnostic::{self, Diagnostic};
use crate::plan::model::Plan;
use crate::plan::source::Source;
use crate::plan::source::{SourceMap, child};
use crate::report::Format;
use crate::report::destination::{self, DestinationError};
use crate::runner::render::Renderer;

/// A report file to write at the end of the run.
#[derive(Debug, Clone)]
pub(super) struct ReportFile {
    /// Its format.
    pub(super) format: Format,
    /// The path as given (what messages show).
    pub(super) path: String,
}

/// Every output of a run, checked.
#[derive(Debug, Clone, Default)]
pub(super) struct Outputs {
    /// JSON, JUnit, Markdown and HTML reports.
    pub(super) reports: Vec<ReportFile>,
    /// JSONL reports, streamed during the run.
    pub(super) item_logs: Vec<PathBuf>,
}

/// An output that cannot be written, said the way the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// A command-line flag.
    #[error("{flag}: {message}; nothing was sent")]
    Flag {
        /// The flag as typed (`--report junit:afile/r.xml`).
        flag: String,
        /// Why it cannot be used.
        message: String,
    },
    /// A path in the plan: a rendered diagnostic pointing into the file.
    #[error("{0}")]
    Plan(String),
}

/// `--report FORMAT:PATH` flags: file reports, and JSONL item logs.
pub(super) fn parse_flags(flags: &[String]) -> Result<Outputs, OutputError> {
    let mut outputs = Outputs::default();
    for text in flags {
        let flag = format!("--report {text}");
        let (name, path) = text
            .split_once(':')
            .filter(|(_, p)| !p.is_empty())
            .ok_or_else(|| OutputError::Flag {
                flag: flag.clone(),
                message: "write it as FORMAT:PATH, e.g. junit:reports/run.xml".into(),
            })?;
        if name.eq_ignore_ascii_case("jsonl") {
            outputs.item_logs.push(PathBuf::from(path));
            continue;
        }
        let format = Format::parse(name).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|(n, _)| *n).collect();
            OutputError::Flag {
                flag: flag.clone(),
                message: format!(
                    "unknown format `{name}`; use one of {}, jsonl",
                    names.join(", ")
                ),
            }
        })?;
        outputs.reports.push(ReportFile {
            format,
            path: path.to_owned(),
        });
    }
    Ok(outputs)
}

/// The plan's `report:` section, rendered, checked and added to `outputs`.
pub(super) fn add_plan_section(
    outputs: &mut Outputs,
    plan: &Plan,
    source: Option<&Source>,
    renderer: &Renderer,
    context: &minijinja::Value,
) -> Result<(), OutputError> {
    let Some(section) = &plan.report else {
        return Ok(());
    };
    for (key, format, template) in [
        ("json", Format::Json, &section.json),
        ("junit", Format::Junit, &section.junit),
        ("markdown", Format::Markdown, &section.markdown),
        ("html", Format::Html, &section.html),
    ] {
        let Some(template) = template else { continue };
        let located = |message: String, help: &str| {
            let pointer = child("/report", key);
            let span = source.and_then(|s| SourceMap::lazy(s).value_span(s, &pointer));
            let d = Diagnostic::error("run.output", message).at(span).help(help);
            OutputError::Plan(diagnostic::render(
                &[d],
                source.map(|s| s.text.as_str()),
                diagnostic::Format::Human,
            ))
        };
        let path = renderer.render_text(template, context).map_err(|e| {
            located(
                format!("report path `report.{key}` does not render: {e}"),
                "the path may use `vars` and `run`",
            )
        })?;
        destination::prepare(Path::new(&path)).map_err(|e| {
            located(
                format!("cannot write the {key} report to {path}: {e}; nothing was sent"),
                help_for(&e),
            )
        })?;
        outputs.reports.push(ReportFile { format, path });
    }
    Ok(())
}

/// Checks every `--report` path and the journal's.
pub(super) fn check_flags(
    outputs: &Outputs,
    journal: Option<(&str, &Path)>,
) -> Result<(), OutputError> {
    for report in &outputs.reports {
        destination::prepare(Path::new(&report.path)).map_err(|e| OutputError::Flag {
            flag: format!("--report {}:{}", report.format.name(), report.path),
            message: e.to_string(),
        })?;
    }
    for path in &outputs.item_logs {
        destination::prepare(path).map_err(|e| OutputError::Flag {
            flag: format!("--report jsonl:{}", path.display()),
            message: e.to_string(),
        })?;
    }
    if let Some((flag, path)) = journal {
        destination::prepare(path).map_err(|e| OutputError::Flag {
            flag: format!("{flag} {}", path.display()),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// A dry run's outputs: `--report json:PATH` writes the planned requests; no other format has
/// anything to say about a run that did not happen. The plan's own `report:` section is for
/// runs, and a dry run leaves it alone.
pub(super) fn check_dry_run(outputs: &Outputs) -> Result<(), OutputError> {
    let refused = |flag: String| OutputError::Flag {
        flag,
        message: "a dry run writes only `json` (the requests it would send)".into(),
    };
    if let Some(path) = outputs.item_logs.first() {
        return Err(refused(format!("--report jsonl:{}", path.display())));
    }
    if let Some(report) = outputs.reports.iter().find(|r| r.format != Format::Json) {
        return Err(refused(format!(
            "--report {}:{}",
            report.format.name(),
            report.path
        )));
    }
    check_flags(outputs, None)
}

fn help_for(e: &DestinationError) -> &'static str {
    match e {
        DestinationError::Directory(_) => "name a file, not a directory",
        DestinationError::Special(..) => "name a regular file (or a symlink to one)",
        DestinationError::NotADirectory(_) => {
            "a file stands where a directory of the path should be"
        }
        DestinationError::Unwritable(..) => "pick a directory this user can write",
        DestinationError::Loop(_) | DestinationError::Io(..) => "pick another path",
    }
}
