//! The key that encrypts secret inputs in a store: `--secret-key-file PATH`
//! or the `WEFT_SECRET_KEY` environment variable (docs/durability.md).

use std::path::PathBuf;

use weft_runtime::{ExecutorBuilder, SecretKey};

/// The environment variable that holds the key as text.
pub(crate) const ENV: &str = "WEFT_SECRET_KEY";

/// `--secret-key-file`.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct SecretKeyArgs {
    /// The key that encrypts the values of secret inputs in the store: a
    /// file of 32 bytes, or of 64 hex digits or base64 text (make one with
    /// `head -c 32 /dev/urandom | base64 > FILE`). Without it, the
    /// WEFT_SECRET_KEY environment variable, in the same text form. Needed
    /// to run a workflow with secret inputs on a store, and to resume,
    /// re-run or show such a run.
    #[arg(long, value_name = "PATH")]
    pub(crate) secret_key_file: Option<PathBuf>,
}

impl SecretKeyArgs {
    /// The key given, if any; an error names the file or the variable,
    /// and never repeats the key.
    pub(crate) fn key(&self) -> Result<Option<SecretKey>, String> {
        if let Some(path) = &self.secret_key_file {
            let bytes = std::fs::read(path).map_err(|e| {
                format!(
                    "error: --secret-key-file {}: cannot read it: {e}",
                    path.display()
                )
            })?;
            return SecretKey::from_file_bytes(&bytes)
                .map(Some)
                .map_err(|e| format!("error: --secret-key-file {}: {e}", path.display()));
        }
        match std::env::var(ENV) {
            Ok(text) => SecretKey::parse(&text)
                .map(Some)
                .map_err(|e| format!("error: {ENV}: {e}")),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!(
                "error: {ENV}: not text; a secret key is written as 64 hex digits or base64"
            )),
        }
    }

    /// `builder` with the key given, if any.
    pub(crate) fn apply(&self, builder: ExecutorBuilder) -> Result<ExecutorBuilder, String> {
        Ok(match self.key()? {
            Some(key) => builder.secret_key(key),
            None => builder,
        })
    }
}
