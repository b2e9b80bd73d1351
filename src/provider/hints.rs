//! Vendor errors and hints.
//!
//! When a provider answers with an error, callplan shows the vendor's own code and message (what
//! the vendor's documentation and support speak in), the correlation id support asks for, and,
//! for the errors users commonly hit, a one-line hint naming the provider and what to change.
//!
//! Body shapes (see the reference notes on Genesys Cloud §1.2, §6 and NICE CXone §1.1, §4):
//! - Genesys API: `ErrorBody {message, code, status, messageWithParams, messageParams, contextId,
//!   details, errors}`; responses also carry `inin-correlation-id`.
//! - Genesys login host: `{error, description, error_description}`.
//! - CXone: `{error, error_description}`, often no body at all; the ACD's status text is in the
//!   `icStatusDescription` header.
//! - http providers: the common fields, tried in order.
//!
//! Everything here is pure: the runner passes in what it received and what the plan did.

use std::time::Duration;

use serde_json::Value;

use crate::provider::ProviderKind;

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
    let error = match kind {
        ProviderKind::GenesysCloud => VendorError {
            code: field(body, &["code", "error"]),
            message: field(body, &["message", "error_description", "description"])
                .or_else(|| with_params(body))
                .or(text),
            context_id: field(body, &["contextId"])
                .or_else(|| header(headers, "inin-correlation-id")),
        },
        ProviderKind::NiceCxone => VendorError {
            code: field(body, &["error"]),
            // `errorDescription` is the auth server's other error schema; `message` its
            // media-playback 429.
            message: field(body, &["error_description", "errorDescription", "message"])
                .or(text)
                .or_else(|| header(headers, "icstatusdescription")),
            context_id: None,
        },
        ProviderKind::Http => {
            // Many APIs nest the details: `{"error": {"code": ..., "message": ...}}`.
            let inner = body.get("error").filter(|e| e.is_object());
            let code =
                field(body, &["code", "error"]).or_else(|| inner.and_then(|e| field(e, &["code"])));
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
    };
    Some(error)
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
        ProviderKind::GenesysCloud => genesys(code, status, message, cx),
        ProviderKind::NiceCxone => cxone(code, status, message, cx),
        ProviderKind::Http => http(code, status, message, cx),
    }
}

fn genesys(code: &str, status: u16, message: &str, cx: &Context) -> Option<String> {
    let p = cx.provider;
    let hint = match code {
        "not.a.user" => {
            let alternative = match cx.action {
                "calls.disconnect" => {
                    "use `conversations.disconnect` (works with client credentials), or "
                }
                "calls.create" => {
                    "use `calls.create_for_user` with a `user_id` (works with client credentials), or "
                }
                _ => "",
            };
            format!(
                "`{}` needs a user context, which a client-credentials token lacks: {alternative}give provider `{p}` a user token (`auth: {{ grant: bearer, token: ... }}`)",
                cx.action
            )
        }
        "missing.permissions" | "missing.any.permissions" => {
            let any = code == "missing.any.permissions";
            let where_ = "to a role of its OAuth client (client credentials) or of the token's \
                          user (user token)";
            match permissions(message).as_slice() {
                [] => format!(
                    "provider `{p}` lacks a permission named in the message: add it {where_}"
                ),
                [one] => format!("provider `{p}` lacks the permission `{one}`: add it {where_}"),
                many => {
                    let list = many
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    if any {
                        format!(
                            "provider `{p}` needs one of the permissions {list}: add one {where_}"
                        )
                    } else {
                        format!("provider `{p}` lacks the permissions {list}: add them {where_}")
                    }
                }
            }
        }
        "not.authorized" => format!(
            "the role of provider `{p}`'s OAuth client (or of the token's user) lacks access for `{}`: check the role's permissions and divisions",
            cx.action
        ),
        "invalid_client" => format!(
            "the client id or secret of provider `{p}` are wrong, or the OAuth client belongs to another region: check `auth.client_id`, `auth.client_secret` and `region` (or `login_url`)"
        ),
        "bad.credentials" | "authentication.required" => genesys_auth(p),
        "too.many.requests" => rate_limited(ProviderKind::GenesysCloud, message, cx),
        "conversation.error.no.user.station" => {
            let who = match cx.action {
                "calls.create_for_user" => "the user `user_id` names",
                _ => "the token's user",
            };
            format!(
                "{who} has no effective station, so Genesys cannot place the call: associate a station with that user in Genesys and retry"
            )
        }
        "too.many.create.conversation.parameters" => format!(
            "`{}` takes exactly one destination: keep one of `phoneNumber`, `callQueueId`, `callUserId`, `conversationIds`, `participants` in `with:`",
            cx.action
        ),
        "conversation.error.conversation.not.found" => format!(
            "no conversation with that id exists in provider `{p}`'s org: check the step that saved the `conversation_id`"
        ),
        "contact.not.found" => format!(
            "no external contact with that id exists in provider `{p}`'s org: check the step that saved the `contact_id`"
        ),
        _ => match status {
            401 => genesys_auth(p),
            429 => rate_limited(ProviderKind::GenesysCloud, message, cx),
            _ => return server_error(status, cx),
        },
    };
    Some(hint)
}

