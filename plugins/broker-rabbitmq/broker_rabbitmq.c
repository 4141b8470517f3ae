/* broker-rabbitmq: events between chatd instances over RabbitMQ.
 *
 * One exchange shared by every instance (topic by default); each instance
 * declares one exclusive, auto-delete, server-named queue and binds it with
 * each channel it has local interest in as the routing key. An event is
 * published with its channel as routing key, so RabbitMQ hands it to every
 * instance bound to that channel, this one included.
 *
 * librabbitmq-c blocks, so the connection lives on a thread of this plugin:
 * the core hands it commands (publish, bind, unbind) through a queue and a
 * wake-up pipe; the thread hands deliveries and readiness back through
 * host->post. One connection and one channel keep each publisher's order.
 * After a reconnect the thread binds every channel again before it reports
 * ready, and the host then catches its subscribers up from storage. */
#include <chatd/plugin.h>
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_conf.h"

#define ROUTING_KEY_MAX 255 /* AMQP's shortstr */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

enum cmd_kind { CMD_PUBLISH, CMD_BIND, CMD_UNBIND };

struct cmd {
    struct cmd *next;
    enum cmd_kind kind;
    char *channel;
    size_t len;
    char data[];
};

/* The channels bound, as the thread knows them (only the thread touches). */
struct bound {
    char **names;
    size_t n, cap;
};

struct rbroker {
    const struct chatd_host *host;
    char *hostname, *vhost, *user, *password, *exchange, *exchange_type;
    int port;
    bool topic;
    size_t max_pending;

    pthread_t thread;
    int wake[2];
    pthread_mutex_t mu;
    struct cmd *head, *tail;
    size_t pending;
    bool stopping;
    atomic_bool up; /* connected, bound, consuming */
    struct bound bound;
};

/* ---------------------------------------------------- thread -> core */

struct delivery {
    struct rbroker *b;
    size_t len;
    char *channel;
    char data[];
};

static void deliver_task(void *arg)
{
    struct delivery *d = arg;
    d->b->host->deliver(d->b->host, d->channel, d->data, d->len);
    free(d);
}

struct ready_note {
    struct rbroker *b;
    bool ready;
};

static void ready_task(void *arg)
{
    struct ready_note *n = arg;
    n->b->host->set_ready(n->b->host, n->ready, n->ready ? "connected to RabbitMQ" : "RabbitMQ connection lost");
    free(n);
}

struct live_note {
    struct rbroker *b;
    chatd_status st;
    char channel[];
};

static void live_task(void *arg)
{
    struct live_note *n = arg;
    n->b->host->channel_live(n->b->host, n->channel, n->st);
    free(n);
}

/* Tell the host a bind it was promised is done (or is moot while down). */
static void post_live(struct rbroker *b, const char *channel, chatd_status st)
{
    if (!CHATD_HOST_HAS(b->host, channel_live))
        return;
    size_t len = strlen(channel) + 1;
    struct live_note *n = malloc(sizeof *n + len);
    if (!n)
        return;
    n->b = b;
    n->st = st;
    memcpy(n->channel, channel, len);
    if (b->host->post(b->host, live_task, n) != CHATD_OK)
        free(n);
}

static void post_ready(struct rbroker *b, bool ready)
{
    atomic_store(&b->up, ready);
    struct ready_note *n = malloc(sizeof *n);
    if (!n)
        return;
    n->b = b;
    n->ready = ready;
    if (b->host->post(b->host, ready_task, n) != CHATD_OK)
        free(n);
}

/* ------------------------------------------------------------- thread */

static bool ok_reply(struct rbroker *b, amqp_connection_state_t conn, const char *what)
{
    amqp_rpc_reply_t rep = amqp_get_rpc_reply(conn);
    if (rep.reply_type == AMQP_RESPONSE_NORMAL)
        return true;
    b->host->log(b->host, CHATD_LOG_WARN, "%s: %s", what,
                 rep.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(rep.library_error)
                                                                   : "refused by the broker");
    return false;
}

