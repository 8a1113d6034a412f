//! Output: data on stdout (one JSON document with `--json`, concise text
//! otherwise), everything else on stderr; spinners only on a terminal.
//!
//! Where a run's output goes is its [`Sink`]: the process's streams for the
//! command line, or buffers for each `plurum mcp` tool call and for tests.
//! The sink holds the run's one JSON document until the command ends and
//! collects the state notices; nothing about output is process-wide.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde::Serialize;

use crate::exit::{self, Classified, CliError};
use crate::jq::Filter;
use crate::state::Notices;

/// Whether stdout is a terminal (then tables clip long texts; a pipe or a
/// file gets every character). A property of the process, read once.
fn stdout_is_terminal() -> bool {
    static TERMINAL: OnceLock<bool> = OnceLock::new();
    *TERMINAL.get_or_init(|| std::io::stdout().is_terminal())
}

/// A held document: the value, and the text to print when nothing went wrong.
#[derive(Debug)]
pub(crate) struct Document {
    pub(crate) value: serde_json::Value,
    text: Vec<String>,
}

/// What a buffered sink caught.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Captured {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Where one run's output goes (see the module docs). Cheap to clone: the
/// clones share the held document, the notices and the buffers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sink {
    inner: Arc<SinkInner>,
}

#[derive(Debug, Default)]
struct SinkInner {
    /// `None`: the process's stdout and stderr.
    buffers: Option<Mutex<Captured>>,
    /// The run's `--json` document, held until the command ends so that
    /// stdout carries exactly one document whatever happens after it was
    /// made: an error merges it (as the partial result), a state notice
    /// adds an `error` member.
    document: Mutex<Option<Document>>,
    /// What went wrong with the state files during the run.
    notices: Notices,
    /// `--log-file`: stderr's lines go there instead, timestamped.
    log: Mutex<Option<std::path::PathBuf>>,
}

/// How large a `--log-file` grows before its older half is set aside (as
/// `FILE.1`, replacing the one before): the log of a cron line stays under
/// 2 MiB in all, however long it runs.
pub(crate) const LOG_CAP: u64 = 1024 * 1024;

impl Sink {
    /// The process's stdout and stderr.
    pub(crate) fn process() -> Self {
        Self::default()
    }

    /// Buffers: nothing reaches the process's streams.
    pub(crate) fn buffered() -> Self {
        Self {
            inner: Arc::new(SinkInner {
                buffers: Some(Mutex::new(Captured::default())),
                ..SinkInner::default()
            }),
        }
    }

    fn is_process(&self) -> bool {
        self.inner.buffers.is_none()
    }

    /// What a buffered sink caught so far (emptied).
    pub(crate) fn take_captured(&self) -> Captured {
        self.inner
            .buffers
            .as_ref()
            .map(|b| std::mem::take(&mut *b.lock().unwrap_or_else(PoisonError::into_inner)))
            .unwrap_or_default()
    }

    /// The state notices of this run (shared with its [`crate::state::StateFile`]s).
    pub(crate) fn notices(&self) -> Notices {
        self.inner.notices.clone()
    }

    /// Writes a line to stdout; on the process's stdout a closed pipe ends
    /// the process quietly (exit 0), as `plurum … | head` expects.
    ///
    /// Every line is scrubbed whole (see [`crate::logging::scrub_stdout`]):
    /// output is written a whole line or document at a time, so no key is
    /// ever cut in two by our own writes.
    fn stdout(&self, text: &str) {
        let scrubbed = crate::logging::scrub_stdout(text);
        let text = scrubbed.as_str();
        match &self.inner.buffers {
            Some(buffers) => {
                let mut buffers = buffers.lock().unwrap_or_else(PoisonError::into_inner);
                buffers.stdout.push_str(text);
                if !text.ends_with('\n') {
                    buffers.stdout.push('\n');
                }
            }
            None => write_stdout(text),
        }
    }

