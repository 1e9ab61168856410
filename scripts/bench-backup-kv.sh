#!/usr/bin/env bash
# Benchmarks how many Cloudflare API requests `sv-backup create` needs for one KV namespace:
# fills a namespace of sv-emulator with N text values (default 100,000), backs it up, checks
# the archive holds every key, and prints the request count next to the minimum
# (1 namespace lookup + ceil(N/1000) list pages + ceil(N/100) bulk reads) and the time.
#
# Usage: [BIN=DIR] scripts/bench-backup-kv.sh [KEYS] [LATENCY]
#   KEYS     keys in the namespace (default 100000)
#   LATENCY  sv-emulator --latency per request, e.g. 50ms (default 0ms)
#   BIN      directory of built sv binaries (default: $CARGO_TARGET_DIR/debug, after
#            `cargo build --bins -p sv-emulator -p sv-backup`)
# Needs: curl, python3, age-keygen.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

ACCOUNT_ID="5e1f0c0ffee0a11ce5e1f0c0ffee0a11"

start_emulator() {
  local out="$1" latency="$2"
  "$BIN/sv-emulator" --listen 127.0.0.1:0 --in-memory --account-id "$ACCOUNT_ID" \
    --latency "$latency" >"$out" 2>"$out.err" &
  EMULATOR_PID=$!
  local line=""
  for _ in $(seq 1 100); do
    line="$(head -n 1 "$out" 2>/dev/null || true)"
    [ -n "$line" ] && break
    sleep 0.1
  done
  case "$line" in
    "listening on "*) EMULATOR_URL="${line#listening on }" ;;
    *) echo "sv-emulator did not start:" >&2; cat "$out.err" >&2; exit 1 ;;
  esac
}

cleanup() {
  if [ -n "${EMULATOR_PID:-}" ]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
  fi
  if [ -n "${WORK:-}" ]; then rm -rf "$WORK"; fi
}

main() {
  local keys="${1:-100000}" latency="${2:-0ms}" root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  BIN="${BIN:-${CARGO_TARGET_DIR:-$root/target}/debug}"
  for tool in sv-emulator sv-backup; do
    [ -x "$BIN/$tool" ] || { echo "bench-backup-kv: $BIN/$tool missing (cargo build --bins)" >&2; exit 2; }
  done
  WORK="$(mktemp -d)"
  trap cleanup EXIT
  start_emulator "$WORK/emulator.out" "$latency"
  local api="$EMULATOR_URL/client/v4/accounts/$ACCOUNT_ID/storage/kv/namespaces"
  local auth="authorization: Bearer bench-token"

  log "filling KV namespace staging-cache with $keys keys"
  local ns
  ns="$(curl -fsS -H "$auth" -H 'content-type: application/json' \
    --data '{"title":"staging-cache"}' "$api" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])')"
  python3 - "$keys" "$WORK" <<'PY'
import json, sys
keys, work = int(sys.argv[1]), sys.argv[2]
batch = 10_000
for n, start in enumerate(range(0, keys, batch)):
    pairs = [{"key": "session:%07d" % i, "value": '{"user":"u%d","ttl":%d}' % (i, i % 86400)}
             for i in range(start, min(keys, start + batch))]
    with open("%s/bulk-%04d.json" % (work, n), "w") as f:
        json.dump(pairs, f)
PY
  local file
  for file in "$WORK"/bulk-*.json; do
    curl -fsS -o /dev/null -X PUT -H "$auth" -H 'content-type: application/json' \
      --data-binary "@$file" "$api/$ns/bulk"
  done

  log "backing up with sv-backup create"
  mkdir -p "$WORK/app"
  cp -a "$root/examples/spacevision/." "$WORK/app/"
  rm -rf "$WORK/app/node_modules" "$WORK/app/.sv"
  python3 - "$WORK/app/sv.yaml" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
text, n = re.subn(r"include: \[[^\]]*\]", "include: [kv.cache]", text, count=1)
assert n == 1, "backup.include not found in sv.yaml"
open(path, "w").write(text)
PY
  local recipient
  age-keygen -o "$WORK/key.txt" 2>/dev/null
  recipient="$(sed -n 's/^# public key: //p' "$WORK/key.txt")"
  local start end
  start="$(date +%s.%N)"
  (cd "$WORK/app" && CLOUDFLARE_API_BASE_URL="$EMULATOR_URL/client/v4" \
    CLOUDFLARE_API_TOKEN=bench-token CLOUDFLARE_ACCOUNT_ID="$ACCOUNT_ID" \
    "$BIN/sv-backup" --env staging --format json create --recipient "$recipient" \
    --out "$WORK/out" >"$WORK/report.json")
  end="$(date +%s.%N)"
  python3 - "$WORK/report.json" "$keys" "$start" "$end" <<'PY'
import json, math, sys
report = json.load(open(sys.argv[1]))
keys, start, end = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
items = report["archive"]["resources"]["kv.cache"]["items"]
sent = report["api_requests"]["kv.cache"]
lists, bulks = math.ceil(keys / 1000), math.ceil(keys / 100)
minimum = 1 + lists + bulks
assert items == keys, f"archive holds {items} keys, expected {keys}"
print(f"keys backed up:   {items}")
print(f"API requests:     {sent}")
print(f"minimum:          {minimum} (1 namespace lookup + {lists} list pages of 1000 + {bulks} bulk reads of 100)")
print(f"ratio to minimum: {sent / minimum:.2f}x")
print(f"wall time:        {end - start:.2f} s (archive {report['archive']['size']} bytes)")
PY
}

main "$@"
