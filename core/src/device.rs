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

/// What a device flow's polling loop does next: see [`DeviceFlow::next`].
#[must_use]
pub enum DeviceStep {
    /// Wait this many seconds (grantline never sleeps), then ask [`DeviceFlow::next`] again.
    Wait {
        /// Seconds to wait.
        seconds: u64,
    },
    /// Send this token request, then hand its answer to [`DeviceFlow::receive`]. (Boxed:
    /// `Wait` is the common step.)
    Poll(Box<http::Request<Vec<u8>>>),
}

impl core::fmt::Debug for DeviceStep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DeviceStep::Wait { seconds } => {
                f.debug_struct("Wait").field("seconds", seconds).finish()
            }
            // The body carries the device code and client credentials.
            DeviceStep::Poll(r) => f
                .debug_struct("Poll")
                .field("method", r.method())
                .field("uri", &crate::redact::url(&r.uri().to_string()))
                .finish_non_exhaustive(),
        }
    }
}

/// The device flow's polling loop (RFC 8628 §3.4–3.5) as a state machine, so that every
/// binding's "wait for the user" loop is the same few lines and makes no decision:
///
/// ```
/// use grantline::{Client, DeviceAuthorization, DeviceFlow, DeviceStep, Provider};
/// # fn send(_: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
/// #     http::Response::new(br#"{"access_token":"tok","expires_in":60}"#.to_vec())
/// # }
/// # fn now() -> u64 { 1_700_000_100 }
/// # let client = Client::new(Provider::builder("as").token_endpoint("https://as.example/token")
/// #     .device_authorization_endpoint("https://as.example/device")
/// #     .grant(grantline::GrantType::DeviceCode).build()?, "tv");
/// # let device = DeviceAuthorization::from_response(&http::Response::new(
/// #     br#"{"device_code":"dc","user_code":"U","verification_uri":"https://as.example/v","expires_in":600}"#.to_vec()), 1_700_000_000)?;
/// let mut flow = DeviceFlow::new(&device);
/// let tokens = loop {
///     match flow.next(&client, now())? {
///         DeviceStep::Wait { seconds } => { /* sleep `seconds` */ }
///         DeviceStep::Poll(request) => {
///             if let Some(tokens) = flow.receive(&send(&request), now())? {
///                 break tokens;
///             }
///         }
///     }
/// };
/// # assert_eq!(tokens.access_token().secret(), "tok");
/// # Ok::<(), grantline::Error>(())
/// ```
///
/// The first poll comes one interval after the authorization; `authorization_pending` and
/// `slow_down` set the interval before the next one (RFC 8628 §3.5); the loop ends with the tokens, or with an
/// error: the server's own `access_denied` / `expired_token` (or any other error), or
/// `expired_token` (status 0) once the device code's `expires_in` has passed, so a server that
/// answers "pending" forever cannot keep a device polling.
#[derive(Debug, Clone)]
pub struct DeviceFlow {
    device_code: DeviceCode,
    interval: u64,
    expires_at: Option<u64>,
    /// Whether the next step is a wait (else a poll): they alternate, starting with a wait.
    wait_next: bool,
}

impl DeviceFlow {
    /// The loop for `device`.
    pub fn new(device: &DeviceAuthorization) -> Self {
        DeviceFlow {
            device_code: device.device_code.clone(),
            interval: device.interval.clamp(MIN_INTERVAL, MAX_INTERVAL),
            expires_at: device.expires_at,
            wait_next: true,
        }
    }

    /// The polling interval in force (seconds).
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// What to do at `now`: wait the interval, or poll with `client`'s token request. Waits
    /// and polls alternate, starting with a wait; a wait never runs past the device code's
    /// expiry.
    ///
    /// # Errors
    /// [`Error::OAuth`] `expired_token` (status 0) when the device code has expired; the
    /// errors of [`Client::device_token_request`].
    pub fn next(&mut self, client: &Client, now: u64) -> Result<DeviceStep, Error> {
        if let Some(at) = self.expires_at {
            if now >= at {
                return Err(Error::OAuth {
                    code: "expired_token".into(),
                    description: Some("the device code expired before the user approved".into()),
                    uri: None,
                    status: 0,
                });
            }
        }
        if self.wait_next {
            self.wait_next = false;
            let seconds = self
                .expires_at
                .map_or(self.interval, |at| self.interval.min(at - now));
            return Ok(DeviceStep::Wait { seconds });
        }
        let request = client.device_token_request(&self.device_code, now)?;
        self.wait_next = true;
        Ok(DeviceStep::Poll(Box::new(request)))
    }

    /// Hands in a poll's answer, received at `now`: `Some(tokens)` when the user approved,
    /// `None` to go on ([`DeviceFlow::next`] says when).
    ///
    /// # Errors
    /// The answer's error when the loop ends: `access_denied`, `expired_token`, any other OAuth
    /// error, a malformed answer.
    pub fn receive(
        &mut self,
        response: &http::Response<impl AsRef<[u8]>>,
        now: u64,
    ) -> Result<Option<TokenSet>, Error> {
        match DevicePoll::from_response(response, now, self.interval)? {
            DevicePoll::Tokens(tokens) => Ok(Some(tokens)),
            DevicePoll::Pending { interval } | DevicePoll::SlowDown { interval } => {
                self.interval = interval;
                Ok(None)
            }
            // The server's own error, with its description and status.
            DevicePoll::Expired | DevicePoll::Denied => Err(TokenSet::from_response(response, now)
                .err()
                .unwrap_or(Error::ReauthorizationRequired)),
        }
    }
}