fn genesys_auth(p: &str) -> String {
    format!(
        "provider `{p}`'s token was refused: check its `auth` (client id and secret, or a bearer token that may have expired) and `region`: Genesys rejects a token from another region"
    )
}

fn cxone(code: &str, status: u16, message: &str, cx: &Context) -> Option<String> {
    let p = cx.provider;
    // The ACD's texts come from the body or the `icStatusDescription` header, so match loosely.
    let said = |text: &str| message.to_ascii_lowercase().contains(text);
    let session = || {
        format!(
            "the agent session ended or belongs to another agent: pass the `session_id` that `agent_sessions.start` of provider `{p}` returned in this run"
        )
    };
    let phone = || {
        "CXone refused `phoneNumber`: give it in E.164 (`+13175550100`), in a country the \
         outbound skill may dial"
            .to_owned()
    };
    let skill = || {
        "CXone refused `skillId`: it must be the id of an outbound phone skill the agent is \
         assigned to"
            .to_owned()
    };
    let hint = match (code, status) {
        ("invalid_client", _) => format!(
            "the app's client id or secret of provider `{p}` are wrong: check `auth.client_id` and `auth.client_secret` (issued by NICE when the app was registered)"
        ),
        ("invalid_grant", _) => format!(
            "the access key of provider `{p}` was refused: check `auth.access_key_id` and `auth.access_key_secret` (the API user's access key, not the app's client)"
        ),
        (_, 401) => format!(
            "provider `{p}`'s token was refused: it expired, or it came from another auth server: check `auth_url` (FedRAMP tenants use https://cxone-gov.niceincontact.com)"
        ),
        ("InvalidSession", _) => session(),
        (_, 404) if said("invalid agent session") => session(),
        ("InvalidContactId", _) => format!(
            "no contact with that id exists in provider `{p}`'s business unit: check the step that saved the `contact_id`"
        ),
        (_, 409) => format!(
            "the agent session or contact has already ended: `{}` cannot act on it any more",
            cx.action
        ),
        ("InvalidPhoneNumber", _) => phone(),
        (_, 400) if said("phone number is not valid") => phone(),
        ("InvalidSkill", _) => skill(),
        (_, 400) if said("skill is not valid") => skill(),
        (_, 429) => rate_limited(ProviderKind::NiceCxone, message, cx),
        _ => return server_error(status, cx),
    };
    Some(hint)
}

fn http(code: &str, status: u16, message: &str, cx: &Context) -> Option<String> {
    let p = cx.provider;
    let hint = match (code, status) {
        ("invalid_client", _) => format!(
            "the client id or secret of provider `{p}` are wrong: check `auth.client_id`, `auth.client_secret` and `auth.token_url`"
        ),
        (_, 401) => format!(
            "provider `{p}`'s credentials were refused: check its `auth` (and that any token has not expired)"
        ),
        (_, 429) => rate_limited(ProviderKind::Http, message, cx),
        _ => return server_error(status, cx),
    };
    Some(hint)
}

