/* The rooms over STOMP: SENDs to /app/rooms/{room}/send|read|typing and
 * SUBSCRIBEs to room topics (with since-seq replay), the support queue and
 * a user's notifications. docs/protocol.md, "Rooms". */
#include "stomp/rooms_stomp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "stomp/destinations.h"
#include "log.h"
#include "rooms/message_body.h"
#include "wire/query.h"
#include "stomp/room_events.h"
#include "wire/room_json.h"
#include "rooms/room_rules.h"
#include "stomp/router.h"
#include "stomp/send_order.h"
#include "server.h"
#include "stomp/session.h"
#include "net/stomp_frame.h"
#include "plugins/storage_port.h"

#define REPLAY_PAGE 100

/* One STOMP operation waiting for storage; the session may be gone when
 * the answer comes, so it is found again by id. */
struct stomp_op {
    struct server *srv;
    uint64_t session;
    char room[ROOM_ID_MAX];
    char *receipt;
    char *body;
    size_t body_len;
    char *client_id;
    char *content_type;
    char *sub_id;
    char *user;          /* READ: who read; SEND: the sender */
    int ack;
    int verb;            /* SEND, READ, TYPING, SUBSCRIBE */
    bool has_since;
    uint64_t since;      /* SUBSCRIBE since-seq; READ seq */
    uint64_t replayed;   /* highest seq replayed so far */
    uint64_t room_last;  /* SUBSCRIBE: the room's last seq when looked up */
    char trace[48];      /* SEND: follows the message into logs and its MESSAGE frames */
    int64_t started_ms;  /* SEND: when it arrived, for the store latency */
    struct sub *sub;
    chatd_room_kind kind; /* SEND: the room as looked up, for notifications */
    char **members;
    size_t nmembers;
    struct send_ticket *ticket; /* SEND: its place in the session's line (send_order.h) */
    uint64_t seq;               /* SEND: the stored message, until it is published */
    int64_t ts_ms;
    char *message_id;
};

enum { VERB_SEND = 1, VERB_READ, VERB_TYPING, VERB_SUBSCRIBE };

static void stomp_op_free(struct stomp_op *op)
{
    if (op->ticket)
        send_order_leave(op->ticket);
    session_op_end(op->srv, op->session);
    for (size_t i = 0; i < op->nmembers; i++)
        free(op->members[i]);
    free(op->members);
    free(op->receipt);
    free(op->body);
    free(op->client_id);
    free(op->content_type);
    free(op->sub_id);
    free(op->user);
    free(op->message_id);
    free(op);
}

/* Parse "/app/rooms/{room}/{verb}" or "/topic/rooms/{room}". */
static bool split_room_dest(const char *d, const char *prefix, char room[ROOM_ID_MAX], const char **verb)
{
    size_t pl = strlen(prefix);
    if (strncmp(d, prefix, pl) != 0)
        return false;
    const char *id = d + pl;
    const char *slash = strchr(id, '/');
    size_t n = slash ? (size_t)(slash - id) : strlen(id);
    if (!room_valid_id(id, n))
        return false;
    memcpy(room, id, n);
    room[n] = '\0';
    *verb = slash ? slash + 1 : "";
    return true;
}

static void send_stored_cb(void *ctx, chatd_status st, const struct chatd_message *m);

static void send_append(void *arg);

/* The session of op, still connected and a member of the room it looked
 * up; otherwise the client got its ERROR, op is freed and NULL returned. */
static struct session *member_session(struct stomp_op *op, chatd_status st, const struct chatd_room *room)
{
    struct session *s = session_lookup(op->srv, op->session);
    if (s && st != CHATD_OK && st != CHATD_ERR_NOT_FOUND)
        session_error_receipt(s, op->receipt, "storage unavailable", chatd_strerror(st));
    else if (s && (st == CHATD_ERR_NOT_FOUND || !room || !room_is_member(room, session_user(s))))
        session_error_receipt(s, op->receipt, "no such room", op->room);
    else if (s)
        return s;
    stomp_op_free(op);
    return NULL;
}

/* The headers of a `message` event, live or replayed; seq and ts are the
 * caller's buffers. */
