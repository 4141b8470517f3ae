#include "rooms/first_response.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "plugins/storage_port.h"
#include "rooms/room_rules.h"
#include "strmap.h"

/* Messages read per page when the deadline check looks for an answer. */
#define CHECK_PAGE 100

struct wait {
    char room[ROOM_ID_MAX];
    char customer[USER_NAME_MAX + 1];
    int64_t since_ms;
    uint64_t after_seq; /* the check reads from here; moves on page by page */
    bool opening, breached;
    bool mine; /* began here: this instance checks and flags it */
    size_t at; /* its place in first_response.waits */
};

struct first_response {
    struct rooms *r;
    long long target_ms;
    struct event *timer;
    /* Sorted by since_ms (so by deadline: one target for all); each wait
     * owned here, its at kept equal to its place. */
    struct wait **waits;
    size_t n, cap;
    struct strmap by_room; /* room -> its wait in waits */
    bool checking, closing;
    char checked[ROOM_ID_MAX]; /* the wait the storage is reading for */
    int64_t check_now;
    void (*tell)(void *ctx, const struct wait_news *n);
    void *tell_ctx;
};

static void tell(const struct first_response *fr, enum wait_news_kind kind, const struct wait *w, int64_t answered_ms)
{
    if (!fr->tell || fr->closing)
        return;
    struct wait_news n = {.kind = kind, .room = w->room, .customer = w->customer, .since_ms = w->since_ms,
                          .answered_ms = answered_ms};
    fr->tell(fr->tell_ctx, &n);
}

static struct wait *find(const struct first_response *fr, const char *room_id)
{
    return fr ? strmap_get(&fr->by_room, room_id) : NULL;
}

/* The waits from i on take their places again after a move. */
static void renumber(struct first_response *fr, size_t i)
{
    for (; i < fr->n; i++)
        fr->waits[i]->at = i;
}

static void drop(struct first_response *fr, struct wait *w)
{
    size_t i = w->at;
    strmap_del(&fr->by_room, w->room);
    memmove(&fr->waits[i], &fr->waits[i + 1], (fr->n - i - 1) * sizeof *fr->waits);
    fr->n--;
    renumber(fr, i);
    free(w);
}

/* The first own wait not flagged yet: the next deadline. */
static struct wait *next_due(const struct first_response *fr)
{
    for (size_t i = 0; i < fr->n; i++)
        if (fr->waits[i]->mine && !fr->waits[i]->breached)
            return fr->waits[i];
    return NULL;
}

static void arm(struct first_response *fr)
{
    if (fr->closing || fr->checking)
        return;
    event_del(fr->timer);
    const struct wait *w = next_due(fr);
    if (fr->target_ms <= 0 || !w)
        return;
    int64_t in = w->since_ms + fr->target_ms - clock_wall_ms();
    if (in < 0)
        in = 0;
    /* One millisecond late rather than early: the wait must be past it. */
    in += 1;
    struct timeval tv = {(time_t)(in / 1000), (suseconds_t)((in % 1000) * 1000)};
    event_add(fr->timer, &tv);
}

static void check_next(struct first_response *fr);

/* The wait ended with an answer at at_ms: counted where it began (the
 * opening's first response), told to the others when told is set. */
static void answered(struct first_response *fr, struct wait *w, int64_t at_ms, bool told)
{
    struct metrics *m = fr->r->metrics;
    if (m && w->mine && w->opening)
        metrics_observe_wait(m->first_response, &m->first_response_sum, at_ms - w->since_ms);
    if (told)
        tell(fr, WAIT_ENDED, w, at_ms);
    drop(fr, w);
}

static void flag(struct first_response *fr, struct wait *w)
{
    w->breached = true;
    if (fr->r->metrics)
        fr->r->metrics->first_response_breaches++;
    fr->r->events.sla_breached(fr->r->events.ctx, w->room, w->customer, w->since_ms, fr->target_ms);
    tell(fr, WAIT_FLAGGED, w, 0);
}

static bool is_answer(const struct wait *w, const struct chatd_message *m)
{
    return m->kind != CHATD_MESSAGE_SYSTEM && m->sender && m->sender[0] && strcmp(m->sender, w->customer) != 0;
}

