#include "stomp/room_subscriptions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rooms/history.h"
#include "rooms/message_edits.h"
#include "rooms/notes.h"
#include "rooms/room_rules.h"
#include "rooms/rooms.h"
#include "server.h"
#include "stomp/destinations.h"
#include "stomp/room_events.h"
#include "stomp/rooms_stomp.h"
#include "stomp/router.h"
#include "stomp/session.h"
#include "wire/query.h"

/* One SUBSCRIBE or catch-up waiting for the domain or the broker; the
 * session may be gone when the answer comes, so it is found again by id. */
struct sub_op {
    struct server *srv;
    uint64_t session;
    char room[ROOM_ID_MAX];
    char *receipt;
    char *sub_id;
    unsigned alias; /* the prefix the client used (session_subscribe) */
    int ack;
    bool has_since;
    uint64_t since;    /* since-seq */
    uint64_t replayed; /* highest seq replayed so far */
    bool has_since_rev;
    uint64_t since_rev; /* since-rev: changes after it are replayed, after the messages */
    struct sub *sub;   /* held while the replay runs */
    bool notes;        /* the room's internal notes (DEST_NOTES_SUFFIX), not its events */
};

static struct sub_op *sub_op_new(struct session *s, const char *room, const char *receipt)
{
    struct sub_op *op = calloc(1, sizeof *op);
    if (!op || (receipt && !(op->receipt = strdup(receipt)))) {
        free(op);
        session_error_receipt(s, receipt, "internal error", "out of memory");
        return NULL;
    }
    op->srv = session_server(s);
    op->session = session_id(s);
    session_op_begin(s);
    snprintf(op->room, sizeof op->room, "%s", room);
    return op;
}

static void sub_op_free(struct sub_op *op)
{
    session_op_end(op->srv, op->session);
    free(op->receipt);
    free(op->sub_id);
    free(op);
}

/* The subscription exists and is held: replay what was missed, page by
 * page, then release the live events that arrived meanwhile. */
static void replay_cb(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n, bool more);
static void revisions_cb(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                         bool more);
static void replay_done(struct sub_op *op, struct session *s);

static bool replay_sub_alive(struct sub_op *op, struct session **out)
{
    struct session *s = session_lookup(op->srv, op->session);
    *out = s;
    return s && session_has_sub(s, op->sub);
}

static void replay_next(struct sub_op *op)
{
    if (op->notes)
        notes_replay_page(op->srv->rooms, op->room, op->replayed, replay_cb, op);
    else
        history_replay_page(op->srv->rooms, op->room, op->replayed, replay_cb, op);
}

static void replay_cb(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n, bool more)
{
    struct sub_op *op = ctx;
    struct session *s;
    if (!replay_sub_alive(op, &s)) {
        sub_op_free(op);
        return;
    }
    if (a->status != ROOM_OK) {
        session_error_receipt(s, op->receipt, "catch-up failed", a->why);
        sub_op_free(op);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char nums[96], ts[24];
        struct event_header h[ROOM_MESSAGE_HEADERS];
        size_t nh = room_message_headers(h, op->notes ? "note" : "message", &msgs[i], NULL, NULL, true, nums, ts);
        for (size_t k = 0; op->notes && k < nh; k++)
            if (strcmp(h[k].name, "kind") == 0)
                h[k].value = "note";
        router_deliver_event_to(op->srv->router, op->sub, h, nh, msgs[i].body, msgs[i].body_len);
        op->replayed = msgs[i].seq;
    }
    if (more) {
        replay_next(op);
        return;
    }
    if (op->has_since_rev) {
        message_revisions_page(op->srv->rooms, op->room, op->since_rev, revisions_cb, op);
        return;
    }
    replay_done(op, s);
}

static void replay_done(struct sub_op *op, struct session *s)
{
    router_release(op->srv->router, op->sub, op->replayed);
    session_send_receipt(s, op->receipt);
    sub_op_free(op);
}

/* After the messages: the changes after since-rev to the messages the
 * client had (seq <= since-seq; a newer one came whole, as it is now). */
static void revisions_cb(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n, bool more)
{
    struct sub_op *op = ctx;
    struct session *s;
    if (!replay_sub_alive(op, &s)) {
        sub_op_free(op);
        return;
    }
    if (a->status != ROOM_OK) {
        session_error_receipt(s, op->receipt, "catch-up failed", a->why);
        sub_op_free(op);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        op->since_rev = msgs[i].rev;
        if (msgs[i].seq > op->since)
            continue;
        char nums[96], ts[24];
        struct event_header h[ROOM_MESSAGE_HEADERS];
        size_t nh = room_message_headers(h, msgs[i].deleted ? "message-deleted" : "message-edited", &msgs[i], NULL,
                                         NULL, true, nums, ts);
        router_deliver_event_to(op->srv->router, op->sub, h, nh, msgs[i].body ? msgs[i].body : "",
                                msgs[i].body_len);
    }
    if (more) {
        message_revisions_page(op->srv->rooms, op->room, op->since_rev, revisions_cb, op);
        return;
    }
    replay_done(op, s);
}

static void replay_when_live(void *arg, enum router_live how)
{
    struct sub_op *op = arg;
    if (how == ROUTER_GONE) {
        sub_op_free(op); /* the subscription went first */
        return;
    }
    if (how == ROUTER_FAILED) {
        struct session *s = session_lookup(op->srv, op->session);
        if (s)
            session_error_receipt(s, op->receipt, "subscription failed",
                                  "The broker could not subscribe the destination.");
        sub_op_free(op);
        return;
    }
    replay_next(op);
}

