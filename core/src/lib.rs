//! # grantline: a sans-IO OAuth 2.0 client core
//!
//! grantline builds HTTP requests and parses HTTP responses for every OAuth 2.0 grant and for
//! the quirks of real providers. It never touches the network, the clock or a global: requests
//! go out as [`http::Request<Vec<u8>>`], responses come back as [`http::Response`], the
//! current time is a parameter (`now`, Unix seconds), and randomness comes from the operating
//! system (or from bytes you pass, for tests). Any HTTP client can carry it: the bindings for
//! JavaScript, Python, Kotlin and Swift each bring their platform's own.
//!
//! ## Invariants
//! - No IO, no clock, no async, no global state; no `unsafe`.
//! - No panic on input: every malformed response, callback or document is a typed [`Error`].
//! - Secrets ([`secret`]) print `[redacted]` in `Debug` and `Display`, are zeroized on drop,
//!   and are read only through `secret()`. No error message carries one.
//! - Endpoints are `https://`, or `http://` on loopback only. Transports must not follow
//!   redirects on token endpoints (a 301 turns POST into GET and can leak the body).
//! - Exactly one renewal is in flight per [`TokenSession`]; a rotated refresh token always
//!   reaches the caller.
//!
//! ## Client credentials, by hand
//! ```
//! use grantline::{Client, Provider, TokenSet};
//!
//! let client = Client::new(Provider::libro(), "YOUR_CLIENT_ID").with_secret("YOUR_CLIENT_SECRET");
//! let request = client.client_credentials_request(&[], 1_700_000_000)?;
//! assert_eq!(request.uri(), "https://api.libroreserve.com/oauth/token");
//! assert_eq!(
//!     request.body(),
//!     b"grant_type=client_credentials&client_id=YOUR_CLIENT_ID&client_secret=YOUR_CLIENT_SECRET"
//! );
//! // ... send it with your HTTP client (redirects off), then:
//! let response = http::Response::builder()
//!     .status(200)
//!     .header("content-type", "application/json")
//!     .body(br#"{"access_token":"eyJ...","token_type":"Bearer","expires_in":7200}"#.to_vec())
//!     .unwrap();
//! let now = 1_700_000_000;
//! let tokens = TokenSet::from_response(&response, now)?;
//! assert_eq!(tokens.expires_at(), Some(now + 7200));
//! # Ok::<(), grantline::Error>(())
//! ```
//!
//! ## Authorization code with PKCE
//! ```
//! use grantline::{AuthorizationRequest, Client, Provider};
//!
//! let client = Client::new(Provider::libro(), "CLIENT_ID")
//!     .with_secret("CLIENT_SECRET")
//!     .with_redirect_uri("https://app.example.io/oauth/callback");
//! let auth = client.authorization_url(&AuthorizationRequest::new().scopes(["bookings", "people"]))?;
//! // Send the user to auth.url; keep auth.pending (it is serializable) until the callback.
//! let stored = auth.pending.to_json();
//! # let callback = format!("https://app.example.io/oauth/callback?code=AUTHORIZATION_CODE&state={}",
//! #     auth.pending.state().secret());
//! let pending = grantline::PendingAuthorization::from_json(&stored)?;
//! let grant = client.callback(&pending, &callback)?;   // checks state and iss
//! let request = client.authorization_code_request(&grant, 1_700_000_000)?;
//! assert_eq!(request.uri(), "https://accounts.libroreserve.com/oauth/token");
//! # Ok::<(), grantline::Error>(())
//! ```
//!
//! ## Keeping a token fresh
//! [`TokenSession`] is the lifecycle: `next(now)` says *use this token*, *send this renewal*
//! or *wait for the renewal in flight*; see the [`session`] module for the loop.
//!
//! ## Modules
//! One per concern: [`provider`] (presets, metadata), [`discovery`] (bound to the issuer),
//! [`client`] (token requests, client authentication), [`grant`] (any grant, extra parameters),
//! [`authorize`] (authorization URL, callback), [`pkce`], [`token`] (token responses),
//! [`introspection`], [`revocation`], [`device`], [`bearer`] (`Authorization`,
//! `WWW-Authenticate`), [`session`], [`fleet`] (one token for a fleet of processes, over a store), [`store`]
//! (the shared entry, encrypted at rest), [`secret`], [`redact`] (printable requests), [`jwt`]
//! (unverified claim peeking), [`jose`] (JWK, JWK Sets, JWS verification and signing, key
//! rotation), [`oidc`] (ID token validation, userinfo, logout), [`text`]
//! (server text made safe for error messages), [`error`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod authorize;
pub mod bearer;
mod body;
pub mod client;
pub mod device;
pub mod discovery;
pub mod error;
pub mod fleet;
pub mod grant;
pub mod introspection;
pub mod jose;
pub mod jwt;
pub mod oidc;
pub mod pkce;
pub mod provider;
pub mod redact;
pub mod revocation;
pub mod secret;
pub mod session;
pub mod store;
pub mod text;
pub mod token;
mod urls;

pub use authorize::{Authorization, AuthorizationRequest, CodeGrant, PendingAuthorization};
pub use bearer::{BearerChallenge, Challenge};
pub use body::{MAX_BODY, RESPONSE_HEADERS};
pub use client::Client;
pub use device::{DeviceAuthorization, DeviceFlow, DevicePoll, DeviceStep};
pub use discovery::Discovery;
pub use error::{Error, Fault};
pub use grant::{GrantRequest, TokenExchange};
pub use introspection::{Introspection, TokenTypeHint};
pub use jose::{JwksCache, JwksStep};
pub use oidc::{EndSessionRequest, IdTokenCheck, IdTokenClaims, UserInfo, UserInfoAnswer};
pub use pkce::PkceMethod;
pub use provider::{
    AssertionAudience, BodyEncoding, ClientAuthMethod, Endpoint, GrantType, Provider,
    ProviderBuilder,
};
pub use revocation::check_revocation_response;
pub use secret::{
    AccessToken, Assertion, AuthorizationCode, ClientSecret, CsrfState, DeviceCode, IdToken, Nonce,
    Password, PkceVerifier, RefreshToken, SecurityToken,
};
pub use session::{Completion, Next, Renewed, SessionGrant, TokenSession};
pub use token::{ExpirySource, TokenSet};
