//! Who can read a backup: age X25519 recipients or a passphrase to encrypt; identities from
//! an `age-keygen` file or a string (an environment variable), or the passphrase, to decrypt.
//! Secret material stays in `SecretString` / age's own zeroizing types and never reaches
//! `Debug`, `Display` or an error.

use std::fmt;
use std::io::{self, BufRead};
use std::path::Path;
use std::str::FromStr;

use secrecy::ExposeSecret;
use secrecy::SecretString;

use crate::error::{Error, Result};

/// How a new archive is encrypted.
#[derive(Clone)]
pub struct Encryption(EncKind);

#[derive(Clone)]
enum EncKind {
    Recipients(Vec<age::x25519::Recipient>),
    Passphrase(SecretString),
}

impl Encryption {
    /// One or more `age1…` recipients (what `age-keygen -y` prints).
    pub fn recipients<I, S>(recipients: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for (i, text) in recipients.into_iter().enumerate() {
            parsed.push(parse_recipient(text.as_ref(), || {
                format!("recipient {}", i + 1)
            })?);
        }
        Self::from_parsed(parsed)
    }

    /// A recipients file as `age -R` reads it: one `age1…` per line, `#` comments and
    /// blank lines ignored.
    pub fn recipients_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io("read recipients file", path, e))?;
        Self::recipients_text(&text, &path.display().to_string())
    }

    /// Recipients-file text from elsewhere (an environment variable); `origin` names it in
    /// errors.
    pub fn recipients_text(text: &str, origin: &str) -> Result<Self> {
        let mut parsed = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            parsed.push(parse_recipient(line, || format!("{origin}:{}", i + 1))?);
        }
        Self::from_parsed(parsed)
    }

    /// scrypt passphrase encryption (age calibrates the work factor to ~1 s).
    pub fn passphrase(passphrase: SecretString) -> Self {
        Self(EncKind::Passphrase(passphrase))
    }

    fn from_parsed(parsed: Vec<age::x25519::Recipient>) -> Result<Self> {
        if parsed.is_empty() {
            return Err(Error::NoRecipients);
        }
        Ok(Self(EncKind::Recipients(parsed)))
    }

    pub(crate) fn encryptor(&self) -> Result<age::Encryptor> {
        match &self.0 {
            EncKind::Recipients(list) => {
                age::Encryptor::with_recipients(list.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(Error::Encrypt)
            }
            EncKind::Passphrase(p) => Ok(age::Encryptor::with_user_passphrase(p.clone())),
        }
    }
}

impl fmt::Debug for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            // Recipients are public keys.
            EncKind::Recipients(list) => f
                .debug_tuple("Encryption::Recipients")
                .field(&list.iter().map(ToString::to_string).collect::<Vec<_>>())
                .finish(),
            EncKind::Passphrase(_) => f.write_str("Encryption::Passphrase([redacted])"),
        }
    }
}

fn parse_recipient(text: &str, origin: impl FnOnce() -> String) -> Result<age::x25519::Recipient> {
    let text = text.trim();
    age::x25519::Recipient::from_str(text).map_err(|e| {
        let reason = if text.starts_with("AGE-SECRET-KEY-") {
            "this is a secret key (an identity); give its public recipient (`age-keygen -y`)"
                .to_owned()
        } else if text.starts_with("ssh-") {
            "SSH recipients are not supported".to_owned()
        } else if text.starts_with("age1") && !text.starts_with("age1q") {
            // age1yubikey1…, age1tag1… and other plugin recipients.
            "plugin recipients are not supported".to_owned()
        } else {
            e.to_string()
        };
        Error::InvalidRecipient {
            origin: origin(),
            reason,
        }
    })
}

/// How an archive is decrypted.
pub struct Decryption(DecKind);

enum DecKind {
    Identities {
        list: Vec<Box<dyn age::Identity + Send + Sync>>,
        origin: String,
    },
    Passphrase(SecretString),
}