static size_t message_headers(struct event_header h[10], const struct chatd_message *m, const char *content_type,
                              const char *trace, bool replay, char seq[24], char ts[24])
{
    snprintf(seq, 24, "%llu", (unsigned long long)m->seq);
    snprintf(ts, 24, "%lld", (long long)m->ts_ms);
    size_t n = 0;
    h[n++] = (struct event_header){"event", "message"};
    h[n++] = (struct event_header){"room", m->room};
    h[n++] = (struct event_header){"seq", seq};
    h[n++] = (struct event_header){"message-id", m->id};
    h[n++] = (struct event_header){"sender", m->sender};
    h[n++] = (struct event_header){"timestamp", ts};
    h[n++] = (struct event_header){"client-id", m->client_id};
    if (content_type)
        h[n++] = (struct event_header){"content-type", content_type};
    if (trace)
        h[n++] = (struct event_header){"trace-id", trace};
    if (replay)
        h[n++] = (struct event_header){"replay", "true"};
    return n;
}

/* A read mark is stored: only now the RECEIPT and the `read` event, so a
 * client that got the receipt finds its unread count updated. */
static void read_marked_cb(void *ctx, chatd_status st)
{
    struct stomp_op *op = ctx;
    struct session *s = session_lookup(op->srv, op->session);
    if (st != CHATD_OK) {
        if (s)
            session_error_receipt(s, op->receipt, "storage unavailable", chatd_strerror(st));
        stomp_op_free(op);
        return;
    }
    room_event(op->srv, op->room, "read", json_pack("{s:s, s:s, s:I}", "room", op->room, "user",
                                                            op->user, "seq", (json_int_t)op->since));
    if (s)
        session_send_receipt(s, op->receipt);
    stomp_op_free(op);
}

static void send_room_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct stomp_op *op = ctx;
    struct session *s = member_session(op, st, room);
    if (!s)
        return;
    if (room_read_only(room) && op->verb == VERB_SEND) {
        session_error_receipt(s, op->receipt, "room is closed to new messages",
                              room->state == CHATD_ROOM_CLOSED ? "The customer closed this support room."
                                                               : "The agent completed this support room.");
        stomp_op_free(op);
        return;
    }
    void *state;
    const struct chatd_storage_ops *ops = storage_ops(op->srv->storage, &state);
    if (op->verb == VERB_TYPING) {
        room_event(op->srv, op->room, "typing", json_pack("{s:s, s:s}", "room", op->room, "user", session_user(s)));
        session_send_receipt(s, op->receipt);
        stomp_op_free(op);
    } else if (op->verb == VERB_READ) {
        op->since = op->since > room->last_seq ? room->last_seq : op->since;
        if (!(op->user = strdup(session_user(s)))) {
            session_error_receipt(s, op->receipt, "internal error", "out of memory");
            stomp_op_free(op);
            return;
        }
        ops->read_mark(state, op->room, op->user, op->since, read_marked_cb, op);
    } else {
        op->kind = room->kind;
        op->members = calloc(room->nmembers ? room->nmembers : 1, sizeof *op->members);
        for (size_t i = 0; op->members && i < room->nmembers; i++)
            if ((op->members[op->nmembers] = strdup(room->members[i])))
                op->nmembers++;
        send_order_append(op->ticket, send_append, op);
    }
}

/* The SEND's turn: every earlier SEND of its session called its append (or
 * failed), so storage gets them in the order the client sent them. */
static void send_append(void *arg)
{
    struct stomp_op *op = arg;
    struct session *s = session_lookup(op->srv, op->session);
    if (!s) { /* gone, or closed by an ERROR for an earlier frame */
        stomp_op_free(op);
        return;
    }
    if (!(op->user = strdup(session_user(s)))) {
        session_error_receipt(s, op->receipt, "internal error", "out of memory");
        stomp_op_free(op);
        return;
    }
    struct chatd_message m = {.room = op->room, .sender = op->user, .client_id = op->client_id,
                              .ts_ms = clock_wall_ms(), .body = op->body, .body_len = op->body_len};
    void *state;
    storage_ops(op->srv->storage, &state)->message_append(state, &m, send_stored_cb, op);
}

static void sender_marked_cb(void *ctx, chatd_status st)
{
    struct stomp_op *op = ctx;
    if (st != CHATD_OK)
        log_warn("read mark of a sender in room %s not stored: %s", op->room, chatd_strerror(st));
    struct session *s = session_lookup(op->srv, op->session);
    if (s)
        session_send_receipt(s, op->receipt); /* the message itself is stored */
    stomp_op_free(op);
}

/* Stored, and every earlier message of the session published: now the fast
 * path, in the session's send order, then the sender's own read mark. */
