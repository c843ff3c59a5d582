//! The client: who we are at a provider, and the token-endpoint requests for every grant.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};

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
    redirect_uri: Option<String>,
    auth_method: Option<ClientAuthMethod>,
}

impl Client {
    /// A client with this id at `provider`, public (no secret) until [`Client::with_secret`].
    pub fn new(provider: Provider, client_id: impl Into<String>) -> Self {
        Client {
            provider,
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri: None,
            auth_method: None,
        }
    }

    /// Sets the client secret.
    #[must_use]
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(ClientSecret::new(secret));
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
    /// without a secret is always public (`none`).
    pub fn auth_method(&self) -> ClientAuthMethod {
        match (self.auth_method, &self.client_secret) {
            (Some(m), _) => m,
            (None, None) => ClientAuthMethod::None,
            (None, Some(_)) => self.provider.auth_method(),
        }
    }

    /// The client credentials grant (RFC 6749 §4.4.2).
    ///
    /// # Errors
    /// [`Error::UnsupportedGrant`], [`Error::MissingEndpoint`].
    pub fn client_credentials_request(
        &self,
        scopes: &[String],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let scope = self.scope_param(scopes);
        self.token_request(GrantType::ClientCredentials, &[("scope", scope.as_deref())])
    }

    /// The resource owner password grant (RFC 6749 §4.3.2).
    ///
    /// # Errors
    /// [`Error::UnsupportedGrant`], [`Error::MissingEndpoint`].
    pub fn password_request(
        &self,
        username: &str,
        password: &Password,
        scopes: &[String],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let scope = self.scope_param(scopes);
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
    /// [`Error::UnsupportedGrant`], [`Error::MissingEndpoint`].
    pub fn refresh_request(
        &self,
        refresh_token: &RefreshToken,
        scopes: &[String],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let scope = self.scope_param(scopes);
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
    /// [`Error::UnsupportedGrant`], [`Error::MissingEndpoint`].
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
        self.post(url, &all)
    }

    /// A POST to `url` with `params` (the first one leads), the client's authentication and
    /// the provider's body encoding. Body credentials follow the first parameter.
    pub(crate) fn post(
        &self,
        url: &str,
        params: &[(&str, &str)],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let mut builder = http::Request::post(url).header(ACCEPT, "application/json");
        let mut auth: Vec<(&str, &str)> = Vec::with_capacity(2);
        match self.auth_method() {
            ClientAuthMethod::Basic => {
                let secret = self.client_secret.as_ref().map_or("", ClientSecret::secret);
                let mut value = http::HeaderValue::try_from(basic_auth(&self.client_id, secret))
                    .map_err(|_| Error::invalid("client id or secret cannot form a header"))?;
                value.set_sensitive(true);
                builder = builder.header(AUTHORIZATION, value);
            }
            ClientAuthMethod::Body => {
                auth.push(("client_id", &self.client_id));
                if let Some(secret) = &self.client_secret {
                    auth.push(("client_secret", secret.secret()));
                }
            }
            ClientAuthMethod::None => auth.push(("client_id", &self.client_id)),
        }
        let (first, rest) = params
            .split_first()
            .map_or((None, params), |(f, r)| (Some(f), r));
        let ordered = first.into_iter().chain(auth.iter()).chain(rest.iter());
        let (content_type, body) = match self.provider.body_encoding() {
            BodyEncoding::Form => {
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, v) in ordered {
                    s.append_pair(k, v);
                }
                ("application/x-www-form-urlencoded", s.finish().into_bytes())
            }
            BodyEncoding::Json => ("application/json", json_object(ordered).into_bytes()),
        };
        builder
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .map_err(|_| Error::invalid(format!("cannot build a request to {url:?}")))
    }

    /// The scopes joined with the provider's separator; `None` when there are none.
    pub(crate) fn scope_param(&self, scopes: &[String]) -> Option<String> {
        (!scopes.is_empty()).then(|| scopes.join(self.provider.scope_separator()))
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, RFC 6749 §2.3.1.
fn basic_auth(id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

/// A JSON object of string members, in the given order.
fn json_object<'a>(pairs: impl Iterator<Item = &'a (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
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
            basic_auth("a b", "p:w"),
            format!("Basic {}", STANDARD.encode("a+b:p%3Aw"))
        );
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
