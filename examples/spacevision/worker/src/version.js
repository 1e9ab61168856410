// Replaced by build.mjs with the package version (or $SV_APP_VERSION) in dist/.
export const VERSION = "0.0.0-dev";
