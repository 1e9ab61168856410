#!/usr/bin/env bash
# Installs the sv binaries (sv-plan, sv-deploy, sv-health, sv-backup, sv-onboard, sv-emulator).
#
# Three ways, picked in this order:
#   1. --bin-dir DIR: binaries that are already built; checked, nothing is installed.
#   2. a checkout of the sv repository (this script inside it, or --version source):
#      `cargo build --locked --bins` of the workspace.
#   3. otherwise: download sv-<version>-<target>.tar.gz and its .sha256 from the GitHub
#      release, verify the checksum, and only then extract and install.
#
# The same script backs actions/setup (with --github) and works on its own:
#   curl -fsSL https://github.com/OWNER/sv/releases/download/vX.Y.Z/install.sh | bash -s -- --version X.Y.Z
# The last line of stdout is the directory holding the binaries.
set -euo pipefail

# The repository releases come from; override with --repo or SV_REPO.
DEFAULT_REPO="sv-toolkit/sv"
# Every release archive must contain all of these.
SV_BINARIES=(sv-plan sv-deploy sv-health sv-backup sv-onboard sv-emulator)

usage() {
    cat <<'EOF'
Usage: install.sh [OPTIONS]

Installs the sv binaries and prints the directory that holds them.

Options:
  --version VERSION  X.Y.Z, vX.Y.Z, latest, or source (build this checkout with cargo).
                     Default: build from source inside a git checkout of sv; otherwise
                     the version of the checkout this script came from, else latest.
  --bin-dir DIR      use binaries already built in DIR (checked, not copied)
  --to DIR           where to install (default: $SV_INSTALL_DIR, else ~/.sv/bin;
                     source builds default to cargo's target directory)
  --require NAME     fail unless binary NAME is present afterwards (repeatable)
  --repo OWNER/NAME  GitHub repository to download from (default: $SV_REPO or sv-toolkit/sv)
  --base-url URL     release download base, for mirrors
                     (default: https://github.com/OWNER/NAME/releases/download)
  --target TRIPLE    override the detected target (e.g. aarch64-unknown-linux-musl)
  --profile NAME     cargo profile for source builds (default: release)
  --github           inside GitHub Actions: write bin-dir and version to $GITHUB_OUTPUT
                     and add the directory to $GITHUB_PATH
  -h, --help         show this help

Exit codes: 0 installed; 1 install failed (download, checksum, build); 2 bad usage.
EOF
}

log() { printf 'sv-install: %s\n' "$*" >&2; }
fail() { log "error: $*"; exit 1; }
usage_error() { log "error: $*"; log "see --help"; exit 2; }

TMP_DIR=""
cleanup() { if [ -n "$TMP_DIR" ]; then rm -rf "$TMP_DIR"; fi; }

# The sv checkout this script lives in, if any (empty when piped into bash).
script_checkout() {
    local src="${BASH_SOURCE[0]:-}" root
    [ -n "$src" ] && [ -f "$src" ] || return 0
    root="$(cd "$(dirname "$src")/.." && pwd)"
    if [ -f "$root/Cargo.toml" ] && [ -d "$root/bins" ] && grep -q '^\[workspace\]' "$root/Cargo.toml"; then
        printf '%s\n' "$root"
    fi
}

# [workspace.package] version of a checkout.
workspace_version() {
    awk '
        /^\[/ { in_pkg = ($0 == "[workspace.package]") }
        in_pkg && /^version[[:space:]]*=/ { gsub(/.*=[[:space:]]*"|".*/, ""); print; exit }
    ' "$1/Cargo.toml"
}

detect_target() {
    local os arch
    os="$(uname -s)"
    arch="$(uname -m)"
    case "$os/$arch" in
        Linux/x86_64 | Linux/amd64) echo x86_64-unknown-linux-musl ;;
        Linux/aarch64 | Linux/arm64) echo aarch64-unknown-linux-musl ;;
        Darwin/x86_64) echo x86_64-apple-darwin ;;
        Darwin/arm64 | Darwin/aarch64) echo aarch64-apple-darwin ;;
        *) fail "no prebuilt sv for $os/$arch; build from a checkout instead (install.sh --version source)" ;;
    esac
}

# Refuses anything but https, except plain http to this machine (tests, local mirrors).
check_url() {
    case "$1" in
        https://*) ;;
        http://127.0.0.1:* | http://127.0.0.1/* | http://localhost:* | http://localhost/*) ;;
        *) fail "refusing to download over an insecure URL: $1" ;;
    esac
}

