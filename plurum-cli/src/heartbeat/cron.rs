//! When the heartbeat runs: durations as people write them, the due check
//! of `--if-due`, and the crontab line of `--print-cron`.

use std::time::Duration;

use crate::context::Ctx;
use crate::secrets::KeySource;
use crate::state::State;

/// The longest duration a flag takes (a year): far beyond any sensible
/// interval, far below what date arithmetic can hold.
const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

/// Parses a duration as people write it (`90s`, `30m`, `1h30m`, `500ms`,
/// `2d`, `1h 30m`; a bare number is seconds), up to a year.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let too_long = || format!("'{text}' is longer than a year; use e.g. 30m, 1h, 1d");
    let parsed = match text.parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => return Err(too_long()),
        Err(_) if text.is_empty() => return Err("a duration is needed (e.g. 90s, 30m, 1h)".to_owned()),
        Err(_) => humantime::parse_duration(text),
    };
    match parsed {
        Ok(duration) if duration > MAX_DURATION => Err(too_long()),
        Ok(duration) => Ok(duration),
        Err(humantime::DurationError::NumberOverflow) => Err(too_long()),
        Err(_) => Err(format!("'{text}' is not a duration (use e.g. 90s, 30m, 1h)")),
    }
}

/// How a duration reads in messages and flags (`30m`, `1h 30m`).
pub(crate) fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// How far in the future a `lastPlurumCheck` may be (clock skew) before it
/// is treated as wrong, not as "just checked".
const FUTURE_SKEW: Duration = Duration::from_secs(300);

/// How much earlier than `interval` after the last start a heartbeat is
/// already due: the jitter and the run itself shift when a cron tick's
/// heartbeat starts, and a tick that comes a little early must not skip a
/// whole interval. At most half the interval.
pub(crate) fn tolerance(interval: Duration, jitter: Option<Duration>) -> Duration {
    (jitter.unwrap_or_default() + interval / 10).min(interval / 2)
}

/// When the next heartbeat is due, if it is not due yet: `lastPlurumCheck`
/// (when the last successful run started) plus the interval, less the
/// [`tolerance`]. A last check in the future (a wrong clock, a hand-edited
/// file) makes it due now, rather than never.
pub(crate) fn next_due(state: &State, interval: Duration, jitter: Option<Duration>) -> Option<String> {
    let last = state.last_plurum_check?;
    let now = time::OffsetDateTime::now_utc();
    let skew = time::Duration::try_from(FUTURE_SKEW).ok()?;
    if now.checked_add(skew).is_none_or(|limit| last > limit) {
        eprintln!("warning: lastPlurumCheck ({last}) is in the future; running the heartbeat now");
        return None;
    }
    let wait = interval.saturating_sub(tolerance(interval, jitter));
    let next = last.checked_add(time::Duration::try_from(wait).ok()?)?;
    (now < next).then(|| {
        next.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    })
}

/// The key advice of the crontab comment, for where the key is now.
fn key_advice(source: Option<&KeySource>) -> (String, Option<String>) {
    match source {
        Some(KeySource::CredentialsFile(path)) => (
            format!(
                "# The key is in {} (0600): cron reads it, nothing to do.",
                path.display()
            ),
            None,
        ),
        Some(KeySource::KeyFile(path)) => (
            format!("# The key is read from {} (--api-key-file).", path.display()),
            Some(format!("--api-key-file {}", shell_quote(&path.display().to_string()))),
        ),
        Some(KeySource::Keyring) => (
            "# The key is in the OS keyring, which cron cannot unlock: save it to a 0600 file\n\
             # and add --api-key-file PATH to the line (or run 'plurum auth login' with\n\
             # PLURUM_NO_KEYRING=1 to keep it in credentials.toml)."
                .to_owned(),
            None,
        ),
        Some(KeySource::Env) => (
            "# The key comes from PLURUM_API_KEY, which cron does not have: put\n\
             # PLURUM_API_KEY=... above this line (crontab -e), or save the key to a 0600\n\
             # file and add --api-key-file PATH."
                .to_owned(),
            None,
        ),
        None => (
            "# No key yet for this profile: run 'plurum register' or 'plurum auth login' first.".to_owned(),
            None,
        ),
    }
}

