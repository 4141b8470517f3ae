/* broker-simple: in-process delivery for a single chatd instance.
 *
 * publish() copies the event into a FIFO; one libevent event drains it on
 * the next loop turn and hands each event to host->deliver, so delivery is
 * never re-entrant with the publisher and keeps publish order. */
#include <chatd/plugin.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

struct event_item {
    struct event_item *next;
    size_t len;
    char *channel;
    char data[];
};

struct channel_set {
    char **names;
    size_t n, cap;
};

struct simple {
    const struct chatd_host *host;
    struct event *drain;
    struct event_item *head, *tail;
    struct channel_set subscribed;
};

static ptrdiff_t set_find(const struct channel_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return (ptrdiff_t)i;
    return -1;
}

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
        if (set_find(&b->subscribed, it->channel) >= 0)
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
    for (size_t i = 0; i < b->subscribed.n; i++)
        free(b->subscribed.names[i]);
    free(b->subscribed.names);
    free(b);
}

static chatd_status simple_subscribe(void *state, const char *channel)
{
    struct simple *b = state;
    struct channel_set *s = &b->subscribed;
    if (set_find(s, channel) >= 0)
        return CHATD_OK;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **names = realloc(s->names, cap * sizeof *names);
        if (!names)
            return CHATD_ERR_NOMEM;
        s->names = names;
        s->cap = cap;
    }
    if (!(s->names[s->n] = strdup(channel)))
        return CHATD_ERR_NOMEM;
    s->n++;
    return CHATD_OK;
}

static chatd_status simple_unsubscribe(void *state, const char *channel)
{
    struct simple *b = state;
    struct channel_set *s = &b->subscribed;
    ptrdiff_t i = set_find(s, channel);
    if (i < 0)
        return CHATD_ERR_NOT_FOUND;
    free(s->names[i]);
    s->names[i] = s->names[--s->n];
    return CHATD_OK;
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
