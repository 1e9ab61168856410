#!/usr/bin/env bash
# Benchmarks sv-backup's archive pipeline (crates/sv-archive) against the standard tools
# on the same deterministic data, in one run:
#   1. tar czf - DIR | age -r KEY          (gzip, one core)
#   2. tar cf - DIR | pigz -6 | age -r KEY (gzip on every core)
#   3. archive-bench DIR OUT               (ours: parallel members, stored incompressible chunks)
# printing seconds, output size, ratios and peak RSS for each.
#
# Usage: [ROUNDS=N] scripts/bench-archive.sh [SIZE_MB] [WORKDIR]
#   SIZE_MB  approximate data size, half text-like, half incompressible (default 512)
#   WORKDIR  where data and outputs go (default: a new directory under /var/tmp, removed
#            afterwards; needs about 2.5 x SIZE_MB of free disk)
#   ROUNDS   run the three pipelines this many times, interleaved, and keep each one's
#            best time (default 1; more rounds damp noise on a shared machine)
#   AUTOGROUP_NICE  on a machine shared with other sessions (Linux autogroup scheduling
#            splits CPU per session), e.g. -15 gives this session's group priority for
#            the run, approximating an idle machine; all three pipelines get it alike.
#            Restored to 0 on exit. Needs root.
# Needs: age, tar, python3; pigz and GNU time (/usr/bin/time) are used when present.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    printf 'bench-archive: %s is required (%s)\n' "$1" "$2" >&2
    exit 2
  fi
}

# Deterministic data: SQL-dump-like and JSON-lines text (compresses ~4-6x) and
# pseudo-random bytes standing in for already-compressed R2 objects, in big, medium and
# small files, like a real backup.
generate() {
  local dir="$1" size_mb="$2"
  python3 - "$dir" "$size_mb" <<'PY'
import os, random, sys

root, size_mb = sys.argv[1], int(sys.argv[2])
MB = 1024 * 1024
rng = random.Random(20261125)
words = ("alice bob carol dave eve mallory trent peggy victor walter sybil oscar "
         "uploads sessions orders invoices photos thumbnails active expired pending").split()

def text_pool(n):
    lines, total, i = [], 0, 0
    while total < n:
        if i % 2:
            line = ("INSERT INTO \"orders\" VALUES(%d,'%s','%s@example.com',%d,%.2f,'%s');\n"
                    % (i, rng.choice(words), rng.choice(words), 1700000000 + rng.randrange(10**7),
                       rng.random() * 1000, rng.choice(words)))
        else:
            line = ('{"key":"session:%08x","value":{"user":"%s","ttl":%d,"tags":["%s","%s"]}}\n'
                    % (rng.getrandbits(32), rng.choice(words), rng.randrange(86400),
                       rng.choice(words), rng.choice(words)))
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines).encode()

# A pool larger than gzip's 32 KiB window: reusing it costs deflate the same as fresh text.
pool = text_pool(8 * MB)

def write_text(path, n):
    with open(path, "wb") as f:
        off = rng.randrange(len(pool))
        while n > 0:
            piece = pool[off:off + min(n, len(pool) - off)]
            f.write(piece)
            n -= len(piece)
            off = 0 if off + len(piece) >= len(pool) else off + len(piece)

def write_random(path, n):
    with open(path, "wb") as f:
        while n > 0:
            k = min(n, 4 * MB)
            f.write(rng.randbytes(k))
            n -= k

