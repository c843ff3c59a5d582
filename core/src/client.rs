//! The client: who we are at a provider, and the token-endpoint requests for every grant.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::HeaderValue;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::provider::{BodyEncoding, ClientAuthMethod, Endpoint, GrantType, Provider};
use crate::secret::{ClientSecret, DeviceCode, Password, RefreshToken};

/// An OAuth client registered at a [`Provider`]: its id, optional secret and redirect URI.
///
/// Every `*_request` method returns an `http::Request<Vec<u8>>` for the caller to send with
/// any HTTP client that does **not** follow redirects; the matching parser takes the
/// `http::Response` back.
///
/// ```
/// use grantline::{Client, Provider};
/// let client = Client::new(Provider::bindeo(), "my-id").with_secret("my-secret");
/// let request = client.client_credentials_request(&[]).unwrap();
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
    redirect_uri: Option<String>,
    auth_method: Option<ClientAuthMethod>,
    /// Each grant's token endpoint, parsed once (cloning a `Uri` shares its bytes).
    token_uris: Vec<(GrantType, http::Uri)>,
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");

impl Client {
    /// A client with this id at `provider`, public (no secret) until [`Client::with_secret`].
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
    /// The redirect URI, when set.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// The authentication method in force: the override, else the provider's; a client
    /// without a secret is public (`none`). `None` for a client with a secret at a provider
    /// whose metadata listed only methods grantline does not speak: building a request then
    /// fails with [`Error::UnsupportedAuthMethod`].
    pub fn auth_method(&self) -> Option<ClientAuthMethod> {
        match (self.auth_method, &self.client_secret) {
            (Some(m), _) => Some(m),
            (None, None) => Some(ClientAuthMethod::None),
            (None, Some(_)) => self.provider.auth_method(),
        }
    }

    /// The client credentials grant (RFC 6749 §4.4.2).
    ///
    /// # Errors
    /// [`Error::UnsupportedGrant`], [`Error::MissingEndpoint`], [`Error::UnsupportedAuthMethod`],
    /// [`Error::InvalidInput`] (a scope that is not a scope token).
    pub fn client_credentials_request(
        &self,
        scopes: &[String],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let scope = self.scope_param(scopes)?;
        self.token_request(GrantType::ClientCredentials, &[("scope", scope.as_deref())])
    }

    /// The resource owner password grant (RFC 6749 §4.3.2).
    ///
    /// # Errors
    /// [`Error::UnsupportedGrant`], [`Error::MissingEndpoint`], [`Error::UnsupportedAuthMethod`],
    /// [`Error::InvalidInput`] (a scope that is not a scope token).
    pub fn password_request(
        &self,
        username: &str,
        password: &Password,
        scopes: &[String],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let scope = self.scope_param(scopes)?;
        self.token_request(
            GrantType::Password,
            &[
                ("username", Some(username)),
                ("password", Some(password.secret())),
                ("scope", scope.as_deref()),
            ],
        )
    }

    /// The refresh token grant (RFC 6749 §6). `scopes` may narrow the grant; leave it empty
    /// to keep the original scopes.
    ///
    /// # Errors
    /// [`Error::UnsupportedGrant`], [`Error::MissingEndpoint`], [`Error::UnsupportedAuthMethod`],
    /// [`Error::InvalidInput`] (a scope that is not a scope token).
    pub fn refresh_request(
        &self,
        refresh_token: &RefreshToken,
        scopes: &[String],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let scope = self.scope_param(scopes)?;
        self.token_request(
            GrantType::RefreshToken,
            &[
                ("refresh_token", Some(refresh_token.secret())),
                ("scope", scope.as_deref()),
            ],
        )
    }

    /// The device access token request (RFC 8628 §3.4), sent once per poll.
    ///
    /// # Errors
    /// [`Error::UnsupportedGrant`], [`Error::MissingEndpoint`], [`Error::UnsupportedAuthMethod`],
    /// [`Error::InvalidInput`] (a scope that is not a scope token).
    pub fn device_token_request(
        &self,
        device_code: &DeviceCode,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.token_request(
            GrantType::DeviceCode,
            &[("device_code", Some(device_code.secret()))],
        )
    }

    pub(crate) fn token_request(
        &self,
        grant: GrantType,
        params: &[(&str, Option<&str>)],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        if !self.provider.supports(grant) {
            return Err(Error::UnsupportedGrant { grant });
        }
        let url = self
            .provider
            .token_endpoint(grant)
            .ok_or(Error::MissingEndpoint {
                endpoint: Endpoint::Token,
            })?;
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 4);
        all.push(("grant_type", grant.as_str()));
        all.extend(params.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
        // A provider's extra parameters never repeat one the request already has.
        for (k, v) in self.provider.extra_token_params() {
            if !all.iter().any(|(name, _)| name == k) {
                all.push((k.as_str(), v.as_str()));
            }
        }
        let cached = self.token_uris.iter().find(|(g, _)| *g == grant);
        self.post(url, cached.map(|(_, uri)| uri), &all)
    }

    /// A POST to `url` with `params` (the first one leads), the client's authentication and
    /// the provider's body encoding. Body credentials follow the first parameter.
    ///
    /// # Errors
    /// [`Error::UnsupportedAuthMethod`] when the client has no method the provider accepts;
    /// [`Error::InvalidInput`] for an unparsable URL or credentials that cannot form a header.
    pub(crate) fn post(
        &self,
        url: &str,
        parsed: Option<&http::Uri>,
        params: &[(&str, &str)],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let uri = match parsed {
            Some(uri) => uri.clone(),
            None => url
                .parse()
                .map_err(|_| Error::invalid(format!("endpoint {url:?} is not a valid URL")))?,
        };
        let mut headers = http::HeaderMap::with_capacity(4);
        headers.insert(ACCEPT, JSON);
        let mut auth: [(&str, &str); 2] = [("", ""); 2];
        let method = self
            .auth_method()
            .ok_or_else(|| Error::UnsupportedAuthMethod {
                offered: self
                    .provider
                    .auth_methods_offered()
                    .unwrap_or_default()
                    .iter()
                    .take(16)
                    .map(|m| crate::text::oauth_text(m, crate::text::Charset::Uri, 64))
                    .collect(),
            })?;
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
                        &auth
                    }
                    None => &auth[..1],
                }
            }
            ClientAuthMethod::None => {
                auth[0] = ("client_id", &self.client_id);
                &auth[..1]
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
            c.refresh_request(&RefreshToken::new("r"), &[]).unwrap_err(),
            Error::UnsupportedGrant {
                grant: GrantType::RefreshToken
            }
        );
    }

    #[test]
    fn body_auth_follows_grant_type_and_extras_come_last() {
        let c = Client::new(Provider::bookable(), "id").with_secret("s\"x");
        let r = c.client_credentials_request(&[]).unwrap();
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
            .refresh_request(&RefreshToken::new("r t"), &["a".into(), "b".into()])
            .unwrap();
        assert_eq!(
            body(&r),
            "grant_type=refresh_token&client_id=pub&refresh_token=r+t&scope=a+b"
        );
        assert!(r.headers().get(AUTHORIZATION).is_none());
    }
}
