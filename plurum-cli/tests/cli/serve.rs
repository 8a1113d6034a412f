//! `plurum serve` as a process: says where it listens, serves the API,
//! keeps data with --data, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

struct Serve {
    child: Child,
    base_url: String,
}

impl Serve {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_plurum"))
            .args(["serve", "--addr", "127.0.0.1:0", "--no-limits"])
            .args(extra)
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base_url = line.trim().to_owned();
        assert!(
            base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/api/v1"),
            "{base_url}"
        );
        Self { child, base_url }
    }

    fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let url = self.base_url.replace("/api/v1", "") + path;
        block_on(async {
            let client = reqwest::Client::builder()
                .tls_backend_preconfigured(plurum_sdk::tls::client_config().unwrap())
                .build()
                .unwrap();
            let response = client.get(&url).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json().await.unwrap())
        })
    }

    fn stop(mut self) -> (i32, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        (exit.code().unwrap_or(-1), stderr)
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn register(base_url: &str, username: &str) -> String {
    block_on(async {
        let client = plurum_sdk::Client::builder().base_url(base_url).build().unwrap();
        let reg = client
            .agents()
            .register(plurum_sdk::types::Register::new("Served", username))
            .await
            .unwrap();
        reg.api_key.expose().to_owned()
    })
}

fn me(base_url: &str, key: &str) -> Result<String, plurum_sdk::Error> {
    block_on(async {
        let client = plurum_sdk::Client::builder()
            .base_url(base_url)
            .api_key(key)
            .build()
            .unwrap();
        client.agents().me().await.map(|me| me.username.unwrap_or_default())
    })
}

#[test]
fn serves_the_api_and_stops_cleanly_on_sigterm() {
    let serve = Serve::start(&[]);
    let (status, health) = serve.get("/health");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "healthy");
    let key = register(&serve.base_url, "served-agent");
    assert_eq!(me(&serve.base_url, &key).unwrap(), "served-agent");
    let (code, stderr) = serve.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("listening on http://127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("received SIGTERM; stopping"), "{stderr}");
    assert!(stderr.trim_end().ends_with("stopped"), "{stderr}");
}

#[test]
fn data_flag_keeps_agents_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plurum.db");
    let db = db.to_str().unwrap();
    let first = Serve::start(&["--data", db]);
    let key = register(&first.base_url, "durable");
    // It holds private sessions and key hashes: readable by its owner only,
    // and so are SQLite's companions.
    for file in ["plurum.db", "plurum.db-wal", "plurum.db-shm"] {
        let path = dir.path().join(file);
        if path.exists() || file == "plurum.db" {
            assert_eq!(crate::common::mode(&path), 0o600, "{file}");
        }
    }
    let (code, stderr) = first.stop();
    assert_eq!(code, 0);
    assert!(!stderr.contains("readable by others"), "{stderr}");
    // A data file made readable by others since: a warning, how to fix it,
    // and the file is not changed behind the owner's back.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path().join("plurum.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let second = Serve::start(&["--data", db]);
    assert_eq!(me(&second.base_url, &key).unwrap(), "durable");
    let (code, stderr) = second.stop();
    assert_eq!(code, 0);
    #[cfg(unix)]
    {
        assert!(
            stderr.contains("readable by others (mode 644)") && stderr.contains("chmod 600"),
            "{stderr}"
        );
        assert_eq!(crate::common::mode(&dir.path().join("plurum.db")), 0o644);
    }
}

#[test]
fn a_taken_address_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_plurum"))
        .args(["serve", "--addr", &addr])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!("error: could not start the reference server on {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("stack backtrace"));
}
