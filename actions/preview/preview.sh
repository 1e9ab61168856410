#!/usr/bin/env bash
# Runs `sv-onboard preview <operation>` for actions/preview. Inputs arrive as environment
# variables (never interpolated into this script):
#   SV_BIN                directory holding the sv binaries
#   SV_PREVIEW_OPERATION  create | comment | destroy
#   SV_PREVIEW_PR         pull request number
#   SV_CONFIG             read by sv-onboard itself
# sv-onboard writes the step outputs (environment, prefix, changed, url) and the job summary.
set -euo pipefail

main() {
    local bin="${SV_BIN:?SV_BIN is not set}" pr="${SV_PREVIEW_PR:-}"
    [[ "$pr" =~ ^[1-9][0-9]*$ ]] || {
        echo "::error title=sv preview::the pr input must be a pull request number (got '$pr'); run on pull_request or pass pr"
        return 2
    }
    echo "environment=pr-$pr" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
    case "${SV_PREVIEW_OPERATION:-}" in
        create) "$bin/sv-onboard" preview create --pr "$pr" ;;
        comment) "$bin/sv-onboard" preview comment --pr "$pr" ;;
        destroy) "$bin/sv-onboard" preview destroy --pr "$pr" --yes ;;
        *)
            echo "::error title=sv preview::operation must be create, comment or destroy (got '${SV_PREVIEW_OPERATION:-}')"
            return 2
            ;;
    esac
}

main "$@"
