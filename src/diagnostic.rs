//! Located diagnostics: a span in a plan file, a message, a hint, and the three renderers
//! (`human` rustc-style with a source snippet and carets, `json` one object per line, and
//! `github` workflow commands).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A region of a source file. Lines and columns are 1-based and count characters, as editors do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    /// The file, as the user named it.
    pub file: PathBuf,
    /// 1-based line of the first character.
    pub line: usize,
    /// 1-based column (in characters) of the first character.
    pub col: usize,
    /// How many characters the carets cover on that line (at least one is drawn).
    pub len: usize,
}

impl Span {
    /// A span covering `len` characters at `line:col` of `file`.
    pub fn new(file: impl Into<PathBuf>, line: usize, col: usize, len: usize) -> Self {
        Span {
            file: file.into(),
            line,
            col,
            len,
        }
    }
}

/// How bad a diagnostic is. Only errors make `check` fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The plan cannot run.
    Error,
    /// The plan can run, but something looks wrong.
    Warning,
}

/// One finding about a plan: what is wrong, where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable, dotted identifier of the kind of mistake, e.g. `schema.unknown-key`.
    pub code: &'static str,
    /// What is wrong, in one lowercase sentence.
    pub message: String,
    /// Where it is; absent only when no file position applies (e.g. an unreadable file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// A short label shown under the carets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a message and no position yet.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: bounded(message.into()),
            span: None,
            label: None,
            help: None,
        }
    }

    /// A warning with a message and no position yet.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Places the diagnostic.
    #[must_use]
    pub fn at(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    /// Adds a label under the carets.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(bounded(label.into()));
        self
    }

    /// Adds a hint.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(bounded(help.into()));
        self
    }

    /// Adds a hint when there is one.
    #[must_use]
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help.map(bounded);
        }
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The longest message, label or hint a diagnostic holds, in characters. Messages quote what the
/// plan says, and a plan may say a megabyte in one value: past this, the middle is left out.
const MAX_TEXT: usize = 1_000;

/// `text`, with its middle left out (and counted) when it is longer than [`MAX_TEXT`].
fn bounded(text: String) -> String {
    const HEAD: usize = 600;
    const TAIL: usize = 300;
    // As many bytes as characters at most: most texts are known short without counting.
    if text.len() <= MAX_TEXT {
        return text;
    }
    let count = text.chars().count();
    if count <= MAX_TEXT {
        return text;
    }
    let head_end = text.char_indices().nth(HEAD).map_or(text.len(), |(i, _)| i);
    let tail_start = text
        .char_indices()
        .nth(count - TAIL)
        .map_or(text.len(), |(i, _)| i);
    format!(
        "{} … ({} characters left out) … {}",
        &text[..head_end],
        count - HEAD - TAIL,
        &text[tail_start..]
    )
}

/// The most columns of a source line a diagnostic shows; a longer line is cut around the span.
const MAX_COLUMNS: usize = 160;
/// Columns shown before the span when a long line is cut.
const CONTEXT_COLUMNS: usize = 40;

/// Output format of diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// rustc-style: message, `--> file:line:col`, the source line, carets and a hint.
    #[default]
    Human,
    /// One JSON object per diagnostic, one per line.
    Json,
    /// GitHub Actions workflow commands (`::error file=…,line=…,col=…::message`).
    Github,
}

/// Renders diagnostics of one file. `source` is the file's text when it could be read.
///
/// The text is split into lines once, so rendering takes time linear in the text plus the
/// output, however many diagnostics point into it.
pub fn render(diagnostics: &[Diagnostic], source: Option<&str>, format: Format) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = match (format, source) {
        (Format::Human, Some(text)) if !diagnostics.is_empty() => text.lines().collect(),
        _ => Vec::new(),
    };
    for d in diagnostics {
        match format {
            Format::Human => render_human(&mut out, d, &lines),
            Format::Json => {
                // Serializing these plain structs cannot fail.
                out.push_str(&serde_json::to_string(d).unwrap_or_default());
                out.push('\n');
            }
            Format::Github => render_github(&mut out, d),
        }
    }
    out
}

fn render_human(out: &mut String, d: &Diagnostic, lines: &[&str]) {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{severity}[{}]: {}", d.code, d.message);
    let Some(span) = &d.span else {
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out.push('\n');
        return;
    };
    let gutter = span.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        display_path(&span.file),
        span.line,
        span.col
    );
    let line_text = span.line.checked_sub(1).and_then(|i| lines.get(i));
    if let Some(text) = line_text {
        let text = text.trim_end_matches('\r');
        let _ = writeln!(out, "{pad} |");
        let width = text.chars().count();
        let start = span.col.saturating_sub(1).min(width);
        let len = span.len.max(1).min(width.saturating_sub(start).max(1));
        // A long line is shown as a window of it around the span, marked `…` where it is cut.
        let from = if width > MAX_COLUMNS {
            start.saturating_sub(CONTEXT_COLUMNS)
        } else {
            0
        };
        let to = width.min(from + MAX_COLUMNS);
        // Tabs become one space (so carets line up) and control characters a visible mark.
        let mut shown: String = if from > 0 {
            "…".into()
        } else {
            String::new()
        };
        shown.extend(text.chars().skip(from).take(to - from).map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        }));
        if to < width {
            shown.push('…');
        }
        let _ = writeln!(out, "{} | {shown}", span.line);
        let lead = start - from + usize::from(from > 0);
        let len = len.min(to.saturating_sub(start).max(1));
        let _ = write!(out, "{pad} | {}{}", " ".repeat(lead), "^".repeat(len));
        if let Some(label) = &d.label {
            let _ = write!(out, " {label}");
        }
        out.push('\n');
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
    out.push('\n');
}

