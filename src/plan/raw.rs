//! The plan file as written: serde types that mirror the YAML one to one, and from which the JSON
//! Schema (`schemas/callplan.v1.schema.json`) is generated.
//!
//! Every struct rejects unknown keys. Doc comments become the schema's titles (first paragraph)
//! and descriptions (the rest), which editors show on hover; keep both on every field. Values
//! that need more than a type check (durations, templates, phone numbers, patterns) stay strings
//! here and are checked, with their positions, when the validated model is built.

use std::borrow::Cow;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// The schema's `$id`.
pub const SCHEMA_ID: &str = "https://callplan.dev/schemas/callplan.v1.schema.json";

/// A callplan plan
///
/// A declarative, versioned call plan: its auth, its providers and its templated steps.
/// Documented in docs/plan-format.md.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    /// Plan format version
    ///
    /// The version of the plan format this file is written in. callplan reads it first; the only
    /// version is `1`.
    pub version: PlanVersion,
    /// Plan name
    ///
    /// A short identifier shown in reports and notifications, e.g. `genesys-agent-smoke`.
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// Description
    ///
    /// What the plan does and why, for the people who review it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Variables
    ///
    /// Plain values available to templates as `vars.<name>`; each can be overridden on the command
    /// line with `--var name=value`. Never put secrets here: use `secrets`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub vars: IndexMap<String, serde_json::Value>,
    /// Secrets
    ///
    /// Values read from the environment or from files when the plan runs, available to templates
    /// as `secrets.<name>`. They are never printed, never written to a report or journal.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, SecretSource>,
    /// Providers
    ///
    /// The platforms the plan talks to, by the name steps use in `provider:`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub providers: IndexMap<String, Provider>,
    /// Guard rails
    ///
    /// Safety rails enforced before any request leaves: which numbers may be dialed, and how many
    /// calls a run may place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<Guard>,
    /// Step defaults
    ///
    /// Settings every step inherits unless it sets its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Defaults>,
    /// Notifications
    ///
    /// Webhooks that receive the run's lifecycle events as JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<Notify>,
    /// Reports
    ///
    /// Result reports to write after the run, by format. `--report FORMAT:PATH` adds more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportSettings>,
    /// Steps
    ///
    /// What the plan does, in order. Each step runs one action of one provider.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
}

/// The plan format version: always `1` in this release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanVersion(pub u64);

impl JsonSchema for PlanVersion {
    fn schema_name() -> Cow<'static, str> {
        "PlanVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "const": 1,
        })
    }
}

/// A humantime duration
///
/// A duration with units, such as `500ms`, `15s`, `1m30s` or `2h`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "title": "Duration",
            "description": "A duration with units, such as `500ms`, `15s`, `1m30s` or `2h`.",
            "examples": ["15s", "1m30s"],
        })
    }
}

/// Where a secret comes from
///
/// Exactly one source: an environment variable or a file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretSource {
    /// From an environment variable
    ///
    /// The name of the environment variable holding the secret (also read from `--env-file`):
    /// letters, digits and `_`, not starting with a digit.
    Env(#[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))] String),
    /// From a file
    ///
    /// A file holding the secret, relative to the plan; surrounding whitespace is trimmed.
    File(String),
}

/// A provider
///
/// One platform the plan talks to; `type` says which.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Provider {
    /// Genesys Cloud CX
    ///
    /// The Genesys Cloud Platform API (`api.<region>`), authenticated at `login.<region>`.
    GenesysCloud(GenesysProvider),
    /// NICE CXone
    ///
    /// The CXone ACD APIs of one tenant, found through `/.well-known/cxone-configuration`.
    NiceCxone(CxoneProvider),
    /// Any HTTP API
    ///
    /// A REST endpoint such as a CRM webhook.
    Http(HttpProvider),
}

