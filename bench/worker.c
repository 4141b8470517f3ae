/* One chat-bench worker process: its share of the sessions on one libevent
 * loop. Transport (WebSocket client handshake and framing, raw TCP, or
 * SockJS over WebSocket or over xhr-streaming + xhr_send), the STOMP client,
 * and the scenarios' publishing and accounting. */
#include "bench.h"
#include "sockjs_frames.h"
#include "stomp_frames.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_FRAME_BYTES (16 * 1024 * 1024)
#define MAX_HTTP_RESPONSE 8192
#define BACKPRESSURE_BYTES (256 * 1024)  /* rate mode: skip a publisher with this much unsent */
#define QUIET_NS 300000000LL             /* drain ends after this long without a delivery */
#define ERRORS_SHOWN 5                   /* ERROR frames printed per worker */
#define BLAST_QUEUE_BYTES (64 * 1024)    /* blast: the publisher's unsent bytes in our buffer, at most */
#define SLOW_BURST_S 0.1                 /* blast: a slow reader's credit, at most, in seconds of its rate */

enum conn_state {
    ST_IDLE,          /* not started */
    ST_TCP,           /* connect() in progress */
    ST_UPGRADE,       /* WebSocket upgrade (or SockJS receiving request) sent; SockJS: until 'o' */
    ST_STOMP,         /* CONNECT sent */
    ST_SUBSCRIBING,   /* SUBSCRIBEs sent, waiting for the receipt */
    ST_READY,
    ST_CLOSED,
};

struct worker;

struct conn {
    struct worker *w;
    struct bufferevent *bev;
    struct evbuffer *in;      /* WebSocket: the STOMP byte stream, unwrapped */
    uint32_t idx;             /* local index */
    uint32_t gidx;            /* global session number */
    uint8_t state;
    uint8_t ep;               /* EP_MAIN or EP_PUB: which URL it connects to */
    int64_t t_start;          /* this attempt's connect() */
    int64_t t_first;          /* the first attempt's: set-up latency counts retries in */
    uint16_t attempts;        /* reconnect: retries after "server busy, retry" so far */
    bool retrying;            /* the attempt under way is a retry */
    bool retry_wait;          /* waiting for the retry's timer */
    char wskey[25];
    /* SockJS: the session id; xhr-streaming: the response's headers are
     * read; the sending connection, the escaped frames waiting for it (the
     * elements of the next xhr_send's array) and whether a POST is out. */
    char sid[17];
    bool sj_open, sj_body;
    struct bufferevent *sbev;
    struct evbuffer *sq;
    bool s_connected, s_inflight;
};

struct pub {
    uint32_t conn;            /* local index of the publishing session */
    uint32_t dest;            /* destination number */
    uint32_t eid;             /* global publisher number, written in the body */
    uint32_t inflight;
    uint64_t seq;
};

/* blast: the role of each local session, and what it got. */
enum role { RD_PUBLISHER, RD_NORMAL, RD_SLOW };

struct reader {
    uint8_t role;
    bool dropped;             /* ERROR or closed by the server */
    bool draining;            /* slow, after the stop: reads without a limit, counts apart */
    uint64_t got, gaps, next_seq, drained;
    int64_t last_ns, max_pause_ns;  /* the last message; the longest time between two */
    /* slow: the bytes in the socket's input buffer after the last read
     * callback; the token bucket; the timer that resumes reading */
    size_t unread;
    double credit;
    int64_t credit_ns;
    struct event *resume;
};

struct worker {
    int id;
    struct event_base *base;
    int ctl_fd, res_fd;
    struct conn *conns;
    size_t n;
    size_t next_start, pending, setup_done;
    bool in_start_more, ready_sent, publishing, measuring, shutting_down, finished;
    bool storm;                     /* reconnect: the sessions were dropped and are coming back, all at once */
    struct event *ctl_ev, *tick_ev, *setup_ev, *drain_ev;
    uint32_t *sub_off, *sub_dest;   /* CSR: destinations of local session i */
    struct pub *pubs;
    size_t npubs, rr;
    int32_t *pub_by_eid;            /* global publisher number -> local pub, or -1 */
    size_t neid;
    char *sendbuf;                  /* one SEND frame */
    size_t sendbuf_cap;
    struct reader *readers;         /* blast: one per local session */
    bool done_sent;                 /* blast: MSG_DONE went to the parent */
    int64_t pub_lost_ns;            /* blast: the publisher was disconnected before its last RECEIPT */
    int64_t last_normal_ns;         /* blast: the last message to a normal reader */
    double rate;                    /* this worker's share, messages/s */
    int64_t go_ns, measure_ns, stop_ns, last_delivery_ns;
    uint64_t sent_since_go;
    uint64_t rng;
    unsigned errors_shown;
    struct wstats st;
};

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t rnd(struct worker *w)
{
    /* xorshift64* */
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- destinations and users ------------------------------------------ */

static int dest_name(char *buf, size_t size, uint32_t dest, unsigned sub)
{
    switch (opt.scenario) {
    case SC_FANOUT:
        return snprintf(buf, size, "%sroom.%" PRIu32, opt.prefix, dest);
    case SC_PAIRS:
        return snprintf(buf, size, "%sp.%" PRIu32, opt.prefix, dest);
    case SC_APPENDS:
        return snprintf(buf, size, "/app/rooms/%s/send", opt.room);
    case SC_BLAST:
        return snprintf(buf, size, "%sblast", opt.prefix);
    default:
        if (opt.idle_subs > 1)
            return snprintf(buf, size, "%sidle.%" PRIu32 ".%u", opt.prefix, dest, sub);
        return snprintf(buf, size, "%sidle.%" PRIu32, opt.prefix, dest);
    }
}

/* ---- sending ------------------------------------------------------------ */

static void ws_send(struct conn *c, unsigned opcode, const void *data, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    unsigned char hdr[14];
    size_t hl = 2;
    hdr[0] = (unsigned char)(0x80u | opcode);
    if (len < 126) {
        hdr[1] = (unsigned char)(0x80u | len);
    } else if (len < 65536) {
        hdr[1] = 0x80u | 126u;
        hdr[2] = (unsigned char)(len >> 8);
        hdr[3] = (unsigned char)len;
        hl = 4;
    } else {
        hdr[1] = 0x80u | 127u;
        for (int i = 0; i < 8; i++)
            hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    uint32_t m32 = (uint32_t)rnd(c->w);
    unsigned char mask[4];
    memcpy(mask, &m32, 4);
    memcpy(hdr + hl, mask, 4);
    hl += 4;

    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)(hl + len), &v, 1) < 1)
        return;
    unsigned char *p = v.iov_base;
    memcpy(p, hdr, hl);
    p += hl;
    const unsigned char *s = data;
    size_t i = 0;
    uint64_t m64;
    unsigned char m8[8];
    for (int k = 0; k < 8; k++)
        m8[k] = mask[k & 3];
    memcpy(&m64, m8, 8);
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        x ^= m64;
        memcpy(p + i, &x, 8);
    }
    for (; i < len; i++)
        p[i] = s[i] ^ mask[i & 3];
    v.iov_len = hl + len;
    evbuffer_commit_space(out, &v, 1);
}

static bool sockjs(void)
{
    return opt.transport == TR_SOCKJS_WS || opt.transport == TR_XHR_STREAMING;
}

static void xhr_flush(struct conn *c);

static void send_frame(struct conn *c, const void *data, size_t len)
{
    if (!c->bev)
        return;
    if (opt.transport == TR_WS) {
        ws_send(c, 0x1, data, len);
    } else if (opt.transport == TR_TCP) {
        bufferevent_write(c->bev, data, len);
    } else if (opt.transport == TR_SOCKJS_WS) {
        /* One SockJS message per WebSocket message: ["frame"]. */
        struct evbuffer *m = evbuffer_new();
        if (!m)
            return;
        evbuffer_add(m, "[", 1);
        sj_append_string(m, data, len);
        evbuffer_add(m, "]", 1);
        size_t ml = evbuffer_get_length(m);
        ws_send(c, 0x1, evbuffer_pullup(m, (ev_ssize_t)ml), ml);
        evbuffer_free(m);
    } else {
        if (evbuffer_get_length(c->sq))
            evbuffer_add(c->sq, ",", 1);
        sj_append_string(c->sq, data, len);
        xhr_flush(c);
    }
}

