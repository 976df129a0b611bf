//! The test user, played while kiro-onboard waits for them: in a browser (the Graph and Okta
//! emulators' authorize pages) or on another device (Identity Center's device flow at moto).

use super::server::http;

/// The test user, acting every 100 ms until stopped (the guides' `signin check` waits for them).
pub struct PlayingUser {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl PlayingUser {
    pub fn start(act: impl Fn() + Send + 'static) -> PlayingUser {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    act();
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            })
        };
        PlayingUser { stop, thread }
    }

    /// In a browser: signs in on the authorize page the emulator at `base` last served and
    /// follows the redirect to the loopback listener.
    pub fn in_browser(base: String, user: &str) -> PlayingUser {
        use std::io::{Read, Write};
        let body = serde_json::json!({ "user": user });
        PlayingUser::start(move || {
            let (status, answer) = http("POST", &format!("{base}/_control/authorize/approve"), Some(&body));
            if let (200, Some(redirect)) = (status, answer["redirect"].as_str()) {
                let rest = redirect.trim_start_matches("http://localhost:");
                let (port, path) = rest.split_once('/').unwrap_or((rest, ""));
                if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port.parse().unwrap_or(0))) {
                    let _ = write!(stream, "GET /{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
                    let _ = stream.read_to_end(&mut Vec::new());
                }
            }
        })
    }

    /// On another device: opens the verification URL the device flow at moto started last, signs
    /// in at the AWS access portal and chooses Allow.
    pub fn on_a_device(moto: String, user: &str) -> PlayingUser {
        let body = serde_json::json!({ "user_name": user });
        PlayingUser::start(move || {
            let _ = http("POST", &format!("{moto}/_control/device/approve"), Some(&body));
        })
    }

    pub fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap();
    }
}
