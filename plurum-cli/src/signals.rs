//! The signals long-running commands stop or reload on (`serve`, `daemon`),
//! listened for from the moment they are installed: install them before
//! telling anyone where you listen, or a quick SIGTERM kills the process
//! uncleanly.

/// What arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGHUP: reload the configuration (unix only: Windows has no such
    /// signal, and a daemon there reloads by restarting).
    #[cfg_attr(not(unix), allow(dead_code))]
    Hangup,
    /// SIGTERM; on Windows the console closing or the system shutting
    /// down: stop cleanly.
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

/// SIGHUP, SIGTERM and SIGINT handlers (on Windows: Ctrl-C, Ctrl-Break,
/// the console closing and the system shutting down).
#[derive(Debug)]
pub(crate) struct Signals {
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(windows)]
    ctrl_c: Option<tokio::signal::windows::CtrlC>,
    #[cfg(windows)]
    ctrl_break: Option<tokio::signal::windows::CtrlBreak>,
    #[cfg(windows)]
    close: Option<tokio::signal::windows::CtrlClose>,
    #[cfg(windows)]
    shutdown: Option<tokio::signal::windows::CtrlShutdown>,
}

/// Waits for the next event of an optional Windows handler (forever when
/// it could not be installed).
#[cfg(windows)]
macro_rules! next_windows {
    ($handler:expr) => {
        async {
            match $handler {
                Some(handler) => {
                    handler.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
    };
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
        #[cfg(windows)]
        {
            use tokio::signal::windows;
            Self {
                ctrl_c: windows::ctrl_c().ok(),
                ctrl_break: windows::ctrl_break().ok(),
                close: windows::ctrl_close().ok(),
                shutdown: windows::ctrl_shutdown().ok(),
            }
        }
        #[cfg(not(any(unix, windows)))]
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
        #[cfg(windows)]
        {
            tokio::select! {
                () = next_windows!(self.ctrl_c.as_mut()) => Signal::Interrupt,
                () = next_windows!(self.ctrl_break.as_mut()) => Signal::Interrupt,
                () = next_windows!(self.close.as_mut()) => Signal::Terminate,
                () = next_windows!(self.shutdown.as_mut()) => Signal::Terminate,
            }
        }
        #[cfg(not(any(unix, windows)))]
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
