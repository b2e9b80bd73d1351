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
    pub url: Target,
    /// Header names and values, in the order sent; no name twice.
    pub headers: Vec<(String, String)>,
    /// The body's bytes.
    pub body: Option<Vec<u8>>,
}

/// Where a request goes: the URL as parsed, which is what is sent (parsed once: the HTTP client
/// takes it as it is), or the text of one that does not parse (only a dry run's placeholder host
/// gets that far; a run refuses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A URL that parses, normalized as the parser writes it.
    Parsed(reqwest::Url),
    /// Text that is not a URL, and why the parser refused it.
    Text {
        /// The text.
        text: String,
        /// The parser's reason.
        why: String,
    },
}

impl Target {
    /// The URL as text.
    pub fn as_str(&self) -> &str {
        match self {
            Target::Parsed(url) => url.as_str(),
            Target::Text { text, .. } => text,
        }
    }
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

/// A provider's API base, as requests are built below it: its text, and its URL when a plain
/// path can be appended to the parsed URL rather than to the text (see [`Base::join`]).
#[derive(Debug, Clone)]
pub struct Base {
    text: String,
    /// The parsed base and its path as the text writes it (empty when the text has none).
    parsed: Option<(reqwest::Url, usize)>,
}

impl Base {
    /// The base `text` (a provider's `base_url`, CXone's API root…).
    pub fn new(text: String) -> Base {
        let parsed = reqwest::Url::parse(&text).ok().and_then(|url| {
            let plain = matches!(url.scheme(), "http" | "https")
                && url.query().is_none()
                && url.fragment().is_none();
            // The text is the URL as the parser writes it, or that without the root's `/`.
            let path = if url.as_str() == text {
                url.path().len()
            } else if url.path() == "/" && url.as_str().strip_suffix('/') == Some(text.as_str()) {
                0
            } else {
                return None;
            };
            plain.then_some((url, path))
        });
        Base { text, parsed }
    }

    /// The URL of `path` below the base, without parsing the base again, when the path is plain:
    /// it starts with `/`, has no `.` or `..` segment, and holds only characters the URL parser
    /// leaves as they are in a path (no `%`, `?`, `#`, `\`, space, non-ASCII…). The base's text
    /// is already written as the parser writes it, so parsing the text and the path together
    /// gives the same URL; `None` otherwise.
    fn join(&self, path: &str) -> Option<reqwest::Url> {
        let (url, base_path) = self.parsed.as_ref()?;
        let plain = path.starts_with('/')
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b))
            && !path
                .split('/')
                .any(|segment| segment == "." || segment == "..");
        if !plain {
            return None;
        }
        let mut full = String::with_capacity(base_path + path.len());
        full.push_str(&url.path()[..*base_path]);
        full.push_str(path);
        let mut url = url.clone();
        url.set_path(&full);
        Some(url)
    }
}

/// Builds the request below `base` (the provider's API base), with the provider's `headers` and
/// the `Authorization` value its credentials give (see [`authorization`]).
pub fn build(
    base: &Base,
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
pub fn url(base: &Base, path: &str, query: &[(String, String)]) -> Target {
    let mut url = match base.join(path) {
        Some(url) => url,
        None => {
            let joined = format!("{}{path}", base.text);
            match reqwest::Url::parse(&joined) {
                Ok(url) => url,
                Err(e) => return unparsed(joined, query, e.to_string()),
            }
        }
    };
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Target::Parsed(url)
}

/// Text that does not parse as a URL, with `query` merged as a URL's would be. Only a dry run's
/// placeholders get here: the run refuses a URL that does not parse before sending it.
fn unparsed(joined: String, query: &[(String, String)], why: String) -> Target {
    if query.is_empty() {
        return Target::Text { text: joined, why };
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    let separator = match joined.find('?') {
        None => "?",
        Some(_) if joined.ends_with(['?', '&']) => "",
        Some(_) => "&",
    };
    Target::Text {
        text: format!("{joined}{separator}{encoded}"),
        why,
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

    fn base(text: &str) -> Base {
        Base::new(text.to_owned())
    }

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
        let wire = build(&base("https://crm.example.com/api"), &r, &[], None);
        assert_eq!(
            wire.url.as_str(),
            "https://crm.example.com/api/x?x=1&y=2&z=a&z=b+c%26d"
        );
        assert!(matches!(wire.url, Target::Parsed(_)));
        let plain = build(
            &base("https://crm.example.com"),
            &request("/x", &[("y", "2")], &[]),
            &[],
            None,
        );
        assert_eq!(plain.url.as_str(), "https://crm.example.com/x?y=2");
        // A dry run's placeholder host merges the same way.
        assert_eq!(
            url(
                &base("https://{api_endpoint}/v1"),
                "/x?a=1",
                &[("b".into(), "2".into())]
            )
            .as_str(),
            "https://{api_endpoint}/v1/x?a=1&b=2"
        );
        // Text that does not parse keeps the parser's reason, for the run's refusal.
        assert_eq!(
            url(&base("http://[::1"), "/x", &[("b".into(), "2".into())]),
            Target::Text {
                text: "http://[::1/x?b=2".into(),
                why: "invalid IPv6 address".into()
            }
        );
    }

    #[test]
    fn a_plain_path_below_a_parsed_base_is_the_url_the_text_parses_to() {
        let bases = [
            "http://127.0.0.1:18080",
            "http://127.0.0.1:18080/",
            "https://crm.example.com/api",
            "https://crm.example.com/api/",
            "https://CRM.Example.com:443/v1",
            "https://crm.example.com/a%20b",
            "https://user:pw@crm.example.com/api",
            "https://crm.example.com/api?key=1",
            "https://crm.example.com/api#top",
            "https://crm.example.com/./api/../v2",
            "https://crm.example.com:99999",
            "http://[::1",
        ];
        let paths = [
            "/items/4711",
            "/items/a-b_c.d~e/x:y@z!$&'()*+,;=",
            "//double",
            "/",
            "",
            "items",
            "/a/./b",
            "/a/../b",
            "/a/%2e%2e/b",
            "/a b",
            "/ä",
            "/x?y=1",
            "/x#frag",
            "/a\\b",
        ];
        let mut joined = 0;
        for text in bases {
            let base = base(text);
            for path in paths {
                let parsed = reqwest::Url::parse(&format!("{text}{path}")).ok();
                if let Some(url) = base.join(path) {
                    joined += 1;
                    assert_eq!(Some(&url), parsed.as_ref(), "{text} + {path}");
                    assert_eq!(url.as_str(), parsed.as_ref().map_or("", |p| p.as_str()));
                }
                assert_eq!(
                    url(&base, path, &[]).as_str(),
                    parsed.map_or(format!("{text}{path}"), String::from),
                    "{text} + {path}"
                );
            }
        }
        // The bases written as the parser writes them (the first four, the encoded one and the
        // one with credentials), with the first four paths each.
        assert_eq!(joined, 6 * 4);
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
        let wire = build(&base("http://h"), &r, &provider, Some("Bearer t".into()));
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
        let wire = build(&base("http://h"), &form, &provider, None);
        assert_eq!(
            wire.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let mut json = request("/x", &[], &[]);
        json.body = Some(Body::Json(serde_json::json!({ "a": 1 })));
        let wire = build(&base("http://h"), &json, &[], None);
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