/// A Genesys Cloud provider
///
/// Settings of a `genesys-cloud` provider.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenesysProvider {
    /// Region
    ///
    /// The org's region domain: the API is `https://api.<region>` and login
    /// `https://login.<region>`. Set this or `base_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = crate::provider::genesys::REGIONS))]
    pub region: Option<String>,
    /// API base URL
    ///
    /// Overrides the API base (and, unless `login_url` is set, the login host too), e.g. a gateway
    /// or the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Login URL
    ///
    /// Overrides the login host used for `/oauth/token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
    /// Authentication
    ///
    /// How callplan gets its access token.
    pub auth: GenesysAuth,
    /// Rate limit
    ///
    /// Requests allowed per period; Genesys allows 300 per minute per client-credentials token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Request timeout
    ///
    /// How long one request may take before it fails (default `15s`, or the step's timeout; at
    /// most `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// Reconciliation delay
    ///
    /// How long after a create the provider's lookups can be trusted to know the call: a resume
    /// that finds a create of unknown fate asks the provider, and believes "not placed" only
    /// once this has passed since the create left (default `60s` for Genesys, `30s` for CXone;
    /// at most `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_delay: Option<DurationText>,
    /// Login retries
    ///
    /// How the provider's login is retried after a 429, a 5xx, a timeout or a failed connection
    /// (a login is safe to repeat). Default: `defaults.retry` when the plan sets it, otherwise 3
    /// attempts with exponential backoff from 1s, honouring `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
}

/// Genesys Cloud authentication
///
/// `grant` picks how the token is obtained.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "grant", rename_all = "snake_case", deny_unknown_fields)]
pub enum GenesysAuth {
    /// OAuth client credentials
    ///
    /// `POST https://login.<region>/oauth/token` with the client id and secret in HTTP Basic.
    /// The token has no user: user-context endpoints answer 400 `not.a.user`.
    ClientCredentials {
        /// Client id
        ///
        /// The OAuth client id, usually `{{ secrets.<name> }}`.
        client_id: String,
        /// Client secret
        ///
        /// The OAuth client secret; must come from `secrets`.
        client_secret: String,
    },
    /// A user's bearer token
    ///
    /// An access token obtained elsewhere for a user (code or implicit grant), for user-context
    /// endpoints such as `calls.create`.
    Bearer {
        /// Access token
        ///
        /// The token; must come from `secrets`.
        token: String,
    },
}

/// A NICE CXone provider
///
/// Settings of a `nice-cxone` provider.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CxoneProvider {
    /// Auth URL
    ///
    /// The authentication server (default `https://cxone.niceincontact.com`; the FedRAMP
    /// tenants use `https://cxone-gov.niceincontact.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    /// API base URL
    ///
    /// The tenant's API base (`api_endpoint`). Normally discovered from
    /// `/.well-known/cxone-configuration`; set it to skip discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// ACD API version
    ///
    /// The `N` of `/inContactAPI/services/vN/`, written like `34.0` (default `34.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+\.0$"))]
    pub api_version: Option<String>,
    /// Authentication
    ///
    /// How callplan gets its access token.
    pub auth: CxoneAuth,
    /// Rate limit
    ///
    /// Requests allowed per period (CXone publishes no general limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Request timeout
    ///
    /// How long one request may take before it fails (default `15s`, or the step's timeout; at
    /// most `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// Reconciliation delay
    ///
    /// How long after a create the provider's lookups can be trusted to know the call: a resume
    /// that finds a create of unknown fate asks the provider, and believes "not placed" only
    /// once this has passed since the create left (default `60s` for Genesys, `30s` for CXone;
    /// at most `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_delay: Option<DurationText>,
    /// Login retries
    ///
    /// How the provider's login is retried after a 429, a 5xx, a timeout or a failed connection
    /// (a login is safe to repeat). Default: `defaults.retry` when the plan sets it, otherwise 3
    /// attempts with exponential backoff from 1s, honouring `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
}

/// NICE CXone authentication
///
/// `grant` picks how the token is obtained.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "grant", rename_all = "snake_case", deny_unknown_fields)]
pub enum CxoneAuth {
    /// Password grant with an access key
    ///
    /// `POST /auth/token` with `grant_type=password`, the access key id and secret as username
    /// and password, and the registered app's client id and secret in HTTP Basic.
    Password {
        /// Access key id
        ///
        /// The API user's access key id; must come from `secrets`.
        access_key_id: String,
        /// Access key secret
        ///
        /// The API user's access key secret; must come from `secrets`.
        access_key_secret: String,
        /// Client id
        ///
        /// The registered application's client id.
        client_id: String,
        /// Client secret
        ///
        /// The registered application's client secret; must come from `secrets`.
        client_secret: String,
    },
}

