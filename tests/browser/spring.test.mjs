// The Spring-style page (examples/web/spring.html: sockjs-client under
// stompjs' Stomp.over, SEND to /pub, SUBSCRIBE under /sub, a bearer JWT)
// against chatd started from examples/deploy/spring.ini as shipped. alice's
// browser has no WebSocket, so SockJS falls back to xhr-streaming; bob's
// uses SockJS' websocket transport. They create a room and talk both ways.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import path from "node:path";
import { startChatdFrom } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

const SOURCE = process.env.CHATD_SOURCE_DIR ?? "..";
const SECRET = randomBytes(32).toString("hex");
const ISSUER = "https://login.example.com"; // spring.ini's default issuer

let server, browser, env;

before(async () => {
  env = await startBrowserTest(() => startChatdFrom(path.join(SOURCE, "examples", "deploy", "spring.ini"),
    (dir) => ({ CHAT_JWT_SECRET: SECRET, CHATD_DB: path.join(dir, "chatd.db") })));
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
});

// What the front end's login service would mint: HS256 with the shared secret.
function tokenFor(user) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = b64({ alg: "HS256", typ: "JWT" }) + "." +
    b64({ sub: user, iss: ISSUER, iat: now, exp: now + 3600, roles: ["user"] });
  return unsigned + "." + createHmac("sha256", SECRET).update(unsigned).digest("base64url");
}

// A signed-in page; withoutWebSocket takes WebSocket out of the page before
// any of its scripts run, as in a browser behind a proxy that blocks it.
async function signIn(user, { withoutWebSocket = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  const seen = { websockets: [], requests: [] };
  page.on("websocket", (ws) => seen.websockets.push(ws.url()));
  page.on("request", (r) => seen.requests.push(new URL(r.url()).pathname));
  if (withoutWebSocket) await page.addInitScript(() => { delete window.WebSocket; });
  await page.goto(`http://localhost:${server.http}/spring.html`);
  await page.fill("#signin input[name=token]", tokenFor(user));
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#console:not([hidden])");
  return { page, seen };
}

async function say(page, text) {
  await page.fill("#composer input[name=text]", text);
  await page.press("#composer input[name=text]", "Enter");
}

test("a Spring-style front end talks over SockJS xhr-streaming and websocket", async () => {
  const alice = await signIn("alice", { withoutWebSocket: true });
  assert.equal(await alice.page.evaluate(() => typeof window.WebSocket), "undefined");
  assert.equal(await alice.page.evaluate(() => window.__spring.transport()), "xhr-streaming");
  assert.deepEqual(alice.seen.websockets, []);
  assert.ok(alice.seen.requests.some((p) => /^\/ws\/[^/]+\/[^/]+\/xhr_streaming$/.test(p)), alice.seen.requests.join(" "));
  assert.ok(alice.seen.requests.some((p) => /^\/ws\/[^/]+\/[^/]+\/xhr_send$/.test(p)));
  await alice.page.waitForSelector("#status.online >> text=xhr-streaming");

  // alice creates a room with bob and enters it.
  const title = "주말 스터디 📚";
  await alice.page.fill("#new-room input[name=title]", title);
  await alice.page.fill("#new-room input[name=members]", "bob");
  await alice.page.click("#new-room button");
  await alice.page.waitForSelector("#room:not([hidden])");
  assert.equal(await alice.page.textContent("#room-title"), title);
  const roomId = await alice.page.evaluate(() => window.__spring.room());
  await say(alice.page, "안녕하세요 bob 👋 먼저 와 있어요");
  await alice.page.waitForSelector("#messages li.mine >> text=먼저 와 있어요");

  // bob signs in afterwards (WebSocket under SockJS): the room is listed,
  // its history comes over REST, then both talk live.
  const bob = await signIn("bob");
  assert.equal(await bob.page.evaluate(() => window.__spring.transport()), "websocket");
  assert.ok(bob.seen.websockets.some((u) => /\/ws\/[^/]+\/[^/]+\/websocket$/.test(u)), bob.seen.websockets.join(" "));
  await bob.page.click(`#rooms li[data-room="${roomId}"]`);
  await bob.page.waitForSelector("#messages li:not(.mine) >> text=먼저 와 있어요");
  await say(bob.page, "반가워요 🎉 지금 들어왔어요");
  await alice.page.waitForSelector("#messages li:not(.mine) >> text=지금 들어왔어요");
  await say(alice.page, "그럼 시작할까요? 🚀");
  await bob.page.waitForSelector("#messages li:not(.mine) >> text=그럼 시작할까요? 🚀");
  await bob.page.waitForSelector("#messages li.mine >> text=지금 들어왔어요");

  // Everything alice sent and got went over HTTP: still no WebSocket.
  assert.deepEqual(alice.seen.websockets, []);
  assert.equal(await alice.page.locator("#messages li").count(), 3);
  assert.equal(await bob.page.locator("#messages li").count(), 3);
  await alice.page.screenshot({ path: path.join(SHOTS, "spring-xhr-streaming.png") });
  await alice.page.context().close();
  await bob.page.context().close();
});

test("a token the server does not accept is refused on the page", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`http://localhost:${server.http}/spring.html`);
  const forged = tokenFor("mallory").replace(/\.[^.]+$/, ".AAAA");
  await page.fill("#signin input[name=token]", forged);
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#signin-error:not(:empty)");
  assert.equal(await page.isHidden("#console"), true);
  await context.close();
});
