//! Generic HTTP APIs: everything callplan knows about an `http` provider.
//!
//! - `catalogue`: its one raw `request` action;
//! - `auth`: its OAuth2 client-credentials login;
//! - `hints`: reading any API's error body, and hints for credentials and rate limits.

pub(crate) mod auth;
mod catalogue;
pub(crate) mod hints;

pub use catalogue::ACTIONS;
