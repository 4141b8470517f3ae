/* A group's members, roles, title and deletion, by the rules of
 * rooms/group_roles.h, decided again atomically by the storage (SDK 1.2
 * group_change); a storage without group_change adds, removes and deletes
 * through the SDK 1.0 operations and keeps no roles. docs/rest-api.md,
 * "Group roles". */
#ifndef CHATD_GROUP_CHANGES_H
#define CHATD_GROUP_CHANGES_H

#include <stdint.h>

#include "rooms/rooms.h"

/* What the caller asks (strings borrowed for the call). */
struct group_request {
    chatd_group_change_kind what;
    const char *user;       /* ADD, REMOVE, ROLE: whom it is about */
    chatd_member_role role; /* ROLE */
    const char *title;      /* RENAME */
};

/* `actor` (roles) asks for `req` in the room: OK when it took effect, with
 * the room as the storage left it (NULL without group_change); EXISTS when
 * it was so already, with the room. NOT_FOUND for a room the actor does
 * not see or someone not a member; FORBIDDEN without the right or in a
 * room that is no group; CONFLICT for the owner's own role or a group that
 * changed meanwhile; BAD_REQUEST for deleting a support room this way;
 * NOT_SUPPORTED for roles and titles without group_change. */
void group_change(struct rooms *r, const char *room_id, const char *actor, uint32_t roles,
                  const struct group_request *req, room_answer_cb cb, void *ctx);
/* The same on a room looked up already, of which actor is a member. */
void group_change_on(struct rooms *r, const struct chatd_room *room, const char *actor,
                     const struct group_request *req, room_answer_cb cb, void *ctx);

#endif
