//! A local test server written in Python (moto's launcher, the fault proxy, the emulators): started
//! on a free loopback port, ready once it prints `READY <port>`, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, repo_root};

pub struct LocalServer {
    child: Child,
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
    /// Runs `tests/servers/{script}` with `--host 127.0.0.1 --port PORT` and `args`.
    pub fn start(script: &str, args: &[&str]) -> LocalServer {
        let port = free_port();
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/servers").join(script))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {script}: {e}"));
        let stdout = child.stdout.take().expect("server stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY") {
                    let _ = tx.send(());
                }
            }
        });
        let started = Instant::now();
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            panic!("{script} did not start within 60 s ({:?})", started.elapsed());
        }
        LocalServer { child, port }
    }

    /// Runs a program from the virtualenv that does not announce itself: ready once its port
    /// accepts connections.
    pub fn start_program(program: &str, args: &[&str], port: u16) -> LocalServer {
        let path = python().with_file_name(program);
        let child = Command::new(&path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "{program} did not listen on port {port} within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        LocalServer { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        // SIGTERM first so the server exits cleanly; kill if it does not.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small HTTP/1.1 client for the servers' control APIs (the tests need no HTTP client crate).
pub fn http(method: &str, url: &str, body: Option<&serde_json::Value>) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the local server");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(stream, "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let payload = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(payload).unwrap_or(serde_json::Value::String(payload.to_owned())))
}

/// Like `http`, with a content type, extra headers and a raw body (for the Graph emulator's own
/// API, reached the way any Graph client reaches it).
pub fn http_raw(
    method: &str,
    url: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the local server");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(stream, "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let payload = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(payload).unwrap_or(serde_json::Value::String(payload.to_owned())))
}
