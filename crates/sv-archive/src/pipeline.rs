//! Parallel gzip with flat memory: the caller's thread cuts the tar stream into chunks,
//! worker threads turn each chunk into an independent gzip member, and one writer thread
//! puts members back in order and writes them to the sink.
//!
//! Memory is bounded by a fixed pool of slots (an input chunk plus its encoded member):
//! the caller blocks when every slot is in flight, a slot returns to the pool only once
//! its member is written, so nothing queues without bound whatever the archive size. A
//! failing sink or worker drops the pool, which unblocks the caller with the error instead
//! of deadlocking.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use sha2::Digest as _;

use crate::gz::MemberEncoder;

/// Where members go, and what it yields once complete.
pub(crate) trait Sink: Write + Send + 'static {
    type Output: Send + 'static;
    fn finish(self) -> io::Result<Self::Output>;
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PipelineConfig {
    pub(crate) level: u32,
    pub(crate) chunk_size: usize,
    pub(crate) workers: usize,
}

/// Counters for benchmarks and summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompressionStats {
    /// Gzip members written (chunks).
    pub members: u64,
    /// Uncompressed bytes written as stored blocks because they would not shrink.
    pub stored_bytes: u64,
    /// Uncompressed tar bytes in.
    pub bytes_in: u64,
    /// Gzip bytes out.
    pub bytes_out: u64,
}

pub(crate) struct SinkOutput<T> {
    pub(crate) output: T,
    /// `(offset in the gzip stream, marker)` for every marker set with
    /// [`Pipeline::mark`], in order.
    pub(crate) markers: Vec<(u64, u32)>,
    pub(crate) stats: CompressionStats,
}

struct Slot {
    /// Always `chunk_size` long; `filled` says how much is data.
    buf: Vec<u8>,
    filled: usize,
    output: Vec<u8>,
    markers: Vec<u32>,
}

struct Done {
    seq: u64,
    slot: Slot,
    /// Stored bytes of the member, or why it failed.
    result: io::Result<usize>,
}

/// Why filling from a source stopped.
#[derive(Debug)]
pub(crate) enum FillError {
    /// The caller's reader failed.
    Source(io::Error),
    /// The pipeline itself failed (sink write, worker).
    Pipeline(io::Error),
}

pub(crate) struct Pipeline<S: Sink> {
    chunk_size: usize,
    current: Option<Slot>,
    free_rx: Receiver<Slot>,
    job_tx: Option<Sender<(u64, Slot)>>,
    next_seq: u64,
    pending_markers: Vec<u32>,
    workers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<io::Result<SinkOutput<S::Output>>>>,
}

