/* notify-rabbitmq: offline notifications published to a RabbitMQ exchange,
 * for a separate push or e-mail service to consume.
 *
 * librabbitmq-c blocks, so the connection lives on a thread of this plugin.
 * notify() appends to a bounded queue under a mutex and signals the thread;
 * the thread publishes what is queued as persistent messages (routing key
 * per recipient) in publisher-confirm mode and waits for the broker's
 * confirms. A notification leaves the queue only when confirmed; on a lost
 * connection the unconfirmed ones are published again after reconnecting
 * (consumers may see a duplicate, never a gap: message_id lets them drop
 * it). Counts go back to the core through host->post. */
#include <chatd/plugin.h>
#include <errno.h>
#include <pthread.h>
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_conf.h"

struct item {
    struct item *next;
    char *routing_key;
    char *message_id;
    size_t len;
    char json[];
};

static void item_free(struct item *it)
{
    free(it->routing_key);
    free(it->message_id);
    free(it);
}

struct rabbit {
    const struct chatd_host *host;
    char *hostname, *vhost, *user, *password, *exchange, *exchange_type, *key_prefix;
    int port;
    bool declare;
    long long max_queue, batch;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *head, *tail; /* head..: waiting; the thread takes from head */
    size_t queued;
    bool stopping;
    /* Counts gathered by the thread, handed to the core in one task. */
    uint64_t confirmed, republished, dropped;
    bool count_posted;
};

/* ------------------------------------------------------------- counters */

static void post_counts(void *arg)
{
    struct rabbit *r = arg;
    pthread_mutex_lock(&r->mu);
    uint64_t confirmed = r->confirmed, republished = r->republished, dropped = r->dropped;
    r->confirmed = r->republished = r->dropped = 0;
    r->count_posted = false;
    pthread_mutex_unlock(&r->mu);
    if (confirmed)
        r->host->counter_add(r->host, "confirmed", confirmed);
    if (republished)
        r->host->counter_add(r->host, "republished", republished);
    if (dropped)
        r->host->counter_add(r->host, "dropped", dropped);
}

/* With r->mu held. */
static void counts_changed(struct rabbit *r)
{
    if (r->count_posted || r->stopping)
        return;
    if (r->host->post(r->host, post_counts, r) == CHATD_OK)
        r->count_posted = true;
}

/* ------------------------------------------------------------ the thread */

