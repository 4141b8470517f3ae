/* Fuzz the presence events other instances send over the broker
 * (presence_deliver): the JSON, the instance id and type, the user and
 * watch lists of snapshots and deltas, the last-seen times they carry
 * (clients' presence, whose offline graces they start and cancel). One input is several events, one per
 * line, delivered in order to one presence table, so that deltas meet the
 * snapshots before them. The core's source is included with a stand-in for
 * the log and a broker that drops what presence publishes (its answer to a
 * "hello"). */
#include "../../core/rooms/presence.c"

void log_msg(chatd_log_level level, const char *source, uint64_t session, const char *fmt, ...)
{
    (void)level, (void)source, (void)session, (void)fmt;
}

static chatd_status drop_publish(void *state, const char *channel, const void *data, size_t len)
{
    (void)state, (void)channel, (void)data, (void)len;
    return CHATD_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct chatd_broker_ops ops = {.size = sizeof ops, .publish = drop_publish};
    static struct server srv;
    if (!srv.base) {
        srv.base = event_base_new();
        snprintf(srv.instance, sizeof srv.instance, "fuzz-self");
        srv.broker_port.ops = &ops;
        srv.settings.offline_grace_ms = 1000;
    }
    struct presence *p = presence_new(&srv);
    if (!p)
        return 0;
    const uint8_t *end = data + size;
    while (data < end) {
        const uint8_t *nl = memchr(data, '\n', (size_t)(end - data));
        size_t n = (size_t)((nl ? nl : end) - data);
        presence_deliver(p, data, n);
        data += n + (nl != NULL);
    }
    struct presence_stats stats;
    presence_stats(p, &stats);
    presence_free(p);
    return 0;
}
