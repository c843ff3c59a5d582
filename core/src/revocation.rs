//! Token revocation (RFC 7009).

use crate::body;
use crate::client::Client;
use crate::error::Error;
use crate::introspection::TokenTypeHint;
use crate::provider::Endpoint;

impl Client {
    /// A revocation request (RFC 7009 §2.1) for `token`, authenticated like token requests
    /// (`now` is the `iat` of a JWT client assertion).
    ///
    /// # Errors
    /// [`Error::MissingEndpoint`] when the provider has no revocation endpoint; the
    /// authentication errors of [`Client::grant_request`].
    pub fn revocation_request(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
        now: u64,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let url = self
            .provider()
            .revocation_endpoint()
            .ok_or(Error::MissingEndpoint {
                endpoint: Endpoint::Revocation,
            })?;
        let mut params = vec![("token", token)];
        if let Some(hint) = hint {
            params.push(("token_type_hint", hint.as_str()));
        }
        self.post_to(url, &params, now)
    }
}

/// Checks a revocation response: any 2xx is success, whatever the body (RFC 7009 §2.2 — an
/// unknown or already revoked token is revoked too).
///
/// # Errors
/// [`Error::OAuth`] for an error body (e.g. `unsupported_token_type`);
/// [`Error::UnexpectedStatus`] for any other non-2xx answer.
pub fn check_revocation_response(resp: &http::Response<impl AsRef<[u8]>>) -> Result<(), Error> {
    if resp.status().is_success() {
        return Ok(());
    }
    body::read_members(resp).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_2xx_is_success() {
        assert!(check_revocation_response(&http::Response::new(Vec::new())).is_ok());
        let bad = http::Response::builder()
            .status(400)
            .body(br#"{"error":"unsupported_token_type"}"#.to_vec())
            .unwrap();
        assert_eq!(
            check_revocation_response(&bad).unwrap_err().oauth_code(),
            Some("unsupported_token_type")
        );
    }
}
