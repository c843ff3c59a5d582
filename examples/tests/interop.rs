//! grantline against real authorization servers: oidc-provider 9, Authlib (Flask) and
//! oauth2-mock-server, started on 127.0.0.1 by `tests/interop/servers.sh`.
//!
//! ```text
//! tests/interop/servers.sh run -- cargo test -p grantline-examples --features interop --test interop
//! ```
//!
//! Built only with the `interop` feature. With it, a missing `GRANTLINE_OIDC_URL`,
//! `GRANTLINE_AUTHLIB_URL` or `GRANTLINE_MOCK_URL` fails the test that needs it (no silent skip).
//! The tests share the servers and run in parallel, so each one uses its own tokens and codes.
// Tests fail by panicking: the workspace lints against unwrap/expect/panic/indexing guard
// library code, not test code.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::Cell;
use std::time::{Duration, Instant};

use grantline::bearer::{authorization_header, bearer_challenge, needs_renewal};
use grantline::{
    check_revocation_response, AccessToken, AuthorizationRequest, BodyEncoding, Client,
    ClientAuthMethod, DeviceAuthorization, DevicePoll, Error, GrantType, Introspection, Next,
    Password, Provider, TokenSession, TokenSet, TokenTypeHint,
};
use grantline_examples::{form_input, now, send, Browser, Hop};
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};

/// The redirect URI registered at every server (nothing listens there: the browser stops).
const CALLBACK: &str = "http://127.0.0.1:8765/callback";
/// The resource indicator that makes oidc-provider issue opaque, introspectable tokens.
const API: &str = "urn:example:api";

// ------------------------------------------------------------------------------- servers

fn server(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
        _ => panic!(
            "{var} is not set: run these tests under \
             `tests/interop/servers.sh run -- cargo test -p grantline-examples --features interop --test interop`"
        ),
    }
}

fn discover(url: &str) -> Provider {
    grantline_examples::discover(url).unwrap()
}

fn oidc_url() -> String {
    server("GRANTLINE_OIDC_URL")
}
fn authlib_url() -> String {
    server("GRANTLINE_AUTHLIB_URL")
}
fn mock_url() -> String {
    server("GRANTLINE_MOCK_URL")
}

/// oidc-provider, discovered from its issuer (it answers the RFC 8414 URL with 404, so the
/// OpenID Connect one is tried next).
fn oidc() -> Provider {
    discover(&oidc_url())
}

/// Authlib, from the full URL of its RFC 8414 metadata (the issuer is derived from it).
fn authlib() -> Provider {
    discover(&format!(
        "{}/.well-known/oauth-authorization-server",
        authlib_url()
    ))
}

/// oauth2-mock-server. Its metadata lists only `none` as token endpoint auth method although
/// it checks test-client's secret (basic or post): use Basic, as a user of it would.
fn mock() -> Provider {
    discover(&mock_url())
        .to_builder()
        .auth_method(ClientAuthMethod::Basic)
        .build()
        .unwrap()
}

fn confidential(provider: Provider) -> Client {
    Client::new(provider, "test-client")
        .with_secret("test-secret")
        .with_redirect_uri(CALLBACK)
}

fn public(provider: Provider) -> Client {
    Client::new(provider, "public-client").with_redirect_uri(CALLBACK)
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

// ------------------------------------------------------------------------------- helpers

/// Sends a token request and parses the answer.
fn tokens(request: &http::Request<Vec<u8>>) -> Result<TokenSet, Error> {
    TokenSet::from_response(&send(request)?, now())
}

/// The token-request error a test expects, with its HTTP status.
fn refused(request: &http::Request<Vec<u8>>) -> (String, u16) {
    match tokens(request) {
        Ok(t) => panic!("expected an OAuth error, got tokens {t:?}"),
        Err(e) => (
            e.oauth_code()
                .unwrap_or_else(|| panic!("expected an OAuth error, got {e:?}"))
                .to_owned(),
            e.status().unwrap_or_default(),
        ),
    }
}

/// The request body as form pairs (or JSON members).
fn body_params(request: &http::Request<Vec<u8>>) -> Vec<(String, String)> {
    if request.headers()[CONTENT_TYPE] == "application/json" {
        let v: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    } else {
        form_urlencoded::parse(request.body())
            .into_owned()
            .collect()
    }
}

fn param(request: &http::Request<Vec<u8>>, name: &str) -> Option<String> {
    body_params(request)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// `GET url` with `Authorization: Bearer <token>` (or none).
fn call_api(url: &str, token: Option<&AccessToken>) -> http::Response<Vec<u8>> {
    let mut request = http::Request::get(url);
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, authorization_header(token).unwrap());
    }
    send(&request.body(Vec::new()).unwrap()).unwrap()
}

