//! A reference server in-process and `plurum` as a process with private
//! config and state directories.

pub mod daemon;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use plurum_sdk::server::{Faults, ReferenceServer, ServerConfig, ServerHandle};
use serde_json::Value;

/// A sentinel key: must never appear in any output.
pub const SENTINEL: &str = "plrm_live_SENTINELsentinelSENTINELsentinelSENTINEL123";

pub struct World {
    pub runtime: tokio::runtime::Runtime,
    pub server: ServerHandle,
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        Self::with_config(ServerConfig::default().no_limits())
    }

    pub fn with_config(config: ServerConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(ReferenceServer::start(config)).unwrap();
        Self {
            runtime,
            server,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn state_file(&self, profile: &str) -> PathBuf {
        self.state_dir().join(profile).join("state.json")
    }

    pub fn state(&self, profile: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_file(profile)).unwrap()).unwrap()
    }

    pub fn faults(&self) -> &Faults {
        self.server.faults()
    }

    /// `plurum` with this world's directories and server, no keyring, no
    /// inherited key.
    pub fn plurum(&self) -> Command {
        Command::from_std(self.process())
    }

    /// `plurum` as a plain process (for spawning, signals and kills), with
    /// the same environment as [`World::plurum`].
    pub fn process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_plurum"));
        cmd.env("PLURUM_CONFIG_DIR", self.config_dir())
            .env("PLURUM_STATE_DIR", self.state_dir())
            .env("PLURUM_API_URL", self.server.base_url())
            .env("PLURUM_NO_KEYRING", "1")
            .env("NO_COLOR", "1")
            .env_remove("PLURUM_API_KEY")
            .env_remove("PLURUM_PROFILE")
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LOG");
        cmd
    }

    /// Runs `plurum --json ARGS`, expects success, returns stdout as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let output = self.plurum().arg("--json").args(args).output().unwrap();
        assert!(
            output.status.success(),
            "plurum {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
    }

    /// Registers an agent on a profile; returns the register JSON.
    pub fn register(&self, profile: &str, username: &str) -> Value {
        self.json(&[
            "--profile",
            profile,
            "register",
            "--name",
            username,
            "--username",
            username,
        ])
    }

    /// The key stored for a profile in credentials.toml.
    pub fn stored_key(&self, profile: &str) -> String {
        let text = std::fs::read_to_string(self.config_dir().join("credentials.toml")).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        value["profiles"][profile]["api_key"].as_str().unwrap().to_owned()
    }

    /// An SDK client acting as a profile's agent.
    pub fn client(&self, profile: &str) -> plurum_sdk::Client {
        plurum_sdk::Client::builder()
            .base_url(self.server.base_url())
            .api_key(self.stored_key(profile))
            .build()
            .unwrap()
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// The unix permission bits of a file.
pub fn mode(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        0o600
    }
}
