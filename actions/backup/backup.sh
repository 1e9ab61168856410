#!/usr/bin/env bash
# Runs sv-backup for actions/backup. Inputs arrive as environment variables (never
# interpolated into shell):
#   SV_BIN                  directory holding the sv binaries
#   SV_ENV, SV_CONFIG       read by sv-backup itself
#   create: SV_BACKUP_RECIPIENTS (one per line; empty: sv.yaml), SV_BACKUP_OUT (empty:
#           $RUNNER_TEMP/sv-backups), SV_BACKUP_UPLOAD_R2
#   prune:  SV_BACKUP_NAME (the archive just made: its PROJECT-ENV- prefix selects the
#           artifacts), SV_KEEP_LAST/DAILY/WEEKLY/MONTHLY, GITHUB_TOKEN
# sv-backup writes the step outputs (archive, name, size, sha256, entries, counts; kept,
# removed) and the job summary itself.
set -euo pipefail

create() {
    local bin="${SV_BIN:?SV_BIN is not set}"
    local out="${SV_BACKUP_OUT:-}"
    [ -n "$out" ] || out="${RUNNER_TEMP:?RUNNER_TEMP is not set}/sv-backups"
    mkdir -p "$out"
    # Absolute, so the upload step finds the files whatever its working directory.
    out="$(cd "$out" && pwd)"
    local -a args=(create --out "$out")
    if [ -n "${SV_BACKUP_RECIPIENTS:-}" ]; then
        local file="${RUNNER_TEMP:?RUNNER_TEMP is not set}/sv-backup-recipients.txt"
        printf '%s\n' "$SV_BACKUP_RECIPIENTS" >"$file"
        args+=(--recipients-file "$file")
    fi
    if [ -n "${SV_BACKUP_UPLOAD_R2:-}" ]; then args+=(--upload-r2 "$SV_BACKUP_UPLOAD_R2"); fi
    "$bin/sv-backup" "${args[@]}"
}

prune() {
    local bin="${SV_BIN:?SV_BIN is not set}" name="${SV_BACKUP_NAME:?SV_BACKUP_NAME is not set}"
    # PROJECT-ENV-20261125T031700Z.tar.gz.age → PROJECT-ENV-
    local prefix="${name%-*}-"
    local -a args=(prune --github "$prefix")
    if [ -n "${SV_KEEP_LAST:-}" ]; then args+=(--keep-last "$SV_KEEP_LAST"); fi
    if [ -n "${SV_KEEP_DAILY:-}" ]; then args+=(--keep-daily "$SV_KEEP_DAILY"); fi
    if [ -n "${SV_KEEP_WEEKLY:-}" ]; then args+=(--keep-weekly "$SV_KEEP_WEEKLY"); fi
    if [ -n "${SV_KEEP_MONTHLY:-}" ]; then args+=(--keep-monthly "$SV_KEEP_MONTHLY"); fi
    "$bin/sv-backup" "${args[@]}"
}

case "${1:-}" in
    create) create ;;
    prune) prune ;;
    *) echo "usage: backup.sh create|prune" >&2; exit 2 ;;
esac