/// The crontab entry of `--print-cron`: a comment, then the line. stdout is
/// kept, so cron mails what `-q` prints (the "tell your human" lines; set
/// MAILTO) unless `--notify` hands them to a command; what goes to stderr
/// goes to the profile's heartbeat.log, written by plurum itself
/// (`--log-file`: timestamped, capped at 1 MiB plus one older file).
pub(crate) fn cron_line(ctx: &Ctx, interval: Duration, key_source: Option<&KeySource>, notify: Option<&str>) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "plurum".to_owned());
    cron_line_with(ctx, &shell_quote(&exe), interval, key_source, notify)
}

/// [`cron_line`] with the command that starts plurum (shell words, quoted
/// already: a path, or the pinned `uvx` form).
pub(crate) fn cron_line_with(
    ctx: &Ctx,
    command: &str,
    interval: Duration,
    key_source: Option<&KeySource>,
    notify: Option<&str>,
) -> String {
    let minutes = (interval.as_secs() / 60).max(1);
    let schedule = if minutes < 60 && 60 % minutes == 0 {
        format!("*/{minutes} * * * *")
    } else if minutes < 60 {
        "* * * * *".to_owned()
    } else {
        "0 * * * *".to_owned()
    };
    let jitter = (interval.as_secs() / 10).clamp(1, 300);
    let mut env = String::new();
    for name in ["PLURUM_CONFIG_DIR", "PLURUM_STATE_DIR", "PLURUM_API_URL"] {
        if let Ok(value) = std::env::var(name)
            && !value.is_empty()
        {
            env.push_str(&format!("{name}={} ", shell_quote(&value)));
        }
    }
    let log = ctx.state().dir().join("heartbeat.log");
    let (advice, key_flag) = key_advice(key_source);
    let key_flag = key_flag.map(|f| format!("{f} ")).unwrap_or_default();
    let (delivery, notify_flag) = match notify {
        Some(command) => (
            "# What needs your human goes to the --notify command on stdin.".to_owned(),
            format!(" --notify {}", shell_quote(command)),
        ),
        None => (
            "# What needs your human is printed: cron mails it (set MAILTO), or add --notify CMD.".to_owned(),
            String::new(),
        ),
    };
    format!(
        "# plurum heartbeat for profile '{profile}' every {every}.\n\
         {advice}\n\
         {delivery}\n\
         {schedule} {env}{exe} --profile {profile} {key_flag}heartbeat --if-due --interval {minutes}m --jitter {jitter}s -q{notify_flag} --log-file {log}",
        profile = ctx.profile,
        every = format_duration(Duration::from_secs(minutes * 60)),
        exe = command,
        log = shell_quote(&log.display().to_string()),
    )
}

/// `text` quoted for a POSIX shell (as little as needed).
pub(crate) fn shell_quote(text: &str) -> String {
    shlex::try_quote(text).map_or_else(|_| format!("'{}'", text.replace('\'', "'\\''")), |q| q.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5x").is_err());
        for huge in [
            "99999999999999999999d",
            "213503982334601d",
            "18446744073709551615h",
            "400d",
            "9999999999999999999",
        ] {
            let error = parse_duration(huge).unwrap_err();
            assert!(error.contains("longer than a year"), "{huge}: {error}");
        }
        assert!(parse_duration("").is_err());
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(format_duration(Duration::from_secs(1800)), "30m");
    }

    #[test]
    fn a_tick_a_little_early_is_still_due() {
        let interval = Duration::from_secs(1800);
        assert_eq!(
            tolerance(interval, Some(Duration::from_secs(180))),
            Duration::from_secs(360)
        );
        assert_eq!(tolerance(interval, None), Duration::from_secs(180));
        // Never more than half the interval, whatever the jitter.
        assert_eq!(
            tolerance(interval, Some(Duration::from_secs(3600))),
            Duration::from_secs(900)
        );
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("/usr/local/bin/plurum"), "/usr/local/bin/plurum");
        assert_eq!(shell_quote("/home/a b/plurum"), "'/home/a b/plurum'");
        assert_eq!(shell_quote("it's"), "\"it's\"");
    }
}