/* Bytes a session has said that have not gone to the kernel yet. */
static size_t unsent(const struct conn *c)
{
    if (opt.transport != TR_XHR_STREAMING)
        return evbuffer_get_length(bufferevent_get_output(c->bev));
    return evbuffer_get_length(c->sq) + (c->sbev ? evbuffer_get_length(bufferevent_get_output(c->sbev)) : 0);
}

/* ---- life cycle ---------------------------------------------------------- */

static void start_more(struct worker *w);
static void conn_retry(struct conn *c, double retry_after);
static void maybe_report_ready(struct worker *w);
static void send_msg(struct worker *w, uint32_t type);
static void finish(struct worker *w);
static void blast_dropped(struct conn *c);
static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static bool sockjs_frame(struct conn *c, const char *p, size_t len);
static struct bufferevent *open_connection(struct conn *c, bufferevent_data_cb readcb, bufferevent_event_cb eventcb);

static bool in_setup(const struct conn *c)
{
    return c->state >= ST_TCP && c->state < ST_READY;
}

static void setup_finished(struct conn *c, bool ok)
{
    struct worker *w = c->w;
    int64_t t = now_ns();
    w->pending--;
    w->setup_done++;
    if (w->shutting_down)
        return;
    if (ok) {
        w->st.ready++;
        hist_record(&w->st.setup, (uint64_t)(t - c->t_first));
        if (t > w->st.setup_last_ns)
            w->st.setup_last_ns = t;
    } else {
        w->st.failed++;
    }
    if (!w->in_start_more)
        start_more(w);
    maybe_report_ready(w);
}

/* Closes the session. why: 0 = our own shutdown, otherwise counted. */
enum close_why { CW_SHUTDOWN, CW_CONNECT_FAILED, CW_DISCONNECT, CW_ERROR_FRAME, CW_TIMEOUT, CW_PROTOCOL };

/* Frees the connection's sockets and buffers. */
static void conn_release(struct conn *c)
{
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    if (c->in) {
        evbuffer_free(c->in);
        c->in = NULL;
    }
    if (c->sbev) {
        bufferevent_free(c->sbev);
        c->sbev = NULL;
    }
    if (c->sq) {
        evbuffer_free(c->sq);
        c->sq = NULL;
    }
}

static void conn_close(struct conn *c, enum close_why why)
{
    if (c->state == ST_CLOSED || c->state == ST_IDLE)
        return;
    bool setup = in_setup(c);
    struct worker *w = c->w;
    conn_release(c);
    c->state = ST_CLOSED;
    switch (why) {
    case CW_SHUTDOWN:
        break;
    case CW_CONNECT_FAILED:
        w->st.connect_failures++;
        break;
    case CW_DISCONNECT:
    case CW_PROTOCOL:
        w->st.disconnects++;
        break;
    case CW_ERROR_FRAME:
        break;  /* counted where the frame was read */
    case CW_TIMEOUT:
        w->st.timeouts++;
        break;
    }
    if (setup)
        setup_finished(c, false);
    if (w->readers && why != CW_SHUTDOWN)
        blast_dropped(c);
}

static void send_connect(struct conn *c)
{
    char login[256], pass[256], buf[1024];
    uint32_t g = c->gidx;
    if (opt.nusers) {
        snprintf(login, sizeof login, "%s", opt.user_login[g % opt.nusers]);
        snprintf(pass, sizeof pass, "%s", opt.user_pass[g % opt.nusers]);
    } else {
        bench_expand(login, sizeof login, opt.login, g);
        bench_expand(pass, sizeof pass, opt.passcode, g);
    }
    int n = snprintf(buf, sizeof buf,
                     "CONNECT\naccept-version:1.2\nhost:%s\nlogin:%s\npasscode:%s\nheart-beat:0,0\n\n",
                     opt.vhost, login, pass);
    if (n < 0 || (size_t)n >= sizeof buf - 1)
        n = (int)sizeof buf - 2;
    buf[n] = '\0';
    send_frame(c, buf, (size_t)n + 1);
    c->state = ST_STOMP;
}

static void become_ready(struct conn *c)
{
    c->state = ST_READY;
    setup_finished(c, true);
}

static void send_subscriptions(struct conn *c)
{
    struct worker *w = c->w;
    uint32_t a = w->sub_off[c->idx], b = w->sub_off[c->idx + 1];
    if (a == b) {
        become_ready(c);
        return;
    }
    char dest[512], buf[1024];
    for (uint32_t i = a; i < b; i++) {
        unsigned sub = opt.scenario == SC_IDLE ? i - a : 0;
        dest_name(dest, sizeof dest, w->sub_dest[i], sub);
        int n = snprintf(buf, sizeof buf, "SUBSCRIBE\nid:%" PRIu32 "\ndestination:%s\nack:auto\n%s\n",
                         i - a, dest, i + 1 == b ? "receipt:subscribed\n" : "");
        if (n < 0 || (size_t)n >= sizeof buf - 1)
            continue;
        buf[n] = '\0';
        send_frame(c, buf, (size_t)n + 1);
    }
    c->state = ST_SUBSCRIBING;
}

/* ---- publishing ---------------------------------------------------------- */

static void pub_send(struct worker *w, struct pub *p, int64_t now)
{
    struct conn *c = &w->conns[p->conn];
    char stamp[64], dest[512];
    int sl = snprintf(stamp, sizeof stamp, "%" PRId64 " %" PRIu32 " %" PRIu64 " ", now, p->eid, p->seq);
    if (sl < 0)
        return;
    size_t bl = (size_t)sl > (size_t)opt.body_size ? (size_t)sl : (size_t)opt.body_size;
    dest_name(dest, sizeof dest, p->dest, 0);
    char *buf = w->sendbuf;
    int hl;
    if (opt.scenario == SC_APPENDS)
        /* The receipt id carries the send time: SEND -> RECEIPT latency
         * without a table of what is in flight. The client-id, unique per
         * run, is what a real client sends for idempotent retries. */
        hl = snprintf(buf, w->sendbuf_cap,
                      "SEND\ndestination:%s\nreceipt:a%" PRId64 "\nclient-id:%" PRIx64 "-%" PRIu32 "-%" PRIu64
                      "\ncontent-type:text/plain\ncontent-length:%zu\n\n",
                      dest, now, opt.run_id, p->eid, p->seq, bl);
    else if (opt.scenario == SC_BLAST && p->seq + 1 == (uint64_t)opt.count)
        /* Its RECEIPT says that the server has taken every SEND. */
        hl = snprintf(buf, w->sendbuf_cap, "SEND\ndestination:%s\nreceipt:blast-done\ncontent-length:%zu\n\n",
                      dest, bl);
    else
        hl = snprintf(buf, w->sendbuf_cap, "SEND\ndestination:%s\ncontent-length:%zu\n\n", dest, bl);
    if (hl < 0 || (size_t)hl + bl + 1 > w->sendbuf_cap)
        return;
    memcpy(buf + hl, stamp, (size_t)sl);
    memset(buf + hl + sl, 'x', bl - (size_t)sl);
    buf[(size_t)hl + bl] = '\0';
    send_frame(c, buf, (size_t)hl + bl + 1);
    p->seq++;
    p->inflight++;
    w->st.published_total++;
    if (w->measuring)
        w->st.published++;
}

static bool pub_usable(struct worker *w, struct pub *p)
{
    struct conn *c = &w->conns[p->conn];
    return c->state == ST_READY && c->bev;
}

