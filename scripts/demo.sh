#!/usr/bin/env bash
# The demo (README "Quick start", first command): builds sv, starts sv-emulator (a local
# Cloudflare API: no account, no network) and runs the sv tools on examples/spacevision.
# Leaves nothing running. Set KEEP=1 to keep the emulator up afterwards and print how to
# use it.
set -euo pipefail

log() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

start_emulator() {
  local out="$1"
  "$BIN/sv-emulator" --listen 127.0.0.1:0 --in-memory --seed 1 --account-id "$ACCOUNT_ID" \
    --zone-name staging.spacevision.app --validate-requests >"$out" 2>"$out.err" &
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

stop_emulator() {
  if [ -n "${EMULATOR_PID:-}" ] && [ -z "${KEEP:-}" ]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
  fi
}

main() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cd "$root"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/sv-target}"
  BIN="$CARGO_TARGET_DIR/debug"
  ACCOUNT_ID="5e1f0c0ffee0a11ce5e1f0c0ffee0a11"

  log "building sv (cargo build --workspace --bins)"
  cargo build --workspace --locked --bins

  WORK="$(mktemp -d)"
  trap 'stop_emulator; rm -rf "$WORK"' EXIT
  log "starting sv-emulator"
  start_emulator "$WORK/emulator.out"
  echo "sv-emulator at $EMULATOR_URL (pid $EMULATOR_PID)"

  export CLOUDFLARE_API_BASE_URL="$EMULATOR_URL/client/v4"
  export CLOUDFLARE_API_TOKEN="demo-token-not-a-secret"
  export CLOUDFLARE_ACCOUNT_ID="$ACCOUNT_ID"
  export GITHUB_API_URL="$EMULATOR_URL/github"

  log "the emulator answers like Cloudflare: GET /user/tokens/verify"
  curl -fsS -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN" "$CLOUDFLARE_API_BASE_URL/user/tokens/verify"
  echo

  # A scratch copy, so the demo never writes into the repository.
  cp -a examples/spacevision "$WORK/app"
  rm -rf "$WORK/app/node_modules"
  cd "$WORK/app"

  log "sv-plan validate: sv.yaml and wrangler config, every environment resolved"
  "$BIN/sv-plan" validate

  # Workspace links only: the demo needs no devDependencies (wrangler is for `npm run dev`).
  npm install --offline --omit=dev --no-audit --no-fund --silent
  export USER="${USER:-demo}"

  log "sv-plan plan: what staging needs, read from the (empty) emulated account"
  "$BIN/sv-plan" plan --env staging --out "$WORK/staging.plan"

  log "sv-plan apply: everything; the route and custom domain wait for the Worker's first deploy"
  "$BIN/sv-plan" apply --env staging --auto-approve

  # The emulated Worker runs no JavaScript: each version declares what it answers.
  local host="spacevision-api-staging.sv-emulator.workers.dev"
  local authority="${EMULATOR_URL#http://}"
  log "sv-deploy deploy: ordered builds, new version, smoke test, gated rollout, then the waiting routes"
  "$BIN/sv-deploy" deploy --env staging --gate-window 1s \
    --worker-url "http://$host" --connect-to "$authority" \
    --annotate 'sv/response={"status":200,"body":"{\"ok\":true}","paths":{"/health":{"status":200,"body":"{\"ok\":true}"}}}'

  log "sv-plan plan --detailed-exitcode: live account matches sv.yaml (exit 0 = no changes)"
  "$BIN/sv-plan" plan --env staging --detailed-exitcode

  log "sv-deploy status and history"
  "$BIN/sv-deploy" status --env staging --worker-url "http://$host" --connect-to "$authority"
  "$BIN/sv-deploy" history --env staging

  log "audit trail (.sv/audit.jsonl): one line per change"
  wc -l .sv/audit.jsonl

  log "request validation: every call above matched Cloudflare's request schemas"
  local report
  report="$(curl -fsS "$EMULATOR_URL/__admin/violations")"
  case "$report" in
    *'"count":0,'*) echo "0 violations" ;;
    *) echo "request-schema violations: $report" >&2; exit 1 ;;
  esac

  log "done"
  if [ -n "${KEEP:-}" ]; then
    echo "sv-emulator keeps running at $EMULATOR_URL (pid $EMULATOR_PID); stop it with: kill $EMULATOR_PID"
    echo "export CLOUDFLARE_API_BASE_URL=$CLOUDFLARE_API_BASE_URL CLOUDFLARE_API_TOKEN=$CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID=$CLOUDFLARE_ACCOUNT_ID"
  fi
}

main "$@"
