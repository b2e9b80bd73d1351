//! Where a run's providers point: the plan's own URLs and credentials, or a sandbox.
//!
//! The lifecycle knows a sandbox only by what this module describes (its URL, the credentials it
//! accepts, the routes standing in for `http` providers); the command line starts the built-in
//! one and fills this in.

use crate::provider::ProviderKind;

/// Where the providers point.
#[derive(Debug, Clone)]
pub enum Target {
    /// The plan's own URLs and credentials.
    Plan,
    /// A sandbox stands in for every provider.
    Sandbox(Box<SandboxTarget>),
}

/// A sandbox that stands in for every provider.
#[derive(Debug, Clone)]
pub struct SandboxTarget {
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// Started by this run (`--sandbox`), with calls played this many times faster. Such a
    /// sandbox's own credentials always replace the plan's, and no secret is read: nothing a
    /// real org would get ever goes to it.
    pub built_in: Option<f64>,
    /// The credentials it accepts.
    pub stand_ins: StandIns,
    /// The path below which its echo API answers for `http` providers (`/_sandbox/http`).
    pub http_echo: String,
    /// The path of its OAuth2 token endpoint for `http` providers that log in.
    pub oauth2_token: String,
    /// How long after a call its lookups know it (its indexing delay), when known.
    pub reconcile_delay: Option<std::time::Duration>,
}

/// The credentials a sandbox accepts, by provider type and credential field.
#[derive(Debug, Clone)]
pub struct StandIns {
    /// Genesys client credentials: id and secret.
    pub genesys_client: (String, String),
    /// A Genesys user token.
    pub genesys_user_token: String,
    /// A CXone access key: id and secret.
    pub cxone_access_key: (String, String),
    /// A CXone application: client id and secret.
    pub cxone_app: (String, String),
}

impl StandIns {
    /// The sandbox's own value for a provider's credential field.
    pub fn field(&self, kind: ProviderKind, field: &str) -> String {
        match (kind, field) {
            (ProviderKind::GenesysCloud, "client_id") => self.genesys_client.0.clone(),
            (ProviderKind::GenesysCloud, "client_secret") => self.genesys_client.1.clone(),
            (ProviderKind::GenesysCloud, "token") => self.genesys_user_token.clone(),
            (ProviderKind::NiceCxone, "access_key_id") => self.cxone_access_key.0.clone(),
            (ProviderKind::NiceCxone, "access_key_secret") => self.cxone_access_key.1.clone(),
            (ProviderKind::NiceCxone, "client_id") => self.cxone_app.0.clone(),
            (ProviderKind::NiceCxone, "client_secret") => self.cxone_app.1.clone(),
            // The echo API and the OAuth2 endpoint accept any non-empty credentials.
            (_, field) => format!("sandbox-{field}"),
        }
    }
}

impl SandboxTarget {
    /// Where an `http` provider's requests go.
    pub fn http_base(&self, provider: &str) -> String {
        format!("{}{}/{provider}", self.url, self.http_echo)
    }

    /// Where webhook `index` (0-based) is delivered.
    pub fn notify_url(&self, index: usize) -> String {
        format!("{}{}/notify-{}", self.url, self.http_echo, index + 1)
    }

    /// The OAuth2 token URL for `http` providers.
    pub fn oauth2_token_url(&self) -> String {
        format!("{}{}", self.url, self.oauth2_token)
    }
}
