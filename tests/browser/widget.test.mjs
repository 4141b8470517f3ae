// The support widget (clients/js, served by chatd as /widget.js) embedded in
// a page of another origin, in headless Chromium: a site's signed-in user
// (a JWT from the page's callback) and an anonymous visitor (a visitor token
// chatd issues) chat with an agent on the agent console, in Korean and
// emoji both ways; the console and the supervisor's page name the visitor
// by a short label; the widget reconnects with back-off when the
// connection is cut and resumes its chat; the fallback when chatd cannot
// be reached.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { startChatd } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

const JWT_SECRET = "widget-test-jwt-secret-0123456789";
let server, browser, env, site, siteOrigin, deadPort, proxy;

const b64url = (b) => Buffer.from(b).toString("base64url");
function jwt(sub, roles) {
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ sub, roles, exp: Math.floor(Date.now() / 1000) + 3600 }));
  return `${head}.${body}.${createHmac("sha256", JWT_SECRET).update(`${head}.${body}`).digest("base64url")}`;
}

// A TCP relay to chatd that can cut every connection through it and refuse
// new ones (block) until unblock: chatd seen from a network that drops.
function relay(port) {
  const sockets = new Set();
  let blocked = false;
  const track = (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); s.on("error", () => s.destroy()); };
  const srv = net.createServer((down) => {
    track(down);
    if (blocked) return down.destroy();
    const up = net.connect(port, "127.0.0.1");
    track(up);
    down.pipe(up).pipe(down);
    down.on("close", () => up.destroy());
    up.on("close", () => down.destroy());
  });
  return {
    listen: () => new Promise((r) => srv.listen(0, "127.0.0.1", () => r(srv.address().port))),
    block() { blocked = true; for (const s of sockets) s.destroy(); },
    unblock() { blocked = false; },
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); srv.close(r); }),
  };
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
    const relayed = `http://localhost:${proxy.port}`;
    const pages = {
      "/signed-in.html": page(chatd, 'data-token-callback="siteToken" data-title="Shop support"'),
      "/anonymous.html": page(chatd, 'data-title="Shop support"'),
      "/relayed.html": page(relayed, 'data-title="Shop support" data-reconnect-delay="300" data-max-reconnect-delay="1200"'),
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
  proxy = relay(server.http);
  proxy.port = await proxy.listen();
});
after(async () => {
  await proxy?.close();
  await env?.stop();
  await new Promise((r) => site?.close(r) ?? r());
});

const newPage = async () => (await browser.newContext({ viewport: { width: 1000, height: 720 } })).newPage();
const W = "#chatd-widget"; // the widget's host element; playwright's CSS pierces its open shadow root

