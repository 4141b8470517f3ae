// The customer page after an agent completed the chat, in a real browser:
// the transcript downloads as text (Korean and emoji whole) and the
// customer rates the chat once; the agent console shows the rating.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { passwordOf } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

let server, browser, env;

before(async () => {
  env = await startBrowserTest();
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
});

async function signIn(file, user) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`http://localhost:${server.http}/${file}`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", passwordOf(user));
  await page.click("#signin button[type=submit]");
  return page;
}

const QUESTION = "주문이 아직 안 왔어요 😢";
const ANSWER = "내일 도착합니다 📦";
const COMMENT = "빠른 답변 감사합니다 😀";

test("after completion the customer downloads the transcript and rates the chat", async () => {
  const agent = await signIn("agent.html", "agent1");
  await agent.waitForSelector("#ratings-empty:not([hidden])");
  const alice = await signIn("customer.html", "alice");
  await alice.waitForSelector("text=Waiting for an agent");
  const room = await alice.evaluate(() => window.__desk.room.id);
  await alice.fill("#composer input[name=text]", QUESTION);
  await alice.press("#composer input[name=text]", "Enter");

  await agent.click(`#queue li[data-room="${room}"] button`);
  await agent.waitForFunction(() => document.querySelectorAll("#messages li").length === 1);
  await agent.fill("#composer input[name=text]", ANSWER);
  await agent.press("#composer input[name=text]", "Enter");
  await alice.waitForFunction(() => document.querySelectorAll("#messages li").length === 2);
  assert.equal(await alice.isVisible("#after"), false);
  await agent.click("#complete");
  await agent.waitForSelector("#pane", { state: "hidden" });

  // Completed: the rating form and the download appear.
  await alice.waitForSelector("text=The agent completed this chat.");
  await alice.waitForSelector("#after:not([hidden]) #rating-form");
  const [download] = await Promise.all([alice.waitForEvent("download"), alice.click("#transcript")]);
  assert.equal(download.suggestedFilename(), `chat-${room}.txt`);
  const text = await readFile(await download.path(), "utf8");
  assert.match(text, new RegExp(`^Chat ${room} \\(completed\\)\\nCustomer: alice\\nAgents: agent1\\n`));
  const lines = text.split("\n\n")[1].trimEnd().split("\n");
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z alice: 주문이 아직 안 왔어요 😢$/);
  assert.match(lines[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z agent1: 내일 도착합니다 📦$/);

  // The rating: five, with a comment; the form gives way to the thanks.
  await alice.check('#rating-form input[name=rating][value="5"]');
  await alice.fill("#rating-comment", COMMENT);
  await alice.screenshot({ path: path.join(SHOTS, "customer-rating.png"), fullPage: true });
  await alice.click("#rating-submit");
  await alice.waitForSelector("#rating-done:not([hidden])");
  assert.equal(await alice.textContent("#rating-done"), "You rated this chat 5/5. Thank you!");
  assert.equal(await alice.isVisible("#rating-form"), false);

  // The agent console lists it, from the queue topic's `rated` event.
  const item = `#ratings li[data-room="${room}"]`;
  await agent.waitForSelector(item);
  assert.equal(await agent.textContent(`${item} .who`), "alice → agent1");
  assert.equal(await agent.textContent(`${item} .info`), `★★★★★ 5/5 · ${COMMENT}`);
  assert.equal(await agent.isVisible("#ratings-empty"), false);
  await agent.screenshot({ path: path.join(SHOTS, "agent-ratings.png") });

  // A second rating is refused by the server (the page offers none).
  const again = await alice.evaluate(async (r) => {
    try { await desk.chat.rest.request("POST", `/api/rooms/${r}/rating`, { rating: 1 }); return "stored"; }
    catch (err) { return err.status; }
  }, room);
  assert.equal(again, 409);

  // Closed afterwards: the rating stays shown, the download still works.
  await alice.click("#close");
  await alice.waitForSelector("#closed:not([hidden])");
  await alice.waitForSelector("#rating-done:not([hidden])");
  const [closed] = await Promise.all([alice.waitForEvent("download"), alice.click("#transcript")]);
  assert.match(await readFile(await closed.path(), "utf8"), /\(closed\)\n[^]*Rating: 5\/5 빠른 답변 감사합니다 😀\n/);
  for (const p of [agent, alice]) await p.context().close();
});
