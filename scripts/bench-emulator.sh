#!/usr/bin/env bash
# Throughput benchmark of sv-emulator: KV reads/s and D1 queries/s with 100 concurrent
# clients (targets: >= 5,000 and >= 1,000, no errors). Builds with the bench (release)
# profile. Extra arguments go to the benchmark: --clients N --seconds S --data tmp --check
set -euo pipefail

main() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cd "$root"
  cargo bench -p sv-emulator --bench throughput -- "$@"
}

main "$@"
