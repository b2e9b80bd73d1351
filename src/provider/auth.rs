//! Credentials, logins and the token cache (one per provider).
//!
//! Each vendor's own grant lives in its folder (`genesys::auth`, `cxone::auth`, `http::auth`);
//! this module holds what they share: the credentials, the token and reading the token answer.
//!
//! A token is reused until shortly before it expires, fetched once even when many steps need
//! it at the same moment (the cache holds its lock while it fetches), and fetched again once
//! when a request comes back 401.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::hints::{self, VendorError};
use super::{ProviderKind, cxone, genesys, http};

/// A provider's credentials, rendered (secrets resolved).
#[derive(Clone)]
pub enum Credentials {
    /// Genesys client credentials, against `{login_base}/oauth/token`.
    GenesysClient {
        /// `https://login.<region>` or the override.
        login_base: String,
        /// OAuth client id.
        client_id: String,
        /// OAuth client secret.
        client_secret: String,
    },
    /// A fixed bearer token (a Genesys user token, an API token).
    Bearer {
        /// The token.
        token: String,
    },
    /// CXone password grant with an access key, against `{auth_base}/auth/token`.
    CxonePassword {
        /// `https://cxone.niceincontact.com` or the override.
        auth_base: String,
        /// Access key id.
        access_key_id: String,
        /// Access key secret.
        access_key_secret: String,
        /// The application's client id.
        client_id: String,
        /// The application's client secret.
        client_secret: String,
    },
    /// HTTP Basic on every request.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// OAuth2 client credentials (RFC 6749 §4.4).
    OAuth2 {
        /// The token endpoint.
        token_url: String,
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: String,
        /// `scope`, if any.
        scope: Option<String>,
        /// `audience`, if any.
        audience: Option<String>,
    },
    /// No credentials.
    None,
}

impl std::fmt::Debug for Credentials {
    // Never print a secret, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Credentials::GenesysClient { .. } => "GenesysClient",
            Credentials::Bearer { .. } => "Bearer",
            Credentials::CxonePassword { .. } => "CxonePassword",
            Credentials::Basic { .. } => "Basic",
            Credentials::OAuth2 { .. } => "OAuth2",
            Credentials::None => "None",
        };
        write!(f, "Credentials::{kind}(…)")
    }
}

impl Credentials {
    /// Whether tokens are fetched (and can be fetched again after a 401).
    pub fn fetches_tokens(&self) -> bool {
        matches!(
            self,
            Credentials::GenesysClient { .. }
                | Credentials::CxonePassword { .. }
                | Credentials::OAuth2 { .. }
        )
    }

    /// The HTTP Basic pairs these credentials send (`id`, `secret`), for masking their base64.
    pub fn basic_pairs(&self) -> Vec<(String, String)> {
        match self {
            Credentials::GenesysClient {
                client_id,
                client_secret,
                ..
            }
            | Credentials::CxonePassword {
                client_id,
                client_secret,
                ..
            }
            | Credentials::OAuth2 {
                client_id,
                client_secret,
                ..
            } => vec![(client_id.clone(), client_secret.clone())],
            Credentials::Basic { username, password } => {
                vec![(username.clone(), password.clone())]
            }
            Credentials::Bearer { .. } | Credentials::None => Vec::new(),
        }
    }

    /// Every secret value these credentials hold, for masking.
    pub fn secret_values(&self) -> Vec<String> {
        match self {
            Credentials::GenesysClient {
                client_id,
                client_secret,
                ..
            } => vec![client_id.clone(), client_secret.clone()],
            Credentials::Bearer { token } => vec![token.clone()],
            Credentials::CxonePassword {
                access_key_id,
                access_key_secret,
                client_id,
                client_secret,
                ..
            } => vec![
                access_key_id.clone(),
                access_key_secret.clone(),
                client_id.clone(),
                client_secret.clone(),
            ],
            Credentials::Basic { username, password } => vec![username.clone(), password.clone()],
            Credentials::OAuth2 {
                client_id,
                client_secret,
                ..
            } => vec![client_id.clone(), client_secret.clone()],
            Credentials::None => Vec::new(),
        }
    }
}

