// The customer page and the agent console in a real browser, with what the
// chat page has: replies that quote the message they answer, reactions,
// attachments from the agent too, search (the customer in their chat, the
// agent in the open chat or across every chat they may read), and presence
// dots (the agent's list shows each customer online, away or offline; the
// customer sees the agent's).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { passwordOf, startChatd } from "../conformance/harness.mjs";
import { SHOTS, png, startBrowserTest } from "./browser.mjs";

let server, browser, env;
const store = mkdtempSync(path.join(tmpdir(), "chatd-desk-messages-"));

before(async () => {
  env = await startBrowserTest(() => startChatd({ sections: [
    "[files]", "plugin = local", `dir = ${store}/files`, "allowed_types = image/png text/plain",
    "[presence]", "offline_grace = 300ms"] }));
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
  rmSync(store, { recursive: true, force: true });
});

async function open(file, user) {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
  await page.goto(`http://localhost:${server.http}/${file}`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", passwordOf(user));
  await page.click("#signin button[type=submit]");
  return page;
}

async function say(page, text) {
  await page.fill("#composer input[name=text]", text);
  await page.press("#composer input[name=text]", "Enter");
}

// A customer's chat claimed by the agent: [customer page, room id].
async function claimed(agent, user) {
  const customer = await open("customer.html", user);
  await customer.waitForSelector("text=Waiting for an agent");
  const room = await customer.evaluate(() => window.__desk.room.id);
  await agent.click(`#queue li[data-room="${room}"] button`);
  await customer.waitForSelector("text=You are talking with agent1");
  await agent.waitForFunction((id) => window.__desk.open === id && window.__desk.watch, room);
  return [customer, room];
}

const line = (page, text) => page.locator("#messages li", { has: page.locator(".text", { hasText: text }) });

// One agent for the whole file, signed in once; each test's customer leaves
// their chat closed, so the agent's list holds only the chats under test.
let agent;
async function theAgent() {
  if (!agent) {
    agent = await open("agent.html", "agent1");
    await agent.waitForSelector("#console:not([hidden])");
  }
  return agent;
}
async function finish(customer) {
  await customer.click("#close");
  await customer.waitForSelector("#closed:not([hidden])");
  await customer.context().close();
}

test("replies both ways between the customer page and the agent console", async () => {
  const agent = await theAgent();
  const [customer] = await claimed(agent, "alice");
  const question = "택배가 아직 안 왔어요 📦 주문번호 12번";
  await say(customer, question);
  await line(agent, question).waitFor();

  // The agent answers it: "Replying to …" above the reply box, then the
  // question quoted above the answer in both pages.
  await line(agent, question).locator("button.reply").click();
  await agent.waitForSelector(`#reply-bar:not([hidden]) >> text=Replying to alice: ${question}`);
  await say(agent, "확인해 볼게요 🔍");
  await agent.waitForSelector("#reply-bar", { state: "hidden" });
  for (const page of [customer, agent]) {
    const quote = line(page, "확인해 볼게요 🔍").locator(".quote");
    await quote.waitFor();
    assert.equal(await quote.locator(".who").textContent(), "↩ alice ");
    assert.equal(await quote.locator(".excerpt").textContent(), question);
  }

  // The customer starts a reply and leaves it (×): the next line is no reply.
  await line(customer, "확인해 볼게요").locator("button.reply").click();
  await customer.waitForSelector("#reply-bar:not([hidden]) >> text=Replying to agent1: 확인해 볼게요 🔍");
  await customer.click("#reply-cancel");
  await customer.waitForSelector("#reply-bar", { state: "hidden" });
  await say(customer, "네 😊");
  await line(agent, "네 😊").waitFor();
  assert.equal(await line(agent, "네 😊").locator(".quote").count(), 0);

  // Then answers the agent's line: quoted in both pages; a click on the
  // quote brings the message it answers into view.
  await line(customer, "확인해 볼게요").locator("button.reply").click();
  await say(customer, "감사합니다 🙏");
  const thanks = (page) => line(page, "감사합니다 🙏");
  await thanks(agent).locator(".quote").waitFor();
  assert.equal(await thanks(agent).locator(".quote .who").textContent(), "↩ agent1 ");
  assert.equal(await thanks(customer).locator(".quote .excerpt").textContent(), "확인해 볼게요 🔍");
  const answered = Number(await line(agent, "확인해 볼게요").getAttribute("data-seq"));
  await thanks(agent).locator(".quote").click();
  await agent.waitForSelector(`#messages li.flash[data-seq="${answered}"]`);

  // The agent starts another reply, shown while written.
  await thanks(agent).locator("button.reply").click();
  await agent.fill("#composer input[name=text]", "내일 도착 예정입니다 🚚");
  await customer.screenshot({ path: path.join(SHOTS, "customer-reply.png") });
  await agent.screenshot({ path: path.join(SHOTS, "agent-reply.png") });
  await agent.press("#composer input[name=text]", "Enter");
  await line(customer, "내일 도착 예정입니다").locator(".quote .excerpt >> text=감사합니다 🙏").waitFor();
  await finish(customer);
});

test("reactions from the customer page and the agent console, seen live in the other", async () => {
  const agent = await theAgent();
  const [customer] = await claimed(agent, "bob");
  await say(agent, "안녕하세요, 무엇을 도와드릴까요? 👋");
  await say(customer, "환불 받고 싶어요 💸");
  await line(agent, "환불 받고 싶어요").waitFor();
  await line(customer, "무엇을 도와드릴까요").waitFor();

  // The customer picks 👍 under the agent's line; the agent sees it live.
  await line(customer, "무엇을 도와드릴까요").locator("button.reaction.add").click();
  await line(customer, "무엇을 도와드릴까요").locator(".picker button.pick[data-emoji='👍']").click();
  await line(customer, "무엇을 도와드릴까요").locator("button.reaction.me[data-emoji='👍'] >> text=👍 1").waitFor();
  await line(agent, "무엇을 도와드릴까요").locator("button.reaction:not(.me)[data-emoji='👍'] >> text=👍 1").waitFor();

  // The agent joins with a click on the chip and adds ❤️ to the customer's line.
  await line(agent, "무엇을 도와드릴까요").locator("button.reaction[data-emoji='👍']").click();
  await line(customer, "무엇을 도와드릴까요").locator("button.reaction.me[data-emoji='👍'] >> text=👍 2").waitFor();
  await line(agent, "환불 받고 싶어요").locator("button.reaction.add").click();
  await line(agent, "환불 받고 싶어요").locator(".picker button.pick[data-emoji='❤️']").click();
  await line(customer, "환불 받고 싶어요").locator("button.reaction:not(.me)[data-emoji='❤️'] >> text=❤️ 1").waitFor();

  // The customer takes theirs back; reloaded, the history has the counts.
  await line(customer, "무엇을 도와드릴까요").locator("button.reaction[data-emoji='👍']").click();
  await line(agent, "무엇을 도와드릴까요").locator("button.reaction.me[data-emoji='👍'] >> text=👍 1").waitFor();
  const room = await agent.evaluate(() => window.__desk.open);
  await agent.click(`#mine li[data-room="${room}"]`);
  await line(agent, "환불 받고 싶어요").locator("button.reaction.me[data-emoji='❤️'] >> text=❤️ 1").waitFor();
  await line(agent, "무엇을 도와드릴까요").locator("button.reaction.me[data-emoji='👍'] >> text=👍 1").waitFor();
  await customer.screenshot({ path: path.join(SHOTS, "customer-reactions.png") });
  await agent.screenshot({ path: path.join(SHOTS, "agent-reactions.png") });
  await finish(customer);
});

test("the agent attaches an image: the customer sees its preview", async () => {
  const agent = await theAgent();
  const [customer] = await claimed(agent, "alice");
  const chooser = agent.waitForEvent("filechooser");
  await agent.click("#attach");
  await (await chooser).setFiles({ name: "반품 안내 🧾.png", mimeType: "image/png", buffer: png(280, 180) });
  await customer.waitForFunction(() => { const i = document.querySelector("#messages li.file img.attachment");
                                         return i && i.complete && i.naturalWidth === 280 && i.alt === "반품 안내 🧾.png"; });
  await agent.waitForFunction(() => { const i = document.querySelector("#messages li.file img.attachment");
                                      return i && i.complete && i.naturalWidth === 280; });
  // A text file: a link in the customer's page; a refusal shows its reason.
  const chooser2 = agent.waitForEvent("filechooser");
  await agent.click("#attach");
  await (await chooser2).setFiles({ name: "절차.txt", mimeType: "text/plain", buffer: Buffer.from("1. 포장 📦\n2. 발송\n") });
  await customer.waitForSelector("#messages li.file a.attachment >> text=📎 절차.txt");
  const chooser3 = agent.waitForEvent("filechooser");
  await agent.click("#attach");
  await (await chooser3).setFiles({ name: "가짜.png", mimeType: "image/png", buffer: Buffer.from("not a picture 😀") });
  await agent.waitForSelector("#read >> text=가짜.png: Content-Type says image/png");
  await agent.screenshot({ path: path.join(SHOTS, "agent-files.png") });
  await finish(customer);
});

test("search: the customer in their chat, the agent in the open chat or across their chats", async () => {
  const agent = await theAgent();
  const [alice, aliceRoom] = await claimed(agent, "alice");
  await say(alice, "배송지를 부산으로 바꿔 주세요 🏠");
  for (let i = 1; i <= 22; i++) await say(alice, `추가 메모 ${i}`);
  await line(agent, "추가 메모 22").waitFor();
  const [bob, bobRoom] = await claimed(agent, "bob");
  await say(bob, "부산 매장 영업시간이 궁금해요 🕘");
  await line(agent, "부산 매장").waitFor();

  // The customer finds their line from inside a word, further back than the
  // newest page; a click brings it into view. bob's chat is not theirs.
  await alice.fill("#search input[name=q]", "산으");
  await alice.click("#search button");
  await alice.waitForSelector("#found-list li >> text=배송지를 부산으로 바꿔 주세요 🏠");
  assert.match(await alice.textContent("#found-summary"), /^1 message/);
  await alice.click("#found-list li");
  await alice.waitForSelector("#messages li.flash >> text=배송지를 부산으로 바꿔 주세요 🏠");
  await alice.screenshot({ path: path.join(SHOTS, "customer-search.png") });
  await alice.fill("#search input[name=q]", "부산 매장");
  await alice.click("#search button");
  await alice.waitForSelector('#found-summary >> text=No message with "부산 매장"');

  // The agent, bob's chat open: across every chat both customers' lines;
  // in this chat only bob's.
  await agent.fill("#search input[name=q]", "부산");
  await agent.click("#search button");
  await agent.waitForSelector("#found-summary >> text=2 messages");
  assert.equal(await agent.locator(`#found-list li[data-room="${aliceRoom}"] .who`).textContent().then((t) => t.startsWith("Chat with alice · alice · ")), true);
  await agent.selectOption("#search-scope", "open");
  await agent.click("#search button");
  await agent.waitForSelector("#found-summary >> text=1 message");
  assert.equal(await agent.locator(`#found-list li[data-room="${bobRoom}"]`).count(), 1);
  await agent.selectOption("#search-scope", "all");
  await agent.click("#search button");
  await agent.waitForSelector("#found-summary >> text=2 messages");
  await agent.screenshot({ path: path.join(SHOTS, "agent-search.png") });
  // A match in the other chat opens it and shows the message.
  await agent.click(`#found-list li[data-room="${aliceRoom}"]`);
  await agent.waitForFunction((id) => window.__desk.open === id, aliceRoom);
  await agent.waitForSelector("#messages li.flash >> text=배송지를 부산으로 바꿔 주세요 🏠");
  // Too short: the server's reason.
  await agent.fill("#search input[name=q]", "부");
  await agent.click("#search button");
  await agent.waitForSelector("#toast >> text=2 to 100 characters");
  await agent.click("#found-close");
  await agent.waitForSelector("#found", { state: "hidden" });
  await finish(alice);
  await finish(bob);
});

test("presence dots: the agent's list shows the customer online, away (chosen, or a hidden tab), offline; the customer sees the agent", async () => {
  const agent = await theAgent();
  const [customer, room] = await claimed(agent, "bob");
  const dot = `#mine li[data-room="${room}"] .dot[data-user="bob"]`;
  await agent.waitForSelector(`${dot}.online`);
  await customer.waitForSelector('#agent-dot .dot.online[data-user="agent1"]');
  assert.match(await customer.textContent("#room-state"), /talking with agent1/);

  // bob says he is away, then comes back; then the agent is away.
  await customer.evaluate(() => desk.chat.setPresence("away"));
  await agent.waitForSelector(`${dot}.away`);
  assert.equal(await agent.getAttribute(dot, "title"), "bob: away");
  await customer.evaluate(() => desk.chat.setPresence("online"));
  await agent.waitForSelector(`${dot}.online`);
  await agent.evaluate(() => desk.chat.setPresence("away"));
  await customer.waitForSelector('#agent-dot .dot.away[data-user="agent1"]');
  await customer.screenshot({ path: path.join(SHOTS, "customer-presence.png") });
  await agent.evaluate(() => desk.chat.setPresence("online"));
  await customer.waitForSelector('#agent-dot .dot.online[data-user="agent1"]');

  // bob's tab is hidden a while: his page says away; shown again, back.
  const visible = (hidden) => customer.evaluate((h) => {
    desk.awayAfterMs = 50;
    Object.defineProperty(document, "hidden", { value: h, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
  await visible(true);
  await agent.waitForSelector(`${dot}.away`);
  await visible(false);
  await agent.waitForSelector(`${dot}.online`);

  // bob's page goes: offline, with when he was last seen.
  await say(customer, "잠시 후 다시 올게요 🏃");
  await line(agent, "잠시 후 다시 올게요").waitFor();
  await customer.context().close();
  await agent.waitForSelector(`${dot}.offline`);
  assert.match(await agent.getAttribute(dot, "title"), /^bob: last seen /);
  await agent.screenshot({ path: path.join(SHOTS, "agent-presence.png") });
});
