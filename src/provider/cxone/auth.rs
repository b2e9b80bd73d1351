//! NICE CXone login: the password grant with an access key at `{auth_base}/auth/token`, then
//! finding the tenant's API endpoint: the id_token names the tenant, and
//! `/.well-known/cxone-configuration` on the auth host gives its `api_endpoint`.

use std::time::Duration;

use serde_json::Value;

use super::DEFAULT_AUTH_URL;
use crate::provider::ProviderKind;
use crate::provider::auth::{AuthError, Token, describe_transport, token_request};

/// A password grant: the API user's access key, sent by the registered application.
#[derive(Clone, Copy)]
pub(crate) struct PasswordGrant<'a> {
    /// `https://cxone.niceincontact.com` or the provider's `auth_url`.
    pub(crate) auth_base: &'a str,
    /// Access key id.
    pub(crate) access_key_id: &'a str,
    /// Access key secret.
    pub(crate) access_key_secret: &'a str,
    /// The application's client id.
    pub(crate) client_id: &'a str,
    /// The application's client secret.
    pub(crate) client_secret: &'a str,
}

/// Fetches a token (and the id_token that names the tenant) with `grant`.
pub(crate) async fn login(
    client: &reqwest::Client,
    grant: &PasswordGrant<'_>,
    timeout: Duration,
) -> Result<Token, AuthError> {
    let url = format!("{}/auth/token", grant.auth_base.trim_end_matches('/'));
    let request = client
        .post(&url)
        .timeout(timeout)
        .basic_auth(grant.client_id, Some(grant.client_secret))
        .form(&[
            ("grant_type", "password"),
            ("username", grant.access_key_id),
            ("password", grant.access_key_secret),
        ]);
    token_request(ProviderKind::NiceCxone, request, &url).await
}

/// The tenant's `api_endpoint`, from the login's `id_token` and
/// `{discovery_base}/.well-known/cxone-configuration` (the default auth host when `None`).
pub(crate) async fn discover(
    client: &reqwest::Client,
    discovery_base: Option<&str>,
    id_token: Option<&str>,
    timeout: Duration,
) -> Result<String, AuthError> {
    let fail = |message: String| AuthError {
        message,
        ..AuthError::default()
    };
    let tenant = id_token
        .and_then(tenant_of)
        .ok_or_else(|| fail("the login returned no id_token with a tenantId; set the provider's base_url to the API endpoint".into()))?;
    let discovery = discovery_base.unwrap_or(DEFAULT_AUTH_URL);
    let url = format!(
        "{}/.well-known/cxone-configuration",
        discovery.trim_end_matches('/')
    );
    let response = client
        .get(&url)
        .query(&[("tenantId", tenant.as_str())])
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| AuthError {
            message: format!("cannot reach {url}: {}", describe_transport(&e)),
            unreachable: true,
            timed_out: e.is_timeout(),
            ..AuthError::default()
        })?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    body.get("api_endpoint")
        .and_then(Value::as_str)
        .filter(|_| status == 200)
        .map(str::to_owned)
        .ok_or_else(|| {
            fail(format!(
                "{url}?tenantId={tenant} answered {status} without an api_endpoint; set the provider's base_url"
            ))
        })
}

/// The `tenantId` claim of a CXone id_token (its payload is read, not verified: the token came
/// straight from the login over TLS).
pub(crate) fn tenant_of(id_token: &str) -> Option<String> {
    let claims = claims_of(id_token)?;
    claims
        .get("tenantId")
        .or_else(|| claims.get("tenant_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// An id_token's claims (read, not verified: the token came straight from the login).
pub(crate) fn claims_of(id_token: &str) -> Option<Value> {
    use base64::Engine as _;
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_read_from_the_id_token() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let id = format!(
            "{}.{}.",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"tenantId":"t-1"}"#)
        );
        assert_eq!(tenant_of(&id).as_deref(), Some("t-1"));
        assert_eq!(tenant_of("garbage"), None);
    }
}
