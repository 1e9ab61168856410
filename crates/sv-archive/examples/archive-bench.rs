//! Archives every regular file under DIR into OUT (a `.tar.gz.age`) with sv-archive and
//! reports time, sizes and peak RSS: the "ours" row of `scripts/bench-archive.sh`.
//!
//! ```text
//! cargo run --release --example archive-bench -p sv-archive -- DIR OUT [--recipient age1…]
//!     [--level N] [--workers N] [--verify IDENTITY_FILE]
//! ```
//! Without `--recipient`, a throw-away key is generated (the output is then unreadable;
//! fine for timing).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use sv_archive::{
    ArchiveWriter, Decryption, Encryption, ManifestHeader, NewEntry, WriterOptions, open,
};

type BoxError = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("archive-bench: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

struct Args {
    dir: PathBuf,
    out: PathBuf,
    recipient: Option<String>,
    verify: Option<PathBuf>,
    options: WriterOptions,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut positional = Vec::new();
    let mut recipient = None;
    let mut verify = None;
    let mut options = WriterOptions::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--recipient" => recipient = Some(value()?),
            "--verify" => verify = Some(PathBuf::from(value()?)),
            "--level" => options.level = value()?.parse()?,
            "--workers" => options.workers = value()?.parse()?,
            "--chunk-kib" => options.chunk_size = value()?.parse::<usize>()? * 1024,
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}").into()),
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    let [dir, out]: [PathBuf; 2] = positional
        .try_into()
        .map_err(|_| "usage: archive-bench DIR OUT [--recipient age1…] [--level N] [--workers N] [--verify KEYFILE]")?;
    Ok(Args {
        dir,
        out,
        recipient,
        verify,
        options,
    })
}

fn run() -> Result<(), BoxError> {
    let args = parse_args()?;
    let encryption = match &args.recipient {
        Some(r) => Encryption::recipients([r])?,
        None => {
            let id = age::x25519::Identity::generate();
            Encryption::recipients([id.to_public().to_string()])?
        }
    };
    let mut files = Vec::new();
    collect(&args.dir, &args.dir, &mut files)?;
    files.sort();

    let out_dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = args
        .out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("OUT needs a file name")?;
    let header = ManifestHeader {
        tool: "archive-bench".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created_at: chrono::Utc::now(),
        environment: "bench".into(),
        source: serde_json::Map::new(),
        resources: vec!["bench".into()],
    };

    let start = Instant::now();
    let mut writer =
        ArchiveWriter::create_with(out_dir, name, encryption, header, args.options.clone())?;
    for rel in &files {
        let path = args.dir.join(rel);
        let file = File::open(&path)?;
        let size = file.metadata()?.len();
        writer.add_stream(
            NewEntry::new(format!("files/{rel}"), "bench", "file"),
            Some(size),
            file,
        )?;
    }
    let streamed = start.elapsed().as_secs_f64();
    let summary = writer.finish()?;
    let seconds = start.elapsed().as_secs_f64();

    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!("files          {}", summary.entries);
    println!("input          {:.1} MiB", mib(summary.bytes));
    println!("output         {:.1} MiB", mib(summary.size));
    println!(
        "ratio          {:.3}",
        summary.size as f64 / summary.bytes.max(1) as f64
    );
    println!(
        "gzip members   {} ({:.1} MiB stored, not deflated)",
        summary.compression.members,
        mib(summary.compression.stored_bytes)
    );
    println!("workers        {}", args.options.workers);
    println!(
        "seconds        {seconds:.2} (entries streamed in {streamed:.2}, finish {:.2})",
        seconds - streamed
    );
    println!("throughput     {:.0} MiB/s", mib(summary.bytes) / seconds);
    println!("peak RSS       {:.1} MiB", mib(peak_rss()?));

    if let Some(key) = &args.verify {
        let start = Instant::now();
        let report = open(&summary.path, &Decryption::identity_file(key)?)?.verify()?;
        println!(
            "verify         {} entries in {:.2} s, peak RSS {:.1} MiB",
            report.entries,
            start.elapsed().as_secs_f64(),
            mib(peak_rss()?)
        );
    }
    Ok(())
}

/// Regular files under `dir`, as `/`-separated paths relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), BoxError> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path.strip_prefix(root)?;
            let rel = rel.to_str().ok_or("non-UTF-8 file name")?;
            out.push(rel.replace(std::path::MAIN_SEPARATOR, "/"));
        }
    }
    Ok(())
}

fn peak_rss() -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or("no VmHWM")?
        .parse()?;
    Ok(kb * 1024)
}
