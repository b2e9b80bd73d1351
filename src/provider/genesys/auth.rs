//! Genesys Cloud CX login: the OAuth client-credentials grant at `{login_base}/oauth/token`
//! (`https://login.<region>`, or the provider's `login_url`).

use std::time::Duration;

use crate::provider::ProviderKind;
use crate::provider::auth::{AuthError, Token, token_request};

/// Fetches a token for the OAuth client `client_id`.
pub(crate) async fn login(
    client: &reqwest::Client,
    login_base: &str,
    client_id: &str,
    client_secret: &str,
    timeout: Duration,
) -> Result<Token, AuthError> {
    let url = format!("{}/oauth/token", login_base.trim_end_matches('/'));
    let request = client
        .post(&url)
        .timeout(timeout)
        .basic_auth(client_id, Some(client_secret))
        .form(&[("grant_type", "client_credentials")]);
    token_request(ProviderKind::GenesysCloud, request, &url).await
}