half = size_mb * MB // 2
for sub in ("d1", "kv", "r2/objects", "r2/small"):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
# Text: four SQL dumps (3/4 of the text) and 1 MiB JSONL files.
for i in range(4):
    write_text(os.path.join(root, "d1", "dump-%d.sql" % i), half * 3 // 16)
for i in range(half // 4 // MB):
    write_text(os.path.join(root, "kv", "entries-%03d.jsonl" % i), MB)
# Incompressible: two big objects (1/2), 1 MiB objects (1/2 less the small ones).
for i in range(2):
    write_random(os.path.join(root, "r2/objects", "video-%d.bin" % i), half // 4)
small_total = 0
for i in range(2000):
    n = rng.randrange(512, 8192)
    (write_text if i % 2 else write_random)(os.path.join(root, "r2/small", "obj-%04d" % i), n)
    small_total += n
for i in range((half // 2 - small_total) // MB):
    write_random(os.path.join(root, "r2/objects", "photo-%03d.jpg" % i), MB)
PY
}

# Runs a command under GNU time; writes "SECONDS PEAK_RSS_KB CPU_SECONDS" (peak of the
# largest process; user + system time of all processes) to the report file.
measure() {
  local report="$1"
  shift
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%e %M %U %S' -o "$report" "$@"
  else
    local start end
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    printf '%s 0 0 0\n' "$(echo "$end - $start" | bc)" >"$report"
  fi
}

main() {
  local size_mb="${1:-512}" work="${2:-}" root cleanup=0
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  need age "apt-get install -y age"
  need age-keygen "apt-get install -y age"
  need tar "apt-get install -y tar"
  need python3 "apt-get install -y python3"
  need bc "apt-get install -y bc"
  if [ ! -x /usr/bin/time ]; then
    log "GNU time is missing (apt-get install -y time): peak RSS will show as 0"
  fi
  local have_pigz=1
  if ! command -v pigz >/dev/null 2>&1; then
    have_pigz=0
    log "pigz is missing (apt-get install -y pigz): skipping the pigz row"
  fi
  if [ -z "$work" ]; then
    work="$(mktemp -d /var/tmp/sv-bench-archive.XXXXXX)"
    cleanup=1
  fi
  local on_exit=""
  if [ "$cleanup" = 1 ]; then
    on_exit="rm -rf '$work';"
  fi
  if [ -n "${AUTOGROUP_NICE:-}" ]; then
    echo "$AUTOGROUP_NICE" >/proc/self/autogroup
    on_exit="$on_exit echo 0 >/proc/self/autogroup;"
    log "session autogroup: $(cat /proc/self/autogroup)"
  fi
  # shellcheck disable=SC2064 # expand now: the values are fixed
  trap "$on_exit" EXIT
  mkdir -p "$work/out"

  log "building the benchmark binary (release)"
  (cd "$root" && cargo build --release --quiet --example archive-bench -p sv-archive)
  local bench_bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/archive-bench"

  if [ ! -d "$work/data" ]; then
    log "generating ${size_mb} MB of deterministic data in $work/data"
    generate "$work/data" "$size_mb"
  fi
  local input_kb
  input_kb=$(du -sk "$work/data" | cut -f1)
  if [ ! -f "$work/key.txt" ]; then
    age-keygen -o "$work/key.txt" 2>/dev/null
  fi
  local key
  key=$(age-keygen -y "$work/key.txt")
  # Warm the page cache so every row reads the data from memory alike.
  tar cf - -C "$work/data" . >/dev/null
  local load_before
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)

  local rounds="${ROUNDS:-1}" round
  local -a names=("tar czf | age" "tar cf | pigz -6 | age" "sv-archive")
  local -a outs=("$work/out/tar-gzip.tar.gz.age" "$work/out/tar-pigz.tar.gz.age" "$work/out/sv.tar.gz.age")
  local -a best=("" "" "") peak=(0 0 0) all=("" "" "") cpu=("" "" "")
  for round in $(seq 1 "$rounds"); do
    local i
    for i in 0 1 2; do
      if [ "$i" = 1 ] && [ "$have_pigz" = 0 ]; then
        continue
      fi
      log "round $round/$rounds: ${names[$i]}"
      rm -f "${outs[$i]}" "${outs[$i]}.sha256"
      case "$i" in
        0)
          # shellcheck disable=SC2016 # $1… belong to the inner shell
          measure "$work/time" bash -c 'set -o pipefail; tar czf - -C "$1" . | age -r "$2" -o "$3"' _ \
            "$work/data" "$key" "${outs[0]}"
          ;;
        1)
          # shellcheck disable=SC2016 # $1… belong to the inner shell
          measure "$work/time" bash -c 'set -o pipefail; tar cf - -C "$1" . | pigz -6 | age -r "$2" -o "$3"' _ \
            "$work/data" "$key" "${outs[1]}"
          ;;
        2)
          # shellcheck disable=SC2016 # $1… belong to the inner shell
          measure "$work/time" bash -c '"$1" "$2" "$3" --recipient "$4" >"$5"' _ \
            "$bench_bin" "$work/data" "${outs[2]}" "$key" "$work/ours.txt"
          ;;
      esac
      local secs rss user sys
      read -r secs rss user sys <"$work/time"
      all[i]="${all[$i]} $secs"
      if [ -z "${best[$i]}" ] || [ "$(echo "$secs < ${best[$i]}" | bc)" = 1 ]; then
        best[i]="$secs"
        cpu[i]="$(echo "$user + $sys" | bc)"
      fi
      if [ "$rss" -gt "${peak[$i]}" ]; then
        peak[i]="$rss"
      fi
    done
  done

  log "checking our output with the standard tools: age -d | tar tz"
  local listed
  listed=$(age -d -i "$work/key.txt" "$work/out/sv.tar.gz.age" | tar tz | wc -l)
  local files
  files=$(find "$work/data" -type f | wc -l)
  if [ "$listed" -ne $((files + 1)) ]; then
    printf 'bench-archive: tar listed %s members, expected %s\n' "$listed" $((files + 1)) >&2
    exit 1
  fi

  local base_s="${best[0]}"
  printf '\ninput: %s files, %s MiB (half text-like, half incompressible); %s cores; load average before: %s\n' \
    "$files" "$((input_kb / 1024))" "$(nproc)" "$load_before"
  printf 'best of %s round(s); CPU = user + system seconds of that run, all processes' "$rounds"
  if [ -n "${AUTOGROUP_NICE:-}" ]; then
    printf '; session autogroup nice %s' "$AUTOGROUP_NICE"
  fi
  printf '\n\n'
  printf '%-24s %8s %9s %8s %9s %11s %6s %9s  %s\n' pipeline seconds "speed-up" "CPU s" "CPU ratio" \
    "output MiB" ratio "peak RSS" "all runs (s)"
  local i out_kb
  for i in 0 1 2; do
    [ -n "${best[$i]}" ] || continue
    out_kb=$(du -k "${outs[$i]}" | cut -f1)
    printf '%-24s %8.2f %8.2fx %8.2f %8.2fx %11d %6.3f %6d MiB %s\n' "${names[$i]}" "${best[$i]}" \
      "$(echo "$base_s / ${best[$i]}" | bc -l)" "${cpu[$i]}" "$(echo "${cpu[0]} / ${cpu[$i]}" | bc -l)" \
      "$((out_kb / 1024))" "$(echo "$out_kb / $input_kb" | bc -l)" "$((peak[i] / 1024))" "${all[$i]}"
  done
  printf '\nsv-archive details:\n'
  sed 's/^/  /' "$work/ours.txt"
}

main "$@"