/// The 429 hint: the vendor's limit, how the plan paces the provider, whether the step retried.
fn rate_limited(kind: ProviderKind, message: &str, cx: &Context) -> String {
    let p = cx.provider;
    let stated = genesys_limit(message);
    let limit = match (kind, stated) {
        (ProviderKind::GenesysCloud, Some((n, seconds))) => {
            format!("Genesys allowed `{p}` {n} requests per {seconds}s")
        }
        (ProviderKind::GenesysCloud, None) => format!(
            "Genesys allows 300 requests per minute per client-credentials token by default, and `{p}` went over"
        ),
        (ProviderKind::NiceCxone, _) => {
            format!("CXone rate-limited `{p}` (it publishes no general limit)")
        }
        (ProviderKind::Http, _) => format!("the API rate-limited `{p}`"),
    };
    let pacing = match cx.rate_limit {
        Some((n, per)) => format!(
            "the plan paces `{p}` at {n} per {}: lower it",
            humantime::format_duration(per)
        ),
        None => match (kind, stated) {
            (ProviderKind::GenesysCloud, Some((n, seconds))) => {
                format!("set `rate_limit: {{ requests: {n}, per: {seconds}s }}` on provider `{p}`")
            }
            (ProviderKind::GenesysCloud, None) => {
                format!("set `rate_limit: {{ requests: 300, per: 1m }}` on provider `{p}`")
            }
            _ => format!("set `rate_limit` on provider `{p}`"),
        },
    };
    let retry = if cx.retried {
        "the step retried on `rate_limited` and still hit the limit".to_owned()
    } else {
        format!(
            "add `retry: {{ on: [rate_limited] }}` to the `{}` step",
            cx.action
        )
    };
    format!("{limit}; {pacing}; {retry}")
}

fn server_error(status: u16, cx: &Context) -> Option<String> {
    (500..=599).contains(&status).then(|| {
        format!(
            "provider `{}` failed on its side (HTTP {status}), not the plan: callplan retries such failures only for steps with `retry: {{ on: [server_error] }}`",
            cx.provider
        )
    })
}

/// The limit a Genesys 429 states: "Rate limit exceeded the maximum [300] requests within [60]
/// seconds" gives (300, 60).
fn genesys_limit(message: &str) -> Option<(u64, u64)> {
    let mut numbers = message
        .split('[')
        .skip(1)
        .filter_map(|part| part.split(']').next()?.trim().parse::<u64>().ok());
    Some((numbers.next()?, numbers.next()?))
}

/// The permissions a Genesys `missing.permissions` message lists after its colon: "...missing
/// the following permission(s): conversation:call:add, conversation:agentlessCall:add".
fn permissions(message: &str) -> Vec<&str> {
    // Lowercasing ASCII keeps byte offsets, so `at` indexes `message` too.
    let Some(at) = message.to_ascii_lowercase().find("permission") else {
        return Vec::new();
    };
    let rest = &message[at..];
    // The sentence's colon is followed by a space; the colons inside permissions are not.
    let Some(colon) = rest.find(": ") else {
        return Vec::new();
    };
    rest[colon + 2..]
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|t| {
            t.trim_matches(|c: char| matches!(c, '[' | ']' | '(' | ')' | '.' | '"' | '\'' | '`'))
        })
        .filter(|t| is_permission(t))
        .collect()
}

/// `domain:entity:action`, each part a name or `*`.
fn is_permission(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() >= 2
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '_' | '-'))
        })
}

