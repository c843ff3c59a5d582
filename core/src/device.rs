//! Device authorization grant (RFC 8628): the authorization request, its answer, and each
//! poll's answer mapped to what the app does next. grantline never sleeps: the app waits the
//! interval it is told.

use crate::body;
use crate::client::Client;
use crate::error::Error;
use crate::provider::{Endpoint, GrantType};
use crate::secret::DeviceCode;
use crate::token::TokenSet;

/// The polling interval when the server names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: u64 = 5;
/// The shortest polling interval grantline tells an app to wait, whatever a server says.
pub const MIN_INTERVAL: u64 = 1;
/// The longest polling interval grantline tells an app to wait: a server cannot put a device
/// to sleep for days (the device code expires long before).
pub const MAX_INTERVAL: u64 = 600;

/// The device authorization answer (RFC 8628 §3.2): show `user_code` and `verification_uri`
/// to the user, then poll with [`Client::device_token_request`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    /// The device code, sent with every poll.
    pub device_code: DeviceCode,
    /// The code the user types at the verification URI.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The verification URI with the user code in it, when given (for QR codes).
    pub verification_uri_complete: Option<String>,
    /// When the device code expires (Unix seconds), when given.
    pub expires_at: Option<u64>,
    /// Seconds to wait between polls.
    pub interval: u64,
}

impl DeviceAuthorization {
    /// Parses the device authorization response received at `now`.
    ///
    /// `interval` is [`DEFAULT_INTERVAL`] when absent, and kept between [`MIN_INTERVAL`] and
    /// [`MAX_INTERVAL`].
    /// `verification_uri` and `verification_uri_complete` are shown to a person who will type
    /// a code there: they must be `https://` (or `http://` on loopback) URLs without user
    /// information or fragment.
    ///
    /// # Errors
    /// [`Error::OAuth`], [`Error::UnexpectedStatus`], and [`Error::Malformed`] when
    /// `device_code`, `user_code` or `verification_uri` is missing, or a verification URI fails
    /// the checks above.
    pub fn from_response(resp: &http::Response<impl AsRef<[u8]>>, now: u64) -> Result<Self, Error> {
        let status = resp.status().as_u16();
        let o = body::read_members(resp)?;
        let need = |k: &str| {
            body::string(&o, k)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| Error::malformed(status, format!("the response has no `{k}`")))
        };
        let verification_uri = match body::string(&o, "verification_url") {
            // Google's pre-RFC name.
            Some(u) if o.get("verification_uri").is_none() => u,
            _ => need("verification_uri")?,
        };
        let checked = |key: &str, url: String| -> Result<String, Error> {
            crate::urls::check_user_url(&url).map_err(|e| {
                let why = match e {
                    Error::InsecureEndpoint { .. } => "is not an https URL",
                    _ => "is not a valid https URL",
                };
                Error::malformed(status, format!("`{key}` {why}"))
            })?;
            Ok(url)
        };
        let verification_uri = checked("verification_uri", verification_uri)?;
        let verification_uri_complete = body::string(&o, "verification_uri_complete")
            .map(|u| checked("verification_uri_complete", u))
            .transpose()?;
        Ok(DeviceAuthorization {
            device_code: DeviceCode::new(need("device_code")?),
            user_code: need("user_code")?,
            verification_uri,
            verification_uri_complete,
            expires_at: body::seconds(&o, "expires_in", status)?.map(|s| now.saturating_add(s)),
            interval: body::seconds(&o, "interval", status)?
                .unwrap_or(DEFAULT_INTERVAL)
                .clamp(MIN_INTERVAL, MAX_INTERVAL),
        })
    }
}

/// What one poll's answer means (RFC 8628 §3.5).
#[derive(Debug, Clone)]
pub enum DevicePoll {
    /// The user approved: here are the tokens.
    Tokens(TokenSet),
    /// Not yet: poll again after `interval` seconds.
    Pending {
        /// Seconds to wait before the next poll.
        interval: u64,
    },
    /// Polling too fast: poll again after the new, longer `interval` (5 s more, §3.5, or the
    /// `interval` the answer carries when that is longer).
    SlowDown {
        /// Seconds to wait before the next poll, from now on.
        interval: u64,
    },
    /// The device code expired: start over with a new device authorization.
    Expired,
    /// The user denied the request.
    Denied,
}

