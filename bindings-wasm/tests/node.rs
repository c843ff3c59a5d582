//! The binding's Rust side under wasm-bindgen-test (in Node): error mapping, request and
//! response conversion, the fetch transport with an injected `fetch`, and the session's
//! shared renewal. Run by `bindings-wasm/test.sh` (wasm32 only).
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use grantline_wasm::{parse_token_response, Client, Provider, TokenSession};
use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

mod common;
use common::{get, obj, opts};

/// A fetch that answers every request with `body` (status 200, JSON) and counts calls.
fn fake_fetch(body: &str) -> Function {
    Function::new_with_args(
        "input, init",
        &format!(
            "globalThis.__calls = (globalThis.__calls || 0) + 1; \
             globalThis.__last = init; \
             return Promise.resolve(new Response({body:?}, {{ status: 200, headers: {{ 'content-type': 'application/json' }} }}));"
        ),
    )
}

fn calls() -> f64 {
    get(&js_sys::global(), "__calls").as_f64().unwrap_or(0.0)
}

#[wasm_bindgen_test]
fn errors_are_instances_of_the_documented_classes() {
    let response = obj(&[
        ("status", 400.into()),
        (
            "body",
            r#"{"error":"invalid_grant","error_description":"bad code"}"#.into(),
        ),
    ]);
    let err = parse_token_response(response, Some(0.0))
        .err()
        .map(JsValue::from)
        .unwrap();
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&err, "name").as_string().unwrap(), "OAuthError");
    assert_eq!(get(&err, "code").as_string().unwrap(), "invalid_grant");
    assert_eq!(get(&err, "status").as_f64().unwrap(), 400.0);
    assert_eq!(get(&err, "description").as_string().unwrap(), "bad code");
    assert_eq!(get(&err, "fault").as_string().unwrap(), "server");

    let html = obj(&[("status", 503.into()), ("body", "<h1>down</h1>".into())]);
    let err = JsValue::from(parse_token_response(html, None).err().unwrap());
    assert_eq!(
        get(&err, "name").as_string().unwrap(),
        "MalformedResponseError"
    );
    assert_eq!(get(&err, "kind").as_string().unwrap(), "unexpected_status");

    let bad = obj(&[("status", "200".into())]);
    let err = JsValue::from(parse_token_response(bad, None).err().unwrap());
    assert_eq!(get(&err, "name").as_string().unwrap(), "ConfigurationError");
}

#[wasm_bindgen_test]
fn repeated_headers_and_byte_bodies_reach_the_core() {
    let headers = Array::of2(
        &Array::of2(&"content-type".into(), &"application/json".into()),
        &Array::of2(&"x-extra".into(), &"1".into()),
    );
    let body = js_sys::Uint8Array::from(br#"{"access_token":"AT","expires_in":60}"#.as_slice());
    let response = obj(&[
        ("status", 200.into()),
        ("headers", headers.into()),
        ("body", body.into()),
    ]);
    let tokens = parse_token_response(response, Some(100.0)).unwrap();
    assert_eq!(get(&tokens, "expiresAt").as_f64().unwrap(), 160.0);
}

#[wasm_bindgen_test]
fn request_objects_are_plain_and_print_redacted() {
    let client = Client::new(
        &Provider::bindeo(),
        "id".into(),
        opts(&[("clientSecret", "s3cr3t-value".into())]),
    )
    .unwrap();
    let request = client
        .password_request("alice", "pa55word-value".into(), None, None)
        .unwrap();
    assert_eq!(get(&request, "method").as_string().unwrap(), "POST");
    let body = get(&request, "body").as_string().unwrap();
    assert!(body.contains("pa55word-value"), "the body is sendable");
    let shown: String = js_sys::JSON::stringify(&Object::keys(request.unchecked_ref::<Object>()))
        .unwrap()
        .into();
    assert_eq!(shown, r#"["method","url","headers","body"]"#);
    // Printed through the package's redactRequest (the entry points install it as the
    // objects' toString): the credentials are gone.
    let printed = grantline_wasm::redact_request(request.clone()).unwrap();
    assert!(printed.starts_with("POST https://"), "{printed}");
    assert!(!printed.contains("pa55word-value") && !printed.contains("s3cr3t-value"));
    assert!(printed.contains("[redacted]"));
    let fallback = request
        .unchecked_ref::<Object>()
        .to_string()
        .as_string()
        .unwrap();
    assert!(!fallback.contains("pa55word-value") && !fallback.contains("s3cr3t-value"));
}

#[wasm_bindgen_test]
async fn an_injected_fetch_carries_the_request_without_following_redirects() {
    let fetch = fake_fetch(r#"{"access_token":"AT-1","token_type":"bearer"}"#);
    let client = Client::new(
        &Provider::bindeo(),
        "id".into(),
        opts(&[("clientSecret", "s".into()), ("fetch", fetch.into())]),
    )
    .unwrap();
    let before = calls();
    let tokens = JsFuture::from(client.client_credentials(None, None))
        .await
        .unwrap();
    assert_eq!(get(&tokens, "accessToken").as_string().unwrap(), "AT-1");
    assert_eq!(calls() - before, 1.0);
    let init = get(&js_sys::global(), "__last");
    assert_eq!(get(&init, "redirect").as_string().unwrap(), "manual");
}

#[wasm_bindgen_test]
async fn concurrent_callers_share_one_renewal() {
    let fetch = fake_fetch(r#"{"access_token":"AT-2","expires_in":3600}"#);
    let client = Client::new(
        &Provider::bindeo(),
        "id".into(),
        opts(&[("clientSecret", "s".into()), ("fetch", fetch.into())]),
    )
    .unwrap();
    let session = TokenSession::client_credentials(&client, None, None).unwrap();
    let before = calls();
    let all: Array = (0..100)
        .map(|_| JsValue::from(session.get_access_token(None)))
        .collect();
    let tokens = JsFuture::from(Promise::all(&all)).await.unwrap();
    let tokens = Array::from(&tokens);
    assert_eq!(tokens.length(), 100);
    assert!(tokens
        .iter()
        .all(|t| t.as_string().as_deref() == Some("AT-2")));
    assert_eq!(calls() - before, 1.0);
}

#[wasm_bindgen_test]
async fn a_fetch_that_never_answers_ends_at_the_deadline() {
    let never = Function::new_no_args("return new Promise(() => {});");
    let client = Client::new(
        &Provider::bindeo(),
        "id".into(),
        opts(&[
            ("clientSecret", "s".into()),
            ("fetch", never.into()),
            ("timeout", 50.into()),
        ]),
    )
    .unwrap();
    let err = JsFuture::from(client.client_credentials(None, None))
        .await
        .unwrap_err();
    assert_eq!(get(&err, "name").as_string().unwrap(), "TransportError");
    assert_eq!(get(&err, "kind").as_string().unwrap(), "transport");
    let message = get(&err, "message").as_string().unwrap();
    assert!(message.contains("50 ms"), "{message}");
    assert!(message.contains("POST https://"), "{message}");
    // A per-call deadline overrides the client's.
    let err = JsFuture::from(client.client_credentials(None, opts(&[("timeout", 20.into())])))
        .await
        .unwrap_err();
    assert!(get(&err, "message").as_string().unwrap().contains("20 ms"));
}
