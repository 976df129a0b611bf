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
}
