//! Generic HTTP APIs: the action catalogue (one raw `request` action).

use super::{ActionSpec, Effect, Method, REQUEST_PARAMS};

/// Every action of an `http` provider.
pub const ACTIONS: &[ActionSpec] = &[ActionSpec {
    name: "request",
    method: Method::Get,
    path: "/…",
    summary: "Any request below the provider's `base_url`, with its auth.",
    effect: Effect::ByMethod,
    needs_user: false,
    dials: &[],
    exclusive: &[],
    destination_required: false,
    params: REQUEST_PARAMS,
}];
