/* A completed support room opened again: its customer writes into it
 * within [support] reopen_window of its completion. It goes back to the
 * agent who completed it when they are available (online, not away, under
 * [support] max_chats_per_agent: the storage counts, room_reopen of SDK
 * 2.3), else into the unassigned queue. docs/support-desk.md, "Reopen". */
#ifndef CHATD_REOPEN_H
#define CHATD_REOPEN_H

#include <stdbool.h>

#include "rooms/rooms.h"

/* Whether a message of `sender` into `room` (as stored) reopens it: a
 * completed support room of theirs, completed within the window, with a
 * storage plugin that reopens. */
bool support_reopenable(const struct rooms *r, const struct chatd_room *room, const char *sender);
/* Reopen `room` (support_reopenable said so): OK with the room as it now
 * is (its events told); CONFLICT when it is no longer completed within the
 * window (another message reopened it meanwhile); EXISTS with the
 * customer's other open support room, which stays the one open. */
void support_reopen(struct rooms *r, const struct chatd_room *room, room_answer_cb cb, void *ctx);

#endif
