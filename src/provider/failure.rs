//! How an attempt failed. The connection classifies a request that got no answer (it could not
//! connect, timed out, or broke off); the runner adds an error status or an unmet expectation; the
//! retry decision (`runner::retry`) reads it.

use std::time::Duration;

/// How an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error status.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The `Retry-After` the server sent, if any.
        retry_after: Option<Duration>,
    },
    /// The request timed out.
    Timeout {
        /// It may have reached the server (the timeout was not in connecting).
        sent: bool,
    },
    /// Could not connect (refused, DNS, TLS handshake): nothing reached the server.
    Connect,
    /// The connection broke after the request was sent (reset, closed mid-response): it may have
    /// reached the server.
    Broken,
    /// The server answered, but an `expect` was not met.
    Expectation,
}
