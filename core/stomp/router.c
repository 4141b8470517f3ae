#include "stomp/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "plugins/loader.h"
#include "log.h"
#include "rooms/presence.h"
#include "server.h"
#include "net/stomp_frame.h"
#include "strmap.h"

/* A message as delivered: the parsed envelope and its shared encodings. */
struct envelope {
    unsigned refs;
    struct stomp_frame *frame;
    /* Per version 1.0, 1.1, 1.2 and per prefix the subscribers used for the
     * destination (sub->alias); made on demand. */
    struct rcbuf *shared[3][PREFIX_ALIASES_MAX];
    uint64_t seq;            /* room `message` events: their seq; else 0 */
    uint64_t origin;         /* the publishing session when it is one of this instance's */
    /* Queue messages: */
    struct envelope *next;   /* in the queue's pending list */
    bool redelivered;
};

/* A MESSAGE sent to a client-ack subscription, not acknowledged yet. */
struct unacked {
    struct unacked *prev, *next;
    uint64_t ack_id;
    struct envelope *env;    /* kept for queues (redelivery) and for 1.0/1.1 lookups */
};

enum dest_kind { DEST_BROADCAST, DEST_QUEUE };

/* Someone waiting for a destination to be live at the broker. */
struct live_waiter {
    struct live_waiter *next;
    router_live_fn fn;
    void *arg;
};

struct dest {
    enum dest_kind kind;
    char *name;
    bool live;               /* the broker confirmed the channel (or needs no confirming) */
    struct live_waiter *waiters, **waiters_tail;
    struct sub *subs;        /* circular order irrelevant: a list */
    size_t nsubs;
    struct sub *cursor;      /* queues: next subscriber to serve */
    struct envelope *pending_head, *pending_tail;
    size_t npending;
};

struct sub {
    char *id;
    unsigned alias;          /* the prefix the client named the destination with */
    enum ack_mode ack;
    struct subscriber *who;
    struct dest *dest;
    struct sub *prev, *next; /* in dest->subs */
    struct unacked *unacked_head, *unacked_tail;
    size_t nunacked;
    bool held;
    struct envelope **held_events;
    size_t nheld, held_cap;
    uint64_t last_seq;       /* highest room message seq this sub has had */
    uint64_t replayed_to;    /* a replay from storage delivered every seq up to this */
    bool ended;              /* revoked by the server: gets nothing more, awaits UNSUBSCRIBE */
};

struct router {
    struct server *srv;
    struct strmap dests;     /* name -> struct dest */
    struct stomp_limits envelope_limits;
    char instance[24];       /* prefix of message-ids minted here */
    uint64_t next_id;
    uint64_t next_ack;
};

static void envelope_unref(struct envelope *e)
{
    if (!e || --e->refs)
        return;
    for (int i = 0; i < 3; i++)
        for (int a = 0; a < PREFIX_ALIASES_MAX; a++)
            rcbuf_unref(e->shared[i][a]);
    stomp_frame_free(e->frame);
    free(e);
}

struct router *router_new(struct server *srv)
{
    struct router *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = srv;
    strmap_init(&r->dests);
    stomp_limits_default(&r->envelope_limits);
    r->envelope_limits.max_frame_size = 128u << 20;
    r->envelope_limits.max_body_size = 64u << 20;
    r->envelope_limits.max_headers = 1u << 16;
    r->envelope_limits.max_header_length = 1u << 20;
    snprintf(r->instance, sizeof r->instance, "%s", srv->instance);
    return r;
}

static void fire_waiters(struct dest *d, enum router_live how)
{
    struct live_waiter *w = d->waiters;
    d->waiters = NULL;
    d->waiters_tail = &d->waiters;
    while (w) {
        struct live_waiter *next = w->next;
        w->fn(w->arg, how);
        free(w);
        w = next;
    }
}

