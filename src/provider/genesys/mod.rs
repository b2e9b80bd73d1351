//! Genesys Cloud CX: everything callplan knows about the platform.
//!
//! - `catalogue`: the actions a step can name, and the request each one sends;
//! - `auth`: its client-credentials login;
//! - `hints`: reading its error bodies, and hints for the errors users commonly hit;
//! - `wait`: following a call by polling its conversation.
//!
//! API base `https://api.<region>`, login host `https://login.<region>`.

pub(crate) mod auth;
mod catalogue;
pub(crate) mod hangup;
pub(crate) mod hints;
pub(crate) mod reconcile;
pub(crate) mod wait;

pub use catalogue::{ACTIONS, CALL_STATES, PURPOSES};

/// Region domains (`api.<region>` / `login.<region>`), from the SDKs' region tables.
pub const REGIONS: &[&str] = &[
    "mypurecloud.com",
    "mypurecloud.ie",
    "mypurecloud.com.au",
    "mypurecloud.jp",
    "mypurecloud.de",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "apne2.pure.cloud",
    "euw2.pure.cloud",
    "aps1.pure.cloud",
    "use2.us-gov-pure.cloud",
    "sae1.pure.cloud",
    "mec1.pure.cloud",
    "apne3.pure.cloud",
    "euc2.pure.cloud",
    "mxc1.pure.cloud",
    "apse1.pure.cloud",
    "edee1.eusc-pure.cloud",
];

/// Genesys's full conversation teardown: "not intended to be the normal way of ending
/// interactions"; `check` warns when a plan hangs up with it.
pub const TEARDOWN: &str = "conversations.disconnect";

/// The hang-up to use instead.
pub const HANG_UP: &str = "calls.hang_up";
