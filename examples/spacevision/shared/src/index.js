// Public surface of @spacevision/shared.
export * from "./constants.js";
export * from "./validate.js";
export * from "./types.js";