download() {
    local url="$1" out="$2"
    check_url "$url"
    if command -v curl >/dev/null 2>&1; then
        local -a proto=()
        case "$url" in https://*) proto=(--proto '=https' --tlsv1.2) ;; esac
        curl ${proto[@]+"${proto[@]}"} --fail --silent --show-error --location --retry 3 --retry-delay 2 \
            --output "$out" "$url" || fail "download failed: $url"
    elif command -v wget >/dev/null 2>&1; then
        local -a proto=()
        case "$url" in https://*) proto=(--https-only) ;; esac
        wget ${proto[@]+"${proto[@]}"} --quiet --tries=3 --output-document="$out" "$url" || fail "download failed: $url"
    else
        fail "need curl or wget to download $url"
    fi
}

# Follows the releases/latest redirect to its tag; needs no API token.
resolve_latest() {
    local repo="$1" url="https://github.com/$1/releases/latest" final=""
    if command -v curl >/dev/null 2>&1; then
        final="$(curl --proto '=https' --tlsv1.2 --fail --silent --show-error --location \
            --output /dev/null --write-out '%{url_effective}' "$url")" || fail "cannot resolve the latest release of $repo"
    elif command -v wget >/dev/null 2>&1; then
        final="$(wget --https-only --spider --server-response "$url" 2>&1 | sed -n 's/^ *[Ll]ocation: *//p' | tail -n 1 | tr -d '\r')"
    else
        fail "need curl or wget to find the latest release"
    fi
    case "$final" in
        */releases/tag/v*) printf '%s\n' "${final##*/releases/tag/v}" ;;
        *) fail "cannot resolve the latest release of $repo (got '${final:-nothing}')" ;;
    esac
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    elif command -v openssl >/dev/null 2>&1; then
        openssl dgst -sha256 -r "$1" | cut -d' ' -f1
    else
        fail "need sha256sum, shasum or openssl to verify the download"
    fi
}

verify_sha256() {
    local file="$1" sum_file="$2" expected actual
    expected="$(cut -d' ' -f1 <"$sum_file" | head -n 1 | tr 'A-F' 'a-f')"
    [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "$(basename "$sum_file") does not hold a sha256 checksum"
    actual="$(sha256_of "$file")"
    [ "$actual" = "$expected" ] || fail "checksum mismatch for $(basename "$file"): expected $expected, got $actual"
    log "sha256 verified: $actual"
}

# The sv-* executables in a directory (not cargo's .d files).
list_binaries() {
    local f
    for f in "$1"/sv-*; do
        case "$f" in *.d | *.pdb | *.dSYM) continue ;; esac
        if [ -f "$f" ] && [ -x "$f" ]; then basename "$f"; fi
    done
}

check_required() {
    local dir="$1" name
    shift
    for name in "$@"; do
        [ -x "$dir/$name" ] || fail "$name not found in $dir (found: $(list_binaries "$dir" | tr '\n' ' '))"
    done
}

binary_version() {
    local dir="$1" first out
    first="$(list_binaries "$dir" | head -n 1)"
    [ -n "$first" ] || { echo unknown; return 0; }
    out="$("$dir/$first" --version 2>/dev/null | head -n 1)" || out=""
    out="${out##* }"
    printf '%s\n' "${out:-unknown}"
}

install_from_release() {
    local version="$1" target="$2" base_url="$3" dest="$4" name dir f
    name="sv-$version-$target"
    TMP_DIR="$(mktemp -d)"
    log "downloading $base_url/v$version/$name.tar.gz"
    download "$base_url/v$version/$name.tar.gz" "$TMP_DIR/$name.tar.gz"
    download "$base_url/v$version/$name.tar.gz.sha256" "$TMP_DIR/$name.tar.gz.sha256"
    verify_sha256 "$TMP_DIR/$name.tar.gz" "$TMP_DIR/$name.tar.gz.sha256"
    mkdir "$TMP_DIR/x"
    tar -xzf "$TMP_DIR/$name.tar.gz" -C "$TMP_DIR/x"
    dir="$TMP_DIR/x/$name"
    [ -d "$dir" ] || dir="$TMP_DIR/x"
    check_required "$dir" "${SV_BINARIES[@]}"
    mkdir -p "$dest"
    for f in $(list_binaries "$dir"); do
        cp "$dir/$f" "$dest/$f.tmp.$$"
        chmod 0755 "$dest/$f.tmp.$$"
        mv -f "$dest/$f.tmp.$$" "$dest/$f"
    done
    log "installed $(list_binaries "$dest" | tr '\n' ' ')into $dest"
}

