// @chatd/client with the jwt auth plugin: bearer tokens over STOMP and REST,
// refresh on the live session before exp, a fresh token for reconnecting.
import { createHmac } from "node:crypto";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { connect, tokenExpiry } from "../dist/index.js";
import { cuttableSockets, next, startChatd, waitFor } from "./server.mjs";

const SECRET = "a-test-secret-of-32-bytes-length!";
const b64 = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");

/** An HS256 token for user, valid for ttl seconds (negative: expired). */
function mint(user, ttl, roles = ["user"]) {
  const now = Math.floor(Date.now() / 1000);
  const signing = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub: user, roles, iat: now, exp: now + ttl });
  return signing + "." + createHmac("sha256", SECRET).update(signing).digest("base64url");
}

let server;
before(async () => {
  server = await startChatd({ auth: ["plugin = jwt", "algorithm = HS256", `secret = ${SECRET}`, "leeway = 0"] });
});
after(async () => { await server.stop(); });

const url = () => `http://127.0.0.1:${server.http}`;

test("a bearer token for STOMP and REST", async () => {
  const c = await connect({ url: url(), token: mint("alice", 600) });
  assert.equal(c.user, "alice");
  const room = await c.rooms.openSupport();
  assert.equal(room.info.owner, "alice");
  const { clientId } = await room.send("안녕하세요 😀");
  const [m] = (await room.page({ limit: 1 })).messages;
  assert.deepEqual([m.body, m.client_id, m.sender], ["안녕하세요 😀", clientId, "alice"]);
  await c.close();
});

test("the token is refreshed on the live session before it expires", async () => {
  let calls = 0;
  const first = mint("bob", 3);
  const firstExp = tokenExpiry(first);
  const c = await connect({ url: url(), token: first, getToken: () => { calls++; return mint("bob", 3); } });
  const sessions = [];
  c.on("connect", (e) => sessions.push(e));
  const errors = [];
  c.on("error", (e) => errors.push(e));
  let refreshed = 0;
  c.on("token-refreshed", () => refreshed++);
  const room = await c.rooms.createGroup("refresh");
  // Two refreshes, and past the first token's exp by a second.
  await waitFor(() => refreshed >= 2 && Date.now() > firstExp + 1000, "two refreshes", 15000);
  assert.ok(calls >= 2);
  assert.deepEqual(sessions, [], "the session was never closed and reopened");
  assert.deepEqual(errors, []);
  assert.equal(c.connected, true);
  await room.send("still here 😀");
  assert.equal((await room.page({ limit: 1 })).messages[0].body, "still here 😀");
  await c.close();
});

test("an expired token is replaced before connecting and reconnecting", async () => {
  let calls = 0;
  const net = cuttableSockets(server);
  const c = await connect({ url: url(), token: mint("alice", -10), webSocketFactory: net.factory, reconnectDelay: 20,
                            getToken: () => { calls++; return mint("alice", 600); } });
  assert.equal(calls, 1, "asked for a token before the first CONNECT");
  assert.equal(c.user, "alice");
  await c.rooms.list();
  const back = next(c, "connect");
  net.cut();
  await back;
  assert.equal(c.user, "alice");
  await c.close();
});

test("refused token: connect rejects with the plugin's reason", async () => {
  await assert.rejects(connect({ url: url(), token: mint("alice", -10), reconnectDelay: 0 }),
                       (e) => e.code === "token expired");
});