/// The first of `keys` that holds a non-empty string (or a number: some APIs use numeric codes).
fn field(body: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match body.get(key)? {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A Genesys message rebuilt from `messageWithParams` and `messageParams`, for bodies that carry
/// only the template.
fn with_params(body: &Value) -> Option<String> {
    let mut text = field(body, &["messageWithParams"])?;
    if let Some(params) = body.get("messageParams").and_then(Value::as_object) {
        for (name, value) in params {
            if let Some(value) = value.as_str() {
                text = text.replace(&format!("{{{name}}}"), value);
            }
        }
    }
    Some(text)
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
fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GC: ProviderKind = ProviderKind::GenesysCloud;
    const CX: ProviderKind = ProviderKind::NiceCxone;
    const HTTP: ProviderKind = ProviderKind::Http;

    fn cx(provider: &'static str, action: &'static str) -> Context<'static> {
        Context {
            provider,
            action,
            rate_limit: None,
            retried: false,
        }
    }

    fn error(code: Option<&str>, message: Option<&str>) -> VendorError {
        VendorError {
            code: code.map(str::to_owned),
            message: message.map(str::to_owned),
            context_id: None,
        }
    }

    fn gc_hint(status: u16, code: &str, message: &str, action: &'static str) -> String {
        hint(
            GC,
            status,
            &error(Some(code), Some(message)),
            &cx("gc", action),
        )
        .unwrap_or_default()
    }

    fn cx_hint(status: u16, code: Option<&str>, message: Option<&str>) -> String {
        hint(
            CX,
            status,
            &error(code, message),
            &cx("cx", "agent_sessions.dial"),
        )
        .unwrap_or_default()
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    // ---- read ----------------------------------------------------------------------------

    #[test]
    fn success_and_redirects_are_not_errors() {
        for status in [200, 202, 204, 304] {
            assert_eq!(read(GC, status, &[], &json!({"code": "x"})), None);
        }
        assert!(read(GC, 400, &[], &Value::Null).is_some());
    }

    #[test]
    fn reads_a_genesys_error_body() {
        let body = json!({
            "message": "This request requires a user context. Client credentials cannot be used for requests to this resource.",
            "code": "not.a.user",
            "status": 400,
            "contextId": "7b5d-ctx",
            "details": [],
            "errors": [],
        });
        let headers = headers(&[("inin-correlation-id", "header-id")]);
        let e = read(GC, 400, &headers, &body).unwrap_or_default();
        assert_eq!(e.code.as_deref(), Some("not.a.user"));
        assert!(
            e.message
                .unwrap_or_default()
                .starts_with("This request requires a user context")
        );
        assert_eq!(e.context_id.as_deref(), Some("7b5d-ctx"));
    }

    #[test]
    fn genesys_falls_back_to_the_correlation_header_and_the_message_template() {
        let body = json!({
            "code": "too.many.requests",
            "status": 429,
            "messageWithParams": "Rate limit exceeded the maximum [{0}] requests within [{1}] seconds",
            "messageParams": {"0": "300", "1": "60"},
        });
        let headers = headers(&[("inin-correlation-id", "corr-1")]);
        let e = read(GC, 429, &headers, &body).unwrap_or_default();
        assert_eq!(
            e.message.as_deref(),
            Some("Rate limit exceeded the maximum [300] requests within [60] seconds")
        );
        assert_eq!(e.context_id.as_deref(), Some("corr-1"));
    }

    #[test]
    fn reads_a_genesys_login_error() {
        let body = json!({
            "error": "invalid_client",
            "description": "authentication failed",
            "error_description": "authentication failed",
        });
        let e = read(GC, 401, &[], &body).unwrap_or_default();
        assert_eq!(
            e,
            VendorError {
                code: Some("invalid_client".into()),
                message: Some("authentication failed".into()),
                context_id: None,
            }
        );
        // Only `description` set: still read.
        let e = read(
            GC,
            400,
            &[],
            &json!({"error": "invalid_request", "description": "no grant"}),
        )
        .unwrap_or_default();
        assert_eq!(e.message.as_deref(), Some("no grant"));
    }

    #[test]
    fn reads_a_cxone_error_body() {
        let body = json!({"error": "InvalidSkill", "error_description": "Skill is not valid."});
        let headers = headers(&[("icstatusdescription", "Skill is not valid (header).")]);
        let e = read(CX, 400, &headers, &body).unwrap_or_default();
        assert_eq!(e.code.as_deref(), Some("InvalidSkill"));
        assert_eq!(e.message.as_deref(), Some("Skill is not valid."));
        assert_eq!(e.context_id, None);
    }

    #[test]
    fn cxone_without_a_body_uses_the_status_header() {
        let headers = headers(&[("icstatusdescription", "Invalid agent session.")]);
        for body in [Value::Null, json!(""), json!({})] {
            let e = read(CX, 404, &headers, &body).unwrap_or_default();
            assert_eq!(e.code, None);
            assert_eq!(e.message.as_deref(), Some("Invalid agent session."));
        }
        // No body and no header: an error with nothing but its status.
        assert_eq!(
            read(CX, 401, &[], &Value::Null),
            Some(VendorError::default())
        );
    }

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

    // ---- Genesys hints -------------------------------------------------------------------

    #[test]
    fn not_a_user_on_calls_create_suggests_create_for_user_or_a_user_token() {
        let h = gc_hint(400, "not.a.user", "", "calls.create");
        assert!(
            h.contains("`calls.create_for_user` with a `user_id`"),
            "{h}"
        );
        assert!(h.contains("provider `gc`"), "{h}");
        assert!(h.contains("grant: bearer"), "{h}");
        assert!(!h.contains("conversations.disconnect"), "{h}");
    }

    #[test]
    fn not_a_user_on_calls_disconnect_suggests_conversations_disconnect() {
        let h = gc_hint(400, "not.a.user", "", "calls.disconnect");
        assert!(h.contains("`conversations.disconnect`"), "{h}");
        assert!(h.contains("grant: bearer"), "{h}");
        assert!(!h.contains("create_for_user"), "{h}");
    }

    #[test]
    fn not_a_user_elsewhere_suggests_only_a_user_token() {
        let h = gc_hint(400, "not.a.user", "", "request");
        assert!(h.contains("`request` needs a user context"), "{h}");
        assert!(h.contains("give provider `gc` a user token"), "{h}");
        assert!(
            !h.contains("create_for_user") && !h.contains("conversations.disconnect"),
            "{h}"
        );
    }

    #[test]
    fn missing_permissions_names_them() {
        let h = gc_hint(
            403,
            "missing.permissions",
            "Unable to perform the requested action. You are missing the following permission(s): conversation:call:add",
            "calls.create_for_user",
        );
        assert!(
            h.contains("lacks the permission `conversation:call:add`"),
            "{h}"
        );
        assert!(h.contains("OAuth client"), "{h}");
        assert!(h.contains("user"), "{h}");

        let h = gc_hint(
            403,
            "missing.permissions",
            "You are missing the following permission(s): [conversation:call:add, externalContacts:contact:add].",
            "calls.create_for_user",
        );
        assert!(
            h.contains("`conversation:call:add`, `externalContacts:contact:add`: add them"),
            "{h}"
        );
    }

    #[test]
    fn missing_any_permissions_asks_for_one_of_them() {
        let h = gc_hint(
            403,
            "missing.any.permissions",
            "Unable to perform the requested action. You must have at least one of the following permissions assigned: conversation:agentlessCall:add, conversation:call:add",
            "calls.create_for_user",
        );
        assert!(
            h.contains(
                "one of the permissions `conversation:agentlessCall:add`, `conversation:call:add`"
            ),
            "{h}"
        );
    }

    #[test]
    fn missing_permissions_without_a_list_still_says_where_to_add_it() {
        let h = gc_hint(403, "missing.permissions", "", "calls.get");
        assert!(h.contains("lacks a permission"), "{h}");
        assert!(h.contains("role"), "{h}");
    }

    #[test]
    fn not_authorized_points_at_the_client_role() {
        let h = gc_hint(403, "not.authorized", "You are not authorized", "users.get");
        assert!(h.contains("role of provider `gc`'s OAuth client"), "{h}");
        assert!(h.contains("`users.get`"), "{h}");
    }

    #[test]
    fn bad_credentials_and_401_check_auth_and_region() {
        for code in ["bad.credentials", "authentication.required", "whatever"] {
            let h = gc_hint(401, code, "", "calls.get");
            assert!(h.contains("provider `gc`"), "{code}: {h}");
            assert!(h.contains("`auth`"), "{code}: {h}");
            assert!(h.contains("another region"), "{code}: {h}");
        }
    }

    #[test]
    fn invalid_client_names_the_credentials_and_the_region() {
        let h = gc_hint(401, "invalid_client", "authentication failed", "calls.get");
        assert!(h.contains("client id or secret of provider `gc`"), "{h}");
        assert!(h.contains("`region`") && h.contains("`login_url`"), "{h}");
    }

    #[test]
    fn rate_limit_without_pacing_or_retry_suggests_both() {
        let h = gc_hint(429, "too.many.requests", "", "calls.create_for_user");
        assert!(
            h.contains("300 requests per minute per client-credentials token"),
            "{h}"
        );
        assert!(
            h.contains("set `rate_limit: { requests: 300, per: 1m }` on provider `gc`"),
            "{h}"
        );
        assert!(h.contains("add `retry: { on: [rate_limited] }`"), "{h}");
    }

    #[test]
    fn rate_limit_with_pacing_and_retry_says_what_the_plan_did() {
        let context = Context {
            provider: "gc",
            action: "calls.get",
            rate_limit: Some((250, Duration::from_secs(60))),
            retried: true,
        };
        let e = error(
            Some("too.many.requests"),
            Some("Rate limit exceeded the maximum [100] requests within [60] seconds"),
        );
        let h = hint(GC, 429, &e, &context).unwrap_or_default();
        assert!(
            h.contains("Genesys allowed `gc` 100 requests per 60s"),
            "{h}"
        );
        assert!(h.contains("the plan paces `gc` at 250 per 1m"), "{h}");
        assert!(h.contains("retried on `rate_limited`"), "{h}");
        assert!(!h.contains("add `retry"), "{h}");
        assert!(!h.contains("set `rate_limit"), "{h}");
    }

    #[test]
    fn rate_limit_uses_the_stated_limit_when_suggesting_one() {
        let h = gc_hint(
            429,
            "whatever",
            "Rate limit exceeded the maximum [100] requests within [60] seconds",
            "calls.get",
        );
        assert!(
            h.contains("set `rate_limit: { requests: 100, per: 60s }`"),
            "{h}"
        );
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
        assert!(h.contains("the plan paces `crm` at 5 per 1s"), "{h}");
        assert!(
            h.contains("add `retry: { on: [rate_limited] }` to the `request` step"),
            "{h}"
        );
    }

    #[test]
    fn no_station_asks_for_a_station() {
        let h = gc_hint(
            400,
            "conversation.error.no.user.station",
            "A station is required to place a call.",
            "calls.create_for_user",
        );
        assert!(h.contains("no effective station"), "{h}");
        assert!(h.contains("associate a station"), "{h}");
        assert!(h.contains("`user_id`"), "{h}");
    }

    #[test]
    fn too_many_destinations_asks_for_one() {
        let h = gc_hint(
            400,
            "too.many.create.conversation.parameters",
            "",
            "calls.create",
        );
        assert!(h.contains("exactly one destination"), "{h}");
        assert!(h.contains("`phoneNumber`"), "{h}");
    }

    #[test]
    fn unknown_ids_point_at_the_step_that_saved_them() {
        let h = gc_hint(
            404,
            "conversation.error.conversation.not.found",
            "",
            "calls.get",
        );
        assert!(h.contains("no conversation with that id"), "{h}");
        assert!(h.contains("check the step that saved"), "{h}");
        let h = gc_hint(404, "contact.not.found", "", "external_contacts.get");
        assert!(h.contains("no external contact with that id"), "{h}");
        assert!(h.contains("`contact_id`"), "{h}");
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
            assert!(h.contains("retry: { on: [server_error] }"), "{h}");
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

    #[test]
    fn every_hint_is_one_line() {
        let context = cx("gc", "calls.create");
        for code in [
            "not.a.user",
            "missing.permissions",
            "not.authorized",
            "invalid_client",
            "too.many.requests",
            "conversation.error.no.user.station",
        ] {
            let h = hint(GC, 400, &error(Some(code), None), &context).unwrap_or_default();
            assert!(!h.is_empty() && !h.contains('\n'), "{code}: {h:?}");
        }
    }

    // ---- CXone hints ---------------------------------------------------------------------

    #[test]
    fn cxone_auth_errors_tell_the_app_client_from_the_access_key() {
        let h = cx_hint(
            400,
            Some("invalid_client"),
            Some("Client authentication failed."),
        );
        assert!(h.contains("`auth.client_id`"), "{h}");
        assert!(!h.contains("access_key"), "{h}");
        let h = cx_hint(400, Some("invalid_grant"), Some("Invalid access key."));
        assert!(h.contains("`auth.access_key_id`"), "{h}");
        assert!(!h.contains("client_id"), "{h}");
        let h = cx_hint(401, Some("Unauthorized"), Some("Unauthorized"));
        assert!(h.contains("expired"), "{h}");
        assert!(h.contains("`auth_url`"), "{h}");
        assert!(h.contains("provider `cx`"), "{h}");
    }

    #[test]
    fn cxone_invalid_session() {
        // From the header alone (no code), and from the sandbox's body.
        for e in [
            (None, Some("Invalid agent session.")),
            (Some("InvalidSession"), Some("Invalid agent session.")),
        ] {
            let h = cx_hint(404, e.0, e.1);
            assert!(
                h.contains("session ended or belongs to another agent"),
                "{h}"
            );
        }
        // Another 404 is not a session problem.
        assert_eq!(cx_hint(404, Some("NotFound"), Some("Not Found")), "");
    }

    #[test]
    fn cxone_unknown_contact() {
        let h = cx_hint(404, Some("InvalidContactId"), Some("InvalidContactId"));
        assert!(h.contains("no contact with that id"), "{h}");
    }

    #[test]
    fn cxone_conflict_means_already_ended() {
        let h = cx_hint(
            409,
            Some("SessionEnded"),
            Some("The agent session has ended."),
        );
        assert!(h.contains("already ended"), "{h}");
        assert_eq!(cx_hint(409, None, None), h);
    }

    #[test]
    fn cxone_bad_phone_number_and_skill() {
        let h = cx_hint(400, None, Some("Phone Number is not valid."));
        assert!(h.contains("E.164") && h.contains("skill"), "{h}");
        assert_eq!(
            cx_hint(
                400,
                Some("InvalidPhoneNumber"),
                Some("Phone Number is not valid.")
            ),
            h
        );
        let h = cx_hint(400, None, Some("Skill is not valid."));
        assert!(h.contains("`skillId`") && h.contains("outbound"), "{h}");
        assert_eq!(cx_hint(400, Some("InvalidSkill"), None), h);
        assert_eq!(
            cx_hint(400, Some("BadRequest"), Some("The request is not valid.")),
            ""
        );
    }

    #[test]
    fn cxone_rate_limit_suggests_pacing() {
        let h = cx_hint(429, Some("TooManyRequests"), None);
        assert!(h.contains("CXone"), "{h}");
        assert!(h.contains("set `rate_limit` on provider `cx`"), "{h}");
        assert!(!h.contains("300"), "{h}");
    }

    // ---- http hints ----------------------------------------------------------------------

    #[test]
    fn http_auth_errors() {
        let context = cx("crm", "request");
        let h = hint(HTTP, 401, &VendorError::default(), &context).unwrap_or_default();
        assert!(h.contains("provider `crm`") && h.contains("`auth`"), "{h}");
        let h = hint(HTTP, 400, &error(Some("invalid_client"), None), &context).unwrap_or_default();
        assert!(h.contains("`auth.token_url`"), "{h}");
    }
}
