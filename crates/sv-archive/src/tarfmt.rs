//! The tar layer, by hand on top of `tar::Header` for field encoding: the writer needs
//! header bytes on their own (an entry of unknown size gets its header once streaming has
//! measured it), and the reader is deliberately narrower than a general tar reader. It
//! accepts exactly what the writer produces — POSIX ustar regular files, optionally preceded
//! by one PAX `x` header carrying `path`/`size` — and reports anything else (links,
//! directories, devices, GNU extensions, global headers) to the caller to refuse.

use std::io::{self, Read};

use tar::{EntryType, Header};

pub(crate) const BLOCK: usize = 512;
/// Largest size the 11 octal digits of a ustar header can hold (8 GiB - 1).
const USTAR_MAX_SIZE: u64 = 0o777_7777_7777;
/// PAX headers we write hold one path and one size; anything far larger is hostile.
const MAX_PAX_BYTES: u64 = 64 * 1024;
/// The two zero blocks that end a tar stream.
pub(crate) const END_OF_ARCHIVE: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

/// Zero bytes that pad an entry of `size` bytes to a whole block.
pub(crate) fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// The header block(s) of a regular file: ustar, preceded by a PAX `x` header when the
/// path is over 100 bytes or not ASCII (PAX paths are UTF-8 by definition), or the size
/// does not fit 11 octal digits. GNU tar, bsdtar and busybox read these.
pub(crate) fn file_header(path: &str, size: u64, mtime: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK * 3);
    let long_path = path.len() > 100 || !path.is_ascii();
    let big = size > USTAR_MAX_SIZE;
    if long_path || big {
        let mut records = Vec::new();
        if long_path {
            pax_record(&mut records, "path", path.as_bytes());
        }
        if big {
            pax_record(&mut records, "size", size.to_string().as_bytes());
        }
        let pax = header_block(
            b"././@PaxHeader",
            records.len() as u64,
            mtime,
            EntryType::XHeader,
        );
        out.extend_from_slice(pax.as_bytes());
        out.extend_from_slice(&records);
        out.resize(out.len() + padding(records.len() as u64), 0);
    }
    let name = truncate_on_char_boundary(path, 100);
    let header = header_block(name.as_bytes(), size, mtime, EntryType::Regular);
    out.extend_from_slice(header.as_bytes());
    out
}

fn header_block(name: &[u8], size: u64, mtime: u64, kind: EntryType) -> Header {
    let mut header = Header::new_ustar();
    if let Some(ustar) = header.as_ustar_mut() {
        ustar.name[..name.len()].copy_from_slice(name);
    }
    // For sizes past 8 GiB the tar crate writes GNU base-256; the PAX `size` record is
    // what POSIX readers use.
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_entry_type(kind);
    header.set_cksum();
    header
}

/// `"<len> <key>=<value>\n"` where `<len>` counts the whole record, itself included.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn truncate_on_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A header as read, before policy: the caller decides what it accepts.
#[derive(Debug)]
pub(crate) struct RawHeader {
    pub(crate) path: Vec<u8>,
    pub(crate) typeflag: u8,
    pub(crate) size: u64,
}

impl RawHeader {
    pub(crate) fn is_regular(&self) -> bool {
        matches!(self.typeflag, b'0' | b'\0')
    }

    /// A human name for the entry type, for "only regular files" errors.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self.typeflag {
            b'0' | b'\0' => "regular file",
            b'1' => "hard link",
            b'2' => "symbolic link",
            b'3' => "character device",
            b'4' => "block device",
            b'5' => "directory",
            b'6' => "FIFO",
            b'7' => "contiguous file",
            b'g' => "PAX global header",
            b'L' | b'K' => "GNU long-name extension",
            b'S' => "GNU sparse file",
            _ => "special entry",
        }
    }
}

