//! One error type, sorted by who is at fault.
//!
//! | fault | variants |
//! |---|---|
//! | [`Fault::Server`]: the authorization server said no | [`Error::OAuth`] |
//! | [`Fault::Response`]: the server answered nonsense | [`Error::Malformed`], [`Error::UnexpectedStatus`], [`Error::UnusableToken`], [`Error::Jws`], [`Error::IdToken`] |
//! | [`Fault::Transport`]: the request did not make it there and back | [`Error::Transport`] |
//! | [`Fault::Caller`]: the caller or the configuration is at fault | every other variant |
//!
//! No variant ever carries a secret, token, code, verifier or password: excerpts of response
//! bodies are kept only for bodies that are neither JSON nor form-encoded (an HTML 502 page, say),
//! cut to [`EXCERPT_LEN`] characters, with every secret-named parameter's value and every
//! token-like run redacted. Text a server chose (`error`, `error_description`, `error_uri`, an
//! issuer, a list of methods) is checked against RFC 6749 §5.2's character set, escaped where it
//! strays (no CR, LF or terminal escape reaches a log line) and capped in length.

use crate::jose::JwsProblem;
use crate::provider::{Endpoint, GrantType};

pub use crate::text::EXCERPT_LEN;

/// An [`Error::InvalidInput`] for JSON the caller handed in (a persisted token set or pending
/// authorization) that does not restore: where it broke, never what it said (serde's messages
/// quote the values they choke on, and these values are secrets).
pub(crate) fn json_input(what: &str, e: &serde_json::Error) -> Error {
    let problem = match e.classify() {
        serde_json::error::Category::Data => "is not a valid",
        _ => "is not JSON for a",
    };
    Error::invalid(format!(
        "the input {problem} {what} (line {}, column {})",
        e.line(),
        e.column()
    ))
}

/// Who is at fault for an [`Error`] (compare h11's local/remote protocol errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The server understood the request and refused it (an OAuth error response).
    Server,
    /// The server's answer could not be understood: not a token response, not an error response.
    Response,
    /// The caller asked for something this configuration cannot do, or passed bad input.
    Caller,
    /// The request could not be sent or its answer not received (reported by the transport).
    Transport,
}

