//! Genesys Cloud CX errors: reading its error bodies, and hints for the errors users commonly hit.
//!
//! Body shapes (see the reference notes on Genesys Cloud §1.2, §6):
//! - API: `ErrorBody {message, code, status, messageWithParams, messageParams, contextId,
//!   details, errors}`; responses also carry `inin-correlation-id`.
//! - login host: `{error, description, error_description}`.

use serde_json::Value;

use crate::provider::hints::{self, Context, VendorError, field, header};

/// Reads a Genesys error body; `text` is the first line of a body that was not JSON.
pub(crate) fn read(
    headers: &[(String, String)],
    body: &Value,
    text: Option<String>,
) -> VendorError {
    VendorError {
        code: field(body, &["code", "error"]),
        message: field(body, &["message", "error_description", "description"])
            .or_else(|| with_params(body))
            .or(text),
        context_id: field(body, &["contextId"]).or_else(|| header(headers, "inin-correlation-id")),
    }
}

/// A hint for a Genesys error: its code decides first, then the status (401, 429, 5xx).
pub(crate) fn hint(code: &str, status: u16, message: &str, cx: &Context) -> Option<String> {
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
                "`{}` needs a user context, which a client-credentials token lacks: {alternative}give provider `{p}` a user token (`auth: {{ grant: bearer, token: \"{{{{ secrets.user_token }}}}\" }}`)",
                cx.action
            )
        }
        "missing.permissions" | "missing.any.permissions" => {
            let named = {
                let any = code == "missing.any.permissions";
                let where_ = "to a role of its OAuth client (client credentials) or of the token's \
                          user (user token)";
                match permissions(message).as_slice() {
                    [] => format!(
                        "provider `{p}` lacks a permission named in the message: add it {where_}"
                    ),
                    [one] => {
                        format!("provider `{p}` lacks the permission `{one}`: add it {where_}")
                    }
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
                            format!(
                                "provider `{p}` lacks the permissions {list}: add them {where_}"
                            )
                        }
                    }
                }
            };
            format!("{named}{}", needs(cx.action))
        }
        "not.authorized" => format!(
            "the role of provider `{p}`'s OAuth client (or of the token's user) lacks access for `{}`: check the role's permissions and divisions{}",
            cx.action,
            needs(cx.action)
        ),
        "invalid_client" => format!(
            "the client id or secret of provider `{p}` are wrong, or the OAuth client belongs to another region: check `auth.client_id`, `auth.client_secret` and `region` (or `login_url`)"
        ),
        "bad.credentials" | "authentication.required" => auth(p),
        "too.many.requests" => rate_limited(message, cx),
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
            401 => auth(p),
            429 => rate_limited(message, cx),
            _ => return hints::server_error(status, cx),
        },
    };
    Some(hint)
}

/// A refused token: Genesys also refuses one from another region.
fn auth(p: &str) -> String {
    format!(
        "provider `{p}`'s token was refused: check its `auth` (client id and secret, or a bearer token that may have expired) and `region`: Genesys rejects a token from another region"
    )
}

/// The 429 hint, with the limit Genesys stated (or its default) and the pacing to set.
fn rate_limited(message: &str, cx: &Context) -> String {
    let p = cx.provider;
    let (limit, suggested) = match stated_limit(message) {
        Some((n, seconds)) => (
            format!("Genesys allowed `{p}` {n} requests per {seconds}s"),
            format!("{{ requests: {n}, per: {seconds}s }}"),
        ),
        None => (
            format!(
                "Genesys allows 300 requests per minute per client-credentials token by default, and `{p}` went over"
            ),
            "{ requests: 300, per: 1m }".to_owned(),
        ),
    };
    hints::rate_limited(&limit, Some(&suggested), cx)
}

/// The limit a Genesys 429 states: "Rate limit exceeded the maximum [300] requests within [60]
/// seconds" gives (300, 60).
fn stated_limit(message: &str) -> Option<(u64, u64)> {
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

/// What the catalogue says an action needs: "; `calls.create_for_user` needs one of …".
fn needs(action: &str) -> String {
    let Some(spec) = crate::provider::ProviderKind::GenesysCloud.action(action) else {
        return String::new();
    };
    let list: Vec<String> = spec.permissions.iter().map(|p| format!("`{p}`")).collect();
    match list.as_slice() {
        [] => String::new(),
        [one] => format!("; `{action}` needs {one}"),
        many => format!("; `{action}` needs one of {}", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderKind;
    use crate::provider::hints::{hint, read};
    use serde_json::json;
    use std::time::Duration;

    const GC: ProviderKind = ProviderKind::GenesysCloud;

    use crate::provider::hints::testing::{cx, error};

    fn gc_hint(status: u16, code: &str, message: &str, action: &'static str) -> String {
        hint(
            GC,
            status,
            &error(Some(code), Some(message)),
            &cx("gc", action),
        )
        .unwrap_or_default()
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
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
        assert!(
            h.contains("add `retry: { attempts: 3, when: [rate_limited] }`"),
            "{h}"
        );
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
        assert!(h.contains("the plan paces `gc` at 250 per 1 m"), "{h}");
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
}
