//! Reading files the CLI does not control, with bounds: every read stops at
//! a size, so `/dev/zero` behind a name costs nothing; credential, config
//! and state sources must be regular files, opened without blocking (so a
//! FIFO cannot hang the open) and checked with `fstat` on the open handle;
//! inputs a user names (`--input`, `-F key=@FILE`, `--file`) may be pipes
//! and process substitutions too, and `-` is stdin, bounded the same way.
//! Modes are changed through a handle opened without following links.

use std::io::Read as _;
use std::path::Path;

/// The largest input a user names: a request body, an artifact, an
/// experience file (the API takes far less).
pub(crate) const MAX_INPUT: u64 = 16 * 1024 * 1024;
/// The largest key or plugin file (a key file is a few hundred bytes).
pub(crate) const MAX_SECRET: u64 = 64 * 1024;
/// The largest config.toml or credentials.toml.
pub(crate) const MAX_CONFIG: u64 = 1024 * 1024;
/// The largest state.json (500 waiting events and their history stay far
/// below it).
pub(crate) const MAX_STATE: u64 = 64 * 1024 * 1024;

fn too_large(path: &Path, max: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "{} is larger than {} (refusing to read more)",
            path.display(),
            size(max)
        ),
    )
}

fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// Reads at most `max` bytes from `reader`; more is an error.
fn bounded(reader: impl std::io::Read, path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(path, max));
    }
    Ok(bytes)
}

/// A regular file's bytes, up to `max`. Opened without blocking and checked
/// on the open handle: a FIFO, a device or a folder is refused
/// (`InvalidInput`); a missing file is `NotFound` as usual.
pub(crate) fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file (a device, a FIFO or a folder): not read",
                path.display()
            ),
        ));
    }
    if metadata.len() > max {
        return Err(too_large(path, max));
    }
    bounded(file, path, max)
}

/// [`read_regular`], as UTF-8 text.
pub(crate) fn read_regular_string(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_regular(path, max)?).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

/// An input a user names: `-` for stdin, a file, a pipe or a process
/// substitution (`<(...)`), up to [`MAX_INPUT`]. A device is refused.
pub(crate) fn read_input(path: &Path) -> std::io::Result<String> {
    let bytes = if path.as_os_str() == "-" {
        bounded(std::io::stdin().lock(), Path::new("stdin"), MAX_INPUT)?
    } else {
        let file = std::fs::File::open(path)?;
        let metadata = file.metadata()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt as _;
            let kind = metadata.file_type();
            if kind.is_char_device() || kind.is_block_device() || kind.is_dir() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{} is a device or a folder: not read", path.display()),
                ));
            }
        }
        if metadata.is_file() && metadata.len() > MAX_INPUT {
            return Err(too_large(path, MAX_INPUT));
        }
        bounded(file, path, MAX_INPUT)?
    };
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

/// Whether `path` itself is a symbolic link.
pub(crate) fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Makes a file 0600 through a handle opened without following a link
/// (`O_NOFOLLOW`, then `fchmod`): a link is refused, never its target
/// changed.
#[cfg(unix)]
pub(crate) fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// Windows has no modes to change.
#[cfg(not(unix))]
pub(crate) fn make_private(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_oversized_files_are_refused_quickly() {
        let dir = tempfile::tempdir().unwrap();
        // A device: refused as a credential source, bounded as an input.
        let zero = Path::new("/dev/zero");
        assert_eq!(
            read_regular(zero, MAX_SECRET).unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
        assert_eq!(read_input(zero).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
        // A link to a device: the same.
        let link = dir.path().join("key.json");
        std::os::unix::fs::symlink(zero, &link).unwrap();
        assert_eq!(
            read_regular(&link, MAX_SECRET).unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
        // A FIFO with no writer: refused at once, not waited on.
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert_eq!(
                read_regular(&fifo, MAX_SECRET).unwrap_err().kind(),
                std::io::ErrorKind::InvalidInput
            );
        }
        // Too large: the bound, with the size in the message.
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; MAX_SECRET as usize + 1]).unwrap();
        let error = read_regular(&big, MAX_SECRET).unwrap_err();
        assert!(error.to_string().contains("64 KiB"), "{error}");
        // A link is never chmod-ed, nor its target.
        let target = dir.path().join("target");
        std::fs::write(&target, b"{}").unwrap();
        let mode =
            |p: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let to_target = dir.path().join("to-target");
        std::os::unix::fs::symlink(&target, &to_target).unwrap();
        assert!(make_private(&to_target).is_err());
        assert_eq!(mode(&target), 0o644);
        make_private(&target).unwrap();
        assert_eq!(mode(&target), 0o600);
    }
}