static void send_publish(void *arg)
{
    struct stomp_op *op = arg;
    struct server *srv = op->srv;
    op->ticket = NULL; /* gone with this call */
    struct chatd_message m = {.room = op->room, .seq = op->seq, .id = op->message_id, .sender = op->user,
                              .client_id = op->client_id, .ts_ms = op->ts_ms, .body = op->body,
                              .body_len = op->body_len};
    char seq[24], ts[24], topic[128], origin[48];
    struct event_header h[11];
    size_t nh = message_headers(h, &m, op->content_type ? op->content_type : "text/plain", op->trace, false, seq, ts);
    h[nh++] = (struct event_header){ROUTER_ORIGIN, router_origin(srv->router, op->session, origin, sizeof origin)};
    destination_room_topic(topic, sizeof topic, op->room);
    router_publish_event(srv->router, topic, h, nh, m.body, m.body_len);
    struct chatd_room room = {.id = op->room, .kind = op->kind, .members = (const char *const *)op->members,
                              .nmembers = op->nmembers};
    room_notify_members(srv, &room, &m, op->content_type);
    /* The RECEIPT waits for the sender's read mark too, so that what the
     * sender reads after it (its unread count) includes its own message,
     * whatever connection of the storage answers. */
    void *state;
    storage_ops(srv->storage, &state)->read_mark(state, op->room, m.sender, m.seq, sender_marked_cb, op);
}

static void send_stored_cb(void *ctx, chatd_status st, const struct chatd_message *m)
{
    struct stomp_op *op = ctx;
    struct server *srv = op->srv;
    /* (Out of memory for the id: stored and receipted, not live; a
     * subscriber catches up with since-seq.) */
    if (st == CHATD_OK && m && (op->message_id = strdup(m->id))) {
        int64_t ms = clock_wall_ms() - op->started_ms;
        metrics_observe(srv->metrics.store_latency, &srv->metrics.store_latency_sum, ms);
        srv->metrics.messages_stored++;
        log_msg(CHATD_LOG_DEBUG, "rooms", op->session, "stored room %s seq %llu as %s in %lld ms, trace %s", op->room,
                (unsigned long long)m->seq, m->id, (long long)ms, op->trace);
        op->seq = m->seq;
        op->ts_ms = m->ts_ms;
        send_order_publish(op->ticket, send_publish, op);
        return;
    }
    struct session *s = session_lookup(srv, op->session);
    if (s) {
        if (st == CHATD_OK || st == CHATD_ERR_EXISTS)
            session_send_receipt(s, op->receipt);
        else if (st == CHATD_ERR_NOT_FOUND)
            session_error_receipt(s, op->receipt, "no such room", op->room);
        else
            session_error_receipt(s, op->receipt, "message not stored", chatd_strerror(st));
    }
    if (st != CHATD_OK && st != CHATD_ERR_EXISTS && st != CHATD_ERR_NOT_FOUND) {
        srv->metrics.storage_errors++;
        log_msg(CHATD_LOG_WARN, "rooms", op->session, "message to room %s not stored: %s, trace %s", op->room,
                chatd_strerror(st), op->trace);
    }
    stomp_op_free(op);
}

/* The client's trace-id when it is a sane one (up to 40 of [A-Za-z0-9._:-]),
 * else a new one unique to this instance. */