fn authlib_me(token: Option<&AccessToken>) -> http::Response<Vec<u8>> {
    call_api(&format!("{}/api/me", authlib_url()), token)
}

fn json(response: &http::Response<Vec<u8>>) -> serde_json::Value {
    serde_json::from_slice(response.body()).unwrap()
}

fn introspect(client: &Client, token: &str, hint: Option<TokenTypeHint>) -> Introspection {
    let request = client
        .introspection_request(token, hint, None, grantline_examples::now())
        .unwrap();
    Introspection::from_response(&send(&request).unwrap()).unwrap()
}

fn revoke(client: &Client, token: &str, hint: Option<TokenTypeHint>) {
    let request = client
        .revocation_request(token, hint, grantline_examples::now())
        .unwrap();
    check_revocation_response(&send(&request).unwrap()).unwrap();
}

/// The authorization code flow up to the code exchange request: authorization URL, the
/// scripted browser (redirects followed by hand with a cookie jar; the servers auto-approve
/// login and consent), the callback checked against the pending authorization.
fn authorize(client: &Client, request: &AuthorizationRequest) -> (String, http::Request<Vec<u8>>) {
    let auth = client.authorization_url(request).unwrap();
    let callback = Browser::new().authorize(&auth.url, CALLBACK).unwrap();
    let grant = client.callback(&auth.pending, &callback).unwrap();
    (
        callback,
        client
            .authorization_code_request(&grant, grantline_examples::now())
            .unwrap(),
    )
}

/// What oidc-provider needs to hand out a refresh token and an opaque access token.
fn oidc_request() -> AuthorizationRequest {
    AuthorizationRequest::new()
        .scopes(["openid", "offline_access", "api:read"])
        .param("resource", API)
        .param("prompt", "consent")
}

fn authlib_request() -> AuthorizationRequest {
    AuthorizationRequest::new().scopes(["read", "profile"])
}

/// Hands renewal `id`'s response to the session: it must succeed; the token set is "persisted".
fn complete(
    session: &mut TokenSession,
    id: u64,
    response: &http::Response<Vec<u8>>,
) -> grantline::Renewed {
    let done = session.receive(id, response, now()).unwrap();
    assert!(done.error.is_none(), "renewal failed: {:?}", done.error);
    assert!(session.delivered(id));
    done.renewed.unwrap()
}

/// Drives a session until it yields a token, sending what it asks and counting the requests.
fn drive(session: &mut TokenSession, sent: &Cell<u32>) -> AccessToken {
    for _ in 0..3 {
        match session.next(now()).unwrap() {
            Next::Ready(token) => return token,
            Next::Send { id, request, .. } => {
                sent.set(sent.get() + 1);
                complete(session, id, &send(&request).unwrap());
            }
            Next::Wait { id } => panic!("nothing else is renewing, yet told to wait on #{id}"),
        }
    }
    panic!("the session did not settle on a token")
}

// ------------------------------------------------------------------- client credentials

fn assert_basic_then_body(provider: Provider, scope: &[&str]) -> (TokenSet, TokenSet) {
    let basic = confidential(provider.clone());
    assert_eq!(basic.auth_method(), Some(ClientAuthMethod::Basic));
    let request = basic
        .client_credentials_request(&scopes(scope), grantline_examples::now())
        .unwrap();
    assert!(request.headers()[AUTHORIZATION]
        .to_str()
        .unwrap()
        .starts_with("Basic "));
    assert_eq!(param(&request, "client_secret"), None);
    let via_basic = tokens(&request).unwrap();

    let body = confidential(provider).with_auth_method(ClientAuthMethod::Body);
    let request = body
        .client_credentials_request(&scopes(scope), grantline_examples::now())
        .unwrap();
    assert!(request.headers().get(AUTHORIZATION).is_none());
    assert_eq!(param(&request, "client_id").as_deref(), Some("test-client"));
    assert_eq!(
        param(&request, "client_secret").as_deref(),
        Some("test-secret")
    );
    let via_body = tokens(&request).unwrap();

    for t in [&via_basic, &via_body] {
        assert_eq!(t.token_type(), "Bearer");
        assert!(
            t.refresh_token().is_none(),
            "client credentials: no refresh token"
        );
        let lifetime = t.lifetime().expect("the servers send expires_in");
        assert!((3590..=3600).contains(&lifetime), "lifetime {lifetime}");
    }
    (via_basic, via_body)
}

