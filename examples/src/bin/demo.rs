//! grantline, end to end, against the local interop servers: every grant, a renewal,
//! introspection, revocation, the device flow and a few error paths, each step printed with its
//! secrets redacted.
//!
//! ```text
//! tests/interop/servers.sh run -- cargo run -p grantline-examples --bin demo
//! ```
//!
//! It needs `GRANTLINE_OIDC_URL` (oidc-provider) and `GRANTLINE_AUTHLIB_URL` (Authlib), which
//! `servers.sh` exports. It exits non-zero when any step fails, and also when any secret it
//! handled (client secret, password, token, code, verifier, state) shows up in its own output.

use std::error::Error as StdError;
use std::fmt::Display;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use grantline::bearer::{authorization_header, bearer_challenge, needs_renewal};
use grantline::redact::is_secret_param;
use grantline::{
    check_revocation_response, AccessToken, AuthorizationRequest, Client, ClientAuthMethod,
    DeviceAuthorization, DevicePoll, Error, Introspection, Next, Password, Provider, RefreshToken,
    Renewed, SessionGrant, TokenSession, TokenSet, TokenTypeHint,
};
use grantline_examples::{form_input, now, Browser, Hop, Transport};
use http::header::{AUTHORIZATION, CONTENT_TYPE};

/// The redirect URI registered at both servers (nothing listens there: the browser stops).
const CALLBACK: &str = "http://127.0.0.1:8765/callback";
const CLIENT_ID: &str = "test-client";
const CLIENT_SECRET: &str = "test-secret";
const USERNAME: &str = "alice";
const PASSWORD: &str = "wonderland";

type Outcome<T = ()> = Result<T, Box<dyn StdError>>;

fn fail<T>(message: impl Display) -> Outcome<T> {
    Err(message.to_string().into())
}

/// The token set a renewal produced, or its error.
fn renewed(done: grantline::session::Completion) -> Outcome<Renewed> {
    if let Some(e) = done.error {
        return Err(e.into());
    }
    done.renewed
        .ok_or_else(|| "the renewal produced no token set".into())
}

fn check(condition: bool, message: impl Display) -> Outcome {
    if condition {
        Ok(())
    } else {
        fail(message)
    }
}

