//! NICE CXone errors: reading its error answers, and hints for the errors users commonly hit.
//!
//! Body shape (see the reference notes on NICE CXone §1.1, §4): `{error, error_description}`,
//! often no body at all; the ACD's status text is in the `icStatusDescription` header.

use serde_json::Value;

use crate::provider::hints::{self, Context, VendorError, field, header};

/// Reads a CXone error body; `text` is the first line of a body that was not JSON.
pub(crate) fn read(
    headers: &[(String, String)],
    body: &Value,
    text: Option<String>,
) -> VendorError {
    VendorError {
        code: field(body, &["error"]),
        // `errorDescription` is the auth server's other error schema; `message` its
        // media-playback 429.
        message: field(body, &["error_description", "errorDescription", "message"])
            .or(text)
            .or_else(|| header(headers, "icstatusdescription")),
        context_id: None,
    }
}

/// A hint for a CXone error: its code or the ACD's status text decides, then the status.
pub(crate) fn hint(code: &str, status: u16, message: &str, cx: &Context) -> Option<String> {
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
        (_, 429) => hints::rate_limited(
            &format!("CXone rate-limited `{p}` (it publishes no general limit)"),
            None,
            cx,
        ),
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

    const CX: ProviderKind = ProviderKind::NiceCxone;

    use crate::provider::hints::testing::{cx, error};

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
}
