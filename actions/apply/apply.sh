#!/usr/bin/env bash
# Runs `sv-plan apply` for actions/apply. Inputs arrive as environment variables:
#   SV_BIN            directory holding the sv binaries
#   SV_ENV, SV_CONFIG read by sv-plan itself
#   SV_PLAN_ARTIFACT  non-empty when a saved plan was downloaded
#   SV_PLAN_PATH      where the downloaded plan is
#   SV_NO_BACKUP      `true`: delete or replace data stores without the backup first
#   SV_FAILURE_ISSUE  `true`: open/close the environment's failed-apply issue (GITHUB_TOKEN)
# sv-plan writes the `applied` and `backup-path` outputs and the job summary itself.
set -euo pipefail

main() {
    local bin="${SV_BIN:?SV_BIN is not set}"
    : "${SV_ENV:?the environment input is required}"
    local extra=()
    case "${SV_NO_BACKUP:-false}" in
        true) extra+=(--no-backup) ;;
        false | "") ;;
        *)
            echo "no-backup must be true or false, not '${SV_NO_BACKUP}'" >&2
            exit 2
            ;;
    esac
    case "${SV_FAILURE_ISSUE:-false}" in
        true) extra+=(--failure-issue) ;;
        false | "") ;;
        *)
            echo "failure-issue must be true or false, not '${SV_FAILURE_ISSUE}'" >&2
            exit 2
            ;;
    esac
    if [ -n "${SV_PLAN_ARTIFACT:-}" ]; then
        exec "$bin/sv-plan" apply "${extra[@]}" "${SV_PLAN_PATH:?SV_PLAN_PATH is not set}"
    fi
    exec "$bin/sv-plan" apply --auto-approve "${extra[@]}"
}

main "$@"
