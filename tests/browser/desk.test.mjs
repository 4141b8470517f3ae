// The web support desk in a real browser (Debian's chromium, headless):
// a customer and two agents, the whole flow, and a dropped connection.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { Client } from "@stomp/stompjs";
import WebSocket from "ws";
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

async function signIn(page, file, user) {
  await page.goto(`http://localhost:${server.http}/${file}`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", passwordOf(user));
  await page.click("#signin button[type=submit]");
}

// A second STOMP session of a user, from Node: seeds history.
async function stompAs(user) {
  const c = new Client({
    webSocketFactory: () => new WebSocket(`ws://127.0.0.1:${server.http}/ws`, ["v12.stomp"]),
    connectHeaders: { login: user, passcode: passwordOf(user) }, reconnectDelay: 0,
  });
  await new Promise((resolve) => { c.onConnect = resolve; c.activate(); });
  return c;
}

const count = (page) => page.locator("#messages li").count();

test("customer and agents go through the whole support flow", async () => {
  const ctx = () => browser.newContext({ viewport: { width: 1100, height: 760 } });
  const customer = await (await ctx()).newPage();
  const agent1 = await (await ctx()).newPage();
  const agent2 = await (await ctx()).newPage();

  await signIn(agent1, "agent.html", "agent1");
  await signIn(agent2, "agent.html", "agent2");
  await agent2.waitForSelector("#queue-empty:not([hidden])");

  // The customer opens a chat: it waits in the queue of both agents.
  await signIn(customer, "customer.html", "alice");
  await customer.waitForSelector("text=Waiting for an agent");
  const roomId = await customer.evaluate(() => window.__desk.room.id);
  await agent1.waitForSelector(`#queue li[data-room="${roomId}"]`);
  await agent2.waitForSelector(`#queue li[data-room="${roomId}"]`);
  assert.match(await agent2.textContent(`#queue li[data-room="${roomId}"] .info`), /waiting \d+ s/);

  // 45 earlier messages, sent from another session of the customer.
  const seeder = await stompAs("alice");
  for (let i = 1; i <= 45; i++) {
    const receipt = "seed" + i;
    const done = new Promise((r) => seeder.watchForReceipt(receipt, r));
    seeder.publish({ destination: `/app/rooms/${roomId}/send`, body: "earlier message " + i, headers: { receipt } });
    await done;
  }
  await seeder.deactivate();
  await customer.waitForFunction(() => document.querySelectorAll("#messages li").length >= 45);

  // agent1 claims; the room leaves agent2's queue.
  await agent1.click(`#queue li[data-room="${roomId}"] button`);
  await agent2.waitForSelector(`#queue li[data-room="${roomId}"]`, { state: "detached" });
  await customer.waitForSelector("text=You are talking with agent1");

  // The agent sees the newest 20 and pages back through the rest.
  await agent1.waitForFunction(() => document.querySelectorAll("#messages li").length === 20);
  for (let want = 40; want <= 45; want += 5) {
    await agent1.evaluate(() => { const l = document.getElementById("messages"); l.scrollTop = 0; l.dispatchEvent(new Event("scroll")); });
    await agent1.waitForFunction((n) => document.querySelectorAll("#messages li").length >= n, want);
  }
  assert.equal(await count(agent1), 45);
  assert.equal(await agent1.textContent("#messages li:first-child"), await agent1.textContent("#messages li:first-child"));
  assert.match(await agent1.textContent("#messages li:first-child .text"), /earlier message 1$/);

  // Typing, then messages both ways, then the read indicator.
  await agent1.type("#composer input", "Hello alice, how can I help?");
  await customer.waitForSelector("text=agent1 is typing");
  await agent1.press("#composer input", "Enter");
  await customer.waitForSelector("text=Hello alice, how can I help?");
  await agent1.waitForSelector("text=Read by the customer");
  await customer.fill("#composer input", "My parcel never arrived.");
  await customer.press("#composer input", "Enter");
  await agent1.waitForSelector("text=My parcel never arrived.");
  await customer.waitForSelector("text=Read by the agent");

  // A card number sent by mistake: the agent deletes it (an agent deletes any
  // line of a support room); the customer corrects a line of their own and
  // may not touch the agent's.
  await customer.fill("#composer input", "card 4111 1111 1111 1111");
  await customer.press("#composer input", "Enter");
  const card = agent1.locator("#messages li", { hasText: "card 4111" });
  await card.waitFor();
  assert.equal(await card.locator("button.edit").count(), 0);
  await card.locator("button.delete").click();
  await customer.waitForSelector("#messages li.deleted >> text=Message deleted");
  await agent1.waitForSelector("#messages li.deleted >> text=Message deleted");
  assert.equal(await customer.locator("#messages li", { hasText: "card 4111" }).count(), 0);
  await customer.locator("#messages li.mine", { hasText: "My parcel never arrived." }).locator("button.edit").click();
  await customer.fill("#composer input", "My parcel (#12) never arrived. 📦 택배");
  await customer.press("#composer input", "Enter");
  await agent1.waitForSelector("#messages li .text >> text=My parcel (#12) never arrived. 📦 택배");
  // On the agent's lines the customer may reply and react, not edit or delete.
  assert.equal(await customer.locator("#messages li:not(.mine) :is(button.edit, button.delete)").count(), 0);
  assert.ok(await customer.locator("#messages li:not(.mine) button.reply").count() > 0);

  // With the tab hidden, a reply raises the unread badge; showing it clears it.
  await customer.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await agent1.fill("#composer input", "Are you still there?");
  await agent1.press("#composer input", "Enter");
  await customer.waitForSelector("#badge:not([hidden])");
  assert.equal(await customer.textContent("#badge"), "1");
  assert.match(await customer.title(), /^\(1\) /);
  await customer.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await customer.waitForSelector("#badge", { state: "hidden" });

  // The customer's connection drops; what is said meanwhile arrives once.
  const before = await count(customer);
  await customer.evaluate(() => desk.chat.stomp.forceDisconnect());
  // The page says when it tries again (the client's back-off, half a second at least).
  await customer.waitForSelector("#status:not(.online) >> text=/reconnecting in \\d+ s/");
  for (const text of ["While you were away (1)", "While you were away (2)"]) {
    await agent1.fill("#composer input", text);
    await agent1.press("#composer input", "Enter");
  }
  await customer.waitForSelector("text=While you were away (2)");
  await customer.waitForSelector("#status.online");
  assert.equal(await count(customer), before + 2);
  const seqs = await customer.$$eval("#messages li", (lis) => lis.map((li) => Number(li.dataset.seq)));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.equal(new Set(seqs).size, seqs.length);

  await customer.screenshot({ path: path.join(SHOTS, "customer.png") });
  await agent1.screenshot({ path: path.join(SHOTS, "agent.png") });

  // The agent completes; the customer closes.
  await agent1.click("#complete");
  await customer.waitForSelector("text=The agent completed this chat.");
  await agent1.waitForSelector(`#mine li[data-room="${roomId}"]`, { state: "detached" });
  await customer.click("#close");
  await customer.waitForSelector("#closed:not([hidden])");
});
