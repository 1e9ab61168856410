//! JWT-shaped tokens the emulator hands out (Pages upload tokens, Workers assets upload
//! sessions and completion tokens). Clients decode their payloads (wrangler reads
//! `max_file_count_allowed`), so they are syntactically real JWTs; the "signature" only lets
//! the emulator recognise its own tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Signs `claims` into `header.payload.signature`.
pub fn sign(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(format!("sv-emulator:{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{sig}")
}

/// The claims of a token this emulator signed, or `None`.
pub fn verify(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let expected = URL_SAFE_NO_PAD.encode(format!("sv-emulator:{h}.{p}").as_bytes());
    if s != expected {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roundtrip_and_tamper() {
        let t = sign(&json!({"a": 1}));
        assert_eq!(verify(&t).unwrap()["a"], 1);
        let mut forged: Vec<&str> = t.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(br#"{"a":2}"#);
        forged[1] = &other;
        assert!(verify(&forged.join(".")).is_none());
        assert!(verify("x.y").is_none());
    }
}
