//! Notices: what a run says outside its steps' lines (errors before the first step, warnings,
//! where each report went), on stderr, every line masked.

use std::io::Write as _;
use std::sync::Arc;

use super::Redactor;

/// Writes notices to stderr.
#[derive(Debug, Clone)]
pub struct Notices {
    redactor: Arc<Redactor>,
}

impl Notices {
    /// Notices masked with `redactor`.
    pub fn new(redactor: Arc<Redactor>) -> Notices {
        Notices { redactor }
    }

    /// A line as it is (masked).
    pub fn line(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", self.redactor.mask(text));
    }

    /// `error: …`
    pub fn error(&self, text: &str) {
        self.line(&format!("error: {text}"));
    }

    /// `  hint: …`
    pub fn hint(&self, text: &str) {
        self.line(&format!("  hint: {text}"));
    }

    /// `warning: …`
    pub fn warning(&self, text: &str) {
        self.line(&format!("warning: {text}"));
    }
}