static void read_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct first_response *fr = ctx;
    fr->checking = false;
    if (fr->closing)
        return;
    struct wait *w = find(fr, fr->checked);
    if (w && !w->breached) {
        bool done = false;
        for (size_t k = 0; st == CHATD_OK && k < n && !done; k++) {
            if (msgs[k].seq > w->after_seq)
                w->after_seq = msgs[k].seq;
            if (is_answer(w, &msgs[k])) {
                answered(fr, w, msgs[k].ts_ms, true); /* w is gone */
                done = true;
            }
        }
        if (!done && st == CHATD_OK && n == CHECK_PAGE) {
            check_next(fr); /* the same wait, on from the page's end */
            return;
        }
        if (!done) {
            if (st != CHATD_OK)
                log_warn("first response check of room %s: %s; flagged unread", w->room, chatd_strerror(st));
            flag(fr, w);
        }
    }
    check_next(fr);
}

/* The next wait at its deadline: read what was said since it began. */
static void check_next(struct first_response *fr)
{
    if (fr->closing || fr->checking)
        return;
    const struct wait *w = next_due(fr);
    if (fr->target_ms <= 0 || !w || w->since_ms + fr->target_ms >= fr->check_now) {
        arm(fr);
        return;
    }
    snprintf(fr->checked, sizeof fr->checked, "%s", w->room);
    fr->checking = true;
    void *state;
    storage_ops(fr->r->storage, &state)->message_list(state, w->room, 0, w->after_seq, CHECK_PAGE, read_cb, fr);
}

void first_response_check(struct first_response *fr, int64_t now_ms)
{
    if (!fr)
        return;
    fr->check_now = now_ms;
    check_next(fr);
}

static void timer_cb(evutil_socket_t fd, short what, void *ctx)
{
    (void)fd, (void)what;
    first_response_check(ctx, clock_wall_ms());
}

struct first_response *first_response_new(struct rooms *r, struct event_base *base, long long target_ms)
{
    struct first_response *fr = calloc(1, sizeof *fr);
    if (!fr)
        return NULL;
    fr->r = r;
    fr->target_ms = target_ms;
    strmap_init(&fr->by_room);
    if (!(fr->timer = evtimer_new(base, timer_cb, fr))) {
        free(fr);
        return NULL;
    }
    return fr;
}

void first_response_set_target(struct first_response *fr, long long target_ms)
{
    if (!fr || fr->closing)
        return;
    fr->target_ms = target_ms;
    arm(fr);
}

void first_response_close(struct first_response *fr)
{
    if (!fr)
        return;
    fr->closing = true;
    event_del(fr->timer);
}

void first_response_free(struct first_response *fr)
{
    if (!fr)
        return;
    event_free(fr->timer);
    for (size_t i = 0; i < fr->n; i++)
        free(fr->waits[i]);
    free(fr->waits);
    strmap_free(&fr->by_room);
    free(fr);
}

/* Room for one more wait: the array grows up to the bound, then the oldest
 * flagged wait goes, or else the oldest copy of another instance's. */
static bool make_room(struct first_response *fr)
{
    if (fr->n < fr->cap)
        return true;
    if (fr->cap < FIRST_RESPONSE_MAX_WAITS) {
        size_t cap = fr->cap ? fr->cap * 2 : 16;
        if (cap > FIRST_RESPONSE_MAX_WAITS)
            cap = FIRST_RESPONSE_MAX_WAITS;
        struct wait **w = realloc(fr->waits, cap * sizeof *w);
        if (!w)
            return false;
        fr->waits = w;
        fr->cap = cap;
        return true;
    }
    for (size_t i = 0; i < fr->n; i++)
        if (fr->waits[i]->breached) {
            drop(fr, fr->waits[i]);
            return true;
        }
    for (size_t i = 0; i < fr->n; i++)
        if (!fr->waits[i]->mine) {
            drop(fr, fr->waits[i]);
            return true;
        }
    return false;
}

/* A wait kept from now on (replacing one of the room's): mine or a copy. */
static struct wait *keep(struct first_response *fr, const char *room_id, const char *customer, int64_t since_ms)
{
    struct wait *old = find(fr, room_id);
    if (old)
        drop(fr, old);
    if (!make_room(fr)) {
        log_warn("first response of room %s not watched: %zu waits kept already", room_id, fr->n);
        return NULL;
    }
    struct wait *w = calloc(1, sizeof *w);
    if (!w || strmap_put(&fr->by_room, room_id, w) < 0) {
        log_warn("first response of room %s not watched: out of memory", room_id);
        free(w);
        return NULL;
    }
    snprintf(w->room, sizeof w->room, "%s", room_id);
    snprintf(w->customer, sizeof w->customer, "%s", customer);
    w->since_ms = since_ms;
    size_t at = fr->n;
    while (at > 0 && fr->waits[at - 1]->since_ms > since_ms)
        at--;
    memmove(&fr->waits[at + 1], &fr->waits[at], (fr->n - at) * sizeof *fr->waits);
    fr->waits[at] = w;
    fr->n++;
    renumber(fr, at);
    return w;
}

