//! Secrets at rest: a durable run's secret values are encrypted in its
//! journal with a key the embedder gives ([`SecretKey`]).
//!
//! What is sealed, record by record (the rest stays as it was):
//!
//! * `Started`: the value of each input the workflow declares
//!   `secret: true`, whole;
//! * `Attempt`: a result, an error message or a panic message in which a
//!   secret appears (the texts the run masks: see `secrets.rs`), whole;
//! * `Ended`: nothing — its output and errors are already masked.
//!
//! A sealed value is the JSON string `weft-sealed:v1:` followed by the
//! base64 of a random 24-byte nonce and the XChaCha20-Poly1305 ciphertext
//! of the value's JSON text, with the run's id as associated data (a value
//! copied into another run's journal does not open). Loading a journal
//! opens them again; without the key, or with another key, loading fails
//! with an error that says so, never with garbage.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::Value;
use weft_core::Plan;

use crate::id::RunId;
use crate::secrets::Secrets;
use crate::store::{AttemptOutcome, Entry, Record};

/// How a sealed value begins.
const PREFIX: &str = "weft-sealed:v1:";
const NONCE: usize = 24;

/// The key that encrypts a durable run's secret values in its journal: 32
/// bytes, given by the embedder (the CLI reads it from `WEFT_SECRET_KEY` or
/// `--secret-key-file`). Keep it apart from the store: whoever has both can
/// read the secrets. Runs started with one key are resumed, re-run and shown
/// with the same key.
///
/// # Examples
///
/// ```
/// use weft_runtime::SecretKey;
///
/// let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// let key = SecretKey::parse(hex).unwrap();
/// assert_eq!(SecretKey::parse(&key.to_base64()).unwrap(), key);
/// assert!(SecretKey::parse("too short").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// The key made of these 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey(bytes)
    }

    /// A new random key (from the operating system's generator).
    pub fn generate() -> SecretKey {
        SecretKey(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// Reads a key written as text: 64 hexadecimal digits, or the standard
    /// base64 of 32 bytes (44 characters with its `=`). Whitespace around
    /// it is ignored.
    ///
    /// # Errors
    ///
    /// The text is neither, with a message that says what a key looks like
    /// (and never repeats the text).
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim();
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut out = [0u8; 32];
            for (i, pair) in text.as_bytes().chunks(2).enumerate() {
                let digits = std::str::from_utf8(pair).map_err(|_| KeyError::Format)?;
                out[i] = u8::from_str_radix(digits, 16).map_err(|_| KeyError::Format)?;
            }
            return Ok(SecretKey(out));
        }
        match STANDARD.decode(text) {
            Ok(bytes) => <[u8; 32]>::try_from(bytes.as_slice())
                .map(SecretKey)
                .map_err(|_| KeyError::Length(bytes.len())),
            Err(_) => Err(KeyError::Format),
        }
    }

    /// Reads a key from a file's bytes: exactly 32 bytes are the key itself;
    /// anything else is read as text ([`SecretKey::parse`]).
    ///
    /// # Errors
    ///
    /// As [`SecretKey::parse`].
    pub fn from_file_bytes(bytes: &[u8]) -> Result<SecretKey, KeyError> {
        if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
            return Ok(SecretKey(raw));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| KeyError::Format)?;
        SecretKey::parse(text)
    }

    /// The key as standard base64 (44 characters), as
    /// [`SecretKey::parse`] reads it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Why text is not a [`SecretKey`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Neither 64 hexadecimal digits nor base64.
    #[error(
        "a secret key is 32 bytes, written as 64 hexadecimal digits or in base64 \
         (make one with `head -c 32 /dev/urandom | base64`)"
    )]
    Format,
    /// Base64 of the wrong number of bytes.
    #[error(
        "a secret key is 32 bytes, and this base64 gives {0} (make one with \
         `head -c 32 /dev/urandom | base64`)"
    )]
    Length(usize),
}

/// `value` sealed for the journal of `run`.
pub(crate) fn seal(key: &SecretKey, run: RunId, value: &Value) -> Value {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let text = value.to_string();
    let aad = run.to_string();
    // Encryption with a valid key and nonce cannot fail (the message is far
    // below the cipher's limit).
    let sealed = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: text.as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        .unwrap_or_default();
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    Value::String(format!("{PREFIX}{}", STANDARD.encode(bytes)))
}

/// Whether `v` is a sealed value.
fn is_sealed(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.starts_with(PREFIX))
}

/// Why a journal's secret values could not be opened.
#[derive(Debug)]
pub(crate) enum Unseal {
    /// The executor has no key.
    NoKey,
    /// The key is not the one they were sealed with (or they were damaged).
    WrongKey,
}

impl fmt::Display for Unseal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unseal::NoKey => f.write_str(
                "its secret values are encrypted, and no secret key was given: give the key \
                 the run was started with (ExecutorBuilder::secret_key; in the CLI, \
                 WEFT_SECRET_KEY or --secret-key-file)",
            ),
            Unseal::WrongKey => f.write_str(
                "its secret values do not decrypt with the secret key given: it is not the \
                 key the run was started with (or the journal was damaged); give that key",
            ),
        }
    }
}

fn open(key: Option<&SecretKey>, run: RunId, v: &mut Value) -> Result<(), Unseal> {
    let Value::String(s) = v else { return Ok(()) };
    let Some(body) = s.strip_prefix(PREFIX) else {
        return Ok(());
    };
    let key = key.ok_or(Unseal::NoKey)?;
    let bytes = STANDARD.decode(body).map_err(|_| Unseal::WrongKey)?;
    if bytes.len() < NONCE {
        return Err(Unseal::WrongKey);
    }
    let (nonce, sealed) = bytes.split_at(NONCE);
    let aad = run.to_string();
    let text = key
        .cipher()
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| Unseal::WrongKey)?;
    *v = serde_json::from_slice(&text).map_err(|_| Unseal::WrongKey)?;
    Ok(())
}