impl DevicePoll {
    /// Maps a poll's response, received at `now`, polling every `interval` seconds so far.
    /// The interval handed back is kept between [`MIN_INTERVAL`] and [`MAX_INTERVAL`].
    ///
    /// # Errors
    /// Any other OAuth error (e.g. `invalid_grant` for a used code) and malformed answers, as
    /// [`TokenSet::from_response`].
    pub fn from_response(
        resp: &http::Response<impl AsRef<[u8]>>,
        now: u64,
        interval: u64,
    ) -> Result<Self, Error> {
        let interval = interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
        match TokenSet::from_response(resp, now) {
            Ok(tokens) => Ok(DevicePoll::Tokens(tokens)),
            Err(Error::OAuth { code, .. }) if code == "authorization_pending" => {
                Ok(DevicePoll::Pending { interval })
            }
            Err(Error::OAuth { code, .. }) if code == "slow_down" => {
                let carried = serde_json::from_slice::<body::Members<'_>>(resp.body().as_ref())
                    .ok()
                    .and_then(|o| body::seconds(&o, "interval", 0).ok().flatten())
                    .unwrap_or(0);
                Ok(DevicePoll::SlowDown {
                    interval: interval.saturating_add(5).max(carried).min(MAX_INTERVAL),
                })
            }
            Err(Error::OAuth { code, .. }) if code == "expired_token" => Ok(DevicePoll::Expired),
            Err(Error::OAuth { code, .. }) if code == "access_denied" => Ok(DevicePoll::Denied),
            Err(e) => Err(e),
        }
    }
}

impl Client {
    /// The device authorization request (RFC 8628 §3.1).
    ///
    /// # Errors
    /// [`Error::UnsupportedGrant`] when the provider lacks the device grant;
    /// [`Error::MissingEndpoint`] when it has no device authorization endpoint.
    pub fn device_authorization_request(
        &self,
        scopes: &[String],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        if !self.provider().supports(GrantType::DeviceCode) {
            return Err(Error::UnsupportedGrant {
                grant: GrantType::DeviceCode,
            });
        }
        let url =
            self.provider()
                .device_authorization_endpoint()
                .ok_or(Error::MissingEndpoint {
                    endpoint: Endpoint::DeviceAuthorization,
                })?;
        let scope = self.scope_param(scopes)?;
        let params: Vec<(&str, &str)> =
            scope.as_deref().map(|s| ("scope", s)).into_iter().collect();
        self.post(url, None, &params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn poll_answers() {
        let p = |b: &str| DevicePoll::from_response(&resp(400, b), 0, 5).unwrap();
        assert!(matches!(
            p(r#"{"error":"authorization_pending"}"#),
            DevicePoll::Pending { interval: 5 }
        ));
        assert!(matches!(
            p(r#"{"error":"slow_down"}"#),
            DevicePoll::SlowDown { interval: 10 }
        ));
        assert!(matches!(
            p(r#"{"error":"expired_token"}"#),
            DevicePoll::Expired
        ));
        assert!(matches!(
            p(r#"{"error":"access_denied"}"#),
            DevicePoll::Denied
        ));
        assert!(
            DevicePoll::from_response(&resp(400, r#"{"error":"invalid_grant"}"#), 0, 5).is_err()
        );
        let d = DeviceAuthorization::from_response(
            &resp(200, r#"{"device_code":"d","user_code":"U","verification_uri":"https://x/device","expires_in":600}"#),
            100,
        )
        .unwrap();
        assert_eq!((d.interval, d.expires_at), (5, Some(700)));
        assert!(matches!(
            DevicePoll::from_response(&resp(400, r#"{"error":"slow_down","interval":30}"#), 0, 5)
                .unwrap(),
            DevicePoll::SlowDown { interval: 30 }
        ));
        assert!(matches!(
            DevicePoll::from_response(&resp(400, r#"{"error":"authorization_pending"}"#), 0, 0)
                .unwrap(),
            DevicePoll::Pending { interval: 1 }
        ));
        for bad in [
            "http://evil.example/device",
            "javascript:alert(1)",
            "https://u:p@x/d",
        ] {
            let body =
                format!(r#"{{"device_code":"d","user_code":"U","verification_uri":"{bad}"}}"#);
            assert_eq!(
                DeviceAuthorization::from_response(&resp(200, &body), 0)
                    .unwrap_err()
                    .kind(),
                "malformed",
                "{bad}"
            );
        }
    }
}
