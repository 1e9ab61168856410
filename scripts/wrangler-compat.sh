#!/usr/bin/env bash
# wrangler against sv-emulator: deploy (new and existing Worker, with routes, a custom
# domain, cron triggers and static assets), versions upload,
# d1 create / execute --remote (--command and --file) / export / migrations apply, kv namespace create +
# key put/get --remote, secret put / bulk / list, r2 bucket create + object put/get,
# pages project create + pages deploy,
# and tail. Needs node + npm; wrangler is installed into a scratch
# directory outside the repository (or set WRANGLER=/path/to/wrangler).
#
#   scripts/wrangler-compat.sh            # build the emulator (debug) and run every check
#   WRANGLER=/x/node_modules/.bin/wrangler scripts/wrangler-compat.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sv-wrangler-compat.XXXXXX")"
EMU_PID=""
TAIL_PID=""
BASE=""
NS=""
FAILED=0

cleanup() {
  if [[ -n "$TAIL_PID" ]]; then kill "$TAIL_PID" 2>/dev/null || true; fi
  if [[ -n "$EMU_PID" ]]; then kill "$EMU_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}

log() { printf '%s\n' "$*" >&2; }

check() {
  local name="$1"
  shift
  if "$@" >"$WORK/last.log" 2>&1; then
    log "ok   $name"
  else
    log "FAIL $name"
    sed 's/^/     /' "$WORK/last.log" >&2
    FAILED=1
  fi
}

contains() {
  local needle="$1" file="$2"
  grep -q -- "$needle" "$file" || { log "expected '$needle' in $file:"; cat "$file" >&2; return 1; }
}

install_wrangler() {
  if [[ -n "${WRANGLER:-}" ]]; then
    return
  fi
  log "installing wrangler into $WORK/npm (outside the repository)"
  mkdir -p "$WORK/npm"
  (cd "$WORK/npm" && npm init -y >/dev/null && npm install --no-audit --no-fund wrangler >/dev/null 2>&1)
  WRANGLER="$WORK/npm/node_modules/.bin/wrangler"
}

start_emulator() {
  local bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/sv-emulator"
  (cd "$ROOT" && cargo build -p sv-emulator --bin sv-emulator >/dev/null)
  "$bin" --listen 127.0.0.1:0 --in-memory --seed 11 --validate-requests >"$WORK/emu.out" 2>"$WORK/emu.err" &
  EMU_PID=$!
  for _ in $(seq 1 50); do
    if [[ -s "$WORK/emu.out" ]]; then break; fi
    sleep 0.1
  done
  BASE="$(head -1 "$WORK/emu.out" | sed 's/^listening on //')"
  [[ "$BASE" == http://127.0.0.1:* ]] || { log "emulator did not start"; cat "$WORK/emu.err" >&2; exit 1; }
  export CLOUDFLARE_API_BASE_URL="$BASE/client/v4"
  export CLOUDFLARE_API_TOKEN="compat-token"
  export CLOUDFLARE_ACCOUNT_ID="5e1f0c0ffee0a11ce5e1f0c0ffee0a11"
  export WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true CI=true
}

write_project() {
  mkdir -p "$WORK/proj/src"
  cat >"$WORK/proj/wrangler.toml" <<'TOML'
name = "compat-worker"
main = "src/index.js"
compatibility_date = "2025-01-01"
workers_dev = true
routes = [
  { pattern = "shop.example.com/*", zone_name = "example.com" },
  { pattern = "app.example.com", custom_domain = true },
]

[triggers]
crons = ["*/15 * * * *"]

[assets]
directory = "./public"
binding = "ASSETS"

[vars]
SV_RESPONSE = '{"status": 200, "body": "compat ok"}'
TOML
  mkdir -p "$WORK/proj/public"
  printf '<h1>static compat</h1>\n' >"$WORK/proj/public/index.html"
  cat >"$WORK/proj/src/index.js" <<'JS'
export default { async fetch() { return new Response("hello"); } };
JS
  mkdir -p "$WORK/site/dist"
  printf '<h1>compat</h1>\n' >"$WORK/site/dist/index.html"
  printf 'body{}\n' >"$WORK/site/dist/app.css"
  printf "CREATE TABLE f (x TEXT);\nINSERT INTO f VALUES ('a');\nINSERT INTO f VALUES ('b');\n" >"$WORK/proj/seed.sql"
}

w() { (cd "$WORK/proj" && timeout 120 "$WRANGLER" "$@"); }

t_deploy_new() { w deploy >"$WORK/deploy1.log" 2>&1 && contains 'Current Version ID' "$WORK/deploy1.log"; }
t_serves() { curl -sf -H 'Host: compat-worker.sv-emulator.workers.dev' "$BASE/api" | grep -q 'compat ok'; }
t_assets() { curl -sf -H 'Host: compat-worker.sv-emulator.workers.dev' "$BASE/" | grep -q 'static compat'; }
t_route() { curl -sf -H 'Host: shop.example.com' "$BASE/cart" | grep -q 'compat ok'; }
t_custom_domain() { curl -sf -H 'Host: app.example.com' "$BASE/api" | grep -q 'compat ok'; }
t_crons() {
  curl -sf -H 'Authorization: Bearer compat-token' \
    "$CLOUDFLARE_API_BASE_URL/accounts/$CLOUDFLARE_ACCOUNT_ID/workers/scripts/compat-worker/schedules" | grep -q '\*/15 \* \* \* \*'
}
t_deploy_existing() { w deploy >"$WORK/deploy2.log" 2>&1 && contains 'Current Version ID' "$WORK/deploy2.log"; }
t_versions_upload() { w versions upload --message compat --tag v2 >"$WORK/vu.log" 2>&1 && contains 'Worker Version ID' "$WORK/vu.log"; }
t_d1_create() { w d1 create compatdb >"$WORK/d1c.log" 2>&1; }
t_d1_command() {
  w d1 execute compatdb --remote --command 'CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1),(2); SELECT count(*) AS n FROM t;' >"$WORK/d1e.log" 2>&1 &&
    contains '"n": 2' "$WORK/d1e.log"
}
t_d1_file() { w d1 execute compatdb --remote --file seed.sql --yes >"$WORK/d1f.log" 2>&1; }
t_d1_export() { w d1 export compatdb --remote --output out.sql >"$WORK/d1x.log" 2>&1 && contains "VALUES('b');" "$WORK/proj/out.sql"; }
t_d1_migrations() {
  local id
  id="$(grep -o 'database_id = "[0-9a-f-]*"' "$WORK/d1c.log" | head -1 | sed 's/database_id = "\(.*\)"/\1/')"
  mkdir -p "$WORK/mig/migrations"
  printf 'name = "mig"\nmain = "index.js"\ncompatibility_date = "2025-01-01"\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "compatdb"\ndatabase_id = "%s"\n' "$id" >"$WORK/mig/wrangler.toml"
  printf 'export default { fetch() { return new Response("m"); } };\n' >"$WORK/mig/index.js"
  printf 'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n' >"$WORK/mig/migrations/0001_init.sql"
  printf 'ALTER TABLE users ADD COLUMN email TEXT;\n' >"$WORK/mig/migrations/0002_email.sql"
  (cd "$WORK/mig" && timeout 60 "$WRANGLER" d1 migrations apply compatdb --remote) >"$WORK/mig1.log" 2>&1 &&
    (cd "$WORK/mig" && timeout 60 "$WRANGLER" d1 migrations apply compatdb --remote) >"$WORK/mig2.log" 2>&1 &&
    contains 'No migrations to apply' "$WORK/mig2.log"
}
t_kv_create() { w kv namespace create compatkv >"$WORK/kvc.log" 2>&1; }
t_kv_put() { w kv key put --namespace-id "$NS" 'dir/key' 'hello kv' --remote >"$WORK/kvp.log" 2>&1; }
t_kv_put_meta() { w kv key put --namespace-id "$NS" meta v --metadata '{"a":1}' --ttl 120 --remote >"$WORK/kvm.log" 2>&1; }
t_kv_get() { w kv key get --namespace-id "$NS" 'dir/key' --remote >"$WORK/kvg.log" 2>&1 && contains 'hello kv' "$WORK/kvg.log"; }

t_secret_put() { printf 's3cret-value' | w secret put API_KEY >"$WORK/sp.log" 2>&1 && contains 'Success' "$WORK/sp.log"; }
t_secret_bulk() {
  printf '{"A":"1","B":"2"}' >"$WORK/proj/secrets.json"
  w secret bulk secrets.json </dev/null >"$WORK/sb.log" 2>&1 && contains '2 secrets successfully uploaded' "$WORK/sb.log"
}
t_secret_list() {
  w secret list >"$WORK/sl.log" 2>&1 && contains '"API_KEY"' "$WORK/sl.log" && contains '"B"' "$WORK/sl.log" &&
    ! grep -q 's3cret-value' "$WORK/sl.log"
}
t_still_serves() { t_serves; }

t_r2() {
  printf 'r2 compat\n' >"$WORK/proj/obj.txt"
  w r2 bucket create compat-bucket >"$WORK/r2c.log" 2>&1 &&
    w r2 object put compat-bucket/dir/obj.txt --file obj.txt --remote >"$WORK/r2p.log" 2>&1 &&
    w r2 object get compat-bucket/dir/obj.txt --remote --pipe >"$WORK/r2g.log" 2>&1 &&
    contains 'r2 compat' "$WORK/r2g.log"
}

t_pages_create() { (cd "$WORK/site" && timeout 60 "$WRANGLER" pages project create compat-site --production-branch main) >"$WORK/pc.log" 2>&1; }
t_pages_deploy() {
  (cd "$WORK/site" && timeout 120 "$WRANGLER" pages deploy dist --project-name compat-site --branch main --commit-dirty=true) >"$WORK/pd.log" 2>&1 &&
    contains 'Deployment complete' "$WORK/pd.log"
}

run_checks() {
  check "deploy (new worker)" t_deploy_new
  check "the Worker answers on workers.dev" t_serves
  check "static assets are served" t_assets
  check "the Worker answers on its zone route" t_route
  check "the Worker answers on its custom domain" t_custom_domain
  check "cron triggers were set" t_crons
  check "deploy (existing worker: versions + deployments)" t_deploy_existing
  check "versions upload" t_versions_upload
  check "secret put" t_secret_put
  check "secret bulk (settings PATCH keeping bindings)" t_secret_bulk
  check "secret list shows names, never values" t_secret_list
  check "the Worker still answers after secret changes" t_still_serves
  check "d1 create" t_d1_create
  check "d1 execute --remote --command" t_d1_command
  check "d1 execute --remote --file (import flow)" t_d1_file
  check "d1 export --remote (export flow)" t_d1_export
  check "d1 migrations apply --remote (twice: the second applies nothing)" t_d1_migrations
  check "r2 bucket create, object put/get --remote" t_r2
  check "pages project create" t_pages_create
  check "pages deploy (direct upload)" t_pages_deploy
  check "kv namespace create" t_kv_create
  NS="$(grep -o 'id = "[0-9a-f]*"' "$WORK/kvc.log" | head -1 | sed 's/id = "\(.*\)"/\1/')"
  check "kv key put --remote" t_kv_put
  check "kv key put --remote --metadata --ttl" t_kv_put_meta
  check "kv key get --remote" t_kv_get

  (cd "$WORK/proj" && timeout 20 "$WRANGLER" tail compat-worker --format json >"$WORK/tail.log" 2>&1) &
  TAIL_PID=$!
  sleep 8
  curl -s -H 'Host: compat-worker.sv-emulator.workers.dev' "$BASE/tailed" >/dev/null || true
  sleep 3
  check "tail streams an event" contains '"scriptName": "compat-worker"' "$WORK/tail.log"
}

main() {
  trap cleanup EXIT
  install_wrangler
  start_emulator
  write_project
  run_checks
  # wrangler's calls are part of the contract: none may break a request schema.
  curl -fsS "$BASE/__admin/violations" >"$WORK/violations.json"
  check "no request-schema violations" contains '"count":0,' "$WORK/violations.json"
  log "request validation report: $(cat "$WORK/violations.json")"
  if [[ "$FAILED" -ne 0 ]]; then
    log "wrangler compatibility: FAILED"
    exit 1
  fi
  log "wrangler compatibility: all checks passed"
}

main "$@"
