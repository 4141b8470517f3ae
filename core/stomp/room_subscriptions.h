/* SUBSCRIBEs to the server's own destinations: a room's topic (with
 * since-seq replay: what was missed, then live events, none twice), the
 * support queue and a user's notifications; and the catch-up of every room
 * subscription after a broker outage. The rooms domain (rooms/history.h)
 * says who may watch a room and reads the pages replayed. See
 * docs/protocol.md. */
#ifndef CHATD_ROOM_SUBSCRIPTIONS_H
#define CHATD_ROOM_SUBSCRIPTIONS_H

struct server;
struct session;

/* SUBSCRIBE to /topic/rooms/{room} (since-seq, and since-rev for the
 * edits and deletes after that revision), /topic/support/queue,
 * /user/queue/notifications (the session hands over the DEST_ROOMS
 * SUBSCRIBEs of destinations.h, in canonical form; `as_sent` and `alias`:
 * as the client wrote it, see session_subscribe). Answers with RECEIPT or
 * ERROR itself. */
void rooms_subscribe(struct session *s, const char *destination, const char *as_sent, unsigned alias,
                     const char *id, int ack_mode, const char *since_seq, const char *since_rev,
                     const char *receipt);

/* After a broker outage: catch every room subscription up from storage. */
void rooms_resync(struct server *srv);

#endif
