//! Reporters: they turn the runner's events into output, and never print a secret.
//!
//! - [`console`]: the terminal;
//! - [`model`]: the results model every file report renders;
//! - [`json`], [`junit`], [`markdown`], [`html`]: one file format each;
//! - [`jsonl`]: every step and item, streamed as the run goes;
//! - [`webhook`]: `notify:` lifecycle events;
//! - [`destination`]: output paths, checked before a run and written through symlinks;
//! - [`notices`]: errors, warnings and report paths on stderr.

pub mod console;
pub mod destination;
pub mod html;
pub mod json;
pub mod jsonl;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod notices;
pub mod webhook;

use std::io::Write as _;
use std::path::Path;

/// A report file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (`schemas/report.v1.schema.json`).
    Json,
    /// JUnit XML.
    Junit,
    /// Markdown (a job summary, a PR comment).
    Markdown,
    /// One self-contained HTML page.
    Html,
}

impl Format {
    /// Every format, with its name.
    pub const ALL: [(&'static str, Format); 4] = [
        ("json", Format::Json),
        ("junit", Format::Junit),
        ("markdown", Format::Markdown),
        ("html", Format::Html),
    ];

    /// Reads a format's name (`md` is taken for `markdown`).
    pub fn parse(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "md" => Some(Format::Markdown),
            other => Format::ALL
                .iter()
                .find(|(n, _)| *n == other)
                .map(|(_, f)| *f),
        }
    }

    /// Its name, as `--report` takes it.
    pub fn name(self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("json", |(n, _)| n)
    }

    /// Renders a report in this format.
    pub fn render(self, report: &model::Report) -> String {
        match self {
            Format::Json => json::render(report),
            Format::Junit => junit::render(report),
            Format::Markdown => markdown::render(report),
            Format::Html => html::render(report),
        }
    }
}

/// Writes a file atomically: a temporary file beside it, then a rename, so that a reader never
/// sees half a report and an interrupted write leaves the old one.
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    // Through a symlink to its target: the link stays, the file it names is replaced.
    let path = &destination::resolve(path).map_err(std::io::Error::other)?;
    let dir = destination::directory_of(path);
    std::fs::create_dir_all(&dir)?;
    let mut file = tempfile::NamedTempFile::new_in(&dir)?;
    file.write_all(contents.as_bytes())?;
    // A temporary file is private (0600); a report is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

use std::sync::RwLock;

/// Masks secret values (and their base64 forms) in text.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: RwLock<Vec<String>>,
}

/// What a masked value reads as.
pub const MASK: &str = "****";

impl Redactor {
    /// Adds values to mask; very short values are ignored (masking `a` would mangle every word).
    pub fn add<I: IntoIterator<Item = String>>(&self, values: I) {
        use base64::Engine as _;
        let mut secrets = self
            .secrets
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for value in values {
            if value.chars().count() < 4 || secrets.contains(&value) {
                continue;
            }
            let encoded = base64::engine::general_purpose::STANDARD.encode(&value);
            secrets.push(value);
            secrets.push(encoded);
        }
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every secret masked.
    pub fn mask(&self, text: &str) -> String {
        let secrets = self
            .secrets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = text.to_owned();
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_their_base64_are_masked() {
        let r = Redactor::default();
        r.add(["hunter22".to_owned(), "ab".to_owned()]);
        assert_eq!(r.mask("pw=hunter22 ab"), "pw=**** ab");
        assert_eq!(r.mask("Basic aHVudGVyMjI="), "Basic ****");
    }
}
