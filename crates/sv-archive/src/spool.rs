//! A replayable copy of one entry, for uploads that must be resendable (a restore's R2 PUT
//! or D1 import that failed half-way): the archive is one stream and cannot be re-read
//! from the middle, so the entry is copied into an unnamed temporary file, encrypted with
//! a key that exists only in this process (as the writer's spool is). Backup data is never
//! on disk in the clear, and the file is gone when the spool is dropped or the process
//! ends, even if killed.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek as _, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// An encrypted temporary copy of some bytes that can be read back from the start any
/// number of times.
pub struct Spool {
    file: File,
    key: age::x25519::Identity,
    len: u64,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Spool {
    /// Copies everything `from` yields into a new spool in `dir`. A read error of `from`
    /// is returned as is (the caller classifies it: a checksum failure, a truncation).
    pub fn copy_from(dir: &Path, from: &mut dyn Read) -> io::Result<Self> {
        let key = age::x25519::Identity::generate();
        let file = tempfile::tempfile_in(dir)?;
        let recipient = key.to_public();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(io::Error::other)?;
        let mut stream = encryptor.wrap_output(file)?;
        let len = io::copy(from, &mut stream)?;
        stream.flush()?;
        let file = stream.finish()?;
        file.sync_all()?;
        Ok(Self { file, key, len })
    }

    /// Plaintext length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the spool holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A reader of the plaintext from its first byte. Readers share the file's position:
    /// use one at a time.
    pub fn reader(&self) -> Result<impl Read + Send + 'static> {
        let mut file = self
            .file
            .try_clone()
            .map_err(|e| Error::io("reopen a spool", "(temporary file)", e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("rewind a spool", "(temporary file)", e))?;
        let decryptor = age::Decryptor::new_buffered(BufReader::with_capacity(64 * 1024, file))
            .map_err(|e| Error::io("read a spool", "(temporary file)", io::Error::other(e)))?;
        decryptor
            .decrypt(std::iter::once(&self.key as &dyn age::Identity))
            .map_err(|e| Error::io("decrypt a spool", "(temporary file)", io::Error::other(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_the_same_bytes_twice_and_never_holds_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let spool = Spool::copy_from(dir.path(), &mut data.as_slice()).unwrap();
        assert_eq!(spool.len(), data.len() as u64);
        for _ in 0..2 {
            let mut back = Vec::new();
            spool.reader().unwrap().read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
        }
        let mut raw = Vec::new();
        let mut file = spool.file.try_clone().unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut raw).unwrap();
        assert!(raw.starts_with(b"age-encryption.org/v1"));
        assert!(!raw.windows(64).any(|w| w == &data[1000..1064]));
        // Unnamed: nothing visible in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
