// Builds the console into dist/: app.js (esbuild bundle of src/main.tsx),
// app.css and index.html, byte for byte the same on every run, so that the
// committed dist/ can be checked for staleness (node build.mjs --check).
import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "grantd-ui-")) : "dist";
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/main.tsx"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
writeFileSync(join(out, "app.css"), readFileSync("src/app.css"));
writeFileSync(join(out, "index.html"), readFileSync("src/index.html"));
if (check) {
  const stale = ["app.js", "app.css", "index.html"].filter(
    (f) => !readFileSync(join(out, f)).equals(readFileSync(join("dist", f), { flag: "r" })),
  );
  rmSync(out, { recursive: true });
  if (stale.length > 0) {
    console.error(`ui/dist is stale (${stale.join(", ")}): run make ui and commit ui/dist`);
    process.exit(1);
  }
}
