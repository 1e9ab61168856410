//! The layers below age (multi-member gzip, tar, manifest, entries) from arbitrary bytes:
//! `open_decrypted` + `verify` must accept only a consistent archive and refuse anything
//! else with a typed error — never panic, never allocate without bound.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = Path::new("fuzz.tar.gz");
    if let Ok(reader) = sv_archive::ArchiveReader::open_decrypted(Cursor::new(data.to_vec()), name) {
        let _ = reader.verify();
    }
});
