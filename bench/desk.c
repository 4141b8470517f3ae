/* chat-bench's desk scenario: the support desk under load.
 *
 * One process, one libevent loop. Every customer and agent holds a STOMP
 * session over TCP subscribed to /user/queue/notifications. Once all are
 * ready, customers open their support room (POST /api/rooms) at --rate; the
 * server's routing gives each to an agent, who hears `room-added`, answers
 * in the room at once (SEND) and completes it (POST .../complete) after
 * --think-time. The customer hears `assigned`, then a `message` from the
 * agent. Each REST call is its own connection (Connection: close), written
 * and read without blocking; the answers are read by http_response.c.
 */
#include "bench.h"
#include "http_response.h"
#include "stomp_frames.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define DESK_MAX_FRAME (1024 * 1024)
#define DESK_BODY_CAP 65536            /* a REST answer's body, at most */
#define DESK_ERRORS_SHOWN 5
#define DESK_TICK_US 2000              /* the opening timer */
#define DESK_ROOM_ID 96
/* The agent's answer: Korean and emoji, as a real desk's would be. */
#define DESK_ANSWER "안녕하세요! 무엇을 도와드릴까요? 😀"

enum who { CUSTOMER, AGENT };
enum sstate { SS_IDLE, SS_TCP, SS_STOMP, SS_SUBSCRIBING, SS_READY, SS_CLOSED };

struct desk;

struct session {
    struct desk *d;
    struct bufferevent *bev;
    uint8_t who, state;
    uint32_t idx;                   /* customer or agent number - 1 */
    int inst;
    char login[128], pass[128];
    char auth[400];                 /* the REST Authorization header's value */
};

struct customer {
    struct session s;
    int64_t t_open, t_created, t_assigned, t_reply;
    bool open_failed;
};

struct agent {
    struct session s;
    long load, peak, taken, completed;
};

/* A support room an agent was given or a customer opened; the table is
 * allocated once and never moves, so timers hold pointers into it. */
struct room {
    struct desk *d;
    char id[DESK_ROOM_ID];
    int32_t customer, agent;        /* -1: not known (yet) */
    int64_t t_agent, t_done;
    bool completing;
};

enum req_kind { REQ_OPEN, REQ_COMPLETE };

struct request {
    struct desk *d;
    struct request *prev, *next;    /* the calls in flight */
    struct bufferevent *bev;
    uint8_t kind;
    uint32_t who;                   /* REQ_OPEN: the customer */
    struct room *room;              /* REQ_COMPLETE */
    int64_t t_start;
};

struct desk {
    struct event_base *base;
    struct customer *cust;
    struct agent *agents;
    size_t ncust, nagents, nsessions;
    size_t next_setup, pending, setup_done, ready;
    struct room *rooms;
    size_t rooms_cap, rooms_used;
    struct event *tick, *setup_timer, *end_timer;
    int64_t t_setup0, t_setup1, t_go, t_first_open, t_last_open, t_last_done;
    size_t opened;                  /* opening requests sent */
    size_t open_answered, open_ok, completed, complete_failed;
    size_t requests;                /* REST calls in flight */
    struct request *inflight;
    bool going, finished, timed_out, in_start_more;
    uint64_t error_frames, disconnects, connect_failures, http_errors, unknown_rooms, double_assigned;
    unsigned errors_shown;
    struct hist assign_cust, assign_agent, wait, handle, open_rt, complete_rt;
    char body[DESK_BODY_CAP];
};

/* ---- small helpers ------------------------------------------------------- */

static void basic_auth(char *out, size_t size, const char *login, const char *pass)
{
    char plain[260], coded[352];
    int n = snprintf(plain, sizeof plain, "%s:%s", login, pass);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof plain ? (size_t)n : sizeof plain - 1;
    bench_base64((const unsigned char *)plain, len, coded);
    snprintf(out, size, "Basic %s", coded);
}

