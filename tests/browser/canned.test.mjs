// Canned replies in the agent console, in a real browser: agents manage
// the desk's replies ([support] canned_writers = agents), and "/" and a
// shortcut in the reply box offers them; Tab, Enter or a click inserts the
// body, sent with its line breaks, Korean and emoji whole.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { passwordOf, startChatd } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

let server, browser, env;

before(async () => {
  env = await startBrowserTest(() => startChatd({ sections: ["[support]", "canned_writers = agents"] }));
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
});

async function signIn(file, user) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
  const page = await context.newPage();
  await page.goto(`http://localhost:${server.http}/${file}`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", passwordOf(user));
  await page.click("#signin button[type=submit]");
  return page;
}

const BODY = "안녕하세요, 고객님 😀\n환불은 3–5 영업일 안에 처리됩니다.";
const REPLY = "#composer input[name=text]";

async function save(page, shortcut, title, body) {
  await page.fill("#canned-form input[name=shortcut]", shortcut);
  await page.fill("#canned-form input[name=title]", title);
  await page.fill("#canned-form textarea[name=body]", body);
  await page.click("#canned-save");
}

// The room's messages as stored, oldest first.
async function sentBodies(page, room) {
  return page.evaluate(async (r) => (await desk.chat.rest.request("GET", `/api/rooms/${r}/messages`)).messages
    .sort((a, b) => a.seq - b.seq).map((m) => m.body), room);
}

test("an agent saves canned replies and inserts one by its shortcut", async () => {
  const agent = await signIn("agent.html", "agent1");
  await agent.waitForSelector("#canned:not([hidden]) #canned-form:not([hidden])");
  assert.equal(await agent.locator("#canned-list li").count(), 0);

  // Saved through the form: listed by shortcut, with their titles.
  await save(agent, "/환불", "환불 안내", BODY);
  await agent.waitForSelector('#canned-list li[data-shortcut="환불"]');
  await save(agent, "Refund", "Refunds", "Refunds take 3-5 days.");
  await agent.waitForSelector('#canned-list li[data-shortcut="refund"]');
  await save(agent, "인사😀", "인사", "반갑습니다 👋 무엇을 도와드릴까요?");
  await agent.waitForFunction(() => document.querySelectorAll("#canned-list li").length === 3);
  assert.deepEqual(await agent.$$eval("#canned-list li .who", (els) => els.map((e) => e.textContent)),
                   ["/refund", "/인사😀", "/환불"]);
  assert.equal(await agent.textContent('#canned-list li[data-shortcut="환불"] .info'), "환불 안내");
  // A shortcut with a space is refused with the server's reason.
  await save(agent, "two words", "T", "B");
  await agent.waitForSelector("#canned-error:has-text('shortcut')");
  await agent.click("#canned-form button[type=reset]");

  // A customer waits; the agent claims the chat.
  const alice = await signIn("customer.html", "alice");
  await alice.waitForSelector("text=Waiting for an agent");
  const room = await alice.evaluate(() => window.__desk.room.id);
  await alice.fill(REPLY, "환불하고 싶어요");
  await alice.press(REPLY, "Enter");
  await agent.click(`#queue li[data-room="${room}"] button`);
  await agent.waitForFunction(() => document.querySelectorAll("#messages li").length === 1);

  // "/환" offers 환불; Tab inserts its body in place of "/환".
  await agent.click(REPLY);
  await agent.type(REPLY, "/환");
  await agent.waitForSelector('#canned-suggest:not([hidden]) li[data-shortcut="환불"][aria-selected="true"]');
  assert.equal(await agent.locator("#canned-suggest li").count(), 1);
  await agent.screenshot({ path: path.join(SHOTS, "agent-canned.png") });
  await agent.press(REPLY, "Tab");
  await agent.waitForSelector("#canned-suggest", { state: "hidden" });
  assert.equal(await agent.inputValue(REPLY), BODY.replace("\n", " "));
  await agent.press(REPLY, "Enter");
  await alice.waitForFunction(() => document.querySelectorAll("#messages li").length === 2);
  assert.deepEqual(await sentBodies(alice, room), ["환불하고 싶어요", BODY]);

  // Text around it, the list narrowed by the title, a click inserts.
  await agent.type(REPLY, "네, /");
  await agent.waitForFunction(() => document.querySelectorAll("#canned-suggest li").length === 3);
  await agent.press(REPLY, "Escape");
  await agent.waitForSelector("#canned-suggest", { state: "hidden" });
  await agent.type(REPLY, "R");
  await agent.waitForSelector('#canned-suggest li[data-shortcut="refund"]');
  await agent.click('#canned-suggest li[data-shortcut="refund"]');
  await agent.type(REPLY, " 🙏");
  assert.equal(await agent.inputValue(REPLY), "네, Refunds take 3-5 days. 🙏");
  // Enter with the list open picks; closed, it sends.
  await agent.press(REPLY, "Enter");
  await alice.waitForFunction(() => document.querySelectorAll("#messages li").length === 3);
  // ArrowDown moves the pick; Enter inserts it.
  await agent.type(REPLY, "/");
  await agent.waitForFunction(() => document.querySelectorAll("#canned-suggest li").length === 3);
  await agent.press(REPLY, "ArrowDown");
  await agent.press(REPLY, "Enter");
  assert.equal(await agent.inputValue(REPLY), "반갑습니다 👋 무엇을 도와드릴까요?");
  await agent.press(REPLY, "Enter");
  await alice.waitForFunction(() => document.querySelectorAll("#messages li").length === 4);
  assert.deepEqual((await sentBodies(alice, room)).slice(2),
                   ["네, Refunds take 3-5 days. 🙏", "반갑습니다 👋 무엇을 도와드릴까요?"]);

  // Edited and deleted from the list.
  await agent.click('#canned-list li[data-shortcut="refund"] button:has-text("Edit")');
  assert.equal(await agent.inputValue("#canned-form input[name=title]"), "Refunds");
  await agent.fill("#canned-form input[name=title]", "환불 (영문)");
  await agent.click("#canned-save");
  await agent.waitForSelector('#canned-list li[data-shortcut="refund"] .info:has-text("환불 (영문)")');
  await agent.click('#canned-list li[data-shortcut="인사😀"] button:has-text("Delete")');
  await agent.waitForFunction(() => document.querySelectorAll("#canned-list li").length === 2);
  await agent.screenshot({ path: path.join(SHOTS, "agent-canned-manage.png") });

  // Another agent's console has them too.
  const agent2 = await signIn("agent.html", "agent2");
  await agent2.waitForFunction(() => document.querySelectorAll("#canned-list li").length === 2);
  for (const p of [agent, agent2, alice]) await p.context().close();
});