fn render_github(out: &mut String, d: &Diagnostic) {
    let command = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str(" (help: ");
        message.push_str(help);
        message.push(')');
    }
    let message = github_escape_data(&message);
    match &d.span {
        Some(span) => {
            let file = github_escape_property(&display_path(&span.file));
            let _ = writeln!(
                out,
                "::{command} file={file},line={},col={},title={}::{message}",
                span.line,
                span.col,
                github_escape_property(d.code)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "::{command} title={}::{message}",
                github_escape_property(d.code)
            );
        }
    }
}

/// Paths print with forward slashes so snapshots and CI annotations look the same everywhere.
fn display_path(path: &Path) -> String {
    path.display().to_string().replace('\\', "/")
}

// Escaping rules of GitHub's workflow commands (actions/toolkit `command.ts`).
fn github_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn github_escape_property(s: &str) -> String {
    github_escape_data(s)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

/// The closest of `candidates` to `input`, when it is close enough to be what the user meant.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // Nothing much longer than a name is a misspelling of it (and comparing a value of a
    // megabyte with each candidate would take seconds).
    let length = input.chars().count();
    let input_lower = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| length <= 2 * c.chars().count() + 8)
        .map(|c| {
            let score = strsim::jaro_winkler(&input_lower, &c.to_ascii_lowercase());
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// "did you mean `x`?" for the closest candidate, when one is close enough.
pub fn suggest<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(input, candidates).map(|best| format!("did you mean `{best}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_rendering_points_at_the_column() {
        let d = Diagnostic::error("x.y", "something is wrong")
            .at(Some(Span::new("p.yaml", 2, 3, 4)))
            .label("here")
            .help("fix it");
        let got = render(&[d], Some("a: 1\nb: oops\n"), Format::Human);
        assert_eq!(
            got,
            "error[x.y]: something is wrong\n --> p.yaml:2:3\n  |\n2 | b: oops\n  |   ^^^^ here\n  = help: fix it\n\n"
        );
    }

    #[test]
    fn github_rendering_escapes_properties_and_data() {
        let d =
            Diagnostic::error("a.b", "50% bad\nnext").at(Some(Span::new("d,1:x.yaml", 1, 1, 1)));
        let got = render(&[d], None, Format::Github);
        assert_eq!(
            got,
            "::error file=d%2C1%3Ax.yaml,line=1,col=1,title=a.b::50%25 bad%0Anext\n"
        );
    }

    #[test]
    fn json_rendering_is_one_object_per_line() {
        let d = Diagnostic::warning("w", "careful").at(Some(Span::new("p.yaml", 1, 2, 3)));
        let got = render(&[d.clone(), d], None, Format::Json);
        assert_eq!(got.lines().count(), 2);
        let v: serde_json::Value = serde_json::from_str(got.lines().next().unwrap_or("")).unwrap();
        assert_eq!(v["span"]["line"], 1);
        assert_eq!(v["severity"], "warning");
    }

    #[test]
    fn did_you_mean_finds_near_misses_only() {
        let names = ["provider", "action", "with"];
        assert_eq!(did_you_mean("provder", names), Some("provider"));
        assert_eq!(did_you_mean("actoin", names), Some("action"));
        assert_eq!(did_you_mean("zzz", names), None);
        assert_eq!(did_you_mean(&"action".repeat(100_000), names), None);
    }

    #[test]
    fn a_long_line_is_shown_around_its_span() {
        let line = format!("      phone: \"{}\"", "x ~ ".repeat(10_000));
        let col = 2_000;
        let d = Diagnostic::error("x", "m").at(Some(Span::new("p.yaml", 1, col, 50_000)));
        let out = render(std::slice::from_ref(&d), Some(&line), Format::Human);
        assert!(out.len() < 1_000, "{}", out.len());
        let lines: Vec<&str> = out.lines().collect();
        let shown = lines[3].split_once(" | ").expect("a source line").1;
        let carets = lines[4].split_once(" | ").expect("carets").1;
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        // The carets start under the span's column: 40 columns of context, then the span.
        assert_eq!(carets.find('^'), Some(41), "{carets}");
        let short = Diagnostic::error("x", "m").at(Some(Span::new("p.yaml", 1, 3, 2)));
        let out = render(&[short], Some("ab: cd"), Format::Human);
        assert!(out.contains("1 | ab: cd\n  |   ^^"), "{out}");
    }

    #[test]
    fn a_long_message_keeps_its_start_and_end() {
        let long = format!("`{}` is not an action", "a".repeat(5_000));
        let d = Diagnostic::error("x", long).help("h".repeat(2_000));
        assert!(d.message.chars().count() < 1_000, "{}", d.message.len());
        assert!(d.message.starts_with("`aaa"));
        assert!(d.message.ends_with("` is not an action"));
        assert!(
            d.message.contains("(4119 characters left out)"),
            "{}",
            d.message
        );
        assert!(d.help.as_deref().is_some_and(|h| h.len() < 1_000));
        assert_eq!(Diagnostic::error("x", "short").message, "short");
    }
}
