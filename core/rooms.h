/* Chat rooms: support rooms with an agent queue, direct rooms, group rooms,
 * on top of the storage plugin (the record) and the broker plugin (events
 * to every instance). What the protocols hand over: REST requests
 * (rooms_rest.c) and STOMP frames (rooms_stomp.c). Both apply the rules of
 * room_rules.h and group_roles.h, show rooms as room_json.h writes them
 * and tell clients through room_events.h. See docs/rest-api.md and
 * docs/protocol.md. */
#ifndef CHATD_ROOMS_H
#define CHATD_ROOMS_H

#include <stdbool.h>
#include <stdint.h>

struct rest_call;
struct server;
struct session;
struct stomp_frame;

/* The REST requests the rooms answer; rest.c's route table says which
 * method and path each is (docs/rest-api.md). */
enum rooms_request {
    ROOMS_LIST = 1,     /* GET /api/rooms */
    ROOMS_CREATE,       /* POST /api/rooms */
    ROOM_GET,           /* GET /api/rooms/{room} */
    ROOM_DELETE,        /* DELETE /api/rooms/{room}: close, leave, or ?for=everyone delete */
    ROOM_RENAME,        /* PATCH /api/rooms/{room} */
    ROOM_HISTORY,       /* GET /api/rooms/{room}/messages */
    ROOM_CLAIM,         /* POST /api/rooms/{room}/claim */
    ROOM_COMPLETE,      /* POST /api/rooms/{room}/complete */
    ROOM_READ,          /* POST /api/rooms/{room}/read */
    ROOM_MEMBER_ADD,    /* POST /api/rooms/{room}/members */
    ROOM_MEMBER_REMOVE, /* DELETE /api/rooms/{room}/members/{user} */
    ROOM_MEMBER_ROLE,   /* PUT /api/rooms/{room}/members/{user}/role */
};
/* One of them for an authenticated call; room and member are the path's
 * (NULL where the path has none). Answers the call itself. */
void rooms_rest(struct rest_call *c, enum rooms_request what, const char *room, const char *member);

/* STOMP: the session hands over the destinations destinations.h routes to
 * the rooms (DEST_APP SENDs, DEST_ROOMS SUBSCRIBEs). */
/* SEND to /app/rooms/{room}/send|read|typing. The frame stays the caller's. */
void rooms_app_send(struct session *s, const char *destination, const struct stomp_frame *f,
                    const char *receipt);
/* SUBSCRIBE to /topic/rooms/{room} (since-seq), /topic/support/queue,
 * /user/queue/notifications. Answers with RECEIPT or ERROR itself. */
void rooms_subscribe(struct session *s, const char *destination, const char *id, int ack_mode,
                     const char *since_seq, const char *receipt);

/* After a broker outage: catch every room subscription up from storage. */
void rooms_resync(struct server *srv);

/* After an erase of `user`'s data (user_erase.c), the last event of each
 * room they lost, as leaving and deleting publish it: `member-left` in a
 * room kept, which ends the user's subscriptions to it on every instance;
 * `deleted` in a room removed (their support room), which ends every
 * subscription to it. Both bodies say "erased": true. */
void rooms_erased_member_left(struct server *srv, const char *room, const char *user);
void rooms_erased_room_deleted(struct server *srv, const char *room);

#endif
