/* The rooms' STOMP adapter: room SENDs and SUBSCRIBEs, since-seq replay,
 * catch-up after a broker outage, read into calls of the rooms domain
 * (rooms/messages.h, read_marks.h, typing.h, history.h), whose answers it
 * writes as RECEIPTs and ERRORs. See docs/protocol.md. */
#ifndef CHATD_ROOMS_STOMP_H
#define CHATD_ROOMS_STOMP_H

struct server;
struct session;
struct stomp_frame;

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

#endif
