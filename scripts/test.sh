#!/usr/bin/env bash
# The one test command (README "Quick start", second command; `.ci/run` calls it):
# installs what the tests need when missing, then checks formatting, lints, builds and
# runs every test. Idempotent; safe to run repeatedly.
set -euo pipefail

log() { printf '\n==> %s\n' "$*"; }

main() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cd "$root"

  # Builds live outside the clone so repeated runs (and fresh CI clones on the same
  # machine) reuse them; override by setting CARGO_TARGET_DIR yourself.
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/sv-target}"
  # Snapshots are reviewed and committed; tests never write them.
  export INSTA_UPDATE="${INSTA_UPDATE:-no}"
  export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

  if [ -x scripts/setup-test-deps.sh ]; then
    log "installing test dependencies (only what is missing)"
    bash scripts/setup-test-deps.sh
  fi
  if [ -d .venv-tools/bin ]; then
    PATH="$root/.venv-tools/bin:$PATH"
    export PATH
  fi

  log "cargo fmt --check"
  cargo fmt --all -- --check

  log "cargo clippy (warnings are errors)"
  cargo clippy --workspace --all-targets --locked -- -D warnings

  log "cargo build (binaries the tests run)"
  cargo build --workspace --locked --bins

  if [ -x scripts/lint.sh ]; then
    log "workflow, action and script linters"
    bash scripts/lint.sh
  fi

  if [ -f examples/spacevision/package.json ]; then
    # `npm ci` brings the example's one external package, wrangler (its devDependency, for
    # `npm run dev`, which a test runs), from the npm registry (~10 s).
    log "example app: npm ci, build and tests"
    (cd examples/spacevision && npm ci --no-audit --no-fund --silent && npm run build --silent && npm test --silent)
  fi

  log "cargo tests"
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
    cargo test --workspace --locked --doc
  else
    cargo test --workspace --locked --no-fail-fast
  fi

  # The emulator's contract includes wrangler's own calls: deploy, versions upload, d1
  # execute/export/migrations, kv, secrets, r2, pages, tail against sv-emulator, with every
  # request checked against Cloudflare's request schemas (installs wrangler from npm, ~1 min).
  log "wrangler against sv-emulator"
  WRANGLER="${WRANGLER:-$PWD/examples/spacevision/node_modules/.bin/wrangler}" bash scripts/wrangler-compat.sh
}

main "$@"