fn main() -> ExitCode {
    let mut demo = Demo::new();
    demo.banner();
    let urls = (
        std::env::var("GRANTLINE_OIDC_URL"),
        std::env::var("GRANTLINE_AUTHLIB_URL"),
    );
    let (Ok(oidc_url), Ok(authlib_url)) = urls else {
        demo.say("GRANTLINE_OIDC_URL and GRANTLINE_AUTHLIB_URL must be set; run me as");
        demo.say("  tests/interop/servers.sh run -- cargo run -p grantline-examples --bin demo");
        return ExitCode::FAILURE;
    };
    let (oidc_url, authlib_url) = (
        oidc_url.trim_end_matches('/').to_owned(),
        authlib_url.trim_end_matches('/').to_owned(),
    );

    let mut providers = None;
    demo.run("1. Discovery", |d| {
        let oidc = d.discover("oidc-provider", &oidc_url)?;
        let authlib = d.discover("Authlib", &authlib_url)?;
        providers = Some((oidc, authlib));
        Ok(())
    });
    let Some((oidc, authlib)) = providers else {
        return demo.finish();
    };
    let oidc_client = Client::new(oidc, CLIENT_ID)
        .with_secret(CLIENT_SECRET)
        .with_redirect_uri(CALLBACK);
    let authlib_client = Client::new(authlib, CLIENT_ID)
        .with_secret(CLIENT_SECRET)
        .with_redirect_uri(CALLBACK);
    let api = format!("{authlib_url}/api/me");

    demo.run(
        "2. Client credentials · oidc-provider · client_secret_basic",
        |d| client_credentials_by_hand(d, &oidc_client),
    );
    demo.run(
        "3. Client credentials · Authlib · client_secret_post via TokenSession",
        |d| client_credentials_session(d, &authlib_client, &api),
    );
    let mut user_tokens = None;
    demo.run(
        "4. Authorization code + PKCE · oidc-provider · scripted login and consent",
        |d| {
            user_tokens = Some(authorization_code(d, &oidc_client)?);
            Ok(())
        },
    );
    let mut renewed = None;
    demo.run(
        "5. Renewal · oidc-provider · TokenSession with refresh token rotation",
        |d| {
            let Some(tokens) = user_tokens.take() else {
                return fail("no tokens: the authorization code section failed");
            };
            renewed = Some(renewal(d, &oidc_client, tokens)?);
            Ok(())
        },
    );
    demo.run(
        "6. Introspection · oidc-provider · the renewed user tokens",
        |d| {
            let Some((tokens, _)) = &renewed else {
                return fail("no tokens: the renewal section failed");
            };
            introspection(d, &oidc_client, tokens)
        },
    );
    demo.run(
        "7. Replaying a rotated refresh token · oidc-provider",
        |d| {
            let Some((tokens, old_refresh)) = &renewed else {
                return fail("no tokens: the renewal section failed");
            };
            replay(d, &oidc_client, tokens, old_refresh)
        },
    );
    demo.run("8. Revocation · oidc-provider", |d| {
        revocation(d, &oidc_client)
    });
    demo.run("9. Device authorization grant · oidc-provider", |d| {
        device_flow(d, &oidc_client)
    });
    demo.run("10. Password grant · Authlib · then a renewal", |d| {
        password_grant(d, &authlib_client, &api)
    });
    demo.run("11. Error paths", |d| {
        error_paths(d, &oidc_client, &authlib_client, &api)
    });
    demo.finish()
}

// ------------------------------------------------------------------------------ sections

fn client_credentials_by_hand(d: &mut Demo, client: &Client) -> Outcome {
    d.step("Build the request with Client::client_credentials_request and send it:");
    let request =
        client.client_credentials_request(&["api:read".to_owned()], grantline_examples::now())?;
    let response = d.send(&request)?;
    let tokens = TokenSet::from_response(&response, now())?;
    d.tokens(&tokens);
    check(
        tokens.refresh_token().is_none(),
        "client credentials should bring no refresh token",
    )
}

fn client_credentials_session(d: &mut Demo, client: &Client, api: &str) -> Outcome {
    let client = client.clone().with_auth_method(ClientAuthMethod::Body);
    let mut session = TokenSession::client_credentials(client, vec!["read".to_owned()]);
    let Next::Send { id, request, .. } = session.next(now())? else {
        return fail("a new session should ask for a token first");
    };
    d.step(&format!(
        "session.next(now) → Next::Send {{ id: {id}, .. }}: no token yet, fetch one"
    ));
    let response = d.send(&request)?;
    let renewed = renewed(session.receive(id, &response, now())?)?;
    d.step(&format!(
        "session.receive(..) → Completion {{ renewed: Renewed {{ refresh_token_rotated: {} }} }}",
        renewed.refresh_token_rotated
    ));
    d.tokens(&renewed.tokens);
    session.delivered(id);
    d.detail("persisted; session.delivered(id)");
    let Next::Ready(token) = session.next(now())? else {
        return fail("the session should be ready");
    };
    d.step("session.next(now) → Next::Ready(token): call the API with it");
    let me = d.call_api(api, &token)?;
    check(
        me.status() == 200,
        format!("the API answered {}", me.status()),
    )?;
    d.json_body(&me);
    Ok(())
}

