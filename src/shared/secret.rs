//! Secret references: a plan never holds a secret, only where to find it. The value is read into
//! a `SecretString` at the moment it is needed and is never printed, logged or serialised.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use schemars::JsonSchema;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where to read a secret: `{ env: NAME }`, `{ file: PATH }`, `{ command: [program, args…] }`
/// or `{ stdin: true }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SecretRef {
    Env(EnvSecret),
    File(FileSecret),
    Command(CommandSecret),
    Stdin(StdinSecret),
}

/// Read the secret from the first line of standard input (for a one-off paste).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StdinSecret {
    /// Must be true.
    pub stdin: bool,
}

/// Read the secret from an environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvSecret {
    /// Name of the environment variable.
    pub env: String,
}

/// Read the secret from a file (surrounding whitespace is trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSecret {
    /// Path of the file, relative to the working directory.
    pub file: PathBuf,
}

/// Run a command and use its standard output (e.g. a password manager's CLI). It runs only when
/// allowed from outside the plan (KIRO_ONBOARD_ALLOW_COMMANDS=1 or --allow-commands), within
/// KIRO_ONBOARD_SECRET_TIMEOUT seconds (default 30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandSecret {
    /// The program and its arguments; no shell is involved.
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
}

/// Set by `--allow-commands`: the admin, not the plan, lets `command:` references run.
static COMMANDS_ALLOWED_BY_FLAG: AtomicBool = AtomicBool::new(false);
/// The variable that lets `command:` references run, from outside the plan.
pub const ALLOW_COMMANDS_VAR: &str = "KIRO_ONBOARD_ALLOW_COMMANDS";
/// How long a `command:` reference may run, in seconds (default 30).
pub const SECRET_TIMEOUT_VAR: &str = "KIRO_ONBOARD_SECRET_TIMEOUT";

/// Lets `command:` references run for the rest of this process (`--allow-commands`).
pub fn allow_commands() {
    COMMANDS_ALLOWED_BY_FLAG.store(true, Ordering::Relaxed);
}

/// Whether `command:` references may run: only when allowed from outside the plan, since a plan
/// from a pull request could otherwise run any program on the machine that reads it.
pub fn commands_allowed() -> bool {
    COMMANDS_ALLOWED_BY_FLAG.load(Ordering::Relaxed) || std::env::var(ALLOW_COMMANDS_VAR).is_ok_and(|v| v.trim() == "1")
}

/// How to allow commands, for hints.
pub fn how_to_allow_commands() -> String {
    format!(
        "a `command:` secret runs only when allowed from outside the plan: set {ALLOW_COMMANDS_VAR}=1 or pass --allow-commands, and only for a plan you trust (never on an untrusted pull request); or read the secret with {{ env: NAME }} or {{ file: PATH }}"
    )
}

fn command_timeout() -> Duration {
    std::env::var(SECRET_TIMEOUT_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(30))
}

/// Why a secret could not be read. Never carries the secret, only where it was looked for.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable `{0}` is not set")]
    EnvMissing(String),
    #[error("could not read secret file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("secret command `{program}` could not run: {source}")]
    CommandSpawn { program: String, source: std::io::Error },
    #[error("secret command `{program}` printed no usable secret: {source}")]
    CommandOutput { program: String, source: std::io::Error },
    #[error("secret command `{program}` failed ({status})")]
    CommandFailed { program: String, status: String },
    #[error(
        "secret command `{program}` was not run: commands named in a plan run only when allowed ({ALLOW_COMMANDS_VAR}=1 or --allow-commands)"
    )]
    CommandNotAllowed { program: String },
    #[error("secret command `{program}` did not finish within {seconds}s ({SECRET_TIMEOUT_VAR})")]
    CommandTimeout { program: String, seconds: u64 },
    #[error("the secret from {0} is empty")]
    Empty(String),
}

impl SecretError {
    /// When the secret is only absent from this environment (an unset variable, a missing file:
    /// a CI job that is not given it), what is missing, in words; `None` for a secret that is
    /// there but unusable.
    pub fn absent_here(&self) -> Option<String> {
        match self {
            SecretError::EnvMissing(name) => Some(format!("environment variable {name} is not set")),
            SecretError::File { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                Some(format!("file {} does not exist", path.display()))
            }
            _ => None,
        }
    }
}

impl SecretRef {
    /// Where the secret comes from, safe to show.
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Env(e) => format!("environment variable {}", e.env),
            SecretRef::File(f) => format!("file {}", f.file.display()),
            SecretRef::Command(c) => format!("command `{}`", c.command.first().map(String::as_str).unwrap_or("")),
            SecretRef::Stdin(_) => "standard input".into(),
        }
    }

    pub async fn resolve(&self) -> Result<SecretString, SecretError> {
        let value = match self {
            SecretRef::Env(e) => std::env::var(&e.env).map_err(|_| SecretError::EnvMissing(e.env.clone()))?,
            SecretRef::File(f) => {
                let read = async {
                    let file = tokio::fs::File::open(&f.file).await?;
                    crate::files::read_text_at_most(file, crate::files::MAX_SECRET_BYTES).await
                };
                read.await.map_err(|source| SecretError::File { path: f.file.clone(), source })?
            }
            SecretRef::Command(c) => {
                if !commands_allowed() {
                    return Err(SecretError::CommandNotAllowed {
                        program: c.command.first().cloned().unwrap_or_default(),
                    });
                }
                run_command(&c.command, command_timeout()).await?
            }
            SecretRef::Stdin(_) => {
                use tokio::io::{AsyncBufReadExt, AsyncReadExt};
                let mut line = String::new();
                let read = tokio::io::BufReader::new(tokio::io::stdin().take(crate::files::MAX_SECRET_BYTES))
                    .read_line(&mut line)
                    .await
                    .map_err(|source| SecretError::File { path: "(standard input)".into(), source })?;
                if read as u64 >= crate::files::MAX_SECRET_BYTES {
                    return Err(SecretError::File {
                        path: "(standard input)".into(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "the first line is over 1 MiB"),
                    });
                }
                line
            }
        };
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(SecretError::Empty(self.describe()));
        }
        Ok(SecretString::from(trimmed.to_owned()))
    }
}

