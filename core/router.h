/* The router: which local sessions subscribe to which destination, and the
 * way events go out through the broker plugin and come back to be fanned
 * out. A destination's channel on the broker is the destination itself. */
#ifndef CHATD_ROUTER_H
#define CHATD_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include <chatd/host.h>

struct server;
struct session;
struct stomp_frame;
struct topic;

enum ack_mode { ACK_AUTO = 0, ACK_CLIENT, ACK_CLIENT_INDIVIDUAL };

/* One SUBSCRIBE of one session; owned by the session, linked by the router. */
struct sub {
    char *id;
    char *destination;
    enum ack_mode ack;
    struct session *session;
    struct topic *topic;
    struct sub *prev, *next; /* in the topic's list */
};

struct router *router_new(struct server *srv);
void router_free(struct router *r);

/* Link s into its destination; the first local subscriber subscribes the
 * broker channel. */
chatd_status router_subscribe(struct router *r, struct sub *s);
void router_unsubscribe(struct router *r, struct sub *s);

/* Publish a SEND's body and user headers to `destination` through the
 * broker. */
chatd_status router_publish(struct router *r, const char *destination,
                            const struct stomp_frame *send);

/* The broker handed us an event for `channel` (host->deliver). */
void router_deliver(struct router *r, const char *channel, const void *data, size_t len);

#endif
