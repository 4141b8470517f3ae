// The support widget as shipped (dist/widget.js, scripts/build.mjs): one
// file within its size budget, built with the package's own modules, that
// leaks nothing into the page but window.ChatdWidget. The widget in a
// browser: tests/browser/widget.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { gzipSync } from "node:zlib";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "widget.js");
const BUDGET = 30 * 1024;

test("widget.js with the STOMP client is within 30 KB gzipped", () => {
  const bundle = readFileSync(dist);
  const gz = gzipSync(bundle, { level: 9 }).length;
  assert.ok(gz <= BUDGET, `dist/widget.js is ${gz} bytes gzipped, above the budget of ${BUDGET}`);
  // The STOMP client is in it, not fetched separately.
  assert.match(bundle.toString(), /Includes @stomp\/stompjs \d+\.\d+\.\d+/);
  assert.match(bundle.toString(), /CONNECT/);
});

test("widget.js carries the package's own back-off and user labels, not copies", () => {
  const bundle = readFileSync(dist, "utf8");
  for (const mod of ["backoff.js", "names.js"]) {
    const src = readFileSync(path.join(dist, "..", mod), "utf8")
      .replace(/\n\/\/# sourceMappingURL=.*$/m, "").replace(/^export /gm, "");
    const fns = src.match(/^function [^]*?^}$/gm);
    assert.ok(fns.length > 0, mod);
    for (const fn of fns) assert.ok(bundle.includes(fn), `${mod}: ${fn.split("\n")[0]}`);
  }
});

test("widget.js defines nothing global but ChatdWidget and needs data-chatd", () => {
  const errors = [];
  // A page whose script tag lacks data-chatd: the widget says so and stops.
  const page = {
    console: { error: (m) => errors.push(m), warn: () => {} },
    document: { currentScript: { dataset: {} } },
  };
  page.window = page;
  const before = new Set(Object.keys(page));
  vm.runInNewContext(readFileSync(dist, "utf8"), page);
  assert.deepEqual(Object.keys(page).filter((k) => !before.has(k)), []);
  assert.match(errors[0], /data-chatd/);
});