static void dest_free(struct dest *d)
{
    for (struct envelope *e = d->pending_head, *next; e; e = next) {
        next = e->next;
        envelope_unref(e);
    }
    fire_waiters(d, ROUTER_GONE);
    free(d->name);
    free(d);
}

void router_free(struct router *r)
{
    if (!r)
        return;
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&r->dests, &pos, &key, &value))
        dest_free(value);
    strmap_free(&r->dests);
    free(r);
}

static bool is_queue(const char *destination)
{
    return strncmp(destination, "/queue/", 7) == 0;
}

const char *router_sub_id(const struct sub *s)
{
    return s->id;
}

/* The `destination` header as a subscriber that used prefix `alias`
 * reads it: the envelope's canonical name, or a new string (*owned). */
static const char *destination_for(const struct router *r, const char *canonical, unsigned alias, char **owned)
{
    *owned = NULL;
    if (destination_client_is_canonical(&r->srv->settings.prefixes, canonical, alias))
        return canonical;
    return *owned = destination_client(&r->srv->settings.prefixes, canonical, alias);
}

/* The part of a MESSAGE every recipient shares, for one version and one
 * prefix of the destination: encoded once for all the subscribers that
 * share both. */
static struct rcbuf *shared_part(const struct router *r, struct envelope *e, int version, unsigned alias)
{
    int vi = version == STOMP_V1_0 ? 0 : version == STOMP_V1_1 ? 1 : 2;
    if (alias >= PREFIX_ALIASES_MAX)
        alias = 0;
    if (e->shared[vi][alias])
        return e->shared[vi][alias];
    const struct stomp_frame *f = e->frame;
    struct stomp_buf b = {0};
    int rc = 0;
    for (size_t i = 0; i < f->nheaders; i++) {
        const struct stomp_header *h = &f->headers[i];
        if (strcmp(h->name, "content-length") == 0 || strcmp(h->name, ROUTER_REVOKE) == 0 ||
            strcmp(h->name, ROUTER_REVOKE_ALL) == 0 || strcmp(h->name, ROUTER_ORIGIN) == 0)
            continue;
        char *owned = NULL;
        const char *d = strcmp(h->name, "destination") == 0 ? destination_for(r, h->value, alias, &owned) : NULL;
        if (owned)
            rc |= stomp_encode_header(&b, version, STOMP_CMD_MESSAGE, h->name, d);
        else
            rc |= stomp_encode_header_n(&b, version, STOMP_CMD_MESSAGE, h->name, h->value, h->value_len);
        free(owned);
    }
    rc |= stomp_encode_body(&b, f->body, f->body_len, true);
    struct rcbuf *shared = rc ? NULL : rcbuf_new(b.len);
    if (shared) {
        memcpy(shared->data, b.data, b.len);
        shared->origin = e->origin;
    }
    stomp_buf_free(&b);
    return e->shared[vi][alias] = shared;
}

static void deliver_one(struct router *r, struct sub *s, struct envelope *e, bool last);
static void sub_end(struct router *r, struct sub *s);

/* A room's own topic: its subscribers are watching the room (presence).
 * Not a topic below it (a support room's notes). */
static bool watches_room(const char *dest)
{
    return strncmp(dest, ROOM_TOPIC, sizeof ROOM_TOPIC - 1) == 0 && !strchr(dest + sizeof ROOM_TOPIC - 1, '/');
}

/* Keep e for a held subscription (bounded like an unacked window). */
static void hold_event(struct router *r, struct sub *s, struct envelope *e)
{
    if (s->nheld >= r->srv->settings.max_unacked) {
        s->who->ops->fail(s->who, "too many events during catch-up");
        return;
    }
    if (s->nheld == s->held_cap) {
        size_t cap = s->held_cap ? s->held_cap * 2 : 16;
        struct envelope **v = realloc(s->held_events, cap * sizeof *v);
        if (!v)
            return;
        s->held_events = v;
        s->held_cap = cap;
    }
    e->refs++;
    s->held_events[s->nheld++] = e;
}