#[test]
fn client_credentials_oidc_provider_basic_and_body() {
    let (basic, body) = assert_basic_then_body(oidc(), &["api:read"]);
    assert!(!basic.access_token().ct_eq(body.access_token().secret()));
    for t in [basic, body] {
        assert_eq!(t.scopes().unwrap(), ["api:read"]);
    }
}

#[test]
fn client_credentials_authlib_basic_and_body_and_the_token_opens_the_api() {
    let (basic, body) = assert_basic_then_body(authlib(), &["read"]);
    assert!(!basic.access_token().ct_eq(body.access_token().secret()));
    for t in [basic, body] {
        assert_eq!(t.scopes().unwrap(), ["read"]);
        let me = authlib_me(Some(t.access_token()));
        assert_eq!(me.status(), 200);
        assert_eq!(json(&me)["client_id"], "test-client");
    }
}

#[test]
fn client_credentials_mock_basic_and_body() {
    // (The mock signs the same claims within one second into the same JWT: the two tokens
    // may be equal, so unlike the other servers that is not asserted.)
    let (basic, _) = assert_basic_then_body(mock(), &["api"]);
    assert_eq!(basic.expiry_source(), grantline::ExpirySource::ExpiresIn);
}

// ------------------------------------------------------------------- authorization code

#[test]
fn authorization_code_pkce_oidc_provider_with_scripted_consent() {
    let provider = oidc();
    assert!(
        provider.iss_parameter_supported(),
        "oidc-provider announces RFC 9207 iss"
    );
    let client = confidential(provider);
    let (callback, exchange) = authorize(&client, &oidc_request());
    assert!(
        callback.contains(&format!(
            "iss={}",
            form_urlencoded::byte_serialize(oidc_url().as_bytes()).collect::<String>()
        )),
        "the callback carries iss, which Client::callback checked"
    );
    assert!(param(&exchange, "code_verifier").is_some());
    let t = tokens(&exchange).unwrap();
    assert!(
        t.refresh_token().is_some(),
        "offline_access + prompt=consent"
    );
    assert!(t.id_token().is_some(), "openid");
    // With a resource indicator, oidc-provider's `scope` lists the access token's scopes for
    // that resource only (openid and offline_access show as the ID and refresh tokens).
    assert_eq!(t.scopes().unwrap(), ["api:read"]);
    assert_eq!(t.lifetime(), Some(3600));

    // The opaque access token is the one oidc-provider introspects for its API.
    let info = introspect(
        &client,
        t.access_token().secret(),
        Some(TokenTypeHint::AccessToken),
    );
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("test-client"));
    assert_eq!(info.sub.as_deref(), Some("alice"));

    // An authorization code is single use.
    let (code, status) = refused(&exchange);
    assert_eq!((code.as_str(), status), ("invalid_grant", 400));
}

#[test]
fn authorization_code_pkce_oidc_provider_public_client() {
    let client = public(oidc());
    assert_eq!(client.auth_method(), Some(ClientAuthMethod::None));
    let (_, exchange) = authorize(
        &client,
        &AuthorizationRequest::new().scopes(["openid", "profile"]),
    );
    assert!(exchange.headers().get(AUTHORIZATION).is_none());
    assert_eq!(
        param(&exchange, "client_id").as_deref(),
        Some("public-client")
    );
    assert_eq!(param(&exchange, "client_secret"), None);
    let t = tokens(&exchange).unwrap();
    assert!(t.id_token().is_some());
}

#[test]
fn authorization_code_pkce_authlib_and_reused_code() {
    let client = confidential(authlib());
    let (callback, exchange) = authorize(&client, &authlib_request());
    assert!(
        !callback.contains("iss="),
        "Authlib sends no iss, and does not announce it"
    );
    let t = tokens(&exchange).unwrap();
    assert!(t.refresh_token().is_some());
    assert_eq!(t.scopes().unwrap(), ["read", "profile"]);
    let me = authlib_me(Some(t.access_token()));
    assert_eq!(me.status(), 200);
    assert_eq!(json(&me)["sub"], "alice");

    let (code, status) = refused(&exchange);
    assert_eq!((code.as_str(), status), ("invalid_grant", 400));
}

#[test]
fn authorization_code_pkce_authlib_public_client() {
    let client = public(authlib());
    let (_, exchange) = authorize(&client, &authlib_request());
    assert!(exchange.headers().get(AUTHORIZATION).is_none());
    assert_eq!(param(&exchange, "client_secret"), None);
    let t = tokens(&exchange).unwrap();
    assert_eq!(authlib_me(Some(t.access_token())).status(), 200);
}