fn authorization_code(d: &mut Demo, client: &Client) -> Outcome<TokenSet> {
    let request = AuthorizationRequest::new()
        .scopes(["openid", "offline_access", "api:read"])
        .param("resource", "urn:example:api")
        .param("prompt", "consent");
    let auth = client.authorization_url(&request)?;
    d.secret(auth.pending.state().secret());
    if let Some(verifier) = auth.pending.code_verifier() {
        d.secret(verifier.secret());
    }
    d.step("Client::authorization_url → send the user to:");
    d.url(&auth.url);
    d.detail(&format!(
        "keep the pending authorization (state {}, PKCE verifier {}) until the callback",
        auth.pending.state(),
        auth.pending
            .code_verifier()
            .map_or_else(|| "none".to_owned(), ToString::to_string)
    ));

    d.step("The \"user\" (a scripted browser with a cookie jar) logs in and consents:");
    let browser = Browser::new();
    let mut url = auth.url.clone();
    let mut response = browser.get(&url)?;
    let callback = loop {
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(location) = location.filter(|_| response.status().is_redirection()) else {
            return fail(format!(
                "the browser stopped at HTTP {} instead of reaching the callback",
                response.status()
            ));
        };
        let next = grantline_examples::resolve(&url, &location)?;
        let shown = redact_url(d, &url);
        let path = shown.split_once('?').map_or(shown.as_str(), |(p, _)| p);
        d.detail(&format!(
            "GET {path} → {} redirect",
            response.status().as_u16()
        ));
        if next.starts_with(CALLBACK) {
            break next;
        }
        response = browser.get(&next)?;
        url = next;
    };
    d.step("The browser lands on the callback (nothing listens there; the app takes the URL):");
    d.url(&callback);
    let grant = client.callback(&auth.pending, &callback)?;
    d.detail("Client::callback: state matches, iss names the provider's issuer, code taken");
    d.step("Exchange the code (with the PKCE verifier):");
    let response =
        d.send(&client.authorization_code_request(&grant, grantline_examples::now())?)?;
    let tokens = TokenSet::from_response(&response, now())?;
    d.tokens(&tokens);
    check(
        tokens.refresh_token().is_some(),
        "offline_access should bring a refresh token",
    )?;
    Ok(tokens)
}

/// Returns the renewed token set and the refresh token it replaced.
fn renewal(d: &mut Demo, client: &Client, tokens: TokenSet) -> Outcome<(TokenSet, RefreshToken)> {
    let old_refresh = tokens
        .refresh_token()
        .cloned()
        .ok_or("the token set has no refresh token")?;
    let old_access = tokens.access_token().secret().to_owned();
    let mut session = TokenSession::from_tokens(client.clone(), tokens);
    d.step("TokenSession::from_tokens(client, tokens); the API answers 401 invalid_token, so:");
    let current = session.reject(&old_access);
    d.detail(&format!(
        "session.reject(token) → {current} (it was the current token)"
    ));
    let Next::Send { id, request, .. } = session.next(now())? else {
        return fail("a rejected token should be renewed");
    };
    d.step(&format!(
        "session.next(now) → Next::Send {{ id: {id}, .. }}: the refresh request"
    ));
    let waiting = session.next(now())?;
    d.detail(&format!(
        "a second caller meanwhile: session.next(now) → {}",
        describe_next(&waiting)
    ));
    let response = d.send(&request)?;
    let renewed: Renewed = renewed(session.receive(id, &response, now())?)?;
    d.step(&format!(
        "session.receive(..) → Completion {{ renewed: Renewed {{ refresh_token_rotated: {} }} }}: persist the new set",
        renewed.refresh_token_rotated
    ));
    d.tokens(&renewed.tokens);
    session.delivered(id);
    check(
        renewed.refresh_token_rotated,
        "oidc-provider rotates refresh tokens",
    )?;
    let ready = session.next(now())?;
    d.detail(&format!("session.next(now) → {}", describe_next(&ready)));
    Ok((renewed.tokens, old_refresh))
}

