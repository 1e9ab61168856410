#!/usr/bin/env bash
# upload-artifact stand-in: see action.yml. Layout rules follow actions/upload-artifact v4:
# the artifact root is the least common ancestor of the search paths (a directory's search
# path is itself, a file's its directory, a glob's the part before the first wildcard), and
# hidden files are left out unless include-hidden-files is true.
set -euo pipefail

die() { echo "::error title=upload-artifact stand-in::$*" >&2; exit 1; }

# Absolute, without trailing slashes or ./ segments, so prefixes compare reliably.
abspath() {
    local p="$1"
    case "$p" in /*) ;; *) p="$PWD/$p" ;; esac
    while [[ "$p" == *//* ]]; do p="${p//\/\//\/}"; done
    while [[ "$p" == */./* ]]; do p="${p//\/.\//\/}"; done
    p="${p%/.}"
    while [ "${#p}" -gt 1 ] && [[ "$p" == */ ]]; do p="${p%/}"; done
    printf '%s\n' "$p"
}

# Directory a pattern searches from.
search_root() {
    local p="$1" prefix
    if [[ "$p" == *[\*\?\[]* ]]; then
        prefix="${p%%[\*\?\[]*}"
        if [[ "$prefix" == */* ]]; then prefix="${prefix%/*}"; else prefix="."; fi
        abspath "${prefix:-/}"
    elif [ -d "$p" ]; then
        abspath "$p"
    else
        abspath "$(dirname "$p")"
    fi
}

common_ancestor() {
    local a="$1" b="$2"
    until [ "$a" = / ] || [ "$b" = "$a" ] || [[ "$b" == "$a"/* ]]; do
        a="$(dirname "$a")"
    done
    printf '%s\n' "$a"
}

is_hidden() {
    local rel="$1" part
    local IFS=/
    for part in $rel; do
        case "$part" in .*) return 0 ;; esac
    done
    return 1
}

main() {
    local store="${SV_ACT_ARTIFACT_DIR:-}"
    [ -n "$store" ] || die "SV_ACT_ARTIFACT_DIR is not set: this stand-in only works under sv-test's ActRun"
    local name="${INPUT_NAME:-artifact}"
    [[ "$name" =~ ^[^/\\:\<\>\|\*\?\"]+$ ]] || die "invalid artifact name: $name"

    local -a includes=() excludes=()
    local line
    while IFS= read -r line; do
        line="${line%$'\r'}"
        line="${line#"${line%%[![:space:]]*}"}"
        line="${line%"${line##*[![:space:]]}"}"
        [ -n "$line" ] || continue
        line="${line/#\~/$HOME}"
        case "$line" in
            '!'*) excludes+=("$(abspath "${line#!}")") ;;
            *) includes+=("$line") ;;
        esac
    done <<<"${INPUT_PATH:-}"
    [ "${#includes[@]}" -gt 0 ] || die "path is empty"

    shopt -s globstar nullglob dotglob
    local root="" pattern match f r
    local -a files=()
    for pattern in "${includes[@]}"; do
        r="$(search_root "$pattern")"
        if [ -z "$root" ]; then root="$r"; else root="$(common_ancestor "$root" "$r")"; fi
        # Unquoted on purpose: the pattern is a glob.
        # shellcheck disable=SC2206
        local -a matches=($pattern)
        [[ "$pattern" == *[\*\?\[]* ]] || matches=("$pattern")
        for match in "${matches[@]}"; do
            if [ -d "$match" ]; then
                while IFS= read -r -d '' f; do files+=("$(abspath "$f")"); done < <(find "$match" \( -type f -o -type l \) -print0)
            elif [ -e "$match" ]; then
                files+=("$(abspath "$match")")
            fi
        done
    done

    local -a kept=()
    local ex rel skip
    for f in ${files[@]+"${files[@]}"}; do
        rel="${f#"$root"/}"
        skip=0
        if [ "${INPUT_INCLUDE_HIDDEN_FILES:-false}" != true ] && is_hidden "$rel"; then skip=1; fi
        for ex in ${excludes[@]+"${excludes[@]}"}; do
            # shellcheck disable=SC2053 # the exclusion is a glob
            if [[ "$f" == $ex || "$f" == "$ex"/* ]]; then skip=1; fi
        done
        if [ "$skip" = 0 ]; then kept+=("$f"); fi
    done

    if [ "${#kept[@]}" -eq 0 ]; then
        case "${INPUT_IF_NO_FILES_FOUND:-warn}" in
            error) die "No files were found with the provided path: ${INPUT_PATH}. No artifacts will be uploaded." ;;
            ignore) return 0 ;;
            *) echo "::warning::No files were found with the provided path: ${INPUT_PATH}. No artifacts will be uploaded."; return 0 ;;
        esac
    fi

    local dest="$store/$name"
    if [ -e "$dest" ]; then
        [ "${INPUT_OVERWRITE:-false}" = true ] || die "an artifact named '$name' already exists in this run (set overwrite: true)"
        rm -rf "$dest"
    fi
    mkdir -p "$dest"
    for f in "${kept[@]}"; do
        rel="${f#"$root"/}"
        mkdir -p "$dest/$(dirname "$rel")"
        cp -p "$f" "$dest/$rel"
    done
    local id
    id="$(find "$store" -mindepth 1 -maxdepth 1 -type d | wc -l | tr -d ' ')"
    echo "uploaded ${#kept[@]} file(s) as artifact '$name' (root $root)"
    {
        echo "artifact-id=$id"
        echo "artifact-url=file://$dest"
    } >>"${GITHUB_OUTPUT:?}"
}

main "$@"