#[test]
fn authorization_code_mock_reused_code_is_invalid_grant() {
    let client = confidential(mock());
    let (_, exchange) = authorize(&client, &AuthorizationRequest::new().scopes(["openid"]));
    tokens(&exchange).unwrap();
    let (code, status) = refused(&exchange);
    assert_eq!((code.as_str(), status), ("invalid_grant", 400));
}

#[test]
fn callback_with_a_foreign_state_is_refused_before_any_request() {
    let client = confidential(authlib());
    let auth = client.authorization_url(&authlib_request()).unwrap();
    let callback = Browser::new().authorize(&auth.url, CALLBACK).unwrap();
    let other = client.authorization_url(&authlib_request()).unwrap();
    assert_eq!(
        client.callback(&other.pending, &callback).unwrap_err(),
        Error::StateMismatch
    );
    // The right pending authorization still accepts it (after a round trip through JSON).
    let restored = grantline::PendingAuthorization::from_json(&auth.pending.to_json()).unwrap();
    assert!(client.callback(&restored, &callback).is_ok());
}

// ------------------------------------------------------------------- refresh rotation

/// A session over tokens from a user grant; the API rejects the access token, the session
/// refreshes once, the refresh token rotates, and the old one is dead. `replay_kills_grant`:
/// whether the server then also revokes the new refresh token (reuse detection).
fn assert_rotation(client: &Client, first: TokenSet, replay_kills_grant: bool) {
    let old_refresh = first.refresh_token().unwrap().clone();
    let old_access = first.access_token().clone();
    let mut session = TokenSession::from_tokens(client.clone(), first);
    assert!(matches!(session.next(now()).unwrap(), Next::Ready(_)));
    assert!(session.reject(old_access.secret()));

    let Next::Send { id, request, .. } = session.next(now()).unwrap() else {
        panic!("a rejected token is renewed")
    };
    assert_eq!(
        param(&request, "grant_type").as_deref(),
        Some("refresh_token")
    );
    let done = session
        .receive(id, &send(&request).unwrap(), now())
        .unwrap();
    assert!(done.error.is_none(), "{:?}", done.error);
    let renewed = done.renewed.unwrap();
    assert!(session.delivered(id));
    assert!(renewed.refresh_token_rotated, "both servers rotate");
    let new_refresh = renewed.tokens.refresh_token().unwrap();
    assert!(!new_refresh.ct_eq(old_refresh.secret()));
    assert!(!renewed.tokens.access_token().ct_eq(old_access.secret()));
    let Next::Ready(token) = session.next(now()).unwrap() else {
        panic!("the renewed token is ready")
    };
    assert!(token.ct_eq(renewed.tokens.access_token().secret()));

    let (code, status) = refused(
        &client
            .refresh_request(&old_refresh, &[], grantline_examples::now())
            .unwrap(),
    );
    assert_eq!((code.as_str(), status), ("invalid_grant", 400));

    let after_replay = tokens(
        &client
            .refresh_request(new_refresh, &[], grantline_examples::now())
            .unwrap(),
    );
    if replay_kills_grant {
        assert_eq!(
            after_replay.unwrap_err().oauth_code(),
            Some("invalid_grant")
        );
    } else {
        assert!(after_replay.unwrap().refresh_token().is_some());
    }
}

#[test]
fn refresh_rotation_oidc_provider() {
    let client = confidential(oidc());
    let (_, exchange) = authorize(&client, &oidc_request());
    assert_rotation(&client, tokens(&exchange).unwrap(), true);
}

#[test]
fn oidc_provider_revoking_an_access_token_revokes_the_whole_grant() {
    let client = confidential(oidc());
    let (_, exchange) = authorize(&client, &oidc_request());
    let t = tokens(&exchange).unwrap();
    let refresh = t.refresh_token().unwrap();
    assert!(introspect(&client, refresh.secret(), Some(TokenTypeHint::RefreshToken)).active);
    revoke(
        &client,
        t.access_token().secret(),
        Some(TokenTypeHint::AccessToken),
    );
    assert!(!introspect(&client, refresh.secret(), Some(TokenTypeHint::RefreshToken)).active);
    let (code, _) = refused(
        &client
            .refresh_request(refresh, &[], grantline_examples::now())
            .unwrap(),
    );
    assert_eq!(code, "invalid_grant");
}

#[test]
fn refresh_rotation_authlib() {
    let client = confidential(authlib());
    let (_, exchange) = authorize(&client, &authlib_request());
    assert_rotation(&client, tokens(&exchange).unwrap(), false);
}

