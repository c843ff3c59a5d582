//! Validating an RS256 ID token (signature against a JWK Set, then `iss`, `aud`, `exp`, `iat`,
//! `nonce`) with grantline and with the `openidconnect` crate (4.x), the same token and keys.
//!
//! Run with `make bench` or `cargo bench --manifest-path bench/oidc/Cargo.toml`.
//!
//! Both sides start from the compact token string and a JWK Set already parsed (a client keeps
//! its provider's keys), and end with the verified claims. The token is signed once with RFC
//! 7515 Appendix A.2's RSA key.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::str::FromStr;

use criterion::{criterion_group, criterion_main, Criterion};
use grantline::jose::{Algorithm, JwkSet, SigningKey};
use grantline::oidc::IdTokenCheck;
use grantline::Nonce;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, IssuerUrl};

const ISSUER: &str = "https://op.example.com";
const CLIENT_ID: &str = "client-id";
const NONCE: &str = "n-0S6_WzA2Mj-a-nonce-of-32-characters";
const NOW: u64 = 1_900_000_000;
const RSA: &str = r#"{"kty":"RSA","kid":"rsa1","alg":"RS256","use":"sig","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB","d":"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"}"#;

fn fixture() -> (String, String) {
    let key = SigningKey::from_jwk(RSA).unwrap();
    let jwks = format!(
        r#"{{"keys":[{}]}}"#,
        key.public_jwk().unwrap().to_public_json().unwrap()
    );
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": "248289761001", "aud": CLIENT_ID, "nonce": NONCE,
        "exp": 4_000_000_000u64, "iat": NOW - 10, "auth_time": NOW - 20,
        "name": "Jane Doe", "email": "janedoe@example.com",
    });
    let token = key
        .sign(&Default::default(), claims.as_object().unwrap())
        .unwrap();
    (token, jwks)
}

fn bench(c: &mut Criterion) {
    let (token, jwks) = fixture();

    let keys = JwkSet::from_json(&jwks).unwrap();
    let check = IdTokenCheck::new(ISSUER, CLIENT_ID)
        .nonce(&Nonce::new(NONCE))
        .algorithms([Algorithm::Rs256]);
    assert_eq!(
        check
            .validate(&keys.verify(&token, &[Algorithm::Rs256]).unwrap(), NOW)
            .unwrap()
            .sub(),
        "248289761001"
    );
    c.bench_function("id_token/grantline", |b| {
        b.iter(|| {
            let verified = keys.verify(black_box(&token), &[Algorithm::Rs256]).unwrap();
            black_box(check.validate(&verified, NOW).unwrap());
        })
    });

    let set: CoreJsonWebKeySet = serde_json::from_str(&jwks).unwrap();
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(CLIENT_ID.into()),
        IssuerUrl::new(ISSUER.into()).unwrap(),
        set,
    );
    let nonce = openidconnect::Nonce::new(NONCE.into());
    assert_eq!(
        CoreIdToken::from_str(&token)
            .unwrap()
            .claims(&verifier, &nonce)
            .unwrap()
            .subject()
            .as_str(),
        "248289761001"
    );
    c.bench_function("id_token/openidconnect", |b| {
        b.iter(|| {
            let id_token = CoreIdToken::from_str(black_box(&token)).unwrap();
            black_box(id_token.claims(&verifier, &nonce).unwrap().subject().len());
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
