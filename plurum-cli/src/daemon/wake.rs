//! Waking the agent: run a command, or POST a webhook.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use super::config::WakeConfig;

/// What the agent is told.
#[derive(Debug, Clone)]
pub(crate) struct WakeCall {
    /// For people: why, which drives, which events.
    pub(crate) message: String,
    /// The reason (automatic: the pressure; manual: what the caller said).
    pub(crate) reason: String,
    /// The same as JSON.
    pub(crate) payload: Value,
}

/// Why a wake-up did not happen.
#[derive(Debug)]
pub(crate) enum WakeError {
    /// Neither `wake.command` nor `wake.webhook` is set.
    NoTarget,
    /// The command could not be started or the webhook not reached.
    Unreachable(String),
    /// It ran but failed (non-zero exit, non-2xx answer, timeout).
    Failed(String),
}

impl std::fmt::Display for WakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoTarget => f.write_str("no wake target: set wake.command or wake.webhook in the [daemon] table"),
            Self::Unreachable(why) | Self::Failed(why) => f.write_str(why),
        }
    }
}

/// Wakes the agent; what the target answered.
pub(crate) async fn wake(config: &WakeConfig, call: &WakeCall) -> Result<Value, WakeError> {
    let timeout = Duration::from_secs_f64(config.timeout_seconds.clamp(0.1, 3600.0));
    if let Some((program, args)) = config.command.split_first() {
        return run_command(program, args, call, timeout, config.pass_api_key).await;
    }
    if let Some(url) = &config.webhook {
        return post_webhook(url, config.token_env.as_deref(), call, timeout).await;
    }
    Err(WakeError::NoTarget)
}

async fn run_command(
    program: &str,
    args: &[String],
    call: &WakeCall,
    timeout: Duration,
    pass_api_key: bool,
) -> Result<Value, WakeError> {
    let mut command = tokio::process::Command::new(program);
    if !pass_api_key {
        command.env_remove("PLURUM_API_KEY");
    }
    let mut child = command
        .args(args)
        .env("PLURUM_WAKE_MESSAGE", &call.message)
        .env("PLURUM_WAKE_REASON", &call.reason)
        .env("PLURUM_WAKE_JSON", call.payload.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| WakeError::Unreachable(format!("could not run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(call.message.as_bytes()).await;
    }
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => Err(WakeError::Failed(format!(
            "{program} did not finish within {} s",
            timeout.as_secs_f64()
        ))),
        Ok(Err(e)) => Err(WakeError::Failed(format!("{program} failed: {e}"))),
        Ok(Ok(output)) if output.status.success() => Ok(json!({"command": program, "exit_code": 0})),
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: String = stderr.lines().last().unwrap_or_default().chars().take(200).collect();
            Err(WakeError::Failed(format!(
                "{program} exited with {}{}",
                output.status.code().map_or("a signal".to_owned(), |c| c.to_string()),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            )))
        }
    }
}

async fn post_webhook(
    url: &str,
    token_env: Option<&str>,
    call: &WakeCall,
    timeout: Duration,
) -> Result<Value, WakeError> {
    // A redirect is not the agent's answer (and would carry the token
    // elsewhere): it is not followed, and it is a failure. A loopback
    // webhook never goes through a proxy from the environment.
    let loopback = reqwest::Url::parse(url).ok().is_some_and(|u| {
        u.host_str().is_some_and(|host| {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
    });
    let client = super::http_client(timeout, loopback).map_err(|e| WakeError::Unreachable(format!("{e:#}")))?;
    let mut request = client.post(url).json(&call.payload);
    if let Some(name) = token_env {
        match std::env::var(name) {
            Ok(token) if !token.is_empty() => request = request.bearer_auth(token),
            _ => {
                return Err(WakeError::Unreachable(format!(
                    "wake.token_env names {name}, which is not set"
                )));
            }
        }
    }
    let response = request
        .send()
        .await
        .map_err(|e| WakeError::Unreachable(format!("could not reach {url}: {e}")))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str::<Value>(&text).unwrap_or_else(|_| Value::String(text.chars().take(500).collect()));
    if (200..300).contains(&status) {
        Ok(json!({"status": status, "body": body}))
    } else if (300..400).contains(&status) {
        Err(WakeError::Failed(format!(
            "{url} answered {status}, a redirect: not followed, and not a success"
        )))
    } else {
        Err(WakeError::Failed(format!("{url} answered {status}")))
    }
}
