//! Generic HTTP APIs: the action catalogue (one raw `request` action).

use crate::provider::ActionSpec;

/// Every action of an `http` provider.
pub const ACTIONS: &[ActionSpec] = &[ActionSpec::request(
    "/…",
    "Any request below the provider's `base_url`, with its auth.",
)];
