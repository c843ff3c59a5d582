//! OpenID Connect, JOSE, JWT client authentication and extension grants against oidc-provider
//! 9 (issue 11), started on 127.0.0.1 by `tests/interop/servers.sh`.
//!
//! ```text
//! tests/interop/servers.sh run -- cargo test -p grantline-examples --features interop --test oidc
//! ```
//!
//! The server's clients (see `tests/interop/README.md`): `test-client` (client_secret_basic,
//! RS256 ID tokens), `jwt-client` (private_key_jwt with `tests/interop/keys/`, ES256 ID
//! tokens), `secret-jwt-client` (client_secret_jwt, EdDSA ID tokens). `POST /admin/rotate-keys`
//! puts a new RSA signing key in front. Every test that looks at RS256 ID tokens holds
//! [`RSA_KEYS`], so a rotation never lands between another test's JWKS fetch and its token.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::Cell;
use std::sync::Mutex;

use grantline::grant::{token_type, TokenExchange};
use grantline::jose::{Algorithm, JwkSet, SigningKey};
use grantline::oidc::UserInfoAnswer;
use grantline::{
    AuthorizationRequest, Client, ClientAuthMethod, EndSessionRequest, GrantRequest, IdTokenClaims,
    Introspection, JwksCache, JwksStep, PendingAuthorization, Provider, SecurityToken, TokenSet,
    TokenTypeHint, UserInfo,
};
use grantline_examples::{form_input, now, send, Browser, Hop};

const CALLBACK: &str = "http://127.0.0.1:8765/callback";
const LOGGED_OUT: &str = "http://127.0.0.1:8765/logged-out";
const API: &str = "urn:example:api";
const JWT_API: &str = "urn:example:jwt-api";
const SECRET_JWT_SECRET: &str = "secret-jwt-client-shared-secret-0123456789";

/// Held by every test whose ID tokens are RS256 (the key `/admin/rotate-keys` changes).
static RSA_KEYS: Mutex<()> = Mutex::new(());

fn issuer() -> String {
    match std::env::var("GRANTLINE_OIDC_URL") {
        Ok(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
        _ => panic!(
            "GRANTLINE_OIDC_URL is not set: run under `tests/interop/servers.sh run -- cargo test \
             -p grantline-examples --features interop --test oidc`"
        ),
    }
}

fn provider() -> Provider {
    grantline_examples::discover(&issuer()).unwrap()
}

fn test_client() -> Client {
    Client::new(provider(), "test-client")
        .with_secret("test-secret")
        .with_redirect_uri(CALLBACK)
}

fn jwt_client() -> Client {
    let key = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/interop/keys/jwt-client.private.jwk.json"
    ))
    .unwrap();
    Client::new(provider(), "jwt-client")
        .with_signing_key(SigningKey::from_jwk(&key).unwrap())
        .with_redirect_uri(CALLBACK)
}

fn secret_jwt_client() -> Client {
    Client::new(provider(), "secret-jwt-client")
        .with_secret(SECRET_JWT_SECRET)
        .with_auth_method(ClientAuthMethod::SecretJwt)
        .with_redirect_uri(CALLBACK)
}

fn tokens(request: &http::Request<Vec<u8>>) -> TokenSet {
    TokenSet::from_response(&send(request).unwrap(), now()).unwrap()
}

/// The one loop a driver writes around [`JwksCache`]: verify, fetch when told, verify again.
/// Counts the JWKS fetches.
fn verify(
    cache: &mut JwksCache,
    token: &str,
    algorithms: &[Algorithm],
    fetches: &Cell<u32>,
) -> grantline::jose::VerifiedJws {
    for _ in 0..2 {
        match cache.verify(token, algorithms, now()).unwrap() {
            JwksStep::Verified(verified) => return verified,
            JwksStep::Fetch => {
                fetches.set(fetches.get() + 1);
                cache
                    .receive(&send(&cache.request()).unwrap(), now())
                    .unwrap();
            }
        }
    }
    panic!("the JWKS cache asked for a second fetch in a row")
}

/// A login: authorization URL with `openid`, the scripted browser, the callback, the code
/// exchange. Returns the browser (its cookies are the OP session), the pending record and the
/// tokens.
fn login(
    client: &Client,
    request: AuthorizationRequest,
) -> (Browser, PendingAuthorization, TokenSet) {
    let auth = client.authorization_url(&request).unwrap();
    assert!(
        auth.url.contains("&nonce="),
        "openid requests carry a nonce"
    );
    let browser = Browser::new();
    let callback = browser.authorize(&auth.url, CALLBACK).unwrap();
    let grant = client.callback(&auth.pending, &callback).unwrap();
    let set = tokens(&client.authorization_code_request(&grant, now()).unwrap());
    (browser, auth.pending, set)
}

