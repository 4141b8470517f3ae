// The support widget (clients/js, served by chatd as /widget.js) embedded in
// a page of another origin, in headless Chromium: a site's signed-in user
// (a JWT from the page's callback) and an anonymous visitor (a visitor token
// chatd issues) chat with an agent on the agent console, in Korean and
// emoji both ways; the fallback when chatd cannot be reached.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import http from "node:http";
import path from "node:path";
import { startChatd } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

const JWT_SECRET = "widget-test-jwt-secret-0123456789";
let server, browser, env, site, siteOrigin, deadPort;

const b64url = (b) => Buffer.from(b).toString("base64url");
function jwt(sub, roles) {
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ sub, roles, exp: Math.floor(Date.now() / 1000) + 3600 }));
  return `${head}.${body}.${createHmac("sha256", JWT_SECRET).update(`${head}.${body}`).digest("base64url")}`;
}

// The embedding site: its own origin (another loopback port), its pages
// name chatd only in the script tag.
function page(chatd, attrs) {
  return `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>Shop</title>
<style>:root { --chatd-accent: #0b7a5a; }</style></head>
<body><h1>가게 Shop 🛍️</h1><p>Our products.</p>
<script>window.siteToken = () => fetch("/token").then((r) => r.text());</script>
<script src="${chatd}/widget.js" data-chatd="${chatd}" ${attrs}></script></body></html>`;
}

