// Limits and names the worker enforces and the web app shows; one place so they agree.

export const API_PREFIX = "/api";
export const SESSION_TTL_SECONDS = 7 * 24 * 60 * 60;
export const LIST_CACHE_TTL_SECONDS = 60;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
export const ALLOWED_UPLOAD_TYPES = Object.freeze(["image/jpeg", "image/png", "image/webp", "image/fits"]);
export const MAX_NOTES_LENGTH = 4000;
export const MAX_TARGET_LENGTH = 80;
/** Uploads under this prefix are temporary; the R2 lifecycle rule and the cron expire them. */
export const TMP_UPLOAD_PREFIX = "tmp/";
