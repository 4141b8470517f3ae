// The package as an app developer gets it: `npm pack`, the tarball
// installed into an empty project offline from npm's cache together with
// @stomp/stompjs and ws (the versions of package-lock.json, which `npm ci`
// put in the cache), and the quick start of README.md, as the installed
// package's README has it, run in Node against a real chatd.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { passwordOf, startChatd } from "./server.mjs";

const run = promisify(execFile);
const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const QUIET = ["--no-audit", "--no-fund", "--loglevel=error"];
let server, dir;

before(async () => {
  server = await startChatd();
  dir = mkdtempSync(path.join(tmpdir(), "chatd-js-install-"));
});
after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The code of the README's quick start: the first ```js block after its heading. */
function quickStart(readme) {
  const m = /^## Quick start\n[\s\S]*?^```js\n([\s\S]*?)^```$/m.exec(readme);
  assert.ok(m, "README.md has a `## Quick start` with a ```js block");
  return m[1];
}

/** A locked dependency's tarball in the registry npm is configured with (as `npm ci` fetched and cached it). */
async function lockedTarball(name) {
  const lock = JSON.parse(readFileSync(path.join(pkg, "package-lock.json"), "utf8"));
  const entry = lock.packages[`node_modules/${name}`];
  assert.ok(entry, `${name} in package-lock.json`);
  const registry = (await run("npm", ["config", "get", "registry"], { cwd: dir })).stdout.trim().replace(/\/?$/, "/");
  return entry.resolved ?? `${registry}${name}/-/${name.split("/").pop()}-${entry.version}.tgz`;
}

test("npm pack, npm install --offline of the tarball, then the README's quick start against chatd", async () => {
  // The package's tarball, from the build the clients.js.build test made.
  await run("npm", ["pack", "--ignore-scripts", "--pack-destination", dir, ...QUIET], { cwd: pkg });
  const tarball = readdirSync(dir).find((f) => /^chatd-client-.*\.tgz$/.test(f));
  assert.ok(tarball, "npm pack wrote the tarball");

  // A fresh project with nothing but the tarball, stompjs and ws, all from the cache.
  const app = path.join(dir, "app");
  mkdirSync(app);
  writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "my-app", private: true, type: "module" }));
  const deps = [path.join(dir, tarball), await lockedTarball("@stomp/stompjs"), await lockedTarball("ws")];
  await run("npm", ["install", "--offline", ...QUIET, ...deps], { cwd: app });
  const installed = path.join(app, "node_modules", "@chatd", "client");
  for (const f of ["package.json", "dist/index.js", "dist/index.d.ts", "dist/events.js", "README.md"])
    assert.ok(existsSync(path.join(installed, f)), `the installed package has ${f}`);
  assert.ok(existsSync(path.join(app, "node_modules", "@stomp", "stompjs", "package.json")));

  // The quick start as the installed README has it, the same as the repository's.
  const code = quickStart(readFileSync(path.join(installed, "README.md"), "utf8"));
  assert.equal(code, quickStart(readFileSync(path.join(pkg, "README.md"), "utf8")));
  const text = /room\.send\("([^"]+)"\)/.exec(code)?.[1];
  assert.ok(text && /[가-힣]/.test(text) && /\p{Extended_Pictographic}/u.test(text), "it sends Korean and emoji");
  writeFileSync(path.join(app, "quickstart.mjs"), code);

  const env = { ...process.env, CHATD_URL: `http://127.0.0.1:${server.http}`, CHATD_LOGIN: "alice",
                CHATD_PASSCODE: passwordOf("alice") };
  delete env.NODE_PATH; // nothing from outside the app's own node_modules
  const { stdout } = await run(process.execPath, ["quickstart.mjs"], { cwd: app, env, timeout: 60000 });
  assert.match(stdout, new RegExp(`^alice: ${text}$`, "m"), stdout);
  const [, seq, room] = /^stored as #(\d+) in room (\S+)$/m.exec(stdout) ?? [];
  assert.ok(seq && room, stdout);

  // chatd stored it: the room's history as alice has it.
  const auth = "Basic " + Buffer.from(`alice:${passwordOf("alice")}`).toString("base64");
  const res = await fetch(`http://127.0.0.1:${server.http}/api/rooms/${room}/messages?limit=5`,
                          { headers: { Authorization: auth } });
  assert.equal(res.status, 200);
  const { messages } = await res.json();
  const stored = messages.find((m) => m.seq === Number(seq));
  assert.ok(stored, JSON.stringify(messages));
  assert.equal(stored.sender, "alice");
  assert.equal(stored.body, text);
});