/// Runs `command` (no shell) and returns its standard output, within `timeout`.
async fn run_command(command: &[String], timeout: Duration) -> Result<String, SecretError> {
    let program = command.first().cloned().unwrap_or_default();
    // stderr is discarded, not inherited: a failing helper may echo what it was given.
    let mut child = tokio::process::Command::new(&program)
        .args(&command[1.min(command.len())..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| SecretError::CommandSpawn { program: program.clone(), source })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let run = async {
        let text = crate::files::read_text_at_most(stdout, crate::files::MAX_SECRET_BYTES)
            .await
            .map_err(|source| SecretError::CommandOutput { program: program.clone(), source })?;
        let status =
            child.wait().await.map_err(|source| SecretError::CommandSpawn { program: program.clone(), source })?;
        Ok::<_, SecretError>((text, status))
    };
    // On timeout the child is dropped with the future, and `kill_on_drop` ends it.
    let (text, status) = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| SecretError::CommandTimeout { program: program.clone(), seconds: timeout.as_secs().max(1) })??;
    if !status.success() {
        return Err(SecretError::CommandFailed { program, status: status.to_string() });
    }
    Ok(text)
}

/// A short, non-reversible label for a secret so admins can tell two tokens apart without seeing
/// either: the first 8 hex digits of its SHA-256.
pub fn fingerprint(secret: &SecretString) -> String {
    use secrecy::ExposeSecret;
    let digest = Sha256::digest(secret.expose_secret().as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn secrets_are_redacted_in_debug_and_fingerprinted_by_a_hash_prefix() {
        let canary = "canary-debug-secret-42";
        let secret = SecretString::from(canary.to_owned());
        for shown in [format!("{secret:?}"), format!("{secret:#?}"), format!("{:?}", Some(secret.clone()))] {
            assert!(!shown.contains(canary), "{shown}");
        }
        let print = fingerprint(&secret);
        let digest = Sha256::digest(canary.as_bytes());
        assert_eq!(print, format!("{:02x}{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2], digest[3]));
        assert!(!canary.contains(&print));
        let error = SecretError::Empty(SecretRef::Env(EnvSecret { env: "KIRO_SCIM_TOKEN".into() }).describe());
        assert!(!format!("{error:?} {error}").contains(canary));
    }

    #[tokio::test]
    async fn reads_env_file_and_command_and_never_shows_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "canary-file-secret\n").unwrap();
        let file = SecretRef::File(FileSecret { file: path });
        assert_eq!(file.resolve().await.unwrap().expose_secret(), "canary-file-secret");

        let command = SecretRef::Command(CommandSecret { command: vec!["echo".into(), "canary-cmd".into()] });
        allow_commands();
        let secret = command.resolve().await.unwrap();
        assert_eq!(secret.expose_secret(), "canary-cmd");
        assert!(!format!("{secret:?}").contains("canary"));
        assert_eq!(fingerprint(&secret).len(), 8);

        let missing = SecretRef::Env(EnvSecret { env: "KIRO_ONBOARD_SURELY_UNSET_VAR".into() });
        let error = missing.resolve().await.unwrap_err().to_string();
        assert!(error.contains("KIRO_ONBOARD_SURELY_UNSET_VAR"), "{error}");

        let failing = SecretRef::Command(CommandSecret { command: vec!["false".into()] });
        assert!(matches!(failing.resolve().await, Err(SecretError::CommandFailed { .. })));
    }
}

#[cfg(test)]
mod hostile_sources {
    use super::*;

    fn file(path: &std::path::Path) -> SecretRef {
        SecretRef::File(FileSecret { file: path.to_owned() })
    }

    #[tokio::test]
    async fn wrong_files_and_commands_are_clear_errors_not_hangs() {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge");
        std::fs::write(&huge, vec![b'x'; 2 * 1024 * 1024]).unwrap();
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x41]).unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        allow_commands();
        let started = std::time::Instant::now();
        for (source, expected) in [
            (file(&huge), "more than 1024 KiB"),
            (file(std::path::Path::new("/dev/zero")), "more than 1024 KiB"),
            (file(&binary), "not UTF-8"),
            (file(&empty), "is empty"),
            (SecretRef::Command(CommandSecret { command: vec!["yes".into()] }), "more than 1024 KiB"),
        ] {
            let error = source.resolve().await.unwrap_err().to_string();
            assert!(error.contains(expected), "{}: {error}", source.describe());
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_command_that_does_not_finish_is_stopped_at_the_timeout() {
        let started = std::time::Instant::now();
        let sleeping = ["sleep".to_owned(), "30".to_owned()];
        let result = run_command(&sleeping, Duration::from_millis(500)).await;
        assert!(matches!(result, Err(SecretError::CommandTimeout { .. })), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