/* Rate mode: every millisecond, send what is due, round-robin. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct worker *w = arg;
    if (!w->publishing || w->npubs == 0)
        return;
    int64_t now = now_ns();
    uint64_t target = (uint64_t)(w->rate * (double)(now - w->go_ns) / 1e9);
    if (target <= w->sent_since_go)
        return;
    uint64_t due = target - w->sent_since_go;
    size_t blocked = 0;
    while (due > 0 && blocked < w->npubs) {
        struct pub *p = &w->pubs[w->rr++ % w->npubs];
        struct conn *c = &w->conns[p->conn];
        if (!pub_usable(w, p) || unsent(c) > BACKPRESSURE_BYTES) {
            blocked++;
            continue;
        }
        blocked = 0;
        pub_send(w, p, now);
        due--;
        w->sent_since_go++;
    }
    if (due > 0) {
        /* Open loop: what cannot be sent now is dropped, not sent in a burst later. */
        w->st.skipped += due;
        w->sent_since_go += due;
    }
}

static void pub_acked(struct worker *w, uint32_t eid, int64_t now)
{
    if (eid >= w->neid || w->pub_by_eid[eid] < 0)
        return;
    struct pub *p = &w->pubs[w->pub_by_eid[eid]];
    if (p->inflight)
        p->inflight--;
    if (opt.rate <= 0 && w->publishing && pub_usable(w, p))
        while (p->inflight < (uint32_t)opt.window)
            pub_send(w, p, now);
}

/* Is the session that received message eid the one that acknowledges it
 * to the publisher (closing the flat-out window)? */
static bool is_acker(struct worker *w, struct conn *c, uint32_t eid)
{
    if (eid >= w->neid || w->pub_by_eid[eid] < 0)
        return false;
    if (opt.scenario == SC_FANOUT)
        return w->pubs[w->pub_by_eid[eid]].conn == c->idx;  /* its own echo */
    return true;                                           /* pairs: the partner */
}

/* ---- blast ------------------------------------------------------------------ */

/* Sends MSG_DONE once the publisher has its last RECEIPT and every normal
 * reader has every message (or either is gone): the parent then stops the
 * run without waiting for the slow readers. If the publisher was cut off,
 * the readers get what the server took of its SENDs: they are through when
 * quiet (the drain's rule). */
static void blast_check_done(struct worker *w)
{
    if (!w->go_ns || w->done_sent || w->finished)
        return;
    int64_t now = now_ns();
    int64_t last = w->last_normal_ns > w->pub_lost_ns ? w->last_normal_ns : w->pub_lost_ns;
    bool lost = w->pub_lost_ns && (now - last >= QUIET_NS || now - w->pub_lost_ns >= (int64_t)(opt.drain * 1e9));
    for (size_t i = 0; i < w->n; i++) {
        const struct reader *r = &w->readers[i];
        if (r->dropped || w->conns[i].state != ST_READY)
            continue;
        if (r->role == RD_PUBLISHER && !w->st.b.pub_receipt_ns)
            return;
        if (r->role == RD_NORMAL && r->got < (uint64_t)opt.count && !lost)
            return;
    }
    w->done_sent = true;
    send_msg(w, MSG_DONE);
}

static void blast_dropped(struct conn *c)
{
    struct worker *w = c->w;
    struct reader *r = &w->readers[c->idx];
    if (r->dropped)
        return;
    r->dropped = true;
    if (r->role == RD_PUBLISHER) {
        w->st.b.pub_dropped++;
        if (!w->st.b.pub_receipt_ns && !w->stop_ns) {
            struct timeval tv = { 0, 50000 };
            w->pub_lost_ns = now_ns();
            event_add(w->drain_ev, &tv);   /* blast_check_done until the readers are quiet */
        }
    }
    if (r->resume)
        event_del(r->resume);
    blast_check_done(w);
    if (w->stop_ns && !w->finished) {   /* draining: were these the last? */
        for (size_t i = 0; i < w->n; i++)
            if (w->readers[i].draining && !w->readers[i].dropped)
                return;
        finish(w);
    }
}

static void blast_received(struct conn *c, uint64_t seq, int64_t now)
{
    struct reader *r = &c->w->readers[c->idx];
    if (r->draining) {
        r->drained++;
        return;
    }
    if (r->got && now - r->last_ns > r->max_pause_ns)
        r->max_pause_ns = now - r->last_ns;
    r->got++;
    r->last_ns = now;
    if (r->role == RD_NORMAL)
        c->w->last_normal_ns = now;
    if (seq != r->next_seq)
        r->gaps++;
    r->next_seq = seq + 1;
}

/* The publisher keeps its socket fed, without a window or a rate: at most
 * BLAST_QUEUE_BYTES wait in our buffer, topped up whenever the kernel has
 * taken all but a quarter of them (the write callback's low mark). */
static void blast_fill(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct worker *w = c->w;
    struct pub *p = &w->pubs[0];
    struct evbuffer *out = bufferevent_get_output(bev);
    if (!w->publishing)
        return;
    while (p->seq < (uint64_t)opt.count && evbuffer_get_length(out) < BLAST_QUEUE_BYTES)
        pub_send(w, p, now_ns());
    if (p->seq < (uint64_t)opt.count)
        return;
    if (evbuffer_get_length(out) == 0) {
        if (!w->st.b.pub_written_ns)
            w->st.b.pub_written_ns = now_ns();
    } else {
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);  /* called again once all is written */
    }
}

static void blast_go(struct worker *w, int64_t now)
{
    w->measure_ns = now;
    for (size_t i = 0; i < w->npubs; i++) {
        struct conn *c = &w->conns[w->pubs[i].conn];
        if (!pub_usable(w, &w->pubs[i]))
            continue;
        w->publishing = true;
        w->st.b.pub_go_ns = now;
        bufferevent_setcb(c->bev, on_read, blast_fill, on_event, c);
        bufferevent_setwatermark(c->bev, EV_WRITE, BLAST_QUEUE_BYTES / 4, 0);
        blast_fill(c->bev, c);
    }
    blast_check_done(w);
}

/* A slow reader takes at most opt.slow_rate bytes/s from its socket: past
 * its credit it stops reading, and a timer resumes it when the rate has paid
 * for what it read. Meanwhile the kernel's buffers fill and then the
 * server's queue for it grows. */
static void slow_took(struct conn *c, struct reader *r, size_t bytes, int64_t now)
{
    double burst = opt.slow_rate * SLOW_BURST_S;
    if (r->credit_ns)
        r->credit += (double)(now - r->credit_ns) / 1e9 * opt.slow_rate;
    else
        r->credit = burst;
    if (r->credit > burst)
        r->credit = burst;
    r->credit_ns = now;
    r->credit -= (double)bytes;
    if (r->credit >= 0 || r->draining)
        return;
    bufferevent_disable(c->bev, EV_READ);
    double s = -r->credit / opt.slow_rate;
    struct timeval tv = { (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };
    evtimer_add(r->resume, &tv);
}

static void slow_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (c->state == ST_READY)
        bufferevent_enable(c->bev, EV_READ);
}

/* At the stop: whether the server has disconnected a slow reader shows only
 * after what waits for it in the kernel's buffers (its close comes behind
 * them), so every slow reader still connected now reads without a limit,
 * and the run ends when they are closed or quiet (the drain). Returns
 * whether any is still connected. */
static bool blast_drain_slow(struct worker *w)
{
    bool any = false;
    for (size_t i = 0; i < w->n; i++) {
        struct reader *r = &w->readers[i];
        struct conn *c = &w->conns[i];
        if (r->role != RD_SLOW || r->dropped || c->state != ST_READY)
            continue;
        r->draining = true;
        event_del(r->resume);
        bufferevent_enable(c->bev, EV_READ);
        any = true;
    }
    return any;
}

/* Adds up this worker's publisher and readers into st.b. */
static void blast_tally(struct worker *w)
{
    struct bstats *b = &w->st.b;
    for (size_t i = 0; i < w->n; i++) {
        const struct reader *r = &w->readers[i];
        switch (r->role) {
        case RD_PUBLISHER:
            b->pub_sent = w->pubs[0].seq;
            break;
        case RD_NORMAL:
            if (!b->normal_readers || r->got < b->normal_min)
                b->normal_min = r->got;
            b->normal_readers++;
            b->normal_got += r->got;
            b->normal_dropped += r->dropped;
            b->normal_gaps += r->gaps;
            if (r->last_ns > b->normal_end_ns)
                b->normal_end_ns = r->last_ns;
            if (r->max_pause_ns > b->normal_max_pause_ns)
                b->normal_max_pause_ns = r->max_pause_ns;
            break;
        case RD_SLOW:
            if (!b->slow_readers || r->got < b->slow_min)
                b->slow_min = r->got;
            if (r->got > b->slow_max)
                b->slow_max = r->got;
            b->slow_readers++;
            b->slow_got += r->got;
            b->slow_dropped += r->dropped;
            b->slow_gaps += r->gaps;
            b->slow_drained += r->drained;
            break;
        }
    }
}

