//! A request as it goes on the wire: its method, the absolute URL with the query string merged
//! into any the path already has, the headers in the order they are sent (exactly one
//! `Content-Type` with a body), and the body's bytes.
//!
//! A run sends exactly this, and `--dry-run` prints it: both build it here, so what a dry run
//! shows is what the run sends. Header rules: `Accept: application/json` and callplan's
//! `User-Agent` come first, then the provider's `headers`, then the step's; a header named again
//! (in any letter case) replaces the earlier one, so a step can override what its provider sends.
//! The provider's auth sets `Authorization`. A body's `Content-Type` is the plan's when it gives
//! one, else the body's own ([`Body::default_type`]); a `form:` body is
//! `application/x-www-form-urlencoded` unless the step's own headers name a type.

use base64::Engine as _;

use super::Method;
use super::auth::Credentials;
use super::request::{Body, Request};

/// The `User-Agent` callplan sends.
pub const USER_AGENT: &str = concat!("callplan/", env!("CARGO_PKG_VERSION"));

/// A request ready to go on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    /// The method.
    pub method: Method,
    /// The absolute URL, query string included.
    pub url: String,
    /// Header names and values, in the order sent; no name twice.
    pub headers: Vec<(String, String)>,
    /// The body's bytes.
    pub body: Option<Vec<u8>>,
}

impl Wire {
    /// A header's value (the name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Builds the request below `base` (the provider's API base), with the provider's `headers` and
/// the `Authorization` value its credentials give (see [`authorization`]).
pub fn build(
    base: &str,
    request: &Request,
    provider_headers: &[(String, String)],
    authorization: Option<String>,
) -> Wire {
    let mut headers: Vec<(String, String)> = vec![
        ("Accept".into(), "application/json".into()),
        ("User-Agent".into(), USER_AGENT.into()),
    ];
    for (name, value) in provider_headers.iter().chain(&request.headers) {
        set(&mut headers, name, value);
    }
    if let Some(value) = authorization {
        set(&mut headers, "Authorization", &value);
    }
    if let Some(body) = &request.body {
        let is_type = |(k, _): &(String, String)| k.eq_ignore_ascii_case("content-type");
        // A `form:` is a form whatever type the provider's headers give its other requests;
        // only the step's own headers may name another (`…; charset=utf-8`).
        let form = matches!(body, Body::Form(_)) && !request.headers.iter().any(is_type);
        if form || !headers.iter().any(is_type) {
            set(&mut headers, "Content-Type", body.default_type());
        }
    }
    Wire {
        method: request.method,
        url: url(base, &request.path, &request.query),
        headers,
        body: request.body.as_ref().map(Body::bytes),
    }
}

/// Sets a header: replaces one of the same name (any case) in place, or adds it.
fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    match headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
    {
        Some(slot) => *slot = (name.to_owned(), value.to_owned()),
        None => headers.push((name.to_owned(), value.to_owned())),
    }
}

/// `base` + `path`, with `query` appended to any query string the path has (a list repeats its
/// key), form-encoded as HTTP clients do; normalized as the URL parser sends it.
pub fn url(base: &str, path: &str, query: &[(String, String)]) -> String {
    let joined = format!("{base}{path}");
    match reqwest::Url::parse(&joined) {
        Ok(mut url) => {
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query);
            }
            url.to_string()
        }
        // Only a dry run's placeholder host (`https://{api_endpoint}`) gets here: the run
        // refuses a URL that does not parse before sending it. The same merge, on the text.
        Err(_) if query.is_empty() => joined,
        Err(_) => {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            let separator = match joined.find('?') {
                None => "?",
                Some(_) if joined.ends_with(['?', '&']) => "",
                Some(_) => "&",
            };
            format!("{joined}{separator}{encoded}")
        }
    }
}