    /// Writes a line for people to stderr: control characters removed, keys scrubbed.
    pub(crate) fn eprint(&self, text: &str) {
        let line = clean(&crate::logging::scrub(text)).into_owned();
        let log = self.inner.log.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(path) = log
            && append_log(&path, &line).is_ok()
        {
            return;
        }
        match &self.inner.buffers {
            Some(buffers) => {
                let mut buffers = buffers.lock().unwrap_or_else(PoisonError::into_inner);
                buffers.stderr.push_str(&line);
                buffers.stderr.push('\n');
            }
            None => eprintln!("{line}"),
        }
    }

    /// From now on, what goes to stderr is appended to `path` instead, each
    /// line with its time (`--log-file`; the file is 0600 and capped at
    /// [`LOG_CAP`]). A file that cannot be written leaves stderr as it was.
    pub(crate) fn log_to(&self, path: std::path::PathBuf) -> anyhow::Result<()> {
        append_log(&path, "")?;
        *self.inner.log.lock().unwrap_or_else(PoisonError::into_inner) = Some(path);
        Ok(())
    }

    fn hold(&self, document: Document) {
        let mut held = self.inner.document.lock().unwrap_or_else(PoisonError::into_inner);
        // A second document in one run is a bug: keep both rather than lose one.
        if let Some(earlier) = held.take() {
            debug_assert!(false, "two JSON documents in one run: {}", earlier.value);
            for line in &earlier.text {
                self.stdout(line);
            }
        }
        *held = Some(document);
    }

    /// Takes the held document (to merge it into an error document, or to
    /// answer an MCP tool call).
    pub(crate) fn take_document(&self) -> Option<Document> {
        self.inner
            .document
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Prints one JSON document as is.
    pub(crate) fn json_document(&self, value: &serde_json::Value) {
        let text = if self.is_process() && stdout_is_terminal() {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        };
        self.stdout(&text.unwrap_or_default());
    }

    /// Prints the held document at the end of a run. State notices
    /// (entries that did not parse, a file moved aside) make the run fail:
    /// the document then gets an `error` member saying so.
    pub(crate) fn finish(&self, notices: &[String], jq: Option<&Filter>) {
        let Some(document) = self.take_document() else {
            return;
        };
        if notices.is_empty() {
            for line in &document.text {
                self.stdout(line);
            }
            return;
        }
        let mut value = document.value;
        let error = serde_json::json!({
            "code": "state_repaired",
            "message": notices.join("; "),
            "hint": "the command did its work with what could be read; what could not was set aside (a moved file: see the message; quarantined entries: 'plurum outcome failed')",
        });
        match &mut value {
            serde_json::Value::Object(members) => {
                members.insert("error".to_owned(), error);
            }
            other => *other = serde_json::json!({"result": other.clone(), "error": error}),
        }
        self.filtered_document(&value, jq);
    }

    /// Shows an error: for people on stderr (one line, the causes with
    /// `-v`, a hint); with `--json` also as one document on stdout, holding
    /// what the command made before it failed.
    ///
    /// `--jq` applies to the failure's document too (its `error` member is
    /// one of the members), so `N=$(plurum outcome flush --jq .delivered)`
    /// holds a number whatever happened; the exit code says it failed. A
    /// filter that fails on it prints nothing on stdout and says why on
    /// stderr.
    pub(crate) fn report(
        &self,
        error: &anyhow::Error,
        classified: &Classified,
        json: bool,
        verbose: u8,
        jq: Option<&Filter>,
    ) {
        if json {
            let partial = classified
                .partial
                .clone()
                .or_else(|| self.take_document().map(|d| d.value));
            let document = exit::error_document(error, classified, partial);
            // The filter itself failed: its error is printed whole.
            let jq = jq.filter(|_| classified.code != "jq");
            self.filtered_document(&document, jq);
        }
        self.eprint(&exit::error_lines(error, classified, verbose).join("\n"));
    }

    /// Prints a document, or what `--jq` picks out of it.
    fn filtered_document(&self, document: &serde_json::Value, jq: Option<&Filter>) {
        match jq.map(|jq| jq.lines(document)) {
            None => self.json_document(document),
            Some(Ok(lines)) => {
                for line in lines {
                    self.stdout(&line);
                }
            }
            Some(Err(e)) => self.eprint(&format!("note: {e} (on the failure's document)")),
        }
    }
}

/// How to print: the run's [`Sink`] and the flags that shape the output.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub(crate) json: bool,
    pub(crate) quiet: bool,
    spinners: bool,
    pretty: bool,
    jq: Option<Filter>,
    sink: Sink,
}

