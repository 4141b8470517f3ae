/* The broker plugin as the core uses it. What a broker hands back reaches
 * the modules through handlers they registered here, not by the plugin
 * host knowing who wants what: a channel of its own (presence), every
 * other channel (the router), "a channel is live" (the router) and "the
 * broker is ready again" (the rooms' catch-up, presence). The composition
 * root (server.c) registers them; the plugin host only calls the
 * broker_port_* entry points below. Core thread only.
 *
 * The port stands between the core and the plugin's operations: what the
 * plugin reports (deliver, channel_live, set_ready back up) while one of
 * its operations runs is held, and reaches the handlers from the loop after
 * that operation returned, with everything reported after it held behind
 * it, so the order per channel holds. The router and the rooms therefore
 * never see a delivery inside their own subscribe or publish. */
#ifndef CHATD_BROKER_PORT_H
#define CHATD_BROKER_PORT_H

#include <stddef.h>

#include <chatd/plugin.h>

struct event;
struct event_base;
struct broker_held;

typedef void (*broker_deliver_fn)(void *arg, const char *channel, const void *data, size_t len);
typedef void (*broker_live_fn)(void *arg, const char *channel, chatd_status st);
typedef void (*broker_ready_fn)(void *arg);

#define BROKER_PORT_HANDLERS 4

struct broker_port {
    const struct chatd_broker_ops *ops; /* the plugin's, and its state */
    void *state;
    /* Reports held while an operation runs, oldest first. */
    unsigned in_op;
    bool flushing;
    struct broker_held *held, **held_tail;
    struct event *flush;
    struct {
        const char *channel; /* NULL: every channel no other handler names */
        broker_deliver_fn fn;
        void *arg;
    } deliver[BROKER_PORT_HANDLERS];
    size_t ndeliver;
    struct {
        broker_ready_fn fn;
        void *arg;
    } ready[BROKER_PORT_HANDLERS];
    size_t nready;
    broker_live_fn live;
    void *live_arg;
};

/* Start-up: the broker plugin's ops table and state, and the loop that
 * hands held reports on. 0, or -1 out of memory. */
int broker_port_attach(struct broker_port *b, const struct chatd_broker_ops *ops, void *state,
                       struct event_base *base);

/* The broker operations, and in *state the state to call them with. */
const struct chatd_broker_ops *broker_ops(const struct broker_port *b, void **state);

/* Registration, at start-up; -1 when BROKER_PORT_HANDLERS are taken. A
 * channel's handler runs for that channel only; the one registered with
 * channel NULL for the rest. Ready handlers run in registration order. */
int broker_port_on_channel(struct broker_port *b, const char *channel, broker_deliver_fn fn, void *arg);
int broker_port_on_ready(struct broker_port *b, broker_ready_fn fn, void *arg);
void broker_port_on_live(struct broker_port *b, broker_live_fn fn, void *arg);

/* Teardown: no handler runs any more (what they handle is being freed);
 * held reports are dropped. */
void broker_port_forget(struct broker_port *b);

/* From the plugin host (host->deliver, host->set_ready back to ready,
 * host->channel_live). Nothing registered yet: dropped. */
void broker_port_deliver(struct broker_port *b, const char *channel, const void *data, size_t len);
void broker_port_ready(struct broker_port *b);
void broker_port_live(struct broker_port *b, const char *channel, chatd_status st);

#endif