fn replay(d: &mut Demo, client: &Client, tokens: &TokenSet, old: &RefreshToken) -> Outcome {
    let new = tokens
        .refresh_token()
        .ok_or("the renewed set has no refresh token")?;
    let introspect_new = |d: &mut Demo| -> Outcome<bool> {
        let request = client.introspection_request(
            new.secret(),
            Some(TokenTypeHint::RefreshToken),
            None,
            grantline_examples::now(),
        )?;
        let info = Introspection::from_response(&d.send(&request)?)?;
        d.introspection(&info);
        Ok(info.active)
    };
    d.step("The refresh token the renewal brought is active:");
    check(introspect_new(d)?, "the new refresh token should be active")?;
    d.step("Send the refresh token it replaced:");
    let response = d.send(&client.refresh_request(old, &[], grantline_examples::now())?)?;
    d.expect_error(TokenSet::from_response(&response, now()), "invalid_grant")?;
    d.step("oidc-provider takes the replay for theft and revokes the grant, new refresh token included:");
    check(
        !introspect_new(d)?,
        "the grant should be revoked after a replay",
    )
}

fn introspection(d: &mut Demo, client: &Client, tokens: &TokenSet) -> Outcome {
    d.step("Introspect the access token (RFC 7662):");
    let request = client.introspection_request(
        tokens.access_token().secret(),
        Some(TokenTypeHint::AccessToken),
        None,
        grantline_examples::now(),
    )?;
    let info = Introspection::from_response(&d.send(&request)?)?;
    d.introspection(&info);
    check(info.active, "the renewed access token should be active")?;
    check(
        info.sub.as_deref() == Some(USERNAME),
        "the token should belong to the user",
    )
}

fn revocation(d: &mut Demo, client: &Client) -> Outcome {
    // A token of its own: oidc-provider revokes a user's whole grant when any of its tokens is
    // revoked, so this one comes from the client credentials grant.
    d.step("A fresh client credentials token:");
    let response = d.send(
        &client.client_credentials_request(&["api:read".to_owned()], grantline_examples::now())?,
    )?;
    let tokens = TokenSet::from_response(&response, now())?;
    let token = tokens.access_token().secret();
    d.step("Introspect it:");
    let response =
        d.send(&client.introspection_request(token, None, None, grantline_examples::now())?)?;
    let info = Introspection::from_response(&response)?;
    d.introspection(&info);
    check(info.active, "the fresh token should be active")?;

    d.step("Revoke it (RFC 7009):");
    let response = d.send(&client.revocation_request(
        token,
        Some(TokenTypeHint::AccessToken),
        grantline_examples::now(),
    )?)?;
    check_revocation_response(&response)?;
    d.detail("check_revocation_response → Ok(())");

    d.step("Introspect it again:");
    let response =
        d.send(&client.introspection_request(token, None, None, grantline_examples::now())?)?;
    let info = Introspection::from_response(&response)?;
    d.introspection(&info);
    check(!info.active, "a revoked token should be inactive")
}

fn device_flow(d: &mut Demo, client: &Client) -> Outcome {
    d.step("Ask for a device code:");
    let response = d.send(&client.device_authorization_request(
        &["openid".to_owned(), "offline_access".to_owned()],
        grantline_examples::now(),
    )?)?;
    let device = DeviceAuthorization::from_response(&response, now())?;
    d.detail(&format!(
        "device code {}, user code {}, go to {} (every {} s)",
        device.device_code, device.user_code, device.verification_uri, device.interval
    ));
    let poll = client.device_token_request(&device.device_code, grantline_examples::now())?;

    d.step("Poll once right away:");
    let mut interval = device.interval;
    let mut polled_at = Instant::now();
    let answer = DevicePoll::from_response(&d.send(&poll)?, now(), interval)?;
    d.detail(&format!("DevicePoll → {}", describe_poll(&answer)));
    check(
        matches!(answer, DevicePoll::Pending { .. }),
        "the user has not approved yet",
    )?;

    d.step("The \"user\" opens the verification URI on another device and confirms:");
    approve_device(d, &device)?;

    for _ in 0..5 {
        let wait = Duration::from_secs(interval).saturating_sub(polled_at.elapsed());
        d.step(&format!(
            "Wait out the interval ({:.1} s left), poll again:",
            wait.as_secs_f32()
        ));
        std::thread::sleep(wait);
        polled_at = Instant::now();
        let answer = DevicePoll::from_response(&d.send(&poll)?, now(), interval)?;
        d.detail(&format!("DevicePoll → {}", describe_poll(&answer)));
        match answer {
            DevicePoll::Tokens(tokens) => {
                d.tokens(&tokens);
                return Ok(());
            }
            DevicePoll::Pending { interval: i } | DevicePoll::SlowDown { interval: i } => {
                interval = i;
            }
            DevicePoll::Expired | DevicePoll::Denied => {
                return fail("the device code expired or was denied");
            }
        }
    }
    fail("no tokens after 5 polls")
}

