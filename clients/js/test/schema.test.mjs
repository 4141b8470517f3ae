// The client's events and docs/events.schema.json are tied at build time
// (scripts/gen-events.mjs, src/events.ts): the package compiles against
// the schema as it is, and stops compiling when the schema has an event
// the client does not type, lacks one the client types, or drops a body
// member the client reads. Each case compiles a copy of src/ with the
// types generated from a changed copy of the schema.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const schemaFile = path.join(pkg, "..", "..", "docs", "events.schema.json");
const tsc = path.join(pkg, "node_modules", "typescript", "bin", "tsc");

/** tsc's verdict on src/ with the event types generated from `schema`: { ok, out }. */
function compileWith(schema) {
  const dir = mkdtempSync(path.join(tmpdir(), "chatd-js-schema-"));
  try {
    mkdirSync(path.join(dir, "src"));
    for (const f of readdirSync(path.join(pkg, "src")).filter((f) => f.endsWith(".ts") && f !== "events.gen.ts"))
      copyFileSync(path.join(pkg, "src", f), path.join(dir, "src", f));
    writeFileSync(path.join(dir, "schema.json"), JSON.stringify(schema));
    execFileSync(process.execPath, [path.join(pkg, "scripts", "gen-events.mjs")], {
      env: { ...process.env, CHATD_EVENTS_SCHEMA: path.join(dir, "schema.json"),
             CHATD_EVENTS_GEN_OUT: path.join(dir, "src", "events.gen.ts") } });
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
      extends: path.join(pkg, "tsconfig.json"),
      compilerOptions: { noEmit: true, rootDir: "src", outDir: "dist", baseUrl: ".",
                         paths: { "@stomp/stompjs": [path.join(pkg, "node_modules", "@stomp", "stompjs")] } },
      include: ["src"],
    }));
    const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: dir, encoding: "utf8" });
    return { ok: r.status === 0, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const schema = () => JSON.parse(readFileSync(schemaFile, "utf8"));

test("the client compiles against docs/events.schema.json as it is", () => {
  const r = compileWith(schema());
  assert.ok(r.ok, r.out);
});

test("an event the schema adds and the client does not type stops the build", () => {
  const s = schema();
  s.$defs["room-topic"].$defs.pinned = { type: "object", properties: { body: { type: "object" } } };
  const r = compileWith(s);
  assert.equal(r.ok, false);
  assert.match(r.out, /src\/events\.ts/);
});

test("an event the client types and the schema lacks stops the build", () => {
  const s = schema();
  delete s.$defs.notifications.$defs["queue-position"];
  const r = compileWith(s);
  assert.equal(r.ok, false);
  assert.match(r.out, /src\/events\.ts/);
});

test("a body member the client reads and the schema drops stops the build", () => {
  const s = schema();
  delete s.$defs["room-topic"].$defs.read.properties.body.properties.seq;
  const r = compileWith(s);
  assert.equal(r.ok, false);
  assert.match(r.out, /Property 'seq' does not exist/);
});