const agents = new Map();
async function agentConsole(name = "agent1") {
  if (agents.has(name)) return agents.get(name);
  const agent = await newPage();
  agents.set(name, agent);
  await agent.goto(`http://localhost:${server.http}/agent.html`);
  await agent.fill("#signin input[name=login]", name);
  await agent.fill("#signin input[name=passcode]", jwt(name, ["agent"]));
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

  // The console names the visitor "Visitor" and four characters of the id,
  // the whole id in the title: in the queue, the chat list, the pane, the
  // messages; the raw id is nowhere in the page's text.
  const label = "Visitor " + who.slice("visitor:".length, "visitor:".length + 4);
  const waiting = await visitor.evaluate(() => window.ChatdWidget.room);
  const queued = `#queue li[data-room="${waiting}"] .who`;
  await agent1.waitForSelector(queued);
  assert.equal(await agent1.textContent(queued), label);
  assert.equal(await agent1.getAttribute(queued, "title"), who);

  // agent1 finishes the other chat and is given the visitor's.
  await agent1.click(`#mine li[data-room="${otherRoom}"]`);
  await agent1.click("#complete");
  await visitor.waitForSelector(`${W} .status >> text=You are talking with agent1`);
  const roomId = await visitor.evaluate(() => window.ChatdWidget.room);
  assert.equal(roomId, waiting);
  const mine = `#mine li[data-room="${roomId}"] .who`;
  assert.equal(await agent1.textContent(mine), label);
  assert.equal(await agent1.getAttribute(mine, "title"), who);
  await agent1.click(`#mine li[data-room="${roomId}"]`);
  await agent1.waitForSelector("#messages >> text=비회원인데 배송 문의드려요 🙋‍♀️");
  assert.equal(await agent1.textContent("#pane-title"), `Chat with ${label}`);
  assert.equal(await agent1.getAttribute("#pane-title", "title"), who);
  const meta = agent1.locator("#messages li", { hasText: "비회원인데 배송 문의드려요 🙋‍♀️" }).locator(".meta");
  assert.match(await meta.textContent(), new RegExp(`^${label} · `));
  assert.equal(await meta.getAttribute("title"), who);
  assert.ok(!(await agent1.innerText("body")).includes(who));
  // The widget sends JSON bodies ({"text": ...}): the console shows the text.
  assert.equal(await agent1.locator("#messages li", { hasText: "비회원인데 배송 문의드려요 🙋‍♀️" }).locator(".text").textContent(),
               "비회원인데 배송 문의드려요 🙋‍♀️");
  assert.ok(!(await agent1.innerText("body")).includes('{"text"'));
  await agent1.screenshot({ path: path.join(SHOTS, "agent-visitor.png") });

  // So does the supervisor's page.
  const sup = await newPage();
  await sup.goto(`http://localhost:${server.http}/supervisor.html`);
  await sup.fill("#signin input[name=login]", "sup1");
  await sup.fill("#signin input[name=passcode]", jwt("sup1", ["supervisor"]));
  await sup.click("#signin button[type=submit]");
  const overseen = `#assigned li[data-room="${roomId}"] .who`;
  await sup.waitForSelector(overseen);
  assert.equal(await sup.textContent(overseen), `${label} → agent1`);
  assert.equal(await sup.getAttribute(overseen, "title"), who);
  await sup.click(`#assigned li[data-room="${roomId}"]`);
  await sup.waitForSelector(`#pane-title >> text=Chat of ${label} with agent1`);
  assert.equal(await sup.getAttribute("#pane-title", "title"), who);
  await sup.context().close();
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

test("cut off, the widget reconnects with back-off and resumes its chat without duplicates", async () => {
  const agent2 = await agentConsole("agent2"); // agent1 has its one chat
  const p = await newPage();
  // Every connection state the widget announces, with the page's clock.
  await p.addInitScript(() => {
    window.__connection = [];
    addEventListener("chatd-widget:connection", (e) => window.__connection.push({ ...e.detail, at: Date.now() }));
  });
  await p.goto(`${siteOrigin}/relayed.html`);
  await p.click(`${W} .bubble`);
  await p.waitForSelector(`${W} .status >> text=You are talking with agent2`);
  const roomId = await p.evaluate(() => window.ChatdWidget.room);
  await say(p, "연결이 자꾸 끊겨요 📶😢");
  await p.waitForSelector(`${W} .messages li.mine[data-seq]`);
  await agent2.click(`#mine li[data-room="${roomId}"]`);
  await agent2.waitForSelector("#messages >> text=연결이 자꾸 끊겨요 📶😢");

  const events = (from) => p.evaluate((n) => window.__connection.slice(n), from);
  const mark = async () => (await events(0)).length;
  const reconnecting = (n, count) => p.waitForFunction(([n, count]) =>
    window.__connection.slice(n).filter((e) => e.state === "reconnecting").length >= count, [n, count]);
  const online = (n) => p.waitForFunction((n) => window.__connection.slice(n).some((e) => e.state === "online"), n);

  // Cut: four attempts fail, each after a wait drawn from its step's upper
  // half, the steps doubling from 300 ms to at most 1200 ms.
  let from = await mark();
  proxy.block();
  await reconnecting(from, 4);
  await p.waitForSelector(`${W} .fallback:not([hidden]) >> text=/Reconnecting in \\d+ s/`);
  assert.equal(await p.isDisabled(`${W} form input`), true);
  await p.screenshot({ path: path.join(SHOTS, "widget-reconnecting.png") });
  const cut = (await events(from)).filter((e) => e.state === "reconnecting");
  cut.forEach((e, i) => {
    assert.equal(e.attempt, i + 1);
    const step = Math.min(1200, 300 * 2 ** i);
    assert.ok(e.retryIn >= step / 2 && e.retryIn <= step, `attempt ${e.attempt}: ${e.retryIn} ms, step ${step} ms`);
    // (The page's clock; a few ms go between choosing a wait and announcing it.)
    if (i > 0) assert.ok(e.at - cut[i - 1].at >= cut[i - 1].retryIn - 25, `attempt ${e.attempt} came before its wait`);
  });

  // The agent answers meanwhile; back online, the widget catches up.
  await agent2.fill("#composer input", "끊긴 동안 보낸 답장이에요 📨✨");
  await agent2.press("#composer input", "Enter");
  await agent2.waitForSelector("#messages >> text=끊긴 동안 보낸 답장이에요 📨✨");
  proxy.unblock();
  await online(from);
  await p.waitForSelector(`${W} .messages li.theirs >> text=끊긴 동안 보낸 답장이에요 📨✨`);
  await p.waitForSelector(`${W} .fallback`, { state: "hidden" });
  await say(p, "다시 연결됐어요 🎉 고마워요");
  await agent2.waitForSelector("#messages >> text=다시 연결됐어요 🎉 고마워요");
  await p.waitForSelector(`${W} .messages li.mine[data-seq] >> text=다시 연결됐어요 🎉 고마워요`);

  // Each message once, in seq order, on both sides.
  for (const t of ["연결이 자꾸 끊겨요 📶😢", "끊긴 동안 보낸 답장이에요 📨✨", "다시 연결됐어요 🎉 고마워요"]) {
    assert.equal(await p.locator(`${W} .messages li`, { hasText: t }).count(), 1, t);
    assert.equal(await agent2.locator("#messages li", { hasText: t }).count(), 1, t);
  }
  const seqs = await p.$$eval(`${W} .messages li[data-seq]`, (lis) => lis.map((li) => Number(li.dataset.seq)));
  assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b));

  // Connected again, the back-off starts over from its first step.
  from = await mark();
  proxy.block();
  await reconnecting(from, 1);
  const [first] = (await events(from)).filter((e) => e.state === "reconnecting");
  assert.equal(first.attempt, 1);
  assert.ok(first.retryIn >= 150 && first.retryIn <= 300, `${first.retryIn} ms`);
  proxy.unblock();
  await online(from);
  await p.waitForSelector(`${W} .fallback`, { state: "hidden" });
});

test("when chatd cannot be reached the widget says so", async () => {
  const p = await newPage();
  await p.goto(`${siteOrigin}/down.html`);
  await p.click(`${W} .bubble`);
  await p.waitForSelector(`${W} .fallback:not([hidden]) >> text=Chat is unavailable right now`);
  assert.equal(await p.isDisabled(`${W} form input`), true);
});
