//! JOSE: JWK parsing and selection, compact JWS verification and signing.
//!
//! Positive vectors are the RFCs' own: RFC 7515 Appendix A.1 (HS256), A.2 (RS256), A.3
//! (ES256); RFC 8037 Appendix A.1/A.4/A.5 (Ed25519); RFC 7517 Appendix A.1, A.2, A.3 and B
//! (key examples). The PEM files under `tests/jose/` named `rfc*` are those RFC keys converted
//! to PKCS#8 (with Python's `cryptography`); the `generated-*` ones are fresh test keys made
//! with `openssl genpkey` for cases the RFCs do not cover (P-384, a 1024-bit RSA key, a SEC1
//! PEM). Negative vectors are built here from those keys.
// Tests fail by panicking: the workspace lints against unwrap/expect/panic/indexing guard
// library code, not test code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use grantline::jose::{Algorithm, Jwk, JwkSet, JwsProblem, SigningKey, MAX_JWS, MAX_KEYS};
use grantline::{Error, Fault};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

// ---------------------------------------------------------------------------------------------
// RFC values

/// RFC 7515 A.1 / A.2 / A.3 payload: `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`.
const RFC7515_PAYLOAD: &str =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

/// RFC 7515 A.1: HS256.
const RFC7515_A1_JWS: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// RFC 7515 A.1 (and RFC 7517 A.3's second key): the HMAC key.
const RFC7515_A1_KEY: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;

/// RFC 7515 A.2: RS256.
const RFC7515_A2_JWS: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const RFC7515_A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const RFC7515_A2_D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
const RFC7515_A2_P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
const RFC7515_A2_Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
const RFC7515_A2_DP: &str = "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0";
const RFC7515_A2_DQ: &str = "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU";
const RFC7515_A2_QI: &str = "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U";

/// RFC 7515 A.3: ES256.
const RFC7515_A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const RFC7515_A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const RFC7515_A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const RFC7515_A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

/// RFC 8037 A.1: the Ed25519 key; A.4: the JWS.
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/// RFC 7517 A.1: public keys.
const RFC7517_A1: &str = r#"{"keys":
  [
    {"kty":"EC",
     "crv":"P-256",
     "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
     "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
     "use":"enc",
     "kid":"1"},

    {"kty":"RSA",
     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
     "e":"AQAB",
     "alg":"RS256",
     "kid":"2011-04-29"}
  ]
}"#;

/// RFC 7517 A.2: private keys.
const RFC7517_A2: &str = r#"{"keys":
  [
    {"kty":"EC",
     "crv":"P-256",
     "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
     "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
     "d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE",
     "use":"enc",
     "kid":"1"},

    {"kty":"RSA",
     "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
     "e":"AQAB",
     "d":"X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoVH-HLLKD9M7dx5oo7GURknchnrRweUkC7hT5fJLM0WbFAKNLWY2vv7B6NqXSzUvxT0_YSfqijwp3RTzlBaCxWp4doFk5N2o8Gy_nHNKroADIkJ46pRUohsXywbReAdYaMwFs9tv8d_cPVY3i07a3t8MN6TNwm0dSawm9v47UiCl3Sk5ZiG7xojPLu4sbg1U2jx4IBTNBznbJSzFHK66jT8bgkuqsk0GjskDJk19Z4qwjwbsnn4j2WBii3RL-Us2lGVkY8fkFzme1z0HbIkfz0Y6mqnOYtqc0X4jfcKoAC8Q",
     "p":"83i-7IvMGXoMXCskv73TKr8637FiO7Z27zv8oj6pbWUQyLPQBQxtPVnwD20R-60eTDmD2ujnMt5PoqMrm8RfmNhVWDtjjMmCMjOpSXicFHj7XOuVIYQyqVWlWEh6dN36GVZYk93N8Bc9vY41xy8B9RzzOGVQzXvNEvn7O0nVbfs",
     "q":"3dfOR9cuYq-0S-mkFLzgItgMEfFzB2q3hWehMuG0oCuqnb3vobLyumqjVZQO1dIrdwgTnCdpYzBcOfW5r370AFXjiWft_NGEiovonizhKpo9VVS78TzFgxkIdrecRezsZ-1kYd_s1qDbxtkDEgfAITAG9LUnADun4vIcb6yelxk",
     "dp":"G4sPXkc6Ya9y8oJW9_ILj4xuppu0lzi_H7VTkS8xj5SdX3coE0oimYwxIi2emTAue0UOa5dpgFGyBJ4c8tQ2VF402XRugKDTP8akYhFo5tAA77Qe_NmtuYZc3C3m3I24G2GvR5sSDxUyAN2zq8Lfn9EUms6rY3Ob8YeiKkTiBj0",
     "dq":"s9lAH9fggBsoFR8Oac2R_E2gw282rT2kGOAhvIllETE1efrA6huUUvMfBcMpn8lqeW6vzznYY5SSQF7pMdC_agI3nG8Ibp1BUb0JUiraRNqUfLhcQb_d9GF4Dh7e74WbRsobRonujTYN1xCaP6TO61jvWrX-L18txXw494Q_cgk",
     "qi":"GyM_p6JrXySiz1toFgKbWV-JdI3jQ4ypu9rbMWx3rQJBfmt0FoYzgUIZEVFEcOqwemRN81zoDAaa-Bk0KWNGDjJHZDdDmFhW3AN7lI-puxk_mHZGJ11rxyR8O55XLSe3SPmRfKwZI6yU24ZxvQKFYItdldUKGzO6Ia6zTKhAVRU",
     "alg":"RS256",
     "kid":"2011-04-29"}
  ]
}"#;

/// RFC 7517 A.3: symmetric keys.
const RFC7517_A3: &str = r#"{"keys":
  [
    {"kty":"oct",
     "alg":"A128KW",
     "k":"GawgguFyGrWKav7AX4VKUg"},

    {"kty":"oct",
     "k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
     "kid":"HMAC key used in JWS spec Appendix A.1 example"}
  ]
}"#;

