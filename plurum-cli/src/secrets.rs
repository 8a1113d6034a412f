//! Where the API key comes from and where it is kept.
//!
//! Reading, first match wins: `PLURUM_API_KEY`, then `--api-key-file`, then
//! the OS keyring (service `plurum`, account = profile), then
//! `credentials.toml` in the config directory. Storing: the OS keyring when
//! it works (probed with a timeout), otherwise `credentials.toml` with mode
//! 0600 and a warning. A key is never read from the command line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context as _;
use plurum_sdk::ApiKey;
use serde::{Deserialize, Serialize};

use crate::paths::{self, Paths};

/// How long a keyring operation may take before the keyring counts as unusable.
const KEYRING_TIMEOUT: Duration = Duration::from_secs(3);
const SERVICE: &str = "plurum";

/// The environment variable a key may come from; it wins over every stored key.
pub(crate) const ENV_KEY: &str = "PLURUM_API_KEY";

/// The key in `PLURUM_API_KEY`, when it is set and not blank. The one place
/// the variable is read: set but empty counts as not set, everywhere.
pub(crate) fn env_key() -> Option<ApiKey> {
    std::env::var(ENV_KEY)
        .ok()
        .filter(|key| !key.trim().is_empty())
        .map(ApiKey::new)
}

/// Where the key in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `PLURUM_API_KEY`.
    Env,
    /// `--api-key-file`.
    KeyFile(PathBuf),
    /// The OS keyring.
    Keyring,
    /// `credentials.toml`.
    CredentialsFile(PathBuf),
}

impl KeySource {
    /// A short machine-readable name.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::KeyFile(_) => "key_file",
            Self::Keyring => "keyring",
            Self::CredentialsFile(_) => "file",
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env => f.write_str("the PLURUM_API_KEY environment variable"),
            Self::KeyFile(path) => write!(f, "--api-key-file {}", path.display()),
            Self::Keyring => f.write_str("the OS keyring"),
            Self::CredentialsFile(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Where a key was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stored {
    Keyring,
    File(PathBuf),
}

impl Stored {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Keyring => "keyring",
            Self::File(_) => "file",
        }
    }
}

