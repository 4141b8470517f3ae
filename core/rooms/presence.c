#include "rooms/presence.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "rooms/presence_status.h"
#include "log.h"
#include "server.h"
#include "strmap.h"

#define KEY_MAX 600

/* What one other instance told us. Values are unused (set membership). */
struct remote {
    struct strmap users;
    struct strmap watches; /* "user US room" */
    struct strmap agents;  /* agents online there */
    struct strmap away;    /* agents away, as that instance keeps it */
    int64_t seen_ms;
};

struct presence {
    struct server *srv;
    char id[32];
    struct strmap users;   /* user -> (uintptr_t) local sessions */
    struct strmap watches; /* "user US room" -> (uintptr_t) local subscriptions */
    struct strmap remotes; /* instance id -> struct remote */
    struct strmap agents;  /* agent -> (uintptr_t) local agent sessions */
    struct strmap away;    /* agents away by their choice, kept here */
    struct strmap known;   /* every agent heard of (GET /api/agents) */
    void (*agents_cb)(void *ctx);
    void *agents_ctx;
    void (*route_cb)(void *ctx); /* another instance asked for a routing pass */
    void *route_ctx;
    bool route_asked;            /* this instance asks, in its next delta */
    struct status_book *book; /* clients' presence: told statuses, last seen */
    struct event *grace;      /* the earliest offline grace ends */
    void (*status_cb)(void *ctx, const char *user, enum user_status status, int64_t last_seen_ms);
    void *status_ctx;
    json_t *seen;             /* user -> when their last session here ended, not yet published */
    json_t *on, *off, *watch, *unwatch; /* transitions not yet published */
    json_t *ag_on, *ag_off, *aw, *back; /* agents' transitions not yet published */
    struct event *flush;   /* end of this loop turn: publish the transitions */
    struct event *tick;    /* snapshot + expiry */
    bool started;
    int64_t started_ms;
};

static bool watch_key(char *key, const char *user, const char *room)
{
    return (size_t)snprintf(key, KEY_MAX, "%s\x1f%s", user, room) < KEY_MAX;
}

static void publish(struct presence *p, json_t *event)
{
    char *text = event ? json_dumps(event, JSON_COMPACT) : NULL;
    json_decref(event);
    if (!text)
        return;
    void *state;
    chatd_status st = broker_ops(&p->srv->broker_port, &state)->publish(state, PRESENCE_CHANNEL, text, strlen(text));
    if (st != CHATD_OK)
        log_debug("presence not published: %s", chatd_strerror(st));
    free(text);
}

static json_t *pair_array(const char *key)
{
    const char *us = strchr(key, '\x1f');
    if (!us)
        return NULL;
    return json_pack("[s%s]", key, (size_t)(us - key), us + 1);
}

static void add_seen(void *ctx, const char *user, int64_t wall_ms)
{
    json_object_set_new(ctx, user, json_integer(wall_ms));
}

/* A newcomer (or an instance back from an outage) learns from the
 * snapshots answering its hello who was last seen when; the periodic
 * ones leave it out (it only grows, and deltas carry each change). */
