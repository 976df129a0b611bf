//! RS256 JSON Web Tokens: the signed client assertion (`private_key_jwt`) an Okta service app
//! presents to the org authorization server, and the signing and base64 they and Entra's
//! certificate credential share. Signing uses aws-lc-rs, already in the tree through the AWS SDK.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SecureRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use secrecy::{ExposeSecret, SecretString};

/// A JWT for `aud` signed with the PKCS#8 PEM (or base64 DER) RSA key in `key`, valid 5 minutes.
pub fn client_assertion(
    client_id: &str,
    key_id: Option<&str>,
    aud: &str,
    key: &SecretString,
) -> Result<SecretString, String> {
    let pem = key.expose_secret();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    if pem.contains("BEGIN RSA PRIVATE KEY") {
        return Err("the key is PKCS#1 (BEGIN RSA PRIVATE KEY); convert it with `openssl pkcs8 -topk8 -nocrypt`".into());
    }
    let der = base64_decode(&body).ok_or("the key is not PEM or base64")?;
    let pair =
        RsaKeyPair::from_pkcs8(&der).map_err(|_| "the key is not an unencrypted PKCS#8 RSA private key".to_owned())?;
    let mut nonce = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut nonce).map_err(|_| "no randomness available".to_owned())?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = key_id {
        header["kid"] = kid.into();
    }
    let claims = serde_json::json!({
        "iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 300,
        "jti": nonce.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    });
    sign_rs256(&header, &claims, &pair).map(SecretString::from)
}

/// `header.claims.signature`, each part base64url, signed RS256 with `key`.
pub fn sign_rs256(header: &serde_json::Value, claims: &serde_json::Value, key: &RsaKeyPair) -> Result<String, String> {
    let signing_input =
        format!("{}.{}", base64url(header.to_string().as_bytes()), base64url(claims.to_string().as_bytes()));
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), signing_input.as_bytes(), &mut signature)
        .map_err(|_| "signing failed".to_owned())?;
    Ok(format!("{signing_input}.{}", base64url(&signature)))
}

/// `header.claims.signature`, each part base64url, signed PS256 (RSASSA-PSS, SHA-256, MGF1-SHA-256,
/// salt of 32 bytes) with `key`: the algorithm Entra's certificate credential names today.
pub fn sign_ps256(header: &serde_json::Value, claims: &serde_json::Value, key: &RsaKeyPair) -> Result<String, String> {
    let signing_input =
        format!("{}.{}", base64url(header.to_string().as_bytes()), base64url(claims.to_string().as_bytes()));
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PSS_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing failed".to_owned())?;
    Ok(format!("{signing_input}.{}", base64url(&signature)))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let c = ALPHABET[((n >> (18 - 6 * i)) & 63) as usize];
            out.push(match c {
                b'+' => '-',
                b'/' => '_',
                c => c as char,
            });
        }
    }
    out
}

/// Standard or URL-safe base64, with or without padding and line breaks.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'-' => 62,
            b'_' => 63,
            c => ALPHABET.iter().position(|a| *a == c)? as u32,
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_key_material_never_panics_and_is_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let made = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
            .arg(&path)
            .output();
        let mut seeds = vec![
            b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n".to_vec(),
        ];
        if made.is_ok_and(|o| o.status.success()) {
            seeds.push(std::fs::read(&path).unwrap());
        }
        let pieces = &["-----BEGIN RSA PRIVATE KEY-----", "-----END PRIVATE KEY-----", "=", "\n", "A", "_", "-"];
        crate::fuzz::run("jwt key", &seeds, pieces, 300, |input| {
            let text = String::from_utf8_lossy(input).into_owned();
            match client_assertion(
                "client",
                Some("kid"),
                "https://o.okta.com/oauth2/v1/token",
                &SecretString::from(text.clone()),
            ) {
                Ok(jwt) => assert_eq!(jwt.expose_secret().split('.').count(), 3),
                Err(reason) => {
                    let body = text.lines().find(|l| l.len() > 16 && !l.starts_with("-----"));
                    assert!(body.is_none_or(|b| !reason.contains(b)), "the key leaked into: {reason}");
                }
            }
            let _ = base64_decode(&text);
        });
    }

    #[test]
    fn base64_round_trips() {
        for input in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0xfb, 0xff]] {
            assert_eq!(base64_decode(&base64url(input)).unwrap(), input);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn a_non_key_is_refused_without_echoing_it() {
        let error = client_assertion("c", None, "a", &SecretString::from("canary-not-a-key".to_owned())).unwrap_err();
        assert!(!error.contains("canary"), "{error}");
    }
}
