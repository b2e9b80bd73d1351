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

/// The configuration's bounds (docs/sandbox.md lists them): far above any test's needs, and far
/// below what the clocks and counters the sandbox computes with can hold.
mod limits {
    use std::time::Duration;

    use crate::duration::Bound;

    /// `time_scale`: a millionth of real time to a thousand times it.
    pub(super) const TIME_SCALE: (f64, f64) = (0.000_001, 1_000.0);
    pub(super) const LATENCY: Bound = Bound::up_to("a latency", Duration::from_secs(60));
    /// `max_body_bytes`: 1 KiB to 64 MiB.
    pub(super) const BODY_BYTES: (usize, usize) = (1 << 10, 64 << 20);
    pub(super) const TOKEN_LIFETIME: Bound =
        Bound::positive("a token lifetime", Duration::from_secs(48 * 3_600));
    /// `analytics_delay`, `completed_delay`.
    pub(super) const INDEXING_DELAY: Bound =
        Bound::up_to("an indexing delay", Duration::from_secs(3_600));
    pub(super) const RATE_PERIOD: Bound = crate::plan::limits::RATE_PERIOD;
    /// `requests` and `burst` of a rate limit.
    pub(super) const REQUESTS: u32 = crate::plan::limits::MAX_REQUESTS;
    /// A fault's `duration` (only a stall waits it; zero stalls not at all).
    pub(super) const STALL: Bound = Bound::up_to("a stall", Duration::from_secs(3_600));
    /// A fault's `retry_after`, in seconds: a day.
    pub(super) const RETRY_AFTER: u64 = 86_400;
    /// A fault's `skip` and `count`.
    pub(super) const FAULT_REQUESTS: u32 = 1_000_000;
}

/// A configuration that could not be used: what is wrong, and where when it was read from a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The file, when the configuration was read from one.
    pub file: Option<std::path::PathBuf>,
    /// 1-based line and column in the text, when known.
    pub at: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    /// The JSON pointer of the value it is about (`/faults/0/count`), to place it in the text.
    pointer: Option<String>,
}

impl ConfigError {
    /// An error about the configuration as a whole, or about a value not written in a file.
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: None,
            at: None,
            message: message.into(),
            pointer: None,
        }
    }

    /// An error about the value at `pointer`.
    fn about(pointer: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            pointer: Some(pointer.into()),
            ..ConfigError::new(message)
        }
    }

    fn render(&self) -> String {
        let file = self
            .file
            .as_ref()
            .map(|f| format!("{}:", f.display()))
            .unwrap_or_default();
        match self.at {
            Some((line, col)) => format!("{file}{line}:{col}: {}", self.message),
            None if file.is_empty() => self.message.clone(),
            None => format!("{file} {}", self.message),
        }
    }
}

/// A configuration file is a few kilobytes; a larger one (or a device without end) is refused.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl Config {
    /// Reads a YAML configuration file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let in_file = |mut e: ConfigError| {
            e.file = Some(path.to_owned());
            e
        };
        let cannot = |e: std::io::Error| {
            in_file(ConfigError::new(format!(
                "cannot read: {}",
                crate::plan::io_reason(&e)
            )))
        };
        let file = std::fs::File::open(path).map_err(cannot)?;
        let bytes = crate::plan::read_capped(file, MAX_CONFIG_BYTES)
            .map_err(cannot)?
            .ok_or_else(|| {
                in_file(ConfigError::new(format!(
                    "larger than {} MiB",
                    MAX_CONFIG_BYTES >> 20
                )))
            })?;
        let text =
            String::from_utf8(bytes).map_err(|_| in_file(ConfigError::new("not UTF-8 text")))?;
        Config::from_yaml(&text).map_err(in_file)
    }

    /// Parses YAML text; an error carries its line and column.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| ConfigError {
                at: Some(
                    e.location()
                        .map_or((1, 1), |l| (l.line().max(1), l.column().max(1))),
                ),
                ..ConfigError::new(e.to_string())
            })?
        };
        config.validate().map_err(|mut e| {
            if let Some(pointer) = &e.pointer {
                // The same position map that places a plan's mistakes.
                let source = crate::plan::source::Source::new("sandbox.yaml", text.to_owned());
                let map = crate::plan::source::SourceMap::lazy(&source);
                e.at = map
                    .value_span(&source, pointer)
                    .map(|span| (span.line, span.col));
            }
            e
        })?;
        Ok(config)
    }

    /// Checks what serde cannot: ranges, fault routes and statuses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (low, high) = limits::TIME_SCALE;
        if !(low..=high).contains(&self.time_scale) {
            return Err(ConfigError::about(
                "/time_scale",
                format!(
                    "time_scale must be from {low} to {high}, not {}",
                    self.time_scale
                ),
            ));
        }
        duration("/latency", "latency", self.latency, limits::LATENCY)?;
        let (low, high) = limits::BODY_BYTES;
        if !(low..=high).contains(&self.max_body_bytes) {
            return Err(ConfigError::about(
                "/max_body_bytes",
                format!(
                    "max_body_bytes must be from {low} to {high}, not {}",
                    self.max_body_bytes
                ),
            ));
        }
        for (vendor, lifetime, limit, delay, delay_name) in [
            (
                "genesys",
                self.genesys.token_lifetime,
                &self.genesys.rate_limit,
                self.genesys.analytics_delay,
                "analytics_delay",
            ),
            (
                "cxone",
                self.cxone.token_lifetime,
                &self.cxone.rate_limit,
                self.cxone.completed_delay,
                "completed_delay",
            ),
        ] {
            let at = |key: &str| format!("/{vendor}/{key}");
            let name = |key: &str| format!("{vendor}.{key}");
            duration(
                &at("token_lifetime"),
                &name("token_lifetime"),
                lifetime,
                limits::TOKEN_LIFETIME,
            )?;
            duration(
                &at(delay_name),
                &name(delay_name),
                delay,
                limits::INDEXING_DELAY,
            )?;
            if let Some(l) = limit {
                count(
                    &at("rate_limit/requests"),
                    &name("rate_limit.requests"),
                    l.requests.into(),
                    (1, limits::REQUESTS.into()),
                )?;
                duration(
                    &at("rate_limit/per"),
                    &name("rate_limit.per"),
                    l.per,
                    limits::RATE_PERIOD,
                )?;
                if let Some(burst) = l.burst {
                    count(
                        &at("rate_limit/burst"),
                        &name("rate_limit.burst"),
                        burst.into(),
                        (1, limits::REQUESTS.into()),
                    )?;
                }
            }
        }
        for (i, fault) in self.faults.iter().enumerate() {
            validate_fault(i, fault)?;
        }
        Ok(())
    }
}

