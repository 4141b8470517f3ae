// Start chatd on free loopback ports with a generated chat.ini (the Node
// twin of tests/integration/chatd_harness.py).
import { spawn } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const BIN = process.env.CHATD_BIN ?? "build/core/chatd";
const PLUGINS = process.env.CHATD_PLUGIN_DIR ?? "build/plugins";
const SOURCE = process.env.CHATD_SOURCE_DIR ?? ".";
export const USERS = { alice: "user", bob: "user", agent1: "agent", agent2: "agent" };
export const passwordOf = (u) => u + "-pw";

function hash(pw) {
  const salt = randomBytes(16);
  const key = pbkdf2Sync(pw, salt, 1000, 32, "sha256");
  return `pbkdf2-sha256$1000$${salt.toString("hex")}$${key.toString("hex")}`;
}

// A port from below the kernel's ephemeral range, which other tests' client
// sockets draw from (see tests/integration/free_port.py).
function ephemeralLow() {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

function tryPort(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

// Ports this process has handed out: a server takes several before it binds
// any, so one pick must not repeat another.
const given = new Set();

export async function freePort() {
  const low = 10000, high = Math.max(ephemeralLow(), low + 1000);
  for (;;) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (!given.has(port) && await tryPort(port)) {
      given.add(port);
      return port;
    }
  }
}

function portOpen(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    c.on("connect", () => { c.destroy(); resolve(true); });
    c.on("error", () => resolve(false));
  });
}

export async function waitFor(cond, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

// extra: more lines for [server] and [stomp] ({ server: [...], stomp: [...] });
// extra.origins: more origins for [server] allowed_origins (other sites' pages);
// extra.auth: the [auth] section's lines instead of the static users (e.g.
// the jwt plugin's keys); extra.sections: more sections' lines at the end
// (e.g. ["[support]", "assign = round_robin"]).
export async function startChatd(extra = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "chatd-js-"));
  const http = await freePort();
  const stomp = await freePort();
  const lines = [
    "[server]", `listen = 127.0.0.1:${http}`, `stomp_listen = 127.0.0.1:${stomp}`,
    `plugin_dir = ${PLUGINS}`, `web_root = ${path.join(SOURCE, "examples", "web")}`,
    `allowed_origins = ${[`http://localhost:${http}`, ...(extra.origins ?? [])].join(" ")}`, "log_level = debug",
    ...(extra.server ?? []),
    "[stomp]", "allow.topics = send,subscribe /topic/** user,agent", "allow.queues = send,subscribe /queue/** user,agent",
    ...(extra.stomp ?? []),
    "[auth]", ...(extra.auth ?? ["plugin = static",
      ...Object.entries(USERS).flatMap(([u, r]) => [`user.${u}.password = ${hash(passwordOf(u))}`, `user.${u}.roles = ${r}`])]),
    "[storage]", "plugin = memory", "[broker]", "plugin = simple", ...(extra.sections ?? []), "",
  ];
  const config = path.join(dir, "chat.ini");
  writeFileSync(config, lines.join("\n"));
  return spawnChatd(dir, config, http, stomp, {});
}

// chatd started from a shipped configuration (examples/deploy/*.ini) whose
// listen addresses, plugin dir and the rest come from the environment
// variables it names: env gets CHATD_LISTEN, CHATD_STOMP_LISTEN,
// CHATD_PLUGIN_DIR, CHATD_WEB_ROOT and CHATD_ORIGINS here; env(dir) may add
// more (a secret, a database path in dir).
export async function startChatdFrom(config, env = () => ({})) {
  const dir = mkdtempSync(path.join(tmpdir(), "chatd-js-"));
  const http = await freePort();
  const stomp = await freePort();
  return spawnChatd(dir, config, http, stomp, {
    CHATD_LISTEN: `127.0.0.1:${http}`, CHATD_STOMP_LISTEN: `127.0.0.1:${stomp}`,
    CHATD_PLUGIN_DIR: path.resolve(PLUGINS), CHATD_WEB_ROOT: path.resolve(SOURCE, "examples", "web"),
    CHATD_ORIGINS: `http://localhost:${http}`, ...env(dir),
  });
}

async function spawnChatd(dir, config, http, stomp, env) {
  const logPath = path.join(dir, "chatd.log");
  const { openSync } = await import("node:fs");
  const log = openSync(logPath, "w");
  const proc = spawn(BIN, ["-c", config], { stdio: ["ignore", log, log], env: { ...process.env, ...env } });
  let exited = null;
  proc.on("exit", (code) => { exited = code; });
  await waitFor(async () => exited !== null || ((await portOpen(http)) && (await portOpen(stomp))), "chatd to listen");
  if (exited !== null) throw new Error("chatd exited at start:\n" + readFileSync(logPath, "utf8"));
  return {
    http, stomp, origin: `http://localhost:${http}`,
    log: () => readFileSync(logPath, "utf8"),
    async stop() {
      if (exited === null) {
        const done = new Promise((r) => proc.on("exit", r));
        proc.kill("SIGTERM");
        await done;
      }
      const code = exited;
      // CHATD_KEEP_LOGS=1 keeps the directory (config, chatd.log) for a look.
      if (process.env.CHATD_KEEP_LOGS) console.error("chatd's directory kept: " + dir);
      else rmSync(dir, { recursive: true, force: true });
      if (code !== 0) throw new Error("chatd exited with " + code);
    },
  };
}
