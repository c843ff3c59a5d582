//! JOSE: `jose::JwkSet::verify`, `JwkSet::from_json`, `Jwk::from_json`, `SigningKey::from_jwk`,
//! `SigningKey::from_pkcs8_pem`, and signing round trips.
//!
//! Input: byte 0 the mode, then — mode 0: a compact JWS (text) verified against a fixed set of
//! keys (RFC 7515 A.2's RSA key, A.3's P-256 key, RFC 8037's Ed25519 key, A.1's HMAC key) with
//! every algorithm accepted; mode 1: a header (JSON bytes) base64url-encoded in front of a
//! fixed payload and signature, verified the same way; mode 2: a JWK Set document; mode 3: a
//! JWK (public parse and private parse); mode 4: a PEM document; mode 5: a payload signed with
//! the Ed25519 and HMAC keys and verified back.
//!
//! Invariants: no panic; every error passes the shared error rules and its message is shorter
//! than 4 KB; a JWS verifies only with an `alg` grantline speaks (never `none`) and only when
//! it has exactly three parts; the algorithm reported is the header's; a signed payload always
//! verifies, with the same payload and algorithm; `Debug` of a signing key never shows key
//! material.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use grantline::jose::{Algorithm, Jwk, JwkSet, SigningKey};
use grantline_fuzz::check_error_text;
use libfuzzer_sys::fuzz_target;

const RSA: &str = r#"{"kty":"RSA","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}"#;
const P256: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
const ED25519: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const HMAC: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const ED25519_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";

fn keys() -> JwkSet {
    JwkSet::new(
        [RSA, P256, ED25519, HMAC]
            .into_iter()
            .map(|k| Jwk::from_json(k).unwrap())
            .collect(),
    )
}

fn check_verify(set: &JwkSet, token: &str) {
    match set.verify(token, &Algorithm::ALL) {
        Ok(jws) => {
            assert_eq!(
                token.split('.').count(),
                3,
                "verified a token without three parts"
            );
            let alg = jws.header().get("alg").and_then(|a| a.as_str());
            assert_eq!(
                alg,
                Some(jws.algorithm().name()),
                "reported alg is not the header's"
            );
        }
        Err(e) => {
            check_error_text(&e);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let text = String::from_utf8_lossy(rest);
    match mode % 6 {
        0 => check_verify(&keys(), &text),
        1 => {
            let token = format!(
                "{}.eyJpc3MiOiJqb2UifQ.{}",
                URL_SAFE_NO_PAD.encode(rest),
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
            );
            check_verify(&keys(), &token);
        }
        2 => match JwkSet::from_json(&text) {
            Ok(set) => {
                assert!(set.keys().len() + set.skipped() <= grantline::jose::MAX_KEYS);
                check_verify(&set, "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
            }
            Err(e) => {
                check_error_text(&e);
            }
        },
        3 => {
            if let Err(e) = Jwk::from_json(&text) {
                check_error_text(&e);
            }
            match SigningKey::from_jwk(&text) {
                Ok(key) => assert!(format!("{key:?}").contains("[redacted]")),
                Err(e) => {
                    check_error_text(&e);
                }
            }
        }
        4 => match SigningKey::from_pkcs8_pem(&text) {
            Ok(key) => assert!(format!("{key:?}").contains("[redacted]")),
            Err(e) => {
                check_error_text(&e);
            }
        },
        _ => {
            let set = keys();
            for signer in [
                SigningKey::from_jwk(ED25519).unwrap(),
                SigningKey::from_jwk(HMAC).unwrap(),
            ] {
                assert!(!format!("{signer:?}").contains(&ED25519_D[..12]));
                let token = signer.sign_payload(&serde_json::Map::new(), rest).unwrap();
                let jws = set.verify(&token, &[signer.algorithm()]).unwrap();
                assert_eq!(jws.payload(), rest);
                assert_eq!(jws.algorithm(), signer.algorithm());
            }
        }
    }
});