impl<S: Sink> Pipeline<S> {
    pub(crate) fn new(config: PipelineConfig, sink: S) -> io::Result<Self> {
        let workers = config.workers.max(1);
        // Enough slots to keep every worker busy while the writer drains in order, with
        // slack for a worker that the OS descheduled mid-chunk (on a busy machine, the
        // in-order writer would otherwise stall everyone): ~2 MiB each.
        let slots = (2 * workers + 2).max(12);
        let (free_tx, free_rx) = crossbeam_channel::bounded(slots);
        for _ in 0..slots {
            let slot = Slot {
                buf: vec![0; config.chunk_size],
                filled: 0,
                output: Vec::new(),
                markers: Vec::new(),
            };
            free_tx
                .send(slot)
                .map_err(|_| io::Error::other("slot pool closed"))?;
        }
        let (job_tx, job_rx) = crossbeam_channel::unbounded::<(u64, Slot)>();
        let (done_tx, done_rx) = crossbeam_channel::unbounded::<Done>();
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let job_rx = job_rx.clone();
            let done_tx = done_tx.clone();
            let level = config.level;
            handles.push(
                std::thread::Builder::new()
                    .name(format!("sv-archive-gz-{i}"))
                    .spawn(move || compress_worker(level, job_rx, done_tx))?,
            );
        }
        drop(done_tx);
        let writer = std::thread::Builder::new()
            .name("sv-archive-writer".to_owned())
            .spawn(move || write_in_order(sink, done_rx, free_tx))?;
        Ok(Self {
            chunk_size: config.chunk_size,
            current: None,
            free_rx,
            job_tx: Some(job_tx),
            next_seq: 0,
            pending_markers: Vec::new(),
            workers: handles,
            writer: Some(writer),
        })
    }

    /// Appends bytes to the tar stream.
    pub(crate) fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let chunk_size = self.chunk_size;
            let slot = self.slot()?;
            let take = (chunk_size - slot.filled).min(bytes.len());
            slot.buf[slot.filled..slot.filled + take].copy_from_slice(&bytes[..take]);
            slot.filled += take;
            bytes = &bytes[take..];
            if slot.filled == chunk_size {
                self.submit()?;
            }
        }
        Ok(())
    }

    /// Streams up to `limit` bytes from `reader` straight into chunk buffers (no extra
    /// copy), hashing them on the way. Returns how many bytes were read; fewer than
    /// `limit` means the reader ended.
    pub(crate) fn fill_from(
        &mut self,
        reader: &mut dyn Read,
        limit: u64,
        hasher: &mut sha2::Sha256,
    ) -> Result<u64, FillError> {
        let mut total = 0u64;
        while total < limit {
            let chunk_size = self.chunk_size;
            let slot = self.slot().map_err(FillError::Pipeline)?;
            let space = chunk_size - slot.filled;
            let want = usize::try_from(limit - total).map_or(space, |left| left.min(space));
            let start = slot.filled;
            let n = loop {
                match reader.read(&mut slot.buf[start..start + want]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(FillError::Source(e)),
                }
            };
            if n == 0 {
                break;
            }
            // A misbehaving reader reporting more than the buffer would be a bug there;
            // clamp rather than trust it.
            let n = n.min(want);
            hasher.update(&slot.buf[start..start + n]);
            slot.filled += n;
            total += n as u64;
            if slot.filled == chunk_size {
                self.submit().map_err(FillError::Pipeline)?;
            }
        }
        Ok(total)
    }

    /// Ends the current member here and records where the next one starts in the gzip
    /// stream, so a member can later be inserted at that point.
    pub(crate) fn mark(&mut self, marker: u32) -> io::Result<()> {
        if self.current.as_ref().is_some_and(|s| s.filled > 0) {
            self.submit()?;
        }
        self.pending_markers.push(marker);
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<SinkOutput<S::Output>> {
        if self.current.as_ref().is_some_and(|s| s.filled > 0) || !self.pending_markers.is_empty() {
            self.slot()?;
            self.submit()?;
        }
        self.job_tx = None;
        self.join()
    }

    fn slot(&mut self) -> io::Result<&mut Slot> {
        if self.current.is_none() {
            match self.free_rx.recv() {
                Ok(slot) => self.current = Some(slot),
                // The writer thread is gone: it failed; report why.
                Err(_) => return Err(self.failure()),
            }
        }
        self.current
            .as_mut()
            .ok_or_else(|| io::Error::other("no slot"))
    }

    fn submit(&mut self) -> io::Result<()> {
        let Some(mut slot) = self.current.take() else {
            return Ok(());
        };
        slot.markers = std::mem::take(&mut self.pending_markers);
        let seq = self.next_seq;
        self.next_seq += 1;
        let sent = self.job_tx.as_ref().map(|tx| tx.send((seq, slot)));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.failure()),
        }
    }

    fn failure(&mut self) -> io::Error {
        self.job_tx = None;
        match self.join() {
            Err(e) => e,
            Ok(_) => io::Error::other("archive pipeline stopped early"),
        }
    }

    fn join(&mut self) -> io::Result<SinkOutput<S::Output>> {
        let mut panicked = false;
        for handle in self.workers.drain(..) {
            panicked |= handle.join().is_err();
        }
        let result = match self.writer.take() {
            Some(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("archive writer thread panicked"))),
            None => Err(io::Error::other("archive pipeline already finished")),
        };
        if panicked && result.is_ok() {
            return Err(io::Error::other("a compression worker panicked"));
        }
        result
    }
}

impl<S: Sink> Drop for Pipeline<S> {
    /// Abandoned (the archive failed or was dropped): stop the threads. The sink is
    /// finished or dropped by the writer thread; the caller removes any output file.
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.job_tx = None;
            self.current = None;
            let _ = self.join();
        }
    }
}