fn approve_device(d: &mut Demo, device: &DeviceAuthorization) -> Outcome {
    let browser = Browser::new();
    let url = device
        .verification_uri_complete
        .as_deref()
        .ok_or("no verification_uri_complete")?;
    let first = browser.get(url)?;
    let Hop::Page { response: page, .. } = browser.follow(url, first, None)? else {
        return fail("unexpected stop");
    };
    let html = String::from_utf8_lossy(page.body());
    let xsrf = form_input(&html, "xsrf").ok_or("no xsrf field on the confirm page")?;
    let user_code = form_input(&html, "user_code").ok_or("no user_code on the confirm page")?;
    d.detail(&format!(
        "GET verification_uri_complete → confirm page for user code {user_code}"
    ));
    let confirmed = browser.post_form(
        &device.verification_uri,
        &[
            ("xsrf", &xsrf),
            ("user_code", &user_code),
            ("confirm", "yes"),
        ],
    )?;
    let Hop::Page { response, .. } = browser.follow(&device.verification_uri, confirmed, None)?
    else {
        return fail("unexpected stop");
    };
    d.detail(&format!(
        "POST {} (confirm=yes) → login and consent (auto-approved) → HTTP {}",
        device.verification_uri,
        response.status().as_u16()
    ));
    check(response.status() == 200, "the approval did not succeed")
}

fn password_grant(d: &mut Demo, client: &Client, api: &str) -> Outcome {
    let password = Password::new(PASSWORD);
    d.step(&format!(
        "TokenSession with SessionGrant::Password {{ username: {USERNAME:?}, password: {password} }}:"
    ));
    let mut session = TokenSession::new(
        client.clone(),
        SessionGrant::Password {
            username: USERNAME.to_owned(),
            password,
            scopes: vec!["read".to_owned()],
        },
    );
    let first = settle(d, &mut session)?;
    let me = d.call_api(api, &first)?;
    d.json_body(&me);
    check(me.status() == 200, "the API should accept the token")?;

    d.step("The API rejects the token; the session refreshes it (once):");
    session.reject(first.secret());
    let second = settle(d, &mut session)?;
    check(
        !second.ct_eq(first.secret()),
        "the renewal should bring a new access token",
    )?;
    let me = d.call_api(api, &second)?;
    check(me.status() == 200, "the API should accept the new token")
}

/// Drives a session until it yields a token, printing what it asks for.
fn settle(d: &mut Demo, session: &mut TokenSession) -> Outcome<AccessToken> {
    for _ in 0..3 {
        let next = session.next(now())?;
        d.detail(&format!("session.next(now) → {}", describe_next(&next)));
        match next {
            Next::Ready(token) => return Ok(token),
            Next::Send { id, request, .. } => {
                let response = d.send(&request)?;
                let renewed = renewed(session.receive(id, &response, now())?)?;
                d.detail(&format!(
                    "session.receive(..) → Completion {{ renewed: Renewed {{ refresh_token_rotated: {} }} }}",
                    renewed.refresh_token_rotated
                ));
                d.tokens(&renewed.tokens);
                session.delivered(id);
            }
            Next::Wait { .. } => return fail("nothing else is renewing"),
        }
    }
    fail("the session did not settle")
}

