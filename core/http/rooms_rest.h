/* The rooms' REST adapter: the /api/rooms requests, read into calls of the
 * rooms domain (rooms/support.h, membership.h, group_changes.h, history.h,
 * read_marks.h, message_edits.h, reactions.h), whose answers it writes as HTTP statuses and JSON
 * (wire/room_json.h). See docs/rest-api.md. */
#ifndef CHATD_ROOMS_REST_H
#define CHATD_ROOMS_REST_H

struct rest_call;

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
    ROOM_MESSAGE_EDIT,  /* PATCH /api/rooms/{room}/messages/{seq} */
    ROOM_MESSAGE_DELETE, /* DELETE /api/rooms/{room}/messages/{seq} */
    ROOM_TRANSFER,      /* POST /api/rooms/{room}/transfer */
    ROOM_REACTION_ADD,    /* PUT /api/rooms/{room}/messages/{seq}/reactions/{emoji} */
    ROOM_REACTION_REMOVE, /* DELETE /api/rooms/{room}/messages/{seq}/reactions/{emoji} */
    ROOM_TRANSCRIPT,    /* GET /api/rooms/{room}/transcript */
    ROOM_RATE,          /* POST /api/rooms/{room}/rating */
};
/* One of them for an authenticated call; room, member (a user, or a
 * message's seq) and item (an emoji) are the path's, as the gateway decoded it (NULL
 * where the path has none). Answers the call itself. */
void rooms_rest(struct rest_call *c, enum rooms_request what, const char *room, const char *member,
                const char *item);

#endif