/// The `Authorization` value of a provider's credentials: HTTP Basic, or its bearer `token`
/// (fetched by its login, or its fixed token). A dry run passes a placeholder for the token.
pub fn authorization(credentials: &Credentials, token: Option<&str>) -> Option<String> {
    match credentials {
        Credentials::None => None,
        Credentials::Basic { username, password } => {
            Some(format!("Basic {}", basic(username, password)))
        }
        Credentials::Bearer { token } => Some(format!("Bearer {token}")),
        _ => token.map(|t| format!("Bearer {t}")),
    }
}

/// HTTP Basic's `base64(username:password)`; a placeholder when either is one (a dry run).
fn basic(username: &str, password: &str) -> String {
    let pair = format!("{username}:{password}");
    if crate::placeholder::is_in(&pair) {
        return crate::placeholder::marker(&format!(
            "base64 of {}",
            crate::placeholder::shown(&pair)
        ));
    }
    base64::engine::general_purpose::STANDARD.encode(pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> Request {
        Request {
            method: Method::Post,
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            body: None,
        }
    }

    #[test]
    fn the_query_merges_into_the_one_the_path_has() {
        let r = request("/x?x=1", &[("y", "2"), ("z", "a"), ("z", "b c&d")], &[]);
        let wire = build("https://crm.example.com/api", &r, &[], None);
        assert_eq!(
            wire.url,
            "https://crm.example.com/api/x?x=1&y=2&z=a&z=b+c%26d"
        );
        let plain = build(
            "https://crm.example.com",
            &request("/x", &[("y", "2")], &[]),
            &[],
            None,
        );
        assert_eq!(plain.url, "https://crm.example.com/x?y=2");
        // A dry run's placeholder host merges the same way.
        assert_eq!(
            url(
                "https://{api_endpoint}/v1",
                "/x?a=1",
                &[("b".into(), "2".into())]
            ),
            "https://{api_endpoint}/v1/x?a=1&b=2"
        );
    }

    #[test]
    fn one_content_type_the_plans_first_and_step_headers_replace_provider_ones() {
        let mut r = request(
            "/x",
            &[],
            &[("content-type", "application/xml"), ("X-Source", "step")],
        );
        r.body = Some(Body::Text("<a/>".into()));
        let provider = vec![
            ("Content-Type".to_owned(), "text/csv".to_owned()),
            ("x-source".to_owned(), "provider".to_owned()),
        ];
        let wire = build("http://h", &r, &provider, Some("Bearer t".into()));
        let types: Vec<&(String, String)> = wire
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .collect();
        assert_eq!(types.len(), 1, "{:?}", wire.headers);
        assert_eq!(wire.header("Content-Type"), Some("application/xml"));
        assert_eq!(wire.header("x-source"), Some("step"));
        assert_eq!(wire.header("authorization"), Some("Bearer t"));
        assert_eq!(wire.body.as_deref(), Some(&b"<a/>"[..]));
        let mut form = request("/x", &[], &[]);
        form.body = Some(Body::Form(vec![("a".into(), "1".into())]));
        let wire = build("http://h", &form, &provider, None);
        assert_eq!(
            wire.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let mut json = request("/x", &[], &[]);
        json.body = Some(Body::Json(serde_json::json!({ "a": 1 })));
        let wire = build("http://h", &json, &[], None);
        assert_eq!(wire.header("content-type"), Some("application/json"));
        assert_eq!(wire.header("accept"), Some("application/json"));
        assert_eq!(wire.header("user-agent"), Some(USER_AGENT));
    }

    #[test]
    fn basic_auth_is_base64_and_a_placeholder_stays_one() {
        let basic = Credentials::Basic {
            username: "monitor".into(),
            password: "pw".into(),
        };
        assert_eq!(
            authorization(&basic, None).as_deref(),
            Some("Basic bW9uaXRvcjpwdw==")
        );
        let planned = Credentials::Basic {
            username: "monitor".into(),
            password: crate::placeholder::secret("status_password"),
        };
        let value = authorization(&planned, None).unwrap_or_default();
        assert_eq!(
            crate::placeholder::shown(&value),
            "Basic <base64 of monitor:<secret status_password>>"
        );
        assert_eq!(authorization(&Credentials::None, Some("t")), None);
    }
}
