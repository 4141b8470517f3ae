#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "stomp_frame.h"
#include "strmap.h"

struct topic {
    struct sub *subs;
    size_t nsubs;
};

struct router {
    struct server *srv;
    struct strmap topics; /* destination -> struct topic */
    struct stomp_limits envelope_limits;
    char instance[24];    /* prefix of message-ids minted here */
    uint64_t next_id;
};

struct router *router_new(struct server *srv)
{
    struct router *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = srv;
    strmap_init(&r->topics);
    stomp_limits_default(&r->envelope_limits);
    r->envelope_limits.max_frame_size = 128u << 20;
    r->envelope_limits.max_body_size = 64u << 20;
    r->envelope_limits.max_headers = 1u << 16;
    r->envelope_limits.max_header_length = 1u << 20;
    uint64_t seed;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&seed, sizeof seed, 1, f) != 1)
        seed = (uint64_t)(uintptr_t)r ^ (uint64_t)getpid();
    if (f)
        fclose(f);
    snprintf(r->instance, sizeof r->instance, "%012llx", (unsigned long long)(seed & 0xffffffffffffULL));
    return r;
}

void router_free(struct router *r)
{
    if (!r)
        return;
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&r->topics, &pos, &key, &value))
        free(value);
    strmap_free(&r->topics);
    free(r);
}

static const struct chatd_broker_ops *broker_ops(struct router *r, void **state)
{
    *state = r->srv->broker->state;
    return r->srv->broker->desc->ops.broker;
}

chatd_status router_subscribe(struct router *r, struct sub *s)
{
    struct topic *t = strmap_get(&r->topics, s->destination);
    if (!t) {
        void *state;
        const struct chatd_broker_ops *ops = broker_ops(r, &state);
        t = calloc(1, sizeof *t);
        if (!t)
            return CHATD_ERR_NOMEM;
        if (strmap_put(&r->topics, s->destination, t) < 0) {
            free(t);
            return CHATD_ERR_NOMEM;
        }
        chatd_status st = ops->subscribe(state, s->destination);
        if (st != CHATD_OK) {
            strmap_del(&r->topics, s->destination);
            free(t);
            return st;
        }
    }
    s->topic = t;
    s->prev = NULL;
    s->next = t->subs;
    if (t->subs)
        t->subs->prev = s;
    t->subs = s;
    t->nsubs++;
    return CHATD_OK;
}

void router_unsubscribe(struct router *r, struct sub *s)
{
    struct topic *t = s->topic;
    if (!t)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        t->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->topic = NULL;
    if (--t->nsubs == 0) {
        void *state;
        const struct chatd_broker_ops *ops = broker_ops(r, &state);
        ops->unsubscribe(state, s->destination);
        strmap_del(&r->topics, s->destination);
        free(t);
    }
}

/* Headers of a SEND that belong to the protocol, not to the message. */
static int header_is_forwarded(const char *name)
{
    static const char *const own[] = {"destination", "receipt", "transaction", "content-length",
                                      "message-id", "subscription", "ack", "redelivered"};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        if (strcmp(name, own[i]) == 0)
            return 0;
    return 1;
}

chatd_status router_publish(struct router *r, const char *destination, const struct stomp_frame *send)
{
    struct stomp_buf b = {0};
    char id[48];
    snprintf(id, sizeof id, "%s-%llu", r->instance, (unsigned long long)++r->next_id);
    int rc = stomp_encode_command(&b, STOMP_CMD_MESSAGE);
    rc |= stomp_encode_header(&b, STOMP_V1_2, STOMP_CMD_MESSAGE, "destination", destination);
    rc |= stomp_encode_header(&b, STOMP_V1_2, STOMP_CMD_MESSAGE, "message-id", id);
    for (size_t i = 0; i < send->nheaders; i++)
        if (header_is_forwarded(send->headers[i].name))
            rc |= stomp_encode_header_n(&b, STOMP_V1_2, STOMP_CMD_MESSAGE, send->headers[i].name,
                                        send->headers[i].value, send->headers[i].value_len);
    rc |= stomp_encode_body(&b, send->body, send->body_len, true);
    if (rc) {
        stomp_buf_free(&b);
        return CHATD_ERR_NOMEM;
    }
    void *state;
    const struct chatd_broker_ops *ops = broker_ops(r, &state);
    chatd_status st = ops->publish(state, destination, b.data, b.len);
    stomp_buf_free(&b);
    return st;
}

/* The part of a MESSAGE frame every subscriber shares: all headers but
 * `subscription`/`ack`, the body and the NUL, encoded for one version. */
static struct rcbuf *shared_part(const struct stomp_frame *f, int version)
{
    struct stomp_buf b = {0};
    int rc = 0;
    for (size_t i = 0; i < f->nheaders; i++)
        if (strcmp(f->headers[i].name, "content-length") != 0)
            rc |= stomp_encode_header_n(&b, version, STOMP_CMD_MESSAGE, f->headers[i].name,
                                        f->headers[i].value, f->headers[i].value_len);
    rc |= stomp_encode_body(&b, f->body, f->body_len, true);
    struct rcbuf *shared = rc ? NULL : rcbuf_new(b.len);
    if (shared)
        memcpy(shared->data, b.data, b.len);
    stomp_buf_free(&b);
    return shared;
}

void router_deliver(struct router *r, const char *channel, const void *data, size_t len)
{
    struct topic *t = strmap_get(&r->topics, channel);
    if (!t)
        return;
    struct stomp_parser *p = stomp_parser_new(&r->envelope_limits);
    struct stomp_frame *f = NULL;
    size_t used;
    if (!p || stomp_parser_feed(p, data, len, &used, &f) != STOMP_PARSE_FRAME) {
        log_warn("broker event on %s could not be parsed; dropped", channel);
        stomp_parser_free(p);
        return;
    }
    stomp_parser_free(p);

    struct rcbuf *shared[3] = {NULL, NULL, NULL}; /* by version 1.0, 1.1, 1.2 */
    for (struct sub *s = t->subs; s; s = s->next) {
        int v = session_version(s->session);
        int vi = v == STOMP_V1_0 ? 0 : v == STOMP_V1_1 ? 1 : 2;
        if (!shared[vi] && !(shared[vi] = shared_part(f, v)))
            break;
        struct stomp_buf head = {0};
        if (stomp_encode_command(&head, STOMP_CMD_MESSAGE) ||
            stomp_encode_header(&head, v, STOMP_CMD_MESSAGE, "subscription", s->id)) {
            stomp_buf_free(&head);
            break;
        }
        session_send(s->session, head.data, head.len, rcbuf_ref(shared[vi]));
    }
    for (int i = 0; i < 3; i++)
        rcbuf_unref(shared[i]);
    stomp_frame_free(f);
}
