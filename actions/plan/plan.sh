#!/usr/bin/env bash
# Runs `sv-plan plan` for actions/plan. Inputs arrive as environment variables:
#   SV_BIN           directory holding the sv binaries
#   SV_ENV, SV_CONFIG  read by sv-plan itself
#   SV_PLAN_FILE     where the saved plan goes
#   SV_PLAN_COMMENT  `true` to post the sticky PR comment in pull_request runs
#   SV_ARTIFACT_NAME artifact name (empty: sv-plan-<environment>)
# sv-plan writes the step outputs (has-changes, counts, plan-path) and the job summary itself.
set -euo pipefail

main() {
    local bin="${SV_BIN:?SV_BIN is not set}" env="${SV_ENV:?the environment input is required}"
    local -a args=(plan --out "${SV_PLAN_FILE:?SV_PLAN_FILE is not set}" --detailed-exitcode)
    if [ "${SV_PLAN_COMMENT:-true}" = "true" ]; then args+=(--comment); fi
    local name="${SV_ARTIFACT_NAME:-}"
    if [ -z "$name" ]; then name="sv-plan-$env"; fi
    echo "artifact-name=$name" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
    local code=0
    "$bin/sv-plan" "${args[@]}" || code=$?
    # --detailed-exitcode: 0 no changes, 2 changes; anything else failed.
    case "$code" in
        0 | 2) return 0 ;;
        *) return "$code" ;;
    esac
}

main "$@"
