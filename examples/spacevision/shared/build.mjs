// Copies the shared ES modules into dist/ so every workspace builds the same way.
// No bundler on purpose: the modules are plain JavaScript with JSDoc types.
import { cpSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
rmSync(`${here}dist`, { recursive: true, force: true });
cpSync(`${here}src`, `${here}dist`, { recursive: true });
console.log("shared: built dist/");