/// RFC 7517 B: an RSA key with an `x5c` chain.
const RFC7517_B: &str = r#"{"kty":"RSA",
 "use":"sig",
 "kid":"1b94c",
 "n":"vrjOfz9Ccdgx5nQudyhdoR17V-IubWMeOZCwX_jj0hgAsz2J_pqYW08PLbK_PdiVGKPrqzmDIsLI7sA25VEnHU1uCLNwBuUiCO11_-7dYbsr4iJmG0Qu2j8DsVyT1azpJC_NG84Ty5KKthuCaPod7iI7w0LK9orSMhBEwwZDCxTWq4aYWAchc8t-emd9qOvWtVMDC2BXksRngh6X5bUYLy6AyHKvj-nUy1wgzjYQDwHMTplCoLtU-o-8SNnZ1tmRoGE9uJkBLdh5gFENabWnU5m1ZqZPdwS-qo-meMvVfJb6jJVWRpl2SUtCnYG2C32qvbWbjZ_jBPD5eunqsIo1vQ",
 "e":"AQAB",
 "x5c":
  ["MIIDQjCCAiqgAwIBAgIGATz/FuLiMA0GCSqGSIb3DQEBBQUAMGIxCzAJBgNVBAYTAlVTMQswCQYDVQQIEwJDTzEPMA0GA1UEBxMGRGVudmVyMRwwGgYDVQQKExNQaW5nIElkZW50aXR5IENvcnAuMRcwFQYDVQQDEw5CcmlhbiBDYW1wYmVsbDAeFw0xMzAyMjEyMzI5MTVaFw0xODA4MTQyMjI5MTVaMGIxCzAJBgNVBAYTAlVTMQswCQYDVQQIEwJDTzEPMA0GA1UEBxMGRGVudmVyMRwwGgYDVQQKExNQaW5nIElkZW50aXR5IENvcnAuMRcwFQYDVQQDEw5CcmlhbiBDYW1wYmVsbDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAL64zn8/QnHYMeZ0LncoXaEde1fiLm1jHjmQsF/449IYALM9if6amFtPDy2yvz3YlRij66s5gyLCyO7ANuVRJx1NbgizcAblIgjtdf/u3WG7K+IiZhtELto/A7Fck9Ws6SQvzRvOE8uSirYbgmj6He4iO8NCyvaK0jIQRMMGQwsU1quGmFgHIXPLfnpnfajr1rVTAwtgV5LEZ4Iel+W1GC8ugMhyr4/p1MtcIM42EA8BzE6ZQqC7VPqPvEjZ2dbZkaBhPbiZAS3YeYBRDWm1p1OZtWamT3cEvqqPpnjL1XyW+oyVVkaZdklLQp2Btgt9qr21m42f4wTw+Xrp6rCKNb0CAwEAATANBgkqhkiG9w0BAQUFAAOCAQEAh8zGlfSlcI0o3rYDPBB07aXNswb4ECNIKG0CETTUxmXl9KUL+9gGlqCz5iWLOgWsnrcKcY0vXPG9J1r9AqBNTqNgHq2G03X09266X5CpOe1zFo+Owb1zxtp3PehFdfQJ610CDLEaS9V9Rqp17hCyybEpOGVwe8fnk+fbEL2Bo3UPGrpsHzUoaGpDftmWssZkhpBJKVMJyf/RuP2SmmaIzmnw9JiSlYhzo4tpzd5rFXhjRbg4zW9C+2qok+2+qDM1iJ684gPHMIY8aLWrdgQTxkumGmTqgawR+N5MDtdPTEQ0XfIBc2cJEUyMTY5MPvACWpkA6SdS4xSvdXK3IVfOWA=="]
}"#;

const RFC7515_A2_PEM: &str = include_str!("jose/rfc7515-a2.pem");
const RFC7515_A2_PUBLIC_PEM: &str = include_str!("jose/rfc7515-a2-pub.pem");
const RFC7515_A3_PEM: &str = include_str!("jose/rfc7515-a3.pem");
const RFC8037_PEM: &str = include_str!("jose/rfc8037.pem");
const GENERATED_P384_PEM: &str = include_str!("jose/generated-p384.pem");
const GENERATED_RSA1024_PEM: &str = include_str!("jose/generated-rsa1024.pem");
const GENERATED_P256_SEC1_PEM: &str = include_str!("jose/generated-p256-sec1.pem");

// ---------------------------------------------------------------------------------------------
// helpers

fn a2_private() -> String {
    json!({
        "kty": "RSA", "n": RFC7515_A2_N, "e": "AQAB", "d": RFC7515_A2_D, "p": RFC7515_A2_P,
        "q": RFC7515_A2_Q, "dp": RFC7515_A2_DP, "dq": RFC7515_A2_DQ, "qi": RFC7515_A2_QI,
    })
    .to_string()
}

fn a2_public() -> Jwk {
    Jwk::from_json(&json!({"kty": "RSA", "n": RFC7515_A2_N, "e": "AQAB"}).to_string()).unwrap()
}

