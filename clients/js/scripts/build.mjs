// npm run build: the package (tsc -p tsconfig.json, ESM + types in dist/)
// and the support widget: widget/widget.ts compiled by the same tsc as a
// plain script, then bundled with @stomp/stompjs's UMD build into one file,
// dist/widget.js, wrapped in one function so that the page gets nothing but
// window.ChatdWidget (the UMD build takes the CommonJS branch of its
// wrapper and fills a local `exports`). A copy goes to examples/web/, the
// web root chatd serves in development and tests, as /widget.js.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.join(here, "..");
const tsc = path.join(pkg, "node_modules", "typescript", "bin", "tsc");
for (const config of ["tsconfig.json", "tsconfig.widget.json"])
  execFileSync(process.execPath, [tsc, "-p", config], { cwd: pkg, stdio: "inherit" });

const stomp = readFileSync(path.join(pkg, "node_modules", "@stomp", "stompjs", "bundles", "stomp.umd.min.js"), "utf8")
  .replace(/\n\/\/# sourceMappingURL=.*$/m, "");
const widget = readFileSync(path.join(pkg, "dist", "widget-parts", "widget.js"), "utf8");
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
const web = path.join(pkg, "..", "..", "examples", "web");
if (existsSync(web)) copyFileSync(out, path.join(web, "widget.js"));
console.log(`dist/widget.js: ${bundle.length} bytes, ${gzipSync(bundle, { level: 9 }).length} gzipped`);