static void on_message(struct conn *c, const char *body, size_t len, int64_t now)
{
    struct worker *w = c->w;
    w->st.delivered_total++;
    w->last_delivery_ns = now;
    if (w->measuring)
        w->st.delivered++;
    char tmp[64];
    if (len >= sizeof tmp)
        len = sizeof tmp - 1;
    memcpy(tmp, body, len);
    tmp[len] = '\0';
    char *end, *end2;
    long long ts = strtoll(tmp, &end, 10);
    if (end == tmp)
        return;
    unsigned long eid = strtoul(end, &end2, 10);
    if (w->readers) {
        const struct reader *r = &w->readers[c->idx];
        blast_received(c, strtoull(end2, NULL, 10), now);
        /* Every normal reader's sample counts, whenever it was sent. */
        if (r->role == RD_NORMAL && now >= ts)
            hist_record(&w->st.lat, (uint64_t)(now - ts));
        if (r->role == RD_NORMAL && r->got == (uint64_t)opt.count)
            blast_check_done(w);
        return;
    }
    /* With --publish-url, a fanout publisher's own copy comes from its own
     * instance: not a cross-instance sample. */
    bool sample = !(opt.split && c->ep == EP_PUB);
    if (sample && w->measure_ns && ts >= w->measure_ns && (!w->stop_ns || ts < w->stop_ns) && now >= ts)
        hist_record(&w->st.lat, (uint64_t)(now - ts));
    if (eid <= UINT32_MAX && is_acker(w, c, (uint32_t)eid))
        pub_acked(w, (uint32_t)eid, now);
}

/* appends: the RECEIPT of a SEND to a room, i.e. the message is stored.
 * id is the receipt id after its 'a': the send time. */
static void on_receipt(struct conn *c, const char *id, int64_t now)
{
    struct worker *w = c->w;
    char *end;
    long long ts = strtoll(id, &end, 10);
    if (end == id || *end)
        return;
    w->st.delivered_total++;
    w->last_delivery_ns = now;
    if (w->measuring)
        w->st.delivered++;
    if (w->measure_ns && ts >= w->measure_ns && (!w->stop_ns || ts < w->stop_ns) && now >= ts)
        hist_record(&w->st.lat, (uint64_t)(now - ts));
    pub_acked(w, c->gidx, now);
}

/* ---- STOMP input ----------------------------------------------------------- */

static void handle_frame(struct conn *c, const struct sframe *f, const char *body, size_t blen, int64_t now)
{
    struct worker *w = c->w;
    if (strcmp(f->command, "MESSAGE") == 0) {
        on_message(c, body, blen, now);
    } else if (strcmp(f->command, "CONNECTED") == 0) {
        if (c->state == ST_STOMP)
            send_subscriptions(c);
    } else if (strcmp(f->command, "RECEIPT") == 0) {
        if (c->state == ST_SUBSCRIBING && strcmp(f->receipt, "subscribed") == 0)
            become_ready(c);
        else if (c->state == ST_READY && opt.scenario == SC_APPENDS && f->receipt[0] == 'a')
            on_receipt(c, f->receipt + 1, now);
        else if (c->state == ST_READY && w->readers && strcmp(f->receipt, "blast-done") == 0) {
            w->st.b.pub_receipt_ns = now;
            blast_check_done(w);
        }
    } else if (strcmp(f->command, "ERROR") == 0) {
        if ((opt.scenario == SC_CONNECT || opt.scenario == SC_RECONNECT) && in_setup(c) &&
            strcmp(f->message, "server busy, retry") == 0 && c->attempts < opt.retries) {
            conn_retry(c, f->retry_after);
            return;
        }
        w->st.error_frames++;
        if (w->readers && w->readers[c->idx].role == RD_PUBLISHER && !w->st.b.pub_errors++)
            snprintf(w->st.b.pub_error, sizeof w->st.b.pub_error, "%s",
                     f->message[0] ? f->message : "(no message header)");
        if (w->errors_shown++ < ERRORS_SHOWN || opt.verbose)
            fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": ERROR %s\n", w->id, c->gidx,
                    f->message[0] ? f->message : "(no message header)");
        conn_close(c, CW_ERROR_FRAME);
    }
}

/* Takes every complete frame out of b. */
static void stomp_input(struct conn *c, struct evbuffer *b, int64_t now)
{
    while (c->state != ST_CLOSED) {
        struct sframe f;
        size_t hl, blen;
        int got = sframe_next(b, MAX_FRAME_BYTES, &f, &hl, &blen);
        if (got == 0)
            return; /* need more */
        if (got < 0) {
            fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": malformed frame from the server\n",
                    c->w->id, c->gidx);
            conn_close(c, CW_PROTOCOL);
            return;
        }
        char body[64];
        size_t keep = blen < sizeof body ? blen : sizeof body;
        struct evbuffer_ptr bp;
        evbuffer_ptr_set(b, &bp, hl, EVBUFFER_PTR_SET);
        evbuffer_copyout_from(b, &bp, body, keep);
        evbuffer_drain(b, hl + blen + 1);
        handle_frame(c, &f, body, keep, now);
    }
}

/* The server closes with bytes of a frame left: a frame short of its
 * final NUL (seen from servers that close right behind an ERROR) is
 * still read, so that the ERROR is counted as one. */
static void salvage(struct conn *c, struct evbuffer *b)
{
    if (!b || !evbuffer_get_length(b) || c->state == ST_CLOSED)
        return;
    if (opt.verbose)
        fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": connection closed with %zu bytes of an "
                "unterminated frame\n", c->w->id, c->gidx, evbuffer_get_length(b));
    evbuffer_add(b, "", 1);
    stomp_input(c, b, now_ns());
}

/* ---- WebSocket input ------------------------------------------------------- */

static bool ws_check_upgrade(struct conn *c, const char *resp, size_t len)
{
    char low[MAX_HTTP_RESPONSE + 1];
    for (size_t i = 0; i < len; i++)
        low[i] = (char)((resp[i] >= 'A' && resp[i] <= 'Z') ? resp[i] + 32 : resp[i]);
    low[len] = '\0';
    if (strncmp(low, "http/1.1 101", 12) != 0)
        return false;
    char src[64];
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned shalen = 0;
    int n = snprintf(src, sizeof src, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", c->wskey);
    if (n < 0 || !EVP_Digest(src, (size_t)n, sha, &shalen, EVP_sha1(), NULL))
        return false;
    char expect[32];
    bench_base64(sha, shalen, expect);
    const char *h = strstr(low, "\r\nsec-websocket-accept:");
    if (!h)
        return false;
    size_t off = (size_t)(h - low) + 23;
    while (off < len && resp[off] == ' ')
        off++;
    return len - off >= strlen(expect) && memcmp(resp + off, expect, strlen(expect)) == 0;
}

/* Unwraps WebSocket frames from in into c->in; answers pings. Returns
 * false when the connection is gone. */
static bool ws_input(struct conn *c, struct evbuffer *in)
{
    for (;;) {
        size_t len = evbuffer_get_length(in);
        if (len < 2)
            return true;
        unsigned char h[14];
        evbuffer_copyout(in, h, len < 14 ? len : 14);
        unsigned op = h[0] & 0x0fu;
        uint64_t pl = h[1] & 0x7fu;
        size_t hl = 2;
        if (pl == 126) {
            if (len < 4)
                return true;
            pl = ((uint64_t)h[2] << 8) | h[3];
            hl = 4;
        } else if (pl == 127) {
            if (len < 10)
                return true;
            pl = 0;
            for (int i = 0; i < 8; i++)
                pl = (pl << 8) | h[2 + i];
            hl = 10;
        }
        if ((h[1] & 0x80u) || pl > MAX_FRAME_BYTES) {
            fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": bad WebSocket frame from the server\n",
                    c->w->id, c->gidx);
            conn_close(c, CW_PROTOCOL);
            return false;
        }
        if (len < hl + pl)
            return true;
        evbuffer_drain(in, hl);
        switch (op) {
        case 0x0:
        case 0x1:
        case 0x2:
            if (opt.transport == TR_SOCKJS_WS) {
                /* One SockJS frame per message (chatd does not fragment them). */
                const char *m = (const char *)evbuffer_pullup(in, (ev_ssize_t)pl);
                if (!sockjs_frame(c, m, (size_t)pl))
                    return false; /* in went with the connection */
                evbuffer_drain(in, (size_t)pl);
            } else {
                evbuffer_remove_buffer(in, c->in, (size_t)pl);
            }
            break;
        case 0x8: {
            unsigned char cb[125];
            size_t n = pl < sizeof cb ? (size_t)pl : sizeof cb;
            evbuffer_remove(in, cb, n);
            evbuffer_drain(in, (size_t)pl - n);
            if (opt.verbose)
                fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": server closed the WebSocket (%u %.*s)\n",
                        c->w->id, c->gidx, n >= 2 ? (unsigned)(cb[0] << 8 | cb[1]) : 0u,
                        n > 2 ? (int)(n - 2) : 0, (const char *)cb + 2);
            salvage(c, c->in);
            conn_close(c, CW_DISCONNECT);
            return false;
        }
        case 0x9: {
            unsigned char ping[125];
            size_t n = pl < sizeof ping ? (size_t)pl : sizeof ping;
            evbuffer_remove(in, ping, n);
            evbuffer_drain(in, (size_t)pl - n);
            ws_send(c, 0xA, ping, n);
            break;
        }
        default:
            evbuffer_drain(in, (size_t)pl);
            break;
        }
    }
}

