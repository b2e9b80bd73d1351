//! Fault injection: answer an error, drop the connection or stall, for the next K requests of a
//! route.
//!
//! Faults are matched in the order they were configured, against requests in the order they
//! arrive, so the same configuration and the same requests always fail the same way.

use std::sync::{Arc, PoisonError};

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::config::{ConfigError, Fault, FaultKind};
use super::serve::Hangup;
use super::{ROUTES, Shared, Vendor};

/// A `METHOD /path` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Route {
    method: Option<Method>,
    /// `None` matches any one segment.
    segments: Vec<Option<String>>,
    /// Ends in a catch-all `{*name}`: one or more further segments.
    rest: bool,
}

fn is_wildcard(segment: &str) -> bool {
    segment == "*" || (segment.starts_with('{') && segment.ends_with('}'))
}

/// `{*name}`, axum's catch-all: one or more segments, only as the last one.
fn is_catch_all(segment: &str) -> bool {
    segment.starts_with("{*") && segment.ends_with('}')
}

/// A path's segments, without a trailing catch-all; and whether it had one.
fn split_catch_all(path: &str) -> (Vec<&str>, bool) {
    let mut parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let rest = parts.last().is_some_and(|p| is_catch_all(p));
    if rest {
        parts.pop();
    }
    (parts, rest)
}