static void complain(struct desk *d, const char *who, const char *what)
{
    if (d->errors_shown++ < DESK_ERRORS_SHOWN || opt.verbose)
        fprintf(stderr, "chat-bench: desk: %s: %s\n", who, what);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The room with this id, added when new; NULL when the table is full or
 * the id too long. */
static struct room *room_get(struct desk *d, const char *id)
{
    if (!*id || strlen(id) >= DESK_ROOM_ID)
        return NULL;
    size_t mask = d->rooms_cap - 1;
    for (size_t i = fnv1a(id) & mask, k = 0; k < d->rooms_cap; i = (i + 1) & mask, k++) {
        struct room *r = &d->rooms[i];
        if (!r->id[0]) {
            if (d->rooms_used * 2 >= d->rooms_cap)
                return NULL;
            snprintf(r->id, sizeof r->id, "%s", id);
            r->d = d;
            r->customer = r->agent = -1;
            d->rooms_used++;
            return r;
        }
        if (strcmp(r->id, id) == 0)
            return r;
    }
    return NULL;
}

static void finish(struct desk *d)
{
    if (d->finished)
        return;
    d->finished = true;
    event_base_loopbreak(d->base);
}

static void maybe_done(struct desk *d)
{
    if (d->going && d->opened == d->ncust && d->open_answered == d->ncust && d->requests == 0 &&
        d->completed + d->complete_failed >= d->open_ok)
        finish(d);
}

/* ---- REST calls ------------------------------------------------------------ */

static void request_free(struct request *q)
{
    q->d->requests--;
    if (q->prev)
        q->prev->next = q->next;
    else
        q->d->inflight = q->next;
    if (q->next)
        q->next->prev = q->prev;
    if (q->bev)
        bufferevent_free(q->bev);
    free(q);
}

static void open_answered(struct desk *d, struct customer *c, int status, size_t blen, int64_t now)
{
    d->open_answered++;
    hist_record(&d->open_rt, (uint64_t)(now - c->t_open));
    if (status != 200 && status != 201) {
        char what[160];
        snprintf(what, sizeof what, "POST /api/rooms answered %d", status);
        complain(d, c->s.login, what);
        c->open_failed = true;
        d->http_errors++;
        return;
    }
    json_error_t err;
    json_t *j = json_loadb(d->body, blen, 0, &err);
    const char *id = j ? json_string_value(json_object_get(j, "id")) : NULL;
    struct room *r = id ? room_get(d, id) : NULL;
    if (!r) {
        complain(d, c->s.login, "POST /api/rooms: no room id in the answer");
        c->open_failed = true;
        d->http_errors++;
    } else {
        r->customer = (int32_t)c->s.idx;
        c->t_created = now;
        d->open_ok++;
    }
    json_decref(j);
}

static void complete_answered(struct desk *d, struct room *r, int status, int64_t t_start, int64_t now)
{
    hist_record(&d->complete_rt, (uint64_t)(now - t_start));
    struct agent *a = &d->agents[r->agent];
    if (status != 200) {
        char what[200];
        snprintf(what, sizeof what, "POST /api/rooms/%s/complete answered %d", r->id, status);
        complain(d, a->s.login, what);
        d->http_errors++;
        d->complete_failed++;
        a->load++;  /* still theirs */
        return;
    }
    r->t_done = now;
    a->completed++;
    d->completed++;
    d->t_last_done = now;
}

/* Reads q's answer; eof: the server closed. Frees q once it is through. */
static void request_input(struct request *q, bool eof)
{
    struct desk *d = q->d;
    struct evbuffer *in = q->bev ? bufferevent_get_input(q->bev) : NULL;
    size_t len = in ? evbuffer_get_length(in) : 0;
    const char *p = in ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
    struct http_response r;
    enum http_parse st = http_response_parse(p ? p : "", len, eof, d->body, sizeof d->body, &r);
    if (st == HTTP_MORE && !eof)
        return;
    int64_t now = now_ns();
    int status = st == HTTP_DONE ? r.status : 0;
    if (st != HTTP_DONE) {
        complain(d, "REST", st == HTTP_BAD ? "an answer chat-bench cannot read" : "the server closed mid-answer");
        d->http_errors++;
    }
    if (q->kind == REQ_OPEN)
        open_answered(d, &d->cust[q->who], status, status ? r.body_len : 0, now);
    else
        complete_answered(d, q->room, status, q->t_start, now);
    request_free(q);
    maybe_done(d);
}

static void on_request_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    request_input(arg, false);
}