#[test]
fn a_session_whose_refresh_token_died_asks_for_reauthorization() {
    let client = confidential(authlib());
    let (_, exchange) = authorize(&client, &authlib_request());
    let first = tokens(&exchange).unwrap();
    revoke(
        &client,
        first.refresh_token().unwrap().secret(),
        Some(TokenTypeHint::RefreshToken),
    );
    let access = first.access_token().secret().to_owned();
    let mut session = TokenSession::from_tokens(client, first);
    session.reject(&access);
    let Next::Send { id, request, .. } = session.next(now()).unwrap() else {
        panic!("renewal expected")
    };
    let done = session
        .receive(id, &send(&request).unwrap(), now())
        .unwrap();
    assert_eq!(done.error.unwrap().oauth_code(), Some("invalid_grant"));
    // The set without the dead refresh token is handed out to persist.
    assert!(done.renewed.unwrap().tokens.refresh_token().is_none());
    assert!(session.delivered(id));
    assert_eq!(
        session.next(now()).unwrap_err(),
        Error::ReauthorizationRequired
    );
}

// ------------------------------------------------------------ introspection, revocation

#[test]
fn introspection_and_revocation_oidc_provider() {
    let client = confidential(oidc());
    let t = tokens(
        &client
            .client_credentials_request(&scopes(&["api:read"]), grantline_examples::now())
            .unwrap(),
    )
    .unwrap();
    let token = t.access_token().secret();

    let info = introspect(&client, token, Some(TokenTypeHint::AccessToken));
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("test-client"));
    assert_eq!(info.scopes.as_deref(), Some(&["api:read".to_owned()][..]));
    let (exp, expires_at) = (info.exp.unwrap(), t.expires_at().unwrap());
    assert!(
        exp.abs_diff(expires_at) <= 5,
        "exp {exp} vs expires_at {expires_at}"
    );

    revoke(&client, token, Some(TokenTypeHint::AccessToken));
    assert!(!introspect(&client, token, None).active);
    // RFC 7009: revoking again, or an unknown token, is still a success.
    revoke(&client, token, None);
    revoke(&client, "not-a-token-this-server-issued", None);
    assert!(!introspect(&client, "not-a-token-this-server-issued", None).active);
}

#[test]
fn introspection_and_revocation_authlib_then_the_api_says_renew() {
    let client = confidential(authlib());
    let t = tokens(
        &client
            .client_credentials_request(&scopes(&["read"]), grantline_examples::now())
            .unwrap(),
    )
    .unwrap();
    let token = t.access_token();

    let info = introspect(&client, token.secret(), Some(TokenTypeHint::AccessToken));
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("test-client"));
    assert_eq!(info.scopes.as_deref(), Some(&["read".to_owned()][..]));
    assert_eq!(authlib_me(Some(token)).status(), 200);

    revoke(&client, token.secret(), Some(TokenTypeHint::AccessToken));
    assert!(!introspect(&client, token.secret(), None).active);

    let me = authlib_me(Some(token));
    assert_eq!(me.status(), 401);
    let challenge = bearer_challenge(me.headers()).unwrap();
    assert_eq!(challenge.realm.as_deref(), Some("authlib"));
    assert_eq!(challenge.error.as_deref(), Some("invalid_token"));
    assert!(needs_renewal(401, me.headers()));
}

#[test]
fn introspection_and_revocation_mock() {
    let client = confidential(mock());
    let t = tokens(
        &client
            .client_credentials_request(&[], grantline_examples::now())
            .unwrap(),
    )
    .unwrap();
    assert!(introspect(&client, t.access_token().secret(), None).active);
    revoke(&client, t.access_token().secret(), None);
    assert!(!introspect(&client, t.access_token().secret(), None).active);
}

// ------------------------------------------------------------------------- device flow

/// What the user does on a second screen: open `verification_uri_complete`, confirm the code.
fn approve_device(device: &DeviceAuthorization) {
    let browser = Browser::new();
    let url = device.verification_uri_complete.as_deref().unwrap();
    let first = browser.get(url).unwrap();
    let Hop::Page { response: page, .. } = browser.follow(url, first, None).unwrap() else {
        unreachable!("no stop_at given")
    };
    let html = String::from_utf8_lossy(page.body()).into_owned();
    let xsrf = form_input(&html, "xsrf").expect("the confirm page has an xsrf field");
    let user_code = form_input(&html, "user_code").expect("and the user code");
    assert_eq!(
        user_code.replace('-', ""),
        device.user_code.replace('-', "")
    );
    let confirmed = browser
        .post_form(
            &device.verification_uri,
            &[
                ("xsrf", &xsrf),
                ("user_code", &user_code),
                ("confirm", "yes"),
            ],
        )
        .unwrap();
    let Hop::Page { response, url } = browser
        .follow(&device.verification_uri, confirmed, None)
        .unwrap()
    else {
        unreachable!("no stop_at given")
    };
    assert_eq!(response.status(), 200, "the device flow ended at {url}");
}

