//! Any grant with any parameters: [`GrantRequest`], sent with
//! [`Client::grant_request`](crate::Client::grant_request).
//!
//! Every token request grantline builds goes through here: the standard grants
//! ([`GrantRequest::client_credentials`], [`password`](GrantRequest::password),
//! [`refresh`](GrantRequest::refresh), [`authorization_code`](GrantRequest::authorization_code),
//! [`device_code`](GrantRequest::device_code)), the extension grants of RFC 8693 (token
//! exchange) and RFC 7523 §2.1 (JWT bearer), and any other `grant_type` a server defines
//! ([`GrantRequest::new`]). Each request may carry extra parameters ([`GrantRequest::param`]),
//! repeated ones included (RFC 8707 `resource`, `audience`).
//!
//! ```
//! use grantline::{Client, GrantRequest, Provider};
//!
//! let provider = Provider::builder("as")
//!     .token_endpoint("https://as.example/token")
//!     .build()?;
//! let client = Client::new(provider, "my-id").with_secret("my-secret");
//! let request = GrantRequest::new("urn:example:grant")
//!     .param("resource", "https://a.example")
//!     .param("resource", "https://b.example")
//!     .scopes(["read", "write"]);
//! let http = client.grant_request(&request, 1_700_000_000)?;
//! assert_eq!(
//!     http.body(),
//!     b"grant_type=urn%3Aexample%3Agrant&scope=read+write\
//!       &resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example"
//! );
//! # Ok::<(), grantline::Error>(())
//! ```
//!
//! # What is refused
//! When the request is built ([`Error::InvalidInput`]): a `grant_type` that is neither a
//! grant name (RFC 6749 §A.10: `-._`, digits, letters) nor an absolute URI; an extra parameter
//! whose name is empty or not made of RFC 6749 §8.2 name characters (`-._`, digits,
//! letters), or that names what grantline or the grant sets itself (`grant_type`, `client_id`,
//! `client_secret`, `client_assertion`, `client_assertion_type`, `scope` — use
//! [`GrantRequest::scopes`] —, and the grant's own parameters such as `code` or
//! `refresh_token`); a token exchange without `subject_token` or `subject_token_type`, or
//! with an `actor_token` and no `actor_token_type` (or the reverse, RFC 8693 §2.1); an empty
//! JWT bearer assertion.
//!
//! Values are never refused: they are form- or JSON-encoded, so no value can add a parameter.
//!
//! # Security
//! A grant request holds secrets (refresh tokens, codes, passwords, assertions, subject
//! tokens): `Debug` prints the grant type and the parameter names only.

use std::borrow::Cow;

use zeroize::Zeroizing;

use crate::authorize::CodeGrant;
use crate::error::Error;
use crate::provider::GrantType;
use crate::secret::{Assertion, DeviceCode, Password, RefreshToken, SecurityToken};

/// The `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Token type identifiers (RFC 8693 §3), for `subject_token_type`, `actor_token_type`,
/// `requested_token_type` and [`TokenSet::issued_token_type`](crate::TokenSet::issued_token_type).
pub mod token_type {
    /// An OAuth 2.0 access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OAuth 2.0 refresh token.
    pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
    /// An OpenID Connect ID token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    /// A base64url-encoded SAML 1.1 assertion.
    pub const SAML1: &str = "urn:ietf:params:oauth:token-type:saml1";
    /// A base64url-encoded SAML 2.0 assertion.
    pub const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";
    /// A JWT (RFC 7519).
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
}

/// Parameters grantline sets itself on every token request: never an extra parameter.
pub(crate) const ALWAYS_RESERVED: [&str; 6] = [
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "scope",
];

/// The longest `grant_type` accepted, in bytes.
const MAX_GRANT_TYPE: usize = 1024;

/// One parameter a grant sets, or where its `scope` goes.
#[derive(Clone)]
pub(crate) enum Part {
    /// A parameter of the grant (its value may be a secret).
    Param(&'static str, Zeroizing<String>),
    /// The `scope` parameter goes here (else after the grant's parameters).
    Scope,
}

/// A token request for any grant: the `grant_type`, the grant's own parameters, the scopes
/// and extra parameters. Build it with a constructor, add [`scopes`](Self::scopes) and
/// [`param`](Self::param)s, and send it with
/// [`Client::grant_request`](crate::Client::grant_request).
///
/// The standard grants (the constructors named after them) are refused locally when the
/// provider lacks them ([`Error::UnsupportedGrant`]) and go to that grant's token endpoint;
/// any other `grant_type` ([`GrantRequest::new`], token exchange, JWT bearer) is sent to the
/// provider's token endpoint and the server decides.
///
/// The body is `grant_type`, the client's authentication (body methods), the grant's
/// parameters, `scope`, the extra parameters in the order added, then the provider's
/// [`extra_token_params`](crate::Provider::extra_token_params) whose names the request does
/// not already have.
#[derive(Clone)]
pub struct GrantRequest {
    grant_type: Cow<'static, str>,
    /// The standard grant, when it is one (gated by `Provider::supports`).
    pub(crate) standard: Option<GrantType>,
    pub(crate) parts: Vec<Part>,
    /// Names the grant owns even when it does not send them (an absent `redirect_uri`).
    owned: &'static [&'static str],
    scopes: Vec<String>,
    extra: Vec<(String, Zeroizing<String>)>,
    /// A problem found while building the request, reported when it is sent.
    problem: Option<&'static str>,
}