static bool bound_has(const struct bound *s, const char *name, size_t *at)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->names[i], name) == 0) {
            if (at)
                *at = i;
            return true;
        }
    }
    return false;
}

/* Connect, declare, bind everything known, consume. NULL on failure. */
static amqp_connection_state_t open_connection(struct rbroker *b, amqp_bytes_t *queue)
{
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = conn ? amqp_tcp_socket_new(conn) : NULL;
    struct timeval tv = {5, 0};
    if (!sock || amqp_socket_open_noblock(sock, b->hostname, b->port, &tv) != AMQP_STATUS_OK) {
        if (conn)
            amqp_destroy_connection(conn);
        return NULL;
    }
    amqp_rpc_reply_t login = amqp_login(conn, b->vhost, 0, 131072, 30, AMQP_SASL_METHOD_PLAIN, b->user, b->password);
    if (login.reply_type != AMQP_RESPONSE_NORMAL || !amqp_channel_open(conn, 1) || !ok_reply(b, conn, "channel"))
        goto fail;
    amqp_exchange_declare(conn, 1, amqp_cstring_bytes(b->exchange), amqp_cstring_bytes(b->exchange_type), 0, 1, 0, 0,
                          amqp_empty_table);
    if (!ok_reply(b, conn, "exchange declare"))
        goto fail;
    amqp_queue_declare_ok_t *q = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    if (!q || !ok_reply(b, conn, "queue declare"))
        goto fail;
    *queue = amqp_bytes_malloc_dup(q->queue);
    if (!queue->bytes)
        goto fail;
    for (size_t i = 0; i < b->bound.n; i++) {
        amqp_queue_bind(conn, 1, *queue, amqp_cstring_bytes(b->exchange), amqp_cstring_bytes(b->bound.names[i]),
                        amqp_empty_table);
        if (!ok_reply(b, conn, "queue bind"))
            goto fail_queue;
    }
    amqp_basic_consume(conn, 1, *queue, amqp_empty_bytes, 0, 1 /* no ack */, 1, amqp_empty_table);
    if (!ok_reply(b, conn, "consume"))
        goto fail_queue;
    return conn;
fail_queue:
    amqp_bytes_free(*queue);
    *queue = amqp_empty_bytes;
fail:
    amqp_destroy_connection(conn);
    return NULL;
}

static struct cmd *take_commands(struct rbroker *b)
{
    /* Drain the wake-ups first: one written after this stays in the pipe
     * and wakes the next poll, so no command waits unseen. */
    char buf[64];
    while (read(b->wake[0], buf, sizeof buf) > 0) {
    }
    pthread_mutex_lock(&b->mu);
    struct cmd *all = b->head;
    b->head = b->tail = NULL;
    b->pending = 0;
    pthread_mutex_unlock(&b->mu);
    return all;
}

/* Run one command; false when the connection failed. Bindings are kept in
 * b->bound even while disconnected, for the next connection. */
