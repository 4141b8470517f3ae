/* What the rooms tell clients without being asked: events on a room's
 * topic, on the support queue, and personal notifications (in-band to
 * connected members, through notify plugins to the others). Every instance
 * gets them through the broker. Functions that take a json_t body steal
 * its reference. */
#ifndef CHATD_ROOM_EVENTS_H
#define CHATD_ROOM_EVENTS_H

#include <jansson.h>

#include <chatd/plugin.h>

struct server;

/* An event on a room's topic: `event` and `room` headers, a JSON body. */
void room_event(struct server *srv, const char *room, const char *event, json_t *body);
/* The same, and the last one `revoked` gets on that topic: the user left
 * or was removed, and their subscriptions to the room end with it. */
void room_event_ending(struct server *srv, const char *room, const char *event, json_t *body,
                       const char *revoked);
/* `deleted`, the last event of a room that is gone: every subscription to
 * it ends, on every instance. */
void room_event_deleted(struct server *srv, const char *room, json_t *body);
/* The support queue changed (`opened`, `claimed`, `closed`): body = the room. */
void room_queue_event(struct server *srv, const char *event, const struct chatd_room *r);
/* An in-band notification to every session of `user`; body may be NULL
 * when it could not be built (counted as a failed notification). */
void room_notify_user(struct server *srv, const char *user, const char *event, const char *room, json_t *body);
/* After a message is stored: the members with no live subscription to the
 * room hear of it, with one preview of its text. */
void room_notify_members(struct server *srv, const struct chatd_room *r, const struct chatd_message *m,
                         const char *content_type);

/* After an erase of `user`'s data (user_erase.c), the last event of each
 * room they lost, as leaving and deleting publish it: `member-left` in a
 * room kept, which ends the user's subscriptions to it on every instance;
 * `deleted` in a room removed (their support room), which ends every
 * subscription to it. Both bodies say "erased": true. */
void rooms_erased_member_left(struct server *srv, const char *room, const char *user);
void rooms_erased_room_deleted(struct server *srv, const char *room);

#endif