fn error_paths(d: &mut Demo, oidc: &Client, authlib: &Client, api: &str) -> Outcome {
    d.step("A wrong client secret at oidc-provider:");
    let wrong = Client::new(oidc.provider().clone(), CLIENT_ID).with_secret("not-the-secret");
    d.secret("not-the-secret");
    let response = d.send(&wrong.client_credentials_request(&[], grantline_examples::now())?)?;
    d.expect_error(TokenSet::from_response(&response, now()), "invalid_client")?;

    d.step("A scope the client may not have (admin) at oidc-provider:");
    let response = d.send(
        &oidc.client_credentials_request(&["admin".to_owned()], grantline_examples::now())?,
    )?;
    d.expect_error(TokenSet::from_response(&response, now()), "invalid_scope")?;

    d.step("A wrong password at Authlib (which says invalid_request where RFC 6749 says invalid_grant):");
    d.secret("looking-glass");
    let request = authlib.password_request(
        USERNAME,
        &Password::new("looking-glass"),
        &[],
        grantline_examples::now(),
    )?;
    let response = d.send(&request)?;
    d.expect_error(TokenSet::from_response(&response, now()), "invalid_request")?;

    d.step("A revoked token at the API: a 401 whose challenge says renew:");
    let response = d.send(
        &authlib.client_credentials_request(&["read".to_owned()], grantline_examples::now())?,
    )?;
    let tokens = TokenSet::from_response(&response, now())?;
    let response = d.send(&authlib.revocation_request(
        tokens.access_token().secret(),
        None,
        grantline_examples::now(),
    )?)?;
    check_revocation_response(&response)?;
    let me = d.call_api(api, tokens.access_token())?;
    let challenge = bearer_challenge(me.headers()).ok_or("no Bearer challenge")?;
    d.detail(&format!("bearer_challenge → {challenge:?}"));
    let renew = needs_renewal(me.status().as_u16(), me.headers());
    d.detail(&format!("needs_renewal → {renew}"));
    check(
        me.status() == 401 && renew,
        "a revoked token should need renewal",
    )
}

fn describe_next(next: &Next) -> String {
    match next {
        Next::Ready(token) => format!("Next::Ready({token:?})"),
        Next::Send { id, .. } => format!("Next::Send {{ id: {id}, .. }}"),
        Next::Wait { id } => format!("Next::Wait {{ id: {id} }}"),
    }
}

fn describe_poll(poll: &DevicePoll) -> String {
    match poll {
        DevicePoll::Tokens(_) => "Tokens(..)".to_owned(),
        other => format!("{other:?}"),
    }
}

// ------------------------------------------------------------------------------ printing

/// The demo's state: what it printed (to check it for secrets), the secrets it handled, the
/// sections that failed.
struct Demo {
    transport: Transport,
    transcript: String,
    secrets: Vec<String>,
    failures: Vec<String>,
}

impl Demo {
    fn new() -> Self {
        Demo {
            transport: Transport::new(),
            transcript: String::new(),
            secrets: vec![CLIENT_SECRET.to_owned(), PASSWORD.to_owned()],
            failures: Vec::new(),
        }
    }

    fn say(&mut self, line: &str) {
        println!("{line}");
        self.transcript.push_str(line);
        self.transcript.push('\n');
    }

    fn banner(&mut self) {
        let rule = "═".repeat(78);
        self.say(&rule);
        self.say(" grantline demo: a sans-IO OAuth 2.0 client against oidc-provider and Authlib");
        self.say(" (secrets print as [redacted]: client secret, password, tokens, codes, verifier, state)");
        self.say(&rule);
    }

