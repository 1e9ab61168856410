#!/usr/bin/env bash
# download-artifact stand-in: see action.yml.
set -euo pipefail

die() { echo "::error title=download-artifact stand-in::$*" >&2; exit 1; }

main() {
    local store="${SV_ACT_ARTIFACT_DIR:-}"
    [ -n "$store" ] || die "SV_ACT_ARTIFACT_DIR is not set: this stand-in only works under sv-test's ActRun"
    local dest="${INPUT_PATH:-}"
    dest="${dest/#\~/$HOME}"
    [ -n "$dest" ] || dest="${GITHUB_WORKSPACE:-$PWD}"
    case "$dest" in /*) ;; *) dest="$PWD/$dest" ;; esac
    mkdir -p "$dest"

    if [ -n "${INPUT_NAME:-}" ]; then
        [ -d "$store/$INPUT_NAME" ] || die "Unable to download artifact(s): Artifact not found for name: $INPUT_NAME"
        cp -pR "$store/$INPUT_NAME/." "$dest/"
        echo "downloaded artifact '$INPUT_NAME' to $dest"
    else
        local pattern="${INPUT_PATTERN:-*}" dir name count=0
        for dir in "$store"/*/; do
            [ -d "$dir" ] || continue
            name="$(basename "$dir")"
            # shellcheck disable=SC2053 # the pattern is a glob
            [[ "$name" == $pattern ]] || continue
            if [ "${INPUT_MERGE_MULTIPLE:-false}" = true ]; then
                cp -pR "$dir." "$dest/"
            else
                mkdir -p "$dest/$name"
                cp -pR "$dir." "$dest/$name/"
            fi
            count=$((count + 1))
        done
        echo "downloaded $count artifact(s) to $dest"
    fi
    echo "download-path=$dest" >>"${GITHUB_OUTPUT:?}"
}

main "$@"
