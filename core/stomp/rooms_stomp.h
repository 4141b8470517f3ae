/* The rooms' STOMP adapter for SENDs: room messages, read marks and the
 * typing signal, read into calls of the rooms domain (rooms/messages.h,
 * read_marks.h, typing.h), whose answers it writes as RECEIPTs and ERRORs.
 * SUBSCRIBEs: stomp/room_subscriptions.h. See docs/protocol.md. */
#ifndef CHATD_ROOMS_STOMP_H
#define CHATD_ROOMS_STOMP_H

#include <stdbool.h>

struct room_answer;
struct session;
struct stomp_frame;

/* SEND to /app/rooms/{room}/send|read|typing|edit|delete (the DEST_APP SENDs
 * destinations.h routes to the rooms; `destination` canonical, `as_sent`
 * as the client wrote it, for its errors). The frame stays the caller's. */
void rooms_app_send(struct session *s, const char *destination, const char *as_sent, const struct stomp_frame *f,
                    const char *receipt);

/* A refusal or failure of the rooms domain about `room` as the client hears
 * it: an ERROR to s (with receipt-id when receipt is set). false, and
 * nothing sent, when a is OK or EXISTS. */
bool rooms_stomp_refused(struct session *s, const char *receipt, const char *room, const struct room_answer *a);

#endif
