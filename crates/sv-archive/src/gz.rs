//! One chunk of the tar stream → one complete gzip member (RFC 1952). Members concatenate
//! into a valid multi-member gzip file that `gzip -d`, GNU tar and flate2's
//! `MultiGzDecoder` read as one stream, which is what lets chunks be compressed
//! independently on every core.
//!
//! Bytes that will not shrink (already-compressed R2 objects, encrypted or random data)
//! are written as deflate *stored* blocks: still valid deflate, costing a CRC instead of a
//! deflate pass. The decision is made per 16 KiB segment, so a chunk mixing small images
//! and small text files deflates only the text: each segment's byte entropy is measured on
//! a 4 KiB sample, and runs of incompressible segments become stored blocks between
//! deflated runs (each deflated run ends with a full flush, byte-aligned, so the pieces
//! form one valid deflate stream). A member that came out larger than all-stored is
//! replaced by the stored form, so no chunk grows by more than the framing.
//!
//! Deflate gets an output buffer beyond zlib's `deflateBound`, so one call always
//! finishes: the backend never runs its rarely exercised "output full" paths (where
//! zlib-rs has had bugs). Should the backend still fail or panic, the chunk is stored
//! instead: a compressor bug costs ratio, never data.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use flate2::{Compress, Compression, FlushCompress, Status};

/// gzip header: magic, CM=deflate, no flags, MTIME 0 (reproducible), XFL, OS=unknown.
fn header(xfl: u8) -> [u8; 10] {
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}
const HEADER_LEN: usize = 10;

/// Largest payload of one stored deflate block.
const STORED_MAX: usize = 65_535;
/// Granularity of the deflate-or-store decision.
const SEGMENT: usize = 16 * 1024;
/// Bytes of each segment whose entropy is measured.
const SAMPLE: usize = 4096;
/// Order-0 entropy (bits per byte) at or above which a sample is taken as incompressible.
/// Random bytes measure ~7.95 on a 4 KiB sample; text 4–5.5, base64 ~6, executables ~6–7.
/// At 7.9 Huffman coding alone would save under 1.3%.
const INCOMPRESSIBLE_BITS: f64 = 7.9;

/// Per-thread encoder state, reused across chunks to avoid reallocating deflate tables.
pub(crate) struct MemberEncoder {
    level: u32,
    deflate: Compress,
    runs: Vec<(usize, usize, bool)>,
}

impl MemberEncoder {
    pub(crate) fn new(level: u32) -> Self {
        Self {
            level,
            deflate: Compress::new(Compression::new(level), false),
            runs: Vec::new(),
        }
    }

    /// Replaces `out` with one gzip member holding `input`; returns how many input bytes
    /// went into stored blocks.
    pub(crate) fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
        out.clear();
        let mut stored = input.len();
        if self.level > 0 {
            self.plan(input);
            if self.runs.iter().any(|&(_, _, deflate)| deflate) {
                let xfl = match self.level {
                    9 => 2,
                    1 => 4,
                    _ => 0,
                };
                out.extend_from_slice(&header(xfl));
                match self.encode_runs(input, out)? {
                    Some(n) if out.len() - HEADER_LEN < stored_size(input.len()) => stored = n,
                    _ => out.clear(),
                }
            }
        }
        if out.is_empty() {
            out.extend_from_slice(&header(0));
            write_stored(input, out, true);
        }
        out.extend_from_slice(&crc32fast::hash(input).to_le_bytes());
        // ISIZE is the length modulo 2^32 by definition.
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        Ok(stored)
    }

    /// Splits `input` into runs of segments to deflate or to store.
    fn plan(&mut self, input: &[u8]) {
        self.runs.clear();
        let mut start = 0;
        while start < input.len() {
            let end = (start + SEGMENT).min(input.len());
            // A short tail joins the run before it: too small to judge or to matter.
            let deflate = match self.runs.last() {
                Some(&(_, _, prev)) if end - start < SAMPLE => prev,
                _ => !looks_incompressible(&input[start..start + SAMPLE.min(end - start)]),
            };
            match self.runs.last_mut() {
                Some(last) if last.2 == deflate => last.1 = end,
                _ => self.runs.push((start, end, deflate)),
            }
            start = end;
        }
    }

    /// Writes the runs as one deflate stream; `None` when the backend let us down (the
    /// caller then stores the whole chunk).
    fn encode_runs(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<Option<usize>> {
        let mut stored = 0;
        let count = self.runs.len();
        for i in 0..count {
            let (start, end, deflate) = self.runs[i];
            let last = i + 1 == count;
            let run = &input[start..end];
            if !deflate {
                write_stored(run, out, last);
                stored += run.len();
                continue;
            }
            // A fresh dictionary per run: the stored bytes in between are not in the
            // compressor's history, so matches must not reach across them.
            self.deflate.reset();
            out.reserve(bound(run.len()));
            let flush = if last {
                FlushCompress::Finish
            } else {
                // Ends byte-aligned with a non-final empty stored block.
                FlushCompress::Full
            };
            let deflater = &mut self.deflate;
            let result = catch_unwind(AssertUnwindSafe(|| deflater.compress_vec(run, out, flush)));
            let complete = match result {
                Ok(Ok(Status::StreamEnd)) => last,
                Ok(Ok(Status::Ok)) => !last && self.deflate.total_in() == run.len() as u64,
                Ok(Ok(Status::BufError)) => false,
                Ok(Err(e)) => return Err(io::Error::other(e)),
                Err(_) => {
                    self.deflate = Compress::new(Compression::new(self.level), false);
                    false
                }
            };
            if !complete {
                return Ok(None);
            }
        }
        Ok(Some(stored))
    }
}