static void publish_snapshot(struct presence *p, bool hello, bool with_seen)
{
    json_t *seen = NULL;
    if (with_seen && (seen = json_object()))
        status_book_each_seen(p->book, add_seen, seen);
    json_t *users = json_array(), *watches = json_array();
    size_t pos = 0;
    const char *key;
    void *value;
    while (users && strmap_next(&p->users, &pos, &key, &value))
        json_array_append_new(users, json_string(key));
    pos = 0;
    while (watches && strmap_next(&p->watches, &pos, &key, &value))
        json_array_append_new(watches, pair_array(key));
    json_t *agents = json_array(), *away = json_array();
    pos = 0;
    while (agents && strmap_next(&p->agents, &pos, &key, &value))
        json_array_append_new(agents, json_string(key));
    pos = 0;
    while (away && strmap_next(&p->away, &pos, &key, &value))
        json_array_append_new(away, json_string(key));
    publish(p, json_pack("{s:s, s:s, s:b, s:o*, s:o*, s:o*, s:o*, s:o*}", "i", p->id, "t", "snap", "hello", hello,
                         "users", users, "watch", watches, "agents", agents, "away", away, "seen", seen));
    /* A snapshot supersedes what was pending. */
    json_array_clear(p->on);
    json_array_clear(p->off);
    json_array_clear(p->watch);
    json_array_clear(p->unwatch);
    json_array_clear(p->ag_on);
    json_array_clear(p->ag_off);
    json_array_clear(p->aw);
    json_array_clear(p->back);
    json_object_clear(p->seen);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct presence *p = arg;
    if (!json_array_size(p->on) && !json_array_size(p->off) && !json_array_size(p->watch) &&
        !json_array_size(p->unwatch) && !json_array_size(p->ag_on) && !json_array_size(p->ag_off) &&
        !json_array_size(p->aw) && !json_array_size(p->back) && !json_object_size(p->seen) && !p->route_asked)
        return;
    publish(p, json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:b}", "i", p->id, "t", "delta",
                         "on", p->on, "off", p->off, "w", p->watch, "uw", p->unwatch, "agon", p->ag_on, "agoff",
                         p->ag_off, "aw", p->aw, "back", p->back, "ls", p->seen, "rq", p->route_asked));
    p->route_asked = false;
    json_object_clear(p->seen);
    json_array_clear(p->ag_on);
    json_array_clear(p->ag_off);
    json_array_clear(p->aw);
    json_array_clear(p->back);
    json_array_clear(p->on);
    json_array_clear(p->off);
    json_array_clear(p->watch);
    json_array_clear(p->unwatch);
}

/* ------------------------------------------------ clients' presence */

static enum user_status live_of(void *ctx, const char *user)
{
    const struct presence *p = ctx;
    if (!presence_online(p, user))
        return USER_OFFLINE;
    return presence_away(p, user) ? USER_AWAY : USER_ONLINE;
}

static void on_grace(evutil_socket_t fd, short what, void *arg);

static void arm_grace(struct presence *p)
{
    int64_t next = status_book_next_deadline(p->book);
    if (next < 0) {
        event_del(p->grace);
        return;
    }
    int64_t wait = next - clock_mono_ms();
    if (wait < 0)
        wait = 0;
    struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
    event_add(p->grace, &tv);
}

static void tell_status(struct presence *p, const char *user, enum user_status status)
{
    if (p->status_cb)
        p->status_cb(p->status_ctx, user, status, status == USER_OFFLINE ? status_book_last_seen(p->book, user) : 0);
}

/* The status book under the limit the settings have now (a reload may
 * change it). */
static struct status_book *book_of(struct presence *p)
{
    status_book_set_limit(p->book, (size_t)p->srv->settings.last_seen_max);
    return p->book;
}

/* What the cluster says of user may have changed; local: this instance
 * made the change, so it tells it. */
static void status_changed(struct presence *p, const char *user, bool local)
{
    enum user_status tell;
    if (status_book_change(book_of(p), user, live_of(p, user), local, clock_mono_ms(), p->srv->settings.offline_grace_ms,
                           &tell))
        tell_status(p, user, tell);
    arm_grace(p);
}

static void offline_told(void *ctx, const char *user, int64_t last_seen_ms)
{
    struct presence *p = ctx;
    (void)last_seen_ms;
    tell_status(p, user, USER_OFFLINE);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct presence *p = arg;
    status_book_expire(p->book, clock_mono_ms(), live_of, offline_told, p);
    arm_grace(p);
}

void presence_on_status(struct presence *p,
                        void (*fn)(void *ctx, const char *user, enum user_status status, int64_t last_seen_ms),
                        void *ctx)
{
    p->status_cb = fn;
    p->status_ctx = ctx;
}

