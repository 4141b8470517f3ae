// A support room's internal notes (docs/support-desk.md, "Internal notes")
// for the agent console and the supervisor page: the notes so far, the new
// ones live (the package's room.watchNotes(): /topic/rooms/{room}/notes,
// subscribed again after a reconnect with since-seq, each note once), and
// the form that writes one. The customer page never loads this.
"use strict";

class NotesPanel {
  constructor(list, form, error) {
    this.list = list;
    this.form = form;
    this.error = error;
    this.room = null;
    this.sub = null;
    this.seqs = new Set();
    form.addEventListener("submit", (e) => { e.preventDefault(); this.post(); });
  }

  last() { return this.seqs.size ? Math.max(...this.seqs) : 0; }

  async open(roomId) {
    this.stop();
    this.room = roomId;
    this.list.replaceChildren();
    this.error.textContent = "";
    let page;
    try {
      page = await desk.chat.room(roomId).notes({ limit: 100 });
    } catch (err) {
      if (this.room === roomId) this.error.textContent = errorText(err);
      return;
    }
    if (this.room !== roomId) return; // another room was opened meanwhile
    page.notes.slice().reverse().forEach((n) => this.add(n));
    this.subscribe();
  }

  // Live from after the newest note shown: a note written between the page
  // and the subscription comes in the replay, none twice.
  subscribe() {
    if (!this.room || this.sub) return;
    const room = this.room;
    this.sub = desk.chat.room(room).watchNotes((n) => { if (this.room === room) this.add(n); },
                                                { sinceSeq: this.last() });
  }

  stop() {
    if (this.sub) this.sub.stop();
    this.sub = null;
    this.room = null;
    this.seqs.clear();
  }

  add(n) {
    if (this.seqs.has(n.seq)) return;
    this.seqs.add(n.seq);
    const li = document.createElement("li");
    li.className = "note";
    li.dataset.seq = n.seq;
    li.dataset.sender = n.sender;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = "Internal note · " + n.sender + " · " + fmtTime(n.timestamp);
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = n.body;
    li.append(meta, text);
    let next = null;
    for (let el = this.list.lastElementChild; el && Number(el.dataset.seq) > n.seq; el = el.previousElementSibling)
      next = el;
    this.list.insertBefore(li, next);
    this.list.scrollTop = this.list.scrollHeight;
  }

  async post() {
    const input = this.form.elements.text;
    const body = input.value.trim();
    if (!body || !this.room) return;
    try {
      const note = await desk.chat.room(this.room).addNote(body);
      if (note && note.seq && note.room === this.room) this.add(note);
      input.value = "";
      this.error.textContent = "";
    } catch (err) {
      this.error.textContent = errorText(err);
    }
  }
}
