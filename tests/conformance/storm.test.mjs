// A reconnect storm seen from @stomp/stompjs: many clients sign in at once
// against a chatd that verifies passwords on one thread with a backlog of
// two. Those shed get ERROR "server busy, retry" with retry-after, wait
// (jittered, as docs/operations.md "Reconnect storms" shows) and all get in.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { Client } from "@stomp/stompjs";
import WebSocket from "ws";

import { startChatd, waitFor } from "./harness.mjs";

const N = 20;
const pw = (i) => `비밀번호🔑${i}`;
function hash(password) {   // the shipped chat.ini's cost
  const salt = randomBytes(16);
  return `pbkdf2-sha256$100000$${salt.toString("hex")}$${pbkdf2Sync(password, salt, 100000, 32, "sha256").toString("hex")}`;
}

let server;
before(async () => {
  const users = [];
  for (let i = 0; i < N; i++) users.push(`user.storm${i}.password = ${hash(pw(i))}`);
  server = await startChatd({
    stomp: ["busy_retry_after = 1s"],
    auth: ["plugin = static", "workers = 1", "max_pending = 2", ...users],
  });
});
after(async () => { await server.stop(); });

// The client of docs/operations.md, with what it went through recorded.
function stormClient(i) {
  const seen = { busy: [], waits: [], connected: false };
  let attempt = 0, serverSaid = 0;
  const c = new Client({
    webSocketFactory: () => new WebSocket(`ws://127.0.0.1:${server.http}/ws`, ["v12.stomp"], { origin: server.origin }),
    connectHeaders: { login: `storm${i}`, passcode: pw(i) },
    reconnectDelay: 50,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    beforeConnect: async () => {
      if (attempt === 0) return;
      const ms = Math.max(serverSaid * 1000, Math.min(30000, 1000 * 2 ** (attempt - 1)));
      const wait = ms / 2 + Math.random() * ms;
      seen.waits.push({ serverSaid, wait });
      await new Promise((done) => setTimeout(done, wait));
    },
    onConnect: () => { attempt = 0; serverSaid = 0; seen.connected = true; },
    onStompError: (frame) => {
      seen.busy.push({ message: frame.headers.message, retryAfter: frame.headers["retry-after"] });
      serverSaid = Number(frame.headers["retry-after"] || 0);
    },
    onWebSocketClose: () => { attempt++; },
  });
  return { c, seen };
}

test("every client of a storm gets in, the shed ones after retry-after", async () => {
  const clients = Array.from({ length: N }, (_, i) => stormClient(i));
  for (const { c } of clients) c.activate();
  try {
    await waitFor(() => clients.every(({ seen }) => seen.connected), "every client connected", 60000);
    const shed = clients.filter(({ seen }) => seen.busy.length > 0);
    assert.ok(shed.length > 0, "a backlog of two and twenty at once: some are shed");
    for (const { seen } of shed) {
      for (const b of seen.busy) {
        assert.equal(b.message, "server busy, retry");
        assert.ok(["1", "2"].includes(b.retryAfter), `retry-after ${b.retryAfter}`);
      }
      // Each retry waited at least half of what the server asked.
      for (const w of seen.waits) assert.ok(w.wait >= w.serverSaid * 500, JSON.stringify(w));
    }
  } finally {
    await Promise.all(clients.map(({ c }) => c.deactivate()));
  }
});
