// Turns every dashboards/*.json into generated/<name>.ts:
//   import type { CheckedDashboard } ...; export const dashboard: CheckedDashboard = <the JSON, verbatim>
// so that `tsc --noEmit` checks it as an object LITERAL of that type. A literal gets
// TypeScript's excess-property check (an unknown or misspelt key is an error) and keeps
// string literals, so enum-like strings are checked against their allowed values; a
// JSON module import would get neither. The header stays on line 1, so tsc's line
// numbers are the JSON file's line numbers.
import { readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dashboards = join(here, "..");
const out = join(here, "generated");
rmSync(out, { recursive: true, force: true });
mkdirSync(out);

const files = readdirSync(dashboards).filter((f) => f.endsWith(".json")).sort();
if (files.length === 0) {
  console.error(`no dashboard JSON in ${dashboards}`);
  process.exit(1);
}
for (const f of files) {
  const text = readFileSync(join(dashboards, f), "utf8");
  JSON.parse(text); // fail early, with the JSON parser's message, on invalid JSON
  const header = 'import type { CheckedDashboard } from "../dashboard-types"; export const dashboard: CheckedDashboard = ';
  const name = basename(f, ".json");
  writeFileSync(join(out, `${name}.ts`), header + text.trimEnd() + ";\n");
  console.log(`generated/${name}.ts <- ${f}`);
}