/// Order-0 entropy of `sample` at or above [`INCOMPRESSIBLE_BITS`].
fn looks_incompressible(sample: &[u8]) -> bool {
    if sample.len() < SAMPLE {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in sample {
        counts[usize::from(b)] += 1;
    }
    let n = sample.len() as f64;
    let sum: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| f64::from(c) * f64::from(c).log2())
        .sum();
    n.log2() - sum / n >= INCOMPRESSIBLE_BITS
}

/// More than zlib's `deflateBound` for raw deflate (len + len/4096·5 + ~13, plus
/// zlib-ng's allowance for its quick strategy and a full flush): room to finish in one
/// call.
fn bound(len: usize) -> usize {
    len + len / 8 + 1024
}

/// Bytes that stored blocks take for `len` bytes of payload (5 bytes per block).
fn stored_size(len: usize) -> usize {
    let blocks = len.div_ceil(STORED_MAX).max(1);
    len + 5 * blocks
}

/// Deflate stored blocks (BTYPE 00): a header byte, LEN, NLEN, then the bytes as they
/// are. `last` sets BFINAL on the final block.
fn write_stored(input: &[u8], out: &mut Vec<u8>, last: bool) {
    out.reserve(stored_size(input.len()));
    if input.is_empty() {
        if last {
            out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        }
        return;
    }
    let mut blocks = input.chunks(STORED_MAX).peekable();
    while let Some(block) = blocks.next() {
        let final_block = last && blocks.peek().is_none();
        let len = block.len() as u16;
        out.push(u8::from(final_block));
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

    fn text(len: usize) -> Vec<u8> {
        b"INSERT INTO users VALUES (1, 'alice', 'alice@example.com');\n"
            .iter()
            .copied()
            .cycle()
            .take(len)
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
        let text = text(300_000);
        let random = noise(300_000, 7);

        let mut a = Vec::new();
        assert_eq!(enc.encode(&text, &mut a).unwrap(), 0);
        assert!(a.len() < text.len() / 10);
        let mut b = Vec::new();
        assert_eq!(enc.encode(&random, &mut b).unwrap(), random.len());
        assert_eq!(b.len(), 10 + stored_size(random.len()) + 8);

        let mut both = a.clone();
        both.extend_from_slice(&b);
        let mut expected = text.clone();
        expected.extend_from_slice(&random);
        assert_eq!(gunzip_all(&both), expected);
    }

    #[test]
    fn a_mixed_chunk_deflates_only_its_text() {
        // Small "files" alternating text and noise, at sizes that straddle segments.
        let mut input = Vec::new();
        let mut noisy = 0;
        for (i, len) in [5000, 40_000, 16_384, 70_000, 3000, 33_333, 100_000, 1]
            .into_iter()
            .enumerate()
        {
            if i % 2 == 0 {
                input.extend(text(len));
            } else {
                input.extend(noise(len, i as u64 + 1));
                noisy += len;
            }
        }
        let mut enc = MemberEncoder::new(6);
        let mut out = Vec::new();
        let stored = enc.encode(&input, &mut out).unwrap();
        assert!(stored > 0 && stored < input.len(), "stored {stored}");
        // Most of the noise is stored, and most of the text shrank (segments straddling a
        // boundary go one way or the other).
        let texty = input.len() - noisy;
        assert!(
            stored >= noisy / 2,
            "stored {stored} of {noisy} noisy bytes"
        );
        assert!(
            out.len() < input.len() - texty / 2,
            "{} bytes for {texty} of text and {noisy} of noise",
            out.len()
        );
        assert_eq!(gunzip_all(&out), input);
    }

    #[test]
    fn random_layouts_of_text_and_noise_always_decode() {
        let mut seed = 0x5eed_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut enc = MemberEncoder::new(6);
        for _ in 0..25 {
            let mut input = Vec::new();
            for part in 0..next(12) {
                let len = next(40_000) as usize;
                if next(2) == 0 {
                    input.extend(text(len));
                } else {
                    input.extend(noise(len, part + 1));
                }
            }
            let mut out = Vec::new();
            enc.encode(&input, &mut out).unwrap();
            assert!(out.len() <= 10 + stored_size(input.len()) + 8);
            assert_eq!(gunzip_all(&out), input);
        }
    }

    #[test]
    fn empty_small_and_every_level_decode() {
        for level in [0, 1, 6, 9] {
            let mut enc = MemberEncoder::new(level);
            // 1 MiB of noise at level 1 made zlib-rs 0.6 panic with a tight output buffer.
            for input in [
                Vec::new(),
                b"x".to_vec(),
                text(SEGMENT + 1),
                noise(STORED_MAX * 2 + 1, 3),
                noise(1 << 20, 4),
            ] {
                let mut out = Vec::new();
                enc.encode(&input, &mut out).unwrap();
                assert_eq!(gunzip_all(&out), input, "level {level} len {}", input.len());
            }
        }
    }

    #[test]
    fn entropy_separates_random_from_text_and_base64() {
        assert!(looks_incompressible(&noise(SAMPLE, 11)));
        assert!(!looks_incompressible(&text(SAMPLE)));
        let base64: Vec<u8> = noise(SAMPLE, 5)
            .iter()
            .map(|b| {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [usize::from(b % 64)]
            })
            .collect();
        assert!(!looks_incompressible(&base64));
    }
}