impl Client {
    /// The device authorization request (RFC 8628 §3.1), authenticated like token requests
    /// (`now` is the `iat` of a JWT client assertion).
    ///
    /// # Errors
    /// [`Error::UnsupportedGrant`] when the provider lacks the device grant;
    /// [`Error::MissingEndpoint`] when it has no device authorization endpoint.
    pub fn device_authorization_request(
        &self,
        scopes: &[String],
        now: u64,
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
        self.post_to(url, &params, now)
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

    fn flow_client() -> Client {
        let provider = crate::Provider::builder("as")
            .token_endpoint("https://as.example/token")
            .device_authorization_endpoint("https://as.example/device")
            .grant(GrantType::DeviceCode)
            .build()
            .unwrap();
        Client::new(provider, "tv")
    }

    fn flow(expires_in: u64, interval: u64) -> DeviceFlow {
        let body = format!(
            r#"{{"device_code":"dc-secret","user_code":"U","verification_uri":"https://as.example/v","expires_in":{expires_in},"interval":{interval}}}"#
        );
        let device = DeviceAuthorization::from_response(&resp(200, &body), 1000).unwrap();
        DeviceFlow::new(&device)
    }

    fn wait(step: DeviceStep) -> u64 {
        match step {
            DeviceStep::Wait { seconds } => seconds,
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    fn poll(step: DeviceStep) -> http::Request<Vec<u8>> {
        match step {
            DeviceStep::Poll(r) => *r,
            other => panic!("expected a poll, got {other:?}"),
        }
    }

    #[test]
    fn the_flow_waits_polls_follows_slow_down_and_ends_with_the_tokens() {
        let client = flow_client();
        let mut f = flow(600, 5);
        assert_eq!(wait(f.next(&client, 1000).unwrap()), 5);
        let r = poll(f.next(&client, 1005).unwrap());
        assert!(String::from_utf8_lossy(r.body()).contains("device_code=dc-secret"));
        let pending = resp(400, r#"{"error":"authorization_pending"}"#);
        assert!(f.receive(&pending, 1005).unwrap().is_none());
        assert_eq!(wait(f.next(&client, 1005).unwrap()), 5);
        let slow = resp(400, r#"{"error":"slow_down"}"#);
        poll(f.next(&client, 1010).unwrap());
        assert!(f.receive(&slow, 1010).unwrap().is_none());
        assert_eq!(f.interval(), 10);
        assert_eq!(wait(f.next(&client, 1010).unwrap()), 10);
        poll(f.next(&client, 1020).unwrap());
        let ok = resp(200, r#"{"access_token":"tok","expires_in":60}"#);
        let tokens = f.receive(&ok, 1020).unwrap().unwrap();
        assert_eq!(tokens.access_token().secret(), "tok");
        // A step's Debug shows no device code.
        assert_eq!(wait(f.next(&client, 1020).unwrap()), 10);
        assert!(!format!("{:?}", f.next(&client, 1030).unwrap()).contains("dc-secret"));
    }

    #[test]
    fn the_flow_ends_with_the_servers_own_denial_or_expiry() {
        let client = flow_client();
        for (code, description) in [
            ("access_denied", "no thanks"),
            ("expired_token", "too late"),
        ] {
            let mut f = flow(600, 5);
            wait(f.next(&client, 1000).unwrap());
            poll(f.next(&client, 1005).unwrap());
            let body = format!(r#"{{"error":"{code}","error_description":"{description}"}}"#);
            match f.receive(&resp(400, &body), 1005) {
                Err(Error::OAuth {
                    code: c,
                    description: d,
                    status,
                    ..
                }) => {
                    assert_eq!(
                        (c.as_str(), d.as_deref(), status),
                        (code, Some(description), 400)
                    );
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        // Any other error ends it too.
        let mut f = flow(600, 5);
        wait(f.next(&client, 1000).unwrap());
        poll(f.next(&client, 1005).unwrap());
        let e = f
            .receive(&resp(400, r#"{"error":"invalid_grant"}"#), 1005)
            .unwrap_err();
        assert_eq!(e.oauth_code(), Some("invalid_grant"));
    }

    #[test]
    fn a_server_pending_forever_cannot_keep_the_device_polling() {
        let client = flow_client();
        let mut f = flow(12, 5);
        let pending = resp(400, r#"{"error":"authorization_pending"}"#);
        wait(f.next(&client, 1000).unwrap());
        poll(f.next(&client, 1005).unwrap());
        assert!(f.receive(&pending, 1005).unwrap().is_none());
        wait(f.next(&client, 1005).unwrap());
        poll(f.next(&client, 1010).unwrap());
        assert!(f.receive(&pending, 1010).unwrap().is_none());
        // The next poll would come at 1015, after the expiry at 1012: wait until the expiry only.
        assert_eq!(wait(f.next(&client, 1010).unwrap()), 2);
        match f.next(&client, 1012) {
            Err(Error::OAuth { code, status, .. }) => {
                assert_eq!((code.as_str(), status), ("expired_token", 0))
            }
            other => panic!("{other:?}"),
        }
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
