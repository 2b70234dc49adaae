// Bundle every widget entry (widgets/<name>/index.js) into ../workbench/static/<name>.js (+ .css) as an ES module,
// then write ../workbench/static/manifest.json with the sha256 of every source file, so a test can tell when the
// committed bundle is stale. `node build.mjs --outdir DIR` builds elsewhere (the test compares bytes).
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIdx = args.indexOf("--outdir");
const OUT = outIdx >= 0 ? resolve(args[outIdx + 1]) : resolve(HERE, "..", "workbench", "static");
const SKIP = new Set(["node_modules", "package-lock.json"]);

/** Source files under widgets/ (sorted, POSIX paths), everything but node_modules and the lock file. */
function sources(dir = HERE) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (SKIP.has(name) || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else out.push(relative(HERE, p).split(sep).join("/"));
  }
  return out;
}

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

const entries = readdirSync(HERE)
  .filter((d) => !SKIP.has(d) && d !== "lib" && existsSync(join(HERE, d, "index.js")))
  .sort();

mkdirSync(OUT, { recursive: true });
const outputs = {};
for (const name of entries) {
  await esbuild.build({
    entryPoints: { [name]: join(HERE, name, "index.js") },
    outdir: OUT,
    bundle: true,
    format: "esm",
    target: "es2020",
    minify: false,
    legalComments: "none",
    charset: "utf8",
    logLevel: "warning",
  });
  for (const ext of [".js", ".css"]) {
    const f = join(OUT, name + ext);
    if (existsSync(f)) outputs[name + ext] = sha256(readFileSync(f));
  }
}

const manifest = {
  comment: "Written by widgets/build.mjs; tests/test_bundle.py fails when a source hash differs (stale bundle).",
  esbuild: esbuild.version,
  sources: Object.fromEntries(sources().map((f) => [f, sha256(readFileSync(join(HERE, f)))])),
  outputs,
};
writeFileSync(join(OUT, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`built ${entries.join(", ")} -> ${OUT}`);
