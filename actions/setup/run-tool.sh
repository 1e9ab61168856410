#!/usr/bin/env bash
# Runs one sv tool for the root action. Inputs arrive as environment variables:
#   SV_TOOL  tool name: sv-plan or just plan
#   SV_ARGS  arguments: one per line when the value spans several lines, otherwise split
#            on whitespace; never evaluated by a shell (no quoting, globbing or expansion)
#   SV_BIN   directory holding the installed binaries
set -euo pipefail

main() {
    local tool="${SV_TOOL:?SV_TOOL is not set}" bin="${SV_BIN:?SV_BIN is not set}"
    case "$tool" in sv-*) ;; *) tool="sv-$tool" ;; esac
    if ! [[ "$tool" =~ ^sv-[a-z0-9][a-z0-9-]*$ ]]; then
        echo "::error title=sv::'${SV_TOOL}' is not an sv tool name (expected e.g. plan or sv-plan)" >&2
        return 2
    fi
    if [ ! -x "$bin/$tool" ]; then
        echo "::error title=sv::$tool is not installed in $bin" >&2
        return 2
    fi

    local -a args=()
    local line
    set -f
    if [[ "${SV_ARGS:-}" == *$'\n'* ]]; then
        while IFS= read -r line; do
            line="${line%$'\r'}"
            if [ -n "$line" ]; then args+=("$line"); fi
        done <<<"$SV_ARGS"
    elif [ -n "${SV_ARGS:-}" ]; then
        read -r -a args <<<"$SV_ARGS"
    fi
    set +f

    echo "running: $tool ${args[*]+${args[*]}}" >&2
    exec "$bin/$tool" ${args[@]+"${args[@]}"}
}

main "$@"
