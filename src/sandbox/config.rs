//! The sandbox's configuration: credentials, users, limits, time scale and faults.
//!
//! Read from a YAML file (`callplan sandbox --config F`) or built in code by tests. Every field
//! has a default, so an empty file (or [`Config::default`]) gives a working sandbox whose
//! credentials are listed in `docs/sandbox.md`.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything the sandbox can be told.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Multiplier on every scripted call moment: 1 is real time, 0.001 plays a whole call in a
    /// few milliseconds.
    pub time_scale: f64,
    /// Extra delay before every response.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Largest request body accepted (larger bodies get 413).
    pub max_body_bytes: usize,
    /// Seed for the ids the sandbox hands out (same seed, same requests: same ids).
    pub seed: u64,
    /// Genesys Cloud.
    pub genesys: Genesys,
    /// NICE CXone.
    pub cxone: Cxone,
    /// Faults to inject, first match wins.
    pub faults: Vec<Fault>,
}

/// An OAuth client.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: String,
    /// Display name.
    #[serde(default = "default_client_name")]
    pub name: String,
}

fn default_client_name() -> String {
    "callplan sandbox client".into()
}

/// A Genesys Cloud user.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// A user-context bearer token for this user, if any (what an authorization-code login
    /// would give).
    #[serde(default)]
    pub token: Option<String>,
    /// Whether the user has an effective station (without one, placing a call fails with
    /// `conversation.error.no.user.station`).
    #[serde(default = "yes")]
    pub station: bool,
    /// Routing status while the user is not on a call.
    #[serde(default = "default_routing_status")]
    pub routing_status: String,
}

fn yes() -> bool {
    true
}

fn default_routing_status() -> String {
    "IDLE".into()
}

/// A rate limit: at most `requests` per `per`, with bursts of up to `burst` (default:
/// `requests`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per period.
    pub requests: u32,
    /// The period.
    #[serde(with = "humantime_serde")]
    pub per: Duration,
    /// Largest burst.
    #[serde(default)]
    pub burst: Option<u32>,
}

/// Genesys Cloud settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Genesys {
    /// Client-credentials OAuth clients.
    pub clients: Vec<Client>,
    /// Users (agents).
    pub users: Vec<User>,
    /// Lifetime of client-credentials tokens (`expires_in`).
    #[serde(with = "humantime_serde")]
    pub token_lifetime: Duration,
    /// Requests per token (the real default: 300 per minute); `null` for none.
    pub rate_limit: Option<RateLimit>,
    /// How long after a call is placed it shows up in the analytics conversation-detail query
    /// (multiplied by `time_scale`, like the call scripts).
    #[serde(with = "humantime_serde")]
    pub analytics_delay: Duration,
}

/// A CXone access key (an API user's credentials).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    /// Access key id (the password grant's `username`).
    pub id: String,
    /// Access key secret (the password grant's `password`).
    pub secret: String,
    /// The agent the key belongs to.
    #[serde(default = "default_agent_id")]
    pub agent_id: u64,
}

fn default_agent_id() -> u64 {
    31_337
}

/// A CXone application that logs users in with the authorization code and PKCE (a browser or
/// desktop agent client such as NICE's agent SDK): no secret.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PublicClient {
    /// Client id (`client_id` on `/auth/authorize` and `/auth/token`).
    pub id: String,
    /// Where `/auth/authorize` may send the code; empty: any `http://127.0.0.1…` or
    /// `http://localhost…` URI.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The agent `/auth/authorize` signs in, at once: the sandbox has no login page.
    #[serde(default = "default_agent_id")]
    pub agent_id: u64,
}

/// NICE CXone settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cxone {
    /// The tenant (carried in the id_token, looked up by `cxone-configuration`).
    pub tenant_id: String,
    /// The business unit number (`icBUId`).
    pub business_unit: u64,
    /// Registered applications (client id and secret, sent with HTTP Basic).
    pub clients: Vec<Client>,
    /// Access keys.
    pub access_keys: Vec<AccessKey>,
    /// Applications that log in with the authorization code and PKCE.
    pub public_clients: Vec<PublicClient>,
    /// Token lifetime (`expires_in`).
    #[serde(with = "humantime_serde")]
    pub token_lifetime: Duration,
    /// Requests per token; none by default (CXone documents no limit for these endpoints).
    pub rate_limit: Option<RateLimit>,
    /// How long after a contact ends it shows up in `contacts/completed` (multiplied by
    /// `time_scale`); until then it is in neither `contacts/active` nor `contacts/completed`.
    #[serde(with = "humantime_serde")]
    pub completed_delay: Duration,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with `status` and the vendor's error body.
    Status,
    /// Close the connection without an answer.
    Drop,
    /// Hold the request for `duration` (past the client's timeout), then answer.
    Stall,
}

