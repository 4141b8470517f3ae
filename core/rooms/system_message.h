/* A message the server writes into a room (kind system, plain text): a
 * support room handed on, for instance. Stored like any message (it has a
 * seq, it is in history, a since-seq replay brings it), then published on
 * the room and noticed to its members who do not watch it. */
#ifndef CHATD_SYSTEM_MESSAGE_H
#define CHATD_SYSTEM_MESSAGE_H

#include "rooms/rooms.h"

/* Post text (UTF-8, borrowed) into room (as stored: id, kind and members),
 * as sent by `sender` (who caused it). cb: OK once stored and published,
 * else the storage's answer. */
void system_message_post(struct rooms *r, const struct chatd_room *room, const char *sender, const char *text,
                         done_answer_cb cb, void *ctx);

#endif
