//! Async byte streams read from the blocking archive writer.
//!
//! A task pumps the stream into a small bounded channel; the writer's thread reads it
//! with `blocking_recv`. Memory is bounded by the channel (a few chunks), whatever the
//! size of the body.

use std::io;

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use tokio::sync::mpsc;

/// Chunks in flight between the network task and the writer.
const DEPTH: usize = 8;

/// `std::io::Read` over an async stream of chunks; use only off the async runtime
/// (inside `spawn_blocking`).
pub struct BlockingReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
    done: bool,
}

impl BlockingReader {
    /// Starts pumping `stream` on the current runtime.
    pub fn spawn<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(DEPTH);
        tokio::spawn(async move {
            let mut stream = stream;
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if tx.send(item.map_err(|e| e.to_string())).await.is_err() || failed {
                    break;
                }
            }
        });
        Self {
            rx,
            current: Bytes::new(),
            done: false,
        }
    }
}

impl io::Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(io::Error::other(e));
                }
                None => self.done = true,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Read as _;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_every_chunk_in_order_then_eof() {
        let chunks: Vec<Result<Bytes, String>> =
            (0..50u8).map(|i| Ok(Bytes::from(vec![i; 1000]))).collect();
        let mut reader = BlockingReader::spawn(futures::stream::iter(chunks));
        let bytes = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).unwrap();
            out
        })
        .await
        .unwrap();
        assert_eq!(bytes.len(), 50_000);
        assert!(
            bytes
                .chunks(1000)
                .enumerate()
                .all(|(i, c)| c.iter().all(|b| usize::from(*b) == i))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_error_is_a_read_error() {
        let chunks: Vec<Result<Bytes, String>> = vec![
            Ok(Bytes::from_static(b"abc")),
            Err("connection reset".into()),
        ];
        let mut reader = BlockingReader::spawn(futures::stream::iter(chunks));
        let err = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).unwrap_err()
        })
        .await
        .unwrap();
        assert!(err.to_string().contains("connection reset"), "{err}");
    }
}