/// A fault injected into the next `count` requests matching `route`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// `METHOD /path`, as in the vendor's docs: `POST /api/v2/conversations/calls/user/{userId}`.
    /// `{name}` or `*` matches one path segment; method `*` matches any method.
    pub route: String,
    /// What to do.
    pub kind: FaultKind,
    /// The status to answer with (`kind: status`).
    #[serde(default)]
    pub status: Option<u16>,
    /// A `Retry-After` header (seconds) to send with it.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// How long to stall (`kind: stall`).
    #[serde(default = "default_stall", with = "humantime_serde")]
    pub duration: Duration,
    /// Let this many matching requests through first.
    #[serde(default)]
    pub skip: u32,
    /// How many requests to fault.
    #[serde(default = "one")]
    pub count: u32,
    /// Process the request (place the call…) before the fault hits: a dropped or stalled
    /// request that still took effect, as when a response is lost on the way back.
    #[serde(default)]
    pub processed: bool,
    /// The vendor's error a `status` fault answers, instead of the generic one for its status
    /// (e.g. Genesys's 403 `missing.permissions` naming the permission).
    #[serde(default)]
    pub error: Option<FaultError>,
}

/// A vendor error, as the vendor spells it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultError {
    /// Genesys `ErrorBody.code`; CXone `error`.
    #[serde(default)]
    pub code: Option<String>,
    /// Genesys `message` (its `{name}` placeholders filled from `messageParams`); CXone
    /// `error_description`.
    #[serde(default)]
    pub message: Option<String>,
    /// Genesys `messageParams`.
    #[serde(default, rename = "messageParams")]
    pub message_params: serde_json::Map<String, serde_json::Value>,
    /// Genesys `details`.
    #[serde(default)]
    pub details: Vec<serde_json::Value>,
    /// CXone's `icStatusDescription` header.
    #[serde(default, rename = "icStatusDescription")]
    pub status_description: Option<String>,
}

impl Fault {
    /// A fault of `kind` on `route` with the defaults a configuration file gets: the next
    /// request, not processed, a 60 s stall.
    pub fn new(route: impl Into<String>, kind: FaultKind) -> Fault {
        Fault {
            route: route.into(),
            kind,
            status: None,
            retry_after: None,
            duration: default_stall(),
            skip: 0,
            count: one(),
            processed: false,
            error: None,
        }
    }
}

fn default_stall() -> Duration {
    Duration::from_secs(60)
}

fn one() -> u32 {
    1
}

/// The default Genesys agent, with a station and a user token.
pub const DEFAULT_USER_ID: &str = "00000000-0000-4000-8000-000000000001";
/// A second default agent, without a station.
pub const NO_STATION_USER_ID: &str = "00000000-0000-4000-8000-000000000002";

impl Default for Genesys {
    fn default() -> Genesys {
        Genesys {
            clients: vec![Client {
                id: "sandbox-client".into(),
                secret: "sandbox-secret".into(),
                name: default_client_name(),
            }],
            users: vec![
                User {
                    id: DEFAULT_USER_ID.into(),
                    name: "Sandbox Agent".into(),
                    token: Some("sandbox-user-token".into()),
                    station: true,
                    routing_status: default_routing_status(),
                },
                User {
                    id: NO_STATION_USER_ID.into(),
                    name: "Agent Without Station".into(),
                    token: Some("sandbox-user-token-no-station".into()),
                    station: false,
                    routing_status: "OFF_QUEUE".into(),
                },
            ],
            token_lifetime: Duration::from_secs(86_400),
            rate_limit: Some(RateLimit {
                requests: 300,
                per: Duration::from_secs(60),
                burst: None,
            }),
            analytics_delay: Duration::from_secs(2),
        }
    }
}

impl Default for Cxone {
    fn default() -> Cxone {
        Cxone {
            tenant_id: "11111111-2222-4333-8444-555555555555".into(),
            business_unit: 4_600_001,
            clients: vec![Client {
                id: "sandbox-app".into(),
                secret: "sandbox-app-secret".into(),
                name: default_client_name(),
            }],
            access_keys: vec![AccessKey {
                id: "sandbox-access-key".into(),
                secret: "sandbox-access-secret".into(),
                agent_id: default_agent_id(),
            }],
            public_clients: vec![PublicClient {
                id: "sandbox-agent-app".into(),
                redirect_uris: Vec::new(),
                agent_id: default_agent_id(),
            }],
            token_lifetime: Duration::from_secs(3_600),
            rate_limit: None,
            completed_delay: Duration::from_secs(1),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            time_scale: 1.0,
            latency: Duration::ZERO,
            max_body_bytes: 1 << 20,
            seed: 0,
            genesys: Genesys::default(),
            cxone: Cxone::default(),
            faults: Vec::new(),
        }
    }
}