static void on_request_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct request *q = arg;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(q->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return;
    }
    if (what & BEV_EVENT_ERROR)
        q->d->connect_failures += evbuffer_get_length(bufferevent_get_input(q->bev)) == 0;
    request_input(q, true);
}

/* Sends one REST call as sess, to sess's instance. */
static void request_send(struct desk *d, struct session *sess, enum req_kind kind, const char *path,
                         const char *json, uint32_t who, struct room *room)
{
    struct request *q = calloc(1, sizeof *q);
    if (!q) {
        d->http_errors++;
        return;
    }
    const struct endpoint *e = &opt.desk_http[sess->inst];
    *q = (struct request){ .d = d, .kind = (uint8_t)kind, .who = who, .room = room, .t_start = now_ns(),
                           .next = d->inflight };
    if (d->inflight)
        d->inflight->prev = q;
    d->inflight = q;
    d->requests++;
    q->bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!q->bev) {
        request_input(q, true);
        return;
    }
    bufferevent_setcb(q->bev, on_request_read, NULL, on_request_event, q);
    bufferevent_enable(q->bev, EV_READ);
    evbuffer_add_printf(bufferevent_get_output(q->bev),
                        "POST %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                        path, e->host, e->port, sess->auth, strlen(json), json);
    /* A refused connect() comes to the event callback; -1 is a socket
     * that could not even be made. */
    if (bufferevent_socket_connect(q->bev, (const struct sockaddr *)&e->addr, (int)e->addrlen) < 0) {
        d->connect_failures++;
        request_input(q, true);
    }
}

/* ---- STOMP sessions ------------------------------------------------------ */

static void start_more(struct desk *d);

static void session_setup_done(struct session *s, bool ok)
{
    struct desk *d = s->d;
    d->pending--;
    d->setup_done++;
    if (ok) {
        d->ready++;
        d->t_setup1 = now_ns();
    }
    start_more(d);
}

static void session_close(struct session *s, bool counted)
{
    if (s->state == SS_CLOSED || s->state == SS_IDLE)
        return;
    bool setup = s->state < SS_READY;
    if (s->bev) {
        bufferevent_free(s->bev);
        s->bev = NULL;
    }
    s->state = SS_CLOSED;
    if (counted)
        s->d->disconnects++;
    if (setup)
        session_setup_done(s, false);
}

static void stomp_send(struct session *s, const char *frame, size_t len)
{
    if (s->bev)
        bufferevent_write(s->bev, frame, len);
}

static void agent_took(struct desk *d, struct agent *a, const char *room_id, int64_t now);

/* A `message` to a customer from someone else: the notification names
 * its sender in the body, a room's event in a header. */
static bool customer_answered(const struct session *s, const struct sframe *f, const char *body, size_t blen)
{
    if (f->sender[0])
        return strcmp(f->sender, s->login) != 0;
    json_t *j = json_loadb(body, blen, 0, NULL);
    const char *sender = json_string_value(json_object_get(j, "sender"));
    bool other = sender && strcmp(sender, s->login) != 0;
    json_decref(j);
    return other;
}

