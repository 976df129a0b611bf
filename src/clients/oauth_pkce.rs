//! The OAuth 2.0 authorization code flow with PKCE (RFC 7636, S256) that a native client runs:
//! the authorize URL, the loopback listener for the redirect (or the redirect URL pasted by the
//! admin), the code exchange, and the access token's claims read in memory. The code, the PKCE
//! verifier and the token are secrets: wrapped from the moment they exist, never printed.

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SecureRandom;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::jwt::{base64_decode, base64url};

/// The path Kiro's clients register for the loopback redirect.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// A PKCE pair: the verifier stays here, the challenge goes in the authorize URL.
pub struct Pkce {
    pub verifier: SecretString,
    pub challenge: String,
}

fn random_token(bytes: usize) -> Result<String, String> {
    let mut buffer = vec![0u8; bytes];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut buffer).map_err(|_| "no randomness available".to_owned())?;
    Ok(base64url(&buffer))
}

impl Pkce {
    /// 32 random bytes as the verifier (43 characters, RFC 7636 §4.1), its SHA-256 as challenge.
    pub fn new() -> Result<Pkce, String> {
        let verifier = random_token(32)?;
        let challenge = base64url(&Sha256::digest(verifier.as_bytes()));
        Ok(Pkce { verifier: SecretString::from(verifier), challenge })
    }
}

/// A random `state` value that ties the redirect to this request.
pub fn new_state() -> Result<String, String> {
    random_token(16)
}

/// What the authorize request asks for.
pub struct AuthorizeRequest<'a> {
    pub authorize_endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub state: &'a str,
    pub challenge: &'a str,
    pub login_hint: Option<&'a str>,
}

impl AuthorizeRequest<'_> {
    pub fn url(&self) -> Result<String, String> {
        let mut url = reqwest::Url::parse(self.authorize_endpoint)
            .map_err(|e| format!("`{}` is not a URL: {e}", self.authorize_endpoint))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", self.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("scope", &self.scopes.join(" "))
                .append_pair("state", self.state)
                .append_pair("code_challenge", self.challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = self.login_hint {
                query.append_pair("login_hint", hint);
            }
        }
        Ok(url.to_string())
    }
}

/// What came back on the redirect: a code, or the identity provider's refusal.
pub enum Callback {
    Code(SecretString),
    Refused { error: String, description: String },
}