static void trace_id(struct server *srv, const char *given, char *out, size_t outlen)
{
    size_t n = given ? strlen(given) : 0;
    if (n && n <= 40 && strspn(given, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n) {
        snprintf(out, outlen, "%s", given);
        return;
    }
    snprintf(out, outlen, "%s-t%llu", srv->instance, (unsigned long long)++srv->next_trace);
}

static struct stomp_op *stomp_op_new(struct session *s, const char *room, int verb, const char *receipt)
{
    struct stomp_op *op = calloc(1, sizeof *op);
    if (!op || (receipt && !(op->receipt = strdup(receipt)))) {
        free(op);
        session_error_receipt(s, receipt, "internal error", "out of memory");
        return NULL;
    }
    op->srv = session_server(s);
    op->session = session_id(s);
    op->verb = verb;
    session_op_begin(s);
    snprintf(op->room, sizeof op->room, "%s", room);
    return op;
}

/* A room message is text (message_body.h); anything else is refused
 * before it reaches storage. */
static bool send_body_ok(struct session *s, const struct stomp_frame *f, const char *receipt)
{
    char why[256];
    if (message_body_check(stomp_frame_header(f, "content-type"), f->body, f->body_len, why, sizeof why) == 0)
        return true;
    session_error_receipt(s, receipt, "invalid message body", why);
    return false;
}

void rooms_app_send(struct session *s, const char *destination, const struct stomp_frame *f, const char *receipt)
{
    char room[ROOM_ID_MAX];
    const char *verb;
    if (!split_room_dest(destination, "/app/rooms/", room, &verb)) {
        session_error_receipt(s, receipt, "unknown destination", destination);
        return;
    }
    int v = strcmp(verb, "send") == 0 ? VERB_SEND : strcmp(verb, "read") == 0 ? VERB_READ
          : strcmp(verb, "typing") == 0 ? VERB_TYPING : 0;
    if (!v) {
        session_error_receipt(s, receipt, "unknown destination", destination);
        return;
    }
    uint64_t seq = 0;
    if (v == VERB_READ) {
        json_t *j = json_loadb(f->body, f->body_len, 0, NULL);
        json_t *js = json_object_get(j, "seq");
        bool ok = json_is_integer(js) && json_integer_value(js) >= 0;
        seq = ok ? (uint64_t)json_integer_value(js) : 0;
        json_decref(j);
        if (!ok) {
            session_error_receipt(s, receipt, "invalid read body", "Expected {\"seq\": N}.");
            return;
        }
    }
    if (v == VERB_SEND && !send_body_ok(s, f, receipt))
        return;
    struct stomp_op *op = stomp_op_new(s, room, v, receipt);
    if (!op)
        return;
    op->srv = session_server(s);
    op->since = seq;
    if (v == VERB_SEND) {
        const char *cid = stomp_frame_header(f, "client-id");
        const char *ct = stomp_frame_header(f, "content-type");
        op->body = malloc(f->body_len + 1);
        op->ticket = send_order_enter(op->srv->send_order, op->session);
        if (!op->body || !op->ticket || (cid && !(op->client_id = strdup(cid))) ||
            (ct && !(op->content_type = strdup(ct)))) {
            session_error_receipt(s, receipt, "internal error", "out of memory");
            stomp_op_free(op);
            return;
        }
        memcpy(op->body, f->body, f->body_len);
        op->body[f->body_len] = '\0';
        op->body_len = f->body_len;
        op->started_ms = clock_wall_ms();
        trace_id(op->srv, stomp_frame_header(f, "trace-id"), op->trace, sizeof op->trace);
        log_msg(CHATD_LOG_DEBUG, "rooms", op->session, "SEND to room %s, %zu bytes, trace %s", room, f->body_len,
                op->trace);
    }
    void *state;
    storage_ops(op->srv->storage, &state)->room_get(state, room, NULL, send_room_cb, op);
}

/* The subscription exists and is held: replay what was missed, page by
 * page, then release the live events that arrived meanwhile. */
static void replay_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n);

static bool replay_sub_alive(struct stomp_op *op, struct session **out)
{
    struct session *s = session_lookup(op->srv, op->session);
    *out = s;
    return s && session_has_sub(s, op->sub);
}

static void replay_next(struct stomp_op *op)
{
    void *state;
    storage_ops(op->srv->storage, &state)->message_list(state, op->room, 0, op->replayed, REPLAY_PAGE, replay_cb, op);
}

static void replay_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct stomp_op *op = ctx;
    struct session *s;
    if (!replay_sub_alive(op, &s)) {
        stomp_op_free(op);
        return;
    }
    if (st != CHATD_OK) {
        session_error_receipt(s, op->receipt, "catch-up failed", chatd_strerror(st));
        stomp_op_free(op);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char seq[24], ts[24];
        struct event_header h[10];
        size_t nh = message_headers(h, &msgs[i], NULL, NULL, true, seq, ts);
        router_deliver_event_to(op->srv->router, op->sub, h, nh, msgs[i].body, msgs[i].body_len);
        op->replayed = msgs[i].seq;
    }
    if (n == REPLAY_PAGE) {
        replay_next(op);
        return;
    }
    router_release(op->srv->router, op->sub, op->replayed);
    session_send_receipt(s, op->receipt);
    stomp_op_free(op);
}

static void replay_when_live(void *arg, enum router_live how)
{
    struct stomp_op *op = arg;
    if (how == ROUTER_GONE) {
        stomp_op_free(op); /* the subscription went first */
        return;
    }
    if (how == ROUTER_FAILED) {
        struct session *s = session_lookup(op->srv, op->session);
        if (s)
            session_error_receipt(s, op->receipt, "subscription failed",
                                  "The broker could not subscribe the destination.");
        stomp_op_free(op);
        return;
    }
    replay_next(op);
}

