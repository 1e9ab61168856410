#!/usr/bin/env bash
# Fuzzes the sv.yaml parser and the backup archive reader with cargo-fuzz (libFuzzer, ASan)
# for a bounded time per target. Separate from scripts/test.sh: it needs nightly Rust and
# minutes of CPU. Installs nightly (minimal profile) and cargo-fuzz when missing.
#
#   scripts/fuzz.sh                                   # every target, 60 s each
#   FUZZ_SECONDS=900 scripts/fuzz.sh config           # one target, 15 min
#
# Targets (fuzz/fuzz_targets/): config (sv_config::load_str and every environment),
# archive_payload (gzip + tar + manifest below age, via ArchiveReader::open_decrypted),
# archive_file (whole files through age, as `sv-backup verify` opens them).
# The corpus grows in fuzz/corpus/<target> (kept between runs, not committed); a crash is
# saved in fuzz/artifacts/<target>/ and fails the script: reproduce it with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`, then add the input to
# tests/corpus so the fix stays tested.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
if [[ $# -gt 0 ]]; then TARGETS=("$@"); else TARGETS=(config archive_payload archive_file); fi
SEEDS="$ROOT/fuzz/target/seeds"

log() { printf '==> %s\n' "$*" >&2; }

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  log "installing the nightly toolchain (cargo-fuzz needs -Z sanitizer flags)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

log "seeds: real archives and payloads (make-seeds), sv.yaml files from the repository"
rm -rf "$SEEDS"
cargo +nightly run --quiet --release --manifest-path fuzz/Cargo.toml --bin make-seeds -- "$SEEDS" >&2
mkdir -p "$SEEDS/config"
n=0
while IFS= read -r -d '' f; do
  cp "$f" "$SEEDS/config/seed-$n.yaml"
  n=$((n + 1))
done < <(find examples/spacevision/sv.yaml crates/sv-config/tests/fixtures tests/corpus/config/ -name '*.yaml' -print0)
export SV_FUZZ_IDENTITY="$SEEDS/key.txt"

failed=()
for target in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  log "fuzzing $target for ${SECONDS_PER_TARGET}s"
  logfile="fuzz/target/$target.log"
  if cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "$SEEDS/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
    -print_final_stats=1 2>"$logfile"; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logfile" | grep -o '[0-9]*$' || echo '?')"
    corpus="$(find "fuzz/corpus/$target" -type f | wc -l)"
    log "$target: no crash in ${SECONDS_PER_TARGET}s, $runs inputs run, corpus $corpus"
  else
    log "$target: FAILED (last lines of $logfile below; the input is in fuzz/artifacts/$target/)"
    tail -40 "$logfile" >&2
    failed+=("$target")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  log "fuzzing found problems in: ${failed[*]}"
  exit 1
fi
log "fuzzing: no crash in ${TARGETS[*]}"
