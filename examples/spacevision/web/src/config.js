// Stamped by build.mjs. An empty API base means "same origin" (the Pages site proxies /api).
export const APP_VERSION = "__APP_VERSION__";
export const API_BASE_URL = "__API_BASE_URL__";