fn a3_private() -> String {
    json!({"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_Y, "d": RFC7515_A3_D})
        .to_string()
}

fn a3_public() -> Jwk {
    Jwk::from_json(
        &json!({"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_Y}).to_string(),
    )
    .unwrap()
}

fn ed_private() -> String {
    json!({"kty": "OKP", "crv": "Ed25519", "d": RFC8037_D, "x": RFC8037_X}).to_string()
}

fn ed_public() -> Jwk {
    Jwk::from_json(&json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}).to_string()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// A compact JWS with any header, HS256-signed with `secret` (to build hostile tokens whose
/// signature is valid, so a refusal is about the header and nothing else).
fn hs256_with_header(header: &Value, payload: &[u8], secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn a1_secret() -> Vec<u8> {
    unb64("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
}

fn problem(result: Result<impl std::fmt::Debug, Error>) -> JwsProblem {
    match result {
        Err(Error::Jws { problem }) => problem,
        other => panic!("expected a JWS refusal, got {other:?}"),
    }
}

fn no_extra() -> Map<String, Value> {
    Map::new()
}

fn claims() -> Map<String, Value> {
    json!({"iss": "https://as.example", "sub": "s6BhdRkqt3", "aud": "client", "exp": 1_900_000_000_u64})
        .as_object()
        .unwrap()
        .clone()
}

// ---------------------------------------------------------------------------------------------
// positive: the RFCs

#[test]
fn rfc7515_a1_hs256_verifies() {
    let key = Jwk::from_json(RFC7515_A1_KEY).unwrap();
    assert_eq!(key.key_type(), "oct");
    let jws = key.verify(RFC7515_A1_JWS, &[Algorithm::Hs256]).unwrap();
    assert_eq!(jws.algorithm(), Algorithm::Hs256);
    assert_eq!(jws.header()["typ"], "JWT");
    assert_eq!(jws.payload(), unb64(RFC7515_PAYLOAD).as_slice());
    let claims = jws.claims().unwrap();
    assert_eq!(claims["iss"], "joe");
    assert_eq!(claims["exp"], 1_300_819_380);
    assert_eq!(claims["http://example.com/is_root"], true);
    // The same key as a shared secret.
    let secret = Jwk::hmac(&a1_secret()).unwrap();
    secret.verify(RFC7515_A1_JWS, &[Algorithm::Hs256]).unwrap();
}

#[test]
fn rfc7515_a2_rs256_verifies() {
    // The public key alone, and the RFC's private JWK read as a public key.
    for key in [a2_public(), Jwk::from_json(&a2_private()).unwrap()] {
        assert_eq!(key.key_type(), "RSA");
        let jws = key.verify(RFC7515_A2_JWS, &[Algorithm::Rs256]).unwrap();
        assert_eq!(jws.algorithm(), Algorithm::Rs256);
        assert_eq!(jws.kid(), None);
        assert_eq!(jws.claims().unwrap()["iss"], "joe");
    }
}

#[test]
fn rfc7515_a2_rs256_signing_reproduces_the_rfc_signature() {
    // RSASSA-PKCS1-v1_5 is deterministic: the RFC's key must give the RFC's bytes, from the
    // JWK and from the same key as PKCS#8 PEM.
    let payload = unb64(RFC7515_PAYLOAD);
    for key in [
        SigningKey::from_jwk(&a2_private()).unwrap(),
        SigningKey::from_pkcs8_pem(RFC7515_A2_PEM).unwrap(),
    ] {
        assert_eq!(key.algorithm(), Algorithm::Rs256);
        assert_eq!(
            key.sign_payload(&no_extra(), &payload).unwrap(),
            RFC7515_A2_JWS
        );
    }
}

#[test]
fn rfc7515_a3_es256_verifies() {
    let jws = a3_public()
        .verify(RFC7515_A3_JWS, &[Algorithm::Es256])
        .unwrap();
    assert_eq!(jws.algorithm(), Algorithm::Es256);
    assert_eq!(jws.claims().unwrap()["iss"], "joe");
    // The RFC's private key, from the JWK and from PEM, signs what the public key verifies.
    for key in [
        SigningKey::from_jwk(&a3_private()).unwrap(),
        SigningKey::from_pkcs8_pem(RFC7515_A3_PEM).unwrap(),
    ] {
        assert_eq!(key.algorithm(), Algorithm::Es256);
        let token = key.sign(&no_extra(), &claims()).unwrap();
        let signature = unb64(token.rsplit('.').next().unwrap());
        assert_eq!(
            signature.len(),
            64,
            "ES256 signatures are r || s (RFC 7518 §3.4)"
        );
        a3_public().verify(&token, &[Algorithm::Es256]).unwrap();
    }
}

#[test]
fn rfc8037_a4_ed25519_signing_reproduces_the_rfc_signature() {
    for key in [
        SigningKey::from_jwk(&ed_private()).unwrap(),
        SigningKey::from_pkcs8_pem(RFC8037_PEM).unwrap(),
    ] {
        assert_eq!(key.algorithm(), Algorithm::EdDsa);
        assert_eq!(
            key.sign_payload(&no_extra(), b"Example of Ed25519 signing")
                .unwrap(),
            RFC8037_JWS
        );
    }
}

#[test]
fn rfc8037_a5_ed25519_verifies() {
    let key = ed_public();
    assert_eq!((key.key_type(), key.curve()), ("OKP", Some("Ed25519")));
    let jws = key.verify(RFC8037_JWS, &[Algorithm::EdDsa]).unwrap();
    assert_eq!(jws.payload(), b"Example of Ed25519 signing");
    assert_eq!(jws.algorithm(), Algorithm::EdDsa);
    // Not a JSON payload: claims() says so.
    assert_eq!(problem(jws.claims()).kind(), "malformed");
}

#[test]
fn rfc7517_appendix_a_and_b_keys_parse() {
    let a1 = JwkSet::from_json(RFC7517_A1).unwrap();
    assert_eq!((a1.keys().len(), a1.skipped()), (2, 0));
    let ec = &a1.keys()[0];
    assert_eq!(
        (ec.key_type(), ec.curve(), ec.kid(), ec.key_use()),
        ("EC", Some("P-256"), Some("1"), Some("enc"))
    );
    assert!(!ec.can_verify(Algorithm::Es256), "an enc key signs nothing");
    let rsa = &a1.keys()[1];
    assert_eq!(
        (rsa.key_type(), rsa.kid(), rsa.alg()),
        ("RSA", Some("2011-04-29"), Some("RS256"))
    );
    assert!(rsa.can_verify(Algorithm::Rs256));
    assert!(!rsa.can_verify(Algorithm::Ps256), "its alg says RS256");

    // The private keys parse as a set (their public halves) and as signing keys.
    let a2 = JwkSet::from_json(RFC7517_A2).unwrap();
    assert_eq!((a2.keys().len(), a2.skipped()), (2, 0));
    let keys: Value = serde_json::from_str(RFC7517_A2).unwrap();
    let rsa_private = keys["keys"][1].to_string();
    let signer = SigningKey::from_jwk(&rsa_private).unwrap();
    assert_eq!(
        (signer.algorithm(), signer.kid()),
        (Algorithm::Rs256, Some("2011-04-29"))
    );
    let token = signer.sign(&no_extra(), &claims()).unwrap();
    let verified = a1.verify(&token, &[Algorithm::Rs256]).unwrap();
    assert_eq!(verified.kid(), Some("2011-04-29"));
    // The EC private key is marked "use":"enc": not a signing key.
    let ec_private = keys["keys"][0].to_string();
    assert_eq!(
        SigningKey::from_jwk(&ec_private).unwrap_err().kind(),
        "invalid_key"
    );

    let a3 = JwkSet::from_json(RFC7517_A3).unwrap();
    assert_eq!((a3.keys().len(), a3.skipped()), (2, 0));
    assert_eq!(a3.keys()[0].alg(), Some("A128KW"));
    assert!(
        !a3.keys()[0].can_verify(Algorithm::Hs256),
        "16 bytes and a key-wrapping alg"
    );
    assert!(a3.keys()[1].can_verify(Algorithm::Hs256));
    let verified = a3.verify(RFC7515_A1_JWS, &[Algorithm::Hs256]).unwrap();
    assert_eq!(verified.algorithm(), Algorithm::Hs256);

    let b = Jwk::from_json(RFC7517_B).unwrap();
    assert_eq!(
        (b.key_type(), b.kid(), b.key_use()),
        ("RSA", Some("1b94c"), Some("sig"))
    );
    assert!(b.can_verify(Algorithm::Rs256) && b.can_verify(Algorithm::Ps512));
}

// ---------------------------------------------------------------------------------------------
// round trips

#[test]
fn every_signing_algorithm_round_trips() {
    let rsa = SigningKey::from_jwk(&a2_private()).unwrap();
    let cases = [
        (rsa.clone(), Algorithm::Rs256),
        (rsa.clone(), Algorithm::Rs384),
        (rsa.clone(), Algorithm::Rs512),
        (rsa.clone(), Algorithm::Ps256),
        (rsa.clone(), Algorithm::Ps384),
        (rsa, Algorithm::Ps512),
        (
            SigningKey::from_jwk(&a3_private()).unwrap(),
            Algorithm::Es256,
        ),
        (
            SigningKey::from_pkcs8_pem(GENERATED_P384_PEM).unwrap(),
            Algorithm::Es384,
        ),
        (
            SigningKey::from_jwk(&ed_private()).unwrap(),
            Algorithm::EdDsa,
        ),
        (
            SigningKey::from_jwk(RFC7515_A1_KEY).unwrap(),
            Algorithm::Hs256,
        ),
    ];
    let mut extra = Map::new();
    extra.insert("typ".into(), "JWT".into());
    for (key, alg) in cases {
        let key = key
            .with_algorithm(alg)
            .unwrap()
            .with_kid(format!("kid-{alg}"));
        let token = key.sign(&extra, &claims()).unwrap();
        let verifier = match key.public_jwk() {
            Some(public) => {
                // What a server would publish, parsed back.
                Jwk::from_json(&public.to_public_json().unwrap()).unwrap()
            }
            None => Jwk::hmac(&a1_secret())
                .unwrap()
                .with_kid(format!("kid-{alg}")),
        };
        let set = JwkSet::new(vec![ed_public(), verifier]);
        let jws = set.verify(&token, &Algorithm::ALL).unwrap();
        assert_eq!(jws.algorithm(), alg);
        let expected_kid = format!("kid-{alg}");
        assert_eq!(jws.kid(), Some(expected_kid.as_str()));
        assert_eq!(jws.header()["typ"], "JWT");
        assert_eq!(jws.claims().unwrap(), claims());
        // Only the algorithm it was signed with is accepted for it.
        let others: Vec<Algorithm> = Algorithm::ALL.into_iter().filter(|a| *a != alg).collect();
        assert_eq!(
            problem(set.verify(&token, &others)).kind(),
            "algorithm_not_accepted"
        );
    }
}

#[test]
fn public_jwk_export_has_only_public_members() {
    let key = SigningKey::from_jwk(&a2_private()).unwrap().with_kid("r1");
    let public: Value =
        serde_json::from_str(&key.public_jwk().unwrap().to_public_json().unwrap()).unwrap();
    assert_eq!(
        public,
        json!({"kty": "RSA", "n": RFC7515_A2_N, "e": "AQAB", "kid": "r1", "alg": "RS256", "use": "sig"})
    );
    let ed: Value = serde_json::from_str(
        &SigningKey::from_pkcs8_pem(RFC8037_PEM)
            .unwrap()
            .public_jwk()
            .unwrap()
            .to_public_json()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        ed,
        json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "alg": "EdDSA", "use": "sig"})
    );
    let ec: Value = serde_json::from_str(
        &SigningKey::from_pkcs8_pem(RFC7515_A3_PEM)
            .unwrap()
            .public_jwk()
            .unwrap()
            .to_public_json()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (&ec["x"], &ec["y"]),
        (&json!(RFC7515_A3_X), &json!(RFC7515_A3_Y))
    );
    assert!(SigningKey::hmac(&a1_secret())
        .unwrap()
        .public_jwk()
        .is_none());
    assert!(Jwk::hmac(&a1_secret()).unwrap().to_public_json().is_none());
}

// ---------------------------------------------------------------------------------------------
// negative

#[test]
fn alg_none_is_refused() {
    let none = format!("{}.{RFC7515_PAYLOAD}.", b64(br#"{"alg":"none"}"#));
    assert_eq!(
        problem(a2_public().verify(&none, &Algorithm::ALL)),
        JwsProblem::AlgNone
    );
    let none_upper = format!("{}.{RFC7515_PAYLOAD}.", b64(br#"{"alg":"NONE"}"#));
    assert_eq!(
        problem(a2_public().verify(&none_upper, &Algorithm::ALL)),
        JwsProblem::AlgNone
    );
    // Even with a signature attached.
    let with_signature = format!("{}.{RFC7515_PAYLOAD}.c2ln", b64(br#"{"alg":"none"}"#));
    assert_eq!(
        problem(
            Jwk::hmac(&a1_secret())
                .unwrap()
                .verify(&with_signature, &Algorithm::ALL)
        ),
        JwsProblem::AlgNone
    );
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    // The classic confusion: the attacker HMACs with the RSA public key's bytes (its PEM, or
    // its modulus) as the secret and sets alg HS256, hoping the verifier feeds its RSA key to
    // HMAC. The signatures are valid HMACs over those bytes.
    let header = json!({"alg": "HS256"});
    for secret in [
        RFC7515_A2_PUBLIC_PEM.as_bytes().to_vec(),
        unb64(RFC7515_A2_N),
    ] {
        let forged = hs256_with_header(&header, br#"{"sub":"admin"}"#, &secret);
        // A careless caller accepting both still gets a refusal: the key is RSA.
        let refused = problem(a2_public().verify(&forged, &[Algorithm::Rs256, Algorithm::Hs256]));
        assert_eq!(refused.kind(), "key_mismatch", "{refused}");
        assert!(
            refused.to_string().contains("algorithm confusion"),
            "{refused}"
        );
        let set = JwkSet::from_json(RFC7517_A1).unwrap();
        assert_eq!(
            problem(set.verify(&forged, &Algorithm::ALL)),
            JwsProblem::NoMatchingKey {
                kid: None,
                alg: Algorithm::Hs256
            }
        );
        // A caller that lists what it expects refuses it earlier.
        assert_eq!(
            problem(a2_public().verify(&forged, &[Algorithm::Rs256])),
            JwsProblem::AlgorithmNotAccepted {
                alg: "HS256".into()
            }
        );
    }
    // And a shared-secret key never checks an RSA signature.
    assert_eq!(
        problem(
            Jwk::hmac(&a1_secret())
                .unwrap()
                .verify(RFC7515_A2_JWS, &Algorithm::ALL)
        )
        .kind(),
        "key_mismatch"
    );
}

#[test]
fn crit_is_refused_even_when_the_signature_is_valid() {
    let key = Jwk::hmac(&a1_secret()).unwrap();
    // Control: the same construction without crit verifies.
    let plain = hs256_with_header(&json!({"alg": "HS256"}), b"{}", &a1_secret());
    key.verify(&plain, &[Algorithm::Hs256]).unwrap();
    // RFC 7515 §4.1.11's example header.
    let crit = hs256_with_header(
        &json!({"alg": "HS256", "crit": ["exp"], "exp": 1_363_284_000}),
        b"{}",
        &a1_secret(),
    );
    assert_eq!(
        problem(key.verify(&crit, &[Algorithm::Hs256])),
        JwsProblem::UnsupportedCritical {
            names: vec!["exp".into()]
        }
    );
    for bad in [json!([]), json!("exp"), json!(["http://example.invalid/x"])] {
        let token = hs256_with_header(&json!({"alg": "HS256", "crit": bad}), b"{}", &a1_secret());
        assert_eq!(
            problem(key.verify(&token, &[Algorithm::Hs256])).kind(),
            "unsupported_critical"
        );
    }
}

#[test]
fn unencoded_payload_is_refused() {
    let key = Jwk::hmac(&a1_secret()).unwrap();
    // RFC 7797 §4's header, over an encoded payload and over the raw one.
    let header = json!({"alg": "HS256", "b64": false, "crit": ["b64"]});
    let token = hs256_with_header(&header, b"$.02", &a1_secret());
    assert_eq!(
        problem(key.verify(&token, &[Algorithm::Hs256])),
        JwsProblem::UnencodedPayload
    );
    // (A raw payload with a dot cannot even be split: use one without.)
    let raw_input = format!("{}.$02", b64(header.to_string().as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(&a1_secret()).unwrap();
    mac.update(raw_input.as_bytes());
    let raw = format!("{raw_input}.{}", b64(&mac.finalize().into_bytes()));
    assert_eq!(
        problem(key.verify(&raw, &[Algorithm::Hs256])),
        JwsProblem::UnencodedPayload
    );
    // b64 without crit, or not a boolean: refused too; b64: true is the default.
    for b64_value in [json!(false), json!("false"), json!(0)] {
        let token = hs256_with_header(
            &json!({"alg": "HS256", "b64": b64_value}),
            b"{}",
            &a1_secret(),
        );
        assert_eq!(
            problem(key.verify(&token, &[Algorithm::Hs256])),
            JwsProblem::UnencodedPayload
        );
    }
    let token = hs256_with_header(&json!({"alg": "HS256", "b64": true}), b"{}", &a1_secret());
    key.verify(&token, &[Algorithm::Hs256]).unwrap();
}

#[test]
fn wrong_curve_is_refused() {
    let p384 = SigningKey::from_pkcs8_pem(GENERATED_P384_PEM)
        .unwrap()
        .with_kid("k1");
    let p384_public = p384.public_jwk().unwrap();
    let p256 = SigningKey::from_jwk(&a3_private()).unwrap().with_kid("k1");
    // ES256 under kid k1, but k1 is a P-384 key.
    let token = p256.sign(&no_extra(), &claims()).unwrap();
    let refused = problem(JwkSet::new(vec![p384_public.clone()]).verify(&token, &Algorithm::ALL));
    assert_eq!(refused.kind(), "key_mismatch");
    assert!(refused.to_string().contains("P-384"), "{refused}");
    // A P-256 key's signature relabelled ES384 (header swapped, signature kept).
    let forged = relabel(&token, json!({"alg": "ES384", "kid": "k1"}));
    let refused = problem(a3_public().with_kid("k1").verify(&forged, &Algorithm::ALL));
    assert_eq!(refused.kind(), "key_mismatch");
    assert!(refused.to_string().contains("P-256"), "{refused}");
    // ES256 on an Ed25519 key; EdDSA on an EC key.
    assert_eq!(
        problem(ed_public().verify(RFC7515_A3_JWS, &Algorithm::ALL)).kind(),
        "key_mismatch"
    );
    assert_eq!(
        problem(a3_public().verify(RFC8037_JWS, &Algorithm::ALL)).kind(),
        "key_mismatch"
    );
    // A JWK whose coordinates do not fit its curve does not parse.
    let p384_json: Value = serde_json::from_str(&p384_public.to_public_json().unwrap()).unwrap();
    let mislabelled =
        json!({"kty": "EC", "crv": "P-256", "x": p384_json["x"], "y": p384_json["y"]});
    assert_eq!(
        Jwk::from_json(&mislabelled.to_string()).unwrap_err().kind(),
        "invalid_key"
    );
    let off_curve = json!({"kty": "EC", "crv": "P-256", "x": RFC7515_A3_X, "y": RFC7515_A3_X});
    assert_eq!(
        Jwk::from_json(&off_curve.to_string()).unwrap_err().kind(),
        "invalid_key"
    );
}

/// The token with another header and the same payload and signature.
fn relabel(token: &str, header: Value) -> String {
    let mut parts = token.split('.');
    let (_, payload, signature) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    format!(
        "{}.{payload}.{signature}",
        b64(header.to_string().as_bytes())
    )
}

#[test]
fn kid_mismatch_is_refused() {
    let signer = SigningKey::from_jwk(&ed_private()).unwrap().with_kid("a");
    let token = signer.sign(&no_extra(), &claims()).unwrap();
    let set = JwkSet::new(vec![
        ed_public().with_kid("b"),
        a2_public().with_kid("a-ish"),
    ]);
    assert_eq!(
        problem(set.verify(&token, &Algorithm::ALL)),
        JwsProblem::NoMatchingKey {
            kid: Some("a".into()),
            alg: Algorithm::EdDsa
        }
    );
    assert_eq!(
        problem(ed_public().with_kid("b").verify(&token, &Algorithm::ALL)).kind(),
        "no_matching_key"
    );
    // The right kid verifies; a key without kid is not picked for a token with one.
    JwkSet::new(vec![ed_public().with_kid("b"), ed_public().with_kid("a")])
        .verify(&token, &Algorithm::ALL)
        .unwrap();
    assert_eq!(
        problem(ed_public().verify(&token, &Algorithm::ALL)).kind(),
        "no_matching_key"
    );
    // Without a kid in the token, every fitting key is tried.
    let unnamed = SigningKey::from_jwk(&ed_private()).unwrap();
    let token = unnamed.sign(&no_extra(), &claims()).unwrap();
    let set = JwkSet::new(vec![a3_public(), ed_public().with_kid("x")]);
    assert_eq!(set.verify(&token, &Algorithm::ALL).unwrap().kid(), None);
    // The header's kid is escaped and capped in the error.
    let hostile = hs256_with_header(
        &json!({"alg": "HS256", "kid": format!("\u{1b}[2J{}", "k".repeat(10_000))}),
        b"{}",
        &a1_secret(),
    );
    let refused = problem(
        Jwk::hmac(&a1_secret())
            .unwrap()
            .with_kid("x")
            .verify(&hostile, &Algorithm::ALL),
    );
    let shown = refused.to_string();
    assert!(!shown.contains('\u{1b}') && shown.len() < 400, "{shown}");
}

#[test]
fn key_use_alg_and_key_ops_restrict_selection() {
    let base = json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X});
    let with = |member: &str, value: Value| {
        let mut jwk = base.clone();
        jwk[member] = value;
        Jwk::from_json(&jwk.to_string()).unwrap()
    };
    for (key, fits) in [
        (with("use", json!("sig")), true),
        (with("use", json!("enc")), false),
        (with("alg", json!("EdDSA")), true),
        (with("alg", json!("ES256")), false),
        (with("key_ops", json!(["verify"])), true),
        (with("key_ops", json!(["sign"])), false),
        (with("key_ops", json!(["encrypt"])), false),
    ] {
        assert_eq!(key.can_verify(Algorithm::EdDsa), fits, "{key:?}");
        let result = key.verify(RFC8037_JWS, &[Algorithm::EdDsa]);
        assert_eq!(result.is_ok(), fits, "{key:?}");
    }
    // select(): by kid, then by fit.
    let set = JwkSet::new(vec![
        a2_public().with_kid("r"),
        a3_public().with_kid("e"),
        ed_public().with_kid("e"),
    ]);
    let picked = set.select(Algorithm::EdDsa, Some("e")).unwrap();
    assert_eq!(picked.len(), 1);
    assert_eq!(picked[0].key_type(), "OKP");
    assert_eq!(set.select(Algorithm::Rs256, None).unwrap().len(), 1);
    assert_eq!(
        set.select(Algorithm::Es384, None).unwrap_err().kind(),
        "jws"
    );
}

#[test]
fn bad_signatures_are_refused() {
    let cases = [
        (a2_public(), RFC7515_A2_JWS, Algorithm::Rs256),
        (a3_public(), RFC7515_A3_JWS, Algorithm::Es256),
        (ed_public(), RFC8037_JWS, Algorithm::EdDsa),
        (
            Jwk::from_json(RFC7515_A1_KEY).unwrap(),
            RFC7515_A1_JWS,
            Algorithm::Hs256,
        ),
    ];
    for (key, token, alg) in cases {
        key.verify(token, &[alg]).unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut bytes = unb64(signature);
        bytes[3] ^= 0x01;
        let flipped = format!("{input}.{}", b64(&bytes));
        assert_eq!(
            problem(key.verify(&flipped, &[alg])),
            JwsProblem::BadSignature,
            "{alg}"
        );
        // Truncated, empty, or another token's signature.
        let truncated = format!("{input}.{}", b64(&bytes[..bytes.len() - 1]));
        assert_eq!(
            problem(key.verify(&truncated, &[alg])),
            JwsProblem::BadSignature,
            "{alg}"
        );
        assert_eq!(
            problem(key.verify(&format!("{input}."), &[alg])),
            JwsProblem::BadSignature
        );
        // The payload changed under the signature.
        let header = input.split('.').next().unwrap();
        let tampered = format!("{header}.{}.{signature}", b64(br#"{"iss":"mallory"}"#));
        assert_eq!(
            problem(key.verify(&tampered, &[alg])),
            JwsProblem::BadSignature,
            "{alg}"
        );
    }
    let err = a2_public()
        .verify(&RFC7515_A2_JWS.replace("cC4h", "dC4h"), &[Algorithm::Rs256])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the JWS was refused: the signature does not verify"
    );
    // An RS256 signature relabelled PS256 does not verify as PSS.
    let relabelled = relabel(RFC7515_A2_JWS, json!({"alg": "PS256"}));
    assert_eq!(
        problem(a2_public().verify(&relabelled, &Algorithm::ALL)),
        JwsProblem::BadSignature
    );
    // Another RSA key's signature.
    assert_eq!(
        problem(
            Jwk::from_json(RFC7517_B)
                .unwrap()
                .verify(RFC7515_A2_JWS, &Algorithm::ALL)
        ),
        JwsProblem::BadSignature
    );
}

#[test]
fn truncated_and_garbled_tokens_are_malformed() {
    let key = a2_public();
    let (head, rest) = RFC7515_A2_JWS.split_once('.').unwrap();
    let cases = [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        head.into(),
        format!("{head}.{RFC7515_PAYLOAD}"),
        format!("{RFC7515_A2_JWS}.extra"),
        format!("{RFC7515_A2_JWS}.a.b"),
        format!("{head}=.{rest}"),
        format!("{head}!.{rest}"),
        format!("e30.{rest}"),
        format!("bm90IGpzb24.{rest}"),
        format!("{}.{rest}", b64(b"[\"alg\"]")),
        format!("{}.{rest}", b64(br#"{"alg":256}"#)),
        format!("{}.{rest}", b64(br#"{"alg":"RS256","kid":7}"#)),
        format!("{}.{rest}", b64(&[0xff, 0xfe, b'{'])),
        format!("{head}.not*base64.sig"),
        format!("{head}.{RFC7515_PAYLOAD}.sig+nature/"),
        format!("{head}.{RFC7515_PAYLOAD}==.sig"),
        RFC7515_A2_JWS.replace('.', " . "),
    ];
    for token in &cases {
        let refused = problem(key.verify(token, &Algorithm::ALL));
        assert_eq!(refused.kind(), "malformed", "{token:?}: {refused}");
    }
    // Oversized input is refused before any decoding.
    let huge = format!("{head}.{}.{}", "A".repeat(MAX_JWS), "B".repeat(10));
    assert_eq!(
        problem(key.verify(&huge, &Algorithm::ALL)),
        JwsProblem::TooLarge { limit: MAX_JWS }
    );
    // Unknown algorithms are not accepted, whatever the list says.
    let hs512 = format!("{}.{RFC7515_PAYLOAD}.c2ln", b64(br#"{"alg":"HS512"}"#));
    assert_eq!(
        problem(key.verify(&hs512, &Algorithm::ALL)),
        JwsProblem::AlgorithmNotAccepted {
            alg: "HS512".into()
        }
    );
    // No accepted algorithm at all is the caller's mistake.
    let err = key.verify(RFC7515_A2_JWS, &[]).unwrap_err();
    assert_eq!((err.kind(), err.fault()), ("invalid_input", Fault::Caller));
}

#[test]
fn refusals_name_no_token_or_key_material() {
    let tokens = [
        RFC7515_A2_JWS.replace("cC4h", "dC4h"),
        relabel(RFC7515_A2_JWS, json!({"alg": "none"})),
        relabel(RFC7515_A2_JWS, json!({"alg": "HS256"})),
        relabel(
            RFC7515_A2_JWS,
            json!({"alg": "RS256", "crit": ["x"], "x": 1}),
        ),
        format!("{RFC7515_A2_JWS}x"),
    ];
    for token in &tokens {
        let err = a2_public().verify(token, &Algorithm::ALL).unwrap_err();
        assert_eq!(err.fault(), Fault::Response);
        assert_eq!(err.kind(), "jws");
        let shown = format!("{err} {err:?}");
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!shown.contains(part), "{shown}");
        }
        assert!(
            !shown.contains("joe") && !shown.contains(&RFC7515_A2_N[..24]),
            "{shown}"
        );
    }
}

#[test]
fn unusable_keys_are_refused() {
    let refused = |result: Result<SigningKey, Error>| {
        let err = result.unwrap_err();
        assert_eq!(
            (err.kind(), err.fault()),
            ("invalid_key", Fault::Caller),
            "{err}"
        );
        err.to_string()
    };
    // PEM: too small, not PKCS#8, a public key, garbage.
    assert!(refused(SigningKey::from_pkcs8_pem(GENERATED_RSA1024_PEM)).contains("2048"));
    refused(SigningKey::from_pkcs8_pem(GENERATED_P256_SEC1_PEM));
    refused(SigningKey::from_pkcs8_pem(RFC7515_A2_PUBLIC_PEM));
    refused(SigningKey::from_pkcs8_pem(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ));
    refused(SigningKey::from_pkcs8_pem("not a pem"));
    // JWK: no private part, inconsistent parts, short HMAC key, wrong alg, wrong use/key_ops.
    refused(SigningKey::from_jwk(
        &json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}).to_string(),
    ));
    let mut wrong_x: Value = serde_json::from_str(&ed_private()).unwrap();
    wrong_x["x"] = json!(RFC7515_A3_X);
    refused(SigningKey::from_jwk(&wrong_x.to_string()));
    let mut wrong_d: Value = serde_json::from_str(&a3_private()).unwrap();
    wrong_d["d"] = json!("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE");
    refused(SigningKey::from_jwk(&wrong_d.to_string()));
    let mut wrong_rsa: Value = serde_json::from_str(&a2_private()).unwrap();
    wrong_rsa["d"] = json!(RFC7515_A2_QI);
    refused(SigningKey::from_jwk(&wrong_rsa.to_string()));
    refused(SigningKey::from_jwk(
        r#"{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}"#,
    ));
    refused(SigningKey::hmac(b"short"));
    let mut alg: Value = serde_json::from_str(&ed_private()).unwrap();
    alg["alg"] = json!("RS256");
    refused(SigningKey::from_jwk(&alg.to_string()));
    let mut ops: Value = serde_json::from_str(&ed_private()).unwrap();
    ops["key_ops"] = json!(["verify"]);
    refused(SigningKey::from_jwk(&ops.to_string()));
    refused(
        SigningKey::from_jwk(&ed_private())
            .unwrap()
            .with_algorithm(Algorithm::Es256),
    );
    refused(
        SigningKey::from_jwk(&a2_private())
            .unwrap()
            .with_algorithm(Algorithm::Hs256),
    );
    refused(SigningKey::from_jwk("{"));
    refused(SigningKey::from_jwk(r#"{"kty":"RSA","n":5}"#));
    assert_eq!(Jwk::hmac(b"short").unwrap_err().kind(), "invalid_key");

    // Header parameters the signer controls.
    let key = SigningKey::from_jwk(&ed_private()).unwrap();
    for name in ["alg", "crit", "b64"] {
        let mut extra = Map::new();
        extra.insert(name.into(), json!("x"));
        assert_eq!(
            key.sign(&extra, &claims()).unwrap_err().kind(),
            "invalid_input"
        );
    }
}

#[test]
fn jwk_sets_skip_unusable_keys_and_are_capped() {
    let mixed = json!({"keys": [
        {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "X25519", "x": RFC8037_X},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "unknown"},
        {"no": "kty"},
        "not an object",
        {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "good"},
    ]});
    let set = JwkSet::from_json(&mixed.to_string()).unwrap();
    assert_eq!((set.keys().len(), set.skipped()), (1, 6));
    assert_eq!(set.keys()[0].kid(), Some("good"));
    set.verify(RFC8037_JWS, &[Algorithm::EdDsa]).unwrap();

    let too_many = json!({"keys": vec![json!({"kty": "unknown"}); MAX_KEYS + 1]});
    assert_eq!(
        JwkSet::from_json(&too_many.to_string()).unwrap_err().kind(),
        "invalid_key"
    );
    for bad in ["", "[]", "{}", r#"{"keys": {}}"#, "null"] {
        assert_eq!(
            JwkSet::from_json(bad).unwrap_err().kind(),
            "invalid_key",
            "{bad:?}"
        );
    }
    // A single JWK that is unusable is an error, not a skip.
    let rsa_too_small = json!({"kty": "RSA", "n": b64(&[0xc5; 128]), "e": "AQAB"});
    let err = Jwk::from_json(&rsa_too_small.to_string()).unwrap_err();
    assert!(err.to_string().contains("2048"), "{err}");
}

#[test]
fn debug_prints_no_key_material() {
    let secrets: Vec<String> = vec![
        RFC7515_A2_D.into(),
        RFC7515_A2_P.into(),
        RFC7515_A2_Q.into(),
        RFC7515_A3_D.into(),
        RFC8037_D.into(),
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ".into(),
    ];
    let keys = [
        SigningKey::from_jwk(&a2_private()).unwrap(),
        SigningKey::from_pkcs8_pem(RFC7515_A2_PEM)
            .unwrap()
            .with_kid("k"),
        SigningKey::from_jwk(&a3_private()).unwrap(),
        SigningKey::from_pkcs8_pem(GENERATED_P384_PEM).unwrap(),
        SigningKey::from_jwk(&ed_private()).unwrap(),
        SigningKey::from_jwk(RFC7515_A1_KEY).unwrap(),
        SigningKey::hmac(&a1_secret()).unwrap(),
    ];
    let mut shown: Vec<String> = keys.iter().map(|k| format!("{k:?} {k:#?}")).collect();
    for key in &keys {
        assert!(format!("{key:?}").contains("[redacted]"), "{key:?}");
    }
    shown.push(format!("{:?}", Jwk::from_json(RFC7515_A1_KEY).unwrap()));
    shown.push(format!("{:?}", JwkSet::from_json(RFC7517_A3).unwrap()));
    shown.push(format!("{:?}", JwkSet::from_json(RFC7517_A2).unwrap()));
    let verified = Jwk::from_json(RFC7515_A1_KEY)
        .unwrap()
        .verify(RFC7515_A1_JWS, &[Algorithm::Hs256])
        .unwrap();
    shown.push(format!("{verified:?}"));
    // Errors about private keys name no member values.
    let mut broken: Value = serde_json::from_str(&a2_private()).unwrap();
    broken["q"] = json!(RFC7515_A2_P);
    shown.push(
        SigningKey::from_jwk(&broken.to_string())
            .unwrap_err()
            .to_string(),
    );
    let mut bad_b64: Value = serde_json::from_str(&ed_private()).unwrap();
    bad_b64["d"] = json!(format!("{RFC8037_D}!"));
    shown.push(format!(
        "{:?}",
        SigningKey::from_jwk(&bad_b64.to_string()).unwrap_err()
    ));
    let typed = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","d":["{RFC8037_D}"]}}"#);
    shown.push(format!("{:?}", SigningKey::from_jwk(&typed).unwrap_err()));
    for text in &shown {
        for secret in &secrets {
            assert!(!text.contains(&secret[..16]), "{text} leaks {secret}");
        }
        assert!(!text.contains("joe"), "{text} shows the payload");
    }
}

#[test]
fn algorithm_names_round_trip() {
    for alg in Algorithm::ALL {
        assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        assert_eq!(alg.to_string(), alg.name());
    }
    assert_eq!(Algorithm::from_name("none"), None);
    assert_eq!(Algorithm::from_name("rs256"), None);
    assert!(!Algorithm::ASYMMETRIC.contains(&Algorithm::Hs256));
}

#[test]
fn jose_types_cross_threads() {
    // The bindings share keys and key sets between threads (uniffi objects are `Send + Sync`).
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Jwk>();
    shareable::<JwkSet>();
    shareable::<SigningKey>();
    shareable::<grantline::jose::VerifiedJws>();
    shareable::<JwsProblem>();
    shareable::<Error>();
}
