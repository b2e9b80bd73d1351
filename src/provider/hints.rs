//! Vendor errors and hints.
//!
//! When a provider answers with an error, callplan shows the vendor's own code and message (what
//! the vendor's documentation and support speak in), the correlation id support asks for, and,
//! for the errors users commonly hit, a one-line hint naming the provider and what to change.
//!
//! Each vendor reads its own error bodies and knows its own hints (`genesys::hints`,
//! `cxone::hints`, `http::hints`); this module picks the vendor and holds what they share: the
//! error as read, the 429 and 5xx hints, and reading fields, headers and bodies that were not JSON.
//!
//! Everything here is pure: the runner passes in what it received and what the plan did.

use std::time::Duration;

use serde_json::Value;

use super::{ProviderKind, cxone, genesys, http};

/// Longest message taken from a body that was not JSON; such bodies can be whole pages.
const MAX_TEXT: usize = 200;

/// A provider error, read from a response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorError {
    /// The vendor's code: Genesys `code` (e.g. `not.a.user`), OAuth `error` (e.g.
    /// `invalid_client`), CXone `error`.
    pub code: Option<String>,
    /// The vendor's message: Genesys `message`, OAuth `error_description`/`description`, CXone
    /// `error_description` (or the `icStatusDescription` header when the body has none).
    pub message: Option<String>,
    /// Genesys `contextId` / correlation id, if any.
    pub context_id: Option<String>,
}

/// Reads a vendor error from a response's status, headers (lowercase names) and body (parsed
/// JSON, or a JSON string value if it was not JSON). Returns None for 2xx/3xx.
///
/// Any status of 400 and above gives an error, even when the body says nothing (all fields
/// `None`): the status alone still picks a hint.
pub fn read(
    kind: ProviderKind,
    status: u16,
    headers: &[(String, String)],
    body: &Value,
) -> Option<VendorError> {
    if status < 400 {
        return None;
    }
    let text = body.as_str().and_then(plain_text);
    Some(match kind {
        ProviderKind::GenesysCloud => genesys::hints::read(headers, body, text),
        ProviderKind::NiceCxone => cxone::hints::read(headers, body, text),
        ProviderKind::Http => http::hints::read(body, text),
    })
}

/// What the plan did about rate limits, for the 429 hint.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The provider's name in the plan, e.g. `gc`.
    pub provider: &'a str,
    /// The step's action, e.g. `calls.create`.
    pub action: &'a str,
    /// The provider's `rate_limit`: requests per period.
    pub rate_limit: Option<(u32, Duration)>,
    /// Whether the step retried on `rate_limited`.
    pub retried: bool,
}

/// A one-line hint for the error, if callplan knows one.
///
/// The vendor's code decides first; the status decides for codes callplan does not know (401,
/// 429 and 5xx mean the same whatever the code). Other unknown codes give `None`.
pub fn hint(kind: ProviderKind, status: u16, error: &VendorError, cx: &Context) -> Option<String> {
    let code = error.code.as_deref().unwrap_or_default();
    let message = error.message.as_deref().unwrap_or_default();
    match kind {
        ProviderKind::GenesysCloud => genesys::hints::hint(code, status, message, cx),
        ProviderKind::NiceCxone => cxone::hints::hint(code, status, message, cx),
        ProviderKind::Http => http::hints::hint(code, status, cx),
    }
}

/// The 429 hint: what the vendor allowed (`limit`), how the plan paces the provider (or, when it
/// does not, that it should set `rate_limit`, to `suggested` when the vendor's limit is known),
/// and whether the step retried.
pub(super) fn rate_limited(limit: &str, suggested: Option<&str>, cx: &Context) -> String {
    let p = cx.provider;
    let pacing = match (cx.rate_limit, suggested) {
        (Some((n, per)), _) => format!(
            "the plan paces `{p}` at {n} per {}: lower it",
            crate::duration::human(per)
        ),
        (None, Some(value)) => format!("set `rate_limit: {value}` on provider `{p}`"),
        (None, None) => format!("set `rate_limit` on provider `{p}`"),
    };
    let retry = if cx.retried {
        "the step retried on `rate_limited` and still hit the limit".to_owned()
    } else {
        format!(
            "add `retry: {{ attempts: 3, when: [rate_limited] }}` to the `{}` step",
            cx.action
        )
    };
    format!("{limit}; {pacing}; {retry}")
}

