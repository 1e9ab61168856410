#!/usr/bin/env bash
# checkout stand-in: see action.yml.
set -euo pipefail

die() { echo "::error title=checkout stand-in::$*" >&2; exit 1; }

main() {
    local src="${SRC:-}"
    if [ -z "$src" ] || [ ! -d "$src" ]; then
        die "SRC is not set: this stand-in only works under sv-test's ActRun"
    fi
    if [ -n "${INPUT_REPOSITORY:-}" ] && [ "$INPUT_REPOSITORY" != "${GITHUB_REPOSITORY:-}" ]; then
        die "cannot check out $INPUT_REPOSITORY: only the repository under test is available offline"
    fi
    local dest="${GITHUB_WORKSPACE:?}"
    if [ -n "${INPUT_PATH:-}" ]; then dest="$dest/$INPUT_PATH"; fi
    mkdir -p "$dest"
    cp -a "$src/." "$dest/"
    echo "checked out $src into $dest"
}

main "$@"
