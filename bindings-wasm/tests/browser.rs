//! The binding in headless Chromium (wasm-bindgen-test-runner with chromedriver; flags in
//! `webdriver.json`): the sans-IO layer, and one grant over the browser's own `fetch` against
//! oauth2-mock-server on 127.0.0.1, whose URL is compiled in from `GRANTLINE_MOCK_URL` (a wasm
//! test cannot read the environment at run time). Run by `bindings-wasm/test.sh` under
//! `tests/interop/servers.sh run`.
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use grantline_wasm::{parse_token_response, Client, Provider};

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::{get, obj, opts};

#[wasm_bindgen_test]
fn sans_io_in_the_browser() {
    assert!(js_sys::global().has_type::<js_sys::Object>());
    assert!(
        !get(&js_sys::global(), "document").is_undefined(),
        "a browser page"
    );
    let client = Client::new(
        &Provider::libro(),
        "CLIENT_ID".into(),
        opts(&[
            ("clientSecret", "CLIENT_SECRET".into()),
            ("redirectUri", "https://app.example.io/cb".into()),
        ]),
    )
    .unwrap();
    let auth = client.authorization_url(None).unwrap();
    assert!(auth
        .url()
        .starts_with("https://accounts.libroreserve.com/oauth/authorize?"));
    let query = auth.url().split_once('?').unwrap().1.to_owned();
    let state = query
        .split('&')
        .find_map(|p| p.strip_prefix("state="))
        .unwrap()
        .to_owned();
    let grant = client
        .callback(&auth.pending(), &format!("?code=C0DE&state={state}"))
        .unwrap();
    assert_eq!(grant.code(), "C0DE");
    let exchange = client.authorization_code_request(&grant, None).unwrap();
    assert!(get(&exchange, "body")
        .as_string()
        .unwrap()
        .contains("code_verifier="));
    let tokens = parse_token_response(
        obj(&[
            ("status", 200.into()),
            ("body", r#"{"access_token":"AT","expires_in":60}"#.into()),
        ]),
        Some(1.0),
    )
    .unwrap();
    assert_eq!(get(&tokens, "expiresAt").as_f64().unwrap(), 61.0);
}

#[wasm_bindgen_test]
async fn client_credentials_over_the_browser_fetch() {
    let Some(base) = option_env!("GRANTLINE_MOCK_URL") else {
        panic!("compile this test with GRANTLINE_MOCK_URL set (servers.sh run)")
    };
    let discovery = JsFuture::from(Provider::discover(
        format!("{base}/.well-known/openid-configuration"),
        None,
    ))
    .await
    .unwrap();
    // Discovery over the browser's fetch (a GET across origins: the server allows CORS).
    assert_eq!(get(&discovery, "issuer").as_string().as_deref(), Some(base));
    let provider = Provider::custom(obj(&[
        ("tokenEndpoint", format!("{base}/token").into()),
        (
            "grants",
            js_sys::Array::of1(&"client_credentials".into()).into(),
        ),
        ("authMethod", "client_secret_post".into()),
    ]))
    .unwrap();
    let client = Client::new(
        &provider,
        "test-client".into(),
        opts(&[("clientSecret", "test-secret".into())]),
    )
    .unwrap();
    let tokens = JsFuture::from(client.client_credentials(None, None))
        .await
        .unwrap();
    assert!(get(&tokens, "accessToken").as_string().unwrap().len() > 10);
}
