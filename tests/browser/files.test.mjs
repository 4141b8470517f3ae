// Attachments on the chat page in a real browser: alice attaches a PNG and
// a text file with Korean names; bob sees the image's preview (laid out at
// its size, loaded with his credentials) and the file's link; a file of a
// type the server refuses shows its reason.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { passwordOf, startChatd } from "../conformance/harness.mjs";
import { SHOTS, png, startBrowserTest } from "./browser.mjs";

let server, browser, env;
const store = mkdtempSync(path.join(tmpdir(), "chatd-files-web-"));

before(async () => {
  env = await startBrowserTest(() => startChatd({ sections: ["[files]", "plugin = local", `dir = ${store}/files`,
                                                             "allowed_types = image/png text/plain"] }));
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
  rmSync(store, { recursive: true, force: true });
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

test("attachments: an image preview, a file link, a refusal", async () => {
  const alice = await signIn("alice");
  const bob = await signIn("bob");
  await alice.fill("#new-group input[name=title]", "사진 📷");
  await alice.fill("#new-group input[name=members]", "bob");
  await alice.click("#new-group button");
  await alice.waitForSelector("#pane:not([hidden])");
  const room = await alice.evaluate(() => window.__chat.open.id);
  await bob.click(`#rooms li[data-room="${room}"]`);
  await bob.waitForSelector("#pane:not([hidden])");

  const chooser = alice.waitForEvent("filechooser");
  await alice.click("#attach");
  await (await chooser).setFiles({ name: "바다 🌊.png", mimeType: "image/png", buffer: png(240, 160) });
  // bob's preview: laid out at the image's size, then loaded (decoded) with his credentials.
  const img = bob.locator("#messages li.file img.attachment");
  await img.waitFor();
  assert.equal(await img.getAttribute("alt"), "바다 🌊.png");
  assert.equal(await img.getAttribute("width"), "240");
  assert.equal(await img.getAttribute("height"), "160");
  await bob.waitForFunction(() => { const i = document.querySelector("#messages li.file img.attachment");
                                    return i && i.complete && i.naturalWidth === 240 && i.naturalHeight === 160; });
  await alice.waitForFunction(() => { const i = document.querySelector("#messages li.file img.attachment");
                                      return i && i.complete && i.naturalWidth === 240; });

  // A text file: a link with its name and size, which downloads it.
  const text = Buffer.from("회의록\n1. 안건 😀\n");
  const chooser2 = alice.waitForEvent("filechooser");
  await alice.click("#attach");
  await (await chooser2).setFiles({ name: "회의록.txt", mimeType: "text/plain", buffer: text });
  const link = bob.locator("#messages li.file a.attachment");
  await link.waitFor();
  assert.equal(await link.textContent(), `📎 회의록.txt · ${text.length} B`);
  const download = bob.waitForEvent("download");
  await link.click();
  const saved = await download;
  assert.equal(saved.suggestedFilename(), "회의록.txt");

  // A PDF is no allowed type here: the reason shows, nothing is sent.
  const chooser3 = alice.waitForEvent("filechooser");
  await alice.click("#attach");
  await (await chooser3).setFiles({ name: "계약.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.7\n") });
  await alice.waitForSelector("#toast >> text=계약.pdf: files of type application/pdf are not allowed here");
  assert.equal(await bob.locator("#messages li.file").count(), 2);
  assert.equal(await bob.textContent(`#rooms li[data-room="${room}"] .info`), "📎 회의록.txt");
  await bob.screenshot({ path: path.join(SHOTS, "chat-files.png") });
});

test("a customer attaches a screenshot; the agent who claims the chat sees it", async () => {
  const ctx = () => browser.newContext({ viewport: { width: 1100, height: 760 } });
  const customer = await (await ctx()).newPage();
  const agent = await (await ctx()).newPage();
  for (const [page, file, user] of [[customer, "customer.html", "bob"], [agent, "agent.html", "agent1"]]) {
    await page.goto(`http://localhost:${server.http}/${file}`);
    await page.fill("#signin input[name=login]", user);
    await page.fill("#signin input[name=passcode]", passwordOf(user));
    await page.click("#signin button[type=submit]");
  }
  await customer.waitForSelector("text=Waiting for an agent");
  const roomId = await customer.evaluate(() => window.__desk.room.id);
  const chooser = customer.waitForEvent("filechooser");
  await customer.click("#attach");
  await (await chooser).setFiles({ name: "오류 화면.png", mimeType: "image/png", buffer: png(320, 200) });
  await customer.waitForFunction(() => { const i = document.querySelector("#messages li.file img.attachment");
                                         return i && i.complete && i.naturalWidth === 320; });
  // A type the server refuses: the reason under the composer.
  const chooser2 = customer.waitForEvent("filechooser");
  await customer.click("#attach");
  await (await chooser2).setFiles({ name: "x.png", mimeType: "image/png", buffer: Buffer.from("not a picture") });
  await customer.waitForSelector("#attach-error >> text=x.png: Content-Type says image/png, the bytes are text/plain");
  await agent.click(`#queue li[data-room="${roomId}"] button`);
  await agent.waitForFunction(() => { const i = document.querySelector("#messages li.file img.attachment");
                                      return i && i.complete && i.naturalWidth === 320 && i.alt === "오류 화면.png"; });
  assert.equal(await customer.locator("#messages li.file button.edit").count(), 0, "a file message is deleted, not edited");
  await customer.screenshot({ path: path.join(SHOTS, "customer-files.png") });
});
