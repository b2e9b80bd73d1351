//! The sandbox's RS256 id_tokens and the JWKS that verifies them.
//!
//! NICE's agent SDK verifies every id_token it is handed (`KJUR.jws.JWS.verifyJWT`, RS256 only)
//! against the key of the JWKS whose `kid` the token's header names, so the sandbox signs its
//! id_tokens. The key is fixed and committed (`id-token-key.pem`): it guards nothing (it is a
//! sandbox), a fixed key gives the same tokens for the same seed and clock, and a key generated
//! at start would need a key-generation dependency (`ring` signs, it cannot make RSA keys).

use std::sync::LazyLock;

use base64::Engine as _;
use ring::rsa::PublicKeyComponents;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

/// The key id in the header and in the JWKS.
pub(super) const KEY_ID: &str = "callplan-sandbox-1";

/// The JWT header. The SDK decodes its segment with `window.atob`, which knows only standard
/// base64, so the encoded header must hold no `-` or `_`: these fields, in this order, give
/// none (a unit test checks).
const HEADER: &str = r#"{"alg":"RS256","typ":"JWT","kid":"callplan-sandbox-1"}"#;

/// The signing key: PKCS#8, PEM (2048-bit RSA).
const KEY_PEM: &str = include_str!("id-token-key.pem");

static KEY: LazyLock<Option<RsaKeyPair>> = LazyLock::new(|| {
    let body: String = KEY_PEM
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    RsaKeyPair::from_pkcs8(&der).ok()
});

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `claims` as an RS256 JWT signed with the sandbox key. Without a usable key (which a unit
/// test rules out) the token is left unsigned, and verifying clients refuse it.
pub(super) fn sign(claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(HEADER.as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let Some(key) = KEY.as_ref() else {
        return format!("{input}.");
    };
    let mut signature = vec![0; key.public().modulus_len()];
    match key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    ) {
        Ok(()) => format!("{input}.{}", b64(&signature)),
        Err(_) => format!("{input}."),
    }
}

/// The JSON Web Key Set (RFC 7517) with the sandbox's public key.
pub(super) fn jwks() -> Value {
    let keys: Vec<Value> = KEY
        .as_ref()
        .map(|key| {
            let public = PublicKeyComponents::<Vec<u8>>::from(key.public());
            json!({
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": KEY_ID,
                "n": b64(&public.n),
                "e": b64(&public.e),
            })
        })
        .into_iter()
        .collect();
    json!({ "keys": keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::RSA_PKCS1_2048_8192_SHA256;

    #[test]
    fn the_header_segment_survives_atob() {
        let segment = b64(HEADER.as_bytes());
        assert!(!segment.contains(['-', '_']), "{segment}");
        let header: Value = serde_json::from_str(HEADER).unwrap();
        assert_eq!(header["kid"], KEY_ID);
        assert_eq!(header["alg"], "RS256");
    }

    #[test]
    fn tokens_verify_with_the_published_key() {
        let token = sign(&json!({ "sub": "user:x" }));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(!parts[0].contains(['-', '_']));
        let keys = jwks();
        let key = &keys["keys"][0];
        assert_eq!(key["kid"], KEY_ID);
        let decode = |field: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(key[field].as_str().unwrap())
                .unwrap()
        };
        let public = PublicKeyComponents {
            n: decode("n"),
            e: decode("e"),
        };
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .expect("the signature verifies");
    }
}