/* room_last: the room's last seq when looked up (0 for other destinations). */
static void subscribe_now(struct session *s, struct sub_op *op, const char *resolved, uint64_t room_last)
{
    const char *why, *detail;
    struct sub *sub = session_subscribe(s, op->sub_id, resolved, op->alias, op->ack, &why, &detail);
    if (!sub) {
        session_error_receipt(s, op->receipt, why, detail);
        sub_op_free(op);
        return;
    }
    if (!op->has_since) {
        router_sub_seen(sub, room_last);
        session_receipt_when_live(s, sub, op->receipt);
        sub_op_free(op);
        return;
    }
    /* Hold live events from now; once the broker delivers them, the replay
     * covers (since, now]. */
    op->sub = sub;
    op->replayed = op->since;
    router_hold(sub);
    router_when_live(op->srv->router, sub, replay_when_live, op);
}

static void subscribe_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct sub_op *op = ctx;
    struct session *s = session_lookup(op->srv, op->session);
    if (!s || rooms_stomp_refused(s, op->receipt, op->room, a)) {
        sub_op_free(op);
        return;
    }
    char topic[128];
    destination_room_topic(topic, sizeof topic, op->room);
    subscribe_now(s, op, topic, room->last_seq);
}

static void subscribe_notes_cb(void *ctx, const struct room_answer *a, uint64_t last_seq)
{
    struct sub_op *op = ctx;
    struct session *s = session_lookup(op->srv, op->session);
    if (s && a->status == ROOM_FORBIDDEN) {
        session_error_receipt(s, op->receipt, "destination not allowed", a->why);
        s = NULL;
    }
    if (!s || rooms_stomp_refused(s, op->receipt, op->room, a)) {
        sub_op_free(op);
        return;
    }
    char topic[160];
    destination_notes_topic(topic, sizeof topic, op->room);
    subscribe_now(s, op, topic, last_seq);
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
        const char *slash = strchr(room, '/');
        char id[ROOM_ID_MAX];
        snprintf(id, sizeof id, "%.*s", slash ? (int)(slash - room) : (int)strlen(room), room);
        struct sub_op *op = sub_op_new(s, id, NULL);
        if (!op)
            continue;
        op->notes = slash != NULL; /* DEST_NOTES_SUFFIX: the only topic below a room's */
        if (!(op->sub_id = strdup(router_sub_id(sub)))) {
            sub_op_free(op);
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

void rooms_subscribe(struct session *s, const char *destination, const char *as_sent, unsigned alias,
                     const char *id, int ack_mode, const char *since_seq, const char *since_rev, const char *receipt)
{
    struct server *srv = session_server(s);
    if (strcmp(destination, DEST_SUPPORT_QUEUE) == 0 && !(session_roles(s) & DESK_READERS)) {
        session_error_receipt(s, receipt, "destination not allowed", "Only agents watch the support queue.");
        return;
    }
    if (strcmp(destination, DEST_SUPPORT_AGENTS) == 0 && !(session_roles(s) & DESK_READERS)) {
        session_error_receipt(s, receipt, "destination not allowed", "Only agents watch the agents.");
        return;
    }
    char room[ROOM_ID_MAX] = "";
    const char *rest = NULL;
    bool is_room = strncmp(destination, DEST_ROOM_TOPIC, strlen(DEST_ROOM_TOPIC)) == 0;
    if (is_room && (!destination_room_of(destination, DEST_ROOM_TOPIC, room, sizeof room, &rest) ||
                    (*rest && strcmp(rest, DEST_NOTES_SUFFIX + 1) != 0))) {
        session_error_receipt(s, receipt, "no such room", as_sent);
        return;
    }
    struct sub_op *op = sub_op_new(s, room, receipt);
    if (!op)
        return;
    op->notes = is_room && *rest;
    op->ack = ack_mode;
    op->alias = alias;
    if (!(op->sub_id = strdup(id))) {
        session_error_receipt(s, receipt, "internal error", "out of memory");
        sub_op_free(op);
        return;
    }
    if (since_seq) {
        if (!is_room || !query_u64(since_seq, &op->since)) {
            session_error_receipt(s, receipt, "invalid since-seq header", "Expected a sequence number on a room topic.");
            sub_op_free(op);
            return;
        }
        op->has_since = true;
    }
    if (since_rev) {
        /* Notes are not edited: a room's changes are its own topic's. */
        if (!since_seq || op->notes || !query_u64(since_rev, &op->since_rev)) {
            session_error_receipt(s, receipt, "invalid since-rev header",
                                  "Expected a revision number, with since-seq, on a room topic.");
            sub_op_free(op);
            return;
        }
        op->has_since_rev = true;
    }
    if (!is_room) {
        char resolved[300];
        if (strcmp(destination, DEST_MY_NOTIFICATIONS) == 0)
            destination_notifications_of(resolved, sizeof resolved, session_user(s));
        else if (strcmp(destination, DEST_MY_PRESENCE) == 0)
            destination_presence_of(resolved, sizeof resolved, session_user(s));
        else
            snprintf(resolved, sizeof resolved, "%s", destination);
        subscribe_now(s, op, resolved, 0);
        return;
    }
    if (op->notes)
        notes_watch(srv->rooms, room, session_user(s), session_roles(s), subscribe_notes_cb, op);
    else
        history_watch(srv->rooms, room, session_user(s), session_roles(s), subscribe_room_cb, op);
}