fn openid_request() -> AuthorizationRequest {
    AuthorizationRequest::new()
        .scopes(["openid", "offline_access", "profile", "email"])
        .param("prompt", "consent")
}

/// Validates the ID token of a code exchange through `cache`.
fn validate(
    client: &Client,
    cache: &mut JwksCache,
    pending: &PendingAuthorization,
    set: &TokenSet,
    fetches: &Cell<u32>,
) -> IdTokenClaims {
    let check = client
        .id_token_check(pending)
        .unwrap()
        .access_token(set.access_token());
    let id_token = set
        .id_token()
        .expect("an openid code exchange returns an ID token");
    let verified = verify(
        cache,
        id_token.secret(),
        check.accepted_algorithms(),
        fetches,
    );
    check.validate(&verified, now()).unwrap()
}

#[test]
fn discovery_reads_the_openid_connect_metadata() {
    let p = provider();
    let issuer = issuer();
    assert_eq!(p.jwks_uri(), Some(format!("{issuer}/jwks").as_str()));
    assert_eq!(p.userinfo_endpoint(), Some(format!("{issuer}/me").as_str()));
    assert_eq!(
        p.end_session_endpoint(),
        Some(format!("{issuer}/session/end").as_str())
    );
    assert_eq!(
        p.id_token_algorithms(),
        [
            Algorithm::Ps256,
            Algorithm::Rs256,
            Algorithm::Es256,
            Algorithm::EdDsa
        ],
        "Ed25519 (the fully-specified name) is not one grantline speaks, and is dropped"
    );
}

#[test]
fn code_flow_id_token_userinfo_refresh_and_logout() {
    let _rsa = RSA_KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let client = test_client();
    let mut cache = JwksCache::for_provider(client.provider()).unwrap();
    let fetches = Cell::new(0);
    let (browser, pending, set) = login(&client, openid_request());
    let claims = validate(&client, &mut cache, &pending, &set, &fetches);
    assert_eq!(claims.sub(), "alice");
    assert_eq!(claims.issuer(), issuer());
    assert_eq!(claims.audiences(), ["test-client"]);
    assert_eq!(claims.algorithm(), Algorithm::Rs256);
    assert_eq!(
        claims.nonce().map(|n| n.secret()),
        pending.nonce().map(|n| n.secret())
    );
    assert_eq!(fetches.get(), 1);

    // A replayed code-flow answer for another login (another nonce) is refused.
    let (_, other_pending, _) = login(&client, openid_request());
    let err = client
        .id_token_check(&other_pending)
        .unwrap()
        .validate(
            &verify(
                &mut cache,
                set.id_token().unwrap().secret(),
                &[Algorithm::Rs256],
                &fetches,
            ),
            now(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), "id_token");
    assert!(
        matches!(&err, grantline::Error::IdToken { claim, .. } if claim == "nonce"),
        "{err}"
    );
    assert!(!err.to_string().contains(set.id_token().unwrap().secret()));

    // Userinfo: its `sub` must be the ID token's.
    let request = client.userinfo_request(set.access_token()).unwrap();
    let response = send(&request).unwrap();
    let info = match UserInfo::from_response(&response, claims.sub()).unwrap() {
        UserInfoAnswer::Claims(info) => info,
        UserInfoAnswer::Signed(_) => panic!("oidc-provider answers JSON by default"),
    };
    assert_eq!(info.sub(), "alice");
    assert_eq!(info.claims()["email"], "alice@example.com");
    let mismatch = UserInfo::from_response(&response, "mallory").unwrap_err();
    assert_eq!(mismatch.kind(), "id_token");

    // Refresh: the refreshed ID token is checked against the first one (Core §12.2).
    let refresh = set
        .refresh_token()
        .expect("offline_access and consent give a refresh token");
    let mut renewed = tokens(&client.refresh_request(refresh, &[], now()).unwrap());
    assert!(
        renewed.inherit_refresh_token(&set),
        "oidc-provider rotates refresh tokens"
    );
    let check = client.refresh_id_token_check().unwrap();
    let refreshed = verify(
        &mut cache,
        renewed
            .id_token()
            .expect("a refresh with openid returns an ID token")
            .secret(),
        check.accepted_algorithms(),
        &fetches,
    );
    let refreshed = check
        .validate_refreshed(&refreshed, &claims, now())
        .unwrap();
    assert_eq!(refreshed.sub(), claims.sub());
    assert_eq!(fetches.get(), 1, "the cached keys served every later check");

    // RP-Initiated Logout: the end-session URL, its confirmation page, and the redirect back
    // with our state.
    let url = client
        .end_session_url(
            &EndSessionRequest::new()
                .id_token_hint(renewed.id_token().unwrap())
                .post_logout_redirect_uri(LOGGED_OUT)
                .state("bye-123"),
        )
        .unwrap();
    assert!(url.starts_with(&format!("{}/session/end?", issuer())));
    let page = browser.get(&url).unwrap();
    assert_eq!(page.status(), 200, "oidc-provider asks the user to confirm");
    let html = String::from_utf8_lossy(page.body()).into_owned();
    let xsrf = form_input(&html, "xsrf").expect("the confirmation form has an xsrf field");
    let confirm = format!("{}/session/end/confirm", issuer());
    let answer = browser
        .post_form(&confirm, &[("xsrf", &xsrf), ("logout", "yes")])
        .unwrap();
    match browser.follow(&confirm, answer, Some(LOGGED_OUT)).unwrap() {
        Hop::Stopped(back) => assert!(back.contains("state=bye-123"), "{back}"),
        Hop::Page { response, .. } => panic!("logout ended on HTTP {}", response.status()),
    }
}

