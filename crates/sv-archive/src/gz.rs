//! One chunk of the tar stream → one complete gzip member (RFC 1952). Members concatenate
//! into a valid multi-member gzip file that `gzip -d`, GNU tar and flate2's
//! `MultiGzDecoder` read as one stream, which is what lets chunks be compressed
//! independently on every core.
//!
//! A chunk that will not shrink (already-compressed R2 objects, encrypted or random bytes)
//! is written as deflate *stored* blocks: still valid gzip, but costing a CRC instead of a
//! deflate pass. Whether a chunk shrinks is guessed from a fast level-1 trial on a few
//! small samples, and checked afterwards: a deflated member larger than the stored form is
//! replaced by the stored form, so no chunk ever grows by more than the framing.
//!
//! Deflate gets an output buffer beyond zlib's `deflateBound`, so one call always
//! finishes: the backend never runs its rarely exercised "output full" paths (where
//! zlib-rs has had bugs). Should the backend still panic, the chunk is stored instead:
//! a compressor bug costs ratio, never data.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use flate2::{Compress, Compression, FlushCompress, Status};

/// gzip header: magic, CM=deflate, no flags, MTIME 0 (reproducible), XFL, OS=unknown.
fn header(xfl: u8) -> [u8; 10] {
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

/// Largest payload of one stored deflate block.
const STORED_MAX: usize = 65_535;
/// Sample size and count for the compressibility trial.
const SAMPLE: usize = 4096;
const SAMPLES: usize = 3;
/// Below this saving on the samples, deflating the chunk is not worth the CPU.
const MIN_SAVING_PERCENT: usize = 3;

/// How a member was encoded (for statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Deflated,
    Stored,
}

/// Per-thread encoder state, reused across chunks to avoid reallocating deflate tables.
pub(crate) struct MemberEncoder {
    level: u32,
    deflate: Compress,
    trial: Compress,
    scratch: Vec<u8>,
}

impl MemberEncoder {
    pub(crate) fn new(level: u32) -> Self {
        Self {
            level,
            deflate: Compress::new(Compression::new(level), false),
            trial: Compress::new(Compression::fast(), false),
            scratch: Vec::with_capacity(2 * SAMPLE),
        }
    }

    /// Replaces `out` with one gzip member holding `input`.
    pub(crate) fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<Mode> {
        out.clear();
        let mut mode = Mode::Stored;
        if self.level > 0 && self.worth_deflating(input)? {
            let xfl = match self.level {
                9 => 2,
                1 => 4,
                _ => 0,
            };
            out.extend_from_slice(&header(xfl));
            if self.deflate_into(input, out)? {
                mode = Mode::Deflated;
            } else {
                out.clear();
            }
        }
        if mode == Mode::Stored {
            out.extend_from_slice(&header(0));
            write_stored(input, out);
        }
        out.extend_from_slice(&crc32fast::hash(input).to_le_bytes());
        // ISIZE is the length modulo 2^32 by definition.
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        Ok(mode)
    }

    /// Deflates into the spare capacity of `out`; false when the result would not beat
    /// stored blocks (the caller then stores).
    fn deflate_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<bool> {
        let stored_len = out.len() + stored_size(input.len());
        out.reserve(bound(input.len()));
        self.deflate.reset();
        let deflate = &mut self.deflate;
        let result = catch_unwind(AssertUnwindSafe(|| {
            deflate.compress_vec(input, out, FlushCompress::Finish)
        }));
        match result {
            Ok(Ok(Status::StreamEnd)) => Ok(out.len() < stored_len),
            // Not finished despite the bound-sized buffer: do not trust it, store.
            Ok(Ok(Status::Ok | Status::BufError)) => Ok(false),
            Ok(Err(e)) => Err(io::Error::other(e)),
            Err(_) => {
                self.deflate = Compress::new(Compression::new(self.level), false);
                Ok(false)
            }
        }
    }

    /// Level-1 trial on a few samples spread over the chunk.
    fn worth_deflating(&mut self, input: &[u8]) -> io::Result<bool> {
        if input.len() <= SAMPLES * SAMPLE * 2 {
            // Small chunks: just deflate and let the size check decide.
            return Ok(true);
        }
        let step = (input.len() - SAMPLE) / (SAMPLES - 1);
        let mut total_in = 0;
        let mut total_out = 0;
        for i in 0..SAMPLES {
            let sample = &input[i * step..i * step + SAMPLE];
            self.scratch.clear();
            self.scratch.reserve(bound(SAMPLE));
            self.trial.reset();
            let (trial, scratch) = (&mut self.trial, &mut self.scratch);
            let result = catch_unwind(AssertUnwindSafe(|| {
                trial.compress_vec(sample, scratch, FlushCompress::Finish)
            }));
            total_in += sample.len();
            total_out += match result {
                Ok(Ok(Status::StreamEnd)) => self.scratch.len(),
                Ok(Ok(_)) => sample.len(),
                Ok(Err(e)) => return Err(io::Error::other(e)),
                Err(_) => {
                    self.trial = Compress::new(Compression::fast(), false);
                    sample.len()
                }
            };
        }
        Ok(total_out * 100 < total_in * (100 - MIN_SAVING_PERCENT))
    }
}

/// More than zlib's `deflateBound` for raw deflate (len + len/4096·5 + ~13, plus
/// zlib-ng's allowance for its quick strategy): room to finish in one call.
fn bound(len: usize) -> usize {
    len + len / 8 + 1024
}

/// Bytes that stored blocks take for `len` bytes of payload (5 bytes per block).
fn stored_size(len: usize) -> usize {
    let blocks = len.div_ceil(STORED_MAX).max(1);
    len + 5 * blocks
}

/// Deflate stored blocks (BTYPE 00): a header byte, LEN, NLEN, then the bytes as they are.
fn write_stored(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(stored_size(input.len()));
    let mut chunks = input.chunks(STORED_MAX).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        return;
    }
    while let Some(block) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = block.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn noise(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    fn gunzip_all(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn text_is_deflated_noise_is_stored_and_both_decode() {
        let mut enc = MemberEncoder::new(6);
        let text: Vec<u8> = b"INSERT INTO users VALUES (1, 'alice', 'alice@example.com');\n"
            .iter()
            .copied()
            .cycle()
            .take(300_000)
            .collect();
        let random = noise(300_000, 7);

        let mut a = Vec::new();
        assert_eq!(enc.encode(&text, &mut a).unwrap(), Mode::Deflated);
        assert!(a.len() < text.len() / 10);
        let mut b = Vec::new();
        assert_eq!(enc.encode(&random, &mut b).unwrap(), Mode::Stored);
        assert_eq!(b.len(), 10 + stored_size(random.len()) + 8);

        let mut both = a.clone();
        both.extend_from_slice(&b);
        let mut expected = text.clone();
        expected.extend_from_slice(&random);
        assert_eq!(gunzip_all(&both), expected);
    }

    #[test]
    fn empty_small_and_level_zero_members_decode() {
        for level in [0, 1, 6, 9] {
            let mut enc = MemberEncoder::new(level);
            // 1 MiB of noise at level 1 made zlib-rs 0.6 panic with a tight output buffer.
            for input in [
                Vec::new(),
                b"x".to_vec(),
                noise(STORED_MAX * 2 + 1, 3),
                noise(1 << 20, 4),
            ] {
                let mut out = Vec::new();
                enc.encode(&input, &mut out).unwrap();
                assert_eq!(gunzip_all(&out), input, "level {level} len {}", input.len());
            }
        }
    }
}
