//! NICE CXone: everything callplan knows about the platform.
//!
//! - `catalogue`: the actions a step can name, and the request each one sends;
//! - `auth`: its password-grant login and the discovery of the API endpoint;
//! - `hints`: reading its error answers, and hints for the errors users commonly hit;
//! - `wait`: following a call by long-polling the agent session.
//!
//! ACD paths sit under `{api_endpoint}/inContactAPI/services/v{N}/` (see
//! `shared/reference/nice-cxone.md`), and the provider's `api_version` picks `N` (default
//! [`DEFAULT_API_VERSION`]).

pub(crate) mod auth;
mod catalogue;
pub(crate) mod hints;
pub(crate) mod reconcile;
pub(crate) mod wait;

pub use catalogue::{ACTIONS, CONTACT_STATES};

/// The ACD API version used unless the provider sets `api_version` (the vendor's current spec).
pub const DEFAULT_API_VERSION: &str = "34.0";

/// Where CXone logins and discovery live unless the provider sets `auth_url`.
pub const DEFAULT_AUTH_URL: &str = "https://cxone.niceincontact.com";

/// Prefix of every ACD path, before the version.
pub const SERVICES_PREFIX: &str = "/inContactAPI/services/v";
