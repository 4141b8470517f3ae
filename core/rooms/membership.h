/* Who is in which room: creating direct and group rooms, a user's rooms,
 * one room as its member sees it, leaving. docs/rest-api.md, "Rooms". */
#ifndef CHATD_MEMBERSHIP_H
#define CHATD_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

/* Bounds of what a group is created with. */
#define GROUP_TITLE_MAX 200
#define GROUP_MEMBERS_MAX 256

/* The one direct room of `user` and `with` (whoever asks first creates it):
 * OK with a new one, EXISTS with the one there; BAD_REQUEST when `with` is
 * no other user's name. */
void membership_create_direct(struct rooms *r, const char *user, const char *with, room_answer_cb cb, void *ctx);
/* A new group titled `title` (1 to GROUP_TITLE_MAX bytes) of `user` and
 * members[0..n) (names; NULL entries and empty or overlong names are
 * refused; more than GROUP_MEMBERS_MAX too): OK with the room, or
 * BAD_REQUEST. Duplicates and the creator among members count once. */
void membership_create_group(struct rooms *r, const char *user, const char *title, const char *const *members,
                             size_t n, room_answer_cb cb, void *ctx);
/* The rooms `user` belongs to, with their read marks and last messages. */
void membership_rooms_of(struct rooms *r, const char *user, rooms_answer_cb cb, void *ctx);
/* One room as `user` (roles) sees it: NOT_FOUND unless they may
 * (room_rules.h room_can_see). */
void membership_show(struct rooms *r, const char *room_id, const char *user, uint32_t roles, room_answer_cb cb,
                     void *ctx);
/* `user` leaves the room: a group member leaves it (group_changes.h, as a
 * removal of themselves), a support room's customer closes it
 * (support_close); FORBIDDEN for anyone else. */
void membership_leave(struct rooms *r, const char *room_id, const char *user, uint32_t roles, leave_answer_cb cb,
                      void *ctx);

#endif