void router_hold(struct sub *s)
{
    s->held = true;
}

void router_release(struct router *r, struct sub *s, uint64_t replayed_seq)
{
    s->held = false;
    if (replayed_seq > s->replayed_to)
        s->replayed_to = replayed_seq;
    for (size_t i = 0; i < s->nheld; i++) {
        struct envelope *e = s->held_events[i];
        bool seen = e->seq && e->seq <= replayed_seq;
        if (!seen)
            deliver_one(r, s, e, false);
        envelope_unref(e);
    }
    free(s->held_events);
    s->held_events = NULL;
    s->nheld = s->held_cap = 0;
}

/* Send e to one subscriber; client-ack modes remember it until acked.
 * `last`: the server ends the subscription with this event. */
static void deliver_one(struct router *r, struct sub *s, struct envelope *e, bool last)
{
    if (s->ended)
        return;
    if (s->held) {
        hold_event(r, s, e);
        return;
    }
    /* A broker may hand over late (or again) an event a replay already
     * delivered: at-least-once brokers, events in flight at a subscribe. */
    if (e->seq && e->seq <= s->replayed_to)
        return;
    int v = s->who->ops->version(s->who);
    struct rcbuf *shared = shared_part(r, e, v, s->alias);
    if (!shared)
        return;
    struct unacked *u = NULL;
    if (s->ack != ACK_AUTO) {
        if (s->nunacked >= r->srv->settings.max_unacked) {
            s->who->ops->fail(s->who, "too many unacknowledged messages");
            return;
        }
        u = calloc(1, sizeof *u);
        if (!u)
            return;
        u->ack_id = ++r->next_ack;
        u->env = e;
        e->refs++;
    }
    struct stomp_buf head = {0};
    int rc = stomp_encode_command(&head, STOMP_CMD_MESSAGE);
    rc |= stomp_encode_header(&head, v, STOMP_CMD_MESSAGE, "subscription", s->id);
    if (u && v >= STOMP_V1_2) {
        char ack[24];
        snprintf(ack, sizeof ack, "%llu", (unsigned long long)u->ack_id);
        rc |= stomp_encode_header(&head, v, STOMP_CMD_MESSAGE, "ack", ack);
    }
    if (e->redelivered)
        rc |= stomp_encode_header(&head, v, STOMP_CMD_MESSAGE, "redelivered", "true");
    if (last)
        rc |= stomp_encode_header(&head, v, STOMP_CMD_MESSAGE, "subscription-ended", "true");
    if (rc) {
        stomp_buf_free(&head);
        if (u) {
            envelope_unref(e);
            free(u);
        }
        return;
    }
    if (u) {
        u->prev = s->unacked_tail;
        if (s->unacked_tail)
            s->unacked_tail->next = u;
        else
            s->unacked_head = u;
        s->unacked_tail = u;
        s->nunacked++;
    }
    s->who->ops->deliver(s->who, head.data, head.len, rcbuf_ref(shared));
    r->srv->metrics.deliveries++;
    if (e->seq > s->last_seq)
        s->last_seq = e->seq;
}

/* A queue subscriber can take more while its unacked window has room. */
static bool sub_ready(const struct router *r, const struct sub *s)
{
    return s->ack == ACK_AUTO || s->nunacked < r->srv->settings.max_unacked;
}

/* Hand pending queue messages to ready subscribers, round-robin. */
static void queue_dispatch(struct router *r, struct dest *d)
{
    while (d->pending_head && d->nsubs) {
        struct sub *start = d->cursor ? d->cursor : d->subs;
        struct sub *s = start;
        do {
            if (sub_ready(r, s))
                break;
            s = s->next ? s->next : d->subs;
        } while (s != start);
        if (!sub_ready(r, s))
            return; /* everyone's window is full */
        d->cursor = s->next ? s->next : d->subs;
        struct envelope *e = d->pending_head;
        d->pending_head = e->next;
        if (!d->pending_head)
            d->pending_tail = NULL;
        d->npending--;
        e->next = NULL;
        deliver_one(r, s, e, false);
        envelope_unref(e); /* the queue's reference; an unacked entry keeps its own */
    }
}

