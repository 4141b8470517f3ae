// The 1:1 and group chat page in a real browser: alice starts a direct chat
// with bob and a group with bob and agent1; unread counts and last messages
// in the list; replies both ways; typing; leaving a group; edits, deletes,
// reactions, and replies to a message.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
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

async function signIn(user) {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
  await page.goto(`http://localhost:${server.http}/chat.html`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", passwordOf(user));
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#console:not([hidden])");
  return page;
}

async function say(page, text) {
  await page.fill("#composer input[name=text]", text);
  await page.press("#composer input[name=text]", "Enter");
}

test("direct and group chats between two browsers", async () => {
  const alice = await signIn("alice");
  const bob = await signIn("bob");
  await bob.waitForSelector("#rooms-empty:not([hidden])");

  // alice opens a 1:1 with bob and writes; bob's list shows it, unread.
  await alice.fill("#new-direct input[name=with]", "bob");
  await alice.click("#new-direct button");
  await alice.waitForSelector("#pane:not([hidden])");
  assert.equal(await alice.textContent("#pane-title"), "bob");
  const direct = await alice.evaluate(() => window.__chat.open.id);
  await say(alice, "hi bob");
  await alice.waitForSelector("#messages li.mine >> text=hi bob");
  await bob.waitForSelector(`#rooms li[data-room="${direct}"] .info.unread`);
  assert.equal(await bob.textContent(`#rooms li[data-room="${direct}"] .who`), "alice");
  assert.equal(await bob.textContent(`#rooms li[data-room="${direct}"] .info`), "1 unread");

  // bob opens it: history, no more unread; they talk both ways, and alice
  // sees bob typing.
  await bob.click(`#rooms li[data-room="${direct}"]`);
  await bob.waitForSelector("#messages li >> text=hi bob");
  await bob.waitForSelector(`#rooms li[data-room="${direct}"] .info:not(.unread)`);
  await bob.type("#composer input[name=text]", "hello");
  await alice.waitForSelector("#typing >> text=bob");
  await bob.press("#composer input[name=text]", "Enter");
  await alice.waitForSelector("#messages li:not(.mine) >> text=hello");

  // Asking again for a 1:1 with bob gives the same room: the form clears
  // when the answer is in, and the list still holds one chat.
  await alice.fill("#new-direct input[name=with]", "bob");
  await alice.click("#new-direct button");
  await alice.waitForFunction(() => document.querySelector("#new-direct input[name=with]").value === "");
  await alice.waitForFunction((id) => window.__chat.open && window.__chat.open.id === id, direct);
  assert.equal(await alice.locator("#rooms li").count(), 1);

  // A group: alice, bob, agent1. bob, with the direct chat open, sees the
  // group appear with its unread message and its last line.
  await alice.fill("#new-group input[name=title]", "Launch");
  await alice.fill("#new-group input[name=members]", "bob, agent1");
  await alice.click("#new-group button");
  await alice.waitForSelector("#pane-title >> text=Launch");
  assert.match(await alice.textContent("#members"), /alice/);
  const group = await alice.evaluate(() => window.__chat.open.id);
  await say(alice, "kick-off at ten");
  await bob.waitForSelector(`#rooms li[data-room="${group}"] .info.unread`);
  await bob.click(`#rooms li[data-room="${group}"]`);
  await bob.waitForSelector("#messages li >> text=kick-off at ten");
  await say(bob, "see you there");
  await alice.waitForSelector("#messages li >> text=see you there");
  await alice.screenshot({ path: path.join(SHOTS, "chat.png") });

  // Answers out of order: alice clicks the direct chat, then the group
  // before the direct room's answer is in; the group, clicked last, stays.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await alice.route(`**/api/rooms/${direct}`, async (route) => { await held; await route.continue(); });
  const groupShown = alice.waitForResponse((r) => r.url().includes(`/api/rooms/${group}/messages`));
  await alice.click(`#rooms li[data-room="${direct}"]`);
  await alice.click(`#rooms li[data-room="${group}"]`);
  await groupShown;
  release();
  await alice.waitForFunction(() => window.__chat.opening === 0);
  await alice.unroute(`**/api/rooms/${direct}`);
  assert.equal(await alice.textContent("#pane-title"), "Launch");
  assert.equal(await alice.evaluate(() => window.__chat.watch.roomId), group);
  await alice.waitForSelector("#messages li >> text=see you there");

  // bob leaves the group: alice sees the members change.
  await bob.click("#leave");
  await bob.waitForSelector("#pane", { state: "hidden" });
  await bob.waitForSelector(`#rooms li[data-room="${group}"]`, { state: "detached" });
  await alice.waitForFunction(() => !document.querySelector("#members").textContent.includes("bob"));
});

test("a group renamed and deleted by its owner while members watch it", async () => {
  const alice = await signIn("alice");
  const bob = await signIn("bob");

  await alice.fill("#new-group input[name=title]", "우리 팀");
  await alice.fill("#new-group input[name=members]", "bob");
  await alice.click("#new-group button");
  await alice.waitForSelector("#pane-title >> text=우리 팀");
  const group = await alice.evaluate(() => window.__chat.open.id);
  // Only the owner (and admins) get the rename and delete controls.
  assert.equal(await alice.isVisible("#rename"), true);
  assert.equal(await alice.isVisible("#delete"), true);

  await bob.waitForSelector(`#rooms li[data-room="${group}"]`);
  await bob.click(`#rooms li[data-room="${group}"]`);
  await bob.waitForSelector("#pane-title >> text=우리 팀");
  assert.equal(await bob.isVisible("#rename"), false);
  assert.equal(await bob.isVisible("#delete"), false);
  // Both watch the room: each sees the other's line.
  await say(alice, "안녕 😀");
  await bob.waitForSelector("#messages li >> text=안녕 😀");
  await say(bob, "반가워요");
  await alice.waitForSelector("#messages li >> text=반가워요");

  // alice renames it: both panes and bob's list follow the `renamed` event.
  await alice.fill("#rename input[name=title]", "우리 팀 🎉");
  await alice.click("#rename button");
  await bob.waitForFunction(() => document.querySelector("#pane-title").textContent === "우리 팀 🎉");
  await alice.waitForFunction(() => document.querySelector("#pane-title").textContent === "우리 팀 🎉");
  await bob.waitForFunction((id) => document.querySelector(`#rooms li[data-room="${id}"] .who`)
    .textContent.startsWith("우리 팀 🎉"), group);

  // alice deletes it: bob's pane closes with a notice, the chat leaves his list.
  await alice.click("#delete");
  await bob.waitForSelector("#pane", { state: "hidden" });
  await bob.waitForSelector("#toast >> text=was deleted");
  await bob.waitForSelector(`#rooms li[data-room="${group}"]`, { state: "detached" });
  await alice.waitForSelector("#pane", { state: "hidden" });
});

test("messages edited and deleted from the page, seen live in the other browser", async () => {
  const alice = await signIn("alice");
  const bob = await signIn("bob");
  await alice.fill("#new-group input[name=title]", "고치기");
  await alice.fill("#new-group input[name=members]", "bob");
  await alice.click("#new-group button");
  await alice.waitForSelector("#pane-title >> text=고치기");
  const group = await alice.evaluate(() => window.__chat.open.id);
  await bob.waitForSelector(`#rooms li[data-room="${group}"]`);
  await bob.click(`#rooms li[data-room="${group}"]`);
  await bob.waitForSelector("#pane-title >> text=고치기");

  await say(bob, "오타 있는 글");
  await say(bob, "지울 글");
  await alice.waitForSelector("#messages li >> text=지울 글");
  // bob's own lines have Edit and Delete; alice (the owner) may delete them, not edit them.
  const bobsLine = bob.locator("#messages li.mine", { hasText: "오타 있는 글" });
  assert.equal(await bobsLine.locator("button.edit").count(), 1);
  const seen = alice.locator("#messages li", { hasText: "오타 있는 글" });
  assert.equal(await seen.locator("button.edit").count(), 0);
  assert.equal(await seen.locator("button.delete").count(), 1);

  // bob edits: the composer holds the text, Save stores it; both panes show it, marked edited.
  await bobsLine.locator("button.edit").click();
  assert.equal(await bob.inputValue("#composer input[name=text]"), "오타 있는 글");
  assert.equal(await bob.textContent("#composer button"), "Save");
  await bob.fill("#composer input[name=text]", "고친 글 ✏️😀");
  await bob.press("#composer input[name=text]", "Enter");
  await alice.waitForSelector("#messages li .text >> text=고친 글 ✏️😀");
  await bob.waitForSelector("#messages li .text >> text=고친 글 ✏️😀");
  assert.match(await alice.textContent("#messages li:has-text('고친 글') .meta"), /edited/);
  assert.equal(await alice.locator("#messages li", { hasText: "오타 있는 글" }).count(), 0);
  assert.equal(await bob.textContent("#composer button"), "Send");

  // alice deletes bob's other line: a tombstone in both panes, no buttons on it.
  await alice.locator("#messages li", { hasText: "지울 글" }).locator("button.delete").click();
  await bob.waitForSelector("#messages li.deleted >> text=Message deleted");
  await alice.waitForSelector("#messages li.deleted >> text=Message deleted");
  assert.equal(await bob.locator("#messages li", { hasText: "지울 글" }).count(), 0);
  assert.equal(await bob.locator("#messages li.deleted button").count(), 0);
  await bob.waitForFunction((id) => document.querySelector(`#rooms li[data-room="${id}"] .info`)
    .textContent === "Message deleted", group);

  // Reopened, history shows the same.
  await bob.click(`#rooms li[data-room="${group}"]`);
  await bob.waitForSelector("#messages li.deleted >> text=Message deleted");
  await bob.waitForSelector("#messages li .text >> text=고친 글 ✏️😀");
  await bob.screenshot({ path: path.join(SHOTS, "chat-edits.png") });
});

test("reactions under messages, with a picker, seen live in the other browser", async () => {
  const alice = await signIn("alice");
  const bob = await signIn("bob");
  await alice.fill("#new-group input[name=title]", "반응 😀");
  await alice.fill("#new-group input[name=members]", "bob");
  await alice.click("#new-group button");
  await alice.waitForSelector("#pane-title >> text=반응 😀");
  const group = await alice.evaluate(() => window.__chat.open.id);
  await bob.waitForSelector(`#rooms li[data-room="${group}"]`);
  await bob.click(`#rooms li[data-room="${group}"]`);
  await bob.waitForSelector("#pane-title >> text=반응 😀");
  await say(bob, "점심 먹을 사람? 🍜");
  const line = (page) => page.locator("#messages li", { hasText: "점심 먹을 사람?" });
  await alice.waitForSelector("#messages li >> text=점심 먹을 사람?");

  // alice picks 👍 from the picker: her chip is pressed, bob sees it live.
  await line(alice).locator("button.reaction.add").click();
  await line(alice).locator(".picker button.pick[data-emoji='👍']").click();
  await alice.waitForSelector("#messages li .reactions button.reaction.me[data-emoji='👍'] >> text=👍 1");
  await bob.waitForSelector("#messages li .reactions button.reaction[data-emoji='👍'] >> text=👍 1");
  assert.equal(await line(bob).locator("button.reaction.me").count(), 0);

  // bob joins with a click on the chip, and adds ❤️: both panes count them.
  await line(bob).locator("button.reaction[data-emoji='👍']").click();
  await bob.waitForSelector("#messages li .reactions button.reaction.me[data-emoji='👍'] >> text=👍 2");
  await alice.waitForSelector("#messages li .reactions button.reaction[data-emoji='👍'] >> text=👍 2");
  await line(bob).locator("button.reaction.add").click();
  await line(bob).locator(".picker button.pick[data-emoji='❤️']").click();
  await alice.waitForSelector("#messages li .reactions button.reaction:not(.me)[data-emoji='❤️'] >> text=❤️ 1");
  // alice's 👍 stays hers after bob's changes.
  assert.equal(await line(alice).locator("button.reaction.me[data-emoji='👍']").count(), 1);

  // alice takes hers back with a click; reopened, history shows the counts and bob's own.
  await line(alice).locator("button.reaction[data-emoji='👍']").click();
  await bob.waitForSelector("#messages li .reactions button.reaction.me[data-emoji='👍'] >> text=👍 1");
  await bob.click(`#rooms li[data-room="${group}"]`);
  await bob.waitForSelector("#messages li .reactions button.reaction.me[data-emoji='❤️'] >> text=❤️ 1");
  await bob.waitForSelector("#messages li .reactions button.reaction.me[data-emoji='👍'] >> text=👍 1");
  await line(bob).locator("button.reaction.add").click();
  await bob.screenshot({ path: path.join(SHOTS, "chat-reactions.png") });
});

test("messages found by a part of their text across chats, a match opening its chat", async () => {
  const alice = await signIn("alice");
  const bob = await signIn("bob");
  await alice.fill("#new-group input[name=title]", "검색 방");
  await alice.fill("#new-group input[name=members]", "bob");
  await alice.click("#new-group button");
  await alice.waitForSelector("#pane-title >> text=검색 방");
  const group = await alice.evaluate(() => window.__chat.open.id);
  await say(alice, "회의는 내일오후세시 🕒");
  await say(alice, "pizza party on FRIDAY");
  await alice.waitForSelector("#messages li >> text=pizza party on FRIDAY");
  // bob's chat with agent1, which alice is not in.
  await bob.fill("#new-direct input[name=with]", "agent1");
  await bob.click("#new-direct button");
  await bob.waitForSelector("#pane-title >> text=agent1");
  await say(bob, "내일오후 비밀 이야기");
  await bob.waitForSelector("#messages li >> text=내일오후 비밀 이야기");

  // Two syllables from inside a word find alice's line, not bob's other chat.
  await alice.fill("#search input[name=q]", "일오");
  await alice.click("#search button");
  await alice.waitForSelector("#found-list li >> text=회의는 내일오후세시 🕒");
  assert.equal(await alice.locator("#found-list li", { hasText: "비밀" }).count(), 0);
  assert.match(await alice.textContent("#found-summary"), /1 message/);
  // ASCII whatever its case; an emoji by itself and its neighbour.
  await alice.fill("#search input[name=q]", "friday");
  await alice.click("#search button");
  await alice.waitForSelector("#found-list li >> text=pizza party on FRIDAY");
  await alice.fill("#search input[name=q]", "시 🕒");
  await alice.click("#search button");
  await alice.waitForSelector("#found-list li >> text=회의는 내일오후세시 🕒");
  await alice.screenshot({ path: path.join(SHOTS, "chat-search.png") });

  // A match opens its chat, from another one.
  await alice.fill("#new-direct input[name=with]", "bob");
  await alice.click("#new-direct button");
  await alice.waitForFunction(() => document.querySelector("#pane-title").textContent === "bob");
  await alice.click("#found-list li");
  await alice.waitForFunction((id) => window.__chat.open && window.__chat.open.id === id, group);
  await alice.waitForSelector("#messages li >> text=회의는 내일오후세시 🕒");

  // One character is too short: the server's reason shows.
  await alice.fill("#search input[name=q]", "오");
  await alice.click("#search button");
  await alice.waitForSelector("#toast >> text=2 to 100 characters");
  // bob finds his own line; Close clears the results.
  await bob.fill("#search input[name=q]", "비밀");
  await bob.click("#search button");
  await bob.waitForSelector("#found-list li >> text=내일오후 비밀 이야기");
  await bob.click("#found-close");
  await bob.waitForSelector("#found", { state: "hidden" });
});

test("a reply quotes the message it answers, also one further back than the page shown", async () => {
  const alice = await signIn("alice");
  const bob = await signIn("bob");
  await alice.fill("#new-group input[name=title]", "답장 🧵");
  await alice.fill("#new-group input[name=members]", "bob");
  await alice.click("#new-group button");
  await alice.waitForSelector("#pane-title >> text=답장 🧵");
  const group = await alice.evaluate(() => window.__chat.open.id);
  await bob.waitForSelector(`#rooms li[data-room="${group}"]`);
  await bob.click(`#rooms li[data-room="${group}"]`);
  await bob.waitForSelector("#pane-title >> text=답장 🧵");

  const question = "내일 회의 몇 시예요? 🕒";
  await say(alice, question);
  for (let i = 1; i <= 20; i++) await say(alice, `메모 ${i}`);
  await bob.waitForSelector("#messages li >> text=메모 20");

  // bob starts a reply and leaves it (Escape): the next line is no reply.
  const asked = (page) => page.locator("#messages li", { has: page.locator(".text", { hasText: question }) });
  await asked(bob).locator("button.reply").click();
  await bob.waitForSelector(`#reply-bar:not([hidden]) >> text=Replying to alice: ${question}`);
  await bob.press("#composer input[name=text]", "Escape");
  await bob.waitForSelector("#reply-bar", { state: "hidden" });
  await say(bob, "잠깐만요");
  await alice.waitForSelector("#messages li >> text=잠깐만요");
  assert.equal(await alice.locator("#messages li", { hasText: "잠깐만요" }).locator(".quote").count(), 0);

  // Reply: the question quoted above the answer, in both browsers.
  await asked(bob).locator("button.reply").click();
  await bob.waitForSelector("#reply-bar:not([hidden])");
  await say(bob, "오후 세 시요 ✅");
  await bob.waitForSelector("#reply-bar", { state: "hidden" });
  const answer = (page) => page.locator("#messages li", { has: page.locator(".text", { hasText: "오후 세 시요 ✅" }) });
  for (const page of [alice, bob]) {
    await answer(page).locator(".quote").waitFor();
    assert.equal(await answer(page).locator(".quote .who").textContent(), "↩ alice ");
    assert.equal(await answer(page).locator(".quote .excerpt").textContent(), question);
  }
  const questionSeq = Number(await asked(alice).getAttribute("data-seq"));
  assert.equal(Number(await answer(alice).locator(".quote").getAttribute("data-reply-to")), questionSeq);

  // Reopened, the newest 20 no longer hold the question: the quote reads
  // it from the history, and a click brings it into view.
  await alice.click(`#rooms li[data-room="${group}"]`);
  // the chat shown again from its newest 20 (the page before it may still
  // be there a moment: its quote would satisfy the waits below)
  await asked(alice).waitFor({ state: "detached" });
  await answer(alice).locator(".quote .excerpt").waitFor();
  await alice.waitForFunction((q) => document.querySelector("#messages .quote .excerpt")?.textContent === q, question);
  assert.equal(await asked(alice).count(), 0);
  await answer(alice).locator(".quote").click();
  await alice.waitForSelector(`#messages li.flash[data-seq="${questionSeq}"]`);

  // bob answers the answer: the bar shows it while he writes.
  await answer(bob).locator("button.reply").click();
  await bob.fill("#composer input[name=text]", "네, 3층 회의실에서 봬요 🙌");
  await answer(bob).scrollIntoViewIfNeeded();
  await bob.screenshot({ path: path.join(SHOTS, "chat-reply.png") });
  await bob.press("#composer input[name=text]", "Enter");
  const last = alice.locator("#messages li", { has: alice.locator(".text", { hasText: "3층 회의실" }) });
  await last.locator(".quote").waitFor();
  assert.equal(await last.locator(".quote .excerpt").textContent(), "오후 세 시요 ✅");
});