static bool reply_ok(struct rabbit *r, amqp_rpc_reply_t rep, const char *what)
{
    if (rep.reply_type == AMQP_RESPONSE_NORMAL)
        return true;
    if (rep.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        r->host->log(r->host, CHATD_LOG_WARN, "%s: %s", what, amqp_error_string2(rep.library_error));
    else
        r->host->log(r->host, CHATD_LOG_WARN, "%s: refused by the broker", what);
    return false;
}

static amqp_connection_state_t open_connection(struct rabbit *r)
{
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = conn ? amqp_tcp_socket_new(conn) : NULL;
    struct timeval tv = {5, 0};
    if (!sock || amqp_socket_open_noblock(sock, r->hostname, r->port, &tv) != AMQP_STATUS_OK) {
        if (conn)
            amqp_destroy_connection(conn);
        return NULL;
    }
    if (!reply_ok(r, amqp_login(conn, r->vhost, 0, 131072, 30, AMQP_SASL_METHOD_PLAIN, r->user, r->password),
                  "login") ||
        !amqp_channel_open(conn, 1) || !reply_ok(r, amqp_get_rpc_reply(conn), "channel")) {
        amqp_destroy_connection(conn);
        return NULL;
    }
    if (r->declare) {
        amqp_exchange_declare(conn, 1, amqp_cstring_bytes(r->exchange), amqp_cstring_bytes(r->exchange_type), 0,
                              1 /* durable */, 0, 0, amqp_empty_table);
        if (!reply_ok(r, amqp_get_rpc_reply(conn), "exchange declare")) {
            amqp_destroy_connection(conn);
            return NULL;
        }
    }
    amqp_confirm_select(conn, 1);
    if (!reply_ok(r, amqp_get_rpc_reply(conn), "confirm mode")) {
        amqp_destroy_connection(conn);
        return NULL;
    }
    return conn;
}

static void close_connection(amqp_connection_state_t conn, bool clean)
{
    if (clean) {
        amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn);
}

/* Publish up to `batch` items from the head and wait for their confirms.
 * Returns how many were confirmed (and removes them), or -1 when the
 * connection failed. */
static long publish_batch(struct rabbit *r, amqp_connection_state_t conn, uint64_t *tag)
{
    pthread_mutex_lock(&r->mu);
    struct item *first = r->head;
    size_t n = 0;
    for (struct item *it = first; it && n < (size_t)r->batch; it = it->next)
        n++;
    pthread_mutex_unlock(&r->mu);
    /* Only this thread removes items, so the first n stay put. */
    uint64_t base = *tag;
    struct item *it = first;
    for (size_t i = 0; i < n; i++, it = it->next) {
        amqp_basic_properties_t props = {
            ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG,
            .content_type = amqp_cstring_bytes("application/json"),
            .delivery_mode = AMQP_DELIVERY_PERSISTENT,
            .message_id = amqp_cstring_bytes(it->message_id),
        };
        amqp_bytes_t body = {.len = it->len, .bytes = it->json};
        if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(r->exchange), amqp_cstring_bytes(it->routing_key), 0, 0,
                               &props, body) != AMQP_STATUS_OK)
            return -1;
        (*tag)++;
    }
    /* Confirms: basic.ack (possibly `multiple`) for every tag up to *tag. */
    uint64_t acked = base;
    bool nacked = false;
    while (acked < *tag) {
        amqp_frame_t frame;
        struct timeval tv = {10, 0};
        if (amqp_simple_wait_frame_noblock(conn, &frame, &tv) != AMQP_STATUS_OK)
            return -1;
        if (frame.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            acked = ack->delivery_tag > acked ? ack->delivery_tag : acked;
        } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            amqp_basic_nack_t *nack = frame.payload.method.decoded;
            acked = nack->delivery_tag > acked ? nack->delivery_tag : acked;
            nacked = true;
        } else if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                   frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            return -1;
        }
    }
    if (nacked) /* the broker could not take them: publish them again */
        return 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n; i++) {
        struct item *done = r->head;
        r->head = done->next;
        item_free(done);
    }
    if (!r->head)
        r->tail = NULL;
    r->queued -= n;
    r->confirmed += n;
    counts_changed(r);
    pthread_mutex_unlock(&r->mu);
    return (long)n;
}

static void *run(void *arg)
{
    struct rabbit *r = arg;
    amqp_connection_state_t conn = NULL;
    uint64_t tag = 0;
    unsigned backoff_ms = 100;
    bool warned = false;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->head && !r->stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        bool stop = r->stopping && (!r->head || !conn);
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        if (!conn) {
            conn = open_connection(r);
            tag = 0;
            if (!conn) {
                if (!warned)
                    r->host->log(r->host, CHATD_LOG_WARN, "cannot reach RabbitMQ at %s:%d; retrying", r->hostname,
                                 r->port);
                warned = true;
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += backoff_ms / 1000;
                until.tv_nsec += (long)(backoff_ms % 1000) * 1000000;
                if (until.tv_nsec >= 1000000000) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000;
                }
                pthread_mutex_lock(&r->mu);
                if (!r->stopping)
                    pthread_cond_timedwait(&r->cv, &r->mu, &until);
                pthread_mutex_unlock(&r->mu);
                backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
                continue;
            }
            if (warned)
                r->host->log(r->host, CHATD_LOG_INFO, "connected to RabbitMQ again");
            warned = false;
            backoff_ms = 100;
        }
        long done = publish_batch(r, conn, &tag);
        if (done < 0) {
            r->host->log(r->host, CHATD_LOG_WARN, "RabbitMQ connection lost; unconfirmed notifications will be "
                                                   "published again");
            close_connection(conn, false);
            conn = NULL;
            pthread_mutex_lock(&r->mu);
            r->republished++;
            counts_changed(r);
            pthread_mutex_unlock(&r->mu);
        }
    }
    if (conn)
        close_connection(conn, true);
    return NULL;
}

/* ------------------------------------------------------------- notify */