#[derive(Debug)]
pub(crate) enum TarError {
    Io(io::Error),
    Truncated(&'static str),
    Bad(&'static str),
}

impl From<io::Error> for TarError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// A streaming reader of the narrow tar dialect above.
pub(crate) struct TarReader<R> {
    inner: R,
    /// Data bytes of the current entry not yet read.
    remaining: u64,
    /// Padding after the current entry's data.
    pad: u64,
}

impl<R: Read> TarReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            remaining: 0,
            pad: 0,
        }
    }

    /// The next member's header, skipping whatever of the previous one was not read;
    /// `None` at the end-of-archive marker.
    pub(crate) fn next_header(&mut self) -> Result<Option<RawHeader>, TarError> {
        self.skip_rest()?;
        let mut block = [0u8; BLOCK];
        match read_full(&mut self.inner, &mut block)? {
            0 => {
                return Err(TarError::Truncated(
                    "the tar stream ends without its end-of-archive marker",
                ));
            }
            BLOCK => {}
            _ => return Err(TarError::Truncated("the tar stream ends inside a header")),
        }
        if block.iter().all(|b| *b == 0) {
            let mut second = [0u8; BLOCK];
            if read_full(&mut self.inner, &mut second)? != BLOCK {
                return Err(TarError::Truncated(
                    "the tar stream ends inside its end-of-archive marker",
                ));
            }
            if second.iter().any(|b| *b != 0) {
                return Err(TarError::Bad("a lone zero block inside the tar stream"));
            }
            return Ok(None);
        }
        check_checksum(&block)?;
        let mut pax_path = None;
        let mut pax_size = None;
        if block[156] == b'x' {
            let size = parse_octal(&block[124..136])?;
            if size > MAX_PAX_BYTES {
                return Err(TarError::Bad("oversized PAX header"));
            }
            let mut records = vec![0u8; size as usize];
            if read_full(&mut self.inner, &mut records)? != records.len() {
                return Err(TarError::Truncated(
                    "the tar stream ends inside a PAX header",
                ));
            }
            self.discard(padding(size) as u64)?;
            (pax_path, pax_size) = parse_pax(&records)?;
            if read_full(&mut self.inner, &mut block)? != BLOCK {
                return Err(TarError::Truncated(
                    "the tar stream ends after a PAX header",
                ));
            }
            if block.iter().all(|b| *b == 0) {
                return Err(TarError::Bad("a PAX header describes no member"));
            }
            check_checksum(&block)?;
            if matches!(block[156], b'x' | b'g') {
                return Err(TarError::Bad("two PAX headers in a row"));
            }
        }
        let typeflag = block[156];
        let path = match pax_path {
            Some(path) => path,
            None => ustar_path(&block),
        };
        let size = match pax_size {
            Some(size) => size,
            None => parse_octal(&block[124..136])?,
        };
        self.remaining = size;
        self.pad = padding(size) as u64;
        Ok(Some(RawHeader {
            path,
            typeflag,
            size,
        }))
    }

    /// Reads the current entry's data; `Ok(0)` once all of it was read.
    pub(crate) fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TarError::Io(e)),
            }
        };
        if n == 0 {
            return Err(TarError::Truncated("the tar stream ends inside an entry"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }

    fn skip_rest(&mut self) -> Result<(), TarError> {
        let n = self.remaining + self.pad;
        self.remaining = 0;
        self.pad = 0;
        self.discard(n)
    }

    fn discard(&mut self, n: u64) -> Result<(), TarError> {
        if n == 0 {
            return Ok(());
        }
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if copied != n {
            return Err(TarError::Truncated("the tar stream ends inside an entry"));
        }
        Ok(())
    }

    /// After the end-of-archive marker: reads the stream to its end (so every layer below
    /// checks its own trailer) and reports whether anything but zeros followed.
    pub(crate) fn drain(&mut self) -> Result<bool, TarError> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut clean = true;
        loop {
            match self.inner.read(&mut buf) {
                Ok(0) => return Ok(clean),
                Ok(n) => clean &= buf[..n].iter().all(|b| *b == 0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TarError::Io(e)),
            }
        }
    }
}

/// Like `read_exact`, but tells how much arrived before the end.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn check_checksum(block: &[u8; BLOCK]) -> Result<(), TarError> {
    let recorded = parse_octal(&block[148..156])?;
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if sum != recorded {
        return Err(TarError::Bad("header checksum mismatch"));
    }
    Ok(())
}

/// Octal digits, optionally surrounded by spaces and ended by NUL or space.
fn parse_octal(field: &[u8]) -> Result<u64, TarError> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(TarError::Bad("binary numeric field"));
    }
    let mut value: u64 = 0;
    let mut digits = 0;
    let mut ended = false;
    for &b in field {
        match b {
            b'0'..=b'7' if !ended => {
                value = value
                    .checked_mul(8)
                    .and_then(|v| v.checked_add(u64::from(b - b'0')))
                    .ok_or(TarError::Bad("numeric field overflows"))?;
                digits += 1;
            }
            b' ' if digits == 0 => {}
            b' ' | b'\0' => ended = true,
            _ if ended => {}
            _ => return Err(TarError::Bad("invalid octal digit in a numeric field")),
        }
    }
    Ok(value)
}

fn ustar_path(block: &[u8; BLOCK]) -> Vec<u8> {
    let until_nul = |field: &[u8]| -> Vec<u8> {
        let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
        field[..end].to_vec()
    };
    let name = until_nul(&block[..100]);
    let is_ustar = &block[257..263] == b"ustar\0";
    let prefix = if is_ustar {
        until_nul(&block[345..500])
    } else {
        Vec::new()
    };
    if prefix.is_empty() {
        name
    } else {
        let mut path = prefix;
        path.push(b'/');
        path.extend_from_slice(&name);
        path
    }
}

