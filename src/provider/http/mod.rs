//! Generic HTTP APIs: everything callplan knows about an `http` provider.
//!
//! - `catalogue`: its one raw `request` action;
//! - `auth`: its OAuth2 client-credentials login.

pub(crate) mod auth;
mod catalogue;

pub use catalogue::ACTIONS;