static void queue_push(struct dest *d, struct envelope *e, bool front)
{
    if (front) {
        e->next = d->pending_head;
        d->pending_head = e;
        if (!d->pending_tail)
            d->pending_tail = e;
    } else {
        e->next = NULL;
        if (d->pending_tail)
            d->pending_tail->next = e;
        else
            d->pending_head = e;
        d->pending_tail = e;
    }
    d->npending++;
}

static struct dest *dest_get(struct router *r, const char *name, bool create, chatd_status *st)
{
    struct dest *d = strmap_get(&r->dests, name);
    if (d || !create)
        return d;
    d = calloc(1, sizeof *d);
    if (!d || !(d->name = strdup(name)) || strmap_put(&r->dests, name, d) < 0) {
        if (d)
            free(d->name);
        free(d);
        *st = CHATD_ERR_NOMEM;
        return NULL;
    }
    d->kind = is_queue(name) ? DEST_QUEUE : DEST_BROADCAST;
    d->waiters_tail = &d->waiters;
    d->live = true;
    if (d->kind == DEST_BROADCAST) {
        void *state;
        const struct chatd_broker_ops *ops = broker_ops(&r->srv->broker_port, &state);
        *st = ops->subscribe(state, name);
        if (*st == CHATD_PENDING) {
            d->live = false; /* host->channel_live will say */
            *st = CHATD_OK;
        }
        if (*st != CHATD_OK) {
            strmap_del(&r->dests, name);
            dest_free(d);
            return NULL;
        }
    }
    return d;
}

/* Forget a destination nobody uses any more. */
static void dest_release(struct router *r, struct dest *d)
{
    if (d->nsubs || d->npending)
        return;
    if (d->kind == DEST_BROADCAST) {
        void *state;
        const struct chatd_broker_ops *ops = broker_ops(&r->srv->broker_port, &state);
        ops->unsubscribe(state, d->name);
    }
    strmap_del(&r->dests, d->name);
    dest_free(d);
}

struct sub *router_subscribe(struct router *r, struct subscriber *who, const char *id,
                             const char *destination, unsigned alias, enum ack_mode ack, chatd_status *st)
{
    *st = CHATD_OK;
    struct dest *d = dest_get(r, destination, true, st);
    if (!d)
        return NULL;
    struct sub *s = calloc(1, sizeof *s);
    if (!s || !(s->id = strdup(id))) {
        free(s);
        *st = CHATD_ERR_NOMEM;
        dest_release(r, d);
        return NULL;
    }
    s->ack = ack;
    s->alias = alias;
    s->who = who;
    s->dest = d;
    s->next = d->subs;
    if (d->subs)
        d->subs->prev = s;
    d->subs = s;
    d->nsubs++;
    if (d->kind == DEST_QUEUE)
        queue_dispatch(r, d);
    if (r->srv->presence && watches_room(d->name))
        presence_watch(r->srv->presence, who->ops->user(who), d->name + sizeof ROOM_TOPIC - 1, +1);
    return s;
}

/* Take u off its subscription; a queue message goes back to its queue. */
static void unacked_release(struct sub *s, struct unacked *u, bool requeue)
{
    if (u->prev)
        u->prev->next = u->next;
    else
        s->unacked_head = u->next;
    if (u->next)
        u->next->prev = u->prev;
    else
        s->unacked_tail = u->prev;
    s->nunacked--;
    if (requeue && s->dest->kind == DEST_QUEUE) {
        u->env->redelivered = true;
        queue_push(s->dest, u->env, true);
    } else {
        envelope_unref(u->env);
    }
    free(u);
}