/// Everything that can go wrong in grantline. Match on [`Error::fault`] for coarse handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server said no: an OAuth 2.0 error response (RFC 6749 §5.2, RFC 6750 §3.1,
    /// RFC 8628 §3.5, or a callback's `error` parameter, §4.1.2.1). Codes the RFCs do not list
    /// are kept as they came.
    #[error("the authorization server refused: {code}{}{} (HTTP {status})",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default(),
        uri.as_deref().map(|u| format!(" <{u}>")).unwrap_or_default())]
    OAuth {
        /// The `error` code, e.g. `invalid_grant`.
        code: String,
        /// `error_description`, when given.
        description: Option<String>,
        /// `error_uri`, when given.
        uri: Option<String>,
        /// The HTTP status of the response (200 for an error in a 200 body; 0 for a callback).
        status: u16,
    },
    /// The server answered something that is neither a valid answer nor an OAuth error.
    #[error("malformed response (HTTP {status}): {reason}{}",
        excerpt.as_deref().map(|e| format!("; body starts with {e:?}")).unwrap_or_default())]
    Malformed {
        /// The HTTP status of the response.
        status: u16,
        /// What was wrong, never containing a secret.
        reason: String,
        /// The start of a non-JSON, non-form body (e.g. an HTML error page), for diagnosis.
        excerpt: Option<String>,
    },
    /// The server answered with a status that fits no answer and no OAuth error body.
    #[error("unexpected HTTP status {status}{}",
        excerpt.as_deref().map(|e| format!("; body starts with {e:?}")).unwrap_or_default())]
    UnexpectedStatus {
        /// The HTTP status of the response.
        status: u16,
        /// The start of a non-JSON, non-form body, for diagnosis.
        excerpt: Option<String>,
    },
    /// The callback's `state` does not match the pending authorization (possible CSRF), or is
    /// missing.
    #[error("the callback's state does not match the pending authorization")]
    StateMismatch,
    /// A callback's `iss` (RFC 9207) names another issuer than the provider's, or is missing
    /// while the provider promised to send it; or a discovery document names another issuer
    /// than the one it was fetched for (RFC 8414 §3.3).
    #[error("the issuer {received:?} is not the expected {expected:?}")]
    IssuerMismatch {
        /// The provider's issuer.
        expected: String,
        /// What the callback carried (empty when missing).
        received: String,
    },
    /// An endpoint uses `http://` on a host that is not loopback.
    #[error("insecure endpoint {url}: only https:// is allowed, or http:// on a loopback host")]
    InsecureEndpoint {
        /// The refused URL.
        url: String,
    },
    /// The provider has no endpoint for what was asked.
    #[error("the provider has no {endpoint} endpoint")]
    MissingEndpoint {
        /// Which endpoint is missing.
        endpoint: Endpoint,
    },
    /// The provider does not support this grant; no request was built.
    #[error("the provider does not support the {grant} grant")]
    UnsupportedGrant {
        /// The grant that was asked for.
        grant: GrantType,
    },
    /// The token session cannot renew: no refresh token and no grant to repeat. The user must
    /// authorize again.
    #[error("the token cannot be renewed: authorize again")]
    ReauthorizationRequired,
    /// A response was handed to a token session for a request it did not send or already
    /// received.
    #[error("response for request #{id}, which the session is not waiting for")]
    UnexpectedResponse {
        /// The id the caller passed.
        id: u64,
    },
    /// The caller passed invalid input (a malformed URL, a callback without code, a bad
    /// discovery document...).
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What was wrong, never containing a secret.
        reason: String,
    },
    /// The transport could not send a request or receive its answer (reported to a
    /// [`crate::TokenSession`] with [`crate::TokenSession::fail`], and by the bindings).
    #[error("transport failure: {reason}")]
    Transport {
        /// What the transport reported, never containing a secret.
        reason: String,
    },
    /// A shared token store could not be used (unreachable, timed out, or holding an entry this
    /// process cannot read); see [`crate::fleet`]. A caller sees it only when no usable token
    /// is left and renewing without the store is not safe.
    #[error("shared store failure: {reason}")]
    Store {
        /// What failed, never containing a secret.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("the random number generator failed")]
    Random,
    /// The provider's metadata lists no client authentication method this client can use
    /// (`token_endpoint_auth_methods_supported`: only `private_key_jwt` for a client without a
    /// signing key, or only methods grantline does not speak): give the client a key with
    /// [`crate::Client::with_signing_key`], or choose a method with
    /// [`crate::Client::with_auth_method`] if the provider accepts one anyway.
    #[error("the provider accepts no client authentication method this client can use ({}): give it a key with Client::with_signing_key or set a method with Client::with_auth_method", offered.join(", "))]
    UnsupportedAuthMethod {
        /// The methods the provider listed (escaped, capped).
        offered: Vec<String>,
    },
    /// The token's `token_type` is neither `Bearer` nor absent (`DPoP`, `mac`, `N_A`...): it
    /// must not be sent as a bearer token (RFC 6749 §7.1), and grantline cannot send it any
    /// other way yet.
    #[error("the token's type is {token_type:?}, not Bearer: grantline does not send it")]
    UnsupportedTokenType {
        /// The `token_type` received (escaped, capped).
        token_type: String,
    },
    /// The token endpoint answered a renewal with an access token the session cannot use: the
    /// very token the API had just refused, or one that had already expired when it arrived
    /// and was then refused. The session backs off before it asks again.
    #[error("the authorization server issued an unusable access token: {reason}")]
    UnusableToken {
        /// Why it is unusable.
        reason: String,
    },
    /// A JWS (an ID token, a signed answer) was refused: malformed, unsecured, an algorithm
    /// the caller does not accept, a critical extension, no fitting key, or a bad signature.
    /// Never carries the token, its claims or key material.
    #[error("the JWS was refused: {problem}")]
    Jws {
        /// What was wrong with it.
        problem: JwsProblem,
    },
    /// A key the caller passed (a JWK, a JWK Set, a PEM private key, a shared secret) cannot
    /// be used. Never carries key material.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// What was wrong, never containing key material.
        reason: String,
    },
    /// An ID token (or a signed userinfo answer) whose signature verified failed a check of
    /// OpenID Connect Core 1.0 §3.1.3.7 or §12.2: the claim is missing, of the wrong type, or
    /// does not match. Names the claim; never carries the token or a claim value (except an
    /// `iss` or `aud`, which are public, escaped and capped).
    #[error("the ID token's {claim} claim was refused: {reason}")]
    IdToken {
        /// The claim: `iss`, `aud`, `azp`, `exp`, `iat`, `nbf`, `nonce`, `at_hash`, `c_hash`,
        /// `auth_time`, `sub`, `alg`, `typ`...
        claim: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Error::OAuth { .. } => Fault::Server,
            Error::Malformed { .. }
            | Error::UnexpectedStatus { .. }
            | Error::UnusableToken { .. }
            | Error::Jws { .. }
            | Error::IdToken { .. } => Fault::Response,
            Error::Transport { .. } | Error::Store { .. } => Fault::Transport,
            _ => Fault::Caller,
        }
    }

    /// The OAuth `error` code, when the server said no.
    pub fn oauth_code(&self) -> Option<&str> {
        match self {
            Error::OAuth { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of the response behind this error, when there was one (`None` for a
    /// callback's `error`, which came in a redirect, not a response).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::OAuth { status, .. }
            | Error::Malformed { status, .. }
            | Error::UnexpectedStatus { status, .. } => Some(*status).filter(|s| *s != 0),
            _ => None,
        }
    }

    /// A short, stable name for the variant (`oauth`, `malformed`, `unexpected_status`,
    /// `state_mismatch`, ...), as used by the shared test vectors and the bindings.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::OAuth { .. } => "oauth",
            Error::Malformed { .. } => "malformed",
            Error::UnexpectedStatus { .. } => "unexpected_status",
            Error::StateMismatch => "state_mismatch",
            Error::IssuerMismatch { .. } => "issuer_mismatch",
            Error::InsecureEndpoint { .. } => "insecure_endpoint",
            Error::MissingEndpoint { .. } => "missing_endpoint",
            Error::UnsupportedGrant { .. } => "unsupported_grant",
            Error::ReauthorizationRequired => "reauthorization_required",
            Error::UnexpectedResponse { .. } => "unexpected_response",
            Error::InvalidInput { .. } => "invalid_input",
            Error::Transport { .. } => "transport",
            Error::Store { .. } => "store",
            Error::Random => "random",
            Error::UnsupportedAuthMethod { .. } => "unsupported_auth_method",
            Error::UnsupportedTokenType { .. } => "unsupported_token_type",
            Error::UnusableToken { .. } => "unusable_token",
            Error::Jws { .. } => "jws",
            Error::InvalidKey { .. } => "invalid_key",
            Error::IdToken { .. } => "id_token",
        }
    }

    /// An OAuth error as a server (or a callback URL) wrote it: `code` and `description` kept to
    /// RFC 6749 §5.2's character set (anything else escaped) and capped, `uri` likewise.
    pub(crate) fn oauth(
        code: &str,
        description: Option<&str>,
        uri: Option<&str>,
        status: u16,
    ) -> Self {
        use crate::text::{oauth_text, Charset, MAX_CODE, MAX_DESCRIPTION, MAX_URI};
        Error::OAuth {
            code: oauth_text(code, Charset::Text, MAX_CODE),
            description: description.map(|d| oauth_text(d, Charset::Text, MAX_DESCRIPTION)),
            uri: uri.map(|u| oauth_text(u, Charset::Uri, MAX_URI)),
            status,
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed(status: u16, reason: impl Into<String>) -> Self {
        Error::Malformed {
            status,
            reason: reason.into(),
            excerpt: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_fault_without_secrets() {
        let e = Error::OAuth {
            code: "invalid_grant".into(),
            description: Some("code expired".into()),
            uri: None,
            status: 400,
        };
        assert_eq!(
            e.to_string(),
            "the authorization server refused: invalid_grant: code expired (HTTP 400)"
        );
        assert_eq!(e.fault(), Fault::Server);
        assert_eq!(Error::StateMismatch.fault(), Fault::Caller);
    }

    #[test]
    fn server_text_in_oauth_errors_is_escaped_and_capped() {
        let huge = format!("x\r\n\u{1b}[2J{}", "y".repeat(500_000));
        let e = Error::oauth("invalid_grant", Some(&huge), Some("https://as/e rr"), 400);
        let shown = e.to_string();
        assert!(shown.len() < 1200, "{}", shown.len());
        assert!(!shown.contains('\r') && !shown.contains('\n') && !shown.contains('\u{1b}'));
        assert!(shown.contains("x\\u{d}\\u{a}\\u{1b}[2J"));
        assert!(shown.contains("<https://as/e\\u{20}rr>"));
    }
}