impl fmt::Display for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keyring => f.write_str("the OS keyring"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CredentialsFile {
    #[serde(default)]
    profiles: BTreeMap<String, CredentialsEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CredentialsEntry {
    api_key: String,
}

/// The keys of one profile.
#[derive(Debug)]
pub(crate) struct Secrets<'a> {
    paths: &'a Paths,
    profile: &'a str,
}

impl<'a> Secrets<'a> {
    pub(crate) fn new(paths: &'a Paths, profile: &'a str) -> Self {
        Self { paths, profile }
    }

    /// The key to use and where it came from, if any (remembered, so that no
    /// log line or error shows it).
    pub(crate) fn resolve(&self, key_file: Option<&Path>) -> anyhow::Result<Option<(ApiKey, KeySource)>> {
        let found = self.find(key_file)?;
        if let Some((key, _)) = &found {
            crate::logging::remember(key);
        }
        Ok(found)
    }

    fn find(&self, key_file: Option<&Path>) -> anyhow::Result<Option<(ApiKey, KeySource)>> {
        if let Some(key) = env_key() {
            return Ok(Some((key, KeySource::Env)));
        }
        if let Some(path) = key_file {
            let text = crate::files::read_regular_string(path, crate::files::MAX_SECRET)
                .with_context(|| format!("could not read the key file {}", path.display()))?;
            anyhow::ensure!(!text.trim().is_empty(), "the key file {} is empty", path.display());
            return Ok(Some((ApiKey::new(text), KeySource::KeyFile(path.to_owned()))));
        }
        if keyring::usable().is_ok()
            && let Ok(Some(key)) = keyring::get(self.profile)
        {
            return Ok(Some((ApiKey::new(key), KeySource::Keyring)));
        }
        let file = self.paths.credentials_file();
        if let Some(key) = self.read_file()?.profiles.remove(self.profile) {
            return Ok(Some((ApiKey::new(key.api_key), KeySource::CredentialsFile(file))));
        }
        Ok(None)
    }

    /// The key this profile holds itself (keyring, then credentials.toml),
    /// whatever PLURUM_API_KEY or --api-key-file say.
    pub(crate) fn stored(&self) -> anyhow::Result<Option<(ApiKey, KeySource)>> {
        if keyring::usable().is_ok()
            && let Ok(Some(key)) = keyring::get(self.profile)
        {
            crate::logging::remember(&ApiKey::new(key.clone()));
            return Ok(Some((ApiKey::new(key), KeySource::Keyring)));
        }
        let file = self.paths.credentials_file();
        Ok(self.read_file()?.profiles.remove(self.profile).map(|entry| {
            let key = ApiKey::new(entry.api_key);
            crate::logging::remember(&key);
            (key, KeySource::CredentialsFile(file))
        }))
    }

    /// Writes a key that is about to be replaced to
    /// `key-backups/<profile>-<time>.key` in the config directory (0600,
    /// the directory 0700); returns the path.
    pub(crate) fn backup(&self, key: &ApiKey) -> anyhow::Result<PathBuf> {
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .context("could not format the time")?;
        let dir = self.paths.config_dir.join("key-backups");
        let mut path = dir.join(format!("{}-{stamp}.key", self.profile));
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = dir.join(format!("{}-{stamp}-{n}.key", self.profile));
        }
        paths::write_atomic(&path, format!("{}\n", key.expose()).as_bytes())?;
        Ok(path)
    }

    fn read_file(&self) -> anyhow::Result<CredentialsFile> {
        let path = self.paths.credentials_file();
        match crate::files::read_regular_string(&path, crate::files::MAX_CONFIG) {
            Ok(text) => {
                warn_if_shared(&path);
                toml::from_str(&text).map_err(|e| unquoted_parse_error(&path, &text, &e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CredentialsFile::default()),
            Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
        }
    }

    fn edit_file(&self, edit: impl FnOnce(&mut CredentialsFile)) -> anyhow::Result<PathBuf> {
        let path = self.paths.credentials_file();
        let _lock = paths::lock(&self.paths.config_dir.join("credentials.lock"))?;
        let mut file = self.read_file()?;
        edit(&mut file);
        let text = format!(
            "# plurum API keys, one per profile. Keep this file private (mode 0600).\n{}",
            toml::to_string(&file).context("could not encode the credentials")?
        );
        paths::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// Stores a key: in the keyring when it works, otherwise in
    /// `credentials.toml` (0600). The second value explains why the keyring
    /// was not used.
    pub(crate) fn store(&self, key: &ApiKey) -> anyhow::Result<(Stored, Option<String>)> {
        crate::logging::remember(key);
        let keyring_problem = match keyring::usable() {
            Ok(()) => match keyring::set(self.profile, key.expose()) {
                Ok(()) => {
                    // A stale plaintext copy would shadow nothing but still leak: remove it.
                    let _ = self.remove_from_file();
                    return Ok((Stored::Keyring, None));
                }
                Err(problem) => problem,
            },
            Err(problem) => problem,
        };
        let profile = self.profile.to_owned();
        let path = self.edit_file(|file| {
            file.profiles.insert(
                profile,
                CredentialsEntry {
                    api_key: key.expose().to_owned(),
                },
            );
        })?;
        Ok((Stored::File(path), Some(keyring_problem)))
    }

    fn remove_from_file(&self) -> anyhow::Result<bool> {
        if !self.paths.credentials_file().exists() {
            return Ok(false);
        }
        let mut removed = false;
        let profile = self.profile.to_owned();
        self.edit_file(|file| removed = file.profiles.remove(&profile).is_some())?;
        Ok(removed)
    }

    /// Removes the stored key from the keyring and the file; says where it was.
    pub(crate) fn delete(&self) -> anyhow::Result<Vec<Stored>> {
        let mut removed = Vec::new();
        if keyring::usable().is_ok() && matches!(keyring::delete(self.profile), Ok(true)) {
            removed.push(Stored::Keyring);
        }
        if self.remove_from_file()? {
            removed.push(Stored::File(self.paths.credentials_file()));
        }
        Ok(removed)
    }

    /// Whether the keyring is usable, or why not.
    pub(crate) fn keyring_status() -> Result<(), String> {
        keyring::usable()
    }
}

/// A parse error of a file holding keys, without the source: TOML's own
/// message quotes the offending line, which may be the key.
fn unquoted_parse_error(path: &Path, text: &str, error: &toml::de::Error) -> anyhow::Error {
    let line = error
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    let at = line.map(|n| format!(" (line {n})")).unwrap_or_default();
    anyhow::Error::new(
        crate::exit::CliError::new(
            crate::exit::ERROR,
            format!("{} is not valid TOML{at}", path.display()),
        )
        .code("config")
        .hint(
            "it holds API keys, so its content is not shown; fix it in an editor, or remove it and run 'plurum auth login' (profile entries look like: [profiles.default] api_key = \"...\")",
        ),
    )
}

fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: {} is readable by other users; run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The OS keyring, every call on a helper thread under a timeout (a locked
/// keyring can block on an unlock prompt; cron and CI have no keyring at all).
mod keyring {
    use std::sync::mpsc;

    use super::{KEYRING_TIMEOUT, OnceLock, SERVICE};

    fn run<T: Send + 'static>(op: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(op());
        });
        match rx.recv_timeout(KEYRING_TIMEOUT) {
            Ok(result) => result,
            Err(_) => Err(format!(
                "the keyring did not answer within {} s",
                KEYRING_TIMEOUT.as_secs()
            )),
        }
    }

    #[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
    fn init() -> Result<(), String> {
        let store = zbus_secret_service_keyring_store::Store::new().map_err(|e| e.to_string())?;
        keyring_core::set_default_store(store);
        Ok(())
    }

    #[cfg(target_os = "macos")]
    fn init() -> Result<(), String> {
        let store = apple_native_keyring_store::keychain::Store::new().map_err(|e| e.to_string())?;
        keyring_core::set_default_store(store);
        Ok(())
    }

    #[cfg(windows)]
    fn init() -> Result<(), String> {
        let store = windows_native_keyring_store::Store::new().map_err(|e| e.to_string())?;
        keyring_core::set_default_store(store);
        Ok(())
    }

    #[cfg(not(any(unix, windows)))]
    fn init() -> Result<(), String> {
        Err("no keyring on this platform".to_owned())
    }

    /// `Ok` when the keyring can be used, otherwise why not (probed once).
    pub(super) fn usable() -> Result<(), String> {
        static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
        PROBE
            .get_or_init(|| {
                if std::env::var_os("PLURUM_NO_KEYRING").is_some_and(|v| !v.is_empty() && v != "0") {
                    return Err("disabled by PLURUM_NO_KEYRING".to_owned());
                }
                run(|| {
                    init()?;
                    let entry = keyring_core::Entry::new(SERVICE, "__plurum_probe__").map_err(|e| e.to_string())?;
                    match entry.get_password() {
                        Ok(_) | Err(keyring_core::Error::NoEntry) => Ok(()),
                        Err(e) => Err(e.to_string()),
                    }
                })
            })
            .clone()
    }

    pub(super) fn get(profile: &str) -> Result<Option<String>, String> {
        let profile = profile.to_owned();
        run(move || {
            let entry = keyring_core::Entry::new(SERVICE, &profile).map_err(|e| e.to_string())?;
            match entry.get_password() {
                Ok(key) => Ok(Some(key)),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    pub(super) fn set(profile: &str, key: &str) -> Result<(), String> {
        let (profile, key) = (profile.to_owned(), key.to_owned());
        run(move || {
            let entry = keyring_core::Entry::new(SERVICE, &profile).map_err(|e| e.to_string())?;
            entry.set_password(&key).map_err(|e| e.to_string())?;
            // Read it back: some stores accept writes they do not keep.
            match entry.get_password() {
                Ok(stored) if stored == key => Ok(()),
                Ok(_) => Err("the keyring returned a different key".to_owned()),
                Err(e) => Err(format!("the keyring did not keep the key: {e}")),
            }
        })
    }

    pub(super) fn delete(profile: &str) -> Result<bool, String> {
        let profile = profile.to_owned();
        run(move || {
            let entry = keyring_core::Entry::new(SERVICE, &profile).map_err(|e| e.to_string())?;
            match entry.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}