void router_unsubscribe(struct router *r, struct sub *s)
{
    struct dest *d = s->dest;
    if (r->srv->presence && !s->ended && watches_room(d->name))
        presence_watch(r->srv->presence, s->who->ops->user(s->who), d->name + sizeof ROOM_TOPIC - 1, -1);
    /* Unacked queue messages return in their original order. */
    while (s->unacked_tail)
        unacked_release(s, s->unacked_tail, true);
    if (d->cursor == s)
        d->cursor = s->next;
    if (s->prev)
        s->prev->next = s->next;
    else
        d->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    d->nsubs--;
    for (size_t i = 0; i < s->nheld; i++)
        envelope_unref(s->held_events[i]);
    free(s->held_events);
    free(s->id);
    free(s);
    if (d->kind == DEST_QUEUE)
        queue_dispatch(r, d);
    dest_release(r, d);
}

/* Headers of a SEND that belong to the protocol, not to the message. */
static bool header_is_forwarded(const char *name)
{
    static const char *const own[] = {"destination", "receipt", "transaction", "content-length",
                                      "message-id", "subscription", "ack", "redelivered", ROUTER_ORIGIN};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        if (strcmp(name, own[i]) == 0)
            return false;
    return true;
}

/* Headers the server sets on its events' MESSAGE frames (rooms), and
 * `sender` on every message: a client's SEND never sets them, so that
 * subscribers can trust them. */
static bool header_is_stamped(const char *name)
{
    static const char *const stamped[] = {"sender", "event", "room", "seq", "timestamp", "trace-id", "replay",
                                          "user", "subscription-ended", ROUTER_REVOKE, ROUTER_REVOKE_ALL};
    for (size_t i = 0; i < sizeof stamped / sizeof *stamped; i++)
        if (strcmp(name, stamped[i]) == 0)
            return true;
    return false;
}

const char *router_origin(const struct router *r, uint64_t session, char *out, size_t len)
{
    snprintf(out, len, "%s:%llu", r->instance, (unsigned long long)session);
    return out;
}

/* The envelope is stamped here, on the instance the client is connected
 * to; the others deliver its headers as they come (STOMP 1.2 escaping
 * keeps a client's header one header through the broker). */
static int encode_envelope(struct router *r, const char *destination, const char *sender,
                           const struct stomp_frame *send, uint64_t origin, struct stomp_buf *b)
{
    char id[48], from[48];
    snprintf(id, sizeof id, "%s-%llu", r->instance, (unsigned long long)++r->next_id);
    int rc = stomp_encode_command(b, STOMP_CMD_MESSAGE);
    rc |= stomp_encode_header(b, STOMP_V1_2, STOMP_CMD_MESSAGE, "destination", destination);
    rc |= stomp_encode_header(b, STOMP_V1_2, STOMP_CMD_MESSAGE, "message-id", id);
    rc |= stomp_encode_header(b, STOMP_V1_2, STOMP_CMD_MESSAGE, "sender", sender);
    if (origin)
        rc |= stomp_encode_header(b, STOMP_V1_2, STOMP_CMD_MESSAGE, ROUTER_ORIGIN,
                                  router_origin(r, origin, from, sizeof from));
    for (size_t i = 0; i < send->nheaders; i++)
        if (header_is_forwarded(send->headers[i].name) && !header_is_stamped(send->headers[i].name))
            rc |= stomp_encode_header_n(b, STOMP_V1_2, STOMP_CMD_MESSAGE, send->headers[i].name,
                                        send->headers[i].value, send->headers[i].value_len);
    rc |= stomp_encode_body(b, send->body, send->body_len, true);
    return rc;
}