#[test]
fn device_flow_oidc_provider_pending_then_approved() {
    let client = confidential(oidc());
    assert!(client.provider().supports(GrantType::DeviceCode));
    let request = client
        .device_authorization_request(
            &scopes(&["openid", "offline_access"]),
            grantline_examples::now(),
        )
        .unwrap();
    let device = DeviceAuthorization::from_response(&send(&request).unwrap(), now()).unwrap();
    assert!(device.expires_at.unwrap() > now());
    assert!(device.verification_uri.ends_with("/device"));

    // The first poll, right away: the user has not approved yet.
    let poll = client
        .device_token_request(&device.device_code, grantline_examples::now())
        .unwrap();
    let mut interval = device.interval;
    let mut polled_at = Instant::now();
    match DevicePoll::from_response(&send(&poll).unwrap(), now(), interval).unwrap() {
        DevicePoll::Pending { interval: i } => interval = i,
        other => panic!("expected Pending, got {other:?}"),
    }

    approve_device(&device);

    // Poll again, waiting only what is left of the interval; back off on slow_down.
    let mut answers = Vec::new();
    let tokens = loop {
        assert!(answers.len() < 5, "no tokens after polls {answers:?}");
        let wait = Duration::from_secs(interval).saturating_sub(polled_at.elapsed());
        std::thread::sleep(wait);
        polled_at = Instant::now();
        match DevicePoll::from_response(&send(&poll).unwrap(), now(), interval).unwrap() {
            DevicePoll::Tokens(t) => break t,
            DevicePoll::Pending { interval: i } => {
                answers.push("pending");
                interval = i;
            }
            DevicePoll::SlowDown { interval: i } => {
                answers.push("slow_down");
                interval = i;
            }
            other => panic!("unexpected poll answer {other:?}"),
        }
    };
    assert!(
        tokens.refresh_token().is_some(),
        "offline_access was granted"
    );
    assert!(tokens.id_token().is_some());

    // A device code is single use.
    let err = DevicePoll::from_response(&send(&poll).unwrap(), now(), interval).unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_grant"));
}

// ------------------------------------------------------------------------ password grant

#[test]
fn password_grant_authlib_and_a_wrong_password() {
    let client = confidential(authlib());
    let request = client
        .password_request(
            "alice",
            &Password::new("wonderland"),
            &scopes(&["read"]),
            grantline_examples::now(),
        )
        .unwrap();
    let t = tokens(&request).unwrap();
    assert!(t.refresh_token().is_some());
    let me = authlib_me(Some(t.access_token()));
    assert_eq!(json(&me)["sub"], "alice");

    // Authlib answers a wrong password with invalid_request (RFC 6749 says invalid_grant).
    let wrong = client
        .password_request(
            "alice",
            &Password::new("looking-glass"),
            &scopes(&["read"]),
            grantline_examples::now(),
        )
        .unwrap();
    let (code, status) = refused(&wrong);
    assert_eq!((code.as_str(), status), ("invalid_request", 400));
}

#[test]
fn password_grant_mock_wrong_password_is_invalid_grant() {
    let client = confidential(mock());
    tokens(
        &client
            .password_request(
                "alice",
                &Password::new("wonderland"),
                &[],
                grantline_examples::now(),
            )
            .unwrap(),
    )
    .unwrap();
    let (code, status) = refused(
        &client
            .password_request(
                "alice",
                &Password::new("wrong"),
                &[],
                grantline_examples::now(),
            )
            .unwrap(),
    );
    assert_eq!((code.as_str(), status), ("invalid_grant", 400));
}

#[test]
fn password_session_renews_with_the_refresh_token_authlib() {
    let client = confidential(authlib());
    let mut session = TokenSession::new(
        client,
        grantline::SessionGrant::Password {
            username: "alice".into(),
            password: Password::new("wonderland"),
            scopes: scopes(&["read"]),
        },
    );
    let sent = Cell::new(0);
    let first = drive(&mut session, &sent);
    assert_eq!(sent.get(), 1);
    assert!(session.reject(first.secret()));
    let Next::Send { request, id, .. } = session.next(now()).unwrap() else {
        panic!("renewal expected")
    };
    assert_eq!(
        param(&request, "grant_type").as_deref(),
        Some("refresh_token")
    );
    let renewed = complete(&mut session, id, &send(&request).unwrap());
    assert!(renewed.refresh_token_rotated);
    assert_eq!(
        authlib_me(Some(renewed.tokens.access_token())).status(),
        200
    );
}

