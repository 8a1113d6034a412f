//! `plurum daemon` as a process: start it, read its stderr line by line,
//! call its local API (with its token), configure it, signal it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::World;

pub const WAIT: Duration = Duration::from_secs(20);

/// Everything a daemon wrote on stderr, with a signal for each new line.
#[derive(Default)]
pub struct Lines {
    lines: Mutex<Vec<String>>,
    more: Condvar,
}

pub struct Daemon {
    child: Child,
    stderr: Arc<Lines>,
    pub addr: String,
    /// The bearer token from `daemon.token` (auth is on by default).
    pub token: Option<String>,
}

impl Daemon {
    pub fn start(world: &World, profile: &str) -> Self {
        Self::start_with(world, profile, &[])
    }

    pub fn start_with(world: &World, profile: &str, env: &[(&str, &str)]) -> Self {
        Self::start_args(world, profile, &["--api-addr", "127.0.0.1:0"], env)
    }

    /// `plurum --profile PROFILE daemon ARGS...` with these variables.
    pub fn start_args(world: &World, profile: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = world.process();
        command.args(["--profile", profile, "daemon"]).args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Lines::default());
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lines.lock().unwrap().push(line);
                sink.more.notify_all();
            }
        });
        let mut daemon = Self {
            child,
            stderr,
            addr: String::new(),
            token: None,
        };
        let line = daemon.expect("running; API on http://");
        let rest = &line[line.find("http://").unwrap() + "http://".len()..];
        daemon.addr = rest.split_whitespace().next().unwrap().to_owned();
        daemon.token = std::fs::read_to_string(profile_dir(world, profile).join("daemon.token"))
            .ok()
            .map(|t| t.trim().to_owned());
        daemon
    }

    /// Waits until some line contains `needle` (lines already seen count).
    pub fn expect(&self, needle: &str) -> String {
        self.expect_nth(needle, 1)
    }

    /// Waits until `n` lines contain `needle`; returns the n-th.
    pub fn expect_nth(&self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + WAIT;
        let mut lines = self.stderr.lines.lock().unwrap();
        loop {
            if let Some(line) = lines.iter().filter(|l| l.contains(needle)).nth(n - 1) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no stderr line #{n} with {needle:?}; stderr so far:\n{}",
                lines.join("\n")
            );
            lines = self.stderr.more.wait_timeout(lines, left).unwrap().0;
        }
    }

    pub fn count(&self, needle: &str) -> usize {
        self.stderr
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM; the exit code and everything written on stderr.
    pub fn stop(self) -> (i32, String) {
        self.stop_with("TERM")
    }

    /// Stops it with a signal; the exit code and everything written on stderr.
    pub fn stop_with(mut self, signal: &str) -> (i32, String) {
        self.signal(signal);
        let status = self.child.wait().unwrap();
        self.expect("stopped; state saved");
        let text = self.stderr.lines.lock().unwrap().join("\n");
        (status.code().unwrap_or(-1), text)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer from the daemon's API.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// Asserts the seed's error shape and returns the code.
    pub fn error_code(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
        // The CLI's error object's members too: `message` (the same text) and `hint`.
        assert_eq!(body["message"], body["error"], "{body}");
        assert!(body["hint"].is_null() || body["hint"].is_string(), "{body}");
        body["code"].as_str().unwrap().to_owned()
    }
}

pub fn call(world: &World, method: &str, url: &str, body: Option<&str>, token: Option<&str>) -> Answer {
    world.block_on(async {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(plurum_sdk::tls::client_config().unwrap())
            .build()
            .unwrap();
        let mut request = client.request(method.parse().unwrap(), url);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Answer {
            status,
            headers,
            text: response.text().await.unwrap(),
        }
    })
}

pub fn get(world: &World, daemon: &Daemon, path: &str) -> Answer {
    call(world, "GET", &daemon.url(path), None, daemon.token.as_deref())
}

pub fn post(world: &World, daemon: &Daemon, path: &str, body: Value) -> Answer {
    call(
        world,
        "POST",
        &daemon.url(path),
        Some(&body.to_string()),
        daemon.token.as_deref(),
    )
}

/// Polls `/state` until `check` holds (the daemon acts on its own clock).
pub fn state_until(world: &World, daemon: &Daemon, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let state = get(world, daemon, "/state").json();
        if check(&state) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never happened; last state: {state:#}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub fn profile_dir(world: &World, profile: &str) -> PathBuf {
    world.state_dir().join(profile)
}

/// Sets the profile's `[daemon]` table (the rest of config.toml is kept).
pub fn configure(world: &World, profile: &str, daemon_toml: &str) {
    let path = world.config_dir().join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut config: toml::Table = toml::from_str(&text).unwrap();
    let table: toml::Table = toml::from_str(daemon_toml).unwrap();
    let profiles = config
        .entry("profiles")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap();
    let entry = profiles
        .entry(profile)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap();
    entry.insert("domains".into(), toml::Value::Array(vec!["infrastructure".into()]));
    entry.insert("daemon".into(), toml::Value::Table(table));
    std::fs::create_dir_all(world.config_dir()).unwrap();
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
}

/// A wake command that appends the message (from stdin) to `file`.
pub fn wake_command(file: &Path) -> String {
    format!(
        "command = [\"sh\", \"-c\", \"cat >> '{}'; echo '<<end>>' >> '{}'\"]",
        file.display(),
        file.display()
    )
}

pub fn quick(extra: &str) -> String {
    format!("tick_seconds = 0.05\nheartbeat_interval_minutes = 600\n{extra}")
}

/// A raw HTTP/1.1 request (any `Host`, any headers), as a web page's
/// browser would send it; returns the status and the body.
pub fn raw(daemon: &Daemon, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(&daemon.addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

pub fn parse_metrics(text: &str) -> Vec<prometheus_parse::Sample> {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    for sample in &scrape.samples {
        assert!(
            scrape.docs.contains_key(&sample.metric),
            "no HELP for {}",
            sample.metric
        );
    }
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let kind = line.split_whitespace().nth(3).unwrap();
        assert!(["gauge", "counter"].contains(&kind), "{line}");
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(
            !kind.eq("counter") || name.ends_with("_total"),
            "counter {name} must end in _total"
        );
    }
    scrape.samples
}

pub fn sample(samples: &[prometheus_parse::Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
    match found.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        _ => panic!("{name} is not a plain number"),
    }
}
