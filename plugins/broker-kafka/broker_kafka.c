/* broker-kafka: events between chatd instances over Kafka (librdkafka).
 *
 * Every event goes to one topic with its channel as the message key, so
 * Kafka keeps the order of one channel's events (one partition per key;
 * an idempotent producer keeps it across retries). Each instance reads the
 * whole topic as a consumer group of its own, from the newest offset, and
 * hands on the events of channels it has local subscribers for: subscribing
 * is a local matter, live at once.
 *
 * librdkafka runs its own threads; its queues signal a pipe when they turn
 * non-empty, and a libevent read event on the core loop drains them, so
 * delivery reports, rebalances and messages are all handled on the core
 * thread.
 *
 * Ready once every assigned partition has handed over a message: only then
 * is its "newest offset" start resolved, so that nothing published after
 * the ready report can be skipped. Until then (and while all brokers are
 * down) a keyless, empty probe goes to each silent partition every 100 ms;
 * consumers ignore keyless messages. After an outage the host catches
 * subscribers up from storage. */
#include <chatd/plugin.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chanset.h"

#define MAX_PARTITIONS 256 /* of the topic, per instance */

struct kbroker {
    const struct chatd_host *host;
    char *topic;
    rd_kafka_t *producer, *consumer;
    rd_kafka_topic_t *ptopic;
    rd_kafka_queue_t *pq, *cq; /* producer main queue, consumer queue */
    int pipe[2];
    struct event *wake;
    struct event *probe;   /* while all brokers are down: are they back? */
    struct chanset channels;
    bool assigned;       /* the consumer holds its partitions */
    int32_t parts[MAX_PARTITIONS];
    bool heard[MAX_PARTITIONS]; /* a message came from parts[i] since the assignment */
    int nparts;
    bool brokers_down;
    bool ready;
};

static bool all_heard(const struct kbroker *k)
{
    for (int i = 0; i < k->nparts; i++)
        if (!k->heard[i])
            return false;
    return k->assigned;
}

static void update_ready(struct kbroker *k)
{
    bool ready = all_heard(k) && !k->brokers_down;
    if (ready != k->ready) {
        k->ready = ready;
        k->host->set_ready(k->host, ready, ready ? "consuming" : k->brokers_down ? "all Kafka brokers down"
                                                                                 : "waiting for partitions");
    }
}

/* ----------------------------------------------- librdkafka callbacks */

/* librdkafka's own log lines (its threads) go to chatd's log at debug,
 * critical ones as warnings: the failures that matter come through
 * on_error as well, once. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct kbroker *k = rd_kafka_opaque(rk);
    if (k)
        k->host->log(k->host, level <= 2 ? CHATD_LOG_WARN : CHATD_LOG_DEBUG, "kafka %s: %s", fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct kbroker *k = opaque;
    k->host->log(k->host, CHATD_LOG_WARN, "kafka: %s", reason);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        k->brokers_down = true;
        update_ready(k);
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct kbroker *k = opaque;
    if (!m->err && k->brokers_down) {
        k->brokers_down = false; /* a write went through: the cluster is back */
        update_ready(k);
    }
    if (m->err && m->key_len == 0)
        return; /* a failed probe: still down */
    if (m->err) {
        k->host->log(k->host, CHATD_LOG_WARN, "kafka: an event was not delivered: %s", rd_kafka_err2str(m->err));
        k->host->counter_add(k->host, "undelivered", 1);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    struct kbroker *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* Start at the end: what came before is storage's business. */
        k->nparts = 0;
        for (int i = 0; i < parts->cnt; i++) {
            parts->elems[i].offset = RD_KAFKA_OFFSET_END;
            if (k->nparts < MAX_PARTITIONS) {
                k->parts[k->nparts] = parts->elems[i].partition;
                k->heard[k->nparts++] = false;
            }
        }
        rd_kafka_assign(rk, parts);
        k->assigned = true;
    } else {
        rd_kafka_assign(rk, NULL);
        k->assigned = false;
        k->nparts = 0;
    }
    update_ready(k);
}

/* -------------------------------------------------------- the loop side */

