/* broker-redis: events between chatd instances over Redis pub/sub.
 *
 * Two connections on the core's libevent loop through hiredis: one only
 * publishes, the other only holds subscriptions (a subscribed Redis
 * connection accepts no other command). The channels this instance wants are
 * kept in a set, so that a reconnect subscribes them all again. Redis keeps
 * the order of one connection's PUBLISHes, which gives the per-publisher
 * order the SDK asks for; events published while a connection is down are
 * lost, and the host catches its subscribers up from storage once the broker
 * is ready again. */
#include <chatd/plugin.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chanset.h"
#include "plugin_conf.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* ------------------------------------------------------------ the broker */

struct link {
    struct rbroker *b;
    const char *what; /* "publish" or "subscribe", for logs */
    redisAsyncContext *ac;
    bool up;          /* connected and set up */
    struct event *retry;
    int backoff_ms;
};

struct rbroker {
    const struct chatd_host *host;
    char *addr;
    int port;
    char *unix_path;
    char *password;
    char *prefix;
    size_t prefix_len;
    struct link pub, sub;
    struct chanset channels;
    size_t resubscribing; /* confirmations awaited after a reconnect */
    bool stopping;
    bool ready;
};

static void link_connect(struct link *l);

static void update_ready(struct rbroker *b)
{
    bool ready = b->pub.up && b->sub.up;
    if (ready != b->ready) {
        b->ready = ready;
        b->host->set_ready(b->host, ready, ready ? "connected to redis" : "redis connection lost");
    }
}

static void schedule_retry(struct link *l)
{
    if (l->b->stopping)
        return;
    struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};
    evtimer_add(l->retry, &tv);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    link_connect(arg);
}

/* Every reply on the subscribing connection: confirmations and messages. */
static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct rbroker *b = privdata;
    const redisReply *r = reply;
    if (!r || b->stopping)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        b->host->log(b->host, CHATD_LOG_ERROR, "redis subscribe: %s", r->str);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "subscribe") == 0) {
        const redisReply *ch = r->element[1];
        if (ch->type == REDIS_REPLY_STRING && strncmp(ch->str, b->prefix, b->prefix_len) == 0 &&
            CHATD_HOST_HAS(b->host, channel_live))
            b->host->channel_live(b->host, ch->str + b->prefix_len, CHATD_OK);
        if (b->resubscribing && --b->resubscribing == 0) {
            b->sub.up = true;
            update_ready(b);
        }
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "message") != 0 || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    const char *channel = r->element[1]->str;
    if (strncmp(channel, b->prefix, b->prefix_len) != 0)
        return;
    b->host->deliver(b->host, channel + b->prefix_len, r->element[2]->str, r->element[2]->len);
}

static int send_sub(struct rbroker *b, const char *verb, const char *channel)
{
    const char *argv[2] = {verb, NULL};
    size_t argvlen[2] = {strlen(verb), b->prefix_len + strlen(channel)};
    char *full = malloc(argvlen[1] + 1);
    if (!full)
        return -1;
    memcpy(full, b->prefix, b->prefix_len);
    strcpy(full + b->prefix_len, channel);
    argv[1] = full;
    int rc = redisAsyncCommandArgv(b->sub.ac, verb[0] == 'S' ? on_sub_reply : NULL, b, 2, argv, argvlen);
    free(full);
    return rc == REDIS_OK ? 0 : -1;
}

static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = privdata;
    const redisReply *r = reply;
    if (!r || l->b->stopping)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        l->b->host->log(l->b->host, CHATD_LOG_ERROR, "redis %s connection set-up: %s", l->what, r->str);
        redisAsyncDisconnect(ac);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    struct rbroker *b = l->b;
    if (status != REDIS_OK) {
        b->host->log(b->host, CHATD_LOG_WARN, "redis %s connection failed: %s", l->what, ac->errstr);
        l->ac = NULL; /* hiredis frees it after this callback */
        schedule_retry(l);
        return;
    }
    l->backoff_ms = BACKOFF_MIN_MS;
    if (l == &b->sub) {
        /* Everything this instance listens to, again. Ready only once Redis
         * confirmed them all: the host's catch-up from storage must not
         * start before events flow again, or an event published in between
         * would be in neither. */
        b->resubscribing = 0;
        CHANSET_FOREACH(&b->channels, e)
        {
            if (send_sub(b, "SUBSCRIBE", e->name) == 0)
                b->resubscribing++;
        }
        if (b->resubscribing)
            return;
    }
    l->up = true;
    update_ready(b);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    struct rbroker *b = l->b;
    l->ac = NULL;
    l->up = false;
    if (l == &b->sub)
        b->resubscribing = 0;
    if (b->stopping)
        return;
    b->host->log(b->host, CHATD_LOG_WARN, "redis %s connection lost%s%s", l->what, status != REDIS_OK ? ": " : "",
                 status != REDIS_OK ? ac->errstr : "");
    update_ready(b);
    schedule_retry(l);
}

