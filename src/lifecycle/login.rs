//! Logging in, before the first step: each provider the steps use, under its login retry
//! policy. A login is safe to repeat (it creates nothing a customer notices), so 429, 5xx,
//! timeouts and failed connections are retried as the policy says, honouring `Retry-After`;
//! a wrong secret (400, 401) stops at once.

use std::sync::Arc;
use std::time::Instant;

use indexmap::IndexMap;

use super::resolve;
use crate::plan::model::Plan;
use crate::provider::ProviderKind;
use crate::provider::auth::AuthError;
use crate::provider::connection::Connection;
use crate::provider::hints;
use crate::runner::events::{Attempt, Clock, Event, LoginResult, Sink};
use crate::runner::retry::{self, Decision, Failure};

/// A login that gave up.
#[derive(Debug, Clone)]
pub(super) struct LoginFailed {
    /// "provider `gc` could not log in: …"
    pub(super) message: String,
    /// What to look at.
    pub(super) hint: String,
}

/// How a failed login attempt failed, for the retry decision.
fn failure_of(e: &AuthError) -> Failure {
    match (e.status, e.timed_out, e.unreachable) {
        (Some(status), _, _) => Failure::Status {
            status,
            retry_after: e.retry_after,
        },
        // Whether a timed-out login reached the server does not matter: it is safe to repeat.
        (None, true, _) => Failure::Timeout { sent: true },
        (None, false, true) => Failure::Connect,
        // The login answered, but not with something usable (no token, no tenant).
        (None, false, false) => Failure::Status {
            status: 400,
            retry_after: None,
        },
    }
}

/// Logs every provider the steps use in, in plan order.
pub(super) async fn all(
    plan: &Plan,
    connections: &IndexMap<String, Arc<Connection>>,
    sink: &dyn Sink,
    clock: &Clock,
) -> Result<(), LoginFailed> {
    for (name, connection) in connections {
        if !plan.steps.iter().any(|s| &s.provider == name)
            || !connection.settings.credentials.fetches_tokens()
        {
            continue;
        }
        one(plan, name, connection, sink, clock).await?;
    }
    Ok(())
}

async fn one(
    plan: &Plan,
    name: &str,
    connection: &Connection,
    sink: &dyn Sink,
    clock: &Clock,
) -> Result<(), LoginFailed> {
    let provider = &plan.providers[name];
    let policy = &provider.login_retry;
    let started = clock.elapsed();
    let mut attempts = Vec::new();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let sent = Instant::now();
        let error = match connection.authenticate().await {
            Ok(()) => {
                attempts.push(Attempt {
                    status: None,
                    error: None,
                    elapsed: sent.elapsed(),
                    queued: std::time::Duration::ZERO,
                    retry_after: None,
                });
                sink.event(&Event::LoginFinished(Box::new(LoginResult {
                    provider: name.to_owned(),
                    attempts,
                    error: None,
                    hint: None,
                    started,
                    duration: clock.elapsed().saturating_sub(started),
                })));
                return Ok(());
            }
            Err(e) => e,
        };
        let failure = failure_of(&error);
        match retry::decide(policy, false, attempt, &failure, rand::random::<f64>()) {
            Decision::Retry { after, reason } => {
                attempts.push(Attempt {
                    status: error.status,
                    error: Some(error.message.clone()),
                    elapsed: sent.elapsed(),
                    queued: std::time::Duration::ZERO,
                    retry_after: Some(after),
                });
                sink.event(&Event::LoginRetried {
                    provider: name.to_owned(),
                    attempt,
                    error: if reason.contains("Retry-After") {
                        format!("{} ({reason})", error.message)
                    } else {
                        error.message.clone()
                    },
                    retry_in: after,
                });
                tokio::time::sleep(after).await;
            }
            Decision::Stop { reason } => {
                attempts.push(Attempt {
                    status: error.status,
                    error: Some(error.message.clone()),
                    elapsed: sent.elapsed(),
                    queued: std::time::Duration::ZERO,
                    retry_after: None,
                });
                let what = if error.unreachable {
                    "is unreachable"
                } else {
                    "could not log in"
                };
                // Say why it stopped retrying only when it had retried, or could have.
                let after = if attempt > 1 {
                    format!(" (gave up after {attempt} attempts)")
                } else if retry::category(&failure).is_some() && !reason.is_empty() {
                    format!(" ({reason})")
                } else {
                    String::new()
                };
                let message = format!("provider `{name}` {what}: {}{after}", error.message);
                let hint = hint(plan, name, &error, &failure);
                sink.event(&Event::LoginFinished(Box::new(LoginResult {
                    provider: name.to_owned(),
                    attempts,
                    error: Some(message.clone()),
                    hint: Some(hint.clone()),
                    started,
                    duration: clock.elapsed().saturating_sub(started),
                })));
                return Err(LoginFailed { message, hint });
            }
        }
    }
}

/// What to look at after a failed login: the vendor's own hint for a refused secret, otherwise
/// the provider, the auth keys and the retry setting involved.
fn hint(plan: &Plan, name: &str, error: &AuthError, failure: &Failure) -> String {
    let provider = &plan.providers[name];
    let keys = resolve::auth_keys(name, provider);
    let retry_keys = format!("`providers.{name}.retry` (or `defaults.retry`)");
    match retry::category(failure) {
        // The platform's side, or the network: the secrets may well be right.
        Some(_) => {
            let side = if error.unreachable {
                format!("check providers.{name}'s URL and the network ({keys})")
            } else {
                format!(
                    "the login of provider `{name}` failed on the platform's side (HTTP {}), not because of {keys}",
                    error.status.unwrap_or_default()
                )
            };
            format!("{side}; {retry_keys} sets how often it is retried")
        }
        None => {
            let vendor = error.vendor.as_ref().and_then(|v| {
                hints::hint(
                    provider.kind,
                    error.status.unwrap_or(401),
                    v,
                    &hints::Context {
                        provider: name,
                        action: "login",
                        rate_limit: provider.rate_limit.map(|l| (l.requests, l.per)),
                        retried: false,
                    },
                )
            });
            vendor.unwrap_or_else(|| {
                let extra = match provider.kind {
                    ProviderKind::GenesysCloud | ProviderKind::NiceCxone => {
                        " and the secrets they read"
                    }
                    ProviderKind::Http => "",
                };
                format!("check {keys}{extra}")
            })
        }
    }
}
