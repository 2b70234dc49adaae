// Bundle every widget entry (widgets/<name>/index.js) into ../workbench/static/<name>.js (+ .css) as an ES module,
// and the page runtime of exported teaching pages (widgets/page/index.js: the Jupyter widgets HTML manager and
// anywidget's front end) into ../workbench/static/page.js (+ page.css) as one minified classic script; then write ../workbench/static/manifest.json with the sha256 of every source file, so a test can tell when the
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
/** The page runtime's folder: built on its own (classic script), not as a widget. */
const PAGE = "page";

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
  .filter((d) => !SKIP.has(d) && d !== "lib" && d !== PAGE && existsSync(join(HERE, d, "index.js")))
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

// anywidget ships its front end as one AMD module, `define(["@jupyter-widgets/base"], factory)`; the page runtime
// imports the factory itself, so that line becomes an ES default export (the build fails if the line changes).
const AMD_TAIL = 'define(["@jupyter-widgets/base"], widget_default);';
const anywidgetAsEsm = {
  name: "anywidget-as-esm",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]anywidget[\\/]dist[\\/]index\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!text.includes(AMD_TAIL)) return { errors: [{ text: `anywidget's front end no longer ends with ${AMD_TAIL}` }] };
      return { contents: text.replace(AMD_TAIL, "export default widget_default;"), loader: "js" };
    });
  },
};

// The manager also bundles ipywidgets 7's base and controls for old saved states; workbench pages come from
// ipywidgets 8, so those modules resolve to a stand-in that throws (page/legacy.js; CSS to nothing).
const withoutIpywidgets7 = {
  name: "without-ipywidgets-7",
  setup(build) {
    build.onResolve({ filter: /^@jupyter-widgets\/(base7|controls7)(\/|$)/ }, (args) => (args.path.endsWith(".css")
      ? { path: args.path, namespace: "empty-css" } : { path: join(HERE, PAGE, "legacy.js") }));
    build.onLoad({ filter: /.*/, namespace: "empty-css" }, () => ({ contents: "", loader: "css" }));
  },
};

await esbuild.build({
  entryPoints: { [PAGE]: join(HERE, PAGE, "index.js") },
  outdir: OUT,
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
  loader: { ".svg": "text" },
  plugins: [anywidgetAsEsm, withoutIpywidgets7],
});
for (const ext of [".js", ".css"]) {
  const f = join(OUT, PAGE + ext);
  if (existsSync(f)) outputs[PAGE + ext] = sha256(readFileSync(f));
}

const manifest = {
  comment: "Written by widgets/build.mjs; tests/test_bundle.py fails when a source hash differs (stale bundle).",
  esbuild: esbuild.version,
  sources: Object.fromEntries(sources().map((f) => [f, sha256(readFileSync(join(HERE, f)))])),
  outputs,
};
writeFileSync(join(OUT, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`built ${entries.join(", ")}, ${PAGE} -> ${OUT}`);
