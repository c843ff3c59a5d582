//! Groundwork for fleet sharing (one token for many processes over a shared store, issue 12):
//! the language-neutral, versioned **entry** a store keeps, encrypted at rest.
//!
//! An [`Entry`] is a token set with the store's `version` (a compare-and-set counter) and the
//! time it was written. [`Entry::seal`] turns it into one JSON text for the store;
//! [`Entry::open`] reads it back. The renewal-lease protocol over the store comes next and
//! builds on this.
//!
//! # The sealed form (format 1)
//! A JSON object, members in this order:
//!
//! ```text
//! {"format":1,"version":7,"written_at":1700000000,"expires_at":1700003600,
//!  "alg":"A256GCM","kid":"k-2026","nonce":"<12 bytes, base64url>","ciphertext":"<base64url>"}
//! ```
//!
//! - `ciphertext` is AES-256-GCM over the token set's JSON ([`TokenSet::to_json`]), with the
//!   16-byte tag appended, under the key named `kid`, with a fresh 96-bit `nonce`.
//! - The associated data binds the clear members to the ciphertext, so that a writer cannot
//!   move an old ciphertext under a newer version: the ASCII text
//!   `grantline-entry:1:{version}:{written_at}:{expires_at}:{kid}` (`expires_at` empty when
//!   the token set has no expiry).
//! - `version`, `written_at` and `expires_at` stay in clear: a store's compare-and-set script
//!   reads `version` without a key, and a reader decides whether the entry is fresh before it
//!   decrypts.
//!
//! Plaintext entries (`"alg":"none"` with the token set under `"tokens"`) exist only with an
//! explicit opt-in ([`Protection::plaintext`]); a reader that holds keys refuses them, so a
//! store writer cannot downgrade an encrypted fleet to plaintext.
//!
//! # Keys
//! [`EntryKey`]: 32 bytes the user supplies, with a `kid`. [`Protection::encrypted`] seals with
//! its current key and opens with the current one or any previous one
//! ([`Protection::with_previous`]), so keys rotate without a flag day, in two deployments so
//! that no process ever meets an entry it cannot open: first add the new key as a previous key
//! everywhere, then make it the current one (the old one previous); drop the old key once every
//! process seals with the new one.
//! Keys are secrets: `Debug` shows the `kid` only, and they are zeroized on drop.
//!
//! ```
//! use grantline::store::{Entry, EntryKey, Protection};
//! use grantline::{AccessToken, RefreshToken, TokenSet};
//!
//! let key = EntryKey::new("k-2026", &[7u8; 32])?;
//! let protection = Protection::encrypted(key);
//! let tokens = TokenSet::new(
//!     AccessToken::new("at-1"),
//!     Some(RefreshToken::new("rt-1")),
//!     Some(1_700_003_600),
//!     1_700_000_000,
//! );
//! let sealed = Entry::new(7, tokens, 1_700_000_000).seal(&protection)?;
//! assert!(!sealed.contains("rt-1"));
//! let entry = Entry::open(&sealed, &protection)?;
//! assert_eq!(entry.version(), 7);
//! assert_eq!(entry.tokens().refresh_token().unwrap().secret(), "rt-1");
//! # Ok::<(), grantline::Error>(())
//! ```

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::token::TokenSet;

/// The entry format this version reads and writes.
pub const ENTRY_FORMAT: u64 = 1;

/// The longest `kid` accepted, in bytes.
const MAX_KID: usize = 64;

/// A key that encrypts entries at rest: 32 bytes (AES-256) and the id it is known by.
///
/// A secret: `Debug` shows the `kid` only; the key bytes are zeroized when it is dropped.
#[derive(Clone)]
pub struct EntryKey {
    kid: String,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryKey")
            .field("kid", &self.kid)
            .field("key", &format_args!("{}", crate::secret::REDACTED))
            .finish()
    }
}

