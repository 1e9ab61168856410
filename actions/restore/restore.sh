#!/usr/bin/env bash
# Runs sv-backup for actions/restore. Inputs arrive as environment variables (never
# interpolated into shell); the key is SV_BACKUP_IDENTITY (or whatever the caller's
# sv-backup flags name), read and masked by sv-backup itself.
#   confirm: SV_ENV, SV_CONFIRM, SV_DRY_RUN
#   fetch:   SV_BIN, SV_ARTIFACT, SV_ARTIFACT_PREFIX, SV_RUN_ID, GITHUB_TOKEN
#   plan, restore: SV_BIN, SV_TARGET_ENV, SV_ARCHIVE, SV_RESOURCES; plan also
#            SV_SHA256 (fetched) and SV_EXPECT_SHA256 (the sha256 input)
# sv-backup writes the step outputs and the job summary (the recovery plan) itself.
set -euo pipefail

confirm() {
    local env="${SV_ENV:?the environment input is required}"
    if [ "${SV_DRY_RUN:-false}" = true ]; then return 0; fi
    if [ "${SV_CONFIRM:-}" != "$env" ]; then
        # The typed value is not echoed: it is free text going into a workflow command.
        echo "::error title=sv restore::the confirmation does not match the environment '$env': type the environment's name to restore into it; nothing was changed" >&2
        return 1
    fi
}

fetch() {
    local bin="${SV_BIN:?SV_BIN is not set}"
    local out="${RUNNER_TEMP:?RUNNER_TEMP is not set}/sv-restore"
    local -a args=(fetch --github "${SV_ARTIFACT_PREFIX:-}" --out "$out")
    if [ -n "${SV_RUN_ID:-}" ]; then args+=(--run-id "$SV_RUN_ID"); fi
    if [ -n "${SV_ARTIFACT:-}" ]; then args+=("$SV_ARTIFACT"); fi
    "$bin/sv-backup" "${args[@]}"
}

# --only flags from a space- or comma-separated list.
only_flags() {
    local item
    local -a items=()
    ONLY=()
    IFS=$', \t\n' read -r -a items <<<"${SV_RESOURCES:-}" || true
    for item in ${items[@]+"${items[@]}"}; do
        ONLY+=(--only "$item")
    done
}

plan() {
    local bin="${SV_BIN:?SV_BIN is not set}"
    if [ -n "${SV_EXPECT_SHA256:-}" ] && [ "${SV_EXPECT_SHA256}" != "${SV_SHA256:-}" ]; then
        echo "::error title=sv restore::the fetched archive has sha256 ${SV_SHA256:-?}, not the expected ${SV_EXPECT_SHA256}; nothing was changed" >&2
        return 1
    fi
    only_flags
    "$bin/sv-backup" plan "${SV_ARCHIVE:?SV_ARCHIVE is not set}" \
        --target-env "${SV_TARGET_ENV:?SV_TARGET_ENV is not set}" ${ONLY[@]+"${ONLY[@]}"}
}

restore() {
    local bin="${SV_BIN:?SV_BIN is not set}"
    only_flags
    "$bin/sv-backup" restore "${SV_ARCHIVE:?SV_ARCHIVE is not set}" \
        --target-env "${SV_TARGET_ENV:?SV_TARGET_ENV is not set}" ${ONLY[@]+"${ONLY[@]}"} --yes
}

case "${1:-}" in
    confirm) confirm ;;
    fetch) fetch ;;
    plan) plan ;;
    restore) restore ;;
    *) echo "usage: restore.sh confirm|fetch|plan|restore" >&2; exit 2 ;;
esac
