#!/usr/bin/env bash
# Runs `sv-deploy deploy` for actions/deploy. Inputs arrive as environment variables (never
# interpolated into this script); sv-deploy writes the step outputs and the job summary.
set -euo pipefail

main() {
    local -a args=(deploy --env "${SV_DEPLOY_ENVIRONMENT:?environment input is required}"
        --config "${SV_DEPLOY_CONFIG:-sv.yaml}")
    if [ -n "${SV_DEPLOY_ROLLOUT:-}" ]; then args+=(--rollout "$SV_DEPLOY_ROLLOUT"); fi
    if [ -n "${SV_DEPLOY_GATE_WINDOW:-}" ]; then args+=(--gate-window "$SV_DEPLOY_GATE_WINDOW"); fi
    if [ "${SV_DEPLOY_SKIP_BUILD:-false}" = "true" ]; then args+=(--skip-build); fi
    if [ "${SV_DEPLOY_DRY_RUN:-false}" = "true" ]; then args+=(--dry-run); fi
    if [ "${SV_DEPLOY_IGNORE_FREEZE:-false}" = "true" ]; then args+=(--ignore-freeze); fi
    if [ "${SV_DEPLOY_PAUSE_ON_INCONCLUSIVE:-false}" = "true" ]; then args+=(--pause-on-inconclusive); fi
    if [ -n "${SV_DEPLOY_AFFECTED_SINCE:-}" ]; then args+=(--affected --since "$SV_DEPLOY_AFFECTED_SINCE"); fi
    if [ -n "${SV_DEPLOY_LOCK_TIMEOUT:-}" ]; then args+=(--lock-timeout "$SV_DEPLOY_LOCK_TIMEOUT"); fi
    local name
    set -f
    for name in ${SV_DEPLOY_SECRETS:-}; do
        args+=(--secret "$name")
    done
    set +f
    sv-deploy "${args[@]}"
}

main "$@"