impl core::fmt::Debug for GrantRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names: Vec<&str> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Param(name, _) => Some(*name),
                Part::Scope => None,
            })
            .collect();
        f.debug_struct("GrantRequest")
            .field("grant_type", &self.grant_type)
            .field("params", &names)
            .field("scopes", &self.scopes)
            .field(
                "extra",
                &self
                    .extra
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn secret(value: &str) -> Zeroizing<String> {
    Zeroizing::new(value.to_owned())
}

fn collect<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

impl GrantRequest {
    fn standard(grant: GrantType, parts: Vec<Part>, owned: &'static [&'static str]) -> Self {
        GrantRequest {
            grant_type: Cow::Borrowed(grant.as_str()),
            standard: Some(grant),
            parts,
            owned,
            scopes: Vec::new(),
            extra: Vec::new(),
            problem: None,
        }
    }

    /// A request for any `grant_type`: a grant name (RFC 6749 §A.10) or an absolute URI
    /// (`urn:...`, `https://...`). Add its parameters with [`param`](Self::param). Not gated
    /// by [`Provider::supports`](crate::Provider::supports): the server decides. A
    /// `grant_type` that is one of the standard grants' values is sent to that grant's token
    /// endpoint.
    pub fn new(grant_type: impl Into<String>) -> Self {
        let grant_type: String = grant_type.into();
        GrantRequest {
            grant_type: Cow::Owned(grant_type),
            standard: None,
            parts: Vec::new(),
            owned: &[],
            scopes: Vec::new(),
            extra: Vec::new(),
            problem: None,
        }
    }

    /// The client credentials grant (RFC 6749 §4.4.2).
    pub fn client_credentials<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::standard(GrantType::ClientCredentials, Vec::new(), &[]).scopes(scopes)
    }

    /// The resource owner password grant (RFC 6749 §4.3.2).
    pub fn password<I, S>(username: &str, password: &Password, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::standard(
            GrantType::Password,
            vec![
                Part::Param("username", secret(username)),
                Part::Param("password", secret(password.secret())),
            ],
            &["username", "password"],
        )
        .scopes(scopes)
    }

    /// The refresh token grant (RFC 6749 §6); `scopes` may narrow the grant (empty: keep).
    pub fn refresh<I, S>(refresh_token: &RefreshToken, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::standard(
            GrantType::RefreshToken,
            vec![Part::Param("refresh_token", secret(refresh_token.secret()))],
            &["refresh_token"],
        )
        .scopes(scopes)
    }

    /// The authorization code grant's token request (RFC 6749 §4.1.3, RFC 7636 §4.5).
    pub fn authorization_code(grant: &CodeGrant) -> Self {
        let mut parts = vec![Part::Param("code", secret(grant.code.secret()))];
        if let Some(uri) = &grant.redirect_uri {
            parts.push(Part::Param("redirect_uri", secret(uri)));
        }
        if let Some(verifier) = &grant.code_verifier {
            parts.push(Part::Param("code_verifier", secret(verifier.secret())));
        }
        Self::standard(
            GrantType::AuthorizationCode,
            parts,
            &["code", "redirect_uri", "code_verifier"],
        )
    }

    /// The device access token request (RFC 8628 §3.4).
    pub fn device_code(device_code: &DeviceCode) -> Self {
        Self::standard(
            GrantType::DeviceCode,
            vec![Part::Param("device_code", secret(device_code.secret()))],
            &["device_code"],
        )
    }

    /// Token exchange (RFC 8693 §2.1): `resource`s, `audience`s, `scope`,
    /// `requested_token_type`, `subject_token`, `subject_token_type`, `actor_token`,
    /// `actor_token_type`, in that order (the RFC's).
    pub fn token_exchange(exchange: TokenExchange) -> Self {
        let TokenExchange {
            subject_token,
            subject_token_type,
            actor_token,
            actor_token_type,
            resource,
            audience,
            scopes,
            requested_token_type,
        } = exchange;
        let mut parts = Vec::with_capacity(resource.len() + audience.len() + 6);
        parts.extend(resource.iter().map(|r| Part::Param("resource", secret(r))));
        parts.extend(audience.iter().map(|a| Part::Param("audience", secret(a))));
        parts.push(Part::Scope);
        if let Some(t) = &requested_token_type {
            parts.push(Part::Param("requested_token_type", secret(t)));
        }
        parts.push(Part::Param("subject_token", secret(subject_token.secret())));
        parts.push(Part::Param(
            "subject_token_type",
            secret(&subject_token_type),
        ));
        if let Some(t) = &actor_token {
            parts.push(Part::Param("actor_token", secret(t.secret())));
        }
        if let Some(t) = &actor_token_type {
            parts.push(Part::Param("actor_token_type", secret(t)));
        }
        let problem = if subject_token.secret().is_empty() {
            Some("token exchange needs a non-empty subject_token (RFC 8693 §2.1)")
        } else if subject_token_type.is_empty() {
            Some("token exchange needs a subject_token_type (RFC 8693 §2.1)")
        } else if actor_token.is_some() != actor_token_type.is_some() {
            Some("actor_token_type is required with actor_token and only with it (RFC 8693 §2.1)")
        } else if actor_token.as_ref().is_some_and(|t| t.secret().is_empty())
            || actor_token_type.as_ref().is_some_and(String::is_empty)
        {
            Some("actor_token and actor_token_type may not be empty (RFC 8693 §2.1)")
        } else if requested_token_type.as_ref().is_some_and(String::is_empty) {
            Some("requested_token_type may not be empty (RFC 8693 §2.1)")
        } else if resource.iter().chain(&audience).any(String::is_empty) {
            Some("a resource or audience may not be empty (RFC 8693 §2.1)")
        } else {
            None
        };
        GrantRequest {
            grant_type: Cow::Borrowed(TOKEN_EXCHANGE),
            standard: None,
            parts,
            owned: &[
                "resource",
                "audience",
                "requested_token_type",
                "subject_token",
                "subject_token_type",
                "actor_token",
                "actor_token_type",
            ],
            scopes,
            extra: Vec::new(),
            problem,
        }
    }

    /// The JWT bearer grant (RFC 7523 §2.1): `assertion` (a JWT the caller obtained or signed,
    /// e.g. with [`SigningKey::sign`](crate::jose::SigningKey::sign)), then `scope`.
    pub fn jwt_bearer<I, S>(assertion: &Assertion, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        GrantRequest {
            grant_type: Cow::Borrowed(JWT_BEARER),
            standard: None,
            parts: vec![Part::Param("assertion", secret(assertion.secret()))],
            owned: &["assertion"],
            scopes: Vec::new(),
            extra: Vec::new(),
            problem: assertion
                .secret()
                .is_empty()
                .then_some("the JWT bearer grant needs a non-empty assertion (RFC 7523 §2.1)"),
        }
        .scopes(scopes)
    }

    /// Sets the scopes (replacing any), joined with the provider's separator in `scope`.
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = collect(scopes);
        self
    }

    /// Adds an extra parameter, after those added before (a name may repeat: RFC 8707
    /// `resource`, `audience`). Names grantline or the grant sets are refused when the request
    /// is built (see the [module documentation](self)).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), Zeroizing::new(value.into())));
        self
    }

    /// The `grant_type` sent.
    pub fn grant_type(&self) -> &str {
        &self.grant_type
    }

    /// The scopes asked for.
    pub fn requested_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The names of the extra parameters, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.extra.iter().map(|(k, _)| k.as_str())
    }

    pub(crate) fn extra(&self) -> impl Iterator<Item = (&str, &str)> {
        self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub(crate) fn scope_list(&self) -> &[String] {
        &self.scopes
    }

    /// The standard grant this request is for (by constructor, or by a `grant_type` value of
    /// [`GrantRequest::new`]), and whether it is gated by `Provider::supports`.
    pub(crate) fn endpoint_grant(&self) -> (Option<GrantType>, bool) {
        match self.standard {
            Some(g) => (Some(g), true),
            None => (GrantType::parse(&self.grant_type), false),
        }
    }

    /// Checks the request as a whole; the client checks the scopes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`], see the [module documentation](self).
    pub(crate) fn check(&self) -> Result<(), Error> {
        if let Some(problem) = self.problem {
            return Err(Error::invalid(problem));
        }
        if !valid_grant_type(&self.grant_type) {
            return Err(Error::invalid(format!(
                "grant_type {} is neither a grant name nor an absolute URI (RFC 6749 §A.10)",
                crate::text::oauth_text(&self.grant_type, crate::text::Charset::Uri, 64)
            )));
        }
        for (name, _) in &self.extra {
            let shown = || crate::text::oauth_text(name, crate::text::Charset::Uri, 64);
            if !is_param_name(name) {
                return Err(Error::invalid(format!(
                    "extra parameter name {} is empty or not made of RFC 6749 §8.2 name characters",
                    shown()
                )));
            }
            if ALWAYS_RESERVED.contains(&name.as_str()) || self.owned.contains(&name.as_str()) {
                let hint = if name == "scope" {
                    " (use GrantRequest::scopes)"
                } else {
                    ""
                };
                return Err(Error::invalid(format!(
                    "extra parameter {} is set by grantline or by the grant itself{hint}",
                    shown()
                )));
            }
        }
        Ok(())
    }
}