enum user_status presence_user_status(const struct presence *p, const char *user, int64_t *last_seen_ms)
{
    enum user_status st = status_book_told(p->book, user);
    *last_seen_ms = st == USER_OFFLINE ? status_book_last_seen(p->book, user) : 0;
    return st;
}

/* An instance gone (said bye, or not heard of): its users' sessions
 * ended with it. The one that routes (the leader) tells who is offline
 * now, and when they were last seen. */
static void remote_gone(struct presence *p, struct remote *r)
{
    bool leader = presence_is_leader(p);
    int64_t now = clock_wall_ms();
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&r->users, &pos, &key, &value))
        if (!presence_online(p, key)) {
            if (leader)
                status_book_seen(book_of(p), key, now);
            status_changed(p, key, leader);
        }
}

static void remote_free(struct remote *r)
{
    strmap_free(&r->users);
    strmap_free(&r->watches);
    strmap_free(&r->agents);
    strmap_free(&r->away);
    free(r);
}

static void agents_changed(struct presence *p)
{
    if (p->agents_cb)
        p->agents_cb(p->agents_ctx);
}

/* An agent offline everywhere is no longer away. */
static void drop_stale_away(struct presence *p)
{
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&p->away, &pos, &key, &value))
        if (!presence_online(p, key) && !status_book_in_grace(p->book, key)) {
            char user[KEY_MAX];
            snprintf(user, sizeof user, "%s", key);
            presence_set_away(p, user, false);
            pos = 0;
        }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct presence *p = arg;
    publish_snapshot(p, false, false);
    int64_t now = clock_mono_ms(), expiry = 3 * p->srv->settings.presence_interval_ms;
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&p->remotes, &pos, &key, &value)) {
        struct remote *r = value;
        if (now - r->seen_ms > expiry) {
            log_info("presence: instance %s not heard of for %lld ms; forgotten", key, (long long)expiry);
            char id[32];
            snprintf(id, sizeof id, "%s", key);
            strmap_del(&p->remotes, id);
            remote_gone(p, r);
            remote_free(r);
            pos = 0; /* the table may have moved */
            agents_changed(p);
        }
    }
    drop_stale_away(p);
}

struct presence *presence_new(struct server *srv)
{
    struct presence *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->srv = srv;
    snprintf(p->id, sizeof p->id, "%s", srv->instance);
    strmap_init(&p->users);
    strmap_init(&p->watches);
    strmap_init(&p->remotes);
    strmap_init(&p->agents);
    strmap_init(&p->away);
    strmap_init(&p->known);
    p->ag_on = json_array();
    p->ag_off = json_array();
    p->aw = json_array();
    p->back = json_array();
    p->on = json_array();
    p->off = json_array();
    p->watch = json_array();
    p->unwatch = json_array();
    p->seen = json_object();
    p->book = status_book_new();
    p->grace = event_new(srv->base, -1, 0, on_grace, p);
    p->flush = event_new(srv->base, -1, 0, on_flush, p);
    p->tick = event_new(srv->base, -1, EV_PERSIST, on_tick, p);
    if (!p->on || !p->off || !p->watch || !p->unwatch || !p->ag_on || !p->ag_off || !p->aw || !p->back ||
        !p->flush || !p->tick || !p->seen || !p->book || !p->grace) {
        presence_free(p);
        return NULL;
    }
    return p;
}

void presence_free(struct presence *p)
{
    if (!p)
        return;
    if (p->started)
        publish(p, json_pack("{s:s, s:s}", "i", p->id, "t", "bye"));
    if (p->flush)
        event_free(p->flush);
    if (p->tick)
        event_free(p->tick);
    if (p->grace)
        event_free(p->grace);
    status_book_free(p->book);
    json_decref(p->seen);
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&p->remotes, &pos, &key, &value))
        remote_free(value);
    strmap_free(&p->remotes);
    strmap_free(&p->users);
    strmap_free(&p->watches);
    strmap_free(&p->agents);
    strmap_free(&p->away);
    strmap_free(&p->known);
    json_decref(p->ag_on);
    json_decref(p->ag_off);
    json_decref(p->aw);
    json_decref(p->back);
    json_decref(p->on);
    json_decref(p->off);
    json_decref(p->watch);
    json_decref(p->unwatch);
    free(p);
}