before(async () => {
  deadPort = await new Promise((resolve) => {
    const s = http.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  site = http.createServer((req, res) => {
    const chatd = `http://localhost:${server.http}`;
    const pages = {
      "/signed-in.html": page(chatd, 'data-token-callback="siteToken" data-title="Shop support"'),
      "/anonymous.html": page(chatd, 'data-title="Shop support"'),
      "/down.html": page(`http://127.0.0.1:${deadPort}`, "").replace(`http://127.0.0.1:${deadPort}/widget.js`,
                                                                      `${chatd}/widget.js`),
    };
    if (req.url === "/token") {
      res.writeHead(200, { "Content-Type": "text/plain" }).end(jwt("minji", ["user"]));
    } else if (pages[req.url]) {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(pages[req.url]);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  siteOrigin = `http://127.0.0.1:${site.address().port}`;
  env = await startBrowserTest(() => startChatd({
    origins: [siteOrigin],
    auth: ["plugin = jwt", "algorithm = HS256", `secret = ${JWT_SECRET}`],
    sections: ["[support]", "assign = round_robin", "max_chats_per_agent = 1",
               "[visitors]", "enabled = on", "secret = widget-test-visitor-secret-0123456789"],
  }));
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
  await new Promise((r) => site?.close(r) ?? r());
});

const newPage = async () => (await browser.newContext({ viewport: { width: 1000, height: 720 } })).newPage();
const W = "#chatd-widget"; // the widget's host element; playwright's CSS pierces its open shadow root

let agent;
async function agentConsole() {
  if (agent) return agent;
  agent = await newPage();
  await agent.goto(`http://localhost:${server.http}/agent.html`);
  await agent.fill("#signin input[name=login]", "agent1");
  await agent.fill("#signin input[name=passcode]", jwt("agent1", ["agent"]));
  await agent.click("#signin button[type=submit]");
  await agent.waitForSelector('#availability[data-status="online"]');
  return agent;
}

async function say(p, text) {
  await p.fill(`${W} form input`, text);
  await p.press(`${W} form input`, "Enter");
}

test("a signed-in user of another site chats with an agent", async () => {
  const agent1 = await agentConsole();
  const shop = await newPage();
  const cors = [];
  shop.on("console", (m) => { if (/CORS|blocked/i.test(m.text())) cors.push(m.text()); });
  await shop.goto(`${siteOrigin}/signed-in.html`);
  await shop.click(`${W} .bubble`);
  await shop.waitForSelector(`${W} .status >> text=You are talking with agent1`);
  const roomId = await shop.evaluate(() => window.ChatdWidget.room);
  assert.equal(await shop.evaluate(() => window.ChatdWidget.user), "minji");

  await say(shop, "안녕하세요! 주문한 신발이 아직 안 왔어요 👟📦");
  await agent1.click(`#mine li[data-room="${roomId}"]`);
  await agent1.waitForSelector("#messages >> text=안녕하세요! 주문한 신발이 아직 안 왔어요 👟📦");
  await shop.waitForSelector(`${W} .messages li.mine.read`);

  await agent1.type("#composer input", "확인해 볼게요 ");
  await shop.waitForSelector(`${W} .typing >> text=agent1 is typing…`);
  await agent1.fill("#composer input", "확인해 볼게요 🙏 내일 도착합니다 🚚");
  await agent1.press("#composer input", "Enter");
  await shop.waitForSelector(`${W} .messages li.theirs >> text=확인해 볼게요 🙏 내일 도착합니다 🚚`);
  await agent1.waitForSelector("text=Read by the customer");

  // Closed, a reply raises the unread badge; opening clears it.
  await shop.click(`${W} .close`);
  await agent1.fill("#composer input", "다른 질문 있으세요? 😊");
  await agent1.press("#composer input", "Enter");
  await shop.waitForSelector(`${W} .badge:not([hidden])`);
  assert.equal(await shop.textContent(`${W} .badge`), "1");
  await shop.click(`${W} .bubble`);
  await shop.waitForSelector(`${W} .badge`, { state: "hidden" });
  await shop.waitForSelector(`${W} .messages >> text=다른 질문 있으세요? 😊`);
  await shop.screenshot({ path: path.join(SHOTS, "widget.png") });
  assert.deepEqual(cors, []);

  // The agent finishes: the widget says so and offers a new chat.
  await agent1.click("#complete");
  await shop.waitForSelector(`${W} .status >> text=This chat is finished.`);
  assert.equal(await shop.isDisabled(`${W} form input`), true);
  await shop.waitForSelector(`${W} .again:not([hidden])`);
});

test("an anonymous visitor waits in line, chats, and is remembered", async () => {
  const agent1 = await agentConsole();
  // agent1 is busy (one chat at most) with someone else's.
  const other = await newPage();
  await other.goto(`${siteOrigin}/signed-in.html`);
  await other.click(`${W} .bubble`);
  await other.waitForSelector(`${W} .status >> text=You are talking with agent1`);
  const otherRoom = await other.evaluate(() => window.ChatdWidget.room);

  const visitor = await newPage();
  await visitor.goto(`${siteOrigin}/anonymous.html`);
  await visitor.click(`${W} .bubble`);
  await visitor.waitForSelector(`${W} .status >> text=You are number 1 in the queue`);
  const who = await visitor.evaluate(() => window.ChatdWidget.user);
  assert.match(who, /^visitor:[A-Za-z0-9_-]{22}$/);
  const stored = await visitor.evaluate((k) => JSON.parse(localStorage.getItem(k)), `chatd-widget:http://localhost:${server.http}`);
  assert.equal(stored.user, who);
  await say(visitor, "비회원인데 배송 문의드려요 🙋‍♀️");

  // agent1 finishes the other chat and is given the visitor's.
  await agent1.click(`#mine li[data-room="${otherRoom}"]`);
  await agent1.click("#complete");
  await visitor.waitForSelector(`${W} .status >> text=You are talking with agent1`);
  const roomId = await visitor.evaluate(() => window.ChatdWidget.room);
  await agent1.click(`#mine li[data-room="${roomId}"]`);
  await agent1.waitForSelector("#messages >> text=비회원인데 배송 문의드려요 🙋‍♀️");
  await agent1.fill("#composer input", "네, 주문번호 알려주세요 📝");
  await agent1.press("#composer input", "Enter");
  await visitor.waitForSelector(`${W} .messages li.theirs >> text=네, 주문번호 알려주세요 📝`);

  // Back later (same browser): the same visitor, the history, the room.
  await visitor.reload();
  await visitor.click(`${W} .bubble`);
  await visitor.waitForSelector(`${W} .messages li.theirs >> text=네, 주문번호 알려주세요 📝`);
  assert.equal(await visitor.evaluate(() => window.ChatdWidget.user), who);
  assert.equal(await visitor.evaluate(() => window.ChatdWidget.room), roomId);
  assert.equal(await visitor.locator(`${W} .messages li.mine`).count(), 1);
  assert.match(server.log(), /issued visitor visitor:/);
});

test("when chatd cannot be reached the widget says so", async () => {
  const p = await newPage();
  await p.goto(`${siteOrigin}/down.html`);
  await p.click(`${W} .bubble`);
  await p.waitForSelector(`${W} .fallback:not([hidden]) >> text=Chat is unavailable right now`);
  assert.equal(await p.isDisabled(`${W} form input`), true);
});