/* ---- SockJS input and the xhr transport ------------------------------------ */

/* One SockJS frame from the server: o (open), h (heart-beat), a["..."]
 * (messages: STOMP bytes, appended to c->in), c[code,"reason"] (closed).
 * Returns false when the session is gone. */
static bool sockjs_frame(struct conn *c, const char *p, size_t len)
{
    if (!len)
        return true;
    switch (p[0]) {
    case 'o':
        if (!c->sj_open) {
            c->sj_open = true;
            send_connect(c);
        }
        return c->state != ST_CLOSED;
    case 'h':
        return true;
    case 'a':
        if (sj_decode_array(p + 1, len - 1, c->in) == 0)
            return true;
        break;
    case 'c':
        if (opt.verbose)
            fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": server closed the SockJS session: %.*s\n",
                    c->w->id, c->gidx, (int)(len > 200 ? 200 : len), p);
        salvage(c, c->in);
        conn_close(c, CW_DISCONNECT);
        return false;
    default:
        break;
    }
    fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": bad SockJS frame from the server\n", c->w->id, c->gidx);
    conn_close(c, CW_PROTOCOL);
    return false;
}

static void on_send_read(struct bufferevent *bev, void *arg);
static void on_send_event(struct bufferevent *bev, short what, void *arg);

/* xhr-streaming: what the session says goes out as one xhr_send POST at a
 * time on a connection of its own, each carrying every frame said while
 * the previous one was out (as sockjs-client batches). */
static void xhr_flush(struct conn *c)
{
    if (c->s_inflight || !evbuffer_get_length(c->sq))
        return;
    if (!c->sbev) {
        c->s_connected = false;
        c->sbev = open_connection(c, on_send_read, on_send_event);
        if (!c->sbev)
            conn_close(c, in_setup(c) ? CW_CONNECT_FAILED : CW_DISCONNECT);
        return;
    }
    if (!c->s_connected)
        return;
    const struct endpoint *ep = &opt.ep[c->ep];
    struct evbuffer *out = bufferevent_get_output(c->sbev);
    evbuffer_add_printf(out,
                        "POST %s/000/%s/xhr_send HTTP/1.1\r\nHost: %s:%s\r\n"
                        "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n[",
                        ep->path, c->sid, ep->host, ep->port, evbuffer_get_length(c->sq) + 2);
    evbuffer_add_buffer(out, c->sq);
    evbuffer_add(out, "]", 1);
    c->s_inflight = true;
}

/* Reads an HTTP response's head from in when it is all there: 1 and its
 * status line in line, 0 when more is needed, -1 when it is too long. */
static int http_head(struct evbuffer *in, char *line, size_t size)
{
    struct evbuffer_ptr e = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (e.pos < 0)
        return evbuffer_get_length(in) > MAX_HTTP_RESPONSE ? -1 : 0;
    size_t n = (size_t)e.pos < size - 1 ? (size_t)e.pos : size - 1;
    evbuffer_copyout(in, line, n);
    line[n] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    evbuffer_drain(in, (size_t)e.pos + 4);
    return 1;
}

/* The answers to xhr_send: 204 each. */
static void on_send_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        char status[128];
        int r = http_head(in, status, sizeof status);
        if (r == 0)
            return;
        if (r < 0 || strncasecmp(status, "HTTP/1.1 204", 12) != 0) {
            if (c->w->errors_shown++ < ERRORS_SHOWN || opt.verbose)
                fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": xhr_send refused: %s\n", c->w->id,
                        c->gidx, r < 0 ? "(an overlong answer)" : status);
            conn_close(c, in_setup(c) ? CW_CONNECT_FAILED : CW_DISCONNECT);
            return;
        }
        c->s_inflight = false;
        xhr_flush(c);
        if (c->state == ST_CLOSED || c->sbev != bev)
            return;
    }
}

static void on_send_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        c->s_connected = true;
        xhr_flush(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (c->s_inflight || !c->s_connected) {
            if (c->w->errors_shown++ < ERRORS_SHOWN || opt.verbose)
                fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": xhr_send connection lost\n", c->w->id,
                        c->gidx);
            conn_close(c, in_setup(c) ? CW_CONNECT_FAILED : CW_DISCONNECT);
            return;
        }
        /* An idle keep-alive connection the server ended: the next send
         * opens another. */
        bufferevent_free(bev);
        c->sbev = NULL;
        c->s_connected = false;
    }
}

/* xhr-streaming: the receiving response's head, then its frames, one per
 * line. Returns false when the session is gone. */
static bool xhr_input(struct conn *c, struct evbuffer *in)
{
    if (!c->sj_body) {
        char status[128];
        int r = http_head(in, status, sizeof status);
        if (r == 0)
            return true;
        if (r < 0 || strncasecmp(status, "HTTP/1.1 200", 12) != 0) {
            if (c->w->errors_shown++ < ERRORS_SHOWN || opt.verbose)
                fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": xhr_streaming refused: %s\n", c->w->id,
                        c->gidx, r < 0 ? "(an overlong answer)" : status);
            conn_close(c, in_setup(c) ? CW_CONNECT_FAILED : CW_DISCONNECT);
            return false;
        }
        c->sj_body = true;
    }
    for (;;) {
        struct evbuffer_ptr e = evbuffer_search(in, "\n", 1, NULL);
        if (e.pos < 0) {
            if (evbuffer_get_length(in) > (size_t)MAX_FRAME_BYTES * 6) {
                conn_close(c, CW_PROTOCOL);
                return false;
            }
            return true;
        }
        const char *line = (const char *)evbuffer_pullup(in, e.pos + 1);
        if (!sockjs_frame(c, line, (size_t)e.pos))
            return false;
        evbuffer_drain(in, (size_t)e.pos + 1);
    }
}

/* xhr-streaming: the server ended the receiving response (it does after
 * [server] sockjs_response_limit bytes); the next request carries on. */
static void xhr_restart(struct conn *c)
{
    bufferevent_free(c->bev);
    c->sj_body = false;
    c->bev = open_connection(c, on_read, on_event);
    if (!c->bev)
        conn_close(c, CW_DISCONNECT);
}

