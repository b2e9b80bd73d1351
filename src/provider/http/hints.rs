//! Errors of `http` providers: any API's error body read by its common fields, and hints for
//! the errors users commonly hit (credentials, rate limits).

use serde_json::Value;

use crate::provider::hints::{self, Context, VendorError, field};

/// Reads an API's error body by the common fields, tried in order; `text` is the first line of
/// a body that was not JSON.
pub(crate) fn read(body: &Value, text: Option<String>) -> VendorError {
    // Many APIs nest the details: `{"error": {"code": ..., "message": ...}}`.
    let inner = body.get("error").filter(|e| e.is_object());
    let code = field(body, &["code", "error"]).or_else(|| inner.and_then(|e| field(e, &["code"])));
    let messages = ["message", "error_description", "detail", "title"];
    let message = field(body, &messages)
        .or_else(|| inner.and_then(|e| field(e, &messages)))
        .or(text);
    VendorError {
        code,
        message,
        context_id: None,
    }
}

/// A hint for an `http` provider's error: OAuth's `invalid_client`, then the status.
pub(crate) fn hint(code: &str, status: u16, cx: &Context) -> Option<String> {
    let p = cx.provider;
    let hint = match (code, status) {
        ("invalid_client", _) => format!(
            "the client id or secret of provider `{p}` are wrong: check `auth.client_id`, `auth.client_secret` and `auth.token_url`"
        ),
        (_, 401) => format!(
            "provider `{p}`'s credentials were refused: check its `auth` (and that any token has not expired)"
        ),
        (_, 429) => hints::rate_limited(&format!("the API rate-limited `{p}`"), None, cx),
        _ => return hints::server_error(status, cx),
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderKind;
    use crate::provider::hints::{hint, read};
    use serde_json::json;

    const HTTP: ProviderKind = ProviderKind::Http;

    use crate::provider::hints::testing::{cx, error};

    #[test]
    fn reads_http_errors_generically() {
        let e = read(
            HTTP,
            422,
            &[],
            &json!({"code": 1042, "detail": "name is required"}),
        )
        .unwrap_or_default();
        assert_eq!(e.code.as_deref(), Some("1042"));
        assert_eq!(e.message.as_deref(), Some("name is required"));

        let e = read(HTTP, 404, &[], &json!({"title": "Not Found"})).unwrap_or_default();
        assert_eq!(e.code, None);
        assert_eq!(e.message.as_deref(), Some("Not Found"));

        let e = read(
            HTTP,
            403,
            &[],
            &json!({"error": {"code": "Forbidden", "message": "no access"}}),
        )
        .unwrap_or_default();
        assert_eq!(e.code.as_deref(), Some("Forbidden"));
        assert_eq!(e.message.as_deref(), Some("no access"));

        let e = read(
            HTTP,
            400,
            &[],
            &json!({"error": "invalid_client", "error_description": "bad secret"}),
        )
        .unwrap_or_default();
        assert_eq!(e.code.as_deref(), Some("invalid_client"));
        assert_eq!(e.message.as_deref(), Some("bad secret"));
    }

    #[test]
    fn http_auth_errors() {
        let context = cx("crm", "request");
        let h = hint(HTTP, 401, &VendorError::default(), &context).unwrap_or_default();
        assert!(h.contains("provider `crm`") && h.contains("`auth`"), "{h}");
        let h = hint(HTTP, 400, &error(Some("invalid_client"), None), &context).unwrap_or_default();
        assert!(h.contains("`auth.token_url`"), "{h}");
    }
}