    fn run(&mut self, title: &str, section: impl FnOnce(&mut Demo) -> Outcome) {
        self.say("");
        let pad = 78usize.saturating_sub(title.chars().count() + 4);
        self.say(&format!("── {title} {}", "─".repeat(pad)));
        match section(self) {
            Ok(()) => self.say("  ✔ ok"),
            Err(e) => {
                self.say(&format!("  ✘ FAILED: {e}"));
                self.failures.push(title.to_owned());
            }
        }
    }

    fn step(&mut self, text: &str) {
        self.say(&format!("  • {text}"));
    }

    fn detail(&mut self, text: &str) {
        self.say(&format!("      {text}"));
    }

    fn url(&mut self, url: &str) {
        let shown = redact_url(self, url);
        match shown.split_once('?') {
            Some((base, query)) => {
                self.detail(base);
                for pair in query.split('&') {
                    self.detail(&format!("  {pair}"));
                }
            }
            None => self.detail(&shown),
        }
    }

    /// Remembers a secret value, to prove at the end that it was never printed.
    fn secret(&mut self, value: &str) {
        if !value.is_empty() && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_owned());
        }
    }

    fn discover(&mut self, name: &str, issuer: &str) -> Outcome<Provider> {
        self.step(&format!("{name}: Discovery::new({issuer:?})"));
        let mut discovery = grantline::Discovery::new(issuer)?;
        let p = loop {
            let request = discovery.request();
            self.detail(&format!("GET {}", request.uri()));
            let response = self.transport.send(&request)?;
            self.detail(&format!("← {}", status_line(&response)));
            if let Some(p) = discovery.receive(&response)? {
                break p;
            }
            self.detail("404: the next well-known URL");
        };
        self.detail(&format!(
            "the document names the expected issuer {}",
            p.issuer().unwrap_or("?")
        ));
        let grants: Vec<String> = p.grants().iter().map(ToString::to_string).collect();
        self.detail(&format!("  grants: {}", grants.join(", ")));
        self.detail(&format!(
            "  client authentication: {:?}, body: {:?}, RFC 9207 iss: {}",
            p.auth_method(),
            p.body_encoding(),
            p.iss_parameter_supported()
        ));
        for (label, endpoint) in [
            ("authorization", p.authorization_endpoint()),
            (
                "token",
                p.token_endpoint(grantline::GrantType::ClientCredentials),
            ),
            ("introspection", p.introspection_endpoint()),
            ("revocation", p.revocation_endpoint()),
            ("device", p.device_authorization_endpoint()),
        ] {
            if let Some(url) = endpoint {
                self.detail(&format!("  {label:<13} {url}"));
            }
        }
        Ok(p)
    }

    /// Prints the request (secrets redacted), sends it, prints the status line.
    fn send(&mut self, request: &http::Request<Vec<u8>>) -> Outcome<http::Response<Vec<u8>>> {
        let url = redact_url(self, &request.uri().to_string());
        self.say(&format!("      → {} {url}", request.method()));
        for (name, value) in request.headers() {
            let text = value.to_str().unwrap_or("<binary>");
            if name == AUTHORIZATION || value.is_sensitive() {
                self.secret(text);
                if let Some((_, credentials)) = text.split_once(' ') {
                    self.secret(credentials);
                }
            }
            let shown = grantline::redact::header(name, value);
            self.say(&format!("        {name}: {shown}"));
        }
        if !request.body().is_empty() {
            let body = redact_body(self, request);
            self.say(&format!("        {body}"));
        }
        let response = self.transport.send(request)?;
        self.remember_response_secrets(&response);
        self.say(&format!("      ← {}", status_line(&response)));
        Ok(response)
    }

    fn call_api(&mut self, url: &str, token: &AccessToken) -> Outcome<http::Response<Vec<u8>>> {
        self.secret(token.secret());
        let request = http::Request::get(url)
            .header(AUTHORIZATION, authorization_header(token)?)
            .body(Vec::new())?;
        self.send(&request)
    }

    fn remember_response_secrets(&mut self, response: &http::Response<Vec<u8>>) {
        if let Ok(serde_json::Value::Object(map)) =
            serde_json::from_slice::<serde_json::Value>(response.body())
        {
            for (key, value) in &map {
                if let (true, Some(value)) = (is_secret_param(key), value.as_str()) {
                    self.secret(value);
                }
            }
        }
    }

    fn tokens(&mut self, tokens: &TokenSet) {
        let lines = format!("{tokens:#?}");
        for line in lines.lines() {
            self.detail(line);
        }
    }

    fn introspection(&mut self, info: &Introspection) {
        self.detail(&format!(
            "Introspection {{ active: {}, client_id: {:?}, sub: {:?}, scopes: {:?}, exp: {:?} }}",
            info.active, info.client_id, info.sub, info.scopes, info.exp
        ));
    }

    fn json_body(&mut self, response: &http::Response<Vec<u8>>) {
        let text = String::from_utf8_lossy(response.body()).trim().to_owned();
        self.detail(&format!("  {text}"));
    }

    fn expect_error<T>(&mut self, result: Result<T, Error>, code: &str) -> Outcome {
        match result {
            Ok(_) => fail(format!("expected {code}, got a success")),
            Err(e) => {
                self.detail(&format!("Error::{} → {e}", e.kind()));
                check(
                    e.oauth_code() == Some(code),
                    format!("expected {code}, got {e}"),
                )
            }
        }
    }

    /// Prints the summary and the leak check; the exit code.
    fn finish(mut self) -> ExitCode {
        self.say("");
        self.say(&"═".repeat(78));
        let leaked = self
            .secrets
            .iter()
            .filter(|s| s.len() >= 6 && self.transcript.contains(s.as_str()))
            .count();
        let handled = self.secrets.len();
        if leaked == 0 {
            self.say(&format!(
                " leak check: none of the {handled} secret values handled appears in this output"
            ));
        } else {
            self.say(&format!(
                " leak check FAILED: {leaked} of {handled} secret values appear in this output"
            ));
        }
        if self.failures.is_empty() && leaked == 0 {
            self.say(" all sections passed");
            ExitCode::SUCCESS
        } else {
            for f in self.failures.clone() {
                self.say(&format!(" failed: {f}"));
            }
            ExitCode::FAILURE
        }
    }
}