static void conn_input(struct conn *c, struct evbuffer *in, int64_t now)
{
    if (opt.transport == TR_XHR_STREAMING) {
        if (xhr_input(c, in))
            stomp_input(c, c->in, now);
        return;
    }

    if (opt.transport == TR_TCP) {
        stomp_input(c, in, now);
        return;
    }
    if (c->state == ST_UPGRADE && !c->sj_body) {
        struct evbuffer_ptr e = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (e.pos < 0) {
            if (evbuffer_get_length(in) > MAX_HTTP_RESPONSE) {
                conn_close(c, CW_CONNECT_FAILED);
            }
            return;
        }
        size_t rl = (size_t)e.pos + 4;
        if (rl > MAX_HTTP_RESPONSE) {
            conn_close(c, CW_CONNECT_FAILED);
            return;
        }
        char resp[MAX_HTTP_RESPONSE + 1];
        evbuffer_remove(in, resp, rl);
        resp[rl] = '\0';
        if (!ws_check_upgrade(c, resp, rl)) {
            if (c->w->errors_shown++ < ERRORS_SHOWN || opt.verbose)
                fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": WebSocket upgrade refused: %.*s\n",
                        c->w->id, c->gidx, (int)strcspn(resp, "\r\n"), resp);
            conn_close(c, CW_CONNECT_FAILED);
            return;
        }
        c->in = evbuffer_new();
        if (!c->in) {
            conn_close(c, CW_CONNECT_FAILED);
            return;
        }
        if (opt.transport == TR_WS)
            send_connect(c);
        else
            c->sj_body = true; /* upgraded: the STOMP CONNECT waits for SockJS' 'o' */
    }
    if (!ws_input(c, in))
        return;
    stomp_input(c, c->in, now);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct reader *r = c->w->readers ? &c->w->readers[c->idx] : NULL;
    size_t fresh = evbuffer_get_length(in) - (r ? r->unread : 0);
    int64_t now = now_ns();
    conn_input(c, in, now);
    if (!r || c->state == ST_CLOSED)
        return;
    r->unread = evbuffer_get_length(in);
    if (r->role == RD_SLOW && c->state == ST_READY)
        slow_took(c, r, fresh, now);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        const struct endpoint *ep = &opt.ep[c->ep];
        if (opt.transport == TR_XHR_STREAMING) {
            evbuffer_add_printf(bufferevent_get_output(c->bev),
                                "POST %s/000/%s/xhr_streaming HTTP/1.1\r\nHost: %s:%s\r\nContent-Length: 0\r\n\r\n",
                                ep->path, c->sid, ep->host, ep->port);
            if (c->state == ST_TCP)
                c->state = ST_UPGRADE;
        } else if (opt.transport == TR_SOCKJS_WS) {
            unsigned char key[16];
            for (int i = 0; i < 16; i += 8) {
                uint64_t r = rnd(c->w);
                memcpy(key + i, &r, 8);
            }
            bench_base64(key, sizeof key, c->wskey);
            evbuffer_add_printf(bufferevent_get_output(c->bev),
                                "GET %s/000/%s/websocket HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                ep->path, c->sid, ep->host, ep->port, c->wskey);
            c->state = ST_UPGRADE;
        } else if (opt.transport == TR_WS) {
            unsigned char key[16];
            for (int i = 0; i < 16; i += 8) {
                uint64_t r = rnd(c->w);
                memcpy(key + i, &r, 8);
            }
            bench_base64(key, sizeof key, c->wskey);
            char req[2048];
            int n = snprintf(req, sizeof req,
                             "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Protocol: v12.stomp\r\n\r\n",
                             opt.ep[c->ep].path, opt.ep[c->ep].host, opt.ep[c->ep].port, c->wskey);
            if (n < 0 || (size_t)n >= sizeof req) {
                conn_close(c, CW_CONNECT_FAILED);
                return;
            }
            bufferevent_write(c->bev, req, (size_t)n);
            c->state = ST_UPGRADE;
        } else {
            send_connect(c);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (opt.transport == TR_XHR_STREAMING && c->sj_open && c->state != ST_CLOSED && (what & BEV_EVENT_EOF)) {
            xhr_restart(c);
            return;
        }
        if (c->state == ST_TCP) {
            if (c->w->errors_shown++ < ERRORS_SHOWN || opt.verbose)
                fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": connect: %s\n", c->w->id, c->gidx,
                        strerror(EVUTIL_SOCKET_ERROR()));
            conn_close(c, CW_CONNECT_FAILED);
        } else {
            if (opt.verbose)
                fprintf(stderr, "chat-bench[%d]: session %" PRIu32 ": disconnected (%s)\n", c->w->id, c->gidx,
                        (what & BEV_EVENT_EOF) ? "end of stream" : strerror(EVUTIL_SOCKET_ERROR()));
            if (what & BEV_EVENT_EOF)
                salvage(c, opt.transport == TR_TCP ? bufferevent_get_input(c->bev) : c->in);
            conn_close(c, CW_DISCONNECT);
        }
    }
}

/* A connection to the session's server, connecting; NULL when it could
 * not be started (said on stderr). */
static struct bufferevent *open_connection(struct conn *c, bufferevent_data_cb readcb, bufferevent_event_cb eventcb)
{
    struct worker *w = c->w;
    const struct endpoint *ep = &opt.ep[c->ep];
    int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (w->errors_shown++ < ERRORS_SHOWN || opt.verbose)
            fprintf(stderr, "chat-bench[%d]: socket: %s\n", w->id, strerror(errno));
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt.nsrc) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        sa.sin_addr.s_addr = htonl(opt.src[c->gidx % opt.nsrc]);
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            if (w->errors_shown++ < ERRORS_SHOWN || opt.verbose)
                fprintf(stderr, "chat-bench[%d]: bind: %s\n", w->id, strerror(errno));
            close(fd);
            return NULL;
        }
    }
    struct bufferevent *bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        close(fd);
        return NULL;
    }
    bufferevent_setcb(bev, readcb, NULL, eventcb, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&ep->addr, (int)ep->addrlen) < 0) {
        if (w->errors_shown++ < ERRORS_SHOWN || opt.verbose)
            fprintf(stderr, "chat-bench[%d]: connect: %s\n", w->id, strerror(errno));
        bufferevent_free(bev);
        return NULL;
    }
    return bev;
}

static void conn_start(struct conn *c)
{
    struct worker *w = c->w;
    c->t_start = now_ns();
    if (!w->st.setup_first_ns)
        w->st.setup_first_ns = c->t_start;
    c->state = ST_TCP;
    w->pending++;
    if (!c->retrying) {
        c->t_first = c->t_start;
        w->st.attempted++;
    }
    c->sj_open = c->sj_body = c->s_connected = c->s_inflight = false;
    if (sockjs())
        snprintf(c->sid, sizeof c->sid, "%08" PRIx32 "%08" PRIx32, c->gidx, (uint32_t)rnd(w));
    if (opt.transport == TR_XHR_STREAMING) {
        c->in = evbuffer_new();
        c->sq = evbuffer_new();
        if (!c->in || !c->sq) {
            conn_close(c, CW_CONNECT_FAILED);
            return;
        }
    }
    c->bev = open_connection(c, on_read, on_event);
    if (!c->bev && c->state != ST_CLOSED)
        conn_close(c, CW_CONNECT_FAILED);
}

static void retry_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (!c->retry_wait || c->w->shutting_down)
        return;
    c->retry_wait = false;
    c->retrying = true;
    conn_start(c);
}

/* The server shed this set-up ("server busy, retry"): close, and connect
 * again after its retry-after (at least 1 s) times a random 0.5 to 1.5, as
 * a client with a jittered back-off would. The set-up is still under way. */