/// An HTTP provider
///
/// Settings of an `http` provider.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpProvider {
    /// Base URL
    ///
    /// Every request path is relative to this URL, e.g. `https://crm.example.com/api`.
    pub base_url: String,
    /// Authentication
    ///
    /// How requests are authenticated (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// Headers
    ///
    /// Headers sent with every request (templates allowed).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// Rate limit
    ///
    /// Requests allowed per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Request timeout
    ///
    /// How long one request may take before it fails (default `15s`, or the step's timeout; at
    /// most `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// Login retries
    ///
    /// How the provider's login is retried after a 429, a 5xx, a timeout or a failed connection
    /// (a login is safe to repeat). Default: `defaults.retry` when the plan sets it, otherwise 3
    /// attempts with exponential backoff from 1s, honouring `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
}

/// HTTP authentication
///
/// `type` picks the scheme.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HttpAuth {
    /// No authentication
    ///
    /// Requests carry no credentials.
    None,
    /// Bearer token
    ///
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// Token
        ///
        /// The bearer token; must come from `secrets`.
        token: String,
    },
    /// HTTP Basic
    ///
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// Username
        ///
        /// The user name.
        username: String,
        /// Password
        ///
        /// The password; must come from `secrets`.
        password: String,
    },
    /// OAuth2 client credentials
    ///
    /// A token from `token_url` with `grant_type=client_credentials`, cached until it expires.
    Oauth2ClientCredentials {
        /// Token URL
        ///
        /// The OAuth2 token endpoint.
        token_url: String,
        /// Client id
        ///
        /// The OAuth2 client id.
        client_id: String,
        /// Client secret
        ///
        /// The OAuth2 client secret; must come from `secrets`.
        client_secret: String,
        /// Scope
        ///
        /// Space-separated scopes to request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// Audience
        ///
        /// The `audience` parameter some servers require.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<String>,
    },
}

/// A rate limit
///
/// At most `requests` requests every `per`; callplan paces itself ahead of the limit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests
    ///
    /// How many requests are allowed per period, from 1 to 100000.
    #[schemars(range(min = 1, max = super::limits::MAX_REQUESTS))]
    pub requests: u32,
    /// Period
    ///
    /// The period the limit applies to, e.g. `1m`; at most `24h`. No window of this length,
    /// wherever it starts, holds more than `requests` requests.
    pub per: DurationText,
    /// Burst
    ///
    /// For a provider that refills its budget evenly rather than per window: at most this many
    /// requests at once, the rest spaced at the steady rate (`per / requests` apart). Without
    /// it, requests leave as soon as the window allows. From 1 to 100000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = super::limits::MAX_REQUESTS))]
    pub burst: Option<u32>,
}

/// Guard rails
///
/// Checked before every request that places a call; a refused destination is never dialed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// Allowed destinations
    ///
    /// E.164 patterns a dialed number must match, e.g. `+1317555****`: digits match themselves
    /// and each `*` matches one digit. When set, any other number is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_destinations: Vec<String>,
    /// Denied destinations
    ///
    /// E.164 patterns that are always refused, even when allowed above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_destinations: Vec<String>,
    /// Maximum calls
    ///
    /// The most calls one run may place, from 1 to 1000000; further dials are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = super::limits::MAX_CALLS))]
    pub max_calls: Option<u64>,
    /// Calling hours
    ///
    /// When dials are allowed: days of the week and a time window in an IANA time zone (the
    /// destination's own zone when `destination_time_zone` gives it). A dial outside them is
    /// refused before it leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling_hours: Option<CallingHours>,
}

/// Calling hours
///
/// A weekly window in which dials are allowed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallingHours {
    /// Days
    ///
    /// The days dials are allowed on (default: every day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<Weekday>>,
    /// From
    ///
    /// The first minute dials are allowed, `HH:MM` (24-hour clock).
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub from: String,
    /// To
    ///
    /// The minute dials stop being allowed, `HH:MM`; earlier than `from` for a window across
    /// midnight.
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub to: String,
    /// Time zone
    ///
    /// The IANA time zone the window is in, e.g. `America/Indiana/Indianapolis`.
    pub time_zone: String,
    /// Destination time zone
    ///
    /// A template giving the destination's own IANA zone per dial, e.g. `"{{ row.time_zone }}"`
    /// from a CSV column; when it renders empty, `time_zone` applies. A zone that cannot be read
    /// refuses the dial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_time_zone: Option<String>,
}