/// Text an identity provider (or anyone who reaches the listener) supplied, made safe to print:
/// control characters (terminal escape sequences) dropped, and cut to a readable length.
pub fn printable_remote_text(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Reads a redirect URL (or its query): checks `state` first (an answer that does not carry this
/// sign-in's `state` says nothing about it, not even a refusal), then returns the code or the
/// refusal.
pub fn parse_redirect(url: &str, expected_state: &str) -> Result<Callback, String> {
    let query = url.trim().split_once('?').map(|(_, q)| q).unwrap_or(url.trim());
    let query = query.split('#').next().unwrap_or_default();
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = String::new();
    for (key, value) in reqwest::Url::parse(&format!("http://localhost/?{query}"))
        .map_err(|_| "the pasted text is not the URL the browser was redirected to".to_owned())?
        .query_pairs()
    {
        match key.as_ref() {
            "code" => code = Some(SecretString::from(value.into_owned())),
            "state" => state = Some(value.into_owned()),
            "error" => error = Some(printable_remote_text(&value, 200)),
            "error_description" => description = printable_remote_text(&value, 1000),
            _ => {}
        }
    }
    if state.as_deref() != Some(expected_state) {
        return Err("the redirect's `state` is not this sign-in's (a URL from another attempt?)".into());
    }
    if let Some(error) = error {
        return Ok(Callback::Refused { error, description });
    }
    code.map(Callback::Code).ok_or_else(|| "the redirect URL has neither `code` nor `error`".into())
}

/// The most a browser's redirect request may send before its request line ends.
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long one connection may take to send its request line (within the overall wait).
const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);

/// A listener on this machine's loopback addresses for the browser's redirect: 127.0.0.1 and,
/// where the machine has it, ::1 on the same port, since the redirect names `localhost`, which
/// a browser may resolve to either.
pub struct Loopback {
    listeners: Vec<TcpListener>,
    pub port: u16,
}

impl Loopback {
    /// Binds 127.0.0.1:`port` (0: any free port), and ::1 on the same port when it can.
    pub fn bind(port: u16) -> std::io::Result<Loopback> {
        let v4 = TcpListener::bind(("127.0.0.1", port))?;
        let port = v4.local_addr()?.port();
        let mut listeners = vec![v4];
        if let Ok(v6) = TcpListener::bind(("::1", port)) {
            listeners.push(v6);
        }
        Ok(Loopback { listeners, port })
    }

    /// Waits up to `wait` for a request on the callback path that carries this sign-in's
    /// `state`, and answers the browser. Anything else is answered and ignored: the wait goes on.
    pub fn wait(self, expected_state: &str, wait: Duration) -> Result<Callback, String> {
        let deadline = Instant::now() + wait;
        for listener in &self.listeners {
            listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        }
        loop {
            let mut accepted = None;
            for listener in &self.listeners {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted = Some(stream);
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            let Some(stream) = accepted else {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "no redirect reached http://localhost:{}{CALLBACK_PATH} within {}s",
                        self.port,
                        wait.as_secs()
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let connection_deadline = deadline.min(Instant::now() + CONNECTION_DEADLINE);
            let Some(target) = request_target(&stream, connection_deadline) else {
                continue;
            };
            let mut writer = &stream;
            if !target.starts_with(CALLBACK_PATH) {
                let _ = writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            }
            match parse_redirect(&target, expected_state) {
                Ok(callback) => {
                    let body = "kiro-onboard received the sign-in. You can close this window.";
                    let _ = write!(
                        writer,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return Ok(callback);
                }
                Err(_) => {
                    let _ =
                        writer.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    }
}

/// The request target of the request line `stream` sends, read within `deadline` and at most
/// `MAX_REQUEST_BYTES`; `None` when it sends too much, too slowly or nothing usable.
fn request_target(stream: &std::net::TcpStream, deadline: Instant) -> Option<String> {
    use std::io::Read;
    stream.set_nonblocking(false).ok()?;
    let mut reader = stream;
    let mut line = Vec::new();
    let mut buffer = [0u8; 1024];
    while !line.contains(&b'\n') {
        let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        stream.set_read_timeout(Some(left)).ok()?;
        let read = reader.read(&mut buffer).ok().filter(|n| *n > 0)?;
        line.extend_from_slice(&buffer[..read]);
        if line.len() > MAX_REQUEST_BYTES {
            return None;
        }
    }
    let line = String::from_utf8_lossy(&line[..line.iter().position(|b| *b == b'\n')?]).into_owned();
    line.split_whitespace().nth(1).map(str::to_owned)
}

/// The authorize page as a browser first gets it, with no session: identity providers refuse an
/// unregistered redirect URI here, on their own page, before anyone signs in.
pub async fn authorize_page(url: &str, timeout: Duration) -> Result<String, String> {
    let http = super::http::credential_client(url, super::http::Redirects::None)
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    response.text().await.map_err(|e| e.to_string())
}

/// The token endpoint's answer to the code exchange.
pub enum Exchange {
    Token(SecretString),
    Refused { error: String, description: String },
}

/// Redeems `code` with the PKCE `verifier` (a public client: no secret).
pub async fn exchange_code(
    token_endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    code: &SecretString,
    verifier: &SecretString,
    timeout: Duration,
) -> Result<Exchange, String> {
    // No redirect: a 307/308 would resend the code and the verifier to wherever it points.
    let http = super::http::credential_client(token_endpoint, super::http::Redirects::None)
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("code", code.expose_secret()),
        ("code_verifier", verifier.expose_secret()),
    ];
    let response = http
        .post(token_endpoint)
        .header("Accept", "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("the token endpoint did not answer: {e}"))?;
    let status = response.status();
    let body: serde_json::Value =
        response.json().await.map_err(|_| format!("the token endpoint answered {status} without JSON"))?;
    if let Some(token) = body["access_token"].as_str().filter(|_| status.is_success()) {
        return Ok(Exchange::Token(SecretString::from(token.to_owned())));
    }
    Ok(Exchange::Refused {
        error: body["error"]
            .as_str()
            .map(|error| printable_remote_text(error, 200))
            .unwrap_or_else(|| format!("HTTP {status}")),
        description: printable_remote_text(
            body["error_description"].as_str().or(body["errorSummary"].as_str()).unwrap_or_default(),
            1000,
        ),
    })
}

/// The claims of a JWT access token, decoded in memory (not verified: the token came straight
/// from the token endpoint over TLS, and only its claims are inspected).
pub fn token_claims(token: &SecretString) -> Result<serde_json::Value, String> {
    let payload = token.expose_secret().split('.').nth(1).ok_or("the access token is not a JWT")?;
    let bytes = base64_decode(payload).ok_or("the access token's claims are not base64url")?;
    serde_json::from_slice(&bytes).map_err(|_| "the access token's claims are not JSON".to_owned())
}

#[cfg(test)]
mod listener {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    fn send(port: u16, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = stream.write_all(request);
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    /// Runs the listener's wait on a thread; the test plays the browser and the hostile local
    /// processes.
    /// What the listener's wait returned, and how long it took.
    type Waited = (Result<Callback, String>, Duration);

    fn waiting(wait: Duration) -> (u16, std::thread::JoinHandle<Waited>) {
        let loopback = Loopback::bind(0).unwrap();
        let port = loopback.port;
        let waiter = std::thread::spawn(move || {
            let started = Instant::now();
            (loopback.wait("s1", wait), started.elapsed())
        });
        (port, waiter)
    }

    #[test]
    fn state_comes_first_a_wrong_or_missing_one_is_ignored_and_the_wait_goes_on() {
        let (port, waiter) = waiting(Duration::from_secs(20));
        let forged = send(port, b"GET /oauth/callback?error=access_denied&error_description=forged HTTP/1.1\r\n\r\n");
        assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
        let wrong = send(port, b"GET /oauth/callback?code=x&state=other HTTP/1.1\r\n\r\n");
        assert!(wrong.starts_with("HTTP/1.1 400"), "{wrong}");
        let real = b"GET /oauth/callback?error=access_denied&error_description=AADSTS50105%1B%5B2J%07+no&state=s1 HTTP/1.1\r\n\r\n";
        assert!(send(port, real).starts_with("HTTP/1.1 200"));
        match waiter.join().unwrap().0 {
            Ok(Callback::Refused { error, description }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(description, "AADSTS50105[2J no", "control characters are dropped");
            }
            Ok(Callback::Code(_)) => panic!("a code instead of the refusal"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_huge_or_slow_request_is_dropped_without_ending_the_wait() {
        let (port, waiter) = waiting(Duration::from_secs(30));
        // 1 MiB with no end of line: cut off at 8 KiB.
        let mut huge = b"GET /oauth/callback?code=".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 1024 * 1024));
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = stream.write_all(&huge);
        drop(stream);
        // One byte every second: the connection's own deadline ends it, not the overall wait.
        let slow_started = Instant::now();
        let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for byte in b"GET /oauth/callback?code=slow".iter().take(8) {
            if slow.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest);
        assert!(slow_started.elapsed() < Duration::from_secs(12), "the slow connection held the listener");
        let answer = send(port, b"GET /oauth/callback?code=real&state=s1 HTTP/1.1\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let (result, _) = waiter.join().unwrap();
        assert!(matches!(result, Ok(Callback::Code(code)) if code.expose_secret() == "real"));
    }

    #[test]
    fn the_overall_wait_ends_even_while_a_connection_trickles() {
        let (port, waiter) = waiting(Duration::from_secs(2));
        let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for _ in 0..6 {
            if slow.write_all(b"G").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(700));
        }
        let (result, elapsed) = waiter.join().unwrap();
        assert!(result.is_err());
        assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    }

    #[test]
    fn both_loopback_families_are_bound_where_the_machine_has_them() {
        let loopback = Loopback::bind(0).unwrap();
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            assert_eq!(loopback.listeners.len(), 2);
            assert_eq!(loopback.listeners[1].local_addr().unwrap().port(), loopback.port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_verifiers_sha256() {
        let pkce = Pkce::new().unwrap();
        assert_eq!(pkce.verifier.expose_secret().len(), 43);
        assert_eq!(pkce.challenge, base64url(&Sha256::digest(pkce.verifier.expose_secret().as_bytes())));
    }

    #[test]
    fn a_pasted_redirect_gives_the_code_or_the_refusal() {
        let url = "http://localhost:3128/oauth/callback?code=abc&state=s1";
        assert!(matches!(parse_redirect(url, "s1"), Ok(Callback::Code(c)) if c.expose_secret() == "abc"));
        assert!(parse_redirect(url, "other").is_err());
        let refused =
            "http://localhost/oauth/callback?error=access_denied&error_description=AADSTS50105%3A+no&state=s1";
        assert!(
            matches!(parse_redirect(refused, "s1"), Ok(Callback::Refused { error, description }) if error == "access_denied" && description.starts_with("AADSTS50105"))
        );
        assert!(parse_redirect("nonsense", "s1").is_err());
    }

    #[test]
    fn claims_are_read_from_the_payload() {
        let token = format!("e30.{}.sig", base64url(br#"{"ver":"2.0"}"#));
        assert_eq!(token_claims(&SecretString::from(token)).unwrap()["ver"], "2.0");
        assert!(token_claims(&SecretString::from("opaque".to_owned())).is_err());
    }
}
