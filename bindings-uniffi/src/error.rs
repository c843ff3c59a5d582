//! The exported error: the core's [`grantline::Error`] reduced to what a caller can act on
//! (two-tier errors, as in mozilla application-services' component template).
//!
//! Kotlin sees a `GrantlineException` sealed class (`GrantlineException.OAuth`, ...), Swift a
//! `GrantlineError` enum. No variant carries a secret: the core keeps secrets out of every
//! reason and excerpt, and this mapping adds none.

use crate::types::{Endpoint, GrantType};

/// Everything a grantline call can fail with, sorted by what the caller does about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum GrantlineError {
    /// The authorization server said no: an OAuth 2.0 error response (RFC 6749 §5.2), or a
    /// callback's `error` parameter (status 0). Act on `code` (`invalid_grant`: sign in again,
    /// `invalid_client`: check the credentials, `invalid_scope`, ...).
    #[error("the authorization server refused: {code}{} (HTTP {status})",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// The `error` code, e.g. `invalid_grant`.
        code: String,
        /// `error_description`, when given.
        description: Option<String>,
        /// `error_uri`, when given.
        uri: Option<String>,
        /// The HTTP status (200 for an error in a 200 body; 0 for a callback's `error`).
        status: i32,
    },
    /// The server answered something that is neither a valid answer nor an OAuth error (an
    /// HTML error page, a token response without `access_token`, an unexpected status, a body
    /// over its limit, an access token the session cannot use...). Retrying later may help; the
    /// server or a proxy is at fault.
    #[error("malformed response (HTTP {status}): {reason}")]
    MalformedResponse {
        /// `malformed`; `unexpected_status` when only the status was wrong; `unusable_token`
        /// when a renewal answered with a token the session cannot use (the very token the API
        /// had just refused, one already expired on arrival).
        kind: String,
        /// The HTTP status of the response (0 when the error is not about one response).
        status: i32,
        /// What was wrong, never containing a secret.
        reason: String,
        /// The start of a body that is neither JSON nor form (e.g. an HTML page), with
        /// token-like runs redacted, for diagnosis.
        excerpt: Option<String>,
    },
    /// The caller or the configuration is at fault: an insecure or missing endpoint, a grant
    /// the provider lacks, invalid input (a bad URL, a callback without `code`, an unreadable
    /// stored record), a client authentication method or token type grantline does not speak.
    /// Fix the code or the configuration.
    #[error("{reason}")]
    Configuration {
        /// The core's stable error name: `insecure_endpoint`, `missing_endpoint`,
        /// `unsupported_grant`, `invalid_input`, `unexpected_response`, `random`,
        /// `unsupported_auth_method` (the provider's metadata lists only client authentication
        /// methods grantline does not speak: choose one with the client's `authMethod`),
        /// `unsupported_token_type` (a `DPoP`, `N_A`... token: never sent as Bearer).
        kind: String,
        /// What was wrong, never containing a secret.
        reason: String,
        /// The grant, for `unsupported_grant`.
        grant: Option<GrantType>,
        /// The endpoint, for `missing_endpoint`.
        endpoint: Option<Endpoint>,
    },
    /// The callback does not answer the pending authorization: its `state` is missing or
    /// different (a possible CSRF attempt, or a stale callback), or its `iss` names another
    /// issuer (RFC 9207, a mix-up); or a discovery document names another issuer than the one
    /// asked for (RFC 8414 §3.3, a mix-up). Start again; never use that provider.
    #[error("{reason}")]
    StateMismatch {
        /// The core's stable error name: `state_mismatch` or `issuer_mismatch`.
        kind: String,
        /// What did not match, never containing a secret.
        reason: String,
    },
    /// An ID token (or a signed userinfo answer) whose signature verified failed a check of
    /// OpenID Connect Core 1.0 §3.1.3.7 / §12.2 (or the userinfo's `sub` is another user's).
    /// Do not sign the user in; start the login again.
    #[error("{reason}")]
    IdToken {
        /// The claim refused: `iss`, `sub`, `aud`, `azp`, `exp`, `iat`, `nbf`, `nonce`,
        /// `auth_time`, `at_hash`, `c_hash`, `acr`, `amr`, `alg`, `typ`.
        claim: String,
        /// Why, never containing the token or a claim value (except a public `iss`/`aud`).
        reason: String,
    },
    /// A JWS (an ID token, a signed answer) was refused before its claims were read.
    #[error("{reason}")]
    Jws {
        /// What was wrong: `malformed`, `too_large`, `alg_none`, `algorithm_not_accepted`,
        /// `unsupported_critical`, `unencoded_payload`, `no_matching_key`, `key_mismatch`,
        /// `bad_signature`.
        problem: String,
        /// Details, never containing the token, its claims or key material.
        reason: String,
    },
    /// A key you passed (a JWK, a JWK Set, a PEM, a client secret too short for
    /// `client_secret_jwt`) cannot be used. Fix the configuration.
    #[error("{reason}")]
    InvalidKey {
        /// What was wrong, never containing key material.
        reason: String,
    },
    /// The token session cannot renew its token: no refresh token (or a dead one) and no grant
    /// to repeat. Send the user through authorization again.
    #[error("the token cannot be renewed: authorize again")]
    ReauthorizationRequired,
    /// The request did not make it there and back (no network, timeout, a failing transport).
    /// Retry later.
    #[error("transport failure: {reason}")]
    Transport {
        /// What the transport reported.
        reason: String,
    },
    /// A shared token store (a `FleetStore`) could not be used: unreachable, timed out, or
    /// holding an entry this process cannot read. A caller sees it only when no usable token
    /// is left and renewing without the store is not safe (a rotating refresh token shared by
    /// the fleet). Retry later; the session retries the store after a backoff. (Thrown by a
    /// `FleetStore` implementation, its reason becomes the failure's.)
    #[error("shared store failure: {reason}")]
    Store {
        /// What failed, never containing a secret.
        reason: String,
    },
}

