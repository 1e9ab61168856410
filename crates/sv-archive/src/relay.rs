//! Thread hand-offs for the final pass, so that reading back the spool (read + decrypt),
//! encrypting for the recipients, and hashing + writing the output run on different cores
//! instead of one after another. Buffers circulate through small bounded channels: memory
//! stays a few MiB whatever the size.

use std::fs::File;
use std::io::{self, Read, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use sha2::Digest as _;

use crate::digest::Sha256;

const BUF: usize = 1 << 20;
const IN_FLIGHT: usize = 4;

/// Reads `source` to its end on its own thread, handing over full buffers.
pub(crate) struct ReadAhead {
    rx: Option<Receiver<io::Result<Vec<u8>>>>,
    recycle: Sender<Vec<u8>>,
    handle: Option<JoinHandle<()>>,
}

impl ReadAhead {
    pub(crate) fn spawn(mut source: impl Read + Send + 'static) -> io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded(IN_FLIGHT);
        let (recycle, recycled) = crossbeam_channel::bounded::<Vec<u8>>(IN_FLIGHT + 1);
        let handle = std::thread::Builder::new()
            .name("sv-archive-spool-reader".to_owned())
            .spawn(move || {
                loop {
                    let mut buf = recycled.try_recv().unwrap_or_default();
                    buf.resize(BUF, 0);
                    match fill(&mut source, &mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            buf.truncate(n);
                            if tx.send(Ok(buf)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
            })?;
        Ok(Self {
            rx: Some(rx),
            recycle,
            handle: Some(handle),
        })
    }

    /// The next buffer; `None` at the end of the source.
    pub(crate) fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        self.rx.as_ref().and_then(|rx| rx.recv().ok())
    }

    pub(crate) fn give_back(&self, buf: Vec<u8>) {
        let _ = self.recycle.try_send(buf);
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the channel makes a pending send fail, so the thread ends.
        self.rx = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn fill(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A `Write` whose bytes are hashed and written to `file` on another thread.
pub(crate) struct HashingFileWriter {
    buf: Vec<u8>,
    tx: Option<Sender<Vec<u8>>>,
    recycled: Receiver<Vec<u8>>,
    handle: Option<JoinHandle<io::Result<(File, Sha256, u64)>>>,
}

impl HashingFileWriter {
    pub(crate) fn spawn(mut file: File) -> io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(IN_FLIGHT);
        let (recycle, recycled) = crossbeam_channel::bounded::<Vec<u8>>(IN_FLIGHT + 1);
        let handle = std::thread::Builder::new()
            .name("sv-archive-output".to_owned())
            .spawn(move || {
                let mut hasher = sha2::Sha256::new();
                let mut count = 0u64;
                for mut buf in rx.iter() {
                    hasher.update(&buf);
                    file.write_all(&buf)?;
                    count += buf.len() as u64;
                    buf.clear();
                    let _ = recycle.try_send(buf);
                }
                Ok((file, Sha256(hasher.finalize().into()), count))
            })?;
        Ok(Self {
            buf: Vec::with_capacity(BUF),
            tx: Some(tx),
            recycled,
            handle: Some(handle),
        })
    }

    /// Hands over what is buffered and waits for the thread: the file (written, not yet
    /// synced), the sha256 and the length of everything written.
    pub(crate) fn finish(mut self) -> io::Result<(File, Sha256, u64)> {
        self.send()?;
        self.tx = None;
        self.join()
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUF));
        let full = std::mem::replace(&mut self.buf, next);
        let sent = self.tx.as_ref().map(|tx| tx.send(full));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread stopped: its error says why.
            _ => {
                self.tx = None;
                Err(self
                    .join()
                    .err()
                    .unwrap_or_else(|| io::Error::other("output thread stopped early")))
            }
        }
    }

    fn join(&mut self) -> io::Result<(File, Sha256, u64)> {
        match self.handle.take() {
            Some(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("output thread panicked"))),
            None => Err(io::Error::other("output thread already finished")),
        }
    }
}

impl Write for HashingFileWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BUF {
            self.send()?;
        }
        Ok(data.len())
    }

    /// Buffers move on when full or at `finish`; durability is `finish` + fsync.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for HashingFileWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Seek;

    use super::*;

    #[test]
    fn read_ahead_yields_everything_in_order() {
        let data: Vec<u8> = (0..3 * BUF + 123).map(|i| (i % 251) as u8).collect();
        let mut ra = ReadAhead::spawn(io::Cursor::new(data.clone())).unwrap();
        let mut got = Vec::new();
        while let Some(buf) = ra.next() {
            let buf = buf.unwrap();
            got.extend_from_slice(&buf);
            ra.give_back(buf);
        }
        assert_eq!(got, data);
    }

    #[test]
    fn read_ahead_can_be_dropped_early() {
        let data = vec![7u8; 10 * BUF];
        let mut ra = ReadAhead::spawn(io::Cursor::new(data)).unwrap();
        assert!(ra.next().is_some());
        drop(ra);
    }

    #[test]
    fn hashing_writer_writes_and_hashes() {
        let file = tempfile::tempfile().unwrap();
        let mut w = HashingFileWriter::spawn(file).unwrap();
        let data: Vec<u8> = (0..2 * BUF + 77).map(|i| (i % 13) as u8).collect();
        for piece in data.chunks(65_552) {
            w.write_all(piece).unwrap();
        }
        let (mut file, sha, len) = w.finish().unwrap();
        assert_eq!(len, data.len() as u64);
        assert_eq!(sha, Sha256::of(&data));
        file.rewind().unwrap();
        let mut back = Vec::new();
        file.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }
}