static void link_connect(struct link *l)
{
    struct rbroker *b = l->b;
    redisAsyncContext *ac = b->unix_path ? redisAsyncConnectUnix(b->unix_path) : redisAsyncConnect(b->addr, b->port);
    if (!ac || ac->err || redisLibeventAttach(ac, b->host->base) != REDIS_OK) {
        b->host->log(b->host, CHATD_LOG_WARN, "redis %s connection failed: %s", l->what,
                     ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(l);
        return;
    }
    ac->data = l;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    l->ac = ac;
    if (b->password)
        redisAsyncCommand(ac, on_setup_reply, l, "AUTH %s", b->password);
}

/* ------------------------------------------------------------- the ops */

static chatd_status rb_subscribe(void *state, const char *channel)
{
    struct rbroker *b = state;
    int added = chanset_add(&b->channels, channel);
    if (added < 0)
        return CHATD_ERR_NOMEM;
    /* While down, the reconnect subscribes it with the rest. */
    if (!added || !b->sub.up)
        return CHATD_OK;
    if (send_sub(b, "SUBSCRIBE", channel) < 0)
        return CHATD_ERR_UNAVAILABLE;
    /* Live once Redis confirms (on_sub_reply). */
    return CHATD_HOST_HAS(b->host, channel_live) ? CHATD_PENDING : CHATD_OK;
}

static chatd_status rb_unsubscribe(void *state, const char *channel)
{
    struct rbroker *b = state;
    if (!chanset_remove(&b->channels, channel))
        return CHATD_ERR_NOT_FOUND;
    if (b->sub.up)
        send_sub(b, "UNSUBSCRIBE", channel);
    return CHATD_OK;
}

static void on_publish_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct rbroker *b = privdata;
    const redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR && !b->stopping)
        b->host->log(b->host, CHATD_LOG_ERROR, "redis publish: %s", r->str);
}

static chatd_status rb_publish(void *state, const char *channel, const void *data, size_t len)
{
    struct rbroker *b = state;
    if (!b->pub.up)
        return CHATD_ERR_UNAVAILABLE;
    size_t cl = strlen(channel);
    char *full = malloc(b->prefix_len + cl);
    if (!full)
        return CHATD_ERR_NOMEM;
    memcpy(full, b->prefix, b->prefix_len);
    memcpy(full + b->prefix_len, channel, cl);
    const char *argv[3] = {"PUBLISH", full, len ? data : ""};
    size_t argvlen[3] = {7, b->prefix_len + cl, len};
    int rc = redisAsyncCommandArgv(b->pub.ac, on_publish_reply, b, 3, argv, argvlen);
    free(full);
    return rc == REDIS_OK ? CHATD_OK : CHATD_ERR_UNAVAILABLE;
}

/* ----------------------------------------------------------- life cycle */

static void broker_free(struct rbroker *b)
{
    if (b->pub.retry)
        event_free(b->pub.retry);
    if (b->sub.retry)
        event_free(b->sub.retry);
    chanset_free(&b->channels);
    free(b->addr);
    free(b->unix_path);
    free(b->password);
    free(b->prefix);
    free(b);
}

static chatd_status rb_init(const struct chatd_host *h, void **state)
{
    struct rbroker *b = calloc(1, sizeof *b);
    if (!b)
        return CHATD_ERR_NOMEM;
    b->host = h;
    char *password = NULL;
    chatd_status rc = conf_address(h, "address", "127.0.0.1:6379", 6379, &b->addr, &b->port, &b->unix_path);
    if (rc == CHATD_OK)
        rc = conf_str(h, "prefix", "chatd:", &b->prefix);
    if (rc == CHATD_OK)
        rc = conf_str(h, "password", NULL, &password);
    if (rc != CHATD_OK) {
        free(password);
        broker_free(b);
        return rc;
    }
    if (password && !*password) {
        free(password);
        password = NULL;
    }
    b->password = password;
    b->prefix_len = strlen(b->prefix);
    b->pub = (struct link){.b = b, .what = "publish", .backoff_ms = BACKOFF_MIN_MS};
    b->sub = (struct link){.b = b, .what = "subscribe", .backoff_ms = BACKOFF_MIN_MS};
    b->pub.retry = evtimer_new(h->base, on_retry, &b->pub);
    b->sub.retry = evtimer_new(h->base, on_retry, &b->sub);
    if (!b->pub.retry || !b->sub.retry) {
        broker_free(b);
        return CHATD_ERR_NOMEM;
    }
    h->set_ready(h, false, "connecting to redis");
    link_connect(&b->pub);
    link_connect(&b->sub);
    *state = b;
    return CHATD_OK;
}

static void rb_fini(void *state)
{
    struct rbroker *b = state;
    b->stopping = true;
    if (b->pub.ac)
        redisAsyncFree(b->pub.ac);
    if (b->sub.ac)
        redisAsyncFree(b->sub.ac);
    broker_free(b);
}

static const struct chatd_broker_ops rb_ops = {
    .size = sizeof rb_ops,
    .subscribe = rb_subscribe,
    .unsubscribe = rb_unsubscribe,
    .publish = rb_publish,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_BROKER, .name = "redis", .version = "1.0",
                    .description = "events between instances over Redis pub/sub",
                    .init = rb_init, .fini = rb_fini, .ops.broker = &rb_ops)