fn status_line(response: &http::Response<Vec<u8>>) -> String {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
    format!(
        "{} {}{}",
        response.status().as_u16(),
        response.status().canonical_reason().unwrap_or(""),
        content_type.map_or_else(String::new, |ct| format!(
            " ({ct}, {} bytes)",
            response.body().len()
        ))
    )
}

/// `url` as grantline's redaction shows it; the secret values it hides are remembered.
fn redact_url(d: &mut Demo, url: &str) -> String {
    if let Some((_, query)) = url.split_once('?') {
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if is_secret_param(&k) {
                d.secret(&v);
            }
        }
    }
    grantline::redact::url(url)
}

/// The body as grantline's redaction shows it; the secret values it hides are remembered.
fn redact_body(d: &mut Demo, request: &http::Request<Vec<u8>>) -> String {
    match serde_json::from_slice::<serde_json::Value>(request.body()) {
        Ok(serde_json::Value::Object(map)) => {
            for (k, v) in &map {
                if let (true, Some(s)) = (is_secret_param(k), v.as_str()) {
                    d.secret(s);
                }
            }
        }
        _ => {
            for (k, v) in form_urlencoded::parse(request.body()) {
                if is_secret_param(&k) {
                    d.secret(&v);
                }
            }
        }
    }
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    grantline::redact::body(content_type, request.body())
}
