#!/usr/bin/env bash
# actions/setup: maps the action's inputs (passed as SV_SETUP_* environment variables,
# never interpolated into shell) onto scripts/install.sh, which holds all install logic.
set -euo pipefail

main() {
    local here install_sh
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    install_sh="$here/../../scripts/install.sh"
    [ -f "$install_sh" ] || { echo "::error::sv setup: $install_sh is missing" >&2; return 1; }

    local -a args=(--github)
    if [ -n "${SV_SETUP_BIN_DIR:-}" ]; then args+=(--bin-dir "$SV_SETUP_BIN_DIR"); fi
    if [ -n "${SV_SETUP_VERSION:-}" ]; then args+=(--version "$SV_SETUP_VERSION"); fi
    if [ -n "${SV_SETUP_REPOSITORY:-}" ]; then args+=(--repo "$SV_SETUP_REPOSITORY"); fi
    # The root action passes its `tool` input so a missing tool fails here, early.
    case "${SV_SETUP_REQUIRE:-}" in
        "") ;;
        sv-*) args+=(--require "$SV_SETUP_REQUIRE") ;;
        *) args+=(--require "sv-$SV_SETUP_REQUIRE") ;;
    esac

    if ! bash "$install_sh" "${args[@]}" >/dev/null; then
        echo "::error title=sv setup::installing sv failed; see the log above" >&2
        return 1
    fi
}

main "$@"
