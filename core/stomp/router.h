/* The router: local subscriptions and how messages reach them.
 *
 * - /topic/NAME and /user/USER/queue/NAME are broadcast: published through
 *   the broker plugin (channel = destination), delivered to every local
 *   subscriber when the broker hands the event back.
 * - /queue/NAME is a queue of this instance: each message goes to one
 *   subscriber, round-robin; with ack mode client or client-individual it
 *   stays owned by the queue until acknowledged, and a NACK or the
 *   subscriber's departure delivers it again (redelivered:true). */
#ifndef CHATD_ROUTER_H
#define CHATD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chatd/host.h>

#include "stomp/destinations.h"

struct rcbuf;
struct server;
struct stomp_frame;
struct sub;

enum ack_mode { ACK_AUTO = 0, ACK_CLIENT, ACK_CLIENT_INDIVIDUAL };

/* Whoever holds subscriptions (a STOMP session), as the router sees it:
 * the router reaches subscribers only through these, never by calling the
 * session module. Embedded in the subscriber's own struct. */
struct subscriber;
struct subscriber_ops {
    int (*version)(const struct subscriber *who);     /* STOMP version of its frames */
    const char *(*user)(const struct subscriber *who); /* who it is (presence, revocation) */
    /* A MESSAGE: head (taken) then shared (a reference, taken). */
    void (*deliver)(struct subscriber *who, char *head, size_t head_len, struct rcbuf *shared);
    /* The router gives up on it (a bound exceeded): ERROR, then close. */
    void (*fail)(struct subscriber *who, const char *message);
};
struct subscriber {
    const struct subscriber_ops *ops;
};

struct router *router_new(struct server *srv);
void router_free(struct router *r);

/* Subscribe `who` to `destination` (canonical and resolved: /user/queue/X
 * is /user/NAME/queue/X here) under the client's `id`. `alias`: the index
 * of the configured prefix (of the destination's kind) the client used;
 * its MESSAGEs name the destination with that prefix (destinations.h
 * destination_client). The router owns the result; NULL with *st set on
 * failure. */
struct sub *router_subscribe(struct router *r, struct subscriber *who, const char *id,
                             const char *destination, unsigned alias, enum ack_mode ack, chatd_status *st);
/* Unsubscribe and free; unacknowledged queue messages go back to the queue. */
void router_unsubscribe(struct router *r, struct sub *s);
const char *router_sub_id(const struct sub *s);

/* Publish a SEND's body and user headers, with `sender` (the authenticated
 * user) stamped: the headers the server sets on MESSAGE frames are its
 * own, never the client's (the envelope carries them to every instance).
 * `origin` is the publishing session (see ROUTER_ORIGIN).
 * CHATD_ERR_LIMIT: queue full. */
chatd_status router_publish(struct router *r, const char *destination, const char *sender,
                            const struct stomp_frame *send, uint64_t origin);

/* An envelope header naming the session of this instance that published
 * it ("INSTANCE:SESSION"): recipients' queues on this instance slow that
 * publisher down when they fill (the gateway's flow control). Never shown
 * to clients; a client's SEND cannot set it. router_origin() writes the
 * value for a session into out (at least 48 bytes). */
#define ROUTER_ORIGIN "chatd-origin"
const char *router_origin(const struct router *r, uint64_t session, char *out, size_t len);

/* ACK or NACK a MESSAGE of one of `subs` (a session's subscriptions),
 * named as the session's STOMP version names it: 1.2 `id` (the ack
 * header), 1.1 `message-id` + `subscription`, 1.0 `message-id`.
 * An ACK/NACK that names an auto subscription (`subscription` header), or
 * names none while the session has one, and matches no unacknowledged
 * message is a no-op: auto messages were acknowledged at delivery.
 * CHATD_ERR_INVALID: the id header is missing; CHATD_ERR_NOT_FOUND: no
 * such unacknowledged message. */
chatd_status router_ack(struct router *r, struct sub *const *subs, size_t nsubs, int version,
                        const struct stomp_frame *ack, bool nack);

/* A server event (rooms): a MESSAGE envelope with these headers and body,
 * published through the broker on `channel` (the destination).
 *
 * An event with a ROUTER_REVOKE header (value: a user name) is that user's
 * last one on the channel: every instance delivers it to the user's
 * subscriptions with `subscription-ended:true` and then ends them (nothing
 * more is delivered; the subscription waits for the client's UNSUBSCRIBE or
 * close). The header itself is not shown to clients, and a client's SEND
 * cannot set it. */
#define ROUTER_REVOKE "revoke-user"
/* The same for every subscriber of the channel (any value): the last event
 * of a destination that is gone (a deleted group). */
#define ROUTER_REVOKE_ALL "revoke-all"
struct event_header {
    const char *name;
    const char *value;
};
chatd_status router_publish_event(struct router *r, const char *channel, const struct event_header *h,
                                  size_t n, const void *body, size_t len);
/* The same envelope delivered to one subscription only (history replay). */
void router_deliver_event_to(struct router *r, struct sub *s, const struct event_header *h, size_t n,
                             const void *body, size_t len);
/* While held, events for s are kept instead of delivered; release delivers
 * them, skipping `message` events with seq <= replayed_seq (already sent by
 * the replay), so a catch-up has no gap and no duplicate — also for such
 * events the broker hands over later. */
void router_hold(struct sub *s);
void router_release(struct router *r, struct sub *s, uint64_t replayed_seq);

/* Room topics: the highest message seq a subscription has had (delivered,
 * replayed, or known at subscribe time through router_sub_seen), so that a
 * catch-up after a broker outage starts where it stopped. */
void router_sub_seen(struct sub *s, uint64_t seq);
uint64_t router_sub_last_seq(const struct sub *s);
bool router_sub_held(const struct sub *s);
struct subscriber *router_sub_subscriber(const struct sub *s);
const char *router_sub_destination(const struct sub *s);
/* Every subscription to a destination starting with prefix (but those the
 * server ended), in a new array (the caller frees it); the count. Valid
 * until the next unsubscribe. */
size_t router_collect_subs(struct router *r, const char *prefix, struct sub ***out);

/* The prefix of room topics, followed by the room id. */
#define ROOM_TOPIC DEST_ROOM_TOPIC

/* A broker may confirm a channel later (subscribe returned CHATD_PENDING):
 * fn(arg, how) runs once the subscription's destination is live — at once
 * when it already is — or failed, or was dropped before either (GONE: the
 * subscription no longer exists; touch nothing of it). */
enum router_live { ROUTER_LIVE, ROUTER_FAILED, ROUTER_GONE };
typedef void (*router_live_fn)(void *arg, enum router_live how);
void router_when_live(struct router *r, struct sub *s, router_live_fn fn, void *arg);
/* host->channel_live */
void router_channel_live(struct router *r, const char *channel, chatd_status st);

/* Subscriptions on this instance, and messages waiting in its /queue/s. */
void router_stats(const struct router *r, size_t *subs, size_t *queued);

/* The broker handed us an event for `channel` (host->deliver). */
void router_deliver(struct router *r, const char *channel, const void *data, size_t len);

#endif
