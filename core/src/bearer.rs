//! Using a token (RFC 6750): the `Authorization` header, `WWW-Authenticate` challenges, and
//! whether a 401 means "renew the token".

use http::header::WWW_AUTHENTICATE;

use crate::error::Error;
use crate::secret::AccessToken;

/// `Bearer <token>` as a header value marked sensitive (whatever `token_type` said: RFC 6750
/// names the scheme `Bearer`, and some servers reject `bearer`).
///
/// # Errors
/// [`Error::InvalidInput`] when the token has characters a header cannot carry.
pub fn authorization_header(token: &AccessToken) -> Result<http::HeaderValue, Error> {
    let mut value = http::HeaderValue::try_from(format!("Bearer {}", token.secret()))
        .map_err(|_| Error::invalid("the access token cannot be sent in a header"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// `Bearer <token>` for a token set, refusing a token that is not a bearer token: one whose
/// `token_type` was `DPoP`, `mac`, `N_A`... must never be sent as `Bearer` (RFC 6749 §7.1).
///
/// # Errors
/// [`Error::UnsupportedTokenType`] for a token that is not a bearer token;
/// [`Error::InvalidInput`] when the token has characters a header cannot carry.
pub fn authorization_header_for(tokens: &crate::TokenSet) -> Result<http::HeaderValue, Error> {
    check_bearer(tokens)?;
    authorization_header(tokens.access_token())
}

/// [`Error::UnsupportedTokenType`] unless `tokens` holds a bearer token.
pub(crate) fn check_bearer(tokens: &crate::TokenSet) -> Result<(), Error> {
    if tokens.is_bearer() {
        return Ok(());
    }
    Err(Error::UnsupportedTokenType {
        token_type: crate::text::oauth_text(tokens.token_type(), crate::text::Charset::Uri, 64),
    })
}

/// One challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme, as written (`Bearer`, `Basic`, ...).
    pub scheme: String,
    /// A token68 instead of parameters, when given.
    pub token68: Option<String>,
    /// The auth parameters, names lowercased, quoted strings unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// A parameter's value by (case-insensitive) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a `Bearer` challenge says (RFC 6750 §3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `realm`
    pub realm: Option<String>,
    /// `scope`, split on spaces.
    pub scope: Option<Vec<String>>,
    /// `error`: `invalid_request`, `invalid_token`, `insufficient_scope`, or another code.
    pub error: Option<String>,
    /// `error_description`
    pub error_description: Option<String>,
    /// `error_uri`
    pub error_uri: Option<String>,
}

impl BearerChallenge {
    fn from_challenge(c: &Challenge) -> Self {
        let get = |k: &str| c.param(k).map(str::to_owned);
        BearerChallenge {
            realm: get("realm"),
            scope: c.param("scope").map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            error: get("error"),
            error_description: get("error_description"),
            error_uri: get("error_uri"),
        }
    }
}

/// Parses a `WWW-Authenticate` value into its challenges. Lenient: a challenge it cannot read
/// ends the list instead of failing it.
pub fn parse_www_authenticate(value: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip_separators();
        let Some(scheme) = p.token() else { break };
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        p.skip_ws();
        // token68, or auth-params separated by commas, until the next scheme.
        let save = p.i;
        if let Some(t68) = p.token68() {
            p.skip_ws();
            if p.at_end() || p.peek() == Some(b',') {
                challenge.token68 = Some(t68);
                out.push(challenge);
                continue;
            }
            p.i = save;
        }
        loop {
            p.skip_separators();
            let save = p.i;
            let Some(name) = p.token() else { break };
            p.skip_ws();
            if p.peek() != Some(b'=') {
                // The next challenge's scheme.
                p.i = save;
                break;
            }
            p.i += 1;
            p.skip_ws();
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token()
            };
            match value {
                Some(v) => challenge.params.push((name.to_ascii_lowercase(), v)),
                None => break,
            }
        }
        out.push(challenge);
    }
    out
}

/// The first `Bearer` challenge among every `WWW-Authenticate` header of `headers`.
pub fn bearer_challenge(headers: &http::HeaderMap) -> Option<BearerChallenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_www_authenticate)
        .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        .map(|c| BearerChallenge::from_challenge(&c))
}

/// Whether an API's answer means the access token must be renewed: a 401 whose `Bearer`
/// challenge says `invalid_token`, or a 401 with no error code at all (providers such as Libro
/// only say "401"). A 401 for `invalid_request`, or a 403 `insufficient_scope`, does not: a new
/// token would not help.
pub fn needs_renewal(status: u16, headers: &http::HeaderMap) -> bool {
    if status != 401 {
        return false;
    }
    match bearer_challenge(headers) {
        Some(c) => c.error.as_deref().is_none_or(|e| e == "invalid_token"),
        None => true,
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        let bytes = self.s.get(start..self.i)?;
        (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned())
    }
    /// RFC 9110 tchar.
    fn token(&mut self) -> Option<String> {
        self.take_while(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    }
    fn token68(&mut self) -> Option<String> {
        let start = self.i;
        let body = self.take_while(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))?;
        let pad = self.take_while(|b| b == b'=').unwrap_or_default();
        // `name=value` is a parameter, not a token68 with padding.
        if !(pad.is_empty() || self.at_end() || matches!(self.peek(), Some(b',' | b' ' | b'\t'))) {
            self.i = start;
            return None;
        }
        Some(body + &pad)
    }
    fn quoted(&mut self) -> Option<String> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    out.push(self.peek()?);
                    self.i += 1;
                }
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_experts_challenge() {
        // Exactly as in seeds/booking-experts.txt: no comma between the parameters.
        let v = r#"Bearer error="invalid_token" error_description="The access token expired""#;
        let mut h = http::HeaderMap::new();
        h.insert(WWW_AUTHENTICATE, v.parse().unwrap());
        let c = bearer_challenge(&h).unwrap();
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(
            c.error_description.as_deref(),
            Some("The access token expired")
        );
        assert!(needs_renewal(401, &h));
    }

    #[test]
    fn several_challenges_and_escapes() {
        let cs = parse_www_authenticate(
            r#"Basic realm="a, b", Bearer realm="api", scope="x y", error="insufficient_scope", error_description="say \"hi\"", Negotiate abc123=="#,
        );
        assert_eq!(cs.len(), 3);
        assert_eq!(cs[0].param("realm"), Some("a, b"));
        assert_eq!(cs[1].param("error_description"), Some("say \"hi\""));
        assert_eq!(cs[2].token68.as_deref(), Some("abc123=="));
        let mut h = http::HeaderMap::new();
        h.insert(
            WWW_AUTHENTICATE,
            r#"Bearer error="insufficient_scope""#.parse().unwrap(),
        );
        assert!(!needs_renewal(401, &h));
        assert!(needs_renewal(401, &http::HeaderMap::new()));
        assert!(!needs_renewal(403, &http::HeaderMap::new()));
    }

    #[test]
    fn header_is_sensitive_and_says_bearer() {
        let v = authorization_header(&AccessToken::new("abc")).unwrap();
        assert_eq!(v, "Bearer abc");
        assert!(v.is_sensitive());
        assert!(authorization_header(&AccessToken::new("a\nb")).is_err());
    }
}
