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

/* Messages read per page when the deadline check looks for an answer. */
#define CHECK_PAGE 100

struct wait {
    char room[ROOM_ID_MAX];
    char customer[USER_NAME_MAX + 1];
    int64_t since_ms;
    uint64_t after_seq; /* the check reads from here; moves on page by page */
    bool opening, breached;
    bool mine; /* began here: this instance checks and flags it */
};

struct first_response {
    struct rooms *r;
    long long target_ms;
    struct event *timer;
    /* Sorted by since_ms (so by deadline: one target for all). */
    struct wait *waits;
    size_t n, cap;
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

static long find(const struct first_response *fr, const char *room_id)
{
    for (size_t i = 0; fr && i < fr->n; i++)
        if (strcmp(fr->waits[i].room, room_id) == 0)
            return (long)i;
    return -1;
}

static void drop(struct first_response *fr, size_t i)
{
    memmove(&fr->waits[i], &fr->waits[i + 1], (fr->n - i - 1) * sizeof *fr->waits);
    fr->n--;
}

/* The first own wait not flagged yet: the next deadline. */
static long next_due(const struct first_response *fr)
{
    for (size_t i = 0; i < fr->n; i++)
        if (fr->waits[i].mine && !fr->waits[i].breached)
            return (long)i;
    return -1;
}

static void arm(struct first_response *fr)
{
    if (fr->closing || fr->checking)
        return;
    event_del(fr->timer);
    long i = next_due(fr);
    if (fr->target_ms <= 0 || i < 0)
        return;
    int64_t in = fr->waits[i].since_ms + fr->target_ms - clock_wall_ms();
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
static void answered(struct first_response *fr, size_t i, int64_t at_ms, bool told)
{
    struct metrics *m = fr->r->metrics;
    if (m && fr->waits[i].mine && fr->waits[i].opening)
        metrics_observe_wait(m->first_response, &m->first_response_sum, at_ms - fr->waits[i].since_ms);
    if (told)
        tell(fr, WAIT_ENDED, &fr->waits[i], at_ms);
    drop(fr, i);
}

static void flag(struct first_response *fr, size_t i)
{
    struct wait *w = &fr->waits[i];
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
    long i = find(fr, fr->checked);
    if (i >= 0 && !fr->waits[i].breached) {
        struct wait *w = &fr->waits[i];
        bool done = false;
        for (size_t k = 0; st == CHATD_OK && k < n && !done; k++) {
            if (msgs[k].seq > w->after_seq)
                w->after_seq = msgs[k].seq;
            if (is_answer(w, &msgs[k])) {
                answered(fr, (size_t)i, msgs[k].ts_ms, true);
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
            flag(fr, (size_t)i);
        }
    }
    check_next(fr);
}

/* The next wait at its deadline: read what was said since it began. */
static void check_next(struct first_response *fr)
{
    if (fr->closing || fr->checking)
        return;
    long i = next_due(fr);
    if (fr->target_ms <= 0 || i < 0 || fr->waits[i].since_ms + fr->target_ms >= fr->check_now) {
        arm(fr);
        return;
    }
    struct wait *w = &fr->waits[i];
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
    free(fr->waits);
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
        struct wait *w = realloc(fr->waits, cap * sizeof *w);
        if (!w)
            return false;
        fr->waits = w;
        fr->cap = cap;
        return true;
    }
    for (size_t i = 0; i < fr->n; i++)
        if (fr->waits[i].breached) {
            drop(fr, i);
            return true;
        }
    for (size_t i = 0; i < fr->n; i++)
        if (!fr->waits[i].mine) {
            drop(fr, i);
            return true;
        }
    return false;
}

/* A wait kept from now on (replacing one of the room's): mine or a copy. */
static struct wait *keep(struct first_response *fr, const char *room_id, const char *customer, int64_t since_ms)
{
    long old = find(fr, room_id);
    if (old >= 0)
        drop(fr, (size_t)old);
    if (!make_room(fr)) {
        log_warn("first response of room %s not watched: %zu waits kept already", room_id, fr->n);
        return NULL;
    }
    size_t at = fr->n;
    while (at > 0 && fr->waits[at - 1].since_ms > since_ms)
        at--;
    memmove(&fr->waits[at + 1], &fr->waits[at], (fr->n - at) * sizeof *fr->waits);
    struct wait *w = &fr->waits[at];
    memset(w, 0, sizeof *w);
    snprintf(w->room, sizeof w->room, "%s", room_id);
    snprintf(w->customer, sizeof w->customer, "%s", customer);
    w->since_ms = since_ms;
    fr->n++;
    return w;
}

void first_response_wait(struct first_response *fr, const char *room_id, const char *customer, int64_t since_ms,
                         uint64_t after_seq, bool opening)
{
    if (!fr || fr->closing || !room_id || !customer)
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
    long i = find(fr, m->room);
    if (i < 0 || !is_answer(&fr->waits[i], m))
        return;
    answered(fr, (size_t)i, m->ts_ms, true);
    arm(fr);
}

void first_response_forget(struct first_response *fr, const char *room_id)
{
    long i = room_id ? find(fr, room_id) : -1;
    if (i < 0)
        return;
    tell(fr, WAIT_ENDED, &fr->waits[i], 0);
    drop(fr, (size_t)i);
    arm(fr);
}

void first_response_on_news(struct first_response *fr, void (*fn)(void *ctx, const struct wait_news *n), void *ctx)
{
    if (!fr)
        return;
    fr->tell = fn;
    fr->tell_ctx = ctx;
}

void first_response_heard(struct first_response *fr, const struct wait_news *n)
{
    if (!fr || fr->closing || !n || !n->room || !n->room[0] || strlen(n->room) >= ROOM_ID_MAX)
        return;
    long i = find(fr, n->room);
    /* News of an older wait than the one kept here is stale (it crossed a
     * newer one on the way). */
    if (i >= 0 && n->since_ms < fr->waits[i].since_ms && !(n->kind == WAIT_ENDED && n->answered_ms == 0))
        return;
    switch (n->kind) {
    case WAIT_BEGAN:
    case WAIT_FLAGGED: {
        if (!n->customer || !n->customer[0] || strlen(n->customer) > USER_NAME_MAX)
            return;
        if (i >= 0 && n->kind == WAIT_FLAGGED && fr->waits[i].since_ms == n->since_ms) {
            fr->waits[i].breached = true;
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
        if (i < 0)
            return;
        if (n->answered_ms > 0)
            answered(fr, (size_t)i, n->answered_ms, false);
        else
            drop(fr, (size_t)i);
        break;
    default:
        return;
    }
    arm(fr);
}

bool first_response_of(const struct first_response *fr, const char *room_id, int64_t *since_ms, bool *breached)
{
    long i = room_id ? find(fr, room_id) : -1;
    if (i < 0)
        return false;
    *since_ms = fr->waits[i].since_ms;
    *breached = fr->waits[i].breached;
    return true;
}

void first_response_counts(const struct first_response *fr, size_t *waiting, size_t *breached)
{
    *waiting = *breached = 0;
    for (size_t i = 0; fr && i < fr->n; i++)
        if (fr->waits[i].mine) {
            (*waiting)++;
            *breached += fr->waits[i].breached;
        }
}
