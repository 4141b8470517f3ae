/* Users' presence for the people who may see it (docs/protocol.md,
 * "Presence"): a user's status (online, away, offline with when they were
 * last seen) is seen only by those who share a room with them, and by
 * themselves. Presence itself (rooms/presence.c, rooms/presence_status.h)
 * says what changed; this file says who is told and who may ask. */
#ifndef CHATD_USER_PRESENCE_H
#define CHATD_USER_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

/* At most this many users in one GET /api/presence?users= */
#define PRESENCE_USERS_MAX 100

struct presence_entry {
    const char *user;
    enum user_status status;
    int64_t last_seen_ms; /* when their last session ended; 0: unknown */
};

/* Entries valid during the call; NULL/0 unless OK. */
typedef void (*presence_answer_cb)(void *ctx, const struct room_answer *a, const struct presence_entry *e, size_t n);

/* `user`'s status changed: told (events.presence) to every member online
 * of a room they are in, each once however many rooms they share, and to
 * the user themselves. The rooms come from one storage room_list. */
void user_presence_tell(struct rooms *r, const char *user, enum user_status status, int64_t last_seen_ms);

/* Every member of the room, in the room's order: NOT_FOUND when the room
 * is not there or the caller may not see it (room_rules.h room_can_see). */
void user_presence_room(struct rooms *r, const char *room_id, const char *caller, uint32_t roles,
                        presence_answer_cb cb, void *ctx);

/* Those of users[0..n) who share a room with the caller, and the caller;
 * the others are left out, as if unknown. BAD_REQUEST for no name, an
 * empty or too long one, or more than PRESENCE_USERS_MAX. Repeated names
 * answer once. The names are copied. */
void user_presence_users(struct rooms *r, const char *caller, const char *const *users, size_t n,
                         presence_answer_cb cb, void *ctx);

/* The user's choice, "away" or "online": OK (told to those who see them);
 * BAD_REQUEST for another word; CONFLICT when no session of theirs is
 * connected anywhere (away is kept only while connected); NOT_SUPPORTED
 * without presence. Answers before returning. */
void user_presence_choose(struct rooms *r, const char *user, const char *status, done_answer_cb cb, void *ctx);

#endif