#[test]
fn key_rotation_mid_session_fetches_the_keys_once_more() {
    let _rsa = RSA_KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let client = test_client();
    // A short refetch interval, so the test need not wait a minute; the rule is the same.
    let mut cache = JwksCache::for_provider(client.provider())
        .unwrap()
        .with_min_refetch(1);
    let fetches = Cell::new(0);
    let (_, pending, set) = login(&client, openid_request());
    let first = validate(&client, &mut cache, &pending, &set, &fetches);
    assert_eq!(fetches.get(), 1);
    let old_kid = verify(
        &mut cache,
        set.id_token().unwrap().secret(),
        &[Algorithm::Rs256],
        &fetches,
    )
    .kid()
    .map(str::to_owned);

    let rotate = http::Request::post(format!("{}/admin/rotate-keys", issuer()))
        .body(Vec::new())
        .unwrap();
    let rotated = send(&rotate).unwrap();
    assert_eq!(rotated.status(), 200);
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let (_, pending, set) = login(&client, openid_request());
    let second = validate(&client, &mut cache, &pending, &set, &fetches);
    assert_eq!(fetches.get(), 2, "one refetch for the new kid");
    let new_kid = verify(
        &mut cache,
        set.id_token().unwrap().secret(),
        &[Algorithm::Rs256],
        &fetches,
    )
    .kid()
    .map(str::to_owned);
    assert_ne!(old_kid, new_kid, "the new token names the new key");
    assert_eq!(first.sub(), second.sub());
    assert_eq!(fetches.get(), 2);

    // Within the refetch interval, a token naming a key nobody published is refused without
    // another request: the driver loop always ends.
    let mut strict = JwksCache::for_provider(client.provider()).unwrap();
    let forged = SigningKey::from_jwk(
        r#"{"kty":"OKP","crv":"Ed25519","kid":"not-published","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    )
    .unwrap()
    .sign_payload(&Default::default(), b"{}")
    .unwrap();
    let before = fetches.get();
    assert!(matches!(
        strict.verify(&forged, &[Algorithm::EdDsa], now()).unwrap(),
        JwksStep::Fetch
    ));
    strict
        .receive(&send(&strict.request()).unwrap(), now())
        .unwrap();
    let err = strict
        .verify(&forged, &[Algorithm::EdDsa], now())
        .unwrap_err();
    assert_eq!(err.kind(), "jws");
    assert_eq!(fetches.get(), before);
}

#[test]
fn private_key_jwt_code_flow_client_credentials_and_introspection() {
    let client = jwt_client();
    assert_eq!(client.auth_method(), Some(ClientAuthMethod::PrivateKeyJwt));
    let mut cache = JwksCache::for_provider(client.provider()).unwrap();
    let fetches = Cell::new(0);
    let (_, pending, set) = login(&client, openid_request());
    let claims = validate(&client, &mut cache, &pending, &set, &fetches);
    assert_eq!(claims.algorithm(), Algorithm::Es256);
    assert_eq!(claims.audiences(), ["jwt-client"]);

    // Two assertions in a row: oidc-provider refuses a replayed jti, so both being accepted
    // shows they differ.
    for _ in 0..2 {
        let request = client.client_credentials_request(&[], now()).unwrap();
        let body = String::from_utf8(request.body().clone()).unwrap();
        assert!(body.contains("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"));
        assert!(request.headers().get(http::header::AUTHORIZATION).is_none());
        let cc = tokens(&request);
        assert_eq!(cc.token_type(), "Bearer");
        let intro = client
            .introspection_request(
                cc.access_token().secret(),
                Some(TokenTypeHint::AccessToken),
                None,
                now(),
            )
            .unwrap();
        let intro = Introspection::from_response(&send(&intro).unwrap()).unwrap();
        assert!(intro.active);
        assert_eq!(intro.client_id.as_deref(), Some("jwt-client"));
    }
    // A wrong key is refused by the server.
    let wrong = Client::new(provider(), "jwt-client").with_signing_key(
        SigningKey::from_jwk(
            r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#,
        )
        .unwrap(),
    );
    let err = TokenSet::from_response(
        &send(&wrong.client_credentials_request(&[], now()).unwrap()).unwrap(),
        now(),
    )
    .unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_client"));
}

#[test]
fn client_secret_jwt_code_flow_and_client_credentials() {
    let client = secret_jwt_client();
    let mut cache = JwksCache::for_provider(client.provider()).unwrap();
    let fetches = Cell::new(0);
    let (_, pending, set) = login(&client, openid_request());
    let claims = validate(&client, &mut cache, &pending, &set, &fetches);
    assert_eq!(claims.algorithm(), Algorithm::EdDsa);
    for _ in 0..2 {
        let cc = tokens(&client.client_credentials_request(&[], now()).unwrap());
        assert!(!cc.access_token().secret().is_empty());
    }
    // A secret shorter than 256 bits is refused before anything is sent (RFC 7518 §3.2).
    let short = Client::new(provider(), "secret-jwt-client")
        .with_secret("short")
        .with_auth_method(ClientAuthMethod::SecretJwt);
    assert_eq!(
        short
            .client_credentials_request(&[], now())
            .unwrap_err()
            .kind(),
        "invalid_key"
    );
}

#[test]
fn resource_indicator_gives_a_jwt_access_token_signed_by_the_published_keys() {
    let _rsa = RSA_KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let client = test_client();
    let request = client
        .grant_request(
            &GrantRequest::client_credentials(["api:read"]).param("resource", JWT_API),
            now(),
        )
        .unwrap();
    let set = tokens(&request);
    let jwks = send(
        &JwksCache::for_provider(client.provider())
            .unwrap()
            .request(),
    )
    .unwrap();
    let keys = JwkSet::from_json(std::str::from_utf8(jwks.body()).unwrap()).unwrap();
    let verified = keys
        .verify(set.access_token().secret(), &Algorithm::ASYMMETRIC)
        .unwrap();
    assert_eq!(verified.header()["typ"], "at+jwt", "RFC 9068");
    let claims = verified.claims().unwrap();
    assert_eq!(claims["aud"], JWT_API);
    assert_eq!(claims["client_id"], "test-client");
}

#[test]
fn token_exchange_with_repeated_resource_and_audience() {
    for client in [test_client(), jwt_client()] {
        let subject = tokens(
            &client
                .grant_request(
                    &GrantRequest::client_credentials(["api:read"]).param("resource", API),
                    now(),
                )
                .unwrap(),
        );
        let mut exchange = TokenExchange::new(
            SecurityToken::new(subject.access_token().secret()),
            token_type::ACCESS_TOKEN,
        );
        exchange.resource = vec![API.into(), JWT_API.into()];
        exchange.audience = vec!["billing".into(), "reports".into()];
        exchange.requested_token_type = Some(token_type::ACCESS_TOKEN.into());
        let request = client
            .grant_request(&GrantRequest::token_exchange(exchange), now())
            .unwrap();
        let set = tokens(&request);
        assert_eq!(set.issued_token_type(), Some(token_type::ACCESS_TOKEN));
        let echo = &set.extra()["exchanged"];
        assert_eq!(echo["resource"], serde_json::json!([API, JWT_API]));
        assert_eq!(echo["audience"], serde_json::json!(["billing", "reports"]));
        assert_eq!(echo["subject_client"], client.client_id());
        assert_eq!(echo["requested_token_type"], token_type::ACCESS_TOKEN);

        // A subject token the server never issued: its own error, as sent.
        let bogus = TokenExchange::new(SecurityToken::new("not-a-token"), token_type::ACCESS_TOKEN);
        let err = TokenSet::from_response(
            &send(
                &client
                    .grant_request(&GrantRequest::token_exchange(bogus), now())
                    .unwrap(),
            )
            .unwrap(),
            now(),
        )
        .unwrap_err();
        assert_eq!(err.oauth_code(), Some("invalid_grant"));
    }
}