impl EntryKey {
    /// A key from its 32 bytes and its id (1 to 64 visible ASCII characters, no `:`).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a key that is not 32 bytes or a bad `kid` (the message names
    /// the rule, never the key).
    pub fn new(kid: impl Into<String>, key: &[u8]) -> Result<Self, Error> {
        let kid = kid.into();
        if kid.is_empty()
            || kid.len() > MAX_KID
            || !kid.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        {
            return Err(Error::InvalidKey {
                reason: "an entry key id is 1 to 64 visible ASCII characters, without ':'".into(),
            });
        }
        let bytes: [u8; 32] = key.try_into().map_err(|_| Error::InvalidKey {
            reason: "an entry key is 32 bytes (AES-256)".into(),
        })?;
        Ok(EntryKey {
            kid,
            key: Zeroizing::new(bytes),
        })
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// How entries are protected at rest.
#[derive(Debug, Clone)]
pub enum Protection {
    /// AES-256-GCM: sealed with `current`, opened with `current` or any of `previous`.
    Encrypted {
        /// The key new entries are sealed with.
        current: EntryKey,
        /// Keys still accepted when opening (a rotation in progress).
        previous: Vec<EntryKey>,
    },
    /// No encryption: the refresh token lies in the store in clear. Only by explicit choice
    /// ([`Protection::plaintext`]).
    Plaintext,
}

impl Protection {
    /// Encryption with `current`.
    pub fn encrypted(current: EntryKey) -> Self {
        Protection::Encrypted {
            current,
            previous: Vec::new(),
        }
    }

    /// The same, also opening entries sealed with `key` (an earlier key being rotated out).
    #[must_use]
    pub fn with_previous(self, key: EntryKey) -> Self {
        match self {
            Protection::Encrypted {
                current,
                mut previous,
            } => {
                previous.push(key);
                Protection::Encrypted { current, previous }
            }
            Protection::Plaintext => Protection::Plaintext,
        }
    }

    /// No encryption at rest: the explicit opt-in, for a store only trusted processes can
    /// read. Entries then hold refresh tokens in clear.
    pub fn plaintext() -> Self {
        Protection::Plaintext
    }

    fn key(&self, kid: &str) -> Option<&EntryKey> {
        match self {
            Protection::Encrypted { current, previous } => std::iter::once(current)
                .chain(previous)
                .find(|k| k.kid == kid),
            Protection::Plaintext => None,
        }
    }
}

/// A token set as the shared store keeps it: the tokens, the store's `version` and when it was
/// written. See the [module documentation](self) for the sealed form.
///
/// `Debug` shows the version, times and the token set's own redacted `Debug`.
#[derive(Debug, Clone)]
pub struct Entry {
    version: u64,
    written_at: u64,
    tokens: TokenSet,
}

impl Entry {
    /// An entry of `version` holding `tokens`, written at `written_at` (Unix seconds).
    pub fn new(version: u64, tokens: TokenSet, written_at: u64) -> Self {
        Entry {
            version,
            written_at,
            tokens,
        }
    }

    /// The store's version of this entry (the compare-and-set counter).
    pub fn version(&self) -> u64 {
        self.version
    }
    /// When the entry was written (Unix seconds).
    pub fn written_at(&self) -> u64 {
        self.written_at
    }
    /// The token set.
    pub fn tokens(&self) -> &TokenSet {
        &self.tokens
    }
    /// The token set, taken out.
    pub fn into_tokens(self) -> TokenSet {
        self.tokens
    }

    /// The entry in its sealed form, encrypted with a fresh random nonce (or in clear with
    /// [`Protection::Plaintext`]).
    ///
    /// # Errors
    /// [`Error::Random`] when the operating system's RNG fails.
    pub fn seal(&self, protection: &Protection) -> Result<String, Error> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| Error::Random)?;
        self.seal_with_nonce(protection, nonce)
    }

    /// [`Entry::seal`] with the nonce given: for tests and known-answer vectors only. A nonce
    /// must never repeat under one key.
    ///
    /// # Errors
    /// None in practice (AES-GCM encryption of a short text cannot fail); an
    /// [`Error::InvalidInput`] if it ever did.
    #[doc(hidden)]
    pub fn seal_with_nonce(
        &self,
        protection: &Protection,
        nonce: [u8; 12],
    ) -> Result<String, Error> {
        let expires_at = self.tokens.expires_at();
        let mut out = Map::new();
        out.insert("format".into(), ENTRY_FORMAT.into());
        out.insert("version".into(), self.version.into());
        out.insert("written_at".into(), self.written_at.into());
        out.insert("expires_at".into(), expires_at.into());
        match protection {
            Protection::Plaintext => {
                out.insert("alg".into(), "none".into());
                let tokens: Value = serde_json::from_str(&self.tokens.to_json())
                    .map_err(|_| Error::invalid("the token set cannot be serialized"))?;
                out.insert("tokens".into(), tokens);
            }
            Protection::Encrypted { current, .. } => {
                let plaintext = Zeroizing::new(self.tokens.to_json());
                let aad = associated_data(self.version, self.written_at, expires_at, &current.kid);
                let cipher = Aes256Gcm::new_from_slice(current.key.as_slice())
                    .map_err(|_| Error::invalid("the entry key is not 32 bytes"))?;
                let ciphertext = cipher
                    .encrypt(
                        &Nonce::from(nonce),
                        Payload {
                            msg: plaintext.as_bytes(),
                            aad: aad.as_bytes(),
                        },
                    )
                    .map_err(|_| Error::invalid("the entry could not be encrypted"))?;
                out.insert("alg".into(), "A256GCM".into());
                out.insert("kid".into(), current.kid.clone().into());
                out.insert("nonce".into(), URL_SAFE_NO_PAD.encode(nonce).into());
                out.insert(
                    "ciphertext".into(),
                    URL_SAFE_NO_PAD.encode(ciphertext).into(),
                );
            }
        }
        Ok(ordered(&out))
    }