/// A day of the week
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// Monday
    Mon,
    /// Tuesday
    Tue,
    /// Wednesday
    Wed,
    /// Thursday
    Thu,
    /// Friday
    Fri,
    /// Saturday
    Sat,
    /// Sunday
    Sun,
}

/// Step defaults
///
/// Settings every step inherits unless it sets its own.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Timeout
    ///
    /// How long one step may take, retries included (at most `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// Error policy
    ///
    /// What a failed step does to the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
    /// Retry policy
    ///
    /// How failed requests are retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
}

/// Error policy
///
/// `abort` stops launching steps (cleanup steps still run); `continue` records the failure and
/// goes on; `ignore` records it without failing the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Stop launching steps, run the `always` steps, fail the run.
    Abort,
    /// Record the failure, go on, fail the run at the end.
    Continue,
    /// Record the failure as a warning; the run still passes.
    Ignore,
}

/// Retry policy
///
/// How a failed request is retried. Requests that may have placed a call are never retried
/// unless `unsafe` is true.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts
    ///
    /// Total attempts, the first included (1 means no retry), at most 100.
    #[schemars(range(min = 1, max = super::limits::MAX_ATTEMPTS))]
    pub attempts: u32,
    /// Backoff
    ///
    /// How the delay grows between attempts (default `exponential`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Initial delay
    ///
    /// The delay before the first retry (default `1s`, at most `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<DurationText>,
    /// Maximum delay
    ///
    /// The longest delay between attempts (default `30s`, at most `1h`); also caps `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<DurationText>,
    /// Jitter
    ///
    /// Randomize delays so that parallel workers do not retry in lockstep (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<bool>,
    /// Retry when
    ///
    /// Which failures are retried (default: all but `expectation`). Named `when`, not `on`:
    /// YAML 1.1 tools (PyYAML, yamllint) read a key `on` as the boolean true.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<RetryOn>,
    /// Retry unsafe requests
    ///
    /// Also retry a request that creates something (a call, a callback) after a failure that may
    /// have reached the provider (a timeout after sending, a reset connection, a 5xx). This can
    /// dial a customer twice.
    #[serde(default, rename = "unsafe", skip_serializing_if = "Option::is_none")]
    pub unsafe_: Option<bool>,
}

/// Backoff
///
/// `fixed` waits `initial` every time; `exponential` doubles it up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// The same delay every time.
    Fixed,
    /// Doubling delays, capped by `max`.
    Exponential,
}

/// A failure kind to retry
///
/// `rate_limited` (429), `server_error` (5xx), `timeout`, `connection` (refused or reset),
/// `expectation` (an `expect` did not hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    /// HTTP 429.
    RateLimited,
    /// HTTP 5xx.
    ServerError,
    /// No answer in time.
    Timeout,
    /// Connection refused or reset.
    Connection,
    /// An `expect` expression was false.
    Expectation,
}

/// A webhook
///
/// Receives the run's lifecycle events as JSON POSTs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// URL
    ///
    /// Where events are POSTed (templates allowed).
    pub url: String,
    /// Events
    ///
    /// Which events to send (default: `run_finished`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NotifyEvent>,
    /// Headers
    ///
    /// Extra headers, e.g. an authorization header from `secrets`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
}

/// A lifecycle event
///
/// An event a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// The run started.
    RunStarted,
    /// A step finished, whatever its outcome.
    StepFinished,
    /// A step failed.
    StepFailed,
    /// The run finished, whatever its outcome.
    RunFinished,
    /// The run failed.
    RunFailed,
}

/// Reports
///
/// Where to write each report format (templates allowed, e.g. `reports/{{ run.id }}.json`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    /// JSON report
    ///
    /// Path of the JSON report (`schemas/report.v1.schema.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// JUnit report
    ///
    /// Path of the JUnit XML report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub junit: Option<String>,
    /// Markdown report
    ///
    /// Path of the Markdown summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown: Option<String>,
    /// HTML report
    ///
    /// Path of the self-contained HTML report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A step