/// The 5xx hint: the provider failed, not the plan.
pub(super) fn server_error(status: u16, cx: &Context) -> Option<String> {
    (500..=599).contains(&status).then(|| {
        format!(
            "provider `{}` failed on its side (HTTP {status}), not the plan: a step with `retry: {{ attempts: 3, when: [server_error] }}` retries such failures (a request that creates a call only after a 503 with Retry-After, unless `unsafe: true`)",
            cx.provider
        )
    })
}

/// The first of `keys` that holds a non-empty string (or a number: some APIs use numeric codes).
pub(super) fn field(body: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match body.get(key)? {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The first line of a body that was not JSON, unless it is markup (an HTML error page says
/// nothing the status does not).
fn plain_text(body: &str) -> Option<String> {
    let line = body.trim().lines().next()?.trim();
    if line.is_empty() || line.starts_with('<') {
        return None;
    }
    let mut text: String = line.chars().take(MAX_TEXT).collect();
    if line.chars().nth(MAX_TEXT).is_some() {
        text.push('…');
    }
    Some(text)
}

/// A header's value (names compared without case; callers pass them lowercase).
pub(super) fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// What the vendors' hint tests share: a context and a vendor error.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Context, VendorError};

    pub(crate) fn cx(provider: &'static str, action: &'static str) -> Context<'static> {
        Context {
            provider,
            action,
            rate_limit: None,
            retried: false,
        }
    }

    pub(crate) fn error(code: Option<&str>, message: Option<&str>) -> VendorError {
        VendorError {
            code: code.map(str::to_owned),
            message: message.map(str::to_owned),
            context_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GC: ProviderKind = ProviderKind::GenesysCloud;
    const CX: ProviderKind = ProviderKind::NiceCxone;
    const HTTP: ProviderKind = ProviderKind::Http;

    use testing::{cx, error};

    #[test]
    fn success_and_redirects_are_not_errors() {
        for status in [200, 202, 204, 304] {
            assert_eq!(read(GC, status, &[], &json!({"code": "x"})), None);
        }
        assert!(read(GC, 400, &[], &Value::Null).is_some());
    }

    #[test]
    fn a_body_that_was_not_json_gives_its_first_line_and_no_code() {
        for kind in ProviderKind::ALL {
            let e = read(
                kind,
                502,
                &[],
                &json!("  upstream connect error\nreset reason: overflow"),
            )
            .unwrap_or_default();
            assert_eq!(e.code, None, "{kind:?}");
            assert_eq!(
                e.message.as_deref(),
                Some("upstream connect error"),
                "{kind:?}"
            );
        }
        let page = json!("<html><body><h1>502 Bad Gateway</h1></body></html>");
        assert_eq!(read(HTTP, 502, &[], &page), Some(VendorError::default()));
        let long = json!("x".repeat(1000));
        let message = read(HTTP, 500, &[], &long)
            .and_then(|e| e.message)
            .unwrap_or_default();
        assert_eq!(message.chars().count(), MAX_TEXT + 1);
        assert!(message.ends_with('…'));
    }

    #[test]
    fn rate_limit_with_pacing_but_no_retry() {
        let context = Context {
            provider: "crm",
            action: "request",
            rate_limit: Some((5, Duration::from_secs(1))),
            retried: false,
        };
        let h = hint(HTTP, 429, &VendorError::default(), &context).unwrap_or_default();
        assert!(h.contains("the plan paces `crm` at 5 per 1 s"), "{h}");
        assert!(
            h.contains("add `retry: { attempts: 3, when: [rate_limited] }` to the `request` step"),
            "{h}"
        );
    }

    #[test]
    fn server_errors_mention_retry() {
        for (kind, provider) in [(GC, "gc"), (CX, "cx"), (HTTP, "crm")] {
            let h = hint(
                kind,
                503,
                &VendorError::default(),
                &cx(provider, "calls.get"),
            )
            .unwrap_or_default();
            assert!(h.contains(&format!("provider `{provider}` failed")), "{h}");
            assert!(h.contains("HTTP 503"), "{h}");
            assert!(
                h.contains("retry: { attempts: 3, when: [server_error] }"),
                "{h}"
            );
        }
    }

    #[test]
    fn unknown_codes_have_no_hint() {
        let e = error(Some("some.new.code"), Some("Something."));
        for kind in ProviderKind::ALL {
            for status in [400, 403, 404, 409, 422] {
                if kind == CX && status == 409 {
                    continue; // every CXone 409 is a state conflict
                }
                assert_eq!(
                    hint(kind, status, &e, &cx("p", "calls.get")),
                    None,
                    "{kind:?} {status}"
                );
            }
        }
    }
}