    /// Reads a sealed entry back.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming what is wrong (never a value of the entry): not a format-1
    /// entry, a member missing or of the wrong type, a text over 1 MiB, a plaintext entry
    /// while `protection` holds keys (a downgrade), an encrypted one under
    /// [`Protection::Plaintext`], a `kid` no key has, or a ciphertext that does not
    /// authenticate (tampered, or another key with the same `kid`).
    pub fn open(text: &str, protection: &Protection) -> Result<Entry, Error> {
        if text.len() > crate::MAX_BODY {
            return Err(refused("it is longer than 1 MiB"));
        }
        let value: Value = serde_json::from_str(text).map_err(|_| refused("it is not JSON"))?;
        let Value::Object(members) = value else {
            return Err(refused("it is not a JSON object"));
        };
        let number = |name: &str| -> Result<u64, Error> {
            members.get(name).and_then(Value::as_u64).ok_or_else(|| {
                refused(&format!(
                    "`{name}` is missing or not a non-negative integer"
                ))
            })
        };
        if number("format")? != ENTRY_FORMAT {
            return Err(refused("its format is not 1"));
        }
        let version = number("version")?;
        let written_at = number("written_at")?;
        let expires_at = match members.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| refused("`expires_at` is not a non-negative integer"))?,
            ),
        };
        let text_member = |name: &str| -> Result<&str, Error> {
            members
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| refused(&format!("`{name}` is missing or not a string")))
        };
        let tokens_json: Zeroizing<String> = match (text_member("alg")?, protection) {
            ("none", Protection::Plaintext) => {
                let tokens = members
                    .get("tokens")
                    .filter(|t| t.is_object())
                    .ok_or_else(|| refused("`tokens` is missing or not an object"))?;
                Zeroizing::new(tokens.to_string())
            }
            ("none", Protection::Encrypted { .. }) => {
                return Err(refused(
                    "it is in plaintext, and this reader requires encrypted entries",
                ))
            }
            ("A256GCM", Protection::Plaintext) => {
                return Err(refused(
                    "it is encrypted, and this reader holds no key (plaintext mode)",
                ))
            }
            ("A256GCM", Protection::Encrypted { .. }) => {
                let kid = text_member("kid")?;
                let key = protection
                    .key(kid)
                    .ok_or_else(|| refused("no key has its `kid`"))?;
                let nonce = URL_SAFE_NO_PAD
                    .decode(text_member("nonce")?)
                    .ok()
                    .and_then(|n| Nonce::try_from(n.as_slice()).ok())
                    .ok_or_else(|| refused("`nonce` is not 12 bytes of base64url"))?;
                let ciphertext = URL_SAFE_NO_PAD
                    .decode(text_member("ciphertext")?)
                    .map_err(|_| refused("`ciphertext` is not base64url"))?;
                let aad = associated_data(version, written_at, expires_at, kid);
                let cipher = Aes256Gcm::new_from_slice(key.key.as_slice())
                    .map_err(|_| refused("the key is not 32 bytes"))?;
                let plaintext = Zeroizing::new(
                    cipher
                        .decrypt(
                            &nonce,
                            Payload {
                                msg: &ciphertext,
                                aad: aad.as_bytes(),
                            },
                        )
                        .map_err(|_| {
                            refused(
                                "it does not authenticate (tampered, or sealed with another key)",
                            )
                        })?,
                );
                Zeroizing::new(
                    String::from_utf8(plaintext.to_vec())
                        .map_err(|_| refused("its token set is not UTF-8"))?,
                )
            }
            _ => return Err(refused("its `alg` is neither A256GCM nor none")),
        };
        let tokens = TokenSet::from_json(&tokens_json)
            .map_err(|_| refused("its token set does not restore"))?;
        if tokens.expires_at() != expires_at {
            return Err(refused("`expires_at` is not the token set's expiry"));
        }
        Ok(Entry {
            version,
            written_at,
            tokens,
        })
    }
}