void presence_start(struct presence *p)
{
    void *state;
    chatd_status st = broker_ops(&p->srv->broker_port, &state)->subscribe(state, PRESENCE_CHANNEL);
    if (st != CHATD_OK)
        log_warn("presence channel not subscribed: %s", chatd_strerror(st));
    long long ms = p->srv->settings.presence_interval_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(p->tick, &tv);
    p->started = true;
    p->started_ms = clock_mono_ms();
    publish_snapshot(p, true, true);
}

void presence_broker_ready(struct presence *p)
{
    if (p && p->started)
        publish_snapshot(p, true, true);
}

static void note(struct presence *p, json_t *list, json_t *item)
{
    if (!item)
        return;
    json_array_append_new(list, item);
    if (p->started)
        event_active(p->flush, 0, 0);
}

/* Count up or down; true when the key crossed zero either way. */
static bool count(struct strmap *m, const char *key, int delta)
{
    uintptr_t n = (uintptr_t)strmap_get(m, key);
    if (delta > 0) {
        if (strmap_put(m, key, (void *)(n + 1)) < 0)
            return false;
        return n == 0;
    }
    if (n > 1) {
        strmap_put(m, key, (void *)(n - 1));
        return false;
    }
    if (n == 1) {
        strmap_del(m, key);
        return true;
    }
    return false;
}

void presence_user(struct presence *p, const char *user, int delta)
{
    if (!count(&p->users, user, delta))
        return;
    if (delta < 0) {
        int64_t now = clock_wall_ms();
        status_book_seen(book_of(p), user, now);
        json_object_set_new(p->seen, user, json_integer(now));
    }
    note(p, delta > 0 ? p->on : p->off, json_string(user));
    status_changed(p, user, true);
}

void presence_watch(struct presence *p, const char *user, const char *room, int delta)
{
    char key[KEY_MAX];
    if (watch_key(key, user, room) && count(&p->watches, key, delta))
        note(p, delta > 0 ? p->watch : p->unwatch, json_pack("[ss]", user, room));
}

void presence_agent(struct presence *p, const char *user, int delta)
{
    strmap_put(&p->known, user, (void *)1);
    if (count(&p->agents, user, delta)) {
        note(p, delta > 0 ? p->ag_on : p->ag_off, json_string(user));
        if (delta < 0 && !presence_online(p, user) && presence_away(p, user))
            presence_set_away(p, user, false);
        agents_changed(p);
    }
}

/* Whoever keeps it: every instance drops it on hearing "back". True when
 * it was away anywhere. */
static bool away_clear(struct presence *p, const char *user)
{
    bool was = presence_away(p, user);
    strmap_del(&p->away, user);
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&p->remotes, &pos, &key, &value))
        strmap_del(&((struct remote *)value)->away, user);
    return was;
}

void presence_set_user_away(struct presence *p, const char *user, bool away)
{
    if (away) {
        if (strmap_get(&p->away, user))
            return;
        strmap_put(&p->away, user, (void *)1);
        log_debug("presence: %s away", user);
        note(p, p->aw, json_string(user));
    } else {
        if (!away_clear(p, user))
            return;
        log_debug("presence: %s back", user);
        note(p, p->back, json_string(user));
    }
    status_changed(p, user, true);
    agents_changed(p);
}

void presence_set_away(struct presence *p, const char *user, bool away)
{
    strmap_put(&p->known, user, (void *)1);
    presence_set_user_away(p, user, away);
}

bool presence_away(const struct presence *p, const char *user)
{
    if (strmap_get(&p->away, user))
        return true;
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&p->remotes, &pos, &key, &value))
        if (strmap_get(&((struct remote *)value)->away, user))
            return true;
    return false;
}

