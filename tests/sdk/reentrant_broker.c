/* A broker plugin that answers inside its own operations, as SDK 2 allows
 * (plugin.h, "struct chatd_broker_ops"): one instance, publish hands every
 * event straight back through host->deliver before it returns, subscribe
 * confirms through host->channel_live before it returns CHATD_PENDING.
 * test_reentrancy.py runs chatd on it: the host holds those reports until
 * the operation returned, so subscriptions go live and events arrive in
 * order. */
#include <chatd/plugin.h>
#include <stdlib.h>

struct loop {
    const struct chatd_host *host;
};

static chatd_status loop_init(const struct chatd_host *h, void **state)
{
    struct loop *l = calloc(1, sizeof *l);
    if (!l)
        return CHATD_ERR_NOMEM;
    l->host = h;
    h->set_ready(h, true, NULL);
    *state = l;
    return CHATD_OK;
}

static void loop_fini(void *state)
{
    free(state);
}

static chatd_status loop_subscribe(void *state, const char *channel)
{
    struct loop *l = state;
    l->host->channel_live(l->host, channel, CHATD_OK);
    return CHATD_PENDING;
}

static chatd_status loop_unsubscribe(void *state, const char *channel)
{
    (void)state;
    (void)channel;
    return CHATD_OK;
}

static chatd_status loop_publish(void *state, const char *channel, const void *data, size_t len)
{
    struct loop *l = state;
    l->host->deliver(l->host, channel, data, len);
    return CHATD_OK;
}

static const struct chatd_broker_ops loop_ops = {
    .size = sizeof loop_ops,
    .subscribe = loop_subscribe,
    .unsubscribe = loop_unsubscribe,
    .publish = loop_publish,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_BROKER, .name = "reentrant", .version = "0", .init = loop_init,
                    .fini = loop_fini, .ops.broker = &loop_ops)