impl Route {
    /// Parses `METHOD /path`; the route must match something the sandbox serves.
    pub(super) fn parse(text: &str) -> Result<Route, String> {
        let (method, path) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("`{text}` is not `METHOD /path`"))?;
        let method = match method {
            "*" => None,
            m => Some(
                Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("`{m}` is not an HTTP method"))?,
            ),
        };
        let path = path.trim();
        if !path.starts_with('/') {
            return Err(format!("the path `{path}` must start with `/`"));
        }
        // CXone's paths match whatever their case, in faults as in requests.
        let canonical = super::cxone::paths::canonical(path);
        let path = canonical.as_deref().unwrap_or(path);
        let (parts, rest) = split_catch_all(path);
        if parts.iter().any(|p| is_catch_all(p)) {
            return Err(format!(
                "`{text}`: a catch-all `{{*name}}` can only be the last segment"
            ));
        }
        let segments = parts
            .into_iter()
            .map(|s| (!is_wildcard(s)).then(|| s.to_owned()))
            .collect();
        let route = Route {
            method,
            segments,
            rest,
        };
        let served = ROUTES.iter().any(|(m, p)| route.could_match(m, p));
        if !served {
            return Err(format!(
                "`{text}` matches no route the sandbox serves (see docs/sandbox.md)"
            ));
        }
        Ok(route)
    }

    /// Whether some request could match both this pattern and a served route template (whose
    /// method `*` stands for any method).
    fn could_match(&self, method: &str, template: &str) -> bool {
        let methods = method == "*" || self.method.as_ref().is_none_or(|m| m.as_str() == method);
        let (parts, template_rest) = split_catch_all(template);
        // A catch-all takes the other side's extra segments, at least one of them.
        let lengths = match (self.rest, template_rest) {
            (false, false) => parts.len() == self.segments.len(),
            (true, false) => parts.len() > self.segments.len(),
            (false, true) => self.segments.len() > parts.len(),
            (true, true) => true,
        };
        methods
            && lengths
            && parts.iter().zip(&self.segments).all(|(t, s)| match s {
                None => true,
                Some(s) => is_wildcard(t) || t == s,
            })
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        let mut parts = path.trim_end_matches('/').split('/').skip(1);
        let mut segments = self.segments.iter();
        loop {
            match (parts.next(), segments.next()) {
                // A catch-all needs at least one segment.
                (None, None) => return !self.rest,
                (Some(_), None) => return self.rest,
                (Some(part), Some(segment)) => {
                    if segment.as_deref().is_some_and(|s| s != part) {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }
}

/// A fault and how much of it is used up.
#[derive(Debug, Clone)]
pub(super) struct Armed {
    fault: Fault,
    route: Route,
    seen: u32,
}

/// Arms configured faults (already validated).
pub(super) fn arm(faults: &[Fault]) -> Vec<Armed> {
    faults
        .iter()
        .filter_map(|f| {
            Some(Armed {
                route: Route::parse(&f.route).ok()?,
                fault: f.clone(),
                seen: 0,
            })
        })
        .collect()
}

/// Arms one more fault at run time.
pub(super) fn add(shared: &Shared, fault: Fault) -> Result<(), ConfigError> {
    let check = super::Config {
        faults: vec![fault.clone()],
        ..super::Config::default()
    };
    check.validate()?;
    let route = Route::parse(&fault.route).map_err(ConfigError::new)?;
    shared
        .faults
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Armed {
            fault,
            route,
            seen: 0,
        });
    Ok(())
}

/// The faults still armed, with how many requests each has left to fault.
pub(super) fn remaining(shared: &Shared) -> Vec<(Fault, u32)> {
    shared
        .faults
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|a| {
            let left = a
                .fault
                .skip
                .saturating_add(a.fault.count)
                .saturating_sub(a.seen);
            (a.fault.clone(), left.min(a.fault.count))
        })
        .collect()
}

/// The fault that takes this request, if any (and counts it).
fn take(shared: &Shared, method: &Method, path: &str) -> Option<Fault> {
    let mut faults = shared.faults.lock().unwrap_or_else(PoisonError::into_inner);
    let armed = faults.iter_mut().find(|a| {
        a.seen < a.fault.skip.saturating_add(a.fault.count) && a.route.matches(method, path)
    })?;
    armed.seen = armed.seen.saturating_add(1);
    (armed.seen > armed.fault.skip).then(|| armed.fault.clone())
}

/// Runs a request through the faults that match it.
pub(super) async fn apply(
    shared: Arc<Shared>,
    vendor: Vendor,
    request: Request,
    next: Next,
) -> Response {
    let Some(fault) = take(&shared, request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    match fault.kind {
        FaultKind::Status => {
            let status = fault
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let (method, path) = (request.method().clone(), request.uri().path().to_owned());
            if fault.processed {
                let _ = next.run(request).await;
            }
            let mut response = match &fault.error {
                Some(e) => vendor.custom_error(status, e),
                None => vendor.error_on(status, &method, &path),
            };
            if let Some(seconds) = fault.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        FaultKind::Drop => {
            let hangup = request.extensions().get::<Hangup>().cloned();
            if fault.processed {
                let _ = next.run(request).await;
            }
            if let Some(hangup) = hangup {
                hangup.fire();
            }
            // The connection task drops this future along with the connection.
            std::future::pending().await
        }
        FaultKind::Stall => {
            if fault.processed {
                let response = next.run(request).await;
                tokio::time::sleep(fault.duration).await;
                response
            } else {
                tokio::time::sleep(fault.duration).await;
                next.run(request).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_by_segment() {
        let route = Route::parse("POST /api/v2/conversations/calls/user/{userId}").unwrap();
        assert!(route.matches(&Method::POST, "/api/v2/conversations/calls/user/abc"));
        assert!(!route.matches(&Method::GET, "/api/v2/conversations/calls/user/abc"));
        assert!(!route.matches(&Method::POST, "/api/v2/conversations/calls"));
        let any =
            Route::parse("* /inContactAPI/services/*/agent-sessions/{id}/dial-phone").unwrap();
        assert!(any.matches(
            &Method::POST,
            "/inContactAPI/services/v34.0/agent-sessions/s1/dial-phone"
        ));
        let concrete = Route::parse("get /api/v2/users/u1").unwrap();
        assert!(concrete.matches(&Method::GET, "/api/v2/users/u1"));
        assert!(!concrete.matches(&Method::GET, "/api/v2/users/u2"));
    }

    #[test]
    fn catch_alls_match_one_or_more_segments() {
        // A served catch-all (`/_sandbox/http/{*rest}`, any method) under a concrete pattern.
        let route = Route::parse("POST /_sandbox/http/crm/customers/*").unwrap();
        assert!(route.matches(&Method::POST, "/_sandbox/http/crm/customers/42"));
        assert!(!route.matches(&Method::POST, "/_sandbox/http/crm/customers"));
        assert!(!route.matches(&Method::POST, "/_sandbox/http/crm/customers/42/notes"));
        assert!(Route::parse("PROPFIND /_sandbox/http/x").is_ok());
        // A catch-all in the pattern itself.
        let all = Route::parse("* /_sandbox/http/crm/{*rest}").unwrap();
        assert!(all.matches(&Method::GET, "/_sandbox/http/crm/a"));
        assert!(all.matches(&Method::DELETE, "/_sandbox/http/crm/a/b/c/"));
        assert!(!all.matches(&Method::GET, "/_sandbox/http/crm"));
        assert!(!all.matches(&Method::GET, "/_sandbox/http/billing/a"));
        assert!(Route::parse("GET /api/v2/users/{*rest}").is_ok());
        assert!(Route::parse("GET /api/{*rest}").is_ok());
        // The catch-all needs a segment; it is last or nowhere.
        assert!(Route::parse("GET /_sandbox/http").is_err());
        assert!(Route::parse("GET /api/v2/tokens/me/{*rest}").is_err());
        assert!(Route::parse("GET /api/{*rest}/me").is_err());
    }

    #[test]
    fn routes_the_sandbox_does_not_serve_are_refused() {
        assert!(Route::parse("POST /api/v2/conversations/callz").is_err());
        assert!(Route::parse("GET /oauth/token").is_err());
        assert!(Route::parse("/api/v2/users/x").is_err());
        assert!(Route::parse("FETCH! /api/v2/users/x").is_err());
    }
}