/// A token and when to stop using it.
#[derive(Clone)]
pub struct Token {
    /// The access token.
    pub value: String,
    /// When to fetch a new one (a little before it expires); `None` never.
    pub refresh_at: Option<Instant>,
    /// CXone's id_token (its claims carry the tenant).
    pub id_token: Option<String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// Why a login failed.
#[derive(Debug, Clone, Default)]
pub struct AuthError {
    /// The HTTP status of the login answer, if there was one.
    pub status: Option<u16>,
    /// What went wrong, in words.
    pub message: String,
    /// The vendor's error.
    pub vendor: Option<VendorError>,
    /// The login endpoint could not be reached at all.
    pub unreachable: bool,
    /// The login timed out (it may be retried: a login is safe to repeat).
    pub timed_out: bool,
    /// The `Retry-After` the login answer carried.
    pub retry_after: Option<Duration>,
}

/// When to refresh a token that lives `expires_in` seconds: a minute early, or a tenth of its
/// life early for short-lived ones.
fn refresh_at(expires_in: Option<u64>) -> Option<Instant> {
    let life = Duration::from_secs(expires_in?);
    let margin = (life / 10).min(Duration::from_secs(60));
    // A vendor's absurd `expires_in` must not overflow the clock: refresh "never" instead.
    Some(crate::duration::saturating_deadline(
        Instant::now(),
        life.saturating_sub(margin),
    ))
}

/// One provider's token.
#[derive(Debug, Default)]
pub struct TokenCache {
    slot: Mutex<Option<Token>>,
    fetched: std::sync::atomic::AtomicU64,
}

impl TokenCache {
    /// The current token, fetching one if there is none or it is due for refresh.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Token, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token, AuthError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(token) = slot.as_ref()
            && token.refresh_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(token.clone());
        }
        let token = fetch().await?;
        self.fetched
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *slot = Some(token.clone());
        Ok(token)
    }

    /// After a 401 with `stale`: a fresh token, fetched once however many requests saw the 401.
    pub async fn renew<F, Fut>(&self, stale: &str, fetch: F) -> Result<Token, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token, AuthError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(token) = slot.as_ref()
            && token.value != stale
        {
            return Ok(token.clone());
        }
        let token = fetch().await?;
        self.fetched
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *slot = Some(token.clone());
        Ok(token)
    }

    /// The current token, if one was fetched (without fetching).
    pub fn current(&self) -> Option<Token> {
        self.slot.try_lock().ok().and_then(|slot| slot.clone())
    }

    /// How many tokens were fetched.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn unreachable(url: &str, e: &reqwest::Error) -> AuthError {
    AuthError {
        status: None,
        message: format!("cannot reach {url}: {}", describe_transport(e)),
        vendor: None,
        unreachable: true,
        timed_out: e.is_timeout(),
        retry_after: None,
    }
}

/// A transport error in a few words (reqwest's own chain, without the URL twice).
pub fn describe_transport(e: &reqwest::Error) -> String {
    let failure = if e.is_timeout() {
        super::failure::Failure::Timeout { sent: true }
    } else if e.is_connect() {
        super::failure::Failure::Connect
    } else {
        super::failure::Failure::Broken
    };
    super::transport::describe(failure, std::error::Error::source(e))
}