static void drain(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct kbroker *k = arg;
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    rd_kafka_poll(k->producer, 0); /* delivery reports, errors */
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(k->consumer, 0))) {
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                k->host->log(k->host, CHATD_LOG_WARN, "kafka: %s", rd_kafka_message_errstr(m));
        } else {
            for (int i = 0; i < k->nparts; i++)
                if (k->parts[i] == m->partition)
                    k->heard[i] = true;
            k->brokers_down = false; /* messages flow */
            update_ready(k);
            char channel[512];
            if (m->key && m->key_len < sizeof channel) {
                memcpy(channel, m->key, m->key_len);
                channel[m->key_len] = '\0';
                if (chanset_has(&k->channels, channel))
                    k->host->deliver(k->host, channel, m->payload, m->len);
            }
        }
        rd_kafka_message_destroy(m);
    }
}

/* Until ready: a keyless empty message to each partition not heard from
 * (consumers ignore them), so that the consumer's start is resolved and,
 * after an outage, a delivery report says the brokers are back. */
static void on_probe(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct kbroker *k = arg;
    if (k->ready)
        return;
    if (k->brokers_down && !k->nparts)
        rd_kafka_produce(k->ptopic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, NULL, 0, NULL, 0, NULL);
    for (int i = 0; i < k->nparts; i++)
        if (!k->heard[i] || k->brokers_down)
            rd_kafka_produce(k->ptopic, k->parts[i], RD_KAFKA_MSG_F_COPY, NULL, 0, NULL, 0, NULL);
}

/* ------------------------------------------------------------- the ops */

static chatd_status kb_subscribe(void *state, const char *channel)
{
    struct kbroker *k = state;
    if (strlen(channel) >= 512)
        return CHATD_ERR_INVALID;
    return chanset_add(&k->channels, channel) < 0 ? CHATD_ERR_NOMEM : CHATD_OK;
}

static chatd_status kb_unsubscribe(void *state, const char *channel)
{
    struct kbroker *k = state;
    return chanset_remove(&k->channels, channel) ? CHATD_OK : CHATD_ERR_NOT_FOUND;
}

static chatd_status kb_publish(void *state, const char *channel, const void *data, size_t len)
{
    struct kbroker *k = state;
    if (!k->ready)
        return CHATD_ERR_UNAVAILABLE;
    if (rd_kafka_produce(k->ptopic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)data, len, channel,
                         strlen(channel), NULL) != 0) {
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? CHATD_ERR_LIMIT : CHATD_ERR_UNAVAILABLE;
    }
    return CHATD_OK;
}

/* ----------------------------------------------------------- life cycle */

