#include "plugins/broker_port.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A report of the plugin's held until the operation it came in returned. */
struct broker_held {
    struct broker_held *next;
    enum { HELD_DELIVER, HELD_LIVE, HELD_READY } what;
    chatd_status st;
    size_t len;
    char *channel;
    char data[]; /* len bytes */
};

static void held_free_all(struct broker_held *h)
{
    while (h) {
        struct broker_held *next = h->next;
        free(h->channel);
        free(h);
        h = next;
    }
}

static void deliver_now(struct broker_port *b, const char *channel, const void *data, size_t len)
{
    size_t other = b->ndeliver;
    for (size_t i = 0; i < b->ndeliver; i++) {
        if (!b->deliver[i].channel) {
            other = i;
        } else if (strcmp(b->deliver[i].channel, channel) == 0) {
            b->deliver[i].fn(b->deliver[i].arg, channel, data, len);
            return;
        }
    }
    if (other < b->ndeliver)
        b->deliver[other].fn(b->deliver[other].arg, channel, data, len);
}

static void ready_now(struct broker_port *b)
{
    for (size_t i = 0; i < b->nready; i++)
        b->ready[i].fn(b->ready[i].arg);
}

static void live_now(struct broker_port *b, const char *channel, chatd_status st)
{
    if (b->live)
        b->live(b->live_arg, channel, st);
}

/* The held reports, in order, one batch per turn of the loop: what the
 * handlers cause to be held waits for the next turn. */
static void flush_held(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct broker_port *b = arg;
    struct broker_held *batch = b->held;
    b->held = NULL;
    b->held_tail = &b->held;
    b->flushing = true;
    while (batch) {
        struct broker_held *h = batch;
        batch = h->next;
        switch (h->what) {
        case HELD_DELIVER: deliver_now(b, h->channel, h->data, h->len); break;
        case HELD_LIVE: live_now(b, h->channel, h->st); break;
        case HELD_READY: ready_now(b); break;
        }
        free(h->channel);
        free(h);
        if (!b->flushing) { /* forgotten by a handler: teardown */
            held_free_all(batch);
            return;
        }
    }
    b->flushing = false;
    if (b->held)
        event_active(b->flush, 0, 0);
}

/* Whether a report must wait: an operation runs, or earlier ones wait. */
static bool must_hold(const struct broker_port *b)
{
    return b->flush && (b->in_op || b->held || b->flushing);
}

static void hold(struct broker_port *b, int what, const char *channel, const void *data, size_t len,
                 chatd_status st)
{
    struct broker_held *h = malloc(sizeof *h + len);
    if (!h || (channel && !(h->channel = strdup(channel)))) {
        free(h);
        log_error("broker: out of memory: dropped an event of %s", channel ? channel : "the broker");
        return;
    }
    if (!channel)
        h->channel = NULL;
    h->next = NULL;
    h->what = what;
    h->st = st;
    h->len = len;
    if (len)
        memcpy(h->data, data, len);
    bool first = !b->held;
    *b->held_tail = h;
    b->held_tail = &h->next;
    if (first && !b->flushing)
        event_active(b->flush, 0, 0);
}

static chatd_status port_subscribe(void *state, const char *channel)
{
    struct broker_port *b = state;
    b->in_op++;
    chatd_status st = b->ops->subscribe(b->state, channel);
    b->in_op--;
    return st;
}

static chatd_status port_unsubscribe(void *state, const char *channel)
{
    struct broker_port *b = state;
    b->in_op++;
    chatd_status st = b->ops->unsubscribe(b->state, channel);
    b->in_op--;
    return st;
}

static chatd_status port_publish(void *state, const char *channel, const void *data, size_t len)
{
    struct broker_port *b = state;
    b->in_op++;
    chatd_status st = b->ops->publish(b->state, channel, data, len);
    b->in_op--;
    return st;
}

static const struct chatd_broker_ops port_ops = {
    .size = sizeof port_ops,
    .subscribe = port_subscribe,
    .unsubscribe = port_unsubscribe,
    .publish = port_publish,
};

int broker_port_attach(struct broker_port *b, const struct chatd_broker_ops *ops, void *state,
                       struct event_base *base)
{
    b->ops = ops;
    b->state = state;
    b->held = NULL;
    b->held_tail = &b->held;
    b->flush = event_new(base, -1, 0, flush_held, b);
    return b->flush ? 0 : -1;
}

const struct chatd_broker_ops *broker_ops(const struct broker_port *b, void **state)
{
    *state = (void *)b;
    return &port_ops;
}

int broker_port_on_channel(struct broker_port *b, const char *channel, broker_deliver_fn fn, void *arg)
{
    if (b->ndeliver == BROKER_PORT_HANDLERS)
        return -1;
    b->deliver[b->ndeliver].channel = channel;
    b->deliver[b->ndeliver].fn = fn;
    b->deliver[b->ndeliver].arg = arg;
    b->ndeliver++;
    return 0;
}

int broker_port_on_ready(struct broker_port *b, broker_ready_fn fn, void *arg)
{
    if (b->nready == BROKER_PORT_HANDLERS)
        return -1;
    b->ready[b->nready].fn = fn;
    b->ready[b->nready].arg = arg;
    b->nready++;
    return 0;
}

void broker_port_on_live(struct broker_port *b, broker_live_fn fn, void *arg)
{
    b->live = fn;
    b->live_arg = arg;
}

void broker_port_deliver(struct broker_port *b, const char *channel, const void *data, size_t len)
{
    if (must_hold(b))
        hold(b, HELD_DELIVER, channel, data, len, CHATD_OK);
    else
        deliver_now(b, channel, data, len);
}

void broker_port_ready(struct broker_port *b)
{
    if (must_hold(b))
        hold(b, HELD_READY, NULL, NULL, 0, CHATD_OK);
    else
        ready_now(b);
}

void broker_port_live(struct broker_port *b, const char *channel, chatd_status st)
{
    if (must_hold(b))
        hold(b, HELD_LIVE, channel, NULL, 0, st);
    else
        live_now(b, channel, st);
}

void broker_port_forget(struct broker_port *b)
{
    b->ndeliver = b->nready = 0;
    b->live = NULL;
    held_free_all(b->held);
    b->held = NULL;
    b->held_tail = &b->held;
    b->flushing = false;
    if (b->flush)
        event_free(b->flush);
    b->flush = NULL;
}
