//! Where plurum keeps its files: `PLURUM_CONFIG_DIR` / `PLURUM_STATE_DIR`,
//! else the XDG layout on every Unix (macOS included, as gh and atuin do:
//! `$XDG_CONFIG_HOME` or `~/.config`, `$XDG_STATE_HOME` or `~/.local/state`),
//! else on Windows the platform's folders from the `directories` crate
//! (roaming AppData for configuration, local AppData for state).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::exit::{self, CliError};

/// The configuration and state directories.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) config_dir: PathBuf,
    pub(crate) state_dir: PathBuf,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The platform's default configuration and state directories for plurum.
#[cfg(windows)]
fn platform_dirs() -> Option<(PathBuf, PathBuf)> {
    let base = directories::BaseDirs::new()?;
    Some((
        base.config_dir().join("plurum"),
        base.data_local_dir().join("plurum").join("state"),
    ))
}

/// The platform's default configuration and state directories for plurum.
#[cfg(not(windows))]
fn platform_dirs() -> Option<(PathBuf, PathBuf)> {
    // The XDG variables, else the home directory; a cron job or a service
    // without HOME gets a clear error rather than files in a guessed place.
    let home = env_path("HOME").and_then(|_| directories::BaseDirs::new().map(|b| b.home_dir().to_owned()));
    let config = env_path("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")))?;
    let state = env_path("XDG_STATE_HOME").or_else(|| home.as_ref().map(|h| h.join(".local").join("state")))?;
    Some((config.join("plurum"), state.join("plurum")))
}

impl Paths {
    /// Resolves both directories (without creating them).
    ///
    /// # Errors
    /// A usage error (exit 2) naming `PLURUM_CONFIG_DIR` and
    /// `PLURUM_STATE_DIR` when there is no home directory to default to.
    pub(crate) fn resolve() -> anyhow::Result<Self> {
        let (config, state) = (env_path("PLURUM_CONFIG_DIR"), env_path("PLURUM_STATE_DIR"));
        if let (Some(config_dir), Some(state_dir)) = (config.clone(), state.clone()) {
            return Ok(Self { config_dir, state_dir });
        }
        let Some((default_config, default_state)) = platform_dirs() else {
            return Err(CliError::new(
                exit::USAGE,
                "cannot find a home directory for plurum's files (HOME is not set)",
            )
            .hint("set PLURUM_CONFIG_DIR and PLURUM_STATE_DIR (or HOME)")
            .into());
        };
        Ok(Self {
            config_dir: config.unwrap_or(default_config),
            state_dir: state.unwrap_or(default_state),
        })
    }

    /// `config.toml`.
    pub(crate) fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// `credentials.toml` (0600).
    pub(crate) fn credentials_file(&self) -> PathBuf {
        self.config_dir.join("credentials.toml")
    }

    /// The state directory of one profile.
    pub(crate) fn profile_state_dir(&self, profile: &str) -> PathBuf {
        self.state_dir.join(profile)
    }
}

/// Creates a directory (and its parents) readable only by the owner.
pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("could not create {}", dir.display()))
}

/// Writes a file atomically: a temporary file in the same directory, fsync,
/// rename over the target, fsync the directory. The file is 0600.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().context("a file path has a parent directory")?;
    create_private_dir(dir)?;
    remove_stale_temp_files(dir);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".plurum-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut temp = builder
        .tempfile_in(dir)
        .with_context(|| format!("could not create a temporary file in {}", dir.display()))?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("could not write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("could not replace {}", path.display()))?;
    #[cfg(unix)]
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

/// Moves a file that cannot be read aside (`<name>.corrupt-<unix time>`),
/// never deleting it; returns where it went.
pub(crate) fn move_aside(path: &Path) -> anyhow::Result<PathBuf> {
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut aside = path.with_file_name(format!("{name}.corrupt-{stamp}"));
    let mut n = 1;
    while aside.exists() {
        aside = path.with_file_name(format!("{name}.corrupt-{stamp}-{n}"));
        n += 1;
    }
    std::fs::rename(path, &aside)
        .with_context(|| format!("{} cannot be read and could not be moved aside", path.display()))?;
    Ok(aside)
}

/// Removes temporary files a killed process left behind (older than 10 minutes).
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".plurum-")
            && name.ends_with(".tmp")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(600))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Takes an exclusive lock on `path` (created if needed), waiting for it.
/// The lock is released when the returned file is dropped.
pub(crate) fn lock(path: &Path) -> anyhow::Result<std::fs::File> {
    let file = open_lock_file(path)?;
    file.lock()
        .with_context(|| format!("could not lock {}", path.display()))?;
    Ok(file)
}

/// Takes an exclusive lock on `path` if nobody holds it; `None` if someone does.
pub(crate) fn try_lock(path: &Path) -> anyhow::Result<Option<std::fs::File>> {
    let file = open_lock_file(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("could not lock {}", path.display())),
    }
}

fn open_lock_file(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true).read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("could not open {}", path.display()))
}
