//! The client: who we are at a provider, and the token-endpoint requests for every grant.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::HeaderValue;
use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Map;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::grant::{GrantRequest, Part};
use crate::jose::SigningKey;
use crate::provider::{
    AssertionAudience, BodyEncoding, ClientAuthMethod, Endpoint, GrantType, Provider,
};
use crate::secret::{Assertion, ClientSecret, DeviceCode, Password, RefreshToken};

/// An OAuth client registered at a [`Provider`]: its id, optional secret or signing key, and
/// redirect URI.
///
/// Every `*_request` method returns an `http::Request<Vec<u8>>` for the caller to send with
/// any HTTP client that does **not** follow redirects; the matching parser takes the
/// `http::Response` back. Token-endpoint requests take `now` (Unix seconds) last: it is the
/// `iat` of a JWT client assertion (`private_key_jwt`, `client_secret_jwt`) and is ignored by
/// the other methods. Every one is a [`GrantRequest`] sent with [`Client::grant_request`].
///
/// `Debug` prints no secret: the client secret, the Basic credentials and the signing key are
/// redacted.
///
/// ```
/// use grantline::{Client, Provider};
/// let client = Client::new(Provider::bindeo(), "my-id").with_secret("my-secret");
/// let request = client.client_credentials_request(&[], 1_700_000_000).unwrap();
/// assert_eq!(request.uri(), "https://api.bindeo.com/access_token");
/// assert_eq!(
///     request.body(),
///     br#"{"grant_type":"client_credentials","client_id":"my-id","client_secret":"my-secret"}"#
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    provider: Provider,
    client_id: String,
    client_secret: Option<ClientSecret>,
    /// `Basic base64(...)` of the id and secret, computed once; as secret as the secret.
    basic: Option<ClientSecret>,
    /// The key of `private_key_jwt` (its `Debug` shows the algorithm and `kid` only).
    signing_key: Option<SigningKey>,
    redirect_uri: Option<String>,
    auth_method: Option<ClientAuthMethod>,
    /// Each grant's token endpoint, parsed once (cloning a `Uri` shares its bytes).
    token_uris: Vec<(GrantType, http::Uri)>,
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The lifetime of a client assertion, in seconds (`exp` = `iat` + this).
pub const ASSERTION_LIFETIME: u64 = 60;

/// When a request is built: the time (`iat` of a client assertion) and, for tests, the `jti`
/// bytes (else 16 bytes from the operating system).
#[derive(Clone, Copy)]
pub(crate) struct Stamp {
    pub(crate) now: u64,
    pub(crate) jti: Option<[u8; 16]>,
}

impl Stamp {
    pub(crate) fn at(now: u64) -> Self {
        Stamp { now, jti: None }
    }
}

impl Client {
    /// A client with this id at `provider`, public (no secret) until [`Client::with_secret`]
    /// or [`Client::with_signing_key`].
    pub fn new(provider: Provider, client_id: impl Into<String>) -> Self {
        let token_uris = provider
            .grants()
            .iter()
            .filter_map(|g| {
                let uri = provider.token_endpoint(*g)?.parse().ok()?;
                Some((*g, uri))
            })
            .collect();
        Client {
            token_uris,
            provider,
            client_id: client_id.into(),
            client_secret: None,
            basic: None,
            signing_key: None,
            redirect_uri: None,
            auth_method: None,
        }
    }