static void conn_retry(struct conn *c, double retry_after)
{
    struct worker *w = c->w;
    conn_release(c);
    c->state = ST_CLOSED; /* what the input loops up the stack look for */
    w->pending--;
    c->attempts++;
    c->retry_wait = true;
    w->st.retries++;
    double s = (retry_after >= 1 ? retry_after : 1) * (0.5 + (double)(rnd(w) % 1000000) / 1e6);
    struct timeval tv = { (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };
    if (event_base_once(w->base, -1, EV_TIMEOUT, retry_due, c, &tv) < 0) {
        c->retry_wait = false;
        w->st.failed++;
        w->setup_done++;
        maybe_report_ready(w);
    }
}

/* reconnect: drop every session at once, then all connect again at once. */
static void storm_go(struct worker *w)
{
    for (size_t i = 0; i < w->n; i++) {
        struct conn *c = &w->conns[i];
        if (c->state != ST_CLOSED && c->state != ST_IDLE)
            conn_close(c, CW_SHUTDOWN);
        c->state = ST_IDLE;
        c->attempts = 0;
        c->retrying = c->retry_wait = false;
    }
    w->st.setup_first_ns = w->st.setup_last_ns = 0;
    w->st.attempted = w->st.ready = w->st.failed = w->st.retries = 0;
    w->st.error_frames = w->st.disconnects = w->st.connect_failures = w->st.timeouts = 0;
    hist_init(&w->st.setup);
    w->next_start = w->setup_done = 0;
    w->pending = 0;
    w->ready_sent = false;
    w->storm = true;
    struct timeval st = { (time_t)opt.setup_timeout,
                          (suseconds_t)((opt.setup_timeout - (double)(time_t)opt.setup_timeout) * 1e6) };
    event_add(w->setup_ev, &st);
    start_more(w);
    maybe_report_ready(w);
}

static void start_more(struct worker *w)
{
    w->in_start_more = true;
    while ((w->storm || w->pending < (size_t)opt.concurrency) && w->next_start < w->n)
        conn_start(&w->conns[w->next_start++]);
    w->in_start_more = false;
}

/* ---- talking to the parent ------------------------------------------------- */

static void send_msg(struct worker *w, uint32_t type)
{
    if (write_full(w->res_fd, &type, sizeof type) < 0 || write_full(w->res_fd, &w->st, sizeof w->st) < 0) {
        fprintf(stderr, "chat-bench[%d]: pipe to parent: %s\n", w->id, strerror(errno));
        w->finished = true;
        event_base_loopbreak(w->base);
    }
}

static void maybe_report_ready(struct worker *w)
{
    if (w->ready_sent || w->setup_done < w->n)
        return;
    w->ready_sent = true;
    if (w->setup_ev)
        event_del(w->setup_ev);
    send_msg(w, MSG_READY);
}

static void on_setup_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct worker *w = arg;
    /* No more set-ups: the ones not started count as failed too. */
    for (size_t i = w->next_start; i < w->n; i++)
        w->st.failed++, w->st.timeouts++, w->setup_done++;
    w->next_start = w->n;
    for (size_t i = 0; i < w->n; i++)
        if (w->conns[i].retry_wait) {
            w->conns[i].retry_wait = false;
            w->st.failed++, w->st.timeouts++, w->setup_done++;
        }
    for (size_t i = 0; i < w->n; i++)
        if (in_setup(&w->conns[i]))
            conn_close(&w->conns[i], CW_TIMEOUT);
    maybe_report_ready(w);
}

static void finish(struct worker *w)
{
    if (w->finished)
        return;
    if (w->readers)
        blast_tally(w);
    send_msg(w, MSG_RESULT);
    w->finished = true;
    event_base_loopbreak(w->base);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct worker *w = arg;
    if (w->readers && !w->stop_ns) {
        blast_check_done(w);
        if (w->done_sent)
            event_del(w->drain_ev);
        return;
    }
    int64_t now = now_ns();
    int64_t last = w->last_delivery_ns > w->stop_ns ? w->last_delivery_ns : w->stop_ns;
    if (now - last >= QUIET_NS || now - w->stop_ns >= (int64_t)(opt.drain * 1e9))
        finish(w);
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct worker *w = arg;
    char cmd;
    ssize_t r = read(fd, &cmd, 1);
    if (r <= 0) {
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        /* The parent is gone. */
        w->finished = true;
        event_base_loopbreak(w->base);
        return;
    }
    int64_t now = now_ns();
    switch (cmd) {
    case CMD_GO:
        w->go_ns = now;
        if (opt.scenario == SC_RECONNECT) {
            storm_go(w);
            break;
        }
        if (opt.scenario == SC_BLAST) {
            blast_go(w, now);
            break;
        }
        w->publishing =
            (opt.scenario == SC_FANOUT || opt.scenario == SC_PAIRS || opt.scenario == SC_APPENDS) && w->npubs > 0;
        if (!w->publishing)
            break;
        if (opt.rate > 0) {
            struct timeval tv = { 0, 1000 };
            event_add(w->tick_ev, &tv);
        } else {
            for (size_t i = 0; i < w->npubs; i++)
                if (pub_usable(w, &w->pubs[i]))
                    while (w->pubs[i].inflight < (uint32_t)opt.window)
                        pub_send(w, &w->pubs[i], now_ns());
        }
        break;
    case CMD_MEASURE:
        if (opt.scenario != SC_BLAST)
            w->measure_ns = now;
        w->measuring = true;
        break;
    case CMD_STOP: {
        w->stop_ns = now;
        w->measuring = false;
        w->publishing = false;
        if (w->tick_ev)
            event_del(w->tick_ev);
        if (w->readers ? !blast_drain_slow(w)
                       : opt.scenario != SC_FANOUT && opt.scenario != SC_PAIRS && opt.scenario != SC_APPENDS) {
            finish(w);
            break;
        }
        struct timeval tv = { 0, 50000 };
        event_add(w->drain_ev, &tv);
        break;
    }
    default:
        break;
    }
}

/* ---- the scenario's shape ------------------------------------------------ */

static size_t local_count(int id)
{
    long n = opt.sessions, p = opt.processes;
    return id < n ? (size_t)((n - id + p - 1) / p) : 0;
}

