//! Signals: Ctrl-C (SIGINT), SIGTERM and SIGHUP all stop a run the same way, at any moment.
//!
//! CI cancellation, `timeout`, `docker stop`, Kubernetes and systemd send SIGTERM; a closed
//! terminal sends SIGHUP. Each is listened for from the moment [`Signals::listen`] returns (so the
//! default action, which would end the process without hanging anything up, never applies): the
//! first one asks the run to stop launching, cancel what is in flight, run its `always` steps and
//! write its reports; a second one cuts that short.

use tokio::sync::watch;

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    HangUp,
}

impl Signal {
    /// The conventional exit code of a process stopped by it (128 + its number).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::HangUp => 129,
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    /// Its name, as `kill -l` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::HangUp => "SIGHUP",
        }
    }

    /// How the user asks for it again to stop at once.
    fn again(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C again",
            Signal::Terminate | Signal::HangUp => "a second signal",
        }
    }

    /// The line printed when it arrives.
    pub fn announcement(self) -> String {
        format!(
            "interrupted: finishing the `always` steps ({}; {} to stop at once)",
            self.name(),
            self.again()
        )
    }
}

/// What has arrived so far: the first signal, and whether a second one followed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    /// The first signal.
    pub first: Option<Signal>,
    /// A second signal (of any kind) came after it.
    pub again: bool,
}

/// The signals a run listens for.
#[derive(Debug, Clone)]
pub struct Signals {
    state: watch::Receiver<Received>,
    /// For [`Signals::none`]: the sender that never sends, kept so that waits stay pending.
    _quiet: Option<std::sync::Arc<watch::Sender<Received>>>,
}

impl Signals {
    /// Starts listening (inside a tokio runtime). From now on SIGINT, SIGTERM and SIGHUP no
    /// longer end the process by themselves.
    pub fn listen() -> std::io::Result<Signals> {
        let (tx, rx) = watch::channel(Received::default());
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            let mut hup = signal(SignalKind::hangup())?;
            tokio::spawn(async move {
                loop {
                    let got = tokio::select! {
                        Some(()) = int.recv() => Signal::Interrupt,
                        Some(()) = term.recv() => Signal::Terminate,
                        Some(()) = hup.recv() => Signal::HangUp,
                        else => return,
                    };
                    if !record(&tx, got) {
                        return;
                    }
                }
            });
        }
        #[cfg(not(unix))]
        {
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    if !record(&tx, Signal::Interrupt) {
                        return;
                    }
                }
            });
        }
        Ok(Signals {
            state: rx,
            _quiet: None,
        })
    }

    /// Signals that never come (for library callers and tests that run a plan without them).
    pub fn none() -> Signals {
        let (tx, rx) = watch::channel(Received::default());
        Signals {
            state: rx,
            _quiet: Some(std::sync::Arc::new(tx)),
        }
    }

    /// What has arrived so far.
    pub fn received(&self) -> Received {
        *self.state.borrow()
    }

    /// The first signal, if one came.
    pub fn first(&self) -> Option<Signal> {
        self.received().first
    }

    /// Resolves once a first signal has come.
    pub async fn first_arrived(&self) -> Signal {
        let mut state = self.state.clone();
        let first = state
            .wait_for(|r| r.first.is_some())
            .await
            .ok()
            .and_then(|r| r.first);
        match first {
            Some(signal) => signal,
            // The listener is gone: no signal will ever come.
            None => std::future::pending().await,
        }
    }

    /// Resolves once a second signal has come.
    pub async fn second_arrived(&self) {
        let mut state = self.state.clone();
        let arrived = state.wait_for(|r| r.again).await.is_ok();
        if !arrived {
            std::future::pending::<()>().await;
        }
    }

    /// A `true`-once-stopped view for the runner.
    pub fn stop_flag(&self) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(self.first().is_some());
        let signals = self.clone();
        tokio::spawn(async move {
            signals.first_arrived().await;
            let _ = tx.send(true);
        });
        rx
    }
}

/// Records a signal; false once nobody listens any more.
fn record(tx: &watch::Sender<Received>, got: Signal) -> bool {
    if tx.is_closed() {
        return false;
    }
    tx.send_modify(|r| {
        if r.first.is_none() {
            r.first = Some(got);
        } else {
            r.again = true;
        }
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::HangUp.exit_code(), 129);
    }

    #[test]
    fn the_first_signal_is_kept_and_a_second_one_is_noted() {
        let (tx, rx) = watch::channel(Received::default());
        assert!(record(&tx, Signal::Terminate));
        assert_eq!(
            *rx.borrow(),
            Received {
                first: Some(Signal::Terminate),
                again: false
            }
        );
        assert!(record(&tx, Signal::Interrupt));
        assert_eq!(
            *rx.borrow(),
            Received {
                first: Some(Signal::Terminate),
                again: true
            }
        );
    }
}