static void subscribe_now(struct session *s, struct stomp_op *op, const char *resolved)
{
    const char *why, *detail;
    struct sub *sub = session_subscribe(s, op->sub_id, resolved, op->ack, &why, &detail);
    if (!sub) {
        session_error_receipt(s, op->receipt, why, detail);
        stomp_op_free(op);
        return;
    }
    if (!op->has_since) {
        router_sub_seen(sub, op->room_last);
        session_receipt_when_live(s, sub, op->receipt);
        stomp_op_free(op);
        return;
    }
    /* Hold live events from now; once the broker delivers them, the replay
     * covers (since, now]. */
    op->sub = sub;
    op->replayed = op->since;
    router_hold(sub);
    router_when_live(op->srv->router, sub, replay_when_live, op);
}

static void subscribe_room_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct stomp_op *op = ctx;
    struct session *s = member_session(op, st, room);
    if (!s)
        return;
    char topic[128];
    destination_room_topic(topic, sizeof topic, op->room);
    op->room_last = room->last_seq;
    subscribe_now(s, op, topic);
}

/* The broker was down: events published meanwhile are lost to this
 * instance. Every room subscription catches up from storage after the last
 * seq it had, exactly like a SUBSCRIBE with since-seq, with live events held
 * until the replay is done. */
void rooms_resync(struct server *srv)
{
    struct sub **subs;
    size_t n = router_collect_subs(srv->router, DEST_ROOM_TOPIC, &subs);
    size_t started = 0;
    for (size_t i = 0; i < n; i++) {
        struct sub *sub = subs[i];
        if (router_sub_held(sub))
            continue; /* already catching up */
        struct session *s = session_of_subscriber(router_sub_subscriber(sub));
        const char *room = router_sub_destination(sub) + strlen(DEST_ROOM_TOPIC);
        struct stomp_op *op = stomp_op_new(s, room, VERB_SUBSCRIBE, NULL);
        if (!op)
            continue;
        if (!(op->sub_id = strdup(router_sub_id(sub)))) {
            stomp_op_free(op);
            continue;
        }
        op->sub = sub;
        op->replayed = router_sub_last_seq(sub);
        router_hold(sub);
        replay_next(op);
        started++;
    }
    free(subs);
    if (started)
        log_info("broker ready again: %zu room subscriptions catch up from storage", started);
}

void rooms_subscribe(struct session *s, const char *destination, const char *id, int ack_mode,
                     const char *since_seq, const char *receipt)
{
    struct server *srv = session_server(s);
    if (strcmp(destination, DEST_SUPPORT_QUEUE) == 0 && !(session_roles(s) & CHATD_ROLE_AGENT)) {
        session_error_receipt(s, receipt, "destination not allowed", "Only agents watch the support queue.");
        return;
    }
    char room[ROOM_ID_MAX] = "";
    const char *rest = NULL;
    bool is_room = strncmp(destination, DEST_ROOM_TOPIC, strlen(DEST_ROOM_TOPIC)) == 0;
    if (is_room && (!split_room_dest(destination, DEST_ROOM_TOPIC, room, &rest) || *rest)) {
        session_error_receipt(s, receipt, "no such room", destination);
        return;
    }
    struct stomp_op *op = stomp_op_new(s, room, VERB_SUBSCRIBE, receipt);
    if (!op)
        return;
    op->srv = srv;
    op->ack = ack_mode;
    if (!(op->sub_id = strdup(id))) {
        session_error_receipt(s, receipt, "internal error", "out of memory");
        stomp_op_free(op);
        return;
    }
    if (since_seq) {
        if (!is_room || !query_u64(since_seq, &op->since)) {
            session_error_receipt(s, receipt, "invalid since-seq header", "Expected a sequence number on a room topic.");
            stomp_op_free(op);
            return;
        }
        op->has_since = true;
    }
    if (!is_room) {
        char resolved[300];
        if (strcmp(destination, DEST_MY_NOTIFICATIONS) == 0)
            destination_notifications_of(resolved, sizeof resolved, session_user(s));
        else
            snprintf(resolved, sizeof resolved, "%s", destination);
        subscribe_now(s, op, resolved);
        return;
    }
    void *state;
    storage_ops(srv->storage, &state)->room_get(state, room, NULL, subscribe_room_cb, op);
}
