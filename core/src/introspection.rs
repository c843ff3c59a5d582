//! Token introspection (RFC 7662), including Apicbase's variant.

use serde_json::{Map, Value};

use crate::body::Lenient;

use crate::body;
use crate::client::Client;
use crate::error::Error;
use crate::provider::Endpoint;
use crate::secret::RefreshToken;

/// A `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`
    AccessToken,
    /// `refresh_token`
    RefreshToken,
}

impl TokenTypeHint {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenTypeHint::AccessToken => "access_token",
            TokenTypeHint::RefreshToken => "refresh_token",
        }
    }
}

/// An introspection answer. `{"active": false}` is a valid answer (expired, revoked or
/// unknown token), not an error.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is currently active.
    pub active: bool,
    /// Its scopes, when given.
    pub scopes: Option<Vec<String>>,
    /// The client it was issued to.
    pub client_id: Option<String>,
    /// The resource owner's username.
    pub username: Option<String>,
    /// The token type.
    pub token_type: Option<String>,
    /// Expiry (Unix seconds).
    pub exp: Option<u64>,
    /// Issue time (Unix seconds).
    pub iat: Option<u64>,
    /// Subject.
    pub sub: Option<String>,
    /// Issuer.
    pub iss: Option<String>,
    /// Other members, as received.
    pub extra: Map<String, Value>,
}

impl Introspection {
    /// Parses an introspection response. An inactive answer (`{"active": false}`) exposes no
    /// other claim, whatever else the server sent (RFC 7662 §2.2).
    ///
    /// # Errors
    /// [`Error::OAuth`] for an error body; [`Error::Malformed`] when `active` is missing or
    /// not a boolean (`"true"`/`"false"` strings are accepted); [`Error::UnexpectedStatus`].
    pub fn from_response(resp: &http::Response<impl AsRef<[u8]>>) -> Result<Self, Error> {
        let status = resp.status().as_u16();
        let o = body::read_members(resp)?;
        let active = match o.get("active") {
            Some(Lenient::Bool(b)) => *b,
            Some(Lenient::Str(s)) if s == "true" => true,
            Some(Lenient::Str(s)) if s == "false" => false,
            _ => {
                return Err(Error::malformed(
                    status,
                    "`active` is missing or not a boolean",
                ))
            }
        };
        if !active {
            // An inactive token's answer says nothing else worth believing (RFC 7662 §2.2).
            return Ok(Introspection {
                active,
                scopes: None,
                client_id: None,
                username: None,
                token_type: None,
                exp: None,
                iat: None,
                sub: None,
                iss: None,
                extra: Map::new(),
            });
        }
        let out = Introspection {
            active,
            scopes: body::scopes(&o, "scope", None),
            client_id: body::string(&o, "client_id"),
            username: body::string(&o, "username"),
            token_type: body::string(&o, "token_type"),
            exp: body::seconds(&o, "exp", status)?,
            iat: body::seconds(&o, "iat", status)?,
            sub: body::string(&o, "sub"),
            iss: body::string(&o, "iss"),
            extra: Map::new(),
        };
        let extra = o.extra(|k| {
            matches!(
                k,
                "active"
                    | "scope"
                    | "client_id"
                    | "username"
                    | "token_type"
                    | "exp"
                    | "iat"
                    | "sub"
                    | "iss"
            )
        });
        Ok(Introspection { extra, ..out })
    }
}

impl Client {
    /// An introspection request (RFC 7662 §2.1) for `token`, authenticated like token
    /// requests (`now` is the `iat` of a JWT client assertion).
    ///
    /// Apicbase's variant also wants the refresh token in the body: pass it as
    /// `refresh_token`; other providers take `None`.
    ///
    /// # Errors
    /// [`Error::MissingEndpoint`] when the provider has no introspection endpoint; the
    /// authentication errors of [`Client::grant_request`].
    pub fn introspection_request(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
        refresh_token: Option<&RefreshToken>,
        now: u64,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let url = self
            .provider()
            .introspection_endpoint()
            .ok_or(Error::MissingEndpoint {
                endpoint: Endpoint::Introspection,
            })?;
        let mut params = vec![("token", token)];
        if let Some(hint) = hint {
            params.push(("token_type_hint", hint.as_str()));
        }
        if let Some(rt) = refresh_token {
            params.push(("refresh_token", rt.secret()));
        }
        self.post_to(url, &params, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    #[test]
    fn apicbase_variant_and_inactive_answer() {
        let c = Client::new(Provider::apicbase(), "MY_CLIENT_ID").with_secret("MY_CLIENT_SECRET");
        let r = c
            .introspection_request(
                "MY_ACCESS_TOKEN",
                None,
                Some(&RefreshToken::new("MY_REFRESH_TOKEN")),
                0,
            )
            .unwrap();
        assert_eq!(
            r.body(),
            b"token=MY_ACCESS_TOKEN&client_id=MY_CLIENT_ID&client_secret=MY_CLIENT_SECRET&refresh_token=MY_REFRESH_TOKEN"
        );
        let resp = http::Response::new(br#"{"active": false}"#.to_vec());
        assert!(!Introspection::from_response(&resp).unwrap().active);
        let resp = http::Response::new(br#"{"active": false, "username": "u", "x": 1}"#.to_vec());
        let i = Introspection::from_response(&resp).unwrap();
        assert_eq!((i.username, i.extra.len()), (None, 0));
    }
}