static void on_frame(struct session *s, const struct sframe *f, const char *body, size_t blen, int64_t now)
{
    struct desk *d = s->d;
    if (strcmp(f->command, "CONNECTED") == 0 && s->state == SS_STOMP) {
        static const char sub[] = "SUBSCRIBE\nid:n\ndestination:/user/queue/notifications\nreceipt:sub\n\n";
        stomp_send(s, sub, sizeof sub);  /* with its NUL */
        s->state = SS_SUBSCRIBING;
    } else if (strcmp(f->command, "RECEIPT") == 0 && s->state == SS_SUBSCRIBING && strcmp(f->receipt, "sub") == 0) {
        s->state = SS_READY;
        session_setup_done(s, true);
    } else if (strcmp(f->command, "ERROR") == 0) {
        d->error_frames++;
        char what[200];
        snprintf(what, sizeof what, "ERROR %s", f->message[0] ? f->message : "(no message header)");
        complain(d, s->login, what);
        session_close(s, false);
    } else if (strcmp(f->command, "MESSAGE") == 0 && s->state == SS_READY) {
        if (s->who == AGENT) {
            if (strcmp(f->event, "room-added") == 0)
                agent_took(d, &d->agents[s->idx], f->room, now);
            return;
        }
        struct customer *c = &d->cust[s->idx];
        if (strcmp(f->event, "assigned") == 0 && !c->t_assigned)
            c->t_assigned = now;
        else if (strcmp(f->event, "message") == 0 && !c->t_reply && customer_answered(s, f, body, blen))
            c->t_reply = now;
    }
}

/* Takes every whole frame out of b. */
static void session_input(struct session *s, struct evbuffer *b)
{
    int64_t now = now_ns();
    while (s->state != SS_CLOSED) {
        struct sframe f;
        size_t hl, blen;
        int got = sframe_next(b, DESK_MAX_FRAME, &f, &hl, &blen);
        if (got == 0)
            return;
        if (got < 0) {
            complain(s->d, s->login, "a malformed frame from the server");
            session_close(s, true);
            return;
        }
        const char *frame = (const char *)evbuffer_pullup(b, (ev_ssize_t)(hl + blen));
        on_frame(s, &f, frame + hl, blen, now);
        if (s->state != SS_CLOSED)
            evbuffer_drain(b, hl + blen + 1);
    }
}

static void on_session_read(struct bufferevent *bev, void *arg)
{
    session_input(arg, bufferevent_get_input(bev));
}

static void on_session_event(struct bufferevent *bev, short what, void *arg)
{
    struct session *s = arg;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char buf[600];
        int n = snprintf(buf, sizeof buf,
                         "CONNECT\naccept-version:1.2\nhost:%s\nlogin:%s\npasscode:%s\nheart-beat:0,0\n\n", opt.vhost,
                         s->login, s->pass);
        if (n > 0 && (size_t)n < sizeof buf)
            stomp_send(s, buf, (size_t)n + 1);
        s->state = SS_STOMP;
        return;
    }
    bool connecting = s->state == SS_TCP;
    if (connecting)
        s->d->connect_failures++;
    else if (s->state == SS_READY && !s->d->finished)
        complain(s->d, s->login, "the server closed the session");
    session_close(s, !connecting);
}

static void session_start(struct desk *d, struct session *s)
{
    const struct endpoint *e = &opt.desk_stomp[s->inst];
    d->pending++;
    s->state = SS_TCP;
    s->bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!s->bev) {
        session_close(s, false);
        return;
    }
    bufferevent_setcb(s->bev, on_session_read, NULL, on_session_event, s);
    bufferevent_enable(s->bev, EV_READ);
    if (bufferevent_socket_connect(s->bev, (const struct sockaddr *)&e->addr, (int)e->addrlen) < 0) {
        d->connect_failures++;
        session_close(s, false);
    }
}

static struct session *session_at(struct desk *d, size_t k)
{
    /* Agents first: they are online when the first room opens. */
    return k < d->nagents ? &d->agents[k].s : &d->cust[k - d->nagents].s;
}

