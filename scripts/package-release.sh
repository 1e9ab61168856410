#!/usr/bin/env bash
# Packs the release binaries of one target into dist/sv-<version>-<target>.tar.gz plus a
# .sha256 file ("<hash>  <file>", as sha256sum writes it) that install.sh verifies.
#
#   scripts/package-release.sh --target x86_64-unknown-linux-musl --version 1.2.3 \
#       [--bin-dir target/x86_64-unknown-linux-musl/release] [--out dist]
#
# The version must equal [workspace.package] version in Cargo.toml, so a tag can never
# publish binaries that report another version.
set -euo pipefail

SV_BINARIES=(sv-plan sv-deploy sv-health sv-backup sv-onboard sv-emulator)

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

STAGE=""
cleanup() { if [ -n "$STAGE" ]; then rm -rf "$STAGE"; fi; }

fail() { printf 'package-release: error: %s\n' "$*" >&2; exit 1; }

sha256_line() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1"; else shasum -a 256 "$1"; fi
}

main() {
    local target="" version="" bin_dir="" out="dist" root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    while [ $# -gt 0 ]; do
        case "$1" in
            -h | --help) usage; return 0 ;;
            --target | --version | --bin-dir | --out)
                [ $# -ge 2 ] || fail "$1 needs a value"
                case "$1" in
                    --target) target="$2" ;;
                    --version) version="${2#v}" ;;
                    --bin-dir) bin_dir="$2" ;;
                    --out) out="$2" ;;
                esac
                shift 2
                ;;
            *) fail "unknown argument: $1" ;;
        esac
    done
    [ -n "$target" ] || fail "--target is required"
    [ -n "$version" ] || fail "--version is required"
    [ -n "$bin_dir" ] || bin_dir="${CARGO_TARGET_DIR:-$root/target}/$target/release"

    local crate_version
    crate_version="$(awk '/^\[/ { p = ($0 == "[workspace.package]") } p && /^version/ { gsub(/.*= *"|".*/, ""); print; exit }' "$root/Cargo.toml")"
    [ "$crate_version" = "$version" ] || fail "tag version $version differs from Cargo.toml version $crate_version"

    local name="sv-$version-$target" b
    STAGE="$(mktemp -d)"
    trap cleanup EXIT
    mkdir -p "$STAGE/$name" "$out"
    for b in "${SV_BINARIES[@]}"; do
        [ -x "$bin_dir/$b" ] || fail "$bin_dir/$b is missing; build with: cargo build --release --locked --target $target"
        cp "$bin_dir/$b" "$STAGE/$name/$b"
    done
    for b in README.md LICENSE LICENSE-APACHE; do
        if [ -f "$root/$b" ]; then cp "$root/$b" "$STAGE/$name/"; fi
    done
    # Reproducible-ish archive: sorted names, no owner; mtimes stay as built.
    (cd "$STAGE" && find "$name" -print | LC_ALL=C sort | tar -czf - --no-recursion -T - ) >"$out/$name.tar.gz"
    (cd "$out" && sha256_line "$name.tar.gz" >"$name.tar.gz.sha256")
    printf '%s\n' "$out/$name.tar.gz"
}

main "$@"
