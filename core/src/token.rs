//! Token responses (RFC 6749 §5.1) and the token set an app keeps and persists.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::body::{self, Lenient, Members};
use crate::error::Error;
use crate::jwt;
use crate::secret::{AccessToken, IdToken, RefreshToken};

/// Where a token set's expiry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpirySource {
    /// The standard `expires_in` (seconds).
    ExpiresIn,
    /// A non-standard `expires` member (Booking Experts' refresh answers): seconds, or a Unix
    /// time when it is at least 10^9.
    Expires,
    /// The access token is a JWT and its `exp` claim was read **without verifying** the
    /// signature: good enough to schedule a renewal, never to trust the token.
    UnverifiedJwtExp,
    /// The response said nothing: the token is used until the API rejects it.
    Unknown,
}

impl ExpirySource {
    /// The snake_case name (`expires_in`, `expires`, `unverified_jwt_exp`, `unknown`), as in
    /// the serialized token set, the shared test vectors and the bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpirySource::ExpiresIn => "expires_in",
            ExpirySource::Expires => "expires",
            ExpirySource::UnverifiedJwtExp => "unverified_jwt_exp",
            ExpirySource::Unknown => "unknown",
        }
    }
}

/// The members a token response is parsed into; every other one lands in `extra`.
fn known(name: &str) -> bool {
    matches!(
        name,
        "access_token"
            | "token_type"
            | "expires_in"
            | "expires"
            | "refresh_token"
            | "scope"
            | "id_token"
            | "issued_token_type"
            | "error"
    )
}

/// A token response that could not be used, and the refresh token it carried anyway.
pub(crate) struct ParseFailure {
    pub(crate) error: Error,
    pub(crate) refresh_token: Option<RefreshToken>,
}

/// A successful token response, with its expiry made absolute.
///
/// Serialize it (it is `serde`-ready, or use [`TokenSet::to_json`]) to persist it, and restore
/// a [`crate::TokenSession`] from it later. The serialized form contains the tokens: store it
/// as a secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    access_token: AccessToken,
    token_type: Cow<'static, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<RefreshToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    issued_at: u64,
    expiry_source: ExpirySource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<IdToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    extra: Map<String, Value>,
}