static bool run_command(struct rbroker *b, amqp_connection_state_t conn, amqp_bytes_t queue, struct cmd *c)
{
    size_t at;
    switch (c->kind) {
    case CMD_PUBLISH: {
        if (!conn)
            return true; /* lost: the host catches up from storage */
        amqp_bytes_t body = {.len = c->len, .bytes = c->data};
        return amqp_basic_publish(conn, 1, amqp_cstring_bytes(b->exchange), amqp_cstring_bytes(c->channel), 0, 0,
                                  NULL, body) == AMQP_STATUS_OK;
    }
    case CMD_BIND:
        if (bound_has(&b->bound, c->channel, NULL)) {
            post_live(b, c->channel, CHATD_OK);
            return true;
        }
        if (b->bound.n == b->bound.cap) {
            size_t cap = b->bound.cap ? b->bound.cap * 2 : 64;
            char **v = realloc(b->bound.names, cap * sizeof *v);
            if (!v) {
                post_live(b, c->channel, CHATD_ERR_NOMEM);
                return true;
            }
            b->bound.names = v;
            b->bound.cap = cap;
        }
        b->bound.names[b->bound.n++] = c->channel;
        c->channel = NULL; /* kept */
        if (!conn) {
            /* Bound with the rest after reconnecting; the host catches up. */
            post_live(b, b->bound.names[b->bound.n - 1], CHATD_OK);
            return true;
        }
        amqp_queue_bind(conn, 1, queue, amqp_cstring_bytes(b->exchange),
                        amqp_cstring_bytes(b->bound.names[b->bound.n - 1]), amqp_empty_table);
        if (!ok_reply(b, conn, "queue bind")) {
            post_live(b, b->bound.names[b->bound.n - 1], CHATD_OK); /* retried with the reconnect */
            return false;
        }
        post_live(b, b->bound.names[b->bound.n - 1], CHATD_OK);
        return true;
    case CMD_UNBIND:
        if (!bound_has(&b->bound, c->channel, &at))
            return true;
        free(b->bound.names[at]);
        b->bound.names[at] = b->bound.names[--b->bound.n];
        if (!conn)
            return true;
        amqp_queue_unbind(conn, 1, queue, amqp_cstring_bytes(b->exchange), amqp_cstring_bytes(c->channel),
                          amqp_empty_table);
        return ok_reply(b, conn, "queue unbind");
    }
    return true;
}

static void cmds_free(struct cmd *c)
{
    while (c) {
        struct cmd *next = c->next;
        free(c->channel);
        free(c);
        c = next;
    }
}

/* Take what arrived; false when the connection failed. */
static bool consume(struct rbroker *b, amqp_connection_state_t conn)
{
    for (;;) {
        amqp_envelope_t env;
        struct timeval zero = {0, 0};
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t rep = amqp_consume_message(conn, &env, &zero, 0);
        if (rep.reply_type == AMQP_RESPONSE_NORMAL) {
            size_t cl = env.routing_key.len;
            struct delivery *d = malloc(sizeof *d + env.message.body.len + cl + 1);
            if (d) {
                d->b = b;
                d->len = env.message.body.len;
                memcpy(d->data, env.message.body.bytes, d->len);
                d->channel = d->data + d->len;
                memcpy(d->channel, env.routing_key.bytes, cl);
                d->channel[cl] = '\0';
                if (b->host->post(b->host, deliver_task, d) != CHATD_OK)
                    free(d);
            }
            amqp_destroy_envelope(&env);
            continue;
        }
        if (rep.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && rep.library_error == AMQP_STATUS_TIMEOUT)
            return true;
        if (rep.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && rep.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            /* A frame other than a delivery: a close means the end. */
            amqp_frame_t frame;
            if (amqp_simple_wait_frame_noblock(conn, &frame, &zero) != AMQP_STATUS_OK)
                return false;
            if (frame.frame_type == AMQP_FRAME_METHOD &&
                (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                 frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD))
                return false;
            continue;
        }
        return false;
    }
}