/// The `path` and `size` records of a PAX header; other keys (mtime, uid …) are ignored.
fn parse_pax(mut records: &[u8]) -> Result<(Option<Vec<u8>>, Option<u64>), TarError> {
    let bad = TarError::Bad;
    let mut path = None;
    let mut size = None;
    while !records.is_empty() {
        let space = records
            .iter()
            .position(|b| *b == b' ')
            .ok_or(bad("malformed PAX record"))?;
        let len: usize = std::str::from_utf8(&records[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(bad("malformed PAX record length"))?;
        if len <= space + 1 || len > records.len() || records[len - 1] != b'\n' {
            return Err(bad("malformed PAX record"));
        }
        let body = &records[space + 1..len - 1];
        let eq = body
            .iter()
            .position(|b| *b == b'=')
            .ok_or(bad("malformed PAX record"))?;
        let (key, value) = (&body[..eq], &body[eq + 1..]);
        match key {
            b"path" => path = Some(value.to_vec()),
            b"size" => {
                size = Some(
                    std::str::from_utf8(value)
                        .ok()
                        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|s| s.parse().ok())
                        .ok_or(bad("malformed PAX size"))?,
                );
            }
            _ => {}
        }
        records = &records[len..];
    }
    Ok((path, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(path: &str, data: &[u8]) -> Vec<u8> {
        let mut out = file_header(path, data.len() as u64, 1_700_000_000);
        out.extend_from_slice(data);
        out.resize(out.len() + padding(data.len() as u64), 0);
        out
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let mut out = Vec::new();
        pax_record(&mut out, "path", b"abc");
        assert_eq!(out, b"12 path=abc\n");
        let mut out = Vec::new();
        let long = vec![b'a'; 95];
        pax_record(&mut out, "path", &long);
        // 95 + "path" 4 + 3 = 102, + 3 digits = 105
        assert!(
            out.starts_with(b"105 path="),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(out.len(), 105);
    }

    #[test]
    fn reads_back_short_long_and_unicode_paths_and_the_tar_crate_agrees() {
        let long = format!("r2/b/objects/{}", "x".repeat(300));
        let paths = ["a/b.txt", long.as_str(), "r2/été/☃.bin"];
        let mut stream = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            stream.extend(member(p, &vec![i as u8; 700 * i]));
        }
        stream.extend_from_slice(&END_OF_ARCHIVE);

        let mut reader = TarReader::new(&stream[..]);
        for (i, p) in paths.iter().enumerate() {
            let h = reader.next_header().unwrap().unwrap();
            assert!(h.is_regular());
            assert_eq!(h.path, p.as_bytes());
            assert_eq!(h.size, 700 * i as u64);
            let mut data = Vec::new();
            let mut buf = [0u8; 333];
            loop {
                let n = reader.read_data(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            assert_eq!(data, vec![i as u8; 700 * i]);
        }
        assert!(reader.next_header().unwrap().is_none());
        assert!(reader.drain().unwrap());

        // An independent reader sees the same paths.
        let mut archive = tar::Archive::new(&stream[..]);
        let seen: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(seen, paths);
    }

    #[test]
    fn huge_sizes_use_a_pax_size_record() {
        let header = file_header("big", USTAR_MAX_SIZE + 1, 0);
        assert_eq!(header.len(), 3 * BLOCK);
        let mut reader = TarReader::new(&header[..]);
        let h = reader.next_header().unwrap().unwrap();
        assert_eq!(h.size, USTAR_MAX_SIZE + 1);
        assert_eq!(h.path, b"big");
    }

    #[test]
    fn truncation_and_damage_are_reported_not_panicked() {
        let mut stream = member("a", b"hello");
        stream.extend_from_slice(&END_OF_ARCHIVE);
        for cut in [0, 100, BLOCK, BLOCK + 3, 2 * BLOCK, 2 * BLOCK + 600] {
            let mut reader = TarReader::new(&stream[..cut]);
            let result = reader.next_header().and_then(|h| {
                let mut buf = [0u8; 16];
                if h.is_some() {
                    while reader.read_data(&mut buf)? > 0 {}
                    reader.next_header()?;
                }
                Ok(())
            });
            assert!(
                matches!(result, Err(TarError::Truncated(_))),
                "cut {cut}: {result:?}"
            );
        }
        let mut damaged = stream.clone();
        damaged[10] ^= 1;
        let result = TarReader::new(&damaged[..]).next_header();
        assert!(matches!(result, Err(TarError::Bad(_))), "{result:?}");
    }
}