impl Output {
    /// `jq` (from `--jq`) implies JSON.
    pub(crate) fn new(sink: Sink, json: bool, quiet: bool, jq: Option<Filter>) -> Self {
        let process = sink.is_process();
        let stderr_tty = process && std::io::stderr().is_terminal();
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let json = json || jq.is_some();
        Self {
            json,
            quiet,
            spinners: stderr_tty && !dumb && !json && !quiet,
            pretty: process && stdout_is_terminal(),
            jq,
            sink,
        }
    }

    /// The sink this output goes to.
    pub(crate) fn sink(&self) -> &Sink {
        &self.sink
    }

    /// Writes text for people to stdout, with control characters (terminal
    /// escapes from the network) removed; a closed pipe ends the process
    /// quietly (exit 0), as `plurum … | head` expects.
    pub(crate) fn write(&self, text: &str) {
        self.sink.stdout(&clean(text));
    }

    /// The run's one JSON document (control characters stay, escaped by
    /// JSON), or what `--jq` picks out of it; printed when the command ends
    /// (see [`Sink::finish`]).
    pub(crate) fn json<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let value = serde_json::to_value(value)?;
        let text = match &self.jq {
            Some(jq) => jq.lines(&value).map_err(|e| CliError::new(exit::ERROR, e).code("jq"))?,
            None if self.pretty => vec![serde_json::to_string_pretty(&value)?],
            None => vec![serde_json::to_string(&value)?],
        };
        self.sink.hold(Document { value, text });
        Ok(())
    }

    /// Prints one JSON line (for streams), or what `--jq` picks out of it.
    pub(crate) fn json_line<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        if let Some(jq) = &self.jq {
            return self.jq_lines(jq, &serde_json::to_value(value)?);
        }
        self.sink.stdout(&serde_json::to_string(value)?);
        Ok(())
    }

    fn jq_lines(&self, jq: &Filter, value: &serde_json::Value) -> anyhow::Result<()> {
        let lines = jq.lines(value).map_err(|e| CliError::new(exit::ERROR, e).code("jq"))?;
        for line in lines {
            self.sink.stdout(&line);
        }
        Ok(())
    }

    /// Prints `value` as JSON with `--json`, otherwise what `human` writes.
    pub(crate) fn emit<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce() -> String) -> anyhow::Result<()> {
        if self.json {
            self.json(value)
        } else {
            let text = human();
            if !text.is_empty() {
                self.write(&text);
            }
            Ok(())
        }
    }

    /// Ends a command that failed after doing part of its work: people get
    /// `human` on stdout (it says what went wrong) and the error's exit code;
    /// `--json` gets one document, `value` with an `error` member.
    pub(crate) fn failed<T: Serialize + ?Sized>(
        &self,
        value: &T,
        human: impl FnOnce() -> String,
        error: CliError,
    ) -> anyhow::Result<u8> {
        if self.json {
            return Err(error.partial(serde_json::to_value(value)?).into());
        }
        let exit = error.exit;
        self.emit(value, human)?;
        Ok(exit)
    }

    /// A message for people on stderr (not with `-q`).
    pub(crate) fn note(&self, text: &str) {
        if !self.quiet {
            self.sink.eprint(text);
        }
    }

    /// A warning on stderr (always).
    pub(crate) fn warn(&self, text: &str) {
        self.sink.eprint(&format!("warning: {text}"));
    }

    /// A progress bar on stderr for `len` steps (only on a terminal, never
    /// with `--json` or `-q`): the caller moves it and clears it.
    pub(crate) fn progress(&self, len: u64, message: &str) -> Option<indicatif::ProgressBar> {
        if !self.spinners || len == 0 {
            return None;
        }
        let bar = indicatif::ProgressBar::new(len);
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Some(bar)
    }

    /// A spinner on stderr while `future` runs (only on a terminal, never
    /// with `--json` or `-q`).
    pub(crate) async fn spin<F: std::future::Future>(&self, message: &str, future: F) -> F::Output {
        if !self.spinners {
            return future.await;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        let output = future.await;
        bar.finish_and_clear();
        output
    }
}