void presence_each_agent(const struct presence *p, void (*fn)(void *ctx, const char *agent), void *ctx)
{
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&p->known, &pos, &key, &value))
        fn(ctx, key);
}

void presence_ask_route(struct presence *p)
{
    p->route_asked = true;
    if (p->started)
        event_active(p->flush, 0, 0);
}

void presence_on_route_request(struct presence *p, void (*fn)(void *ctx), void *ctx)
{
    p->route_cb = fn;
    p->route_ctx = ctx;
}

void presence_on_agents(struct presence *p, void (*fn)(void *ctx), void *ctx)
{
    p->agents_cb = fn;
    p->agents_ctx = ctx;
}

bool presence_is_leader(const struct presence *p)
{
    /* Until the others' answers to our hello arrived, we do not know them. */
    if (!p->started || clock_mono_ms() - p->started_ms < 1000)
        return false;
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&p->remotes, &pos, &key, &value))
        if (strcmp(key, p->id) < 0)
            return false;
    return true;
}

bool presence_online(const struct presence *p, const char *user)
{
    if (strmap_get(&p->users, user))
        return true;
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&p->remotes, &pos, &key, &value))
        if (strmap_get(&((struct remote *)value)->users, user))
            return true;
    return false;
}

bool presence_watching(const struct presence *p, const char *user, const char *room)
{
    char key[KEY_MAX];
    if (!watch_key(key, user, room))
        return false;
    if (strmap_get(&p->watches, key))
        return true;
    size_t pos = 0;
    const char *k;
    void *value;
    while (strmap_next(&p->remotes, &pos, &k, &value))
        if (strmap_get(&((struct remote *)value)->watches, key))
            return true;
    return false;
}

void presence_stats(const struct presence *p, struct presence_stats *out)
{
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&p->remotes, &pos, &key, &value)) {
        const struct remote *r = value;
        out->peers++;
        out->remote_users += r->users.count;
        out->remote_watches += r->watches.count;
    }
    out->known_users = status_book_count(p->book);
}

static void apply_users(struct strmap *m, json_t *list, bool add)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v))
            continue;
        if (add)
            strmap_put(m, json_string_value(v), (void *)1);
        else
            strmap_del(m, json_string_value(v));
    }
}

static void apply_watches(struct strmap *m, json_t *list, bool add)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *user, *room;
        char key[KEY_MAX];
        if (json_unpack(v, "[ss]", &user, &room) < 0 || !watch_key(key, user, room))
            continue;
        if (add)
            strmap_put(m, key, (void *)1);
        else
            strmap_del(m, key);
    }
}

/* Last-seen times another instance sends: {"user": wall ms, ...}. */
static void apply_seen(struct presence *p, json_t *seen)
{
    const char *user;
    json_t *v;
    json_object_foreach(seen, user, v)
    {
        if (json_is_integer(v))
            status_book_seen(book_of(p), user, json_integer_value(v));
    }
}

/* Users whose status another instance changed: those named in list. */
static void remote_changed(struct presence *p, json_t *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v))
            status_changed(p, json_string_value(v), false);
    }
}

/* Agents whose last session ended on another instance: an away this
 * instance keeps ends with it, as it does where the session ended (that
 * instance may not have heard of the away yet). */
static void away_ended_elsewhere(struct presence *p, json_t *gone)
{
    size_t i;
    json_t *v;
    json_array_foreach(gone, i, v)
    {
        const char *user = json_string_value(v);
        if (user && strmap_get(&p->away, user) && !presence_online(p, user))
            presence_set_away(p, user, false);
    }
}

/* Users in one set and not the other: a snapshot said what deltas missed. */
static void set_differences(struct presence *p, const struct strmap *a, const struct strmap *b)
{
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(a, &pos, &key, &value))
        if (!strmap_get(b, key))
            status_changed(p, key, false);
}

