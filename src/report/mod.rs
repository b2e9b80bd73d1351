//! Reporters: they turn the runner's events into output, and never print a secret.
//!
//! - [`console`]: the terminal.

pub mod console;

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