fn open_text(key: Option<&SecretKey>, run: RunId, s: &mut String) -> Result<(), Unseal> {
    if !s.starts_with(PREFIX) {
        return Ok(());
    }
    let mut v = Value::String(std::mem::take(s));
    open(key, run, &mut v)?;
    *s = match v {
        Value::String(t) => t,
        other => other.to_string(),
    };
    Ok(())
}

/// Seals the secret inputs of a `Started` record of a run of `plan`.
pub(crate) fn seal_inputs(key: &SecretKey, run: RunId, plan: &Plan, inputs: &mut Value) {
    let Value::Object(map) = inputs else { return };
    for spec in plan.inputs().iter().filter(|s| s.secret) {
        if let Some(v) = map.get_mut(&spec.name) {
            if !v.is_null() {
                *v = seal(key, run, v);
            }
        }
    }
}

/// The names of the inputs of `plan` declared secret that `inputs` gives
/// (not null).
pub(crate) fn secret_inputs(plan: &Plan, inputs: &Value) -> Vec<String> {
    plan.inputs()
        .iter()
        .filter(|s| s.secret && inputs.get(&s.name).is_some_and(|v| !v.is_null()))
        .map(|s| s.name.clone())
        .collect()
}

/// Seals what in an `Attempt` record holds one of `secrets`.
pub(crate) fn seal_attempt(
    key: &SecretKey,
    run: RunId,
    secrets: &Secrets,
    outcome: &mut AttemptOutcome,
) {
    let seal_text = |s: &mut String| {
        if secrets.text(s) != s.as_str() {
            if let Value::String(t) = seal(key, run, &Value::String(std::mem::take(s))) {
                *s = t;
            }
        }
    };
    match outcome {
        AttemptOutcome::Ok { result } if secrets.value(result).is_some() => {
            *result = std::sync::Arc::new(seal(key, run, result));
        }
        AttemptOutcome::Err {
            message, result, ..
        } => {
            seal_text(message);
            if let Some(r) = result {
                if secrets.value(r).is_some() {
                    **r = seal(key, run, r);
                }
            }
        }
        AttemptOutcome::Panicked { message } => seal_text(message),
        _ => {}
    }
}

/// Opens the sealed values of a journal loaded from the store; an error
/// names the run of the entry that would not open.
pub(crate) fn open_entries(
    key: Option<&SecretKey>,
    entries: &mut [Entry],
) -> Result<(), (RunId, Unseal)> {
    for e in entries {
        let run = e.run;
        open_entry(key, run, &mut e.record).map_err(|u| (run, u))?;
    }
    Ok(())
}

fn open_entry(key: Option<&SecretKey>, run: RunId, record: &mut Record) -> Result<(), Unseal> {
    match record {
        Record::Started(start) => {
            if let Value::Object(map) = &mut start.inputs {
                for v in map.values_mut() {
                    open(key, run, v)?;
                }
            }
        }
        Record::Attempt(a) => match &mut a.outcome {
            AttemptOutcome::Ok { result } if is_sealed(result) => {
                let mut v = (**result).clone();
                open(key, run, &mut v)?;
                *result = std::sync::Arc::new(v);
            }
            AttemptOutcome::Err {
                message, result, ..
            } => {
                open_text(key, run, message)?;
                if let Some(r) = result {
                    open(key, run, r)?;
                }
            }
            AttemptOutcome::Panicked { message } => open_text(key, run, message)?,
            _ => {}
        },
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_opens_with_its_key_and_run_only() {
        let key = SecretKey::generate();
        let run = RunId::new();
        let v = json!({"token": "hunter22", "n": [1, 2]});
        let mut sealed = seal(&key, run, &v);
        let text = sealed.as_str().unwrap().to_owned();
        assert!(text.starts_with(PREFIX) && !text.contains("hunter22"));
        // A random nonce: the same value seals differently each time.
        assert_ne!(seal(&key, run, &v), sealed);
        let mut other_run = sealed.clone();
        assert!(matches!(
            open(Some(&key), RunId::new(), &mut other_run),
            Err(Unseal::WrongKey)
        ));
        let mut other_key = sealed.clone();
        assert!(matches!(
            open(Some(&SecretKey::generate()), run, &mut other_key),
            Err(Unseal::WrongKey)
        ));
        assert!(matches!(
            open(None, run, &mut sealed.clone()),
            Err(Unseal::NoKey)
        ));
        open(Some(&key), run, &mut sealed).unwrap();
        assert_eq!(sealed, v);
    }

    #[test]
    fn keys_are_read_from_hex_base64_and_raw_files() {
        let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        let key = SecretKey::parse(hex).unwrap();
        let raw: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(key, SecretKey::from_bytes(raw));
        assert_eq!(
            SecretKey::parse(&format!(" {}\n", key.to_base64())),
            Ok(key.clone())
        );
        assert_eq!(SecretKey::from_file_bytes(&raw), Ok(key.clone()));
        assert_eq!(
            SecretKey::from_file_bytes(format!("{hex}\n").as_bytes()),
            Ok(key)
        );
        assert_eq!(SecretKey::parse("AAAA"), Err(KeyError::Length(3)));
        assert_eq!(SecretKey::parse(&hex[..63]), Err(KeyError::Format));
        assert_eq!(format!("{:?}", SecretKey::generate()), "SecretKey(..)");
    }
}