void presence_deliver(struct presence *p, const void *data, size_t len)
{
    json_t *ev = json_loadb(data, len, 0, NULL);
    const char *id, *type;
    if (!ev || json_unpack(ev, "{s:s, s:s}", "i", &id, "t", &type) < 0 || strlen(id) >= sizeof p->id) {
        log_warn("presence event could not be parsed; dropped");
        json_decref(ev);
        return;
    }
    if (strcmp(id, p->id) == 0) {
        json_decref(ev);
        return;
    }
    struct remote *r = strmap_get(&p->remotes, id);
    if (strcmp(type, "bye") == 0) {
        if (r) {
            strmap_del(&p->remotes, id);
            remote_gone(p, r);
            remote_free(r);
        }
        json_decref(ev);
        return;
    }
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) {
            json_decref(ev);
            return;
        }
        strmap_init(&r->users);
        strmap_init(&r->watches);
        strmap_init(&r->agents);
        strmap_init(&r->away);
        if (strmap_put(&p->remotes, id, r) < 0) {
            remote_free(r);
            json_decref(ev);
            return;
        }
        log_info("presence: instance %s joined", id);
    }
    r->seen_ms = clock_mono_ms();
    if (strcmp(type, "snap") == 0) {
        struct strmap old_users = r->users, old_away = r->away;
        strmap_free(&r->watches);
        strmap_free(&r->agents);
        strmap_init(&r->users);
        strmap_init(&r->watches);
        strmap_init(&r->agents);
        strmap_init(&r->away);
        apply_users(&r->users, json_object_get(ev, "users"), true);
        apply_watches(&r->watches, json_object_get(ev, "watch"), true);
        apply_users(&r->agents, json_object_get(ev, "agents"), true);
        apply_users(&r->away, json_object_get(ev, "away"), true);
        apply_users(&p->known, json_object_get(ev, "agents"), true);
        apply_seen(p, json_object_get(ev, "seen"));
        set_differences(p, &old_users, &r->users);
        set_differences(p, &r->users, &old_users);
        set_differences(p, &old_away, &r->away);
        set_differences(p, &r->away, &old_away);
        strmap_free(&old_users);
        strmap_free(&old_away);
        agents_changed(p);
        if (json_is_true(json_object_get(ev, "hello")))
            publish_snapshot(p, false, true); /* a newcomer, or one back from an outage */
    } else if (strcmp(type, "delta") == 0) {
        apply_users(&r->users, json_object_get(ev, "on"), true);
        apply_users(&r->users, json_object_get(ev, "off"), false);
        apply_watches(&r->watches, json_object_get(ev, "w"), true);
        apply_watches(&r->watches, json_object_get(ev, "uw"), false);
        apply_users(&r->agents, json_object_get(ev, "agon"), true);
        apply_users(&p->known, json_object_get(ev, "agon"), true);
        apply_users(&r->agents, json_object_get(ev, "agoff"), false);
        apply_users(&r->away, json_object_get(ev, "aw"), true);
        json_t *back = json_object_get(ev, "back");
        size_t i;
        json_t *v;
        json_array_foreach(back, i, v)
        {
            if (json_is_string(v))
                away_clear(p, json_string_value(v));
        }
        apply_seen(p, json_object_get(ev, "ls"));
        remote_changed(p, json_object_get(ev, "on"));
        remote_changed(p, json_object_get(ev, "off"));
        remote_changed(p, json_object_get(ev, "aw"));
        remote_changed(p, back);
        away_ended_elsewhere(p, json_object_get(ev, "agoff"));
        if (json_array_size(json_object_get(ev, "agon")) || json_array_size(json_object_get(ev, "agoff")) ||
            json_array_size(json_object_get(ev, "aw")) || json_array_size(back))
            agents_changed(p);
        if (json_is_true(json_object_get(ev, "rq")) && p->route_cb)
            p->route_cb(p->route_ctx);
    }
    json_decref(ev);
}
