#!/usr/bin/env bash
# Lints everything that is not Rust: workflows, composite actions and shell scripts.
#
#   actionlint  every workflow: .github/workflows/, workflows/ (ready-to-copy ones) and the
#               workflows the act tests run (crates/*/tests/workflows/,
#               bins/*/tests/workflows/); runs shellcheck on their `run:` blocks too
#   zizmor      the same workflows plus action.yml and actions/*/action.yml, offline, with
#               the default (regular) persona; fails on any finding of severity medium or
#               higher (--min-severity medium); low/informational findings are not gated
#   scripts     every tracked *.sh file and .ci/run, through shellcheck
#
# Tools come from .venv-tools (scripts/setup-test-deps.sh installs them) or PATH.
set -euo pipefail

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

say() { printf '==> %s\n' "$*" >&2; }

need() {
    command -v "$1" >/dev/null 2>&1 || {
        printf 'lint: %s not found; run scripts/setup-test-deps.sh\n' "$1" >&2
        exit 2
    }
}

# Workflow files (yml/yaml) under the directories that exist.
workflow_files() {
    local dir
    for dir in .github/workflows workflows crates/*/tests/workflows bins/*/tests/workflows; do
        [ -d "$dir" ] || continue
        find "$dir" -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) -print
    done | LC_ALL=C sort
}

action_files() {
    local f
    for f in action.yml actions/*/action.yml crates/*/act-actions/*/action.yml; do
        if [ -f "$f" ]; then printf '%s\n' "$f"; fi
    done
}

shell_files() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files --cached --others --exclude-standard -- '*.sh'
    else
        find . -name '*.sh' -not -path './target/*' -not -path '*/node_modules/*' -not -path './.venv-tools/*'
    fi
    if [ -f .ci/run ]; then echo .ci/run; fi
}

main() {
    case "${1:-}" in
        -h | --help) usage; return 0 ;;
        "") ;;
        *) usage >&2; return 2 ;;
    esac
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    if [ -d .venv-tools/bin ]; then PATH="$PWD/.venv-tools/bin:$PATH"; fi
    need actionlint
    need zizmor
    need shellcheck

    local -a workflows actions scripts
    mapfile -t workflows < <(workflow_files)
    mapfile -t actions < <(action_files)
    mapfile -t scripts < <(shell_files | LC_ALL=C sort -u)
    local failed=0

    if [ "${#workflows[@]}" -gt 0 ]; then
        say "actionlint (${#workflows[@]} workflows)"
        actionlint -shellcheck "$(command -v shellcheck)" "${workflows[@]}" || failed=1
    fi

    say "zizmor --offline --min-severity medium (${#workflows[@]} workflows, ${#actions[@]} actions)"
    # Offline means no GitHub API: with a token set and no network, zizmor fails instead.
    env -u GH_TOKEN -u GITHUB_TOKEN -u ZIZMOR_GITHUB_TOKEN \
        zizmor --offline --min-severity medium --strict-collection --no-progress \
        ${workflows[@]+"${workflows[@]}"} ${actions[@]+"${actions[@]}"} || failed=1

    if [ "${#scripts[@]}" -gt 0 ]; then
        say "shellcheck (${#scripts[@]} scripts)"
        shellcheck --external-sources "${scripts[@]}" || failed=1
    fi

    if [ "$failed" -ne 0 ]; then
        say "lint failed"
        return 1
    fi
    say "lint clean"
}

main "$@"