/// Writes a line to stdout; a closed pipe ends the process quietly (exit 0).
fn write_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let result = stdout
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                stdout.write_all(b"\n")
            }
        })
        .and_then(|()| stdout.flush());
    if let Err(e) = result
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Prints a line for people on stderr: control characters removed, keys scrubbed.
pub(crate) fn eprint_clean(text: &str) {
    eprintln!("{}", clean(&crate::logging::scrub(text)));
}

/// Text as it may reach a terminal: without control characters (escape
/// sequences, bells, backspaces, C1 controls) and without the invisible
/// characters that reorder text (bidirectional overrides); newlines and
/// tabs stay. Everything from the network goes through here before a
/// person sees it; JSON output keeps the data as is (escaped by JSON).
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if text.chars().any(unsafe_char) {
        Cow::Owned(text.chars().filter(|c| !unsafe_char(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// A plain-text table: a header row and aligned columns.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = vec![line(headers.to_vec())];
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}

/// How wide a table for people may be: the terminal's width, `COLUMNS`
/// when stdout is no terminal but the shell says, else 100 (an agent's
/// shell reads pipes: a 400-column line helps nobody there either).
pub(crate) fn table_width() -> usize {
    if stdout_is_terminal()
        && let Some((terminal_size::Width(width), _)) = terminal_size::terminal_size()
    {
        return usize::from(width).max(40);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}

/// One line of a text, cut to `max` characters with an ellipsis, wherever
/// it goes (for tables that must fit [`table_width`]).
pub(crate) fn cut(text: &str, max: usize) -> String {
    let single: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if single.chars().count() <= max {
        single
    } else {
        let cut: String = single.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// One line of a text, cut to `max` characters with an ellipsis on a
/// terminal (a pipe or a file gets it whole).
pub(crate) fn clip(text: &str, max: usize) -> String {
    let single: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !stdout_is_terminal() || single.chars().count() <= max {
        single
    } else {
        let cut: String = single.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// "3 min ago", "2 h ago" from a timestamp.
pub(crate) fn age(ts: time::OffsetDateTime) -> String {
    let secs = (time::OffsetDateTime::now_utc() - ts).whole_seconds().max(0);
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        3600..=86_399 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

/// A warning shown once per machine (a marker in the config folder, under
/// `.notices/`): a change to get used to, or a fallback worth knowing about
/// once, not at every run.
pub(crate) fn say_once(name: &str, text: &str) {
    let Ok(paths) = crate::paths::Paths::resolve() else {
        return;
    };
    let marker = paths.config_dir.join(".notices").join(name);
    if marker.exists() {
        return;
    }
    eprint_clean(&format!("warning: {text}"));
    if let Some(dir) = marker.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&marker, b"shown\n");
}

/// After a key was stored: where, when the OS keyring could not take it.
/// Said once per machine (every later key lands in the same place, and
/// `stored_in` says it in JSON); nothing when the keyring was turned off on
/// purpose (`PLURUM_NO_KEYRING`).
pub(crate) fn keyring_fallback(problem: Option<&str>, stored: &dyn std::fmt::Display) {
    let Some(problem) = problem else { return };
    if problem.contains("PLURUM_NO_KEYRING") {
        return;
    }
    say_once(
        "keyring-fallback",
        &format!(
            "the OS keyring is not available ({problem}); keys are stored in {stored} (readable only by you). Said once."
        ),
    );
}

/// Appends `text` to a log file, each line after an RFC 3339 time (nothing
/// for an empty text: the file is only created). Past [`LOG_CAP`] the file
/// moves to `FILE.1` first.
fn append_log(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    if std::fs::metadata(path).is_ok_and(|m| m.len() > LOG_CAP) {
        let mut aside = path.as_os_str().to_owned();
        aside.push(".1");
        let _ = std::fs::rename(path, aside);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::paths::create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("could not open the log file {}", path.display()))?;
    let now = crate::state::rfc3339_text(crate::state::now());
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(&format!("{now} {line}\n"));
    }
    file.write_all(out.as_bytes())
        .with_context(|| format!("could not write the log file {}", path.display()))
}
