/* A room's history as its members read it: pages newest first with a
 * cursor (GET /api/rooms/{room}/messages), and the pages a SUBSCRIBE with
 * since-seq or a catch-up after a broker outage replays, oldest first. */
#ifndef CHATD_HISTORY_H
#define CHATD_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/reactions.h"
#include "rooms/rooms.h"

#define HISTORY_PAGE_DEFAULT 20
#define HISTORY_PAGE_MAX 100
/* Messages per replay page. */
#define REPLAY_PAGE 100

/* Which page: `before` (>= 1) the newest messages older than it, newest
 * first; `after` the oldest newer than it, oldest first; neither: the
 * newest. At most one of the two; limit 1..HISTORY_PAGE_MAX (unset: the
 * default). malformed: the caller could not read one of them. */
struct history_cursor {
    bool before_set, after_set, limit_set, malformed;
    uint64_t before, after, limit;
};

/* msgs[0..n) of the page; next_before: the cursor of the page behind it
 * (0 when there is none, and for `after` pages); rx: the page's reaction
 * counts, `me` for the reader. */
typedef void (*history_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                                  uint64_t next_before, const struct reaction_page *rx);
/* A page of the room `user` (roles) sees: NOT_FOUND for a room they do not
 * see, then BAD_REQUEST for a cursor that is none. */
void history_page(struct rooms *r, const char *room_id, const char *user, uint32_t roles,
                  const struct history_cursor *cur, history_answer_cb cb, void *ctx);

/* A member, or a supervisor a support room, may watch the room (a
 * SUBSCRIBE): OK with the room (its last_seq: where live events start),
 * NOT_FOUND for anyone else. */
void history_watch(struct rooms *r, const char *room_id, const char *user, uint32_t roles, room_answer_cb cb,
                   void *ctx);

/* msgs[0..n), oldest first; more: a full page, the next may have more. */
typedef void (*replay_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                                 bool more);
/* Up to REPLAY_PAGE messages of the room with seq > after, oldest first. */
void history_replay_page(struct rooms *r, const char *room_id, uint64_t after, replay_answer_cb cb, void *ctx);

#endif
