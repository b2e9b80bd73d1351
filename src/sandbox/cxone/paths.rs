//! CXone's paths, matched as the platform matches them: without regard to case, with empty
//! segments ignored.
//!
//! NICE's own agent SDK mixes spellings (`/InContactAPI/`, `/incontactapi/`, `V4.0`, even
//! `/incontactapi//services/…`, reference `nice-cxone-agent-sdk.md` §4) and the real platform
//! answers them all. The router matches exact paths, so a request to the ACD API or to the
//! authorization server is rewritten to the spelling of the route it matches before routing;
//! its path parameters (session ids, contact ids) keep their case.

use super::super::ROUTES;

/// The legacy authorization server's prefix (`whoami` lives there).
pub(in crate::sandbox) const AUTHORIZATION_SERVER: &str = "/InContactAuthorizationServer/";
/// `whoami`, as NICE's SDK calls it (lower case) on the API host.
pub(in crate::sandbox) const WHOAMI: &str = "/InContactAuthorizationServer/Token/whoami";

/// The CXone families whose paths are case-insensitive, as the sandbox spells them.
const FAMILIES: &[&str] = &["inContactAPI", "InContactAuthorizationServer"];

/// `v23.0`, `V4.0`: a version segment, spelled with a lower-case `v`.
fn version(segment: &str) -> Option<String> {
    let digits = segment.strip_prefix(['v', 'V'])?;
    let (major, minor) = digits.split_once('.')?;
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(major) && numeric(minor)).then(|| format!("v{digits}"))
}

/// How well a route template spells `segments`: the number of literal segments it shares
/// (case aside), or `None` if it does not match.
fn spelling(template: &str, segments: &[&str]) -> Option<(usize, Vec<String>)> {
    let parts: Vec<&str> = template.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut literal = 0;
    let mut out = Vec::with_capacity(parts.len());
    for (part, segment) in parts.iter().zip(segments) {
        if segment.starts_with('{') || *segment == "*" {
            // A fault route's wildcard (`{sessionId}`, `*`) stands for any segment.
            out.push((*segment).to_owned());
        } else if *part == "{version}" {
            out.push(version(segment)?);
        } else if part.starts_with('{') {
            out.push((*segment).to_owned());
        } else if part.eq_ignore_ascii_case(segment) {
            literal += 1;
            out.push((*part).to_owned());
        } else {
            return None;
        }
    }
    Some((literal, out))
}

/// The canonical spelling of a CXone path (`None`: not CXone's, or already canonical). A path
/// no route matches still gets its family, `services` and version spelled canonically, so the
/// answer is CXone's own 404 or 405.
pub(in crate::sandbox) fn canonical(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let family = FAMILIES
        .iter()
        .find(|f| segments.first().is_some_and(|s| s.eq_ignore_ascii_case(f)))?;
    let best = ROUTES
        .iter()
        .filter_map(|(_, template)| spelling(template, &segments))
        .max_by_key(|(literal, _)| *literal);
    let spelled = match best {
        Some((_, spelled)) => spelled,
        None => segments
            .iter()
            .enumerate()
            .map(|(i, segment)| match i {
                0 => (*family).to_owned(),
                1 if segment.eq_ignore_ascii_case("services") => "services".to_owned(),
                2 => version(segment).unwrap_or_else(|| (*segment).to_owned()),
                _ => (*segment).to_owned(),
            })
            .collect(),
    };
    let canonical = format!("/{}", spelled.join("/"));
    (canonical != path).then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_the_sdk_uses_finds_the_route() {
        for path in [
            "/InContactAPI/services/v23.0/agent-sessions",
            "/incontactapi/services/v23.0/agent-sessions",
            "/inContactapi/services/v23.0/agent-sessions",
            "/incontactapi//services/v23.0/agent-sessions",
            "/INCONTACTAPI/SERVICES/V23.0/AGENT-SESSIONS",
        ] {
            assert_eq!(
                canonical(path).as_deref(),
                Some("/inContactAPI/services/v23.0/agent-sessions"),
                "{path}"
            );
        }
        assert_eq!(
            canonical("/inContactAPI/services/v23.0/agent-sessions"),
            None
        );
        assert_eq!(
            canonical("/incontactauthorizationserver/token/whoami").as_deref(),
            Some(WHOAMI)
        );
    }

    #[test]
    fn parameters_keep_their_case() {
        assert_eq!(
            canonical("/InContactAPI/services/V4.0/agent-sessions/AbC123/interactions/9/END")
                .as_deref(),
            Some("/inContactAPI/services/v4.0/agent-sessions/AbC123/interactions/9/end")
        );
        // `join` is a route of its own, not a session id.
        assert_eq!(
            canonical("/InContactAPI/services/v23.0/agent-sessions/Join").as_deref(),
            Some("/inContactAPI/services/v23.0/agent-sessions/join")
        );
    }

    #[test]
    fn unknown_paths_keep_a_canonical_prefix_and_others_are_left_alone() {
        assert_eq!(
            canonical("/InContactAPI/services/V23.0/no-such-thing").as_deref(),
            Some("/inContactAPI/services/v23.0/no-such-thing")
        );
        assert_eq!(canonical("/api/v2/users/me"), None);
        assert_eq!(canonical("/auth/token"), None);
        assert_eq!(canonical("/InContactAPIx/services"), None);
    }

    #[test]
    fn fault_patterns_keep_their_wildcards() {
        assert_eq!(
            canonical("/incontactapi/services/*/agent-sessions/{id}/DIAL-PHONE").as_deref(),
            Some("/inContactAPI/services/*/agent-sessions/{id}/dial-phone")
        );
    }
}