///
/// One action of one provider, with its parameters, expectations, captures and error policy;
/// or a flow: `steps` run once per row of `for_each`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = { "required": ["steps"] },
    "then" = { "required": ["for_each"] },
    "else" = { "required": ["provider", "action"] }
))]
pub struct Step {
    /// Step id
    ///
    /// Letters, digits and `_`, not starting with a digit (e.g. `dial_agent`); unique in the plan.
    /// Later steps read this step's saved values as `steps.<id>.<name>`.
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub id: String,
    /// Name
    ///
    /// A human title for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider
    ///
    /// The name of an entry of `providers` (every step but a flow).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provider: String,
    /// Action
    ///
    /// What to do, from the provider's catalogue (docs/actions.md), e.g. `calls.create_for_user`
    /// (every step but a flow).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    /// Flow steps
    ///
    /// A flow: these steps run in order once per row of `for_each` (dial, wait, hang up, post to
    /// the CRM), each row with its own saved values and its own `always` steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
    /// Parameters
    ///
    /// The action's parameters; string values are templates.
    #[serde(default, rename = "with", skip_serializing_if = "IndexMap::is_empty")]
    pub with: IndexMap<String, serde_json::Value>,
    /// Condition
    ///
    /// An expression; the step is skipped unless it is true, e.g. `vars.dial_enabled`.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub if_: Option<String>,
    /// For each
    ///
    /// Runs the step once per item: an inline list, or `{csv: file}`, `{json: file}`,
    /// `{jsonl: file}` (files relative to the plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<ForEach>,
    /// Item name
    ///
    /// The name of the current item in templates (default `item`): letters, digits and `_`, not
    /// starting with a digit.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub as_: Option<String>,
    /// Concurrency
    ///
    /// How many items of `for_each` run at once, from 1 to 256 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = super::limits::MAX_CONCURRENCY))]
    pub concurrency: Option<u32>,
    /// Expectations
    ///
    /// Expressions that must all be true of the response, e.g. `response.status == 200`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
    /// Saved values
    ///
    /// Values captured from the response for later steps, e.g.
    /// `conversation_id: "{{ response.body.id }}"`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub save: IndexMap<String, String>,
    /// Error policy
    ///
    /// What a failure of this step does to the run (default from `defaults`, else `abort`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
    /// Retry policy
    ///
    /// Overrides `defaults.retry` for this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Timeout
    ///
    /// How long this step may take, retries and waiting included (at most `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// Always run
    ///
    /// A cleanup step: it runs even after an abort or an interrupt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub always: bool,
}

/// Items of a `for_each`
///
/// An inline list, or one file: `{csv: contacts.csv}` (the header row names the fields),
/// `{json: items.json}` (an array) or `{jsonl: items.jsonl}` (one value per line).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ForEachFile {
    /// A CSV file
    ///
    /// A CSV file with a header row, relative to the plan.
    Csv(String),
    /// A JSON file
    ///
    /// A file holding a JSON array, relative to the plan.
    Json(String),
    /// A JSONL file
    ///
    /// A file with one JSON value per line, relative to the plan.
    Jsonl(String),
}

/// Items of a `for_each`: an inline list or a file.
///
/// (De)serialized by hand: a derived untagged enum would answer every mistake with "data did not
/// match any variant".
#[derive(Debug, Clone)]
pub enum ForEach {
    /// Items written in the plan.
    Inline(Vec<serde_json::Value>),
    /// Items read from a file.
    File(ForEachFile),
    /// A list an earlier step saved, as a template: `"{{ steps.lookup.contacts }}"`.
    Saved(String),
}

impl Serialize for ForEach {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ForEach::Inline(items) => items.serialize(serializer),
            ForEach::File(file) => file.serialize(serializer),
            ForEach::Saved(template) => template.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ForEach {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        match value {
            serde_json::Value::Array(items) => Ok(ForEach::Inline(items)),
            serde_json::Value::String(template) => Ok(ForEach::Saved(template)),
            other => ForEachFile::deserialize(other)
                .map(ForEach::File)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for ForEach {
    fn schema_name() -> Cow<'static, str> {
        "ForEach".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let file = generator.subschema_for::<ForEachFile>();
        json_schema!({
            "title": "For each",
            "description": "An inline list of items, one file: `{csv: contacts.csv}`, `{json: items.json}` or `{jsonl: items.jsonl}`, or a list an earlier step saved: `\"{{ steps.lookup.contacts }}\"`.",
            "oneOf": [
                {
                    "type": "array",
                    "title": "Inline items",
                    "description": "The items, written in the plan.",
                },
                file,
                {
                    "type": "string",
                    "title": "A saved list",
                    "description": "A template that renders to a list an earlier step saved, e.g. `{{ steps.lookup.contacts }}`.",
                },
            ],
        })
    }
}