build_from_source() {
    local root="$1" profile="$2" dest="$3" github="$4" target_dir out f
    command -v cargo >/dev/null 2>&1 || fail "cargo is needed to build sv from $root (https://rustup.rs)"
    target_dir="${CARGO_TARGET_DIR:-$root/target}"
    case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
    out="$target_dir/$profile"
    [ "$profile" = dev ] && out="$target_dir/debug"
    [ "$github" = 1 ] && echo "::group::cargo build --profile $profile --locked --bins"
    log "building sv from $root (cargo profile $profile)"
    cargo build --manifest-path "$root/Cargo.toml" --profile "$profile" --locked --bins >&2
    [ "$github" = 1 ] && echo "::endgroup::"
    if [ -z "$dest" ]; then
        BUILT_DIR="$out"
        return 0
    fi
    mkdir -p "$dest"
    for f in $(list_binaries "$out"); do cp -f "$out/$f" "$dest/$f"; done
    BUILT_DIR="$dest"
}

main() {
    local version="" bin_dir="" dest="" repo="${SV_REPO:-$DEFAULT_REPO}" base_url="" target=""
    local profile="release" github=0
    local -a required=()
    while [ $# -gt 0 ]; do
        case "$1" in
            -h | --help) usage; return 0 ;;
            --version | --bin-dir | --to | --require | --repo | --base-url | --target | --profile)
                [ $# -ge 2 ] || usage_error "$1 needs a value"
                case "$1" in
                    --version) version="$2" ;;
                    --bin-dir) bin_dir="$2" ;;
                    --to) dest="$2" ;;
                    --require) [ -z "$2" ] || required+=("$2") ;;
                    --repo) repo="$2" ;;
                    --base-url) base_url="${2%/}" ;;
                    --target) target="$2" ;;
                    --profile) profile="$2" ;;
                esac
                shift 2
                ;;
            --github) github=1; shift ;;
            *) usage_error "unknown argument: $1" ;;
        esac
    done
    [[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || usage_error "--repo must be OWNER/NAME, got '$repo'"
    trap cleanup EXIT

    local checkout result_dir result_version
    checkout="$(script_checkout)"
    if [ -n "$bin_dir" ]; then
        [ -d "$bin_dir" ] || fail "--bin-dir $bin_dir is not a directory"
        bin_dir="$(cd "$bin_dir" && pwd)"
        [ -n "$(list_binaries "$bin_dir")" ] || fail "no sv-* executables in $bin_dir (build them first: cargo build --bins)"
        result_dir="$bin_dir"
        result_version="$(binary_version "$bin_dir")"
        log "using prebuilt binaries in $bin_dir: $(list_binaries "$bin_dir" | tr '\n' ' ')"
    else
        if [ -z "$version" ]; then
            if [ -n "$checkout" ] && [ -e "$checkout/.git" ]; then
                version=source
            elif [ -n "$checkout" ]; then
                version="$(workspace_version "$checkout")"
            else
                version=latest
            fi
        fi
        if [ "$version" = source ]; then
            [ -n "$checkout" ] || usage_error "--version source needs this script inside a checkout of sv"
            BUILT_DIR=""
            build_from_source "$checkout" "$profile" "$dest" "$github"
            result_dir="$BUILT_DIR"
            result_version="$(workspace_version "$checkout")"
        else
            [ "$version" = latest ] && version="$(resolve_latest "$repo")"
            version="${version#v}"
            [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([.+-][0-9A-Za-z.+-]+)?$ ]] || usage_error "not a version: $version"
            [ -n "$target" ] || target="$(detect_target)"
            [ -n "$base_url" ] || base_url="https://github.com/$repo/releases/download"
            if [ -z "$dest" ]; then
                if [ "$github" = 1 ]; then dest="${RUNNER_TEMP:?RUNNER_TEMP is not set}/sv/$version/bin"
                else dest="${SV_INSTALL_DIR:-${HOME:?}/.sv/bin}"; fi
            fi
            install_from_release "$version" "$target" "$base_url" "$dest"
            result_dir="$(cd "$dest" && pwd)"
            result_version="$version"
        fi
    fi
    # ${a[@]+...}: an empty array is "unbound" under set -u in bash 3.2 (macOS).
    check_required "$result_dir" ${required[@]+"${required[@]}"}

    if [ "$github" = 1 ]; then
        : "${GITHUB_OUTPUT:?--github needs GITHUB_OUTPUT}" "${GITHUB_PATH:?--github needs GITHUB_PATH}"
        printf 'bin-dir=%s\nversion=%s\n' "$result_dir" "$result_version" >>"$GITHUB_OUTPUT"
        printf '%s\n' "$result_dir" >>"$GITHUB_PATH"
    fi
    log "sv $result_version ready in $result_dir"
    printf '%s\n' "$result_dir"
}

main "$@"