impl Decryption {
    /// An `age-keygen` key file (comment lines allowed), as `age -d -i FILE` reads it.
    pub fn identity_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let file = age::IdentityFile::from_file(origin.clone()).map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                // age's message names the file and line, never the content.
                Error::InvalidIdentity {
                    origin: origin.clone(),
                    reason: e.to_string(),
                }
            } else {
                Error::io("read identity file", path, e)
            }
        })?;
        Self::from_identity_file(file, origin)
    }

    /// Key-file text held elsewhere (an environment variable such as
    /// `SV_BACKUP_IDENTITY`); `origin` names it in errors.
    pub fn identities_text(text: &SecretString, origin: &str) -> Result<Self> {
        let reader: &mut dyn BufRead = &mut text.expose_secret().as_bytes();
        let file = age::IdentityFile::from_buffer(reader).map_err(|e| Error::InvalidIdentity {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_identity_file(file, origin.to_owned())
    }

    pub fn passphrase(passphrase: SecretString) -> Self {
        Self(DecKind::Passphrase(passphrase))
    }

    fn from_identity_file(
        file: age::IdentityFile<age::NoCallbacks>,
        origin: String,
    ) -> Result<Self> {
        let list = file.into_identities().map_err(|e| Error::InvalidIdentity {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        if list.is_empty() {
            return Err(Error::InvalidIdentity {
                origin,
                reason: "no AGE-SECRET-KEY-1… identity in it".to_owned(),
            });
        }
        Ok(Self(DecKind::Identities { list, origin }))
    }

    /// Unlocks the payload, turning age's errors into ours with the archive named.
    pub(crate) fn decrypt<R: io::Read>(
        &self,
        decryptor: age::Decryptor<R>,
        archive: &Path,
    ) -> Result<age::stream::StreamReader<R>> {
        let archive_buf = archive.to_owned();
        let is_scrypt = decryptor.is_scrypt();
        let result = match (&self.0, is_scrypt) {
            (DecKind::Identities { .. }, true) => {
                return Err(Error::KeyTypeMismatch {
                    archive: archive_buf,
                    actual: "a passphrase",
                    given: "an identity",
                });
            }
            (DecKind::Passphrase(_), false) => {
                return Err(Error::KeyTypeMismatch {
                    archive: archive_buf,
                    actual: "age recipients",
                    given: "a passphrase",
                });
            }
            (DecKind::Identities { list, .. }, false) => {
                decryptor.decrypt(list.iter().map(|i| i.as_ref() as &dyn age::Identity))
            }
            (DecKind::Passphrase(p), true) => {
                let identity = age::scrypt::Identity::new(p.clone());
                decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
            }
        };
        result.map_err(|e| map_decrypt_error(e, archive))
    }
}

impl fmt::Debug for Decryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            DecKind::Identities { list, origin } => {
                write!(f, "Decryption::Identities({} from {origin})", list.len())
            }
            DecKind::Passphrase(_) => f.write_str("Decryption::Passphrase([redacted])"),
        }
    }
}

pub(crate) fn map_decrypt_error(e: age::DecryptError, archive: &Path) -> Error {
    let archive = archive.to_owned();
    match e {
        age::DecryptError::NoMatchingKeys | age::DecryptError::KeyDecryptionFailed => {
            Error::WrongIdentity { archive }
        }
        // The only AEAD failure while unwrapping is the scrypt stanza's.
        age::DecryptError::DecryptionFailed => Error::WrongPassphrase { archive },
        age::DecryptError::InvalidMac => Error::Corrupt {
            archive,
            layer: "age header",
            source: None,
        },
        age::DecryptError::ExcessiveWork { required, target } => Error::ExcessiveWork {
            archive,
            required,
            target,
        },
        age::DecryptError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            Error::Truncated {
                archive,
                detail: "the file ends inside the age header",
            }
        }
        age::DecryptError::Io(io) => Error::io("read", archive, io),
        _ => Error::Header { archive },
    }
}