/* Fills sub_off/sub_dest and pubs for this worker. */
static int plan(struct worker *w)
{
    size_t n = w->n;
    uint32_t P = (uint32_t)opt.processes, N = (uint32_t)opt.sessions;
    w->sub_off = calloc(n + 1, sizeof *w->sub_off);
    if (!w->sub_off)
        return -1;
    size_t nsubs = 0;
    uint32_t *cnt = w->sub_off + 1;   /* counts first, then prefix sums */

    if (opt.scenario == SC_FANOUT) {
        uint64_t slots = (uint64_t)opt.rooms * (uint64_t)opt.members;
        for (uint64_t k = 0; k < slots; k++) {
            uint32_t s = (uint32_t)(k % N);
            if (s % P == (uint32_t)w->id)
                cnt[s / P]++, nsubs++;
        }
    } else if (opt.scenario == SC_PAIRS) {
        /* Split (--publish-url): one way, the even session publishes and
         * the odd one subscribes. */
        for (size_t i = 0; i + 1 < n; i += 2) {
            cnt[i] = opt.split ? 0 : 1;
            cnt[i + 1] = 1;
            nsubs += opt.split ? 1 : 2;
        }
    } else if (opt.scenario == SC_IDLE) {
        for (size_t i = 0; i < n; i++)
            cnt[i] = (uint32_t)opt.idle_subs, nsubs += (size_t)opt.idle_subs;
    } else if (opt.scenario == SC_BLAST) {
        /* Every session but the publisher (session 0) reads the one destination. */
        for (size_t i = 0; i < n; i++)
            if (w->conns[i].gidx > 0)
                cnt[i] = 1, nsubs++;
    }
    for (size_t i = 0; i < n; i++)
        w->sub_off[i + 1] += w->sub_off[i];
    w->sub_dest = malloc((nsubs ? nsubs : 1) * sizeof *w->sub_dest);
    uint32_t *fill = calloc(n ? n : 1, sizeof *fill);
    if (!w->sub_dest || !fill) {
        free(fill);
        return -1;
    }
    if (opt.scenario == SC_FANOUT) {
        uint64_t slots = (uint64_t)opt.rooms * (uint64_t)opt.members;
        for (uint64_t k = 0; k < slots; k++) {
            uint32_t s = (uint32_t)(k % N);
            if (s % P == (uint32_t)w->id) {
                uint32_t li = s / P;
                w->sub_dest[w->sub_off[li] + fill[li]++] = (uint32_t)(k / (uint64_t)opt.members);
            }
        }
    } else if (opt.scenario == SC_PAIRS) {
        for (size_t i = 0; i < n; i++)
            if (w->sub_off[i + 1] > w->sub_off[i])
                w->sub_dest[w->sub_off[i]] = w->conns[i].gidx;
    } else if (opt.scenario == SC_IDLE) {
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < opt.idle_subs; k++)
                w->sub_dest[w->sub_off[i] + (uint32_t)k] = w->conns[i].gidx;
    } else if (opt.scenario == SC_BLAST) {
        for (size_t i = 0; i < n; i++)
            if (w->sub_off[i + 1] > w->sub_off[i])
                w->sub_dest[w->sub_off[i]] = 0;
    }
    free(fill);

    /* Publishers. */
    size_t total_pubs = 0;
    if (opt.scenario == SC_FANOUT) {
        w->neid = (size_t)opt.rooms * (size_t)opt.publishers;
        total_pubs = w->neid;
        w->pubs = calloc(w->neid ? w->neid : 1, sizeof *w->pubs);
        w->pub_by_eid = malloc((w->neid ? w->neid : 1) * sizeof *w->pub_by_eid);
        if (!w->pubs || !w->pub_by_eid)
            return -1;
        for (size_t e = 0; e < w->neid; e++) {
            w->pub_by_eid[e] = -1;
            uint64_t r = e / (size_t)opt.publishers, j = e % (size_t)opt.publishers;
            uint32_t s = (uint32_t)((r * (uint64_t)opt.members + j) % N);
            if (s % P != (uint32_t)w->id)
                continue;
            w->pub_by_eid[e] = (int32_t)w->npubs;
            w->pubs[w->npubs++] = (struct pub){ .conn = s / P, .dest = (uint32_t)r, .eid = (uint32_t)e };
        }
    } else if (opt.scenario == SC_PAIRS) {
        w->neid = N;
        for (int id = 0; id < opt.processes; id++)
            total_pubs += local_count(id) / 2 * (opt.split ? 1 : 2);
        w->pubs = calloc(n ? n : 1, sizeof *w->pubs);
        w->pub_by_eid = malloc((size_t)N * sizeof *w->pub_by_eid);
        if (!w->pubs || !w->pub_by_eid)
            return -1;
        for (size_t e = 0; e < N; e++)
            w->pub_by_eid[e] = -1;
        for (size_t i = 0; i + 1 < n; i += 2) {
            struct conn *a = &w->conns[i], *b = &w->conns[i + 1];
            w->pub_by_eid[a->gidx] = (int32_t)w->npubs;
            w->pubs[w->npubs++] = (struct pub){ .conn = a->idx, .dest = b->gidx, .eid = a->gidx };
            if (opt.split)
                continue;
            w->pub_by_eid[b->gidx] = (int32_t)w->npubs;
            w->pubs[w->npubs++] = (struct pub){ .conn = b->idx, .dest = a->gidx, .eid = b->gidx };
        }
    } else if (opt.scenario == SC_APPENDS) {
        /* Every session sends to the one room. */
        w->neid = N;
        total_pubs = N;
        w->pubs = calloc(n ? n : 1, sizeof *w->pubs);
        w->pub_by_eid = malloc((size_t)N * sizeof *w->pub_by_eid);
        if (!w->pubs || !w->pub_by_eid)
            return -1;
        for (size_t e = 0; e < N; e++)
            w->pub_by_eid[e] = -1;
        for (size_t i = 0; i < n; i++) {
            w->pub_by_eid[w->conns[i].gidx] = (int32_t)w->npubs;
            w->pubs[w->npubs++] = (struct pub){ .conn = (uint32_t)i, .eid = w->conns[i].gidx };
        }
    } else if (opt.scenario == SC_BLAST) {
        /* Session 0 publishes; 1..readers read flat out, the rest slowly.
         * No window: nothing acknowledges to the publisher (neid = 0). */
        w->pubs = calloc(1, sizeof *w->pubs);
        w->readers = calloc(n ? n : 1, sizeof *w->readers);
        if (!w->pubs || !w->readers)
            return -1;
        for (size_t i = 0; i < n; i++) {
            struct reader *r = &w->readers[i];
            uint32_t g = w->conns[i].gidx;
            r->role = g == 0 ? RD_PUBLISHER : g <= (uint32_t)opt.readers ? RD_NORMAL : RD_SLOW;
            if (r->role == RD_PUBLISHER)
                w->pubs[w->npubs++] = (struct pub){ .conn = (uint32_t)i };
            else if (r->role == RD_SLOW && !(r->resume = evtimer_new(w->base, slow_resume, &w->conns[i])))
                return -1;
        }
    }
    if (opt.split)
        for (size_t i = 0; i < w->npubs; i++)
            w->conns[w->pubs[i].conn].ep = EP_PUB;
    if (total_pubs)
        w->rate = opt.rate * (double)w->npubs / (double)total_pubs;
    return 0;
}

static void raise_fd_limit(int id)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fprintf(stderr, "chat-bench[%d]: setrlimit: %s\n", id, strerror(errno));
    }
}

int worker_main(int id, int ctl_fd, int res_fd)
{
    static struct worker w;   /* a forked process has one */
    int rc = 1;
    memset(&w, 0, sizeof w);
    w.id = id;
    w.ctl_fd = ctl_fd;
    w.res_fd = res_fd;
    w.rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)getpid() << 32) ^ (uint64_t)now_ns();
    hist_init(&w.st.setup);
    hist_init(&w.st.lat);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(id);

    w.n = local_count(id);
    w.conns = calloc(w.n ? w.n : 1, sizeof *w.conns);
    w.base = event_base_new();
    if (!w.conns || !w.base)
        goto out;
    for (size_t i = 0; i < w.n; i++) {
        w.conns[i].w = &w;
        w.conns[i].idx = (uint32_t)i;
        w.conns[i].gidx = (uint32_t)(id + (long)i * opt.processes);
    }
    w.sendbuf_cap = (size_t)opt.body_size + 2048;
    w.sendbuf = malloc(w.sendbuf_cap);
    if (!w.sendbuf || plan(&w) < 0) {
        fprintf(stderr, "chat-bench[%d]: out of memory\n", id);
        goto out;
    }
    w.ctl_ev = event_new(w.base, ctl_fd, EV_READ | EV_PERSIST, on_ctl, &w);
    w.tick_ev = event_new(w.base, -1, EV_PERSIST, on_tick, &w);
    w.setup_ev = evtimer_new(w.base, on_setup_timeout, &w);
    w.drain_ev = event_new(w.base, -1, EV_PERSIST, on_drain, &w);
    if (!w.ctl_ev || !w.tick_ev || !w.setup_ev || !w.drain_ev)
        goto out;
    event_add(w.ctl_ev, NULL);
    struct timeval st = { (time_t)opt.setup_timeout,
                          (suseconds_t)((opt.setup_timeout - (double)(time_t)opt.setup_timeout) * 1e6) };
    event_add(w.setup_ev, &st);

    start_more(&w);
    maybe_report_ready(&w);
    while (!w.finished)
        if (event_base_dispatch(w.base) != 0)
            break;
    rc = 0;
out:
    w.shutting_down = true;
    for (size_t i = 0; w.conns && i < w.n; i++) {
        if (w.conns[i].state != ST_CLOSED && w.conns[i].state != ST_IDLE)
            conn_close(&w.conns[i], CW_SHUTDOWN);
    }
    if (w.ctl_ev)
        event_free(w.ctl_ev);
    if (w.tick_ev)
        event_free(w.tick_ev);
    if (w.setup_ev)
        event_free(w.setup_ev);
    if (w.drain_ev)
        event_free(w.drain_ev);
    for (size_t i = 0; w.readers && i < w.n; i++)
        if (w.readers[i].resume)
            event_free(w.readers[i].resume);
    if (w.base)
        event_base_free(w.base);
    free(w.conns);
    free(w.sub_off);
    free(w.sub_dest);
    free(w.pubs);
    free(w.pub_by_eid);
    free(w.readers);
    free(w.sendbuf);
    return rc;
}