static void rabbit_notify(void *state, const struct chatd_notification *n)
{
    struct rabbit *r = state;
    size_t kl = strlen(r->key_prefix) + strlen(n->recipient) + 1;
    struct item *it = malloc(sizeof *it + n->json_len);
    char *key = malloc(kl);
    size_t il = strlen(n->message_id) + strlen(n->recipient) + 2;
    char *id = malloc(il);
    if (!it || !key || !id) {
        free(it);
        free(key);
        free(id);
        r->host->counter_add(r->host, "dropped", 1);
        return;
    }
    snprintf(key, kl, "%s%s", r->key_prefix, n->recipient);
    /* One message per notification and recipient: what consumers dedupe by. */
    snprintf(id, il, "%s/%s", n->message_id, n->recipient);
    it->next = NULL;
    it->routing_key = key;
    it->message_id = id;
    it->len = n->json_len;
    memcpy(it->json, n->json, n->json_len);
    pthread_mutex_lock(&r->mu);
    struct item *dropped = NULL;
    if (r->queued >= (size_t)r->max_queue && r->head && r->head->next) {
        /* Drop the oldest waiting one, but never the head: the thread may be
         * publishing it. */
        dropped = r->head->next;
        r->head->next = dropped->next;
        if (r->tail == dropped)
            r->tail = r->head;
        r->queued--;
    }
    if (r->tail)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    r->queued++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (dropped) {
        r->host->counter_add(r->host, "dropped", 1);
        r->host->log(r->host, CHATD_LOG_WARN, "queue full (%lld): a notification was dropped", r->max_queue);
        item_free(dropped);
    }
}

/* ---------------------------------------------------------- life cycle */

static void rabbit_free(struct rabbit *r)
{
    for (struct item *it = r->head, *next; it; it = next) {
        next = it->next;
        item_free(it);
    }
    free(r->hostname);
    free(r->vhost);
    free(r->user);
    free(r->password);
    free(r->exchange);
    free(r->exchange_type);
    free(r->key_prefix);
    free(r);
}

static chatd_status rabbit_init(const struct chatd_host *h, void **state)
{
    if (!CHATD_HOST_HAS(h, counter_add)) {
        h->config_error(h, NULL, "needs chatd with SDK 1.1 or newer");
        return CHATD_ERR_UNSUPPORTED;
    }
    struct rabbit *r = calloc(1, sizeof *r);
    if (!r)
        return CHATD_ERR_NOMEM;
    r->host = h;
    long long port;
    chatd_status rc = conf_int(h, "port", 5672, 1, 65535, &port);
    if (rc == CHATD_OK)
        rc = conf_int(h, "max_queue", 10000, 1, 10000000, &r->max_queue);
    if (rc == CHATD_OK)
        rc = conf_int(h, "batch", 100, 1, 10000, &r->batch);
    if (rc == CHATD_OK)
        rc = conf_bool(h, "declare", true, &r->declare);
    if (rc == CHATD_OK)
        rc = conf_str(h, "host", "127.0.0.1", &r->hostname);
    if (rc == CHATD_OK)
        rc = conf_str(h, "vhost", "/", &r->vhost);
    if (rc == CHATD_OK)
        rc = conf_str(h, "user", "guest", &r->user);
    if (rc == CHATD_OK)
        rc = conf_str(h, "password", "guest", &r->password);
    if (rc == CHATD_OK)
        rc = conf_str(h, "exchange", "chatd.notifications", &r->exchange);
    if (rc == CHATD_OK)
        rc = conf_str(h, "exchange_type", "topic", &r->exchange_type);
    if (rc == CHATD_OK)
        rc = conf_str(h, "routing_key_prefix", "user.", &r->key_prefix);
    if (rc != CHATD_OK) {
        rabbit_free(r);
        return rc;
    }
    r->port = (int)port;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        rabbit_free(r);
        return CHATD_ERR_INTERNAL;
    }
    *state = r;
    return CHATD_OK;
}

static void rabbit_fini(void *state)
{
    struct rabbit *r = state;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    /* The thread publishes what it can while connected, then stops. */
    pthread_join(r->thread, NULL);
    if (r->queued)
        r->host->log(r->host, CHATD_LOG_WARN, "stopping with %zu notification(s) not confirmed", r->queued);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    rabbit_free(r);
}

static const struct chatd_notify_ops rabbit_ops = {.size = sizeof rabbit_ops, .notify = rabbit_notify};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_NOTIFY, .name = "rabbitmq", .version = "1.0",
                    .description = "offline notifications to a RabbitMQ exchange, persistent, with publisher confirms",
                    .init = rabbit_init, .fini = rabbit_fini, .ops.notify = &rabbit_ops)
