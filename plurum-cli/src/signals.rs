//! The signals long-running commands stop or reload on (`serve`, `daemon`),
//! listened for from the moment they are installed: install them before
//! telling anyone where you listen, or a quick SIGTERM kills the process
//! uncleanly.

/// What arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGHUP: reload the configuration.
    Hangup,
    /// SIGTERM: stop cleanly.
    Terminate,
    /// Ctrl-C (SIGINT): stop cleanly.
    Interrupt,
}

impl Signal {
    /// How a log line names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Hangup => "SIGHUP",
            Self::Terminate => "SIGTERM",
            Self::Interrupt => "Ctrl-C",
        }
    }
}

/// SIGHUP, SIGTERM and SIGINT handlers.
#[derive(Debug)]
pub(crate) struct Signals {
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
async fn next_of(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

impl Signals {
    /// Starts listening (a handler that cannot be installed is left out).
    pub(crate) fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                hangup: signal(SignalKind::hangup()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
                interrupt: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// The next signal.
    pub(crate) async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                () = next_of(self.hangup.as_mut()) => Signal::Hangup,
                () = next_of(self.terminate.as_mut()) => Signal::Terminate,
                () = next_of(self.interrupt.as_mut()) => Signal::Interrupt,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Interrupt
        }
    }

    /// The next signal that stops (SIGHUP is ignored).
    pub(crate) async fn stop(&mut self) -> Signal {
        loop {
            let signal = self.next().await;
            if signal != Signal::Hangup {
                return signal;
            }
        }
    }
}