    /// Sets the client secret.
    #[must_use]
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        let secret = ClientSecret::new(secret);
        self.basic = Some(ClientSecret::new(
            basic_auth(&self.client_id, secret.secret()).as_str(),
        ));
        self.client_secret = Some(secret);
        self
    }

    /// Sets the private key that signs `private_key_jwt` client assertions (RFC 7523 §2.2,
    /// OpenID Connect Core §9): an RSA, EC or Ed25519 [`SigningKey`], with the `kid` the
    /// provider knows it by ([`SigningKey::with_kid`]). See [`Client::auth_method`] for when
    /// it is used.
    #[must_use]
    pub fn with_signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    /// Sets the redirect URI registered for this client.
    #[must_use]
    pub fn with_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// Overrides the provider's client authentication method.
    #[must_use]
    pub fn with_auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.auth_method = Some(method);
        self
    }

    /// The provider.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }
    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The client secret, when the client has one.
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        self.client_secret.as_ref()
    }
    /// The signing key of `private_key_jwt`, when the client has one.
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.signing_key.as_ref()
    }
    /// The redirect URI, when set.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// The authentication method in force, in this order:
    /// 1. the override ([`Client::with_auth_method`]);
    /// 2. `private_key_jwt` for a client with a signing key when the provider's method is
    ///    `private_key_jwt` or its metadata lists it, or when the client has no secret (a key
    ///    is then its only credential);
    /// 3. `none` for a client without a secret (public);
    /// 4. the provider's method for a client with a secret: `None` when the provider's
    ///    metadata listed no method such a client can use; building a request then fails with
    ///    [`Error::UnsupportedAuthMethod`].
    pub fn auth_method(&self) -> Option<ClientAuthMethod> {
        if let Some(m) = self.auth_method {
            return Some(m);
        }
        if self.signing_key.is_some()
            && (self.provider.offers_private_key_jwt() || self.client_secret.is_none())
        {
            return Some(ClientAuthMethod::PrivateKeyJwt);
        }
        match &self.client_secret {
            None => Some(ClientAuthMethod::None),
            Some(_) => self.provider.auth_method(),
        }
    }

    /// Any token request: a standard grant, token exchange, the JWT bearer grant, or any
    /// `grant_type`, with its extra parameters (see [`GrantRequest`]). `now` (Unix seconds) is
    /// the `iat` of a JWT client assertion.
    ///
    /// # Errors
    /// [`Error::UnsupportedGrant`] (a standard grant the provider lacks),
    /// [`Error::MissingEndpoint`], [`Error::UnsupportedAuthMethod`], [`Error::InvalidInput`]
    /// (a scope that is not a scope token, a refused parameter name or `grant_type`, see
    /// [`crate::grant`]), [`Error::InvalidKey`] (JWT authentication without a usable key: no
    /// signing key, or a client secret shorter than 32 bytes for `client_secret_jwt`),
    /// [`Error::Random`].
    pub fn grant_request(
        &self,
        request: &GrantRequest,
        now: u64,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.build_grant(request, Stamp::at(now))
    }

    /// [`Client::grant_request`] with the client assertion's `jti` given (16 bytes): for tests
    /// only; a `jti` must never repeat.
    #[doc(hidden)]
    pub fn grant_request_with_jti(
        &self,
        request: &GrantRequest,
        now: u64,
        jti: [u8; 16],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.build_grant(
            request,
            Stamp {
                now,
                jti: Some(jti),
            },
        )
    }

    /// Checks that `request` would build, without signing anything (for the session's
    /// `ready_until`).
    pub(crate) fn check_grant_request(&self, request: &GrantRequest) -> Result<(), Error> {
        self.grant_parts(request)?;
        let method = self.method_in_force()?;
        if method.is_jwt() {
            self.assertion_key(method)?;
        }
        Ok(())
    }

    fn build_grant(
        &self,
        request: &GrantRequest,
        stamp: Stamp,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let (url, cached, params) = self.grant_parts(request)?;
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        self.post(url, cached, &pairs, stamp, url)
    }

    /// The token endpoint, its parsed form when cached, and the parameters in order.
    #[allow(clippy::type_complexity)]
    fn grant_parts<'a>(
        &'a self,
        request: &'a GrantRequest,
    ) -> Result<(&'a str, Option<&'a http::Uri>, Vec<(&'a str, Cow<'a, str>)>), Error> {
        request.check()?;
        let (grant, gated) = request.endpoint_grant();
        if let (Some(g), true) = (grant, gated) {
            if !self.provider.supports(g) {
                return Err(Error::UnsupportedGrant { grant: g });
            }
        }
        let url = match grant {
            Some(g) => self.provider.token_endpoint(g),
            None => self.provider.default_token_endpoint(),
        }
        .ok_or(Error::MissingEndpoint {
            endpoint: Endpoint::Token,
        })?;
        let scope = self.scope_param(request.scope_list())?;
        let mut all: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(request.parts.len() + 6);
        all.push(("grant_type", Cow::Borrowed(request.grant_type())));
        let mut scope = scope.map(Cow::Owned);
        for part in &request.parts {
            match part {
                Part::Param(name, value) => all.push((name, Cow::Borrowed(value.as_str()))),
                Part::Scope => {
                    if let Some(scope) = scope.take() {
                        all.push(("scope", scope));
                    }
                }
            }
        }
        if let Some(scope) = scope {
            all.push(("scope", scope));
        }
        all.extend(request.extra().map(|(k, v)| (k, Cow::Borrowed(v))));
        // A provider's extra parameters never repeat one the request already has.
        for (k, v) in self.provider.extra_token_params() {
            if !all.iter().any(|(name, _)| name == k) {
                all.push((k.as_str(), Cow::Borrowed(v.as_str())));
            }
        }
        let cached = grant.and_then(|g| self.token_uris.iter().find(|(t, _)| *t == g));
        Ok((url, cached.map(|(_, uri)| uri), all))
    }

    /// The client credentials grant (RFC 6749 §4.4.2):
    /// [`GrantRequest::client_credentials`].
    ///
    /// # Errors
    /// As [`Client::grant_request`].
    pub fn client_credentials_request(
        &self,
        scopes: &[String],
        now: u64,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.grant_request(&GrantRequest::client_credentials(scopes), now)
    }

    /// The resource owner password grant (RFC 6749 §4.3.2): [`GrantRequest::password`].
    ///
    /// # Errors
    /// As [`Client::grant_request`].
    pub fn password_request(
        &self,
        username: &str,
        password: &Password,
        scopes: &[String],
        now: u64,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.grant_request(&GrantRequest::password(username, password, scopes), now)
    }

    /// The refresh token grant (RFC 6749 §6): [`GrantRequest::refresh`]. `scopes` may narrow
    /// the grant; leave it empty to keep the original scopes.
    ///
    /// # Errors
    /// As [`Client::grant_request`].
    pub fn refresh_request(
        &self,
        refresh_token: &RefreshToken,
        scopes: &[String],
        now: u64,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.grant_request(&GrantRequest::refresh(refresh_token, scopes), now)
    }

    /// The device access token request (RFC 8628 §3.4), sent once per poll:
    /// [`GrantRequest::device_code`].
    ///
    /// # Errors
    /// As [`Client::grant_request`].
    pub fn device_token_request(
        &self,
        device_code: &DeviceCode,
        now: u64,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.grant_request(&GrantRequest::device_code(device_code), now)
    }

    /// The `aud` of a client assertion for a request to `endpoint`.
    fn assertion_audience<'a>(&'a self, token_endpoint: &'a str) -> &'a str {
        match (self.provider.assertion_audience(), self.provider.issuer()) {
            (AssertionAudience::Issuer, Some(issuer)) => issuer,
            _ => token_endpoint,
        }
    }

    fn method_in_force(&self) -> Result<ClientAuthMethod, Error> {
        self.auth_method()
            .ok_or_else(|| Error::UnsupportedAuthMethod {
                offered: self
                    .provider
                    .auth_methods_offered()
                    .unwrap_or_default()
                    .iter()
                    .take(16)
                    .map(|m| crate::text::oauth_text(m, crate::text::Charset::Uri, 64))
                    .collect(),
            })
    }

    /// The key that signs this method's client assertions.
    fn assertion_key(&self, method: ClientAuthMethod) -> Result<Cow<'_, SigningKey>, Error> {
        match method {
            ClientAuthMethod::PrivateKeyJwt => {
                let key = self.signing_key.as_ref().ok_or_else(|| Error::InvalidKey {
                    reason: "private_key_jwt needs a signing key (Client::with_signing_key)".into(),
                })?;
                if key.public_jwk().is_none() {
                    return Err(Error::InvalidKey {
                        reason: "private_key_jwt needs an asymmetric key (RSA, EC or Ed25519); \
                                 an HS256 secret is client_secret_jwt"
                            .into(),
                    });
                }
                Ok(Cow::Borrowed(key))
            }
            _ => {
                let secret = self
                    .client_secret
                    .as_ref()
                    .ok_or_else(|| Error::InvalidKey {
                        reason: "client_secret_jwt needs a client secret (Client::with_secret)"
                            .into(),
                    })?;
                SigningKey::hmac(secret.secret().as_bytes())
                    .map(Cow::Owned)
                    .map_err(|_| Error::InvalidKey {
                        reason: "client_secret_jwt signs with the client secret as an HS256 key, \
                                 and RFC 7518 §3.2 requires >= 256-bit keys: the secret must be \
                                 at least 32 bytes"
                            .into(),
                    })
            }
        }
    }

    /// A client assertion (RFC 7523 §2.2, OpenID Connect Core §9): header `alg`, `typ: JWT`
    /// and the key's `kid`; claims `iss` = `sub` = client id, `aud`, `jti` (16 random bytes,
    /// base64url), `iat` = now, `exp` = now + [`ASSERTION_LIFETIME`].
    fn client_assertion(
        &self,
        method: ClientAuthMethod,
        audience: &str,
        stamp: Stamp,
    ) -> Result<Assertion, Error> {
        let key = self.assertion_key(method)?;
        let jti = match stamp.jti {
            Some(jti) => jti,
            None => {
                let mut jti = [0u8; 16];
                getrandom::fill(&mut jti).map_err(|_| Error::Random)?;
                jti
            }
        };
        let mut header = Map::new();
        header.insert("typ".into(), "JWT".into());
        let mut claims = Map::new();
        claims.insert("iss".into(), self.client_id.clone().into());
        claims.insert("sub".into(), self.client_id.clone().into());
        claims.insert("aud".into(), audience.into());
        claims.insert("jti".into(), URL_SAFE_NO_PAD.encode(jti).into());
        claims.insert("iat".into(), stamp.now.into());
        claims.insert(
            "exp".into(),
            stamp.now.saturating_add(ASSERTION_LIFETIME).into(),
        );
        key.sign(&header, &claims).map(Assertion::new)
    }

    /// A POST to `url` with `params` (the first one leads), the client's authentication and
    /// the provider's body encoding. Body credentials follow the first parameter. A client
    /// assertion's `aud` is the issuer or `token_endpoint`.
    ///
    /// # Errors
    /// [`Error::UnsupportedAuthMethod`] when the client has no method the provider accepts;
    /// [`Error::InvalidInput`] for an unparsable URL or credentials that cannot form a header;
    /// [`Error::InvalidKey`] and [`Error::Random`] for JWT authentication.
    pub(crate) fn post(
        &self,
        url: &str,
        parsed: Option<&http::Uri>,
        params: &[(&str, &str)],
        stamp: Stamp,
        token_endpoint: &str,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let uri = match parsed {
            Some(uri) => uri.clone(),
            None => url
                .parse()
                .map_err(|_| Error::invalid(format!("endpoint {url:?} is not a valid URL")))?,
        };
        let assertion;
        let mut headers = http::HeaderMap::with_capacity(4);
        headers.insert(ACCEPT, JSON);
        let mut auth: [(&str, &str); 3] = [("", ""); 3];
        let method = self.method_in_force()?;
        let auth: &[(&str, &str)] = match method {
            ClientAuthMethod::Basic => {
                let computed;
                let credentials = match &self.basic {
                    Some(b) => b.secret(),
                    None => {
                        computed = basic_auth(&self.client_id, "");
                        computed.as_str()
                    }
                };
                let mut value = HeaderValue::from_str(credentials)
                    .map_err(|_| Error::invalid("client id or secret cannot form a header"))?;
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
                &[]
            }
            ClientAuthMethod::Body => {
                auth[0] = ("client_id", &self.client_id);
                match &self.client_secret {
                    Some(secret) => {
                        auth[1] = ("client_secret", secret.secret());
                        &auth[..2]
                    }
                    None => &auth[..1],
                }
            }
            ClientAuthMethod::None => {
                auth[0] = ("client_id", &self.client_id);
                &auth[..1]
            }
            ClientAuthMethod::PrivateKeyJwt | ClientAuthMethod::SecretJwt => {
                assertion =
                    self.client_assertion(method, self.assertion_audience(token_endpoint), stamp)?;
                auth[0] = ("client_id", &self.client_id);
                auth[1] = ("client_assertion_type", CLIENT_ASSERTION_TYPE);
                auth[2] = ("client_assertion", assertion.secret());
                &auth
            }
        };
        let (first, rest) = params
            .split_first()
            .map_or((None, params), |(f, r)| (Some(f), r));
        let ordered = first.into_iter().chain(auth.iter()).chain(rest.iter());
        let capacity: usize = params
            .iter()
            .chain(auth)
            .map(|(k, v)| k.len() + v.len() + 8)
            .sum();
        let (content_type, body) = match self.provider.body_encoding() {
            BodyEncoding::Form => {
                let mut s = String::with_capacity(capacity);
                for (i, (k, v)) in ordered.enumerate() {
                    if i > 0 {
                        s.push('&');
                    }
                    push_form_component(&mut s, k);
                    s.push('=');
                    push_form_component(&mut s, v);
                }
                (FORM, s.into_bytes())
            }
            BodyEncoding::Json => (JSON, json_object(ordered, capacity).into_bytes()),
        };
        headers.insert(CONTENT_TYPE, content_type);
        let mut request = http::Request::new(body);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// A POST to an endpoint other than the token endpoint (introspection, revocation, device
    /// authorization), authenticated like token requests; a client assertion's `aud` is the
    /// issuer or the provider's token endpoint (this endpoint when it has none).
    ///
    /// # Errors
    /// As [`Client::post`].
    pub(crate) fn post_to(
        &self,
        url: &str,
        params: &[(&str, &str)],
        now: u64,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let token_endpoint = self.provider.default_token_endpoint().unwrap_or(url);
        self.post(url, None, params, Stamp::at(now), token_endpoint)
    }

    /// The scopes joined with the provider's separator; `None` when there are none.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a scope that is not a scope token (RFC 6749 §3.3: one or
    /// more of `%x21 / %x23-5B / %x5D-7E`, so no empty scope, and no space, `"` or `\` in one).
    pub(crate) fn scope_param(&self, scopes: &[String]) -> Result<Option<String>, Error> {
        for scope in scopes {
            let valid = !scope.is_empty()
                && scope
                    .bytes()
                    .all(|b| matches!(b, b'!' | b'#'..=b'[' | b']'..=b'~'));
            if !valid {
                return Err(Error::invalid(format!(
                    "scope {} is not a scope token (RFC 6749 §3.3: no empty scope, no space, quote or backslash)",
                    crate::text::oauth_text(scope, crate::text::Charset::Uri, 64)
                )));
            }
        }
        Ok((!scopes.is_empty()).then(|| scopes.join(self.provider.scope_separator())))
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, RFC 6749 §2.3.1, in buffers that are
/// zeroized when dropped.
fn basic_auth(id: &str, secret: &str) -> Zeroizing<String> {
    let mut pair = Zeroizing::new(String::new());
    pair.extend(form_urlencoded::byte_serialize(id.as_bytes()));
    pair.push(':');
    pair.extend(form_urlencoded::byte_serialize(secret.as_bytes()));
    let mut out = Zeroizing::new(String::from("Basic "));
    STANDARD.encode_string(pair.as_bytes(), &mut out);
    out
}

/// `application/x-www-form-urlencoded` encoding of one name or value (WHATWG, as
/// `form_urlencoded` does it), copying the common all-unreserved case as is.
fn push_form_component(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_'))
    {
        out.push_str(s);
    } else {
        out.extend(form_urlencoded::byte_serialize(s.as_bytes()));
    }
}

/// A JSON object of string members, in the given order.
fn json_object<'a>(pairs: impl Iterator<Item = &'a (&'a str, &'a str)>, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity + 2);
    out.push('{');
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Serializing a &str cannot fail.
        out.push_str(&serde_json::Value::from(*k).to_string());
        out.push(':');
        out.push_str(&serde_json::Value::from(*v).to_string());
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &http::Request<Vec<u8>>) -> &str {
        std::str::from_utf8(r.body()).unwrap()
    }

    #[test]
    fn basic_auth_urlencodes_before_base64() {
        assert_eq!(
            basic_auth("a b", "p:w").as_str(),
            format!("Basic {}", STANDARD.encode("a+b:p%3Aw"))
        );
    }

    #[test]
    fn form_encoding_matches_form_urlencoded() {
        for sample in ["plain-._*09AZaz", "a b+c", "é&=?/%", "", "~!'()"] {
            let mut ours = String::new();
            push_form_component(&mut ours, sample);
            let theirs: String = form_urlencoded::byte_serialize(sample.as_bytes()).collect();
            assert_eq!(ours, theirs, "{sample:?}");
        }
    }

    #[test]
    fn grants_the_provider_lacks_are_refused() {
        let c = Client::new(Provider::bookable(), "id").with_secret("s");
        assert_eq!(
            c.refresh_request(&RefreshToken::new("r"), &[], 0)
                .unwrap_err(),
            Error::UnsupportedGrant {
                grant: GrantType::RefreshToken
            }
        );
    }

    #[test]
    fn body_auth_follows_grant_type_and_extras_come_last() {
        let c = Client::new(Provider::bookable(), "id").with_secret("s\"x");
        let r = c.client_credentials_request(&[], 0).unwrap();
        assert_eq!(
            body(&r),
            r#"{"grant_type":"client_credentials","client_id":"id","client_secret":"s\"x","audience":"api.bookabletech.com"}"#
        );
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn public_client_sends_its_id_only() {
        let p = Provider::builder("x")
            .token_endpoint("https://as.example/token")
            .grant(GrantType::RefreshToken)
            .build()
            .unwrap();
        let r = Client::new(p, "pub")
            .refresh_request(&RefreshToken::new("r t"), &["a".into(), "b".into()], 0)
            .unwrap();
        assert_eq!(
            body(&r),
            "grant_type=refresh_token&client_id=pub&refresh_token=r+t&scope=a+b"
        );
        assert!(r.headers().get(AUTHORIZATION).is_none());
    }
}
