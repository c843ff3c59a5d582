//! Fails if any secret value appears in the `Debug` or `Display` output of a public type or of
//! an error (compare str0m's `tests/pii.rs`). Every secret below is distinctive, so a leak of
//! any of them, whole or as a long fragment, is caught.
// Tests fail by panicking: the workspace lints against unwrap/expect/panic/indexing guard
// library code, not test code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantline::{
    AccessToken, AuthorizationRequest, Client, DeviceAuthorization, DevicePoll, Error, GrantType,
    Next, Password, PkceMethod, Provider, RefreshToken, SessionGrant, TokenSession, TokenSet,
};

const CLIENT_SECRET: &str = "CLIENTSECRETxq81";
const ACCESS: &str = "ACCESSTOKENzz42";
const REFRESH: &str = "REFRESHTOKENrr77";
const CODE: &str = "AUTHCODEcc19";
const PASSWORD: &str = "PASSWORDpp55";
const DEVICE: &str = "DEVICECODEdd66";
const ID_TOKEN: &str = "IDTOKENii33";

/// Every output that must not contain a secret.
struct Outputs {
    secrets: Vec<String>,
    texts: Vec<(String, String)>,
}

impl Outputs {
    fn debug(&mut self, what: &str, v: &dyn std::fmt::Debug) {
        self.texts
            .push((format!("{what} (Debug)"), format!("{v:?}")));
        self.texts
            .push((format!("{what} (Debug alt)"), format!("{v:#?}")));
    }
    fn display(&mut self, what: &str, v: &dyn std::fmt::Display) {
        self.texts
            .push((format!("{what} (Display)"), v.to_string()));
    }
    fn error(&mut self, what: &str, e: &Error) {
        self.debug(what, e);
        self.display(what, e);
    }
    fn check(&self) {
        let mut leaks = Vec::new();
        for (what, text) in &self.texts {
            for secret in &self.secrets {
                // Whole, or any 8-character fragment of it.
                let chars: Vec<char> = secret.chars().collect();
                let leaked = chars
                    .windows(8.min(chars.len()))
                    .any(|w| text.contains(&w.iter().collect::<String>()));
                if leaked {
                    leaks.push(format!("{what} leaks {secret:?}: {text}"));
                }
            }
        }
        assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
        assert!(self.texts.len() > 40, "the test must look at many outputs");
    }
}

fn provider() -> Provider {
    Provider::builder("leaky")
        .issuer("https://as.example")
        .authorization_endpoint("https://as.example/authorize")
        .token_endpoint("https://as.example/token")
        .device_authorization_endpoint("https://as.example/device")
        .introspection_endpoint("https://as.example/introspect")
        .revocation_endpoint("https://as.example/revoke")
        .grant(GrantType::AuthorizationCode)
        .grant(GrantType::ClientCredentials)
        .grant(GrantType::Password)
        .grant(GrantType::RefreshToken)
        .grant(GrantType::DeviceCode)
        .build()
        .unwrap()
}