void first_response_wait(struct first_response *fr, const char *room_id, const char *customer, int64_t since_ms,
                         uint64_t after_seq, bool opening)
{
    /* A longer id names no room (and would be kept cut short). */
    if (!fr || fr->closing || !room_id || !customer || strlen(room_id) >= ROOM_ID_MAX)
        return;
    struct wait *w = keep(fr, room_id, customer, since_ms);
    if (!w)
        return;
    w->after_seq = after_seq;
    w->opening = opening;
    w->mine = true;
    tell(fr, WAIT_BEGAN, w, 0);
    arm(fr);
}

void first_response_message(struct first_response *fr, const struct chatd_message *m)
{
    if (!fr || !m || !m->room)
        return;
    struct wait *w = find(fr, m->room);
    if (!w || !is_answer(w, m))
        return;
    answered(fr, w, m->ts_ms, true);
    arm(fr);
}

void first_response_forget(struct first_response *fr, const char *room_id)
{
    struct wait *w = room_id ? find(fr, room_id) : NULL;
    if (!w)
        return;
    tell(fr, WAIT_ENDED, w, 0);
    drop(fr, w);
    arm(fr);
}

void first_response_on_news(struct first_response *fr, void (*fn)(void *ctx, const struct wait_news *n), void *ctx)
{
    if (!fr)
        return;
    fr->tell = fn;
    fr->tell_ctx = ctx;
}

void first_response_ask(struct first_response *fr)
{
    if (!fr || !fr->tell || fr->closing)
        return;
    fr->tell(fr->tell_ctx, &(struct wait_news){.kind = WAIT_ASKED, .room = ""});
}

/* Every wait of this instance's own, told again for one that asked. */
static void tell_again(const struct first_response *fr)
{
    for (size_t i = 0; i < fr->n; i++)
        if (fr->waits[i]->mine)
            tell(fr, fr->waits[i]->breached ? WAIT_FLAGGED : WAIT_BEGAN, fr->waits[i], 0);
}

void first_response_heard(struct first_response *fr, const struct wait_news *n)
{
    if (fr && !fr->closing && n && n->kind == WAIT_ASKED) {
        tell_again(fr);
        return;
    }
    if (!fr || fr->closing || !n || !n->room || !n->room[0] || strlen(n->room) >= ROOM_ID_MAX)
        return;
    struct wait *kept = find(fr, n->room);
    /* News of an older wait than the one kept here is stale (it crossed a
     * newer one on the way). */
    if (kept && n->since_ms < kept->since_ms && !(n->kind == WAIT_ENDED && n->answered_ms == 0))
        return;
    switch (n->kind) {
    case WAIT_BEGAN:
    case WAIT_FLAGGED: {
        if (!n->customer || !n->customer[0] || strlen(n->customer) > USER_NAME_MAX)
            return;
        if (kept && n->kind == WAIT_FLAGGED && kept->since_ms == n->since_ms) {
            kept->breached = true;
            return;
        }
        /* A wait begun elsewhere supersedes the one kept here (a transfer
         * back to the queue there): that instance checks it from now. */
        struct wait *w = keep(fr, n->room, n->customer, n->since_ms);
        if (w)
            w->breached = n->kind == WAIT_FLAGGED;
        break;
    }
    case WAIT_ENDED: /* an answer there, or the room completed or closed there */
        if (!kept)
            return;
        if (n->answered_ms > 0)
            answered(fr, kept, n->answered_ms, false);
        else
            drop(fr, kept);
        break;
    default:
        return;
    }
    arm(fr);
}

bool first_response_of(const struct first_response *fr, const char *room_id, int64_t *since_ms, bool *breached)
{
    const struct wait *w = room_id ? find(fr, room_id) : NULL;
    if (!w)
        return false;
    *since_ms = w->since_ms;
    *breached = w->breached;
    return true;
}

void first_response_counts(const struct first_response *fr, size_t *waiting, size_t *breached)
{
    *waiting = *breached = 0;
    for (size_t i = 0; fr && i < fr->n; i++)
        if (fr->waits[i]->mine) {
            (*waiting)++;
            *breached += fr->waits[i]->breached;
        }
}

bool first_response_sound(const struct first_response *fr)
{
    if (!fr || fr->by_room.count != fr->n || fr->n > FIRST_RESPONSE_MAX_WAITS)
        return false;
    for (size_t i = 0; i < fr->n; i++) {
        const struct wait *w = fr->waits[i];
        if (w->at != i || find(fr, w->room) != w || (i > 0 && fr->waits[i - 1]->since_ms > w->since_ms))
            return false;
    }
    return true;
}