fn compress_worker(level: u32, jobs: Receiver<(u64, Slot)>, done: Sender<Done>) {
    let mut encoder = MemberEncoder::new(level);
    for (seq, mut slot) in jobs.iter() {
        let Slot {
            buf,
            filled,
            output,
            ..
        } = &mut slot;
        let result = catch_unwind(AssertUnwindSafe(|| encoder.encode(&buf[..*filled], output)))
            .unwrap_or_else(|_| Err(io::Error::other("compression worker panicked")));
        if result.is_err() {
            // The encoder may be mid-stream; start afresh.
            encoder = MemberEncoder::new(level);
        }
        if done.send(Done { seq, slot, result }).is_err() {
            return;
        }
    }
}

fn write_in_order<S: Sink>(
    mut sink: S,
    done: Receiver<Done>,
    free: Sender<Slot>,
) -> io::Result<SinkOutput<S::Output>> {
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut offset = 0u64;
    let mut markers = Vec::new();
    let mut stats = CompressionStats::default();
    for item in done.iter() {
        pending.insert(item.seq, item);
        while let Some(Done {
            mut slot, result, ..
        }) = pending.remove(&next)
        {
            let stored = result?;
            for marker in slot.markers.drain(..) {
                markers.push((offset, marker));
            }
            sink.write_all(&slot.output)?;
            offset += slot.output.len() as u64;
            stats.members += 1;
            stats.stored_bytes += stored as u64;
            stats.bytes_in += slot.filled as u64;
            stats.bytes_out += slot.output.len() as u64;
            slot.filled = 0;
            slot.output.clear();
            // The caller may be gone (finishing or dropped); nothing to return it to.
            let _ = free.send(slot);
            next += 1;
        }
    }
    if !pending.is_empty() {
        return Err(io::Error::other("a compressed chunk was lost"));
    }
    Ok(SinkOutput {
        output: sink.finish()?,
        markers,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    struct VecSink(Vec<u8>);
    impl Write for VecSink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Sink for VecSink {
        type Output = Vec<u8>;
        fn finish(self) -> io::Result<Vec<u8>> {
            Ok(self.0)
        }
    }

    struct FailingSink;
    impl Write for FailingSink {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Sink for FailingSink {
        type Output = ();
        fn finish(self) -> io::Result<()> {
            Ok(())
        }
    }

    fn config() -> PipelineConfig {
        PipelineConfig {
            level: 6,
            chunk_size: 4096,
            workers: 3,
        }
    }

    #[test]
    fn output_is_in_order_and_markers_land_on_member_boundaries() {
        let mut p = Pipeline::new(config(), VecSink(Vec::new())).unwrap();
        let mut expected = Vec::new();
        for i in 0..200u32 {
            let piece: Vec<u8> = format!("line {i} ")
                .repeat((i as usize % 37) + 1)
                .into_bytes();
            p.write_all(&piece).unwrap();
            expected.extend_from_slice(&piece);
            if i % 50 == 7 {
                p.mark(i).unwrap();
            }
        }
        let mut hasher = sha2::Sha256::new();
        let source = vec![9u8; 10_000];
        assert_eq!(
            p.fill_from(&mut &source[..], 6000, &mut hasher).unwrap(),
            6000
        );
        expected.extend_from_slice(&source[..6000]);
        let out = p.finish().unwrap();

        let mut decoded = Vec::new();
        flate2::read::MultiGzDecoder::new(&out.output[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, expected);
        assert_eq!(out.markers.len(), 4);
        for (offset, _) in &out.markers {
            // Each marker offset starts a gzip member.
            assert_eq!(
                &out.output[*offset as usize..*offset as usize + 2],
                &[0x1f, 0x8b]
            );
        }
        assert_eq!(out.stats.bytes_in, expected.len() as u64);
        assert_eq!(out.stats.bytes_out, out.output.len() as u64);
    }

    #[test]
    fn a_failing_sink_surfaces_as_an_error_not_a_hang() {
        let mut p = Pipeline::new(config(), FailingSink).unwrap();
        let data = vec![1u8; 4096];
        let mut failed = false;
        for _ in 0..100 {
            if p.write_all(&data).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed || p.finish().is_err());
    }
}
