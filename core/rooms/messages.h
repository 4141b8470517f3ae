/* A room message on its way: its body checked, the room looked up (the
 * sender a member, the room taking messages), appended by the storage,
 * then published, its notices given and the sender's own read mark raised.
 * The steps are separate calls so that the sender's side can keep its
 * messages in the order it sent them between them (stomp/send_order.h):
 *
 *     message_send_new -> message_send_admit -> message_send_append
 *       -> message_send_publish -> message_send_free
 */
#ifndef CHATD_MESSAGES_H
#define CHATD_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

/* What the sender sends; every pointer borrowed for message_send_new. */
struct message_draft {
    const char *room_id;
    const char *sender;
    const char *body;
    size_t body_len;
    const char *content_type; /* may be NULL: text/plain */
    const char *client_id;    /* the sender's idempotency key; may be NULL */
    const char *trace;        /* follows the message into logs and events; may be NULL */
    uint64_t origin;          /* the sender's side's id for it, handed to the events port */
    chatd_message_kind kind;  /* what a client sends is TEXT; SYSTEM is the server's */
    uint64_t reply_to;        /* the seq of the room's message it replies to; 0: none */
};

struct message_send;

/* A message from `d`: ROOM_OK with *out, ROOM_BAD_REQUEST when the body is
 * no room message (why: the rule, message_body.h), ROOM_NOMEM. */
enum room_status message_send_new(struct rooms *r, const struct message_draft *d, struct message_send **out,
                                  char *why, size_t whylen);
/* The room is there, the sender a member, and it takes messages: OK;
 * NOT_FOUND; CONFLICT for a read-only room (why: whose doing);
 * BAD_REQUEST when reply_to names no message of the room. */
void message_send_admit(struct message_send *ms, done_answer_cb cb, void *ctx);
/* Store it: OK with the stored message; EXISTS when the sender's
 * client_id was stored before (nothing to publish); NOT_FOUND when the room
 * went meanwhile. */
typedef void (*message_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *m);
void message_send_append(struct message_send *ms, message_answer_cb cb, void *ctx);
/* After an OK append: the `message` event, the notices (notices.h), then
 * the sender's read mark; OK then (a mark not stored is only logged: the
 * message itself is). */
void message_send_publish(struct message_send *ms, done_answer_cb cb, void *ctx);
/* NULL ok. Not while a step is in flight. */
void message_send_free(struct message_send *ms);

#endif