static struct envelope *envelope_parse(struct router *r, const void *data, size_t len)
{
    struct envelope *e = calloc(1, sizeof *e);
    struct stomp_parser *p = stomp_parser_new(&r->envelope_limits);
    size_t used;
    if (!e || !p || stomp_parser_feed(p, data, len, &used, &e->frame) != STOMP_PARSE_FRAME) {
        stomp_parser_free(p);
        free(e);
        return NULL;
    }
    stomp_parser_free(p);
    e->refs = 1;
    const char *event = stomp_frame_header(e->frame, "event");
    const char *seq = stomp_frame_header(e->frame, "seq");
    /* A room's messages, and a support room's internal notes on their own
     * topic, are the events a since-seq replay may also bring. */
    if (event && seq && (strcmp(event, "message") == 0 || strcmp(event, "note") == 0))
        e->seq = strtoull(seq, NULL, 10);
    const char *origin = stomp_frame_header(e->frame, ROUTER_ORIGIN);
    size_t il = strlen(r->instance);
    if (origin && strncmp(origin, r->instance, il) == 0 && origin[il] == ':')
        e->origin = strtoull(origin + il + 1, NULL, 10);
    return e;
}

chatd_status router_publish(struct router *r, const char *destination, const char *sender,
                            const struct stomp_frame *send, uint64_t origin)
{
    struct stomp_buf b = {0};
    if (encode_envelope(r, destination, sender, send, origin, &b)) {
        stomp_buf_free(&b);
        return CHATD_ERR_NOMEM;
    }
    chatd_status st = CHATD_OK;
    if (is_queue(destination)) {
        struct dest *d = dest_get(r, destination, true, &st);
        struct envelope *e = NULL;
        if (d && d->npending >= r->srv->settings.max_queue_length)
            st = CHATD_ERR_LIMIT;
        else if (d && !(e = envelope_parse(r, b.data, b.len)))
            st = CHATD_ERR_NOMEM;
        if (e) {
            queue_push(d, e, false);
            queue_dispatch(r, d);
        }
        if (d)
            dest_release(r, d);
    } else {
        void *state;
        const struct chatd_broker_ops *ops = broker_ops(&r->srv->broker_port, &state);
        st = ops->publish(state, destination, b.data, b.len);
    }
    stomp_buf_free(&b);
    return st;
}

static int encode_event(struct router *r, const char *channel, const struct event_header *h, size_t n,
                        const void *body, size_t len, struct stomp_buf *b)
{
    char id[48];
    snprintf(id, sizeof id, "%s-%llu", r->instance, (unsigned long long)++r->next_id);
    int rc = stomp_encode_command(b, STOMP_CMD_MESSAGE);
    rc |= stomp_encode_header(b, STOMP_V1_2, STOMP_CMD_MESSAGE, "destination", channel);
    bool has_id = false;
    for (size_t i = 0; i < n; i++) {
        if (!h[i].value)
            continue;
        has_id |= strcmp(h[i].name, "message-id") == 0;
        rc |= stomp_encode_header(b, STOMP_V1_2, STOMP_CMD_MESSAGE, h[i].name, h[i].value);
    }
    if (!has_id)
        rc |= stomp_encode_header(b, STOMP_V1_2, STOMP_CMD_MESSAGE, "message-id", id);
    rc |= stomp_encode_body(b, body, len, true);
    return rc;
}

chatd_status router_publish_event(struct router *r, const char *channel, const struct event_header *h,
                                  size_t n, const void *body, size_t len)
{
    struct stomp_buf b = {0};
    if (encode_event(r, channel, h, n, body, len, &b)) {
        stomp_buf_free(&b);
        return CHATD_ERR_NOMEM;
    }
    void *state;
    const struct chatd_broker_ops *ops = broker_ops(&r->srv->broker_port, &state);
    chatd_status st = ops->publish(state, channel, b.data, b.len);
    stomp_buf_free(&b);
    return st;
}

