//! Generic HTTP APIs: everything callplan knows about an `http` provider.
//!
//! - `catalogue`: its one raw `request` action.

mod catalogue;

pub use catalogue::ACTIONS;
