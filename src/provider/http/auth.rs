//! `http` provider login: OAuth2 client credentials (RFC 6749 §4.4) at the provider's
//! `token_url`. Bearer tokens and HTTP Basic need no login: the connection sends them as they are.

use std::time::Duration;

use crate::provider::ProviderKind;
use crate::provider::auth::{AuthError, Token, token_request};

/// An OAuth2 client-credentials grant.
#[derive(Clone, Copy)]
pub(crate) struct ClientCredentials<'a> {
    /// The token endpoint.
    pub(crate) token_url: &'a str,
    /// Client id.
    pub(crate) client_id: &'a str,
    /// Client secret.
    pub(crate) client_secret: &'a str,
    /// `scope`, if any.
    pub(crate) scope: Option<&'a str>,
    /// `audience`, if any.
    pub(crate) audience: Option<&'a str>,
}

/// Fetches a token with `grant`.
pub(crate) async fn login(
    client: &reqwest::Client,
    grant: &ClientCredentials<'_>,
    timeout: Duration,
) -> Result<Token, AuthError> {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = grant.scope {
        form.push(("scope", scope));
    }
    if let Some(audience) = grant.audience {
        form.push(("audience", audience));
    }
    let request = client
        .post(grant.token_url)
        .timeout(timeout)
        .basic_auth(grant.client_id, Some(grant.client_secret))
        .form(&form);
    token_request(ProviderKind::Http, request, grant.token_url).await
}
