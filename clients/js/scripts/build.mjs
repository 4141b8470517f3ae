// npm run build: the package (tsc -p tsconfig.json, ESM + types in dist/);
// the same modules for the browser, in examples/web/chatd-client/ (the web
// root chatd serves in development and tests, and the Debian package
// ships), where the pages import them: dist/*.js with "@stomp/stompjs"
// pointed at stompjs's own ES modules copied beside them, no bundler, no
// import map; and the support widget: widget/widget.ts compiled by the same
// tsc, the package modules it imports inlined (inline() below), then
// bundled with @stomp/stompjs's UMD build into one file, dist/widget.js,
// wrapped in one function so that the page gets nothing but
// window.ChatdWidget (the UMD build takes the CommonJS branch of its
// wrapper and fills a local `exports`). A copy goes to examples/web/, the
// web root chatd serves in development and tests, as /widget.js.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.join(here, "..");
const tsc = path.join(pkg, "node_modules", "typescript", "bin", "tsc");
for (const config of ["tsconfig.json", "tsconfig.widget.json"])
  execFileSync(process.execPath, [tsc, "-p", config], { cwd: pkg, stdio: "inherit" });

// Every .js of a folder tree, as paths relative to it.
function scripts(dir, sub = "") {
  return readdirSync(path.join(dir, sub), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? scripts(dir, path.join(sub, e.name)) : e.name.endsWith(".js") ? [path.join(sub, e.name)] : []);
}
const noMap = (s) => s.replace(/\n\/\/# sourceMappingURL=.*$/m, "");

const web = path.join(pkg, "..", "..", "examples", "web");
if (existsSync(web)) {
  const out = path.join(web, "chatd-client");
  rmSync(out, { recursive: true, force: true });
  const esm = path.join(pkg, "node_modules", "@stomp", "stompjs", "esm6");
  for (const f of scripts(esm)) {
    mkdirSync(path.dirname(path.join(out, "stompjs", f)), { recursive: true });
    writeFileSync(path.join(out, "stompjs", f), noMap(readFileSync(path.join(esm, f), "utf8")));
  }
  copyFileSync(path.join(esm, "..", "LICENSE"), path.join(out, "stompjs", "LICENSE"));
  for (const f of readdirSync(path.join(pkg, "dist")).filter((f) => f.endsWith(".js") && f !== "widget.js")) {
    const src = noMap(readFileSync(path.join(pkg, "dist", f), "utf8"))
      .replace(/from "@stomp\/stompjs";/g, 'from "./stompjs/index.js";');
    if (/from "@/.test(src)) throw new Error(`dist/${f} imports a package the browser cannot resolve`);
    writeFileSync(path.join(out, f), src);
  }
}

const stomp = readFileSync(path.join(pkg, "node_modules", "@stomp", "stompjs", "bundles", "stomp.umd.min.js"), "utf8")
  .replace(/\n\/\/# sourceMappingURL=.*$/m, "");
// The widget is an ES module so that it can import the package's own
// modules (the back-off, user labels: one source for both). No bundler:
// each module it imports, depth first and once, goes in before it with
// `export` dropped and its imports removed; all then share the wrapper's
// scope. Anything else a module imports or exports stops the build.
function inline(file, seen = new Set()) {
  if (seen.has(file)) return "";
  seen.add(file);
  let deps = "";
  const src = noMap(readFileSync(file, "utf8"))
    .replace(/^import \{[^}]*\} from "(\.{1,2}\/[^"]+\.js)";\n/gm, (_, rel) => {
      deps += inline(path.resolve(path.dirname(file), rel), seen);
      return "";
    })
    .replace(/^export (?=(async )?function |const |let |class )/gm, "")
    .replace(/^export \{\};\n/gm, "");
  if (/^\s*(import|export)\b/m.test(src))
    throw new Error(`${path.relative(pkg, file)}: an import or export the widget bundle cannot inline`);
  return deps + src;
}
const widget = inline(path.join(pkg, "dist", "widget-parts", "widget", "widget.js"));
const version = JSON.parse(readFileSync(path.join(pkg, "node_modules", "@stomp", "stompjs", "package.json"), "utf8")).version;
const bundle = `/*! chatd support widget (clients/js). Includes @stomp/stompjs ${version}, Apache-2.0. */
(function () {
"use strict";
var exports = {}, module = { exports: exports };
${stomp}
var StompJs = module.exports;
${widget}
})();
`;
mkdirSync(path.join(pkg, "dist"), { recursive: true });
const out = path.join(pkg, "dist", "widget.js");
writeFileSync(out, bundle);
if (existsSync(web)) copyFileSync(out, path.join(web, "widget.js"));
console.log(`dist/widget.js: ${bundle.length} bytes, ${gzipSync(bundle, { level: 9 }).length} gzipped`);