/// RFC 6749 §8.2 `param-name = 1*name-char`, `name-char = "-" / "." / "_" / DIGIT / ALPHA`.
pub(crate) fn is_param_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// RFC 6749 §A.10: `grant-type = grant-name / URI-reference`, where a grant name is
/// `1*name-char` and an extension grant is an absolute URI (§4.5): a scheme (a letter, then
/// letters, digits, `+-.`), `:`, and a non-empty rest of RFC 3986 characters.
fn valid_grant_type(value: &str) -> bool {
    if value.is_empty() || value.len() > MAX_GRANT_TYPE {
        return false;
    }
    if is_param_name(value) {
        return true;
    }
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    scheme_ok
        && !rest.is_empty()
        && rest.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b':'
                        | b'/'
                        | b'?'
                        | b'#'
                        | b'['
                        | b']'
                        | b'@'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b'%'
                )
        })
}

/// The parameters of a token exchange (RFC 8693 §2.1), for [`GrantRequest::token_exchange`].
///
/// ```
/// use grantline::grant::{token_type, TokenExchange};
/// use grantline::{GrantRequest, SecurityToken};
///
/// let exchange = TokenExchange {
///     resource: vec!["https://backend.example.com/api".into()],
///     ..TokenExchange::new(SecurityToken::new("accVkjcJyb4BWCxGsndESCJQbdFMogUC5PbRDqceLTC"),
///                          token_type::ACCESS_TOKEN)
/// };
/// let request = GrantRequest::token_exchange(exchange);
/// assert_eq!(request.grant_type(), grantline::grant::TOKEN_EXCHANGE);
/// ```
#[derive(Debug, Clone)]
pub struct TokenExchange {
    /// The token that represents the party on whose behalf the request is made.
    pub subject_token: SecurityToken,
    /// Its type identifier (required; see [`token_type`]).
    pub subject_token_type: String,
    /// The token that represents the acting party, when there is one.
    pub actor_token: Option<SecurityToken>,
    /// Its type identifier (required with `actor_token`, and only with it).
    pub actor_token_type: Option<String>,
    /// Where the token will be used (RFC 8707 `resource`, absolute URIs), each sent.
    pub resource: Vec<String>,
    /// Logical names of the target services (`audience`), each sent.
    pub audience: Vec<String>,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The type of token wanted (see [`token_type`]).
    pub requested_token_type: Option<String>,
}