fn refused(why: &str) -> Error {
    Error::invalid(format!("the stored entry is refused: {why}"))
}

/// The associated data of format 1 (see the module documentation).
fn associated_data(version: u64, written_at: u64, expires_at: Option<u64>, kid: &str) -> String {
    let expires = expires_at.map(|e| e.to_string()).unwrap_or_default();
    format!("grantline-entry:1:{version}:{written_at}:{expires}:{kid}")
}

/// The members in the documented order (serde_json's map sorts them otherwise).
fn ordered(members: &Map<String, Value>) -> String {
    const ORDER: [&str; 9] = [
        "format",
        "version",
        "written_at",
        "expires_at",
        "alg",
        "kid",
        "nonce",
        "ciphertext",
        "tokens",
    ];
    let mut out = String::from("{");
    for name in ORDER {
        if let Some(v) = members.get(name) {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&Value::from(name).to_string());
            out.push(':');
            out.push_str(&v.to_string());
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::{AccessToken, RefreshToken};

    fn tokens() -> TokenSet {
        TokenSet::new(
            AccessToken::new("ACCESS-secret-1"),
            Some(RefreshToken::new("REFRESH-secret-1")),
            Some(1_700_003_600),
            1_700_000_000,
        )
    }

    fn key(kid: &str, byte: u8) -> EntryKey {
        EntryKey::new(kid, &[byte; 32]).unwrap()
    }

    /// Known answer, computed independently with Python's `cryptography` (AESGCM) over the
    /// same plaintext, associated data, key and nonce.
    #[test]
    fn sealing_matches_an_independent_aes_gcm() {
        let entry = Entry::new(7, tokens(), 1_700_000_000);
        let sealed = entry
            .seal_with_nonce(&Protection::encrypted(key("k1", 7)), [1u8; 12])
            .unwrap();
        let v: Value = serde_json::from_str(&sealed).unwrap();
        assert_eq!(v["nonce"], "AQEBAQEBAQEBAQEB");
        assert_eq!(
            v["ciphertext"],
            KNOWN_CIPHERTEXT,
            "plaintext: {}",
            tokens().to_json()
        );
        assert!(sealed.starts_with(
            r#"{"format":1,"version":7,"written_at":1700000000,"expires_at":1700003600,"alg":"A256GCM","kid":"k1","nonce":"#
        ));
    }

    const KNOWN_CIPHERTEXT: &str = "DcPo1PPan32OoLNKFVlSC4q6V7ddxGg-K1QgEAPAG4rgnirE83jg7gEGMXukXNS7zH6IcDjM3XOAMMJupEf2_faTMVtrohQXQQpcJvlhUtB-_AZUca9vAB0TNdPd4K9nf7lsyMyzPvcFOEKZUIpw2CpF7xG6GX7mxcfcRe1Lo6lrPJ1-5yS39VLlozcUMGqAd9ofPjzkPcMH7gND2Vh9Pb05aVHUDGw1pEV7ctaqfdaDog5H1rma";

    #[test]
    fn round_trips_and_key_rotation() {
        let old = Protection::encrypted(key("k1", 1));
        let sealed = Entry::new(3, tokens(), 1_700_000_000).seal(&old).unwrap();
        assert!(!sealed.contains("REFRESH-secret-1") && !sealed.contains("ACCESS-secret-1"));
        let back = Entry::open(&sealed, &old).unwrap();
        assert_eq!((back.version(), back.written_at()), (3, 1_700_000_000));
        assert_eq!(
            back.tokens().refresh_token().unwrap().secret(),
            "REFRESH-secret-1"
        );
        // Rotation: the new current key opens nothing old by itself; with the old as previous it
        // does, and new entries use the new key.
        let new_only = Protection::encrypted(key("k2", 2));
        assert!(Entry::open(&sealed, &new_only).is_err());
        let rotating = Protection::encrypted(key("k2", 2)).with_previous(key("k1", 1));
        assert_eq!(Entry::open(&sealed, &rotating).unwrap().version(), 3);
        let resealed = back.seal(&rotating).unwrap();
        assert!(resealed.contains(r#""kid":"k2""#));
        // Two seals of one entry differ (fresh nonces).
        assert_ne!(back.seal(&old).unwrap(), back.seal(&old).unwrap());
        // Plaintext, by explicit choice only.
        let clear = back.seal(&Protection::plaintext()).unwrap();
        assert!(clear.contains(r#""alg":"none""#) && clear.contains("REFRESH-secret-1"));
        assert_eq!(
            Entry::open(&clear, &Protection::plaintext())
                .unwrap()
                .version(),
            3
        );
    }

    #[test]
    fn hostile_entries_are_refused_without_echo() {
        let p = Protection::encrypted(key("k1", 1));
        let sealed = Entry::new(3, tokens(), 1_700_000_000).seal(&p).unwrap();
        let clear = Entry::new(3, tokens(), 1_700_000_000)
            .seal(&Protection::plaintext())
            .unwrap();
        let mut v: Value = serde_json::from_str(&sealed).unwrap();
        let tamper = |f: &dyn Fn(&mut Value)| {
            let mut t = v.clone();
            f(&mut t);
            t.to_string()
        };
        let cases = [
            (
                "a newer version over an old ciphertext",
                tamper(&|t| t["version"] = 4.into()),
            ),
            (
                "another expiry",
                tamper(&|t| t["expires_at"] = 1_800_000_000u64.into()),
            ),
            (
                "another writer time",
                tamper(&|t| t["written_at"] = 1.into()),
            ),
            ("an unknown kid", tamper(&|t| t["kid"] = "k9".into())),
            ("a short nonce", tamper(&|t| t["nonce"] = "AQID".into())),
            ("format 2", tamper(&|t| t["format"] = 2.into())),
            ("alg dir", tamper(&|t| t["alg"] = "dir".into())),
            (
                "version as a string",
                tamper(&|t| t["version"] = "3".into()),
            ),
            (
                "a negative version",
                tamper(&|t| t["version"] = (-1).into()),
            ),
            ("plaintext downgrade", clear.clone()),
            ("not JSON REFRESH-secret-1", "REFRESH-secret-1 {".to_owned()),
            ("an array", "[1]".to_owned()),
            (
                "huge",
                format!("{{\"x\":\"{}\"}}", "a".repeat(crate::MAX_BODY)),
            ),
        ];
        for (what, text) in cases {
            let e = Entry::open(&text, &p).expect_err(what);
            assert_eq!(e.kind(), "invalid_input", "{what}");
            assert!(!e.to_string().contains("REFRESH-secret-1"), "{what}: {e}");
        }
        // A flipped ciphertext bit.
        let ct = v["ciphertext"].as_str().unwrap().to_owned();
        let mut bytes = URL_SAFE_NO_PAD.decode(&ct).unwrap();
        bytes[0] ^= 1;
        v["ciphertext"] = URL_SAFE_NO_PAD.encode(bytes).into();
        assert!(Entry::open(&v.to_string(), &p).is_err());
        // Encrypted entries need keys; the same kid with another key does not authenticate.
        assert!(Entry::open(&sealed, &Protection::plaintext()).is_err());
        assert!(Entry::open(&sealed, &Protection::encrypted(key("k1", 9))).is_err());
        // A plaintext entry whose clear expiry disagrees with its tokens.
        let mut c: Value = serde_json::from_str(&clear).unwrap();
        c["expires_at"] = 1.into();
        assert!(Entry::open(&c.to_string(), &Protection::plaintext()).is_err());
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        assert_eq!(
            EntryKey::new("k", &[0u8; 31]).unwrap_err().kind(),
            "invalid_key"
        );
        for bad in ["", "a:b", "a b", &"k".repeat(65)] {
            assert_eq!(
                EntryKey::new(bad, &[0u8; 32]).unwrap_err().kind(),
                "invalid_key"
            );
        }
        let k = EntryKey::new("k1", &[0xAB; 32]).unwrap();
        let shown = format!("{:?} {:?}", k, Protection::encrypted(k.clone()));
        assert!(
            !shown.contains("171") && !shown.to_lowercase().contains("abab"),
            "{shown}"
        );
        assert!(shown.contains("k1"));
        let entry = Entry::new(1, tokens(), 0);
        assert!(!format!("{entry:?}").contains("REFRESH-secret-1"));
    }
}
