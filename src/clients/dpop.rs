//! DPoP (RFC 9449): proof-of-possession for the Okta service app's access token. One ephemeral
//! ES256 key pair per run (never written anywhere); a signed proof JWT for every token request
//! and every API call, carrying `htm`, `htu`, `iat`, `jti`, the server's `nonce` when it sent one,
//! and `ath` (the token's hash) on API calls. Okta: "Configure OAuth 2.0 Demonstrating
//! Proof-of-Possession" (developer.okta.com/docs/guides/dpop/nonoktaresourceserver/main/ and
//! .../dpop/oktaresourceserver/main/).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::jwt::base64url;

/// The run's DPoP key: P-256, made when the client is built, gone when the process ends.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    jwk: Value,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey").field("jwk", &self.jwk).finish_non_exhaustive()
    }
}

impl DpopKey {
    pub fn generate() -> Result<Self, String> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| "could not make the DPoP key pair".to_owned())?;
        // An uncompressed SEC1 point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            return Err("the DPoP public key is not an uncompressed P-256 point".into());
        }
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": base64url(&point[1..33]), "y": base64url(&point[33..])});
        Ok(DpopKey { pair, jwk })
    }

    /// A proof for one request. `url` may carry a query: `htu` is the URL without query and
    /// fragment (RFC 9449 §4.2). `access_token` is given on API calls (for `ath`), not on the
    /// token request.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, String> {
        let mut jti = [0u8; 16];
        SystemRandom::new().fill(&mut jti).map_err(|_| "no randomness available".to_owned())?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut claims = json!({"htm": method, "htu": htu(url), "iat": now, "jti": base64url(&jti)});
        if let Some(token) = access_token {
            claims["ath"] = base64url(&Sha256::digest(token.as_bytes())).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let signing_input =
            format!("{}.{}", base64url(header.to_string().as_bytes()), base64url(claims.to_string().as_bytes()));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| "could not sign the DPoP proof".to_owned())?;
        Ok(format!("{signing_input}.{}", base64url(signature.as_ref())))
    }
}

/// The `htu` of a request URL: scheme, authority and path, without query or fragment.
pub fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::jwt::base64_decode;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    fn part(jwt: &str, i: usize) -> Value {
        serde_json::from_slice(&base64_decode(jwt.split('.').nth(i).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn a_proof_is_signed_by_the_key_in_its_header_and_carries_the_claims() {
        let key = DpopKey::generate().unwrap();
        let proof =
            key.proof("GET", "https://o.okta.com/api/v1/apps?q=Kiro&limit=200", Some("tok"), Some("n1")).unwrap();
        let header = part(&proof, 0);
        let claims = part(&proof, 1);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert!(header["jwk"].get("d").is_none(), "the private key must never be in the proof");
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://o.okta.com/api/v1/apps");
        assert_eq!(claims["nonce"], "n1");
        assert_eq!(claims["ath"], base64url(&Sha256::digest(b"tok")));
        let x = base64_decode(header["jwk"]["x"].as_str().unwrap()).unwrap();
        let y = base64_decode(header["jwk"]["y"].as_str().unwrap()).unwrap();
        let point = [&[4u8][..], &x, &y].concat();
        let (input, signature) = proof.rsplit_once('.').unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(input.as_bytes(), &base64_decode(signature).unwrap())
            .expect("the proof verifies with the header's key");
        let again = key.proof("GET", "https://o.okta.com/api/v1/apps", Some("tok"), None).unwrap();
        assert_ne!(part(&again, 1)["jti"], claims["jti"], "every proof has its own jti");
        assert!(part(&again, 1).get("nonce").is_none());
        let token_request = key.proof("POST", "https://o.okta.com/oauth2/v1/token", None, None).unwrap();
        assert!(part(&token_request, 1).get("ath").is_none());
    }
}