fn resp(status: u16, content_type: &str, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

#[test]
fn no_secret_in_any_debug_display_or_error() {
    let mut out = Outputs {
        secrets: [
            CLIENT_SECRET,
            ACCESS,
            REFRESH,
            CODE,
            PASSWORD,
            DEVICE,
            ID_TOKEN,
        ]
        .map(str::to_owned)
        .to_vec(),
        texts: Vec::new(),
    };
    let client = Client::new(provider(), "client-id")
        .with_secret(CLIENT_SECRET)
        .with_redirect_uri("https://app.example/cb");
    // The encoded forms count too: the Basic credential is the secret in base64.
    {
        use base64::Engine as _;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("client-id:{CLIENT_SECRET}"));
        out.secrets.push(basic);
    }
    out.debug("Client", &client);

    // Authorization URL and callback: state and verifier are secrets too.
    for pkce in [PkceMethod::S256, PkceMethod::Plain] {
        let auth = client
            .authorization_url(&AuthorizationRequest::new().scopes(["a"]).pkce(pkce))
            .unwrap();
        out.secrets.push(auth.pending.state().secret().to_owned());
        out.secrets
            .push(auth.pending.code_verifier().unwrap().secret().to_owned());
        out.debug("Authorization", &auth);
        out.debug("PendingAuthorization", &auth.pending);
        let state = auth.pending.state().secret().to_owned();
        let grant = client
            .callback(&auth.pending, &format!("?code={CODE}&state={state}"))
            .unwrap();
        out.debug("CodeGrant", &grant);
        out.display("AuthorizationCode", &grant.code);
        for bad in [
            format!("?code={CODE}&state=wrong{state}"),
            format!("?code={CODE}"),
            format!("?code={CODE}&code={CODE}&state={state}"),
            format!("?code={CODE}&state={state}&iss=https://evil.example"),
            format!("?error=access_denied&state={state}"),
        ] {
            let e = client.callback(&auth.pending, &bad).unwrap_err();
            out.error("callback error", &e);
        }
    }

    // Token sets and every way a token response can go wrong with secrets in the body.
    let full = format!(
        r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}","id_token":"{ID_TOKEN}","expires_in":3600,"token_type":"bearer","vendor_secret":"{CLIENT_SECRET}"}}"#
    );
    let tokens = TokenSet::from_response(&resp(200, "application/json", &full), 1).unwrap();
    out.debug("TokenSet", &tokens);
    out.display("AccessToken", tokens.access_token());
    out.display("RefreshToken", tokens.refresh_token().unwrap());
    out.debug("IdToken", tokens.id_token().unwrap());
    let bad_bodies = [
        (
            200,
            "application/json",
            format!(r#"{{"access_token":42,"refresh_token":"{REFRESH}"}}"#),
        ),
        (
            200,
            "application/json",
            format!(r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}""#),
        ),
        (
            200,
            "application/json",
            format!(r#"{{"access_token":"{ACCESS}é","refresh_token":"{REFRESH}"}}"#),
        ),
        (
            200,
            "application/json",
            format!(r#"{{"access_token":"{ACCESS}","expires_in":"{REFRESH}"}}"#),
        ),
        (
            200,
            "application/json",
            format!(r#"{{"access_token":"{ACCESS}","expires_in":-5}}"#),
        ),
        (
            200,
            "application/json",
            format!(r#"{{"refresh_token":"{REFRESH}"}}"#),
        ),
        (200, "application/json", format!(r#"["{ACCESS}"]"#)),
        (200, "application/json", format!(r#""{ACCESS}""#)),
        (
            200,
            "application/json",
            format!(r#"{{"error":{{"token":"{ACCESS}"}}}}"#),
        ),
        (
            200,
            "text/plain",
            format!("access_token={ACCESS}&expires_in=soon"),
        ),
        (
            400,
            "application/json",
            format!(r#"{{"refresh_token":"{REFRESH}"}}"#),
        ),
        (
            500,
            "application/json",
            format!(r#"{{"access_token":"{ACCESS}""#),
        ),
        (
            200,
            "application/json",
            format!(
                r#"{{"access_token":"{ACCESS}","x":"{}"}}"#,
                "y".repeat(1 << 21)
            ),
        ),
    ];
    for (status, ct, body) in &bad_bodies {
        let e = TokenSet::from_response(&resp(*status, ct, body), 1).unwrap_err();
        out.error("token response error", &e);
        let e = grantline::Introspection::from_response(&resp(*status, ct, body));
        if let Err(e) = e {
            out.error("introspection error", &e);
        }
        let e = DeviceAuthorization::from_response(&resp(*status, ct, body), 1);
        if let Err(e) = e {
            out.error("device authorization error", &e);
        }
    }

    // Requests: the only place secrets belong is the request itself; `Next` hides the body.
    let password = Password::new(PASSWORD);
    out.debug("Password", &password);
    let grant = SessionGrant::Password {
        username: "alice".into(),
        password: password.clone(),
        scopes: vec![],
    };
    out.debug("SessionGrant", &grant);
    let mut session = TokenSession::new(client.clone(), grant);
    let next = session.next(1).unwrap();
    out.debug("Next::Send", &next);
    let Next::Send { id, request, .. } = next else {
        panic!("expected Send")
    };
    out.debug("Authorization header", &request.headers());
    out.debug("TokenSession in flight", &session);
    let wait = session.next(1).unwrap();
    out.debug("Next::Wait", &wait);
    let renewed = session
        .receive(id, &resp(200, "application/json", &full), 1)
        .unwrap();
    out.debug("Completion", &renewed);
    assert!(session.delivered(id));
    out.debug("TokenSession ready", &session);
    let ready = session.next(2).unwrap();
    out.debug("Next::Ready", &ready);
    let mut refreshing = TokenSession::from_tokens(client.clone(), tokens.clone());
    assert!(refreshing.reject(ACCESS));
    let next = refreshing.next(2).unwrap();
    out.debug("Next::Send refresh", &next);
    // A bad answer that still rotates the refresh token: the salvaged set prints redacted.
    let Next::Send { id, .. } = next else {
        panic!("expected Send")
    };
    let salvaged = refreshing
        .receive(
            id,
            &resp(
                200,
                "application/json",
                &format!(r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}x","expires_in":"1h"}}"#),
            ),
            2,
        )
        .unwrap();
    out.secrets.push(format!("{REFRESH}x"));
    out.debug("Completion (salvaged)", &salvaged);
    out.debug("TokenSession after salvage", &refreshing);
    out.debug(
        "bearer header",
        &grantline::bearer::authorization_header(&AccessToken::new(ACCESS)).unwrap(),
    );
    out.debug("RefreshToken", &RefreshToken::new(REFRESH));

    // Printable requests of every kind: the secrets they carry are redacted.
    let code_grant = grantline::CodeGrant {
        code: grantline::AuthorizationCode::new(CODE),
        code_verifier: Some(grantline::PkceVerifier::new("VERIFIERvv12345678")),
        redirect_uri: Some("https://app.example/cb".into()),
    };
    out.secrets.push("VERIFIERvv12345678".into());
    let refresh = RefreshToken::new(REFRESH);
    let json_client = Client::new(
        provider()
            .to_builder()
            .body_encoding(grantline::BodyEncoding::Json)
            .build()
            .unwrap(),
        "client-id",
    )
    .with_secret(CLIENT_SECRET);
    for c in [&client, &json_client] {
        let requests = [
            c.client_credentials_request(&[], 0).unwrap(),
            c.password_request("alice", &password, &[], 0).unwrap(),
            c.refresh_request(&refresh, &[], 0).unwrap(),
            c.authorization_code_request(&code_grant, 0).unwrap(),
            c.device_token_request(&grantline::DeviceCode::new(DEVICE), 0)
                .unwrap(),
            c.introspection_request(ACCESS, None, Some(&refresh), 0)
                .unwrap(),
            c.revocation_request(REFRESH, None, 0).unwrap(),
        ];
        for r in &requests {
            out.display("redacted request", &grantline::redact::request(r));
        }
    }
    let callback = format!("https://app.example/cb?code={CODE}&state=whatever&iss=x");
    out.display("redacted URL", &grantline::redact::url(&callback));

    // Hostile bodies echoing secrets: the excerpts redact them, in every syntax.
    for (secret, body) in [
        ("S3cr3t!x", "<p>password=S3cr3t!x</p>"),
        (
            "Xy7#longsecretvalue",
            r#"<pre>{"client_secret":"Xy7#longsecretvalue"}</pre>"#,
        ),
        ("rt-9!aa", "refresh_token: rt-9!aa"),
        ("p%21ss", "client%5Fsecret=p%21ss&x=1"),
    ] {
        out.secrets.push(secret.to_owned());
        for status in [200, 502] {
            let e = TokenSet::from_response(&resp(status, "text/html", body), 1).unwrap_err();
            out.error("excerpt of a hostile body", &e);
        }
    }
    // Configuration that carries secrets: a client assertion as an extra parameter, user
    // information in an endpoint.
    let assertion = "eyJASSERTIONaa99.payload.sig";
    out.secrets.push(assertion.to_owned());
    let asserting = provider()
        .to_builder()
        .extra_token_param("client_assertion", assertion)
        .build()
        .unwrap();
    out.debug("Provider with client_assertion", &asserting);
    out.debug(
        "Client with client_assertion",
        &Client::new(asserting, "id"),
    );
    out.secrets.push("USERINFOpw42".to_owned());
    for url in [
        "https://user:USERINFOpw42@as.example/token",
        "http://user:USERINFOpw42@evil.example/token",
    ] {
        let e = provider()
            .to_builder()
            .token_endpoint(url)
            .build()
            .unwrap_err();
        out.error("endpoint with user information", &e);
        out.display(
            "redacted URL with user information",
            &grantline::redact::url(url),
        );
    }
    // Restoring persisted JSON never echoes it.
    for json in [
        format!(r#"{{"access_token":"{ACCESS}","issued_at":"{REFRESH}"}}"#),
        format!(r#"{{"access_token":{{"x":"{ACCESS}"}}}}"#),
    ] {
        out.error(
            "TokenSet::from_json",
            &TokenSet::from_json(&json).unwrap_err(),
        );
        out.error(
            "PendingAuthorization::from_json",
            &grantline::PendingAuthorization::from_json(&json).unwrap_err(),
        );
    }

    // Device flow.
    let device = DeviceAuthorization::from_response(
        &resp(
            200,
            "application/json",
            &format!(r#"{{"device_code":"{DEVICE}","user_code":"WDJB-MJHT","verification_uri":"https://as.example/device"}}"#),
        ),
        1,
    )
    .unwrap();
    out.debug("DeviceAuthorization", &device);
    let poll = DevicePoll::from_response(&resp(200, "application/json", &full), 1, 5).unwrap();
    out.debug("DevicePoll::Tokens", &poll);
    let e = DevicePoll::from_response(
        &resp(400, "application/json", r#"{"error":"invalid_grant"}"#),
        1,
        5,
    )
    .unwrap_err();
    out.error("device poll error", &e);

    out.check();
}

/// The Ed25519 key of RFC 8037 §A.1 (private part `d`).
const ED25519_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const ED25519_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"k1","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

#[test]
fn no_secret_in_jwt_client_authentication_or_extension_grants() {
    use grantline::grant::{token_type, TokenExchange};
    use grantline::jose::SigningKey;
    use grantline::{Assertion, ClientAuthMethod, GrantRequest, SecurityToken};

    const HS_SECRET: &str = "HSSECRET-0123456789abcdefghijklmnop";
    const SUBJECT: &str = "SUBJECTTOKENss31";
    const ACTOR: &str = "ACTORTOKENaa32";
    const BEARER: &str = "BEARERASSERTIONbb33";
    let mut out = Outputs {
        secrets: [
            ED25519_D, HS_SECRET, SUBJECT, ACTOR, BEARER, REFRESH, PASSWORD, CODE, DEVICE,
        ]
        .map(str::to_owned)
        .to_vec(),
        texts: Vec::new(),
    };
    let key = SigningKey::from_jwk(ED25519_JWK).unwrap();
    let pk = Client::new(provider(), "client-id").with_signing_key(key.clone());
    let hs = Client::new(provider(), "client-id")
        .with_secret(HS_SECRET)
        .with_auth_method(ClientAuthMethod::SecretJwt);
    let exchange = GrantRequest::token_exchange(TokenExchange {
        actor_token: Some(SecurityToken::new(ACTOR)),
        actor_token_type: Some(token_type::ACCESS_TOKEN.into()),
        resource: vec!["https://api.example".into()],
        ..TokenExchange::new(SecurityToken::new(SUBJECT), token_type::ACCESS_TOKEN)
    });
    let grants = [
        exchange,
        GrantRequest::jwt_bearer(&Assertion::new(BEARER), ["a"]),
        GrantRequest::refresh(&RefreshToken::new(REFRESH), ["a"]).param("resource", "x"),
        GrantRequest::password("alice", &Password::new(PASSWORD), ["a"]),
        GrantRequest::device_code(&grantline::DeviceCode::new(DEVICE)),
        GrantRequest::new("urn:example:grant").param("assertion", BEARER),
    ];
    for c in [&pk, &hs] {
        out.debug("JWT client", c);
        for g in &grants {
            out.debug("GrantRequest", g);
            let r = c.grant_request(g, 1_700_000_000).unwrap();
            // The assertion itself is a secret: its signature must not print.
            let body = String::from_utf8(r.body().clone()).unwrap();
            let assertion = body
                .split('&')
                .find_map(|p| p.strip_prefix("client_assertion="))
                .unwrap()
                .to_owned();
            let signature = assertion.rsplit('.').next().unwrap().to_owned();
            out.secrets.push(signature);
            out.display("redacted JWT request", &grantline::redact::request(&r));
        }
        out.debug(
            "TokenSession with a grant",
            &TokenSession::new(c.clone(), SessionGrant::Grant(grants[0].clone())),
        );
    }
    // A short client_secret_jwt secret: the error names the rule, not the secret.
    let short = Client::new(provider(), "client-id")
        .with_secret("SHORTsecret77")
        .with_auth_method(ClientAuthMethod::SecretJwt);
    out.secrets.push("SHORTsecret77".into());
    let e = short.client_credentials_request(&[], 1).unwrap_err();
    assert_eq!(e.kind(), "invalid_key");
    assert!(e.to_string().contains("RFC 7518 §3.2"), "{e}");
    out.error("short client_secret_jwt secret", &e);
    out.debug("SigningKey", &key);
    assert!(out.texts.len() > 40);
    out.check();
}

#[test]
fn no_secret_in_openid_connect_types_or_their_errors() {
    use grantline::jose::{Algorithm, JwkSet, SigningKey};
    use grantline::oidc::UserInfoAnswer;
    use grantline::{
        EndSessionRequest, IdToken, JwksCache, JwksStep, PendingAuthorization, UserInfo,
    };

    const NONCE: &str = "NONCEVALUEnn71";
    const EMAIL: &str = "alice.private@example.com";
    const STATE: &str = "LOGOUTSTATEls72";
    let key = SigningKey::from_jwk(ED25519_JWK).unwrap();
    let jwks = format!(
        r#"{{"keys":[{}]}}"#,
        key.public_jwk().unwrap().to_public_json().unwrap()
    );
    let client = Client::new(
        provider()
            .to_builder()
            .jwks_uri("https://as.example/jwks")
            .userinfo_endpoint("https://as.example/userinfo")
            .end_session_endpoint("https://as.example/logout")
            .id_token_algorithms([Algorithm::EdDsa])
            .build()
            .unwrap(),
        "client-id",
    )
    .with_secret(CLIENT_SECRET)
    .with_redirect_uri("https://app.example/cb");
    let auth = client
        .authorization_url(
            &AuthorizationRequest::new()
                .scopes(["openid"])
                .nonce(NONCE)
                .max_age(300),
        )
        .unwrap();
    let pending = PendingAuthorization::from_json(&auth.pending.to_json()).unwrap();
    let sign = |claims: serde_json::Value| {
        key.sign(&Default::default(), claims.as_object().unwrap())
            .unwrap()
    };
    let good = sign(serde_json::json!({
        "iss": "https://as.example", "sub": "alice", "aud": "client-id", "exp": 2_000_000_000u64,
        "iat": 1_700_000_000u64, "auth_time": 1_700_000_000u64, "nonce": NONCE, "email": EMAIL,
    }));
    let replayed = sign(serde_json::json!({
        "iss": "https://as.example", "sub": "alice", "aud": "client-id", "exp": 2_000_000_000u64,
        "iat": 1_700_000_000u64, "auth_time": 1_700_000_000u64, "nonce": "OTHERNONCEon73",
        "email": EMAIL,
    }));
    let mut out = Outputs {
        secrets: [
            ED25519_D,
            NONCE,
            "OTHERNONCEon73",
            EMAIL,
            STATE,
            CLIENT_SECRET,
            ACCESS,
            &good[good.len() - 40..],
            &replayed[replayed.len() - 40..],
        ]
        .map(str::to_owned)
        .to_vec(),
        texts: Vec::new(),
    };
    out.debug("SigningKey", &key);
    out.debug("PendingAuthorization with a nonce", &pending);
    out.debug("Authorization", &auth);
    let keys = JwkSet::from_json(&jwks).unwrap();
    let check = client
        .id_token_check(&pending)
        .unwrap()
        .access_token(&AccessToken::new(ACCESS));
    out.debug("IdTokenCheck", &check);
    let verified = keys.verify(&good, &[Algorithm::EdDsa]).unwrap();
    out.debug("VerifiedJws", &verified);
    // The access token does not match at_hash (there is none) — fine; no at_hash, no check.
    let claims = client
        .id_token_check(&pending)
        .unwrap()
        .validate(&verified, 1_700_000_100)
        .unwrap();
    out.debug("IdTokenClaims", &claims);
    let refused = check
        .validate(
            &keys.verify(&replayed, &[Algorithm::EdDsa]).unwrap(),
            1_700_000_100,
        )
        .unwrap_err();
    assert_eq!(refused.kind(), "id_token");
    out.error("nonce mismatch", &refused);
    let late = check.validate(&verified, 1_800_000_000).unwrap_err();
    out.error("max_age exceeded", &late);
    // Every claim check's error, for a token carrying the secrets in its claims.
    for (name, value) in [
        // iss and aud are public identifiers: their errors show them (escaped, capped).
        ("iss", serde_json::json!("https://evil.example")),
        ("aud", serde_json::json!(["another-client", "x"])),
        ("azp", serde_json::json!(EMAIL)),
        ("sub", serde_json::json!(5)),
        ("exp", serde_json::json!(1)),
        ("iat", serde_json::json!(1_900_000_000u64)),
        ("nonce", serde_json::json!(7)),
        ("at_hash", serde_json::json!(ACCESS)),
        ("amr", serde_json::json!(EMAIL)),
    ] {
        let mut claims = serde_json::json!({
            "iss": "https://as.example", "sub": "alice", "aud": "client-id",
            "exp": 2_000_000_000u64, "iat": 1_700_000_000u64, "auth_time": 1_700_000_000u64,
            "nonce": NONCE, "email": EMAIL,
        });
        claims[name] = value;
        let token = sign(claims);
        out.secrets.push(token[token.len() - 40..].to_owned());
        let e = check
            .validate(
                &keys.verify(&token, &[Algorithm::EdDsa]).unwrap(),
                1_700_000_100,
            )
            .unwrap_err();
        assert_eq!(e.kind(), "id_token", "{name}");
        out.error(name, &e);
    }
    let cache = JwksCache::for_provider(client.provider())
        .unwrap()
        .with_keys(keys.clone(), 1_700_000_000);
    out.debug("JwksCache", &cache);
    match cache
        .verify(&good, &[Algorithm::EdDsa], 1_700_000_100)
        .unwrap()
    {
        JwksStep::Verified(v) => out.debug("JwksStep", &JwksStep::Verified(v)),
        JwksStep::Fetch => panic!("the keys are there"),
    }
    let info = http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(format!(r#"{{"sub":"alice","email":"{EMAIL}"}}"#).into_bytes())
        .unwrap();
    match UserInfo::from_response(&info, "alice").unwrap() {
        UserInfoAnswer::Claims(u) => out.debug("UserInfo", &u),
        UserInfoAnswer::Signed(_) => panic!("JSON"),
    }
    out.error(
        "userinfo sub mismatch",
        &UserInfo::from_response(&info, "bob").unwrap_err(),
    );
    out.debug(
        "userinfo request",
        &client.userinfo_request(&AccessToken::new(ACCESS)).unwrap(),
    );
    out.display(
        "redacted userinfo request",
        &grantline::redact::request(&client.userinfo_request(&AccessToken::new(ACCESS)).unwrap()),
    );
    let logout = EndSessionRequest::new()
        .id_token_hint(&IdToken::new(good.clone()))
        .post_logout_redirect_uri("https://app.example/bye")
        .state(STATE);
    out.debug("EndSessionRequest", &logout);
    out.display(
        "redacted end-session URL",
        &grantline::redact::url(&client.end_session_url(&logout).unwrap()),
    );
    out.check();
}