/// A configuration that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads a YAML configuration file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        Config::from_yaml(&text).map_err(|e| ConfigError(format!("{}:{}", path.display(), e.0)))
    }

    /// Parses YAML text; errors start with `line:col: `.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!("{}:{}: ", l.line(), l.column()))
                    .unwrap_or_else(|| "1:1: ".into());
                ConfigError(format!("{at}{e}"))
            })?
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: ranges, fault routes and statuses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |m: String| Err(ConfigError(m));
        if !(self.time_scale > 0.0 && self.time_scale.is_finite()) {
            return fail(format!(
                "time_scale must be a positive number, not {}",
                self.time_scale
            ));
        }
        for (vendor, limit) in [
            ("genesys", &self.genesys.rate_limit),
            ("cxone", &self.cxone.rate_limit),
        ] {
            if let Some(l) = limit
                && (l.requests == 0 || l.per.is_zero() || l.burst == Some(0))
            {
                return fail(format!(
                    "{vendor}.rate_limit needs requests, per and burst above zero"
                ));
            }
        }
        for (i, fault) in self.faults.iter().enumerate() {
            super::faults::Route::parse(&fault.route)
                .map_err(|e| ConfigError(format!("faults[{i}].route: {e}")))?;
            match (fault.kind, fault.status) {
                (FaultKind::Status, None) => {
                    return fail(format!("faults[{i}]: a `status` fault needs `status: N`"));
                }
                (FaultKind::Status, Some(s)) if !(400..=599).contains(&s) => {
                    return fail(format!(
                        "faults[{i}].status: {s} is not an error status (400-599)"
                    ));
                }
                (FaultKind::Drop | FaultKind::Stall, Some(_)) => {
                    return fail(format!(
                        "faults[{i}]: `status` only goes with `kind: status`"
                    ));
                }
                _ => {}
            }
            if fault.count == 0 {
                return fail(format!("faults[{i}].count must be at least 1"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_default() {
        assert_eq!(Config::from_yaml("").unwrap(), Config::default());
        assert_eq!(Config::from_yaml("# nothing\n").unwrap(), Config::default());
    }

    #[test]
    fn a_full_file_reads() {
        let config = Config::from_yaml(
            "time_scale: 0.001\nlatency: 5ms\ngenesys:\n  token_lifetime: 2s\n  rate_limit: { requests: 5, per: 1m }\nfaults:\n  - route: POST /api/v2/conversations/calls/user/{userId}\n    kind: status\n    status: 503\n    retry_after: 2\n    count: 2\n",
        )
        .unwrap();
        assert_eq!(config.time_scale, 0.001);
        assert_eq!(config.latency, Duration::from_millis(5));
        assert_eq!(config.genesys.token_lifetime, Duration::from_secs(2));
        assert_eq!(config.genesys.rate_limit.as_ref().unwrap().requests, 5);
        assert_eq!(config.faults[0].count, 2);
        assert!(
            config.genesys.clients[0].id == "sandbox-client",
            "defaults kept"
        );
    }

    #[test]
    fn indexing_delays_read_as_durations() {
        let config =
            Config::from_yaml("genesys:\n  analytics_delay: 50ms\ncxone:\n  completed_delay: 0s\n")
                .unwrap();
        assert_eq!(config.genesys.analytics_delay, Duration::from_millis(50));
        assert_eq!(config.cxone.completed_delay, Duration::ZERO);
        let defaults = Config::default();
        assert_eq!(defaults.genesys.analytics_delay, Duration::from_secs(2));
        assert_eq!(defaults.cxone.completed_delay, Duration::from_secs(1));
    }

    #[test]
    fn mistakes_are_located_or_named() {
        let err = Config::from_yaml("time_scale: 1\nlatencyy: 5ms\n").unwrap_err();
        assert!(err.0.starts_with("2:1: "), "{err}");
        let err = Config::from_yaml("time_scale: 0\n").unwrap_err();
        assert!(err.0.contains("time_scale"), "{err}");
        let err =
            Config::from_yaml("faults: [{ route: POST /nowhere, kind: drop }]\n").unwrap_err();
        assert!(err.0.contains("faults[0].route"), "{err}");
        let err =
            Config::from_yaml("faults:\n  - route: GET /api/v2/users/{id}\n    kind: status\n")
                .unwrap_err();
        assert!(err.0.contains("needs `status: N`"), "{err}");
    }
}
