//! moto in server mode on a free loopback port, one per test, stopped when the test ends. It runs
//! through tests/servers/moto_server.py, which fills the few gaps moto has (see its README).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, repo_root};

pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub region: String,
}

/// The virtualenv's Python, made by scripts/setup-test-env.
pub fn python() -> std::path::PathBuf {
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

impl Moto {
    pub fn start() -> Moto {
        Moto::start_in("us-east-1")
    }

    pub fn start_in(region: &str) -> Moto {
        let port = free_port();
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/servers/moto_server.py"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let stdout = child.stdout.take().expect("moto stdout");
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
            panic!("moto did not start within 60 s ({:?})", started.elapsed());
        }
        Moto { child, endpoint: format!("http://127.0.0.1:{port}"), region: region.to_owned() }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), self.region.clone()),
        ]
    }

    /// An SDK configuration for making changes "out of band", as another admin would.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(self.region.clone()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_identitystore::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await
    }

    /// The instance and identity store moto made for this account and Region.
    pub async fn instance(&self) -> (String, String) {
        let sso = aws_sdk_ssoadmin::Client::new(&self.sdk().await);
        let instances = sso.list_instances().send().await.expect("list instances").instances.unwrap_or_default();
        let first = instances.first().expect("moto has an instance");
        (first.instance_arn().unwrap_or_default().to_owned(), first.identity_store_id().unwrap_or_default().to_owned())
    }
}

impl Drop for Moto {
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
