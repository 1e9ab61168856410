// The tests workspace ships no artefact; its build step syntax-checks every module so
// `npm run build --workspaces` catches a broken test file before `npm test` runs.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith(".js") && !f.includes("node_modules"));
for (const file of files) execFileSync(process.execPath, ["--check", join(here, file)], { stdio: "inherit" });
console.log(`tests: ${files.length} modules syntax-checked`);
