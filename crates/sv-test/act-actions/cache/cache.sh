#!/usr/bin/env bash
# sv-test stand-in for actions/cache/{restore,save}: one tar file per key in
# $SV_ACT_CACHE_DIR, named by the key (slashes encoded); newest by modification time.
set -euo pipefail

store() {
    local dir="${SV_ACT_CACHE_DIR:?SV_ACT_CACHE_DIR is not set: the test must give the cache stand-in a directory}"
    mkdir -p "$dir"
    printf '%s' "$dir"
}

file_of() {
    printf '%s/%s.tar' "$(store)" "${1//\//%2F}"
}

paths() {
    local line
    while IFS= read -r line; do
        line="${line#"${line%%[![:space:]]*}"}"
        line="${line%"${line##*[![:space:]]}"}"
        if [ -n "$line" ]; then printf '%s\n' "$line"; fi
    done <<<"${INPUT_PATH:?path input is required}"
}

restore() {
    local key="${INPUT_KEY:?key input is required}" matched="" hit=false
    local exact
    exact="$(file_of "$key")"
    if [ -f "$exact" ]; then
        matched="$key"
        hit=true
    else
        local prefix candidate newest
        while IFS= read -r prefix; do
            prefix="${prefix#"${prefix%%[![:space:]]*}"}"
            prefix="${prefix%"${prefix##*[![:space:]]}"}"
            [ -n "$prefix" ] || continue
            newest=""
            for candidate in "$(store)/${prefix//\//%2F}"*.tar; do
                [ -f "$candidate" ] || continue
                if [ -z "$newest" ] || [ "$candidate" -nt "$newest" ]; then newest="$candidate"; fi
            done
            if [ -n "$newest" ]; then
                matched="$(basename "$newest" .tar)"
                matched="${matched//%2F//}"
                break
            fi
        done <<<"${INPUT_RESTORE_KEYS:-}"
    fi
    {
        echo "cache-primary-key=$key"
        echo "cache-hit=$hit"
        echo "cache-matched-key=$matched"
    } >>"${GITHUB_OUTPUT:?}"
    if [ -z "$matched" ]; then
        if [ "${INPUT_FAIL_ON_CACHE_MISS:-false}" = "true" ]; then
            echo "::error::Cache not found for input keys: $key"
            return 1
        fi
        echo "Cache not found for input keys: $key"
        return 0
    fi
    if [ "${INPUT_LOOKUP_ONLY:-false}" = "true" ]; then
        echo "Cache found (lookup only): $matched"
        return 0
    fi
    tar -xf "$(file_of "$matched")" -C "${GITHUB_WORKSPACE:?}"
    echo "Cache restored from key: $matched"
}

save() {
    local key="${INPUT_KEY:?key input is required}"
    local target
    target="$(file_of "$key")"
    if [ -f "$target" ]; then
        echo "::warning::Cache save failed: another job may be creating this cache. Key: $key"
        return 0
    fi
    local -a files=()
    local p
    while IFS= read -r p; do
        if [ -e "${GITHUB_WORKSPACE:?}/$p" ]; then files+=("$p"); fi
    done < <(paths)
    if [ "${#files[@]}" -eq 0 ]; then
        echo "::warning::Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved."
        return 0
    fi
    tar -cf "$target.tmp" -C "$GITHUB_WORKSPACE" "${files[@]}"
    mv "$target.tmp" "$target"
    echo "Cache saved with key: $key"
}

case "${1:-}" in
restore) restore ;;
save) save ;;
*)
    echo "usage: cache.sh restore|save" >&2
    exit 2
    ;;
esac
