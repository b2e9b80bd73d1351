//! Reporters: they turn the runner's events into output, and never print a secret.
//!
//! - [`console`]: the terminal;
//! - [`model`]: the results model every file report renders;
//! - [`json`], [`junit`], [`markdown`], [`html`]: one file format each;
//! - [`jsonl`]: every step and item, streamed as the run goes;
//! - [`webhook`]: `notify:` lifecycle events;
//! - [`planned`]: what a dry run would send, printed and as JSON;
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
pub mod planned;
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

/// Masks secret values in text, in every form they take on the way out.
///
/// A secret reaches an output raw, or already encoded by whatever carried it: JSON-escaped (a
/// request or response body, a saved value; JSON inside a JSON string too), URL-encoded (a query
/// string: `+` and `%20` forms, every reserved character percent-encoded, upper or lower case),
/// HTML- or XML-escaped, with its line breaks and tabs flattened (the terminal, Markdown), or in
/// base64 (standard and URL-safe, with and without padding, and `id:secret` HTTP Basic pairs).
/// Every form is computed when the secret is added, and one Aho-Corasick automaton finds them
/// all in a single pass over the text, longest first.
#[derive(Debug, Default)]
pub struct Redactor {
    state: RwLock<Masks>,
}

#[derive(Debug, Default)]
struct Masks {
    /// Every form of every secret.
    forms: Vec<String>,
    /// The secrets as added (to tell a value already known).
    secrets: Vec<String>,
    /// Finds `forms`, leftmost-longest.
    finder: Option<aho_corasick::AhoCorasick>,
}

/// What a masked value reads as.
pub const MASK: &str = "****";

/// The JSON string form of `text`, without its quotes.
fn json_escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

/// Every byte but the unreserved ones (RFC 3986) percent-encoded.
fn percent_encoded(text: &str, upper: bool) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// HTML/XML escaping, with each spelling of the apostrophe and the quote.
fn markup_escaped(text: &str) -> Vec<String> {
    ["&#39;", "&#x27;", "&apos;"]
        .iter()
        .map(|apostrophe| escape_markup(text, apostrophe))
        .collect()
}

/// Escapes text for HTML and XML element content and double-quoted attribute values, writing
/// an apostrophe as `apostrophe`.
pub(crate) fn escape_markup(text: &str, apostrophe: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c => out.push(c),
        }
    }
    out
}

/// The base64 forms of `bytes`.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    vec![
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ]
}

/// Every form a secret can take in an output.
fn forms_of(secret: &str) -> Vec<String> {
    let json = json_escaped(secret);
    let mut forms = vec![
        secret.to_owned(),
        json_escaped(&json),
        json.clone(),
        form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        percent_encoded(secret, true),
        percent_encoded(secret, false),
        secret.replace(['\n', '\r', '\t'], " "),
    ];
    forms.extend(markup_escaped(secret));
    forms.extend(markup_escaped(&json));
    forms.extend(base64_forms(secret.as_bytes()));
    forms
}

impl Masks {
    fn push_forms(&mut self, forms: Vec<String>) {
        for form in forms {
            // A very short form would mangle every word it appears in.
            if form.chars().count() >= 4 && !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.finder = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&self.forms)
            .ok();
    }
}

impl Redactor {
    /// Adds values to mask; very short values are ignored (masking `a` would mangle every word).
    pub fn add<I: IntoIterator<Item = String>>(&self, values: I) {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut forms = Vec::new();
        for value in values {
            if value.chars().count() < 4 || state.secrets.contains(&value) {
                continue;
            }
            forms.extend(forms_of(&value));
            state.secrets.push(value);
        }
        if !forms.is_empty() {
            state.push_forms(forms);
        }
    }

    /// Adds an HTTP Basic pair: `id:secret` in base64 (the id alone is not masked).
    pub fn add_pair(&self, id: &str, secret: &str) {
        if secret.chars().count() < 4 {
            return;
        }
        let pair = format!("{id}:{secret}");
        let mut state = self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.push_forms(base64_forms(pair.as_bytes()));
    }

    /// `text` with every form of every secret masked.
    pub fn mask(&self, text: &str) -> String {
        self.masked(text).into_owned()
    }

    /// [`Redactor::mask`], without a copy when there is nothing to mask.
    pub fn masked<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let state = self
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &state.finder {
            Some(finder) if finder.is_match(text) => finder
                .replace_all(text, &vec![MASK; state.forms.len()])
                .into(),
            _ => text.into(),
        }
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

    #[test]
    fn every_encoded_form_is_masked() {
        let secret = "pa\"ss\\wo/rd+1 <x>&y";
        let r = Redactor::default();
        r.add([secret.to_owned()]);
        r.add_pair("client", secret);
        let json = serde_json::to_string(secret).expect("json");
        let nested = serde_json::to_string(&json).expect("json");
        let url: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("client:{secret}"));
        for shown in [
            secret.to_owned(),
            json,
            nested,
            url,
            percent_encoded(secret, true),
            percent_encoded(secret, false),
            markup_escaped(secret)[0].clone(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
            basic,
        ] {
            let masked = r.mask(&format!("before {shown} after"));
            assert!(
                !masked.contains(&shown) && masked.contains(MASK),
                "{shown} -> {masked}"
            );
        }
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        let r = Redactor::default();
        r.add(["token".to_owned(), "token-and-more".to_owned()]);
        assert_eq!(r.mask("x token-and-more y token"), "x **** y ****");
    }
}