/// A response's headers as (lowercase name, value) pairs.
pub(crate) fn header_pairs(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Posts a vendor's token request and reads a token from a 200 answer (`kind` reads its errors).
pub(super) async fn token_request(
    kind: ProviderKind,
    request: reqwest::RequestBuilder,
    url: &str,
) -> Result<Token, AuthError> {
    // `-v`: the token request too, as the other requests are: its URL, never its form or
    // headers (they hold the credentials), nor its answer's body (it holds the token).
    let log = tracing::enabled!(target: super::connection::LOG, tracing::Level::DEBUG);
    if log {
        tracing::debug!(target: super::connection::LOG, "[login] POST {url}");
    }
    let started = std::time::Instant::now();
    let response = request.send().await.map_err(|e| {
        if log {
            tracing::debug!(target: super::connection::LOG, "[login] POST {url}: no answer: {}", describe_transport(&e));
        }
        unreachable(url, &e)
    })?;
    let status = response.status().as_u16();
    let headers = header_pairs(response.headers());
    let bytes = response.bytes().await.map_err(|e| unreachable(url, &e))?;
    if log {
        tracing::debug!(
            target: super::connection::LOG,
            "[login] POST {url} -> {status} in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    let body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    if status != 200 {
        let vendor = hints::read(kind, status, &headers, &body);
        let detail = vendor
            .as_ref()
            .map(|v| {
                [v.code.as_deref(), v.message.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ")
            })
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "no error details".into());
        return Err(AuthError {
            status: Some(status),
            message: format!("login at {url} answered {status} ({detail})"),
            vendor,
            unreachable: false,
            timed_out: false,
            retry_after: headers
                .iter()
                .find(|(k, _)| k == "retry-after")
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        });
    }
    let value = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError {
            status: Some(status),
            message: format!("login at {url} answered 200 without an access_token"),
            ..AuthError::default()
        })?;
    Ok(Token {
        value: value.to_owned(),
        refresh_at: refresh_at(
            body.get("expires_in")
                .and_then(Value::as_u64)
                .or(Some(3600)),
        ),
        id_token: body
            .get("id_token")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Logs in with `credentials`, with the vendor's own grant; `None` for credentials that need no
/// login.
pub async fn login(
    client: &reqwest::Client,
    credentials: &Credentials,
    timeout: Duration,
) -> Result<Option<Token>, AuthError> {
    match credentials {
        Credentials::GenesysClient {
            login_base,
            client_id,
            client_secret,
        } => genesys::auth::login(client, login_base, client_id, client_secret, timeout)
            .await
            .map(Some),
        Credentials::CxonePassword {
            auth_base,
            access_key_id,
            access_key_secret,
            client_id,
            client_secret,
        } => {
            let grant = cxone::auth::PasswordGrant {
                auth_base,
                access_key_id,
                access_key_secret,
                client_id,
                client_secret,
            };
            cxone::auth::login(client, &grant, timeout).await.map(Some)
        }
        Credentials::OAuth2 {
            token_url,
            client_id,
            client_secret,
            scope,
            audience,
        } => {
            let grant = http::auth::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope: scope.as_deref(),
                audience: audience.as_deref(),
            };
            http::auth::login(client, &grant, timeout).await.map(Some)
        }
        Credentials::Bearer { token } => Ok(Some(Token {
            value: token.clone(),
            refresh_at: None,
            id_token: None,
        })),
        Credentials::Basic { .. } | Credentials::None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn token(value: &str, life: Option<u64>) -> Token {
        Token {
            value: value.into(),
            refresh_at: refresh_at(life),
            id_token: None,
        }
    }

    #[tokio::test]
    async fn a_token_is_fetched_once_for_many_callers_at_once() {
        let cache = Arc::new(TokenCache::default());
        let calls = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, calls) = (cache.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(token("t1", Some(3600)))
                    })
                    .await
                    .map(|t| t.value)
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), "t1");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.fetched(), 1);
    }

    #[tokio::test]
    async fn a_401_renews_once_and_later_callers_get_the_new_token() {
        let cache = TokenCache::default();
        cache
            .get(|| async { Ok(token("old", Some(3600))) })
            .await
            .unwrap();
        let renewed = cache
            .renew("old", || async { Ok(token("new", Some(3600))) })
            .await
            .unwrap();
        assert_eq!(renewed.value, "new");
        // A second request that also saw the old token does not fetch again.
        let again = cache
            .renew("old", || async { panic!("fetched twice") })
            .await
            .unwrap();
        assert_eq!(again.value, "new");
        assert_eq!(cache.fetched(), 2);
    }

    #[tokio::test]
    async fn tokens_are_refreshed_before_they_expire() {
        let cache = TokenCache::default();
        // A token living 0 s is due at once.
        cache
            .get(|| async { Ok(token("a", Some(0))) })
            .await
            .unwrap();
        let next = cache
            .get(|| async { Ok(token("b", Some(3600))) })
            .await
            .unwrap();
        assert_eq!(next.value, "b");
        let margin = refresh_at(Some(86_400)).unwrap() - Instant::now();
        assert!(margin > Duration::from_secs(86_300) && margin <= Duration::from_secs(86_340));
    }

    #[test]
    fn credentials_never_print_their_secrets() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
