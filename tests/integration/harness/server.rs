//! A local test server written in Python (moto's launcher, the fault proxy, the emulators, the
//! SCIM server): started with `--port 0`, ready once it prints `READY <port>` (the port it bound, so
//! no other process can take it first), stopped when dropped. Its stderr is kept in a file and
//! printed when a test fails while the server runs, so the failure shows what the server said.

use std::io::{BufRead, BufReader, Read, Seek};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::repo_root;

/// How long a server may take to print `READY <port>` (moto imports for seconds on a busy machine).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct LocalServer {
    child: Child,
    name: String,
    stderr: std::fs::File,
    pub port: u16,
}

/// The virtualenv's Python, made by scripts/setup-test-env.
pub fn python() -> PathBuf {
    if let Ok(path) = std::env::var("KIRO_ONBOARD_TEST_PYTHON") {
        return path.into();
    }
    let path = repo_root().join(".venv/bin/python");
    assert!(
        path.exists(),
        "the test servers are not installed: run scripts/setup-test-env (scripts/test does it for you)"
    );
    path
}

impl LocalServer {
    /// Runs `tests/servers/{script}` with `--host 127.0.0.1 --port 0` and `args`.
    pub fn start(script: &str, args: &[&str]) -> LocalServer {
        let mut command = Command::new(python());
        command
            .arg(repo_root().join("tests/servers").join(script))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args);
        LocalServer::spawn(script, command)
    }

    /// scim2-server accepting the bearer token `token` (through tests/servers/scim_server.py, which
    /// binds port 0 and announces the port like the other servers).
    pub fn scim(token: &str) -> LocalServer {
        let mut command = Command::new(python());
        command.arg(repo_root().join("tests/servers/scim_server.py")).args([
            "--hostname",
            "127.0.0.1",
            "--port",
            "0",
            "--bearer-token",
            token,
        ]);
        LocalServer::spawn("scim_server.py", command)
    }

    fn spawn(name: &str, mut command: Command) -> LocalServer {
        let stderr = tempfile::tempfile().expect("a file for the server's stderr");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.try_clone().expect("the server's stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout = child.stdout.take().expect("server stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads stdout to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("READY ").and_then(|p| p.trim().parse::<u16>().ok()) {
                    let _ = tx.send(port);
                }
            }
        });
        let mut server = LocalServer { child, name: name.to_owned(), stderr, port: 0 };
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(port) => server.port = port,
            Err(_) => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                panic!(
                    "{name} did not print READY <port> within {READY_TIMEOUT:?} (status {:?}); its stderr:\n{}",
                    server.child.try_wait().ok().flatten(),
                    server.stderr()
                );
            }
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        let mut file = &self.stderr;
        let mut text = String::new();
        if file.rewind().is_ok() {
            let mut bytes = Vec::new();
            let _ = file.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        // SIGTERM first so the server exits cleanly; kill if it does not.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        let mut exited = false;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // A failing test unwinds through here: show what the server said.
        if std::thread::panicking() {
            eprintln!(
                "--- stderr of {} (port {})\n{}--- end of {} stderr",
                self.name,
                self.port,
                self.stderr(),
                self.name
            );
        }
    }
}

/// A small HTTP/1.1 client for the servers' control APIs (the tests need no HTTP client crate).
pub fn http(method: &str, url: &str, body: Option<&serde_json::Value>) -> (u16, serde_json::Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    http_raw(method, url, "application/json", &[], &body)
}

/// How long a local server may take to answer one request before the test fails (instead of
/// waiting forever on a server that never answers).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// Like `http`, with a content type, extra headers and a raw body (for the Graph emulator's own
/// API, reached the way any Graph client reaches it).
pub fn http_raw(
    method: &str,
    url: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, serde_json::Value) {
    use std::io::Write;
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the local server");
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).expect("a read timeout");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(stream, "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("no answer to {method} {url} within {ANSWER_TIMEOUT:?}: {e}"));
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let payload = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(payload).unwrap_or(serde_json::Value::String(payload.to_owned())))
}