// ------------------------------------------------------------------------- JSON bodies

/// A provider that wants JSON bodies and an `audience` (as Bindeo and Auth0 do), played by
/// Authlib's token endpoint.
#[test]
fn json_bodies_with_an_audience_parameter_authlib() {
    let base = authlib_url();
    let provider = Provider::builder("json-authlib")
        .token_endpoint(format!("{base}/token"))
        .introspection_endpoint(format!("{base}/introspect"))
        .body_encoding(BodyEncoding::Json)
        .auth_method(ClientAuthMethod::Body)
        .extra_token_param("audience", "https://api.example.com")
        .grant(GrantType::ClientCredentials)
        .grant(GrantType::Password)
        .grant(GrantType::RefreshToken)
        .build()
        .unwrap();
    let client = confidential(provider);

    let request = client
        .client_credentials_request(&scopes(&["read"]), grantline_examples::now())
        .unwrap();
    assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
    let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body["grant_type"], "client_credentials");
    assert_eq!(body["audience"], "https://api.example.com");
    assert_eq!(body["client_secret"], "test-secret");
    let t = tokens(&request).unwrap();
    assert_eq!(authlib_me(Some(t.access_token())).status(), 200);

    // Introspection and the refresh grant travel as JSON too.
    let info = introspect(&client, t.access_token().secret(), None);
    assert!(info.active);
    let p = tokens(
        &client
            .password_request(
                "alice",
                &Password::new("wonderland"),
                &scopes(&["read"]),
                grantline_examples::now(),
            )
            .unwrap(),
    )
    .unwrap();
    let refresh = client
        .refresh_request(p.refresh_token().unwrap(), &[], grantline_examples::now())
        .unwrap();
    assert_eq!(refresh.headers()[CONTENT_TYPE], "application/json");
    assert!(tokens(&refresh).unwrap().refresh_token().is_some());

    let wrong = Client::new(client.provider().clone(), "test-client").with_secret("nope");
    let (code, _) = refused(
        &wrong
            .client_credentials_request(&[], grantline_examples::now())
            .unwrap(),
    );
    assert_eq!(code, "invalid_client");
}

#[test]
fn json_bodies_are_refused_by_oidc_provider() {
    // Why Form is the default: oidc-provider accepts only form bodies, as RFC 6749 says.
    let provider = oidc()
        .to_builder()
        .body_encoding(BodyEncoding::Json)
        .build()
        .unwrap();
    let (code, status) = refused(
        &confidential(provider)
            .client_credentials_request(&[], grantline_examples::now())
            .unwrap(),
    );
    assert_eq!((code.as_str(), status), ("invalid_request", 400));
}

// ------------------------------------------------------------------------- error paths

#[test]
fn invalid_client_on_every_server() {
    for (name, provider) in [
        ("oidc-provider", oidc()),
        ("authlib", authlib()),
        ("mock", mock()),
    ] {
        for method in [ClientAuthMethod::Basic, ClientAuthMethod::Body] {
            let client = Client::new(provider.clone(), "test-client")
                .with_secret("not-the-secret")
                .with_auth_method(method);
            let request = client
                .client_credentials_request(&[], grantline_examples::now())
                .unwrap();
            let response = send(&request).unwrap();
            let err = TokenSet::from_response(&response, now()).unwrap_err();
            assert_eq!(
                err.oauth_code(),
                Some("invalid_client"),
                "{name} {method:?}: {err:?}"
            );
            assert!(
                matches!(err.status(), Some(400 | 401)),
                "{name} {method:?}: {err:?}"
            );
            if method == ClientAuthMethod::Basic {
                assert_eq!(err.status(), Some(401), "{name}: RFC 6749 §5.2 for Basic");
                assert!(response.headers().contains_key(WWW_AUTHENTICATE), "{name}");
            }
        }
    }
}

#[test]
fn invalid_scope_oidc_provider_admin_and_mock_forbidden() {
    let (code, status) = refused(
        &confidential(oidc())
            .client_credentials_request(&scopes(&["admin"]), grantline_examples::now())
            .unwrap(),
    );
    assert_eq!((code.as_str(), status), ("invalid_scope", 400));
    let (code, status) = refused(
        &confidential(mock())
            .client_credentials_request(&scopes(&["api", "forbidden"]), grantline_examples::now())
            .unwrap(),
    );
    assert_eq!((code.as_str(), status), ("invalid_scope", 400));
}

