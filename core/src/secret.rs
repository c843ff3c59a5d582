//! Secret newtypes: client secrets, tokens, codes, PKCE verifiers, passwords.
//!
//! Every type here
//! - prints `[redacted]` in both `Debug` and `Display`,
//! - is zeroized when dropped (clones share one buffer, zeroized when the last one goes, so
//!   handing a token to many callers copies no secret bytes),
//! - derives no `PartialEq` (compare with [`ct_eq`](AccessToken::ct_eq), which runs in constant
//!   time),
//! - exposes its value only through the documented [`secret()`](AccessToken::secret) accessor,
//!   so every place that reads a secret is greppable.
//!
//! They serialize to and from plain JSON strings, because apps persist token sets and pending
//! authorizations; whatever stores them must treat the stored bytes as secret.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// What every secret prints instead of its value.
pub const REDACTED: &str = "[redacted]";

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Arc<Zeroizing<String>>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Arc::new(Zeroizing::new(value.into())))
            }

            /// The secret value itself. Every read of a secret goes through here: never log it.
            pub fn secret(&self) -> &str {
                self.0.as_str()
            }

            /// Compares with another value in constant time (for equal lengths).
            pub fn ct_eq(&self, other: &str) -> bool {
                self.0.as_bytes().ct_eq(other.as_bytes()).into()
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), REDACTED)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(REDACTED)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.secret())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self::new)
            }
        }
    };
}

secret_type!(
    /// A client secret (RFC 6749 §2.3.1).
    ClientSecret
);
secret_type!(
    /// An access token (RFC 6749 §1.4).
    AccessToken
);
secret_type!(
    /// A refresh token (RFC 6749 §1.5). Providers may rotate it on every refresh: persist each
    /// new one.
    RefreshToken
);
secret_type!(
    /// An OpenID Connect ID token, kept as received (unverified).
    IdToken
);
secret_type!(
    /// An authorization code from the redirect callback (RFC 6749 §4.1.2).
    AuthorizationCode
);
secret_type!(
    /// A PKCE code verifier (RFC 7636 §4.1).
    PkceVerifier
);
secret_type!(
    /// The anti-CSRF `state` value of an authorization request.
    CsrfState
);
secret_type!(
    /// A resource owner's password (RFC 6749 §4.3).
    Password
);
secret_type!(
    /// An OpenID Connect `nonce` (Core 1.0 §3.1.2.1): binds the ID token to the authorization
    /// request that asked for it.
    Nonce
);
secret_type!(
    /// A device code (RFC 8628 §3.2). The user code is shown to people and is not secret.
    DeviceCode
);
secret_type!(
    /// A security token handed to token exchange (RFC 8693 §2.1: `subject_token`,
    /// `actor_token`): an access token, an ID token, a JWT, a SAML assertion...
    SecurityToken
);
secret_type!(
    /// An assertion: the JWT of the JWT bearer grant (RFC 7523 §2.1), or a client assertion
    /// (RFC 7523 §2.2) grantline signed.
    Assertion
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_redacted_and_compares_in_constant_time() {
        let s = ClientSecret::new("hunter2");
        assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.secret(), "hunter2");
        assert!(s.ct_eq("hunter2"));
        assert!(!s.ct_eq("hunter3"));
        assert!(!s.ct_eq("hunter"));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"hunter2\"");
    }
}
