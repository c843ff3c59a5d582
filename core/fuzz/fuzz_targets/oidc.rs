//! OpenID Connect and extension grants: `IdTokenCheck::validate` / `validate_refreshed` over
//! fuzzed claims, `UserInfo::from_response`, `JwksCache` steps, and `GrantRequest` with fuzzed
//! grant types and parameters.
//!
//! Input: byte 0 the mode, then — mode 0: a claims document (JSON bytes) signed with a fixed
//! Ed25519 key and validated by a check with a nonce, `max_age` and an access token, then as a
//! refreshed token against a fixed first token; mode 1: a userinfo answer (byte 1 the status,
//! byte 2 the content type, the rest the body); mode 2: a JWK Set answer handed to a cache,
//! then a fixed token verified; mode 3: a grant type and parameters (NUL-separated) built into
//! a token request with private_key_jwt.
//!
//! Invariants: no panic; every error passes the shared error rules; an accepted ID token has
//! the expected `iss`, contains the client in `aud`, a non-empty `sub`, and the request's nonce;
//! the cache never asks for a second fetch in a row; a built grant request carries its
//! `grant_type` first and one client assertion.
#![no_main]

use grantline::jose::{Algorithm, JwkSet, SigningKey};
use grantline::oidc::UserInfoAnswer;
use grantline::{
    AccessToken, AuthorizationRequest, Client, GrantRequest, GrantType, JwksCache, JwksStep,
    Provider, UserInfo,
};
use grantline_fuzz::{check_error_text, content_type, response, status};
use libfuzzer_sys::fuzz_target;

const ED25519: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"k1","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const NOW: u64 = 1_700_000_000;

fn client() -> Client {
    let provider = Provider::builder("op")
        .issuer("https://op.example")
        .authorization_endpoint("https://op.example/authorize")
        .token_endpoint("https://op.example/token")
        .jwks_uri("https://op.example/jwks")
        .userinfo_endpoint("https://op.example/userinfo")
        .id_token_algorithms([Algorithm::EdDsa])
        .grant(GrantType::AuthorizationCode)
        .build()
        .unwrap();
    Client::new(provider, "app")
        .with_redirect_uri("https://app.example/cb")
        .with_signing_key(SigningKey::from_jwk(ED25519).unwrap())
}

fn keys(key: &SigningKey) -> JwkSet {
    JwkSet::from_json(&format!(
        r#"{{"keys":[{}]}}"#,
        key.public_jwk().unwrap().to_public_json().unwrap()
    ))
    .unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let client = client();
    let key = SigningKey::from_jwk(ED25519).unwrap();
    match mode % 4 {
        0 => {
            let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else {
                return;
            };
            let Some(claims) = claims.as_object() else {
                return;
            };
            let token = key.sign(&Default::default(), claims).unwrap();
            let auth = client
                .authorization_url_with_seed(
                    &AuthorizationRequest::new().scopes(["openid"]).max_age(600),
                    &[7u8; 96],
                )
                .unwrap();
            let check = client
                .id_token_check(&auth.pending)
                .unwrap()
                .access_token(&AccessToken::new("at"));
            let verified = keys(&key).verify(&token, &[Algorithm::EdDsa]).unwrap();
            match check.validate(&verified, NOW) {
                Ok(c) => {
                    assert_eq!(c.issuer(), "https://op.example");
                    assert!(c.audiences().iter().any(|a| a == "app"));
                    assert!(!c.sub().is_empty());
                    assert_eq!(
                        c.nonce().map(|n| n.secret()),
                        auth.pending.nonce().map(|n| n.secret())
                    );
                    // The same token as its own refresh is consistent with itself, or refused.
                    if let Err(e) = client
                        .refresh_id_token_check()
                        .unwrap()
                        .validate_refreshed(&verified, &c, NOW)
                    {
                        check_error_text(&e);
                    }
                }
                Err(e) => {
                    assert!(matches!(e.kind(), "id_token" | "jws"), "{e:?}");
                    check_error_text(&e);
                }
            }
        }
        1 => {
            let [s, ct, body @ ..] = rest else {
                return;
            };
            let r = response(status(*s), content_type(*ct), body);
            match UserInfo::from_response(&r, "alice") {
                Ok(UserInfoAnswer::Claims(info)) => assert_eq!(info.sub(), "alice"),
                Ok(UserInfoAnswer::Signed(_)) => {}
                Err(e) => {
                    check_error_text(&e);
                }
            }
        }
        2 => {
            let mut cache = JwksCache::for_provider(client.provider()).unwrap();
            let token = key.sign_payload(&Default::default(), b"{}").unwrap();
            assert!(matches!(
                cache.verify(&token, &[Algorithm::EdDsa], NOW),
                Ok(JwksStep::Fetch)
            ));
            if let Err(e) = cache.receive(&response(200, "application/json", rest), NOW) {
                check_error_text(&e);
            }
            match cache.verify(&token, &[Algorithm::EdDsa], NOW) {
                Ok(JwksStep::Fetch) => panic!("a second fetch in a row"),
                Ok(JwksStep::Verified(v)) => assert_eq!(v.algorithm(), Algorithm::EdDsa),
                Err(e) => {
                    check_error_text(&e);
                }
            }
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let mut parts = text.split('\0');
            let grant_type = parts.next().unwrap_or_default();
            let mut grant = GrantRequest::new(grant_type);
            while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
                grant = grant.param(name, value);
            }
            match client.grant_request(&grant, NOW) {
                Ok(r) => {
                    let pairs: Vec<(String, String)> = form_urlencoded::parse(r.body())
                        .into_owned()
                        .collect();
                    assert_eq!(pairs.first().map(|(k, _)| k.as_str()), Some("grant_type"));
                    assert_eq!(pairs.first().map(|(_, v)| v.as_str()), Some(grant_type));
                    assert_eq!(
                        pairs.iter().filter(|(k, _)| k == "client_assertion").count(),
                        1
                    );
                }
                Err(e) => {
                    check_error_text(&e);
                }
            }
        }
    }
});