#[test]
fn protected_resources_answer_401_with_a_bearer_challenge() {
    let garbage = AccessToken::new("garbage-token");
    let me = authlib_me(Some(&garbage));
    assert_eq!(me.status(), 401);
    let challenge = bearer_challenge(me.headers()).unwrap();
    assert_eq!(challenge.error.as_deref(), Some("invalid_token"));
    assert!(needs_renewal(me.status().as_u16(), me.headers()));

    let userinfo = format!("{}/userinfo", mock_url());
    for token in [None, Some(&garbage)] {
        let r = call_api(&userinfo, token);
        assert_eq!(r.status(), 401);
        let c = bearer_challenge(r.headers()).unwrap();
        assert_eq!(c.realm.as_deref(), Some("mock"));
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert!(needs_renewal(401, r.headers()));
    }
}

#[test]
fn redirects_are_never_followed() {
    // GET /authorize answers a redirect: the transport hands it back as it came.
    let client = confidential(authlib());
    let auth = client.authorization_url(&authlib_request()).unwrap();
    let r = grantline_examples::get(&auth.url).unwrap();
    assert!(r.status().is_redirection());
    assert!(r.headers()[http::header::LOCATION]
        .to_str()
        .unwrap()
        .starts_with(CALLBACK));
}

// ----------------------------------------------------------------- TokenSession, end to end

fn assert_session_renews_once(client: Client, scope: &[&str], api: Option<&str>) {
    let mut session = TokenSession::client_credentials(client, scopes(scope));
    let sent = Cell::new(0u32);

    let Next::Send { id, request, .. } = session.next(now()).unwrap() else {
        panic!("a new session must fetch a token")
    };
    assert!(matches!(session.next(now()).unwrap(), Next::Wait { id: w } if w == id));
    sent.set(sent.get() + 1);
    let renewed = complete(&mut session, id, &send(&request).unwrap());
    assert!(!renewed.refresh_token_rotated);
    let Next::Ready(first) = session.next(now()).unwrap() else {
        panic!("ready after the first token")
    };
    assert!(first.ct_eq(renewed.tokens.access_token().secret()));
    if let Some(api) = api {
        assert_eq!(call_api(api, Some(&first)).status(), 200);
    }
    // Still fresh: no request.
    assert_eq!(drive(&mut session, &sent).secret(), first.secret());
    assert_eq!(sent.get(), 1);

    // Three callers see the API refuse the same token: one renewal.
    assert!(session.reject(first.secret()));
    assert!(session.reject(first.secret()));
    let Next::Send { id, request, .. } = session.next(now()).unwrap() else {
        panic!("a rejected token is renewed")
    };
    assert!(matches!(session.next(now()).unwrap(), Next::Wait { .. }));
    assert!(!session.reject("some-other-token"));
    sent.set(sent.get() + 1);
    complete(&mut session, id, &send(&request).unwrap());
    assert!(!session.reject(first.secret()), "stale: already renewed");
    let second = drive(&mut session, &sent);
    assert!(!second.ct_eq(first.secret()));
    assert_eq!(sent.get(), 2, "exactly one renewal");
    if let Some(api) = api {
        assert_eq!(call_api(api, Some(&second)).status(), 200);
    }
}

#[test]
fn token_session_client_credentials_authlib() {
    let api = format!("{}/api/me", authlib_url());
    assert_session_renews_once(confidential(authlib()), &["read"], Some(&api));
}

#[test]
fn token_session_client_credentials_oidc_provider() {
    assert_session_renews_once(confidential(oidc()), &["api:read"], None);
}

#[test]
fn token_session_renews_after_a_real_401() {
    // The full loop: the API says 401 invalid_token (the token was revoked behind our back),
    // needs_renewal says so, reject() + next() renew once, the API accepts the new token.
    let client = confidential(authlib());
    let mut session = TokenSession::client_credentials(client.clone(), scopes(&["read"]));
    let sent = Cell::new(0);
    let token = drive(&mut session, &sent);
    revoke(&client, token.secret(), Some(TokenTypeHint::AccessToken));
    let me = authlib_me(Some(&token));
    assert!(needs_renewal(me.status().as_u16(), me.headers()));
    assert!(session.reject(token.secret()));
    let fresh = drive(&mut session, &sent);
    assert_eq!(sent.get(), 2);
    assert_eq!(authlib_me(Some(&fresh)).status(), 200);
}
