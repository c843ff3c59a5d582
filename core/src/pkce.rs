//! PKCE (RFC 7636): code verifiers and their challenges.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::secret::PkceVerifier;

/// How the code challenge is derived from the verifier (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PkceMethod {
    /// `BASE64URL(SHA256(verifier))`: the default, and the only method to use unless the
    /// server cannot do SHA-256.
    #[default]
    S256,
    /// The challenge is the verifier itself. Only by explicit choice: it protects nothing
    /// against an attacker who can read the authorization request.
    Plain,
}

impl PkceMethod {
    /// The `code_challenge_method` value.
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "S256",
            PkceMethod::Plain => "plain",
        }
    }
}

/// A verifier from 32 random octets: their base64url encoding, 43 characters (RFC 7636 §4.1).
pub fn verifier_from_bytes(octets: &[u8; 32]) -> PkceVerifier {
    PkceVerifier::new(URL_SAFE_NO_PAD.encode(octets))
}

/// The `code_challenge` for `verifier` (RFC 7636 §4.2).
pub fn challenge(verifier: &PkceVerifier, method: PkceMethod) -> String {
    match method {
        PkceMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.secret().as_bytes())),
        PkceMethod::Plain => verifier.secret().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn rfc7636_appendix_b() {
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let v = verifier_from_bytes(&octets);
        assert_eq!(v.secret(), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            challenge(&v, PkceMethod::S256),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(challenge(&v, PkceMethod::Plain), v.secret());
    }
}
