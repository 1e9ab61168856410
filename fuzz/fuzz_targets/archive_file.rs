//! A whole archive file from arbitrary bytes (age header, armor, payload), opened with the
//! identity `make-seeds` wrote, as `sv-backup verify` opens one.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// The identity file: `SV_FUZZ_IDENTITY` (scripts/fuzz.sh sets it).
fn decryption() -> &'static sv_archive::Decryption {
    static KEY: OnceLock<sv_archive::Decryption> = OnceLock::new();
    KEY.get_or_init(|| {
        let path = std::env::var_os("SV_FUZZ_IDENTITY")
            .map(PathBuf::from)
            .expect("SV_FUZZ_IDENTITY names the identity file (scripts/fuzz.sh sets it)");
        sv_archive::Decryption::identity_file(&path).expect("the identity file loads")
    })
}

/// One scratch file per fuzzing process.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("sv-fuzz-{}.age", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("the scratch file is writable");
    if let Ok(reader) = sv_archive::open(path, decryption()) {
        let _ = reader.verify();
    }
});