/* Both clients get the same `kafka.*` passthrough settings. */
static rd_kafka_conf_t *make_conf(struct kbroker *k, const char *brokers, char *err, size_t errlen,
                                  const char **bad_key)
{
    const struct chatd_host *h = k->host;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    *bad_key = "brokers";
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, errlen) != RD_KAFKA_CONF_OK)
        goto fail;
    for (size_t i = 0; i < h->config_count(h); i++) {
        const char *key = h->config_key(h, i);
        if (strncmp(key, "kafka.", 6) != 0)
            continue;
        *bad_key = key;
        if (rd_kafka_conf_set(conf, key + 6, h->config_value(h, i), err, errlen) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static void kbroker_free(struct kbroker *k)
{
    if (k->wake)
        event_free(k->wake);
    if (k->probe)
        event_free(k->probe);
    if (k->pq)
        rd_kafka_queue_destroy(k->pq);
    if (k->cq)
        rd_kafka_queue_destroy(k->cq);
    if (k->ptopic)
        rd_kafka_topic_destroy(k->ptopic);
    /* Shutdown stays bounded even with no broker reachable: the consumer
     * does not wait to leave its group (the group is this instance's own and
     * expires), and the producer gets two seconds to send what is queued
     * (none while the brokers are unreachable). */
    if (k->consumer)
        rd_kafka_destroy_flags(k->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (k->producer) {
        rd_kafka_flush(k->producer, k->ready ? 2000 : 0);
        rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(k->producer);
    }
    if (k->pipe[0] >= 0) {
        close(k->pipe[0]);
        close(k->pipe[1]);
    }
    chanset_free(&k->channels);
    free(k->topic);
    free(k);
}

static chatd_status kb_init(const struct chatd_host *h, void **state)
{
    if (!CHATD_HOST_HAS(h, counter_add)) {
        h->config_error(h, NULL, "needs chatd with SDK 1.1 or newer");
        return CHATD_ERR_UNSUPPORTED;
    }
    const char *brokers = h->config_get(h, "brokers");
    if (!brokers || !*brokers) {
        h->config_error(h, "brokers", "required: the bootstrap servers, HOST:PORT[,HOST:PORT...]");
        return CHATD_ERR_INVALID;
    }
    const char *topic = h->config_get(h, "topic");
    const char *group_prefix = h->config_get(h, "group_prefix");
    struct kbroker *k = calloc(1, sizeof *k);
    if (!k)
        return CHATD_ERR_NOMEM;
    k->host = h;
    k->pipe[0] = k->pipe[1] = -1;
    k->topic = strdup(topic ? topic : "chatd.events");
    char err[512];
    const char *bad = NULL;
    rd_kafka_conf_t *pconf = NULL, *cconf = NULL;
    if (!k->topic)
        goto nomem;
    if (!(pconf = make_conf(k, brokers, err, sizeof err, &bad)) || !(cconf = make_conf(k, brokers, err, sizeof err, &bad)))
        goto bad_conf;
    bad = NULL;
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    /* Low latency, and one channel's order kept across retries. */
    if (rd_kafka_conf_set(pconf, "linger.ms", "1", err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(pconf, "enable.idempotence", "true", err, sizeof err) != RD_KAFKA_CONF_OK)
        goto bad_conf;
    /* A group of its own: this instance sees every event. */
    unsigned long long rnd = 0;
    FILE *ur = fopen("/dev/urandom", "rb");
    if (!ur || fread(&rnd, sizeof rnd, 1, ur) != 1)
        rnd = (unsigned long long)getpid();
    if (ur)
        fclose(ur);
    char group[128];
    snprintf(group, sizeof group, "%s%016llx", group_prefix ? group_prefix : "chatd-", rnd);
    if (rd_kafka_conf_set(cconf, "group.id", group, err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(cconf, "enable.auto.commit", "false", err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(cconf, "auto.offset.reset", "latest", err, sizeof err) != RD_KAFKA_CONF_OK)
        goto bad_conf;
    rd_kafka_conf_set_rebalance_cb(cconf, on_rebalance);
    /* rd_kafka_new takes the conf only when it succeeds. */
    if (!(k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof err)))
        goto bad_conf;
    pconf = NULL;
    if (!(k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err)))
        goto bad_conf;
    cconf = NULL;
    rd_kafka_poll_set_consumer(k->consumer);
    k->ptopic = rd_kafka_topic_new(k->producer, k->topic, NULL);
    if (!k->ptopic || pipe(k->pipe) < 0 || fcntl(k->pipe[0], F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(k->pipe[1], F_SETFL, O_NONBLOCK) < 0)
        goto nomem;
    k->pq = rd_kafka_queue_get_main(k->producer);
    k->cq = rd_kafka_queue_get_consumer(k->consumer);
    if (!k->pq || !k->cq)
        goto nomem;
    rd_kafka_queue_io_event_enable(k->pq, k->pipe[1], "p", 1);
    rd_kafka_queue_io_event_enable(k->cq, k->pipe[1], "c", 1);
    k->wake = event_new(h->base, k->pipe[0], EV_READ | EV_PERSIST, drain, k);
    k->probe = event_new(h->base, -1, EV_PERSIST, on_probe, k);
    struct timeval every = {0, 100000};
    if (!k->wake || !k->probe || event_add(k->wake, NULL) < 0 || event_add(k->probe, &every) < 0)
        goto nomem;
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, k->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t serr = rd_kafka_subscribe(k->consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (serr) {
        snprintf(err, sizeof err, "%s", rd_kafka_err2str(serr));
        bad = "topic";
        goto bad_conf;
    }
    h->set_ready(h, false, "waiting for partitions");
    /* Queued events may predate the pipe: look once. */
    event_active(k->wake, EV_READ, 0);
    *state = k;
    return CHATD_OK;
bad_conf:
    h->config_error(h, bad, "%s", err);
    if (pconf)
        rd_kafka_conf_destroy(pconf);
    if (cconf)
        rd_kafka_conf_destroy(cconf);
    kbroker_free(k);
    return CHATD_ERR_INVALID;
nomem:
    if (pconf)
        rd_kafka_conf_destroy(pconf);
    if (cconf)
        rd_kafka_conf_destroy(cconf);
    kbroker_free(k);
    return CHATD_ERR_NOMEM;
}

static void kb_fini(void *state)
{
    kbroker_free(state);
}

static const struct chatd_broker_ops kb_ops = {
    .size = sizeof kb_ops,
    .subscribe = kb_subscribe,
    .unsubscribe = kb_unsubscribe,
    .publish = kb_publish,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_BROKER, .name = "kafka", .version = "1.0",
                    .description = "events between instances over one Kafka topic, keyed by channel",
                    .init = kb_init, .fini = kb_fini, .ops.broker = &kb_ops)
