/* A client session as the core sees it: the STOMP state machine after the
 * gateway parsed the frames. */
#ifndef CHATD_SESSION_H
#define CHATD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stomp/router.h"
#include "net/xq.h"

struct server;
struct session;
struct stomp_frame;
struct sub;

/* Events from the gateway (the core takes ownership of addr and frame). */
void session_opened(struct server *srv, uint64_t id, enum transport t, char *addr);
void session_frame(struct server *srv, uint64_t id, struct stomp_frame *f);
/* The client certificate of a session not yet CONNECTED names identity
 * (taken; NULL with problem, a static text: it names nobody, and CONNECT
 * is refused with that text). */
void session_tls_peer(struct server *srv, uint64_t id, char *identity, const char *problem);
void session_closed(struct server *srv, uint64_t id);

/* Shutdown: every session gets an ERROR "server shutting down" and is
 * closed; sessions still authenticating too. */
void session_close_all(struct server *srv);
/* A logout: every CONNECTED session of `user` on this instance that was
 * opened (or last refreshed, /app/session/refresh) with `token`, and every
 * session whose CONNECT with it is still being verified, gets an ERROR
 * `message` (detail may be NULL) and is closed. How many. */
size_t session_end_token(struct server *srv, const char *user, const char *token, const char *message,
                         const char *detail);
/* Close sessions that did not CONNECT in time (called periodically). */
void session_expire_pending(struct server *srv);
/* Free every session (after the gateway is gone). */
void session_free_all(struct server *srv);

int session_version(const struct session *s);
uint64_t session_id(const struct session *s);
struct server *session_server(const struct session *s);
const char *session_user(const struct session *s);
uint32_t session_roles(const struct session *s);
/* The session with this id if it is still CONNECTED, else NULL: what an
 * asynchronous completion uses to find its session again. */
struct session *session_lookup(struct server *srv, uint64_t id);
/* ERROR (with receipt-id when given), then close. */
void session_error_receipt(struct session *s, const char *receipt, const char *message, const char *detail);
void session_send_receipt(struct session *s, const char *receipt);
/* A room SEND's RECEIPT: it also names the seq the message was stored at. */
void session_send_receipt_seq(struct session *s, const char *receipt, uint64_t seq);
/* A RECEIPT with one more header (a support room opened: its `room`). */
void session_send_receipt_header(struct session *s, const char *receipt, const char *name, const char *value);
/* The session behind a subscriber of the router (router_sub_subscriber). */
struct session *session_of_subscriber(struct subscriber *who);
/* Subscribe the session to `destination` (as the router knows it,
 * canonical: /user/NAME/queue/X) under the client's `id`; `alias`: which
 * configured prefix of the destination's kind the client wrote it with
 * (destinations.h struct dest_alias), the one its MESSAGEs name it with.
 * The session owns its
 * subscriptions: the router's and the session's list change together,
 * here and at UNSUBSCRIBE or the close. NULL with *why (an ERROR message:
 * "duplicate subscription id", "too many subscriptions", "subscription
 * failed", "internal error") and *detail (or NULL) when it cannot. */
struct sub *session_subscribe(struct session *s, const char *id, const char *destination, unsigned alias,
                              enum ack_mode ack, const char **why, const char **detail);
bool session_has_sub(const struct session *s, const struct sub *sub);
/* Connections that have not CONNECTED yet (metrics). */
size_t session_pending_count(const struct server *srv);
/* RECEIPT for a SUBSCRIBE once its destination is live at the broker. */
void session_receipt_when_live(struct session *s, struct sub *sub, const char *receipt);
/* ERROR frame with `message`, then close (a server-side verdict such as a
 * slow consumer). */
void session_fail(struct session *s, const char *message);
/* An asynchronous operation of this session (a room operation to storage,
 * a token refresh) started / came back (or was dropped). While
 * SESSION_OPS_MAX are in flight the session's next frames wait and the
 * gateway stops reading its socket; a DISCONNECT waits for all of them, so
 * its RECEIPT means every earlier frame was carried out, and so does a
 * COMMIT's RECEIPT. The operation's own RECEIPT or ERROR is sent before
 * session_op_end. The session may be gone at the end: it is found by id. */
void session_op_begin(struct session *s);
void session_op_end(struct server *srv, uint64_t id);
/* Credit the bytes of the frames the core took this turn back to the
 * gateway (its flow control stops reading a connection whose frames wait
 * for the core). Called once at the end of each loop turn. */
void session_flush_credits(struct server *srv);
/* Queue head (owned) + shared (a reference, may be NULL) for the client. */
void session_send(struct session *s, char *head, size_t head_len, struct rcbuf *shared);

#endif