impl GrantlineError {
    /// A configuration error of kind `invalid_input`.
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        GrantlineError::Configuration {
            kind: "invalid_input".into(),
            reason: reason.into(),
            grant: None,
            endpoint: None,
        }
    }
}

impl From<grantline::Error> for GrantlineError {
    fn from(e: grantline::Error) -> Self {
        use grantline::Error as E;
        let kind = e.kind().to_owned();
        let reason = e.to_string();
        match e {
            E::OAuth {
                code,
                description,
                uri,
                status,
            } => GrantlineError::OAuth {
                code,
                description,
                uri,
                status: status.into(),
            },
            E::Malformed {
                status, excerpt, ..
            }
            | E::UnexpectedStatus { status, excerpt } => GrantlineError::MalformedResponse {
                kind,
                status: status.into(),
                reason,
                excerpt,
            },
            E::StateMismatch | E::IssuerMismatch { .. } => {
                GrantlineError::StateMismatch { kind, reason }
            }
            E::UnusableToken { .. } => GrantlineError::MalformedResponse {
                kind,
                status: 0,
                reason,
                excerpt: None,
            },
            E::ReauthorizationRequired => GrantlineError::ReauthorizationRequired,
            E::IdToken { claim, .. } => GrantlineError::IdToken { claim, reason },
            E::Jws { problem } => GrantlineError::Jws {
                problem: problem.kind().to_owned(),
                reason,
            },
            E::InvalidKey { .. } => GrantlineError::InvalidKey { reason },
            E::Transport { reason } => GrantlineError::Transport { reason },
            E::Store { reason } => GrantlineError::Store { reason },
            E::UnsupportedGrant { grant } => GrantlineError::Configuration {
                kind,
                reason,
                grant: Some(grant.into()),
                endpoint: None,
            },
            E::MissingEndpoint { endpoint } => GrantlineError::Configuration {
                kind,
                reason,
                grant: None,
                endpoint: Some(endpoint.into()),
            },
            // InsecureEndpoint, InvalidInput, UnexpectedResponse, Random,
            // UnsupportedAuthMethod, UnsupportedTokenType, and whatever the non-exhaustive core
            // adds: the caller's side.
            _ => GrantlineError::Configuration {
                kind,
                reason,
                grant: None,
                endpoint: None,
            },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for GrantlineError {
    /// A foreign transport or listener threw something other than a `GrantlineError`.
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        GrantlineError::Transport { reason: e.reason }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn every_core_error_maps_to_its_kind() {
        let oauth = grantline::Error::OAuth {
            code: "invalid_grant".into(),
            description: Some("expired".into()),
            uri: None,
            status: 400,
        };
        assert!(matches!(
            GrantlineError::from(oauth),
            GrantlineError::OAuth { status: 400, .. }
        ));
        let e = GrantlineError::from(grantline::Error::UnexpectedStatus {
            status: 502,
            excerpt: Some("<html>".into()),
        });
        assert!(
            matches!(e, GrantlineError::MalformedResponse { ref kind, status: 502, .. } if kind == "unexpected_status")
        );
        let e = GrantlineError::from(grantline::Error::UnsupportedGrant {
            grant: grantline::GrantType::Password,
        });
        assert!(matches!(
            e,
            GrantlineError::Configuration {
                grant: Some(GrantType::Password),
                ..
            }
        ));
        assert_eq!(
            GrantlineError::from(grantline::Error::ReauthorizationRequired),
            GrantlineError::ReauthorizationRequired
        );
        let e = GrantlineError::from(grantline::Error::UnusableToken {
            reason: "refused".into(),
        });
        assert!(
            matches!(e, GrantlineError::MalformedResponse { ref kind, status: 0, .. } if kind == "unusable_token")
        );
        for (core, name) in [
            (
                grantline::Error::UnsupportedAuthMethod {
                    offered: vec!["private_key_jwt".into()],
                },
                "unsupported_auth_method",
            ),
            (
                grantline::Error::UnsupportedTokenType {
                    token_type: "DPoP".into(),
                },
                "unsupported_token_type",
            ),
        ] {
            assert!(
                matches!(GrantlineError::from(core), GrantlineError::Configuration { ref kind, .. } if kind == name)
            );
        }
    }
}