static void start_more(struct desk *d)
{
    if (d->in_start_more)
        return;
    d->in_start_more = true;
    while (d->pending < (size_t)opt.concurrency && d->next_setup < d->nsessions)
        session_start(d, session_at(d, d->next_setup++));
    d->in_start_more = false;
    if (d->setup_done == d->nsessions && !d->going && !d->finished)
        event_base_loopbreak(d->base);  /* set-up over: desk_run goes on */
}

static void on_setup_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct desk *d = arg;
    d->next_setup = d->nsessions;
    for (size_t k = 0; k < d->nsessions; k++) {
        struct session *s = session_at(d, k);
        if (s->state == SS_IDLE) {
            s->state = SS_CLOSED;
            d->setup_done++;
        } else if (s->state < SS_READY) {
            session_close(s, false);
        }
    }
    event_base_loopbreak(d->base);
}

/* ---- the desk ------------------------------------------------------------- */

static void on_think_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct room *r = arg;
    struct desk *d = r->d;
    /* The room's agent completes it. The place counts as free from here:
     * routing may give it again as soon as the completion is stored, before
     * its answer reaches us. */
    d->agents[r->agent].load--;
    char path[160];
    snprintf(path, sizeof path, "/api/rooms/%s/complete", r->id);
    request_send(d, &d->agents[r->agent].s, REQ_COMPLETE, path, "{}", 0, r);
}

static void agent_took(struct desk *d, struct agent *a, const char *room_id, int64_t now)
{
    struct room *r = room_get(d, room_id);
    if (!r) {
        d->unknown_rooms++;
        return;
    }
    if (r->agent >= 0) {
        /* Given twice: the desk's promise broken. */
        d->double_assigned++;
        return;
    }
    r->agent = (int32_t)a->s.idx;
    r->t_agent = now;
    a->taken++;
    if (++a->load > a->peak)
        a->peak = a->load;
    /* The answer, at once: the customer's wait ends with it. */
    char frame[512];
    int n = snprintf(frame, sizeof frame,
                     "SEND\ndestination:/app/rooms/%s/send\ncontent-type:text/plain;charset=utf-8\n"
                     "content-length:%zu\n\n%s",
                     r->id, strlen(DESK_ANSWER), DESK_ANSWER);
    if (n > 0 && (size_t)n < sizeof frame)
        stomp_send(&a->s, frame, (size_t)n + 1);
    struct timeval tv = { (time_t)opt.think_time,
                          (suseconds_t)((opt.think_time - (double)(time_t)opt.think_time) * 1e6) };
    if (event_base_once(d->base, -1, EV_TIMEOUT, on_think_over, r, &tv) < 0)
        d->complete_failed++;
}

static void open_one(struct desk *d, struct customer *c)
{
    c->t_open = now_ns();
    if (!d->t_first_open)
        d->t_first_open = c->t_open;
    d->t_last_open = c->t_open;
    d->opened++;
    request_send(d, &c->s, REQ_OPEN, "/api/rooms", "{\"kind\":\"support\"}", c->s.idx, NULL);
}

static void on_end(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct desk *d = arg;
    d->timed_out = true;
    finish(d);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct desk *d = arg;
    size_t due = d->ncust;
    if (opt.rate > 0) {
        double t = (double)(now_ns() - d->t_go) / 1e9;
        double n = t * opt.rate + 1;
        due = n < (double)d->ncust ? (size_t)n : d->ncust;
    }
    while (d->opened < due)
        open_one(d, &d->cust[d->opened]);
    if (d->opened == d->ncust) {
        event_del(d->tick);
        struct timeval tv = { (time_t)opt.duration,
                              (suseconds_t)((opt.duration - (double)(time_t)opt.duration) * 1e6) };
        event_add(d->end_timer, &tv);
        maybe_done(d);
    }
}

static void hist_json(const char *name, const struct hist *h)
{
    printf("\"%s_samples\":%" PRIu64 ",\"%s_p50_ms\":%.3f,\"%s_p99_ms\":%.3f,\"%s_max_ms\":%.3f,", name, h->count,
           name, (double)hist_quantile(h, 0.5) / 1e6, name, (double)hist_quantile(h, 0.99) / 1e6, name,
           (double)hist_quantile(h, 1.0) / 1e6);
}