impl core::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("refresh_token", &self.refresh_token)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("expiry_source", &self.expiry_source)
            .field("scopes", &self.scopes)
            .field("id_token", &self.id_token)
            .field("issued_token_type", &self.issued_token_type)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TokenSet {
    /// Parses a token endpoint response received at `now` (Unix seconds).
    ///
    /// Lenient where real servers are sloppy: `expires_in` as a number or numeric string,
    /// `expires` when `expires_in` is absent, the unverified JWT `exp` when both are;
    /// `token_type` in any case, `Bearer` when absent; `scope` separated by spaces (RFC 6749
    /// §3.3; [`TokenSet::from_response_for`] also splits on a provider's own separator), or an
    /// array; form-encoded bodies; unknown members kept in [`TokenSet::extra`]. Strict where
    /// safety needs it: see the errors.
    ///
    /// A `token_type` other than `Bearer` (`DPoP`, `N_A`...) is kept as received: such a token
    /// is never sent as a bearer token ([`crate::bearer::authorization_header_for`] and the
    /// session refuse it).
    ///
    /// # Errors
    /// - [`Error::OAuth`]: a non-empty `error` member, whatever the HTTP status (a 200 too);
    /// - [`Error::Malformed`]: no `access_token`, one that is not a non-empty string of visible
    ///   ASCII, a negative or non-numeric lifetime, a body that is not JSON or form, a body
    ///   over 1 MiB;
    /// - [`Error::UnexpectedStatus`]: a non-2xx status without an OAuth error body.
    pub fn from_response(
        resp: &http::Response<impl AsRef<[u8]>>,
        now: u64,
    ) -> Result<TokenSet, Error> {
        Self::parse(resp, now, None).map_err(|f| f.error)
    }

    /// [`TokenSet::from_response`] for an answer of `provider`'s token endpoint: `scope` is also
    /// split on the provider's scope separator when it is not a space (`,` for a provider that
    /// joins scopes with commas).
    ///
    /// # Errors
    /// As [`TokenSet::from_response`].
    pub fn from_response_for(
        resp: &http::Response<impl AsRef<[u8]>>,
        now: u64,
        provider: &crate::Provider,
    ) -> Result<TokenSet, Error> {
        Self::parse(resp, now, provider.response_scope_separator()).map_err(|f| f.error)
    }

    /// Parses, and on failure keeps the refresh token a successful-looking answer carried (a
    /// 2xx body without an `error` whose other members are bad), so that a rotation is never
    /// lost to one bad field.
    pub(crate) fn parse(
        resp: &http::Response<impl AsRef<[u8]>>,
        now: u64,
        scope_separator: Option<char>,
    ) -> Result<TokenSet, ParseFailure> {
        let members = body::read_members(resp).map_err(|error| {
            // A 2xx answer refused for a malformed member (`"error": true`) may still carry a
            // rotated refresh token; an OAuth error (the server said no) carries none to trust.
            let refresh_token = matches!(error, Error::Malformed { .. })
                .then(|| body::salvage_refresh_token(resp))
                .flatten()
                .map(RefreshToken::new);
            ParseFailure {
                error,
                refresh_token,
            }
        })?;
        let salvage = body::string(&members, "refresh_token")
            .filter(|s| !s.is_empty())
            .map(RefreshToken::new);
        Self::from_members(members, resp.status().as_u16(), now, scope_separator).map_err(|error| {
            ParseFailure {
                error,
                refresh_token: salvage,
            }
        })
    }

    fn from_members(
        mut members: Members<'_>,
        status: u16,
        now: u64,
        scope_separator: Option<char>,
    ) -> Result<TokenSet, Error> {
        let access_token = match members.take("access_token") {
            Some(Lenient::Str(s)) if !s.is_empty() => {
                // Sent later as `Authorization: Bearer <token>`: must fit in a header.
                if !s.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(Error::malformed(
                        status,
                        "`access_token` has characters that cannot be sent in a header",
                    ));
                }
                AccessToken::new(s.into_owned())
            }
            Some(Lenient::Str(_)) => {
                return Err(Error::malformed(status, "`access_token` is empty"))
            }
            Some(_) => return Err(Error::malformed(status, "`access_token` is not a string")),
            None => {
                return Err(Error::malformed(
                    status,
                    "the response has no `access_token`",
                ))
            }
        };
        let token_type: Cow<'static, str> = match members.get("token_type") {
            Some(Lenient::Str(t)) if !t.is_empty() && !t.eq_ignore_ascii_case("bearer") => {
                Cow::Owned(t.clone().into_owned())
            }
            Some(Lenient::Str(_)) | None => Cow::Borrowed("Bearer"),
            Some(_) => match body::string(&members, "token_type") {
                Some(t) => Cow::Owned(t),
                None => Cow::Borrowed("Bearer"),
            },
        };
        let (expires_at, expiry_source) =
            if let Some(secs) = body::seconds(&members, "expires_in", status)? {
                (Some(now.saturating_add(secs)), ExpirySource::ExpiresIn)
            } else if let Some(secs) = body::seconds(&members, "expires", status)? {
                let at = if secs >= 1_000_000_000 {
                    secs
                } else {
                    now.saturating_add(secs)
                };
                (Some(at), ExpirySource::Expires)
            } else if let Some(exp) = jwt::unverified_exp(access_token.secret()) {
                (Some(exp), ExpirySource::UnverifiedJwtExp)
            } else {
                (None, ExpirySource::Unknown)
            };
        let refresh_token = body::string(&members, "refresh_token")
            .filter(|s| !s.is_empty())
            .map(RefreshToken::new);
        let id_token = body::string(&members, "id_token")
            .filter(|s| !s.is_empty())
            .map(IdToken::new);
        let scopes = body::scopes(&members, "scope", scope_separator);
        let issued_token_type = body::string(&members, "issued_token_type")
            .filter(|s| !s.is_empty())
            .map(|s| crate::text::oauth_text(&s, crate::text::Charset::Uri, crate::text::MAX_URI));
        Ok(TokenSet {
            access_token,
            token_type,
            refresh_token,
            expires_at,
            issued_at: now,
            expiry_source,
            scopes,
            id_token,
            issued_token_type,
            extra: members.extra(known),
        })
    }

    /// A token set from parts, e.g. to restore one persisted by other means.
    pub fn new(
        access_token: AccessToken,
        refresh_token: Option<RefreshToken>,
        expires_at: Option<u64>,
        issued_at: u64,
    ) -> TokenSet {
        TokenSet {
            access_token,
            token_type: Cow::Borrowed("Bearer"),
            refresh_token,
            expires_at,
            issued_at,
            expiry_source: if expires_at.is_some() {
                ExpirySource::ExpiresIn
            } else {
                ExpirySource::Unknown
            },
            scopes: None,
            id_token: None,
            issued_token_type: None,
            extra: Map::new(),
        }
    }

    /// The access token. Send it as `Authorization: Bearer` ([`crate::bearer`]).
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    /// The `token_type` as received (`Bearer` when absent or in any case of "bearer").
    pub fn token_type(&self) -> &str {
        &self.token_type
    }
    /// Whether the token is a bearer token (RFC 6750), the only kind grantline sends: its
    /// `token_type` was `Bearer` in any case, or absent.
    pub fn is_bearer(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("bearer")
    }
    /// The refresh token, when there is one.
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    /// When the access token expires (Unix seconds), when known.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }
    /// When the response was received (Unix seconds, the `now` given to the parser).
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }
    /// Where [`TokenSet::expires_at`] came from.
    pub fn expiry_source(&self) -> ExpirySource {
        self.expiry_source
    }
    /// The granted scopes, when the response listed them.
    pub fn scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }
    /// The OpenID Connect ID token, unverified.
    pub fn id_token(&self) -> Option<&IdToken> {
        self.id_token.as_ref()
    }
    /// The ID token of an OpenID Connect answer that must carry one (a code exchange with the
    /// `openid` scope, OpenID Connect Core §3.1.3.3), unverified: check it with
    /// [`crate::IdTokenCheck`].
    ///
    /// # Errors
    /// [`Error::IdToken`] with the claim `id_token` when the answer has none.
    pub fn required_id_token(&self) -> Result<&IdToken, Error> {
        self.id_token.as_ref().ok_or_else(|| Error::IdToken {
            claim: "id_token".into(),
            reason: "the token response carries no ID token (OpenID Connect Core §3.1.3.3)".into(),
        })
    }
    /// The `issued_token_type` of a token exchange answer (RFC 8693 §2.2.1): the type of the
    /// token in `access_token` (`urn:ietf:params:oauth:token-type:...`, see
    /// [`crate::grant::token_type`]); `None` when absent. Kept to URI characters (anything
    /// else escaped) and capped.
    pub fn issued_token_type(&self) -> Option<&str> {
        self.issued_token_type.as_deref()
    }
    /// Members of the response that grantline does not know, as received. They may hold
    /// secrets of the provider's own, so `Debug` prints only their names.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }
    /// The names of the unknown members.
    pub fn extra_names(&self) -> impl Iterator<Item = &str> {
        self.extra.keys().map(String::as_str)
    }

    /// The lifetime the server granted, in seconds, when known.
    pub fn lifetime(&self) -> Option<u64> {
        self.expires_at.map(|at| at.saturating_sub(self.issued_at))
    }

    /// Whether the access token is expired at `now`, or will be within `skew` seconds (capped
    /// at half the lifetime, so short-lived tokens are still used). Unknown expiry: never.
    pub fn expires_within(&self, now: u64, skew: u64) -> bool {
        match self.expires_at {
            None => false,
            Some(at) => {
                let skew = skew.min(self.lifetime().unwrap_or(0) / 2);
                now >= at.saturating_sub(skew)
            }
        }
    }

    /// After a refresh: a response without `refresh_token` keeps the previous one
    /// (RFC 6749 §6 lets the server keep the old token valid). Returns whether the refresh
    /// token was rotated, i.e. the new set must be persisted to keep access.
    pub fn inherit_refresh_token(&mut self, previous: &TokenSet) -> bool {
        match (&self.refresh_token, &previous.refresh_token) {
            (None, Some(old)) => {
                self.refresh_token = Some(old.clone());
                false
            }
            (Some(new), Some(old)) => !new.ct_eq(old.secret()),
            (Some(_), None) => true,
            (None, None) => false,
        }
    }

    pub(crate) fn drop_refresh_token(&mut self) {
        self.refresh_token = None;
    }

    pub(crate) fn set_refresh_token(&mut self, refresh_token: RefreshToken) {
        self.refresh_token = Some(refresh_token);
    }

    /// Whether the access token had already expired when the response arrived (`expires_in`
    /// 0, a past `expires` or JWT `exp`, or a client clock ahead of the server's).
    pub fn expired_on_arrival(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= self.issued_at)
    }

    /// The token set as JSON, to persist. It contains the tokens: store it as a secret.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and a JSON map always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A token set persisted with [`TokenSet::to_json`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `json` is not such a token set.
    pub fn from_json(json: &str) -> Result<TokenSet, Error> {
        serde_json::from_str(json).map_err(|e| crate::error::json_input("token set", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_source_names_match_serde() {
        for source in [
            ExpirySource::ExpiresIn,
            ExpirySource::Expires,
            ExpirySource::UnverifiedJwtExp,
            ExpirySource::Unknown,
        ] {
            let json = serde_json::to_string(&source).unwrap();
            assert_eq!(json, format!("\"{}\"", source.as_str()));
        }
    }

    fn parse(body: &str) -> Result<TokenSet, Error> {
        let r = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .unwrap();
        TokenSet::from_response(&r, 1000)
    }

    #[test]
    fn lenient_fields() {
        let t = parse(
            r#"{"access_token":"a","token_type":"bearer","expires_in":"60","scope":"x,y z","foo":1}"#,
        )
        .unwrap();
        assert_eq!(t.token_type(), "Bearer");
        assert!(t.is_bearer());
        assert_eq!(t.expires_at(), Some(1060));
        assert_eq!(t.scopes().unwrap(), ["x,y", "z"]);
        assert_eq!(t.extra()["foo"], 1);
        let t = parse(r#"{"access_token":"a","expires":3600}"#).unwrap();
        assert_eq!(
            (t.expires_at(), t.expiry_source()),
            (Some(4600), ExpirySource::Expires)
        );
    }

    #[test]
    fn skew_is_capped_at_half_the_lifetime() {
        let t = parse(r#"{"access_token":"a","expires_in":60}"#).unwrap();
        assert!(!t.expires_within(1029, 60));
        assert!(t.expires_within(1030, 60));
        let t = parse(r#"{"access_token":"a","expires_in":3600}"#).unwrap();
        assert!(!t.expires_within(4539, 60));
        assert!(t.expires_within(4540, 60));
    }

    #[test]
    fn refresh_keeps_the_old_refresh_token() {
        let old = parse(r#"{"access_token":"a","refresh_token":"r1"}"#).unwrap();
        let mut new = parse(r#"{"access_token":"b"}"#).unwrap();
        assert!(!new.inherit_refresh_token(&old));
        assert_eq!(new.refresh_token().unwrap().secret(), "r1");
        let mut rotated = parse(r#"{"access_token":"c","refresh_token":"r2"}"#).unwrap();
        assert!(rotated.inherit_refresh_token(&old));
    }

    #[test]
    fn a_bad_answer_keeps_its_refresh_token() {
        let r = http::Response::new(
            br#"{"access_token":"a","refresh_token":"r2","expires_in":"1h"}"#.to_vec(),
        );
        let f = TokenSet::parse(&r, 1000, None).err().unwrap();
        assert_eq!(f.error.kind(), "malformed");
        assert_eq!(f.refresh_token.unwrap().secret(), "r2");
        let r = http::Response::builder()
            .status(400)
            .body(br#"{"error":"invalid_grant","refresh_token":"r3"}"#.to_vec())
            .unwrap();
        assert!(TokenSet::parse(&r, 1000, None)
            .err()
            .unwrap()
            .refresh_token
            .is_none());
    }

    #[test]
    fn a_required_id_token_that_is_missing_is_an_id_token_error() {
        let t = parse(r#"{"access_token":"a"}"#).unwrap();
        let e = t.required_id_token().unwrap_err();
        assert!(
            matches!(&e, Error::IdToken { claim, .. } if claim == "id_token"),
            "{e}"
        );
        let t = parse(r#"{"access_token":"a","id_token":"x.y.z"}"#).unwrap();
        assert_eq!(t.required_id_token().unwrap().secret(), "x.y.z");
    }

    #[test]
    fn restoring_never_echoes_the_json() {
        let e =
            TokenSet::from_json(r#"{"access_token":"a","issued_at":"SECRETVALUE"}"#).unwrap_err();
        assert!(!e.to_string().contains("SECRETVALUE"), "{e}");
    }

    #[test]
    fn json_round_trip() {
        let t =
            parse(r#"{"access_token":"a","refresh_token":"r","expires_in":5,"x":[1]}"#).unwrap();
        let back = TokenSet::from_json(&t.to_json()).unwrap();
        assert_eq!(back.access_token().secret(), "a");
        assert_eq!(back.expires_at(), Some(1005));
        assert_eq!(back.extra()["x"][0], 1);
    }
}