void router_deliver_event_to(struct router *r, struct sub *s, const struct event_header *h, size_t n,
                             const void *body, size_t len)
{
    struct stomp_buf b = {0};
    struct envelope *e = NULL;
    if (encode_event(r, s->dest->name, h, n, body, len, &b) == 0 && (e = envelope_parse(r, b.data, b.len))) {
        bool held = s->held;
        s->held = false; /* the replay itself goes out now */
        deliver_one(r, s, e, false);
        s->held = held;
        envelope_unref(e);
    }
    stomp_buf_free(&b);
}

void router_deliver(struct router *r, const char *channel, const void *data, size_t len)
{
    struct dest *d = strmap_get(&r->dests, channel);
    if (!d || d->kind != DEST_BROADCAST)
        return;
    struct envelope *e = envelope_parse(r, data, len);
    if (!e) {
        log_warn("broker event on %s could not be parsed; dropped", channel);
        return;
    }
    const char *revoked = stomp_frame_header(e->frame, ROUTER_REVOKE);
    bool all = stomp_frame_header(e->frame, ROUTER_REVOKE_ALL) != NULL;
    for (struct sub *s = d->subs, *next; s; s = next) {
        next = s->next; /* deliver_one may fail the session, not unlink it */
        bool last = all || (revoked && strcmp(s->who->ops->user(s->who), revoked) == 0);
        deliver_one(r, s, e, last);
        if (last)
            sub_end(r, s);
    }
    /* SEND to delivery here, for room messages (their timestamp is the
     * storing instance's clock). */
    const char *ts = e->seq ? stomp_frame_header(e->frame, "timestamp") : NULL;
    if (ts && d->nsubs)
        metrics_observe(r->srv->metrics.delivery_latency, &r->srv->metrics.delivery_latency_sum,
                        clock_wall_ms() - strtoll(ts, NULL, 10));
    if (log_enabled(CHATD_LOG_DEBUG)) {
        const char *trace = stomp_frame_header(e->frame, "trace-id");
        if (trace)
            log_msg(CHATD_LOG_DEBUG, "router", 0, "%s: delivered to %zu local subscriber(s), trace %s", channel,
                    d->nsubs, trace);
    }
    envelope_unref(e);
}

/* The server took the subscription away (its user left the room): no more
 * events, no longer watching; it stays the session's until UNSUBSCRIBE or
 * the close, so that a client's UNSUBSCRIBE of it is still answered. */
static void sub_end(struct router *r, struct sub *s)
{
    if (s->ended)
        return;
    s->ended = true;
    if (r->srv->presence && watches_room(s->dest->name))
        presence_watch(r->srv->presence, s->who->ops->user(s->who), s->dest->name + sizeof ROOM_TOPIC - 1, -1);
    for (size_t i = 0; i < s->nheld; i++)
        envelope_unref(s->held_events[i]);
    s->nheld = 0;
}

static bool unacked_matches(const struct unacked *u, const char *ack_id, const char *message_id)
{
    if (ack_id) {
        char buf[24];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)u->ack_id);
        return strcmp(buf, ack_id) == 0;
    }
    const char *mid = stomp_frame_header(u->env->frame, "message-id");
    return mid && strcmp(mid, message_id) == 0;
}

