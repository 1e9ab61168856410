#!/usr/bin/env bash
# Installs the system tools the test suite runs and the machine lacks (idempotent).
# scripts/test.sh calls it before building. Debian/Ubuntu (apt-get), as root or via sudo.
#   age     sv-archive's interop tests decrypt our archives with the standard `age` CLI
#           and encrypt foreign ones with it (Debian's age 1.1 includes age-keygen).
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    printf 'setup-test-deps: need root (or sudo) to run: %s\n' "$*" >&2
    return 1
  fi
}

main() {
  local missing=()
  command -v age >/dev/null 2>&1 || missing+=(age)
  command -v tar >/dev/null 2>&1 || missing+=(tar)
  command -v gzip >/dev/null 2>&1 || missing+=(gzip)
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  printf 'setup-test-deps: installing %s\n' "${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

main "$@"