static void hist_text(const char *label, const struct hist *h)
{
    printf("%-28s p50 %.1f ms, p99 %.1f ms, max %.1f ms (%" PRIu64 " rooms)\n", label,
           (double)hist_quantile(h, 0.5) / 1e6, (double)hist_quantile(h, 0.99) / 1e6,
           (double)hist_quantile(h, 1.0) / 1e6, h->count);
}

static void report(struct desk *d)
{
    size_t assigned_cust = 0, replied = 0, agents_over = 0;
    long peak = 0, min_taken = -1, max_taken = 0;
    for (size_t i = 0; i < d->ncust; i++) {
        struct customer *c = &d->cust[i];
        if (!c->t_open || c->open_failed)
            continue;
        if (c->t_assigned) {
            assigned_cust++;
            hist_record(&d->assign_cust, (uint64_t)(c->t_assigned - c->t_open));
        }
        if (c->t_reply) {
            replied++;
            hist_record(&d->wait, (uint64_t)(c->t_reply - c->t_open));
        }
    }
    for (size_t i = 0; i < d->rooms_cap; i++) {
        struct room *r = &d->rooms[i];
        if (!r->id[0] || r->customer < 0 || r->agent < 0)
            continue;
        struct customer *c = &d->cust[r->customer];
        hist_record(&d->assign_agent, (uint64_t)(r->t_agent > c->t_open ? r->t_agent - c->t_open : 0));
        if (r->t_done)
            hist_record(&d->handle, (uint64_t)(r->t_done - c->t_open));
    }
    for (size_t j = 0; j < d->nagents; j++) {
        struct agent *a = &d->agents[j];
        if (a->peak > peak)
            peak = a->peak;
        if (opt.max_chats && a->peak > opt.max_chats)
            agents_over++;
        if (min_taken < 0 || a->taken < min_taken)
            min_taken = a->taken;
        if (a->taken > max_taken)
            max_taken = a->taken;
    }
    double span = d->t_last_done > d->t_first_open ? (double)(d->t_last_done - d->t_first_open) / 1e9 : 0;
    double open_span = d->t_last_open > d->t_first_open ? (double)(d->t_last_open - d->t_first_open) / 1e9 : 0;
    double rps = span > 0 ? (double)d->completed / span : 0;
    double setup_s = d->t_setup1 > d->t_setup0 ? (double)(d->t_setup1 - d->t_setup0) / 1e9 : 0;
    if (opt.json) {
        printf("{\"scenario\":\"desk\",\"transport\":\"tcp\",\"url\":\"%s\",\"instances\":%d,", opt.desk_stomp[0].url,
               opt.desk_instances);
        if (opt.label) {
            printf("\"label\":\"");
            for (const char *p = opt.label; *p; p++)
                if (*p == '"' || *p == '\\')
                    printf("\\%c", *p);
                else if ((unsigned char)*p >= 0x20)
                    putchar(*p);
            printf("\",");
        }
        printf("\"customers\":%zu,\"agents\":%zu,\"rate\":%.3f,\"think_time_s\":%.3f,\"max_chats\":%ld,"
               "\"sessions\":%zu,\"ready\":%zu,\"setup_s\":%.3f,\"opened\":%zu,\"open_ok\":%zu,"
               "\"assigned_customer\":%zu,\"assigned_agent\":%" PRIu64 ",\"replied\":%zu,\"completed\":%zu,"
               "\"complete_failed\":%zu,\"all_handled\":%s,\"time_limit_reached\":%s,\"open_span_s\":%.3f,"
               "\"span_s\":%.3f,\"rooms_per_s\":%.2f,\"agent_peak_chats\":%ld,\"agents_over_limit\":%zu,"
               "\"agent_rooms_min\":%ld,\"agent_rooms_max\":%ld,",
               d->ncust, d->nagents, opt.rate, opt.think_time, opt.max_chats, d->nsessions, d->ready, setup_s,
               d->opened, d->open_ok, assigned_cust, d->assign_agent.count, replied, d->completed, d->complete_failed,
               d->open_ok == d->ncust && d->completed == d->ncust ? "true" : "false", d->timed_out ? "true" : "false",
               open_span, span, rps, peak, agents_over, min_taken < 0 ? 0 : min_taken, max_taken);
        hist_json("assign_customer", &d->assign_cust);
        hist_json("assign_agent", &d->assign_agent);
        hist_json("wait", &d->wait);
        hist_json("handle", &d->handle);
        hist_json("open_rest", &d->open_rt);
        hist_json("complete_rest", &d->complete_rt);
        printf("\"error_frames\":%" PRIu64 ",\"disconnects\":%" PRIu64 ",\"connect_failures\":%" PRIu64
               ",\"http_errors\":%" PRIu64 ",\"double_assigned\":%" PRIu64 ",\"unknown_rooms\":%" PRIu64 "}\n",
               d->error_frames, d->disconnects, d->connect_failures, d->http_errors, d->double_assigned,
               d->unknown_rooms);
        return;
    }
    printf("chat-bench desk: %zu customers, %zu agents, %d instance%s (%s first), rate %.1f rooms/s, think time "
           "%.1f s%s\n",
           d->ncust, d->nagents, opt.desk_instances, opt.desk_instances == 1 ? "" : "s", opt.desk_stomp[0].url,
           opt.rate, opt.think_time, opt.max_chats ? "" : ", limit not checked");
    if (opt.max_chats)
        printf("limit:      max_chats_per_agent %ld; agents seen above it: %zu (peak %ld open chats)\n",
               opt.max_chats, agents_over, peak);
    printf("set-up:     %zu/%zu sessions ready in %.2f s\n", d->ready, d->nsessions, setup_s);
    printf("rooms:      opened %zu (%zu ok) over %.1f s; assigned: customers saw %zu, agents %" PRIu64
           "; answered %zu; completed %zu%s\n",
           d->opened, d->open_ok, open_span, assigned_cust, d->assign_agent.count, replied, d->completed,
           d->timed_out ? " (time limit reached)" : "");
    printf("throughput: %.2f rooms/s handled (%zu completed between the first opening and the last completion, "
           "%.1f s); per agent %ld to %ld rooms\n",
           rps, d->completed, span, min_taken < 0 ? 0 : min_taken, max_taken);
    hist_text("assignment (customer saw):", &d->assign_cust);
    hist_text("assignment (agent saw):", &d->assign_agent);
    hist_text("customer wait (to answer):", &d->wait);
    hist_text("opening to completion:", &d->handle);
    hist_text("REST POST /api/rooms:", &d->open_rt);
    hist_text("REST complete:", &d->complete_rt);
    printf("errors:     ERROR frames %" PRIu64 ", disconnects %" PRIu64 ", connect failures %" PRIu64
           ", REST failures %" PRIu64 ", rooms given twice %" PRIu64 ", unknown rooms %" PRIu64 "\n",
           d->error_frames, d->disconnects, d->connect_failures, d->http_errors, d->double_assigned,
           d->unknown_rooms);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void init_session(struct session *s, struct desk *d, enum who who, size_t idx)
{
    s->d = d;
    s->who = (uint8_t)who;
    s->idx = (uint32_t)idx;
    s->inst = (int)(idx % (size_t)opt.desk_instances);
    if (who == AGENT) {
        bench_expand(s->login, sizeof s->login, opt.agent_login, idx + 1);
        bench_expand(s->pass, sizeof s->pass, opt.agent_passcode, idx + 1);
    } else if (opt.nusers) {
        snprintf(s->login, sizeof s->login, "%s", opt.user_login[idx % opt.nusers]);
        snprintf(s->pass, sizeof s->pass, "%s", opt.user_pass[idx % opt.nusers]);
    } else {
        bench_expand(s->login, sizeof s->login, opt.login, idx + 1);
        bench_expand(s->pass, sizeof s->pass, opt.passcode, idx + 1);
    }
    basic_auth(s->auth, sizeof s->auth, s->login, s->pass);
}

int desk_run(void)
{
    static struct desk d;
    int rc = 1;
    memset(&d, 0, sizeof d);
    raise_fd_limit();
    d.ncust = (size_t)opt.sessions;
    d.nagents = (size_t)opt.agents;
    d.nsessions = d.ncust + d.nagents;
    d.rooms_cap = 64;
    while (d.rooms_cap < 4 * d.ncust)
        d.rooms_cap *= 2;
    d.cust = calloc(d.ncust, sizeof *d.cust);
    d.agents = calloc(d.nagents, sizeof *d.agents);
    d.rooms = calloc(d.rooms_cap, sizeof *d.rooms);
    d.base = event_base_new();
    if (!d.cust || !d.agents || !d.rooms || !d.base)
        goto out;
    d.tick = event_new(d.base, -1, EV_PERSIST, on_tick, &d);
    d.setup_timer = evtimer_new(d.base, on_setup_timeout, &d);
    d.end_timer = evtimer_new(d.base, on_end, &d);
    if (!d.tick || !d.setup_timer || !d.end_timer)
        goto out;
    hist_init(&d.assign_cust);
    hist_init(&d.assign_agent);
    hist_init(&d.wait);
    hist_init(&d.handle);
    hist_init(&d.open_rt);
    hist_init(&d.complete_rt);
    for (size_t j = 0; j < d.nagents; j++)
        init_session(&d.agents[j].s, &d, AGENT, j);
    for (size_t i = 0; i < d.ncust; i++)
        init_session(&d.cust[i].s, &d, CUSTOMER, i);

    /* Set-up: every session connected and subscribed. */
    d.t_setup0 = now_ns();
    struct timeval st = { (time_t)opt.setup_timeout,
                          (suseconds_t)((opt.setup_timeout - (double)(time_t)opt.setup_timeout) * 1e6) };
    event_add(d.setup_timer, &st);
    start_more(&d);
    if (d.setup_done < d.nsessions)
        event_base_dispatch(d.base);
    event_del(d.setup_timer);
    if (d.ready < d.nsessions) {
        fprintf(stderr, "chat-bench: desk: only %zu of %zu sessions ready\n", d.ready, d.nsessions);
        report(&d);
        goto out;
    }
    if (opt.verbose)
        fprintf(stderr, "chat-bench: desk: %zu sessions ready; opening rooms in %.1f s\n", d.ready, opt.warmup);

    /* Agents are online everywhere (presence) before the first room. */
    struct timeval wu = { (time_t)opt.warmup, (suseconds_t)((opt.warmup - (double)(time_t)opt.warmup) * 1e6) };
    event_base_loopexit(d.base, &wu);
    event_base_dispatch(d.base);

    d.going = true;
    d.t_go = now_ns();
    struct timeval tick = { 0, DESK_TICK_US };
    event_add(d.tick, &tick);
    on_tick(-1, 0, &d);
    while (!d.finished)
        if (event_base_dispatch(d.base) != 0)
            break;
    report(&d);
    rc = 0;
out:
    while (d.inflight)
        request_free(d.inflight);
    for (size_t k = 0; d.cust && d.agents && k < d.nsessions; k++) {
        struct session *s = session_at(&d, k);
        if (s->bev)
            bufferevent_free(s->bev);
    }
    if (d.tick)
        event_free(d.tick);
    if (d.setup_timer)
        event_free(d.setup_timer);
    if (d.end_timer)
        event_free(d.end_timer);
    if (d.base)
        event_base_free(d.base);
    free(d.cust);
    free(d.agents);
    free(d.rooms);
    return rc;
}