static void *run(void *arg)
{
    struct rbroker *b = arg;
    amqp_connection_state_t conn = NULL;
    amqp_bytes_t queue = amqp_empty_bytes;
    int backoff = BACKOFF_MIN_MS;
    bool warned = false;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        bool stop = b->stopping;
        pthread_mutex_unlock(&b->mu);
        if (stop)
            break;
        if (!conn) {
            conn = open_connection(b, &queue);
            if (conn) {
                if (warned)
                    b->host->log(b->host, CHATD_LOG_INFO, "connected to RabbitMQ again");
                warned = false;
                backoff = BACKOFF_MIN_MS;
                /* Commands queued meanwhile are applied before ready, so the
                 * catch-up starts with every binding in place. */
                struct cmd *cmds = take_commands(b);
                bool fine = true;
                for (struct cmd *c = cmds; c && fine; c = c->next)
                    fine = run_command(b, conn, queue, c);
                cmds_free(cmds);
                if (fine) {
                    post_ready(b, true);
                } else {
                    amqp_destroy_connection(conn);
                    conn = NULL;
                }
            }
            if (!conn) {
                if (!warned)
                    b->host->log(b->host, CHATD_LOG_WARN, "cannot reach RabbitMQ at %s:%d; retrying", b->hostname,
                                 b->port);
                warned = true;
                /* (Un)binds are remembered for the next connection;
                 * publications meanwhile are lost, and the host catches up
                 * from storage once ready again. */
                struct cmd *held = take_commands(b);
                for (struct cmd *c = held; c; c = c->next)
                    run_command(b, NULL, queue, c);
                cmds_free(held);
                struct pollfd w = {.fd = b->wake[0], .events = POLLIN};
                poll(&w, 1, backoff);
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
        }
        struct cmd *cmds = take_commands(b);
        bool fine = true;
        for (struct cmd *c = cmds; c && fine; c = c->next)
            fine = run_command(b, conn, queue, c);
        cmds_free(cmds);
        if (fine && !amqp_frames_enqueued(conn) && !amqp_data_in_buffer(conn)) {
            struct pollfd p[2] = {{.fd = amqp_get_sockfd(conn), .events = POLLIN},
                                  {.fd = b->wake[0], .events = POLLIN}};
            poll(p, 2, 1000); /* at least every second: heart-beats */
        }
        if (fine)
            fine = consume(b, conn);
        if (!fine) {
            b->host->log(b->host, CHATD_LOG_WARN, "RabbitMQ connection lost");
            amqp_destroy_connection(conn);
            conn = NULL;
            amqp_bytes_free(queue);
            queue = amqp_empty_bytes;
            post_ready(b, false);
        }
    }
    if (conn) {
        amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(conn);
    }
    amqp_bytes_free(queue);
    return NULL;
}

/* ------------------------------------------------------ core -> thread */

static chatd_status enqueue(struct rbroker *b, enum cmd_kind kind, const char *channel, const void *data,
                            size_t len)
{
    size_t cl = strlen(channel);
    if (!cl || cl > ROUTING_KEY_MAX || (b->topic && strpbrk(channel, "*#")))
        return CHATD_ERR_INVALID; /* not a routing key this exchange can match exactly */
    struct cmd *c = malloc(sizeof *c + len);
    char *name = strdup(channel);
    if (!c || !name) {
        free(c);
        free(name);
        return CHATD_ERR_NOMEM;
    }
    c->next = NULL;
    c->kind = kind;
    c->channel = name;
    c->len = len;
    if (len)
        memcpy(c->data, data, len);
    pthread_mutex_lock(&b->mu);
    if (kind == CMD_PUBLISH && b->pending >= b->max_pending) {
        pthread_mutex_unlock(&b->mu);
        free(name);
        free(c);
        return CHATD_ERR_LIMIT;
    }
    if (b->tail)
        b->tail->next = c;
    else
        b->head = c;
    b->tail = c;
    bool was_empty = b->pending++ == 0;
    pthread_mutex_unlock(&b->mu);
    if (was_empty) {
        ssize_t w = write(b->wake[1], "x", 1);
        (void)w; /* a full pipe already wakes the thread */
    }
    return CHATD_OK;
}

static chatd_status rq_subscribe(void *state, const char *channel)
{
    struct rbroker *b = state;
    chatd_status st = enqueue(b, CMD_BIND, channel, NULL, 0);
    /* The thread says when RabbitMQ bound it (post_live). */
    return st == CHATD_OK && CHATD_HOST_HAS(b->host, channel_live) ? CHATD_PENDING : st;
}

static chatd_status rq_unsubscribe(void *state, const char *channel)
{
    return enqueue(state, CMD_UNBIND, channel, NULL, 0);
}

