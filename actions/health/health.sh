#!/usr/bin/env bash
# Runs `sv-health check` for actions/health. Inputs arrive as environment variables
# (SV_BIN, SV_HEALTH_*); sv-health itself writes the `status` and `history-path` outputs
# and the job summary. This script adds `report-path` and maps the exit code.
set -euo pipefail

main() {
    local bin="${SV_BIN:?SV_BIN is not set}"
    local -a args=(check --env "${SV_HEALTH_ENV:?environment is required}"
        --config "${SV_HEALTH_CONFIG:-sv.yaml}"
        --run-interval "${SV_HEALTH_RUN_INTERVAL:-5m}"
        --format markdown)
    local name
    set -f
    for name in ${SV_HEALTH_CHECKS:-}; do
        args+=(--only "$name")
    done
    set +f
    if [ "${SV_HEALTH_DEGRADED_IS_FAILURE:-false}" = "true" ]; then
        args+=(--degraded-is-failure)
    fi
    if [ -n "${SV_HEALTH_HISTORY:-}" ]; then
        args+=(--history "$SV_HEALTH_HISTORY")
    fi
    # comment-pr: auto (sv-health comments in pull_request runs), a number, or false.
    case "${SV_HEALTH_COMMENT_PR:-auto}" in
    auto) ;;
    false | "") args+=(--no-comment) ;;
    *[!0-9]*)
        echo "::error title=sv-health::comment-pr must be auto, false or a pull request number"
        return 2
        ;;
    *) args+=(--comment-pr "$SV_HEALTH_COMMENT_PR") ;;
    esac

    local report="${RUNNER_TEMP:-/tmp}/sv-health-${SV_HEALTH_ENV}.md"
    local code=0
    "$bin/sv-health" "${args[@]}" >"$report" || code=$?
    cat "$report"
    echo "report-path=$report" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"

    if [ "$code" -eq 1 ] && [ "${SV_HEALTH_FAIL:-true}" != "true" ]; then
        echo "::warning title=sv-health::${SV_HEALTH_ENV} is not healthy (fail-on-unhealthy is false)"
        return 0
    fi
    return "$code"
}

main
