/* broker-simple: in-process delivery for a single chatd instance.
 *
 * publish() copies the event into a FIFO; one libevent event drains it on
 * the next loop turn and hands each event to host->deliver, so delivery is
 * never re-entrant with the publisher and keeps publish order. */
#include <chatd/plugin.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "chanset.h"

struct event_item {
    struct event_item *next;
    size_t len;
    char *channel;
    char data[];
};

struct simple {
    const struct chatd_host *host;
    struct event *drain;
    struct event_item *head, *tail;
    struct chanset subscribed;
};

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct simple *b = arg;
    /* Take the current list: events published during delivery wait for the
     * next turn. */
    struct event_item *it = b->head;
    b->head = b->tail = NULL;
    while (it) {
        struct event_item *next = it->next;
        if (chanset_has(&b->subscribed, it->channel))
            b->host->deliver(b->host, it->channel, it->data, it->len);
        free(it);
        it = next;
    }
}

static chatd_status simple_init(const struct chatd_host *host, void **state)
{
    struct simple *b = calloc(1, sizeof *b);
    if (!b)
        return CHATD_ERR_NOMEM;
    b->host = host;
    b->drain = event_new(host->base, -1, 0, drain_cb, b);
    if (!b->drain) {
        free(b);
        return CHATD_ERR_NOMEM;
    }
    host->set_ready(host, true, "in-process");
    *state = b;
    return CHATD_OK;
}

static void simple_fini(void *state)
{
    struct simple *b = state;
    event_free(b->drain);
    for (struct event_item *it = b->head, *next; it; it = next) {
        next = it->next;
        free(it);
    }
    chanset_free(&b->subscribed);
    free(b);
}

static chatd_status simple_subscribe(void *state, const char *channel)
{
    struct simple *b = state;
    return chanset_add(&b->subscribed, channel) < 0 ? CHATD_ERR_NOMEM : CHATD_OK;
}

static chatd_status simple_unsubscribe(void *state, const char *channel)
{
    struct simple *b = state;
    return chanset_remove(&b->subscribed, channel) ? CHATD_OK : CHATD_ERR_NOT_FOUND;
}

static chatd_status simple_publish(void *state, const char *channel, const void *data, size_t len)
{
    struct simple *b = state;
    size_t cl = strlen(channel) + 1;
    struct event_item *it = malloc(sizeof *it + len + cl);
    if (!it)
        return CHATD_ERR_NOMEM;
    it->next = NULL;
    it->len = len;
    memcpy(it->data, data, len);
    it->channel = it->data + len;
    memcpy(it->channel, channel, cl);
    if (b->tail)
        b->tail->next = it;
    else
        b->head = it;
    b->tail = it;
    event_active(b->drain, 0, 0);
    return CHATD_OK;
}

static const struct chatd_broker_ops simple_ops = {
    .size = sizeof simple_ops,
    .subscribe = simple_subscribe,
    .unsubscribe = simple_unsubscribe,
    .publish = simple_publish,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_BROKER, .name = "simple", .version = "1.0",
                    .description = "in-process broker for one instance", .init = simple_init,
                    .fini = simple_fini, .ops.broker = &simple_ops)