static chatd_status rq_publish(void *state, const char *channel, const void *data, size_t len)
{
    struct rbroker *b = state;
    if (!atomic_load(&b->up))
        return CHATD_ERR_UNAVAILABLE;
    return enqueue(b, CMD_PUBLISH, channel, data, len);
}

/* ---------------------------------------------------------- life cycle */

static void broker_free(struct rbroker *b)
{
    cmds_free(b->head);
    for (size_t i = 0; i < b->bound.n; i++)
        free(b->bound.names[i]);
    free(b->bound.names);
    free(b->hostname);
    free(b->vhost);
    free(b->user);
    free(b->password);
    free(b->exchange);
    free(b->exchange_type);
    free(b);
}

static chatd_status rq_init(const struct chatd_host *h, void **state)
{
    struct rbroker *b = calloc(1, sizeof *b);
    if (!b)
        return CHATD_ERR_NOMEM;
    b->host = h;
    b->wake[0] = b->wake[1] = -1;
    long long port, max;
    chatd_status rc = conf_int(h, "port", 5672, 1, 65535, &port);
    if (rc == CHATD_OK)
        rc = conf_int(h, "max_pending", 100000, 1, 100000000, &max);
    if (rc == CHATD_OK)
        rc = conf_str(h, "host", "127.0.0.1", &b->hostname);
    if (rc == CHATD_OK)
        rc = conf_str(h, "vhost", "/", &b->vhost);
    if (rc == CHATD_OK)
        rc = conf_str(h, "user", "guest", &b->user);
    if (rc == CHATD_OK)
        rc = conf_str(h, "password", "guest", &b->password);
    if (rc == CHATD_OK)
        rc = conf_str(h, "exchange", "chatd.events", &b->exchange);
    if (rc == CHATD_OK)
        rc = conf_str(h, "exchange_type", "topic", &b->exchange_type);
    if (rc != CHATD_OK) {
        broker_free(b);
        return rc;
    }
    b->port = (int)port;
    b->max_pending = (size_t)max;
    if (strcmp(b->exchange_type, "topic") != 0 && strcmp(b->exchange_type, "direct") != 0) {
        h->config_error(h, "exchange_type", "expected topic or direct, got '%s'", b->exchange_type);
        broker_free(b);
        return CHATD_ERR_INVALID;
    }
    b->topic = strcmp(b->exchange_type, "topic") == 0;
    if (pipe(b->wake) < 0 || fcntl(b->wake[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(b->wake[1], F_SETFL, O_NONBLOCK) < 0) {
        if (b->wake[0] >= 0) {
            close(b->wake[0]);
            close(b->wake[1]);
        }
        broker_free(b);
        return CHATD_ERR_INTERNAL;
    }
    pthread_mutex_init(&b->mu, NULL);
    h->set_ready(h, false, "connecting to RabbitMQ");
    if (pthread_create(&b->thread, NULL, run, b) != 0) {
        close(b->wake[0]);
        close(b->wake[1]);
        pthread_mutex_destroy(&b->mu);
        broker_free(b);
        return CHATD_ERR_INTERNAL;
    }
    *state = b;
    return CHATD_OK;
}

static void rq_fini(void *state)
{
    struct rbroker *b = state;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_mutex_unlock(&b->mu);
    ssize_t w = write(b->wake[1], "x", 1);
    (void)w;
    pthread_join(b->thread, NULL);
    close(b->wake[0]);
    close(b->wake[1]);
    pthread_mutex_destroy(&b->mu);
    broker_free(b);
}

static const struct chatd_broker_ops rq_ops = {
    .size = sizeof rq_ops,
    .subscribe = rq_subscribe,
    .unsubscribe = rq_unsubscribe,
    .publish = rq_publish,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_BROKER, .name = "rabbitmq", .version = "1.0",
                    .description = "events between instances over a RabbitMQ exchange, one queue per instance",
                    .init = rq_init, .fini = rq_fini, .ops.broker = &rq_ops)