impl TokenExchange {
    /// An exchange of `subject_token` of type `subject_token_type`, with nothing else.
    pub fn new(subject_token: SecurityToken, subject_token_type: impl Into<String>) -> Self {
        TokenExchange {
            subject_token,
            subject_token_type: subject_token_type.into(),
            actor_token: None,
            actor_token_type: None,
            resource: Vec::new(),
            audience: Vec::new(),
            scopes: Vec::new(),
            requested_token_type: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_type_grammar() {
        for ok in [
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "https://as.example/grants/x",
            "x",
        ] {
            assert!(valid_grant_type(ok), "{ok}");
        }
        for bad in [
            "", "a b", "a\r\nb", ":x", "1x:y", "urn:", "urn:a b", "grant\"", "é",
        ] {
            assert!(!valid_grant_type(bad), "{bad:?}");
        }
        assert!(!valid_grant_type(&"a".repeat(2000)));
    }

    #[test]
    fn debug_shows_names_only() {
        let r = GrantRequest::refresh(&RefreshToken::new("rt-secret"), ["a"])
            .param("resource", "res-secret");
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("rt-secret") && !shown.contains("res-secret"),
            "{shown}"
        );
        assert!(
            shown.contains("refresh_token") && shown.contains("resource"),
            "{shown}"
        );
    }

    #[test]
    fn reserved_and_malformed_names_are_refused() {
        for name in [
            "grant_type",
            "client_id",
            "client_secret",
            "client_assertion",
            "client_assertion_type",
            "scope",
            "",
            "a=b",
            "a\r\nb",
            "a b",
        ] {
            let r = GrantRequest::new("x").param(name, "v");
            assert_eq!(r.check().unwrap_err().kind(), "invalid_input", "{name:?}");
        }
        let r = GrantRequest::refresh(&RefreshToken::new("r"), Vec::<String>::new())
            .param("refresh_token", "again");
        assert!(r.check().is_err());
        let r = GrantRequest::new("x").param("refresh_token", "fine for a generic grant");
        assert!(r.check().is_ok());
    }
}