/// A duration of the configuration, within its bound.
fn duration(
    pointer: &str,
    name: &str,
    d: Duration,
    bound: crate::duration::Bound,
) -> Result<(), ConfigError> {
    bound
        .check(&crate::duration::human(d), d)
        .map(|_| ())
        .map_err(|e| ConfigError::about(pointer, format!("{name}: {e}")))
}

/// A count of the configuration, within `(min, max)`.
fn count(pointer: &str, name: &str, n: u64, (min, max): (u64, u64)) -> Result<(), ConfigError> {
    let message = if n < min {
        format!("{name} must be at least {min}, not {n}")
    } else if n > max {
        format!("{name} must be at most {max}, not {n}")
    } else {
        return Ok(());
    };
    Err(ConfigError::about(pointer, message))
}

fn validate_fault(i: usize, fault: &Fault) -> Result<(), ConfigError> {
    let at = |key: &str| format!("/faults/{i}/{key}");
    let name = |key: &str| format!("faults[{i}].{key}");
    super::faults::Route::parse(&fault.route)
        .map_err(|e| ConfigError::about(at("route"), format!("{}: {e}", name("route"))))?;
    match (fault.kind, fault.status) {
        (FaultKind::Status, None) => {
            return Err(ConfigError::about(
                at("kind"),
                format!("faults[{i}]: a `status` fault needs `status: N`"),
            ));
        }
        (FaultKind::Status, Some(s)) if !(400..=599).contains(&s) => {
            return Err(ConfigError::about(
                at("status"),
                format!("{}: {s} is not an error status (400-599)", name("status")),
            ));
        }
        (FaultKind::Drop | FaultKind::Stall, Some(_)) => {
            return Err(ConfigError::about(
                at("status"),
                format!("faults[{i}]: `status` only goes with `kind: status`"),
            ));
        }
        _ => {}
    }
    if let Some(seconds) = fault.retry_after {
        count(
            &at("retry_after"),
            &name("retry_after"),
            seconds,
            (0, limits::RETRY_AFTER),
        )?;
    }
    duration(
        &at("duration"),
        &name("duration"),
        fault.duration,
        limits::STALL,
    )?;
    let most = limits::FAULT_REQUESTS.into();
    count(&at("skip"), &name("skip"), fault.skip.into(), (0, most))?;
    count(&at("count"), &name("count"), fault.count.into(), (1, most))?;
    Ok(())
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
        assert!(err.to_string().starts_with("2:1: "), "{err}");
        let err = Config::from_yaml("time_scale: 0\n").unwrap_err();
        assert_eq!(err.at, Some((1, 13)), "{err}");
        assert!(err.message.contains("time_scale"), "{err}");
        let err =
            Config::from_yaml("faults: [{ route: POST /nowhere, kind: drop }]\n").unwrap_err();
        assert!(err.to_string().contains("faults[0].route"), "{err}");
        assert_eq!(err.at, Some((1, 19)), "{err}");
        let err =
            Config::from_yaml("faults:\n  - route: GET /api/v2/users/{id}\n    kind: status\n")
                .unwrap_err();
        assert!(err.message.contains("needs `status: N`"), "{err}");
        assert_eq!(err.at.map(|a| a.0), Some(3), "{err}");
    }

    #[test]
    fn absurd_values_are_refused_where_they_are_written() {
        for (text, line, needle) in [
            (
                "time_scale: 1e19\n",
                1,
                "time_scale must be from 0.000001 to 1000",
            ),
            ("time_scale: 0.0000001\n", 1, "time_scale"),
            ("seed: 1\nlatency: 585y\n", 2, "latency"),
            ("max_body_bytes: 0\n", 1, "max_body_bytes"),
            (
                "genesys:\n  token_lifetime: 0s\n",
                2,
                "genesys.token_lifetime",
            ),
            (
                "cxone:\n  completed_delay: 2h\n",
                2,
                "cxone.completed_delay",
            ),
            (
                "genesys:\n  rate_limit: { requests: 1, per: 585y }\n",
                2,
                "genesys.rate_limit.per",
            ),
            (
                "cxone:\n  rate_limit: { requests: 4000000000, per: 1s }\n",
                2,
                "cxone.rate_limit.requests",
            ),
            (
                "faults:\n  - route: GET /api/v2/users/{id}\n    kind: drop\n    skip: 4294967295\n",
                4,
                "faults[0].skip",
            ),
            (
                "faults:\n  - route: GET /api/v2/users/{id}\n    kind: stall\n    duration: 18446744073709551615s\n",
                4,
                "faults[0].duration",
            ),
        ] {
            let err = Config::from_yaml(text).expect_err(text);
            assert!(err.message.contains(needle), "{text}: {err}");
            assert_eq!(err.at.map(|a| a.0), Some(line), "{text}: {err}");
        }
    }
}
