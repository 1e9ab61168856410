//! Child-process plumbing shared by the emulator and act runners: output collectors that
//! keep reading while the child runs, so it never blocks on a full pipe.

use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// Bytes a child wrote so far, shared with the thread that reads them.
#[derive(Clone, Default)]
pub(crate) struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink { .. }")
    }
}

impl Sink {
    pub(crate) fn append(&self, bytes: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

/// Reads `reader` to its end on a thread, appending everything to a [`Sink`].
pub(crate) fn collect(mut reader: impl Read + Send + 'static) -> (Sink, JoinHandle<()>) {
    let sink = Sink::default();
    let writer = sink.clone();
    let handle = std::thread::spawn(move || {
        let mut buf = [0_u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => writer.append(&buf[..n]),
            }
        }
    });
    (sink, handle)
}

/// The last `lines` lines of `text`, for error messages.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn collect_reads_everything() {
        let (sink, handle) = collect(std::io::Cursor::new(b"hello\nworld\n".to_vec()));
        handle.join().unwrap();
        assert_eq!(sink.text(), "hello\nworld\n");
    }
}
