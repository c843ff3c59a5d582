//! Bad input never panics: every parser gets thousands of mutated real-world inputs
//! (truncations, byte flips, insertions, splices) and must answer `Ok` or a typed error.
//! Deterministic (a fixed xorshift seed), so a failure reproduces.
// Tests fail by panicking: the workspace lints against unwrap/expect/panic/indexing guard
// library code, not test code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use grantline::{
    AuthorizationRequest, Client, DeviceAuthorization, DevicePoll, Introspection, Provider,
    TokenSet,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\\",
    b"\\u0000",
    b"=",
    b"&",
    b"%",
    b"%zz",
    b"+",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"null",
    b"true",
    b"\xff\xfe",
    b"\xc3\xa9",
    b".",
    b" ",
    b"\n",
    b"#",
    b"?",
    b"Bearer",
    b"error",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let at = rng.below(v.len());
                v.truncate(at);
            }
            1 if !v.is_empty() => {
                let at = rng.below(v.len());
                v[at] = rng.next() as u8;
            }
            2 => {
                let at = rng.below(v.len() + 1);
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(at..at, piece.iter().copied());
            }
            3 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = rng.below(v.len());
                let (a, b) = (a.min(b), a.max(b));
                v.drain(a..b);
            }
            _ => {
                let at = rng.below(v.len() + 1);
                let len = rng.below(v.len() + 1);
                let piece: Vec<u8> = v.iter().copied().cycle().take(len).collect();
                v.splice(at..at, piece);
            }
        }
    }
    v
}

fn response(status: u16, ct: &str, body: Vec<u8>) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", ct)
        .body(body)
        .unwrap()
}

const BODIES: &[&str] = &[
    r#"{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.sig","token_type":"Bearer","expires_in":7200,"refresh_token":"r","scope":"a b"}"#,
    r#"{"access_token":"BWjcyMzY3ZDhiNmJkNTY","refresh_token":"Srq2NjM5NzA2OWJjuE7c","token_type":"Bearer","expires":3600}"#,
    r#"{"error":"invalid_grant","error_description":"expired","error_uri":"https://x"}"#,
    r#"{"active":true,"scope":"library sales","exp":1613120953,"client_id":"c","username":"u@x"}"#,
    r#"{"device_code":"d","user_code":"U-C","verification_uri":"https://x/d","expires_in":600,"interval":5}"#,
    "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer",
    "<html><head><title>502 Bad Gateway</title></head></html>",
];

#[test]
fn response_parsers_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..30_000 {
        let seed = BODIES[i % BODIES.len()];
        let body = mutate(&mut rng, seed.as_bytes());
        let status = [200, 201, 400, 401, 500, 502][rng.below(6)];
        let ct = [
            "application/json",
            "text/html",
            "application/x-www-form-urlencoded",
            "",
        ][rng.below(4)];
        let resp = response(status, ct, body);
        let now = rng.next() >> 1;
        let _ = TokenSet::from_response(&resp, now);
        let _ = Introspection::from_response(&resp);
        let _ = DeviceAuthorization::from_response(&resp, now);
        let _ = DevicePoll::from_response(&resp, now, rng.next());
        let _ = grantline::check_revocation_response(&resp);
    }
}

#[test]
fn header_callback_and_metadata_parsers_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let challenges = [
        r#"Bearer error="invalid_token" error_description="The access token expired""#,
        r#"Basic realm="a, b", Bearer realm="api", scope="x y", error="insufficient_scope", Negotiate abc=="#,
    ];
    let metadata = br#"{"issuer":"https://as.example","authorization_endpoint":"https://as.example/a","token_endpoint":"http://127.0.0.1:1/t","grant_types_supported":["client_credentials"],"token_endpoint_auth_methods_supported":["none"]}"#;
    let client = Client::new(Provider::libro(), "id").with_redirect_uri("https://app/cb");
    let auth = client
        .authorization_url_with_seed(&AuthorizationRequest::new(), &[1; 64])
        .unwrap();
    let good_callback = format!(
        "https://app/cb?code=abc&state={}&iss=x",
        auth.pending.state().secret()
    );
    let be = Client::new(Provider::booking_experts(), "id");
    for i in 0..20_000 {
        let c = mutate(&mut rng, challenges[i % 2].as_bytes());
        let text = String::from_utf8_lossy(&c);
        let _ = grantline::bearer::parse_www_authenticate(&text);
        if let Ok(value) = http::HeaderValue::from_bytes(&c) {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::WWW_AUTHENTICATE, value);
            let _ = grantline::bearer::needs_renewal(401, &h);
        }
        let q = String::from_utf8_lossy(&mutate(&mut rng, good_callback.as_bytes())).into_owned();
        let _ = client.callback(&auth.pending, &q);
        let _ = be.unsolicited_callback(&q);
        let _ = grantline::PendingAuthorization::from_json(&q);
        let _ = TokenSet::from_json(&q);
        let _ = Provider::from_metadata(&mutate(&mut rng, metadata));
        let _ = grantline::jwt::unverified_exp(&q);
    }
}
