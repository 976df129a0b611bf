//! Reading files and streams whose size the admin does not control: a path in the plan can name
//! /dev/zero, a log or a disk image by mistake. Never more than a limit is read, so a wrong path
//! is a clear error instead of a machine out of memory.

use std::io::Read;
use std::path::Path;

/// Secrets are tokens and keys of a few kilobytes; a megabyte is not one.
pub const MAX_SECRET_BYTES: u64 = 1024 * 1024;

fn too_large(limit: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("it holds more than {} KiB, more than any secret or key: is this the right file?", limit / 1024),
    )
}

/// At most `limit` bytes of `path`; more than that is an error (`InvalidData`).
pub fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// At most `limit` bytes of an async reader (a file, a pipe), as UTF-8 text.
pub async fn read_text_at_most(reader: impl tokio::io::AsyncRead + Unpin, limit: u64) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes).await?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// Private files (token cache, journal) are never larger than this.
pub const MAX_PRIVATE_BYTES: u64 = 1024 * 1024;

/// Writes `bytes` to `path` through a temporary file created exclusively (never an existing file
/// or link) beside it with `mode`, then renamed over `path`: a crash leaves the old file or the
/// new one, and a link planted at `path` is replaced, not followed.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", random_suffix()?));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode).custom_flags(libc::O_NOFOLLOW);
    }
    let written = (|| {
        let mut file = options.open(&temp)?;
        #[cfg(unix)]
        {
            // The mode given at creation is narrowed by the umask; set exactly what was asked.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn random_suffix() -> std::io::Result<String> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| std::io::Error::other("no random numbers for a temporary file name"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates `dir` (and its parents) and makes it readable by its owner only (0700).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// A file only this user may read (token cache, journal): `None` when it does not exist. It is
/// refused unless it is a regular file (not a link, a FIFO or a device) owned by this user, not
/// readable by group or others, and at most `MAX_PRIVATE_BYTES`.
pub fn read_private(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let refuse = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // No link is followed, and opening a FIFO does not wait for a writer.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(refuse("it is a symbolic link".into())),
        other => other?,
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(refuse("it is not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if metadata.uid() != me {
            return Err(refuse(format!(
                "it belongs to user id {}, not to the user running kiro-onboard",
                metadata.uid()
            )));
        }
        if metadata.mode() & 0o077 != 0 {
            return Err(refuse(format!(
                "others may read or change it (mode {:o}); it must be 0600",
                metadata.mode() & 0o777
            )));
        }
    }
    if metadata.len() > MAX_PRIVATE_BYTES {
        return Err(too_large(MAX_PRIVATE_BYTES));
    }
    let mut bytes = Vec::new();
    file.take(MAX_PRIVATE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PRIVATE_BYTES {
        return Err(too_large(MAX_PRIVATE_BYTES));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 2048]).unwrap();
        assert_eq!(read_at_most(&path, 2048).unwrap().len(), 2048);
        let error = read_at_most(&path, 1024).unwrap_err();
        assert!(error.to_string().contains("more than 1 KiB"), "{error}");
        // An endless file is refused after the limit, not read for ever.
        assert!(read_at_most(Path::new("/dev/zero"), 1024).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn writes_replace_planted_links_and_private_reads_refuse_what_is_not_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let target = dir.path().join("entra-tokens.json");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        assert!(read_private(&target).unwrap_err().to_string().contains("symbolic link"));
        write_atomically(&target, b"tokens", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me", "the link was not followed");
        assert_eq!(std::fs::symlink_metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read_private(&target).unwrap().unwrap(), b"tokens");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file is left");

        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_private(&target).unwrap_err().to_string().contains("mode 644"));
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(read_private(&fifo).unwrap_err().to_string().contains("not a regular file"));
        let big = dir.path().join("big");
        write_atomically(&big, &vec![b'x'; MAX_PRIVATE_BYTES as usize + 1], 0o600).unwrap();
        assert!(read_private(&big).unwrap_err().to_string().contains("more than 1024 KiB"));
        assert!(read_private(&dir.path().join("missing")).unwrap().is_none());

        let config = dir.path().join("config").join("kiro-onboard");
        private_dir(&config).unwrap();
        assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