chatd_status router_ack(struct router *r, struct sub *const *subs, size_t nsubs, int version,
                        const struct stomp_frame *ack, bool nack)
{
    const char *ack_id = version >= STOMP_V1_2 ? stomp_frame_header(ack, "id") : NULL;
    const char *message_id = stomp_frame_header(ack, "message-id");
    const char *sub_id = version == STOMP_V1_1 ? stomp_frame_header(ack, "subscription") : NULL;
    if (version >= STOMP_V1_2 ? !ack_id : !message_id)
        return CHATD_ERR_INVALID;
    for (size_t i = 0; i < nsubs; i++) {
        struct sub *s = subs[i];
        if (sub_id && strcmp(sub_id, s->id) != 0)
            continue;
        for (struct unacked *u = s->unacked_head; u; u = u->next) {
            if (!unacked_matches(u, ack_id, message_id))
                continue;
            /* client mode is cumulative: everything up to u goes with it.
             * Released from u backwards, so that NACKed queue messages
             * return to the front of the queue in their original order. */
            bool cumulative = s->ack == ACK_CLIENT;
            while (u) {
                struct unacked *prev = cumulative ? u->prev : NULL;
                unacked_release(s, u, nack);
                u = prev;
            }
            if (s->dest->kind == DEST_QUEUE)
                queue_dispatch(r, s->dest);
            return CHATD_OK;
        }
    }
    /* An auto subscription's messages were acknowledged when delivered:
     * an ACK or NACK of one is a no-op. The message cannot be looked up
     * (nothing of it is kept), so any ACK/NACK is taken as one when it
     * names an auto subscription, or names none and the session has one. */
    const char *named = stomp_frame_header(ack, "subscription");
    for (size_t i = 0; i < nsubs; i++)
        if (subs[i]->ack == ACK_AUTO && (!named || strcmp(named, subs[i]->id) == 0))
            return CHATD_OK;
    return CHATD_ERR_NOT_FOUND;
}

void router_sub_seen(struct sub *s, uint64_t seq)
{
    if (seq > s->last_seq)
        s->last_seq = seq;
}

uint64_t router_sub_last_seq(const struct sub *s)
{
    return s->last_seq;
}

bool router_sub_held(const struct sub *s)
{
    return s->held;
}

struct subscriber *router_sub_subscriber(const struct sub *s)
{
    return s->who;
}

const char *router_sub_destination(const struct sub *s)
{
    return s->dest->name;
}

size_t router_collect_subs(struct router *r, const char *prefix, struct sub ***out)
{
    size_t n = 0, cap = 0, pos = 0, plen = strlen(prefix);
    struct sub **v = NULL;
    const char *name;
    void *value;
    while (strmap_next(&r->dests, &pos, &name, &value)) {
        if (strncmp(name, prefix, plen) != 0)
            continue;
        for (struct sub *s = ((struct dest *)value)->subs; s; s = s->next) {
            if (s->ended)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                struct sub **grown = realloc(v, cap * sizeof *grown);
                if (!grown) {
                    *out = v;
                    return n;
                }
                v = grown;
            }
            v[n++] = s;
        }
    }
    *out = v;
    return n;
}

void router_when_live(struct router *r, struct sub *s, router_live_fn fn, void *arg)
{
    (void)r;
    struct dest *d = s->dest;
    if (d->live) {
        fn(arg, ROUTER_LIVE);
        return;
    }
    struct live_waiter *w = malloc(sizeof *w);
    if (!w) {
        fn(arg, ROUTER_LIVE); /* cannot wait: answer now rather than never */
        return;
    }
    w->next = NULL;
    w->fn = fn;
    w->arg = arg;
    *d->waiters_tail = w;
    d->waiters_tail = &w->next;
}

void router_channel_live(struct router *r, const char *channel, chatd_status st)
{
    struct dest *d = strmap_get(&r->dests, channel);
    if (!d || d->live)
        return;
    if (st != CHATD_OK)
        log_warn("broker could not subscribe %s: %s", channel, chatd_strerror(st));
    d->live = st == CHATD_OK;
    fire_waiters(d, st == CHATD_OK ? ROUTER_LIVE : ROUTER_FAILED);
    if (st != CHATD_OK)
        d->live = true; /* later subscribers are not held up by a failure already reported */
}

void router_stats(const struct router *r, size_t *subs, size_t *queued)
{
    size_t pos = 0;
    const char *name;
    void *value;
    *subs = *queued = 0;
    while (strmap_next(&r->dests, &pos, &name, &value)) {
        const struct dest *d = value;
        *subs += d->nsubs;
        *queued += d->npending;
    }
}
