#include "net/gateway.h"
#include "tls_files.h"
#include "net/tls_peer.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "log.h"
#include "net/client_addr.h"
#include "net/gateway_conn.h"
#include "net/proxy_header.h"
#include "origins.h"
#include "utf8.h"


static void pending_add(struct gateway *g, const struct xmsg *m)
{
    if (g->npending == g->pending_cap) {
        size_t cap = g->pending_cap ? g->pending_cap * 2 : 32;
        struct xmsg *p = realloc(g->pending, cap * sizeof *p);
        if (!p) {
            struct xmsg copy = *m;
            xmsg_dispose(&copy);
            log_msg(CHATD_LOG_ERROR, "gateway", m->session, "out of memory: message to core dropped");
            return;
        }
        g->pending = p;
        g->pending_cap = cap;
    }
    g->pending[g->npending++] = *m;
}

/* Push what this callback produced to the core in one batch. */
static void pending_flush(struct gateway *g)
{
    if (!g->npending)
        return;
    bool failed;
    if (xq_push(g->to_core, g->pending, g->npending, &failed))
        g->wake_core(g->wake_arg);
    if (failed) {
        for (size_t i = 0; i < g->npending; i++)
            xmsg_dispose(&g->pending[i]);
        log_msg(CHATD_LOG_ERROR, "gateway", 0, "out of memory: %zu messages to core dropped", g->npending);
    }
    g->npending = 0;
}

static void conn_clear_out(struct conn *c)
{
    for (struct outitem *it = c->out_head, *next; it; it = next) {
        next = it->next;
        free(it->head);
        rcbuf_unref(it->shared);
        free(it);
    }
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
}

/* [server] max_connections_per_ip: live connections per peer address. The
 * count lives in the map's value; an address leaves the map at zero. */
static size_t peer_count(const struct gateway *g, const char *addr)
{
    return (size_t)(uintptr_t)strmap_get(&g->peers, addr);
}

static int peer_hold(struct gateway *g, struct conn *c)
{
    if (strmap_put(&g->peers, c->peer, (void *)(uintptr_t)(peer_count(g, c->peer) + 1)) < 0)
        return -1;
    c->counted = true;
    return 0;
}

static void peer_release(struct gateway *g, struct conn *c)
{
    if (!c->counted)
        return;
    c->counted = false;
    size_t n = peer_count(g, c->peer);
    if (n <= 1)
        strmap_del(&g->peers, c->peer);
    else
        strmap_put(&g->peers, c->peer, (void *)(uintptr_t)(n - 1)); /* the key exists: cannot fail */
}

void conn_wake(struct conn *c)
{
    if (c->sj)
        sockjs_session_wake(c->g, c->sj);
    else
        lws_callback_on_writable(c->wsi);
}

static void conn_send_error(struct gateway *g, struct conn *c, const char *why, const char *detail);
static void conn_heartbeat(struct ev_loop *loop, ev_timer *w, int revents);
static void conn_flow_free(struct gateway *g, struct conn *c);
static void conn_heartbeat_arm(struct gateway *g, struct conn *c);

/* Gateway thread: leave the loop (the drain is over, or gateway_stop). */
static void gateway_leave(struct gateway *g)
{
    atomic_store(&g->stop, true);
    ev_break(g->loop, EVBREAK_ALL);
}

/* The address a connection or request counts as: its peer's, or behind a
 * trusted proxy the client's that the proxy names (net/client_addr.h). */
static void client_address(struct gateway *g, struct lws *wsi, bool http, char *out, size_t outlen)
{
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    const struct cidr_list *trusted = &g->settings->trusted_proxies;
    if (!http || !trusted->n) {
        snprintf(out, outlen, "%s", peer);
        return;
    }
    char fwd[1024] = "", xff[1024] = "";
    if (lws_hdr_custom_copy(wsi, fwd, sizeof fwd, "forwarded:", 10) < 0)
        fwd[0] = '\0';
    if (lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) < 0)
        xff[0] = '\0';
    client_addr_resolve(trusted, peer, fwd, xff, out, outlen);
}

/* [server] tls_client_user: once the TLS handshake of c is over, the core
 * hears whom its client certificate names, before any frame of c. */
static void conn_tls_peer(struct gateway *g, struct conn *c, struct lws *wsi)
{
    enum tls_client_user rule = g->settings->tls.client_user;
    if (!c->id || rule == TLS_CLIENT_USER_OFF || !lws_is_ssl(wsi))
        return;
    char *identity;
    const char *problem;
    if (tls_peer_identity(lws_get_ssl(wsi), rule, &identity, &problem) == 0)
        return;
    if (problem)
        log_msg(CHATD_LOG_INFO, "gateway", c->id, "TLS client certificate from %s names no user: %s", c->peer,
                problem);
    struct xmsg m = {.session = c->id, .kind = XM_TLS_PEER};
    m.u.tls_peer.identity = identity;
    m.u.tls_peer.problem = problem;
    pending_add(g, &m);
}

/* A connection from addr (NULL: the one the peer and its headers say). */
static void conn_open_from(struct gateway *g, struct conn *c, struct lws *wsi, enum transport t, const char *addr)
{
    memset(c, 0, sizeof *c);
    ev_timer_init(&c->hb_timer, conn_heartbeat, 0, 0);
    c->g = g;
    c->wsi = wsi;
    c->transport = t;
    if (addr)
        snprintf(c->peer, sizeof c->peer, "%s", addr);
    else
        client_address(g, wsi, t == TRANSPORT_WS, c->peer, sizeof c->peer);
    size_t limit = g->live.max_connections_per_ip;
    if (limit && peer_count(g, c->peer) >= limit) {
        /* Never reaches the core: no session, only this ERROR, then close. */
        log_msg(CHATD_LOG_WARN, "gateway", 0, "%s connection from %s refused: %zu already open from there",
                t == TRANSPORT_WS ? "WebSocket" : "TCP", c->peer, limit);
        conn_send_error(g, c, "too many connections from this address",
                        "This address has reached [server] max_connections_per_ip.");
        return;
    }
    c->parser = stomp_parser_new(&g->live.frame);
    c->id = ++g->next_id;
    /* Counted with no limit too, so that a reload setting one counts the
     * connections already open. */
    if (!c->parser || idmap_put(&g->conns, c->id, c) < 0 || (peer_hold(g, c) < 0 && limit)) {
        idmap_del(&g->conns, c->id); /* absent when idmap_put failed */
        stomp_parser_free(c->parser);
        c->parser = NULL;
        c->id = 0;
        c->kill = true;
        lws_callback_on_writable(wsi);
        return;
    }
    struct xmsg m = {.session = c->id, .kind = XM_OPENED};
    m.u.opened.transport = t;
    m.u.opened.remote_addr = strdup(c->peer);
    pending_add(g, &m);
    /* A WebSocket or a SockJS request opens once its handshake is over; raw
     * TCP at accept, before it (callback_stomp_raw asks at its first bytes). */
    if (t == TRANSPORT_WS)
        conn_tls_peer(g, c, wsi);
    pending_flush(g);
}

void conn_open(struct gateway *g, struct conn *c, struct lws *wsi, enum transport t)
{
    conn_open_from(g, c, wsi, t, NULL);
}

void conn_closed(struct gateway *g, struct conn *c)
{
    /* A refused connection has no id but may still hold its ERROR frame. */
    conn_clear_out(c);
    peer_release(g, c);
    conn_flow_free(g, c);
    if (!c->id)
        return;
    idmap_del(&g->conns, c->id);
    ev_timer_stop(g->loop, &c->hb_timer);
    stomp_parser_free(c->parser);
    c->parser = NULL;
    struct xmsg m = {.session = c->id, .kind = XM_CLOSED};
    m.u.reason = "connection closed";
    pending_add(g, &m);
    pending_flush(g);
    c->id = 0;
    if (g->draining && g->conns.count == 0)
        gateway_leave(g);
}

/* ------------------------------------------------------ flow control */

/* Bytes of one connection's frames that may wait for the core before the
 * gateway stops reading it (a single larger frame still goes through). */
#define INFLIGHT_MAX (256 * 1024)

/* The gateway reads a connection unless the core's backlog of it is full,
 * too many of its bytes wait for the core, a recipient's queue it filled
 * is above the mark, or its SEND byte rate is used up. */
static bool conn_rx_blocked(const struct conn *c)
{
    return c->rx_paused || c->inflight > INFLIGHT_MAX || c->throttled_by || (c->flow && c->flow->rate_wait);
}

bool conn_is_rx_blocked(const struct conn *c)
{
    return c->rx_blocked;
}

static void conn_rx_update(struct conn *c)
{
    bool blocked = conn_rx_blocked(c);
    if (blocked == c->rx_blocked)
        return;
    c->rx_blocked = blocked;
    if (!blocked)
        c->last_rx_us = lws_now_usecs(); /* the silence meanwhile was ours */
    if (c->sj)
        sockjs_session_rx(c->g, c->sj, !blocked);
    else
        lws_rx_flow_control(c->wsi, !blocked);
    if (c->hb_receive_us)
        conn_heartbeat_arm(c->g, c); /* the receive deadline is off while blocked */
}

static void conn_release_publishers(struct gateway *g, struct conn *c)
{
    struct conn_flow *f = c->flow;
    if (!f || !f->nholding)
        return;
    for (size_t i = 0; i < f->nholding; i++) {
        struct conn *p = idmap_get(&g->conns, f->holding[i]);
        if (p && p->throttled_by) {
            p->throttled_by--;
            conn_rx_update(p);
        }
    }
    f->nholding = 0;
    ev_timer_stop(g->loop, &f->slow_timer);
}

/* A queue that holds publishers back and does not drain below the low
 * mark in [stomp] slow_consumer_timeout belongs to a slow consumer: it must
 * not stall the publishers for good. */
static void flow_slow_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn_flow *f = (struct conn_flow *)((char *)w - offsetof(struct conn_flow, slow_timer));
    struct conn *c = f->c;
    log_msg(CHATD_LOG_WARN, "gateway", c->id,
            "outbound queue above %zu bytes for %lld ms while publishers waited: slow consumer disconnected",
            c->g->live.max_outbound_bytes / 4, c->g->live.slow_consumer_timeout_ms);
    conn_release_publishers(c->g, c);
    c->kill = true;
    conn_wake(c);
}

static void flow_rate_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn_flow *f = (struct conn_flow *)((char *)w - offsetof(struct conn_flow, rate_timer));
    f->rate_wait = false;
    conn_rx_update(f->c);
}

static struct conn_flow *conn_flow(struct conn *c)
{
    if (c->flow)
        return c->flow;
    struct conn_flow *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->c = c;
    ev_timer_init(&f->slow_timer, flow_slow_timeout, 0, 0);
    ev_timer_init(&f->rate_timer, flow_rate_resume, 0, 0);
    return c->flow = f;
}

static void conn_flow_free(struct gateway *g, struct conn *c)
{
    if (!c->flow)
        return;
    conn_release_publishers(g, c);
    ev_timer_stop(g->loop, &c->flow->rate_timer);
    free(c->flow->holding);
    free(c->flow);
    c->flow = NULL;
}

/* c's queue passed half of max_outbound_bytes with bytes that `origin` (a
 * connection of this instance) published: stop reading that publisher
 * until c drains below a quarter, so that one fast sender slows down
 * instead of getting its readers disconnected. */
static void conn_hold_publisher(struct gateway *g, struct conn *c, uint64_t origin)
{
    struct conn *p = idmap_get(&g->conns, origin);
    struct conn_flow *f;
    if (!p || p == c || !(f = conn_flow(c)))
        return;
    for (size_t i = 0; i < f->nholding; i++)
        if (f->holding[i] == origin)
            return;
    if (f->nholding == f->holding_cap) {
        size_t cap = f->holding_cap ? f->holding_cap * 2 : 4;
        uint64_t *v = realloc(f->holding, cap * sizeof *v);
        if (!v)
            return;
        f->holding = v;
        f->holding_cap = cap;
    }
    f->holding[f->nholding++] = origin;
    p->throttled_by++;
    conn_rx_update(p);
    long long ms = g->live.slow_consumer_timeout_ms;
    if (f->nholding == 1 && ms) {
        ev_timer_set(&f->slow_timer, (double)ms / 1e3, 0);
        ev_timer_start(g->loop, &f->slow_timer);
    }
}

/* [stomp] max_send_bytes_per_second: a token bucket of SEND bytes with a
 * burst of one second's worth. A frame may overdraw it; the connection is
 * then not read until the debt is paid. */
static void conn_rate_take(struct gateway *g, struct conn *c, size_t len)
{
    size_t rate = g->live.max_send_bytes_per_second;
    if (!rate)
        return;
    lws_usec_t now = lws_now_usecs();
    if (!c->rate_refill_us)
        c->rate_tokens = (double)rate;
    else
        c->rate_tokens += (double)(now - c->rate_refill_us) * (double)rate / 1e6;
    if (c->rate_tokens > (double)rate)
        c->rate_tokens = (double)rate;
    c->rate_refill_us = now;
    c->rate_tokens -= (double)len;
    struct conn_flow *f;
    if (c->rate_tokens >= 0 || !(f = conn_flow(c)))
        return;
    f->rate_wait = true;
    ev_timer_stop(g->loop, &f->rate_timer);
    ev_timer_set(&f->rate_timer, -c->rate_tokens / (double)rate, 0);
    ev_timer_start(g->loop, &f->rate_timer);
}

/* Queue one frame; `wake`: ask lws for a writable callback (else the
 * caller writes itself). [stomp] max_outbound_bytes bounds what may be
 * queued before a frame, not with it: a frame larger than the bound (a big
 * message under a raised max_frame_size) still goes to a client that keeps
 * up, and only one that has fallen behind by more than the bound is cut. */
static void conn_enqueue(struct gateway *g, struct conn *c, char *head, size_t head_len,
                         struct rcbuf *shared, bool wake)
{
    struct outitem *it = malloc(sizeof *it);
    size_t len = head_len + (shared ? shared->len : 0);
    if (!it || c->kill || c->close_after_flush || c->out_bytes > g->live.max_outbound_bytes) {
        if (it && !c->kill && !c->close_after_flush)
            log_msg(CHATD_LOG_WARN, "gateway", c->id,
                    "outbound queue above %zu bytes: slow consumer disconnected",
                    g->live.max_outbound_bytes);
        free(it);
        free(head);
        rcbuf_unref(shared);
        if (!c->close_after_flush)
            c->kill = true;
        conn_wake(c);
        return;
    }
    *it = (struct outitem){NULL, head, head_len, shared};
    if (c->out_tail)
        c->out_tail->next = it;
    else
        c->out_head = it;
    c->out_tail = it;
    c->out_bytes += len;
    if (shared && shared->origin && c->out_bytes > g->live.max_outbound_bytes / 2)
        conn_hold_publisher(g, c, shared->origin);
    if (wake)
        conn_wake(c);
}

/* Queue an ERROR frame and close once it is written. */
static void conn_send_error(struct gateway *g, struct conn *c, const char *why, const char *detail)
{
    struct stomp_buf b = {0};
    char body[256];
    int bl = snprintf(body, sizeof body, "%s\n", detail);
    if (stomp_encode_command(&b, STOMP_CMD_ERROR) == 0 &&
        stomp_encode_header(&b, STOMP_V1_2, STOMP_CMD_ERROR, "message", why) == 0 &&
        stomp_encode_header(&b, STOMP_V1_2, STOMP_CMD_ERROR, "content-type", "text/plain") == 0 &&
        stomp_encode_body(&b, body, (size_t)bl, true) == 0) {
        conn_enqueue(g, c, b.data, b.len, NULL, true);
        b.data = NULL;
    }
    stomp_buf_free(&b);
    c->rx_closed = true;
    c->close_after_flush = true;
    conn_wake(c);
}

/* Answer with an ERROR frame, then close. */
void conn_error(struct gateway *g, struct conn *c, const char *why, const char *detail)
{
    log_msg(CHATD_LOG_INFO, "gateway", c->id, "closing: %s", why);
    conn_send_error(g, c, why, detail);
}

static void conn_fail(struct gateway *g, struct conn *c, const char *why)
{
    char detail[192];
    snprintf(detail, sizeof detail, "The frame could not be parsed: %s.", why);
    conn_error(g, c, why, detail);
}

/* Heart-beats: an EOL when we have been quiet for the send interval, a
 * close when the client has been for twice its interval. One one-shot
 * timer per connection, armed for the nearer of the two deadlines; reads
 * and writes only stamp last_rx_us / last_tx_us, and a timer that finds its
 * deadline moved re-arms for the new one (libev's cheapest pattern for
 * inactivity timeouts), so a silent client is closed at its deadline, not
 * up to a tick later. */
/* How often something must be written: the STOMP heart-beat, and over
 * SockJS-over-WebSocket the protocol's own 'h' frames. 0 = never. */
static lws_usec_t conn_send_interval(const struct gateway *g, const struct conn *c)
{
    lws_usec_t us = c->hb_send_us;
    if (c->framing == FRAMING_SOCKJS_WS) {
        lws_usec_t sj = (lws_usec_t)g->live.sockjs_heartbeat_ms * 1000;
        if (!us || sj < us)
            us = sj;
    }
    return us;
}

static void conn_heartbeat_arm(struct gateway *g, struct conn *c)
{
    ev_timer_stop(g->loop, &c->hb_timer);
    if (c->close_after_flush || c->kill || !c->id)
        return;
    lws_usec_t now = lws_now_usecs(), next = 0, send_us = conn_send_interval(g, c);
    /* A paused connection is silent because we do not read it. */
    if (c->hb_receive_us && !c->rx_blocked)
        next = c->last_rx_us + 2 * c->hb_receive_us;
    if (send_us) {
        lws_usec_t due = c->last_tx_us + send_us;
        if (due <= now) /* output is queued (written soon) or an EOL just was */
            due = now + send_us;
        if (!next || due < next)
            next = due;
    }
    if (!next)
        return;
    /* Never early: a timer that fires a little before the deadline (libev
     * counts from its loop time) comes back for the rest. */
    lws_usec_t after = next > now ? next - now : 0;
    if (after < 1000)
        after = 1000;
    ev_timer_set(&c->hb_timer, (double)after / 1e6, 0.);
    ev_timer_start(g->loop, &c->hb_timer);
}

static void conn_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, hb_timer));
    struct gateway *g = c->g;
    lws_usec_t now = lws_now_usecs(), send_us = conn_send_interval(g, c);
    if (c->close_after_flush || c->kill)
        return;
    if (c->hb_receive_us && !c->rx_blocked && now - c->last_rx_us >= 2 * c->hb_receive_us) {
        conn_error(g, c, "heart-beat timeout", "Nothing was received within twice the heart-beat interval.");
        return;
    }
    if (send_us && now - c->last_tx_us >= send_us && !c->out_head) {
        if (c->hb_send_us && now - c->last_tx_us >= c->hb_send_us) {
            char *eol = malloc(1);
            if (eol) {
                *eol = '\n';
                conn_enqueue(g, c, eol, 1, NULL, true);
            }
        } else {
            c->sj_h_due = true;
            conn_wake(c);
        }
    }
    conn_heartbeat_arm(g, c);
}

void conn_receive(struct gateway *g, struct conn *c, const char *data, size_t len)
{
    c->last_rx_us = lws_now_usecs();
    while (len && !c->rx_closed && c->parser) {
        size_t used = 0;
        struct stomp_frame *f = NULL;
        enum stomp_parse_status st = stomp_parser_feed(c->parser, data, len, &used, &f);
        if (st == STOMP_PARSE_ERROR) {
            conn_fail(g, c, stomp_parser_error(c->parser));
            break;
        }
        if (st == STOMP_PARSE_FRAME) {
            c->inflight += f->wire_len;
            if (f->command == STOMP_CMD_SEND)
                conn_rate_take(g, c, f->wire_len);
            struct xmsg m = {.session = c->id, .kind = XM_FRAME};
            m.u.frame = f;
            pending_add(g, &m);
        }
        data += used;
        len -= used;
        if (st == STOMP_PARSE_MORE)
            break;
    }
    conn_rx_update(c);
    pending_flush(g);
}

int gateway_scratch_reserve(struct gateway *g, size_t len)
{
    if (LWS_PRE + len <= g->scratch_cap)
        return 0;
    size_t cap = g->scratch_cap ? g->scratch_cap : 4096;
    while (cap < LWS_PRE + len)
        cap *= 2;
    char *s = realloc(g->scratch, cap);
    if (!s)
        return -1;
    g->scratch = s;
    g->scratch_cap = cap;
    return 0;
}

/* A WebSocket text message must be UTF-8, so STOMP frames that are not
 * (binary bodies) go out as binary messages. */
static bool item_is_text(const struct outitem *it)
{
    if (!utf8_valid((const unsigned char *)it->head, it->head_len))
        return false;
    if (!it->shared)
        return true;
    if (it->shared->utf8 < 0)
        it->shared->utf8 = utf8_valid((const unsigned char *)it->shared->data, it->shared->len);
    return it->shared->utf8;
}

static size_t item_len(const struct outitem *it)
{
    return it->head_len + (it->shared ? it->shared->len : 0);
}

/* The header of an unmasked, final WebSocket frame (RFC 6455 5.2) carrying
 * one STOMP frame; returns its length (2, 4 or 10 bytes). */
static size_t ws_header(unsigned char *h, size_t len, bool text)
{
    h[0] = 0x80 | (text ? 0x1 : 0x2);
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

static void conn_pop(struct conn *c)
{
    struct outitem *cur = c->out_head;
    c->out_head = cur->next;
    c->out_bytes -= item_len(cur);
    free(cur->head);
    rcbuf_unref(cur->shared);
    free(cur);
    if (!c->out_head)
        c->out_tail = NULL;
}

/* After frames left the queue: publishers it held back may go on. */
static void conn_taken(struct gateway *g, struct conn *c)
{
    if (c->flow && c->out_bytes <= g->live.max_outbound_bytes / 4)
        conn_release_publishers(g, c);
}

int conn_take_sockjs(struct gateway *g, struct conn *c, struct stomp_buf *b)
{
    if (!c->out_head)
        return 0;
    size_t start = b->len, total = 0;
    if (stomp_buf_append(b, "a[", 2) < 0)
        return -1;
    do {
        struct outitem *cur = c->out_head;
        total += item_len(cur);
        if ((total != item_len(cur) && stomp_buf_append(b, ",", 1) < 0) || stomp_buf_append(b, "\"", 1) < 0 ||
            sockjs_json_escape(b, cur->head, cur->head_len) < 0 ||
            (cur->shared && sockjs_json_escape(b, cur->shared->data, cur->shared->len) < 0) ||
            stomp_buf_append(b, "\"", 1) < 0) {
            b->len = start;
            return -1;
        }
        conn_pop(c);
    } while (c->out_head && total + item_len(c->out_head) <= WRITE_MAX);
    if (stomp_buf_append(b, "]", 1) < 0) {
        b->len = start;
        return -1;
    }
    conn_taken(g, c);
    return 0;
}

int conn_write_ws_text(struct gateway *g, struct conn *c, const char *data, size_t len)
{
    if (gateway_scratch_reserve(g, len + 10) < 0)
        return -1;
    unsigned char *start = (unsigned char *)g->scratch + LWS_PRE, *p = start;
    p += ws_header(p, len, true);
    memcpy(p, data, len);
    p += len;
    size_t n = (size_t)(p - start);
    if (lws_write(c->wsi, start, n, LWS_WRITE_RAW) < (int)n)
        return -1;
    c->last_tx_us = lws_now_usecs();
    return 0;
}

/* SockJS over WebSocket: the queue as one 'a[...]' message, and a
 * 'c[3000,"Go away!"]' before the server closes. */
static int conn_writable_sockjs_ws(struct gateway *g, struct conn *c)
{
    struct stomp_buf *b = &g->sj_out;
    b->len = 0;
    bool closing = false;
    bool h_due = c->sj_h_due;
    c->sj_h_due = false; /* whatever goes out now serves as the heart-beat */
    if (c->out_head) {
        if (conn_take_sockjs(g, c, b) < 0)
            return -1;
    } else if (h_due && !c->close_after_flush) {
        if (stomp_buf_append(b, "h", 1) < 0)
            return -1;
    } else if (c->close_after_flush) {
        if (c->sj_close_sent) {
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"Go away!", 8);
            return -1;
        }
        if (sockjs_close_frame(b, SOCKJS_CLOSE_GO_AWAY, "Go away!") < 0)
            return -1;
        c->sj_close_sent = closing = true;
    } else {
        return 0;
    }
    if (conn_write_ws_text(g, c, b->data, b->len) < 0)
        return -1;
    if (c->out_head || c->close_after_flush || closing)
        conn_wake(c);
    return 0;
}

/* Write what is queued, up to WRITE_MAX bytes in one write: for raw TCP the
 * frames back to back; for WebSocket each STOMP frame in a WebSocket message
 * of its own, framed here and handed to lws as raw bytes (lws frames one
 * message per lws_write, which would cost a system call per message).
 * -1 closes the connection. */
static int conn_writable(struct gateway *g, struct conn *c)
{
    if (c->kill)
        return -1;
    if (c->framing == FRAMING_SOCKJS_WS)
        return conn_writable_sockjs_ws(g, c);
    if (!c->out_head) {
        if (c->close_after_flush) {
            if (c->transport == TRANSPORT_WS)
                lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
            return -1;
        }
        return 0;
    }
    bool ws = c->transport == TRANSPORT_WS;
    size_t per_item = ws ? 10 : 0; /* the largest WebSocket frame header */
    size_t total = 0;
    struct outitem *it = c->out_head;
    do {
        total += item_len(it) + per_item;
        it = it->next;
    } while (it && total + item_len(it) + per_item <= WRITE_MAX);
    if (gateway_scratch_reserve(g, total) < 0)
        return -1;
    unsigned char *start = (unsigned char *)g->scratch + LWS_PRE, *p = start;
    while (c->out_head != it) {
        struct outitem *cur = c->out_head;
        if (ws)
            p += ws_header(p, item_len(cur), item_is_text(cur));
        memcpy(p, cur->head, cur->head_len);
        p += cur->head_len;
        if (cur->shared) {
            memcpy(p, cur->shared->data, cur->shared->len);
            p += cur->shared->len;
        }
        conn_pop(c);
    }
    conn_taken(g, c);
    /* What the socket does not take now, lws keeps and sends first. */
    size_t n = (size_t)(p - start);
    if (lws_write(c->wsi, start, n, LWS_WRITE_RAW) < (int)n)
        return -1;
    c->last_tx_us = lws_now_usecs();
    if (c->out_head || c->close_after_flush)
        conn_wake(c);
    return 0;
}

static bool dirty_add(struct gateway *g, uint64_t id)
{
    if (g->ndirty == g->dirty_cap) {
        size_t cap = g->dirty_cap ? 2 * g->dirty_cap : 256;
        uint64_t *d = realloc(g->dirty, cap * sizeof *d);
        if (!d)
            return false;
        g->dirty = d;
        g->dirty_cap = cap;
    }
    g->dirty[g->ndirty++] = id;
    return true;
}

/* Write what one drain queued, at once: a socket that can take it needs no
 * writable event and no second loop turn (what it does not take, lws keeps
 * and sends first when it can, and conn_writable asks for the rest). */
static void flush_dirty(struct gateway *g)
{
    for (size_t i = 0; i < g->ndirty; i++) {
        struct conn *c = idmap_get(&g->conns, g->dirty[i]);
        if (!c || !c->dirty)
            continue;
        c->dirty = false;
        if (c->sj) {
            if (sockjs_session_flush(g, c->sj) < 0) {
                c->kill = true;
                conn_wake(c);
            }
            continue;
        }
        /* Not into a full socket: lws would keep all of it, unbounded by
         * max_outbound_bytes; such a connection waits for its writable
         * callback and its queue counts against the bound. */
        if (c->out_head && !c->kill && lws_send_pipe_choked(c->wsi)) {
            conn_wake(c);
            continue;
        }
        if (c->out_head && !c->kill && conn_writable(g, c) < 0) {
            c->kill = true; /* closed from its own writable callback */
            conn_wake(c);
        }
    }
    g->ndirty = 0;
}

/* Messages from the core. Runs on the gateway thread after a wake-up. */
/* A reload's certificate: into every TLS listener, for the handshakes
 * that begin from now on (an established connection keeps the
 * certificate it was opened with). The core checked it already. */
static void gateway_tls_cert(struct gateway *g, const struct tls_cert_bundle *b)
{
    char what[512], why[256];
    tls_cert_bundle_describe(b, what, sizeof what);
    if (!g->ntls_ctx) {
        log_msg(CHATD_LOG_ERROR, "gateway", 0, "TLS certificate not reloaded: libwebsockets never handed over its "
                                               "TLS context; restart to serve the new one");
        return;
    }
    for (size_t i = 0; i < g->ntls_ctx; i++) {
        if (tls_cert_bundle_apply(b, g->tls_ctx[i], why, sizeof why) < 0) {
            log_msg(CHATD_LOG_ERROR, "gateway", 0, "TLS certificate not reloaded (%s): still serving the previous one",
                    why);
            return;
        }
    }
    log_msg(CHATD_LOG_INFO, "gateway", 0, "TLS certificate reloaded for %zu listener%s: %s", g->ntls_ctx,
            g->ntls_ctx == 1 ? "" : "s", what);
    /* [server] tls_crl: a connection whose client certificate the new
     * lists revoke ends now. A SockJS session over HTTP is not one TLS
     * connection: the handshakes of its next requests are refused. */
    size_t pos = 0, ended = 0;
    uint64_t id;
    void *v;
    while (idmap_next(&g->conns, &pos, &id, &v)) {
        struct conn *c = v;
        if (c->framing == FRAMING_SOCKJS_HTTP || !c->wsi || !lws_is_ssl(c->wsi) || c->close_after_flush || c->kill)
            continue;
        if (tls_cert_bundle_revokes(b, SSL_get0_peer_certificate(lws_get_ssl(c->wsi)))) {
            conn_error(g, c, "client certificate revoked",
                       "The certificate this connection was opened with is in [server] tls_crl now.");
            ended++;
        }
    }
    if (ended)
        log_msg(CHATD_LOG_INFO, "gateway", 0, "%zu connection%s closed: their client certificates are revoked",
                ended, ended == 1 ? "" : "s");
}

static void gateway_drain_queue(struct gateway *g)
{
    size_t n;
    xq_take(&g->to_gw, &g->batch, &n, &g->batch_cap);
    for (size_t i = 0; i < n; i++) {
        struct xmsg *m = &g->batch[i];
        if (m->kind == XM_HTTP_RESPONSE) {
            struct http_conn *h = idmap_get(&g->http, m->session);
            if (!h) {
                xmsg_dispose(m); /* the client went away */
                continue;
            }
            h->stream_out = m->u.http_response.streamed;
            h->stream_left = m->u.http_response.length;
            if (!h->stream_out) { /* a streamed answer keeps its id for its pieces */
                idmap_del(&g->http, h->id);
                h->id = 0;
            }
            h->status = m->u.http_response.status;
            free(h->response);
            h->response = m->u.http_response.body;
            h->response_len = m->u.http_response.len;
            h->content_type = m->u.http_response.content_type;
            h->retry_after_s = m->u.http_response.retry_after_s;
            free(h->disposition);
            h->disposition = m->u.http_response.disposition;
            free(h->content_range);
            h->content_range = m->u.http_response.content_range;
            h->file = m->u.http_response.file;
            h->answered = true;
            lws_set_timer_usecs(h->wsi, LWS_SET_TIMER_USEC_CANCEL);
            if (h->rx_paused) { /* an upload refused midway: what is left is read and dropped */
                h->rx_paused = false;
                lws_rx_flow_control(h->wsi, 1);
            }
            lws_callback_on_writable(h->wsi);
            continue;
        }
        if (m->kind == XM_HTTP_PIECE) {
            struct http_conn *h = idmap_get(&g->http, m->session);
            if (!h || !h->stream_out) {
                xmsg_dispose(m); /* the client went away */
                continue;
            }
            if (m->u.http_body.aborted) {
                h->stream_abort = true;
            } else if (m->u.http_body.len) {
                struct http_piece *pc = malloc(sizeof *pc);
                if (!pc) {
                    xmsg_dispose(m);
                    h->stream_abort = true;
                } else {
                    *pc = (struct http_piece){NULL, m->u.http_body.data, m->u.http_body.len};
                    if (h->pieces_tail)
                        h->pieces_tail->next = pc;
                    else
                        h->pieces = pc;
                    h->pieces_tail = pc;
                }
            }
            lws_callback_on_writable(h->wsi);
            continue;
        }
        if (m->kind == XM_HTTP_CREDIT) {
            struct http_conn *h = idmap_get(&g->http, m->session);
            if (h) {
                h->inflight -= m->u.credit < h->inflight ? m->u.credit : h->inflight;
                if (h->rx_paused && h->inflight < HTTP_STREAM_WINDOW / 2) {
                    h->rx_paused = false;
                    lws_rx_flow_control(h->wsi, 1);
                }
            }
            continue;
        }
        if (m->kind == XM_LIMITS) {
            g->live = *m->u.limits;
            xmsg_dispose(m);
            continue;
        }
        if (m->kind == XM_TLS_CERT) {
            gateway_tls_cert(g, m->u.tls_cert);
            xmsg_dispose(m);
            continue;
        }
        if (m->kind == XM_DRAIN) {
            g->draining = true;
            sockjs_sessions_drain(g);
            if (g->conns.count == 0)
                gateway_leave(g);
            continue;
        }
        struct conn *c = idmap_get(&g->conns, m->session);
        if (!c) {
            xmsg_dispose(m); /* the connection is already gone */
            continue;
        }
        if (m->kind == XM_OUT) {
            conn_enqueue(g, c, m->u.out.head, m->u.out.head_len, m->u.out.shared, false);
            if (!c->dirty && dirty_add(g, c->id))
                c->dirty = true;
            else if (!c->dirty)
                conn_wake(c);
        } else if (m->kind == XM_HEARTBEAT) {
            c->hb_send_us = (lws_usec_t)m->u.heartbeat.send_ms * 1000;
            c->hb_receive_us = (lws_usec_t)m->u.heartbeat.receive_ms * 1000;
            c->last_rx_us = c->last_tx_us = lws_now_usecs();
            conn_heartbeat_arm(g, c);
        } else if (m->kind == XM_RX_PAUSE || m->kind == XM_RX_RESUME) {
            c->rx_paused = m->kind == XM_RX_PAUSE;
            conn_rx_update(c);
        } else if (m->kind == XM_RX_CREDIT) {
            c->inflight -= m->u.credit < c->inflight ? m->u.credit : c->inflight;
            conn_rx_update(c);
        } else if (m->kind == XM_CLOSE) {
            c->close_after_flush = true;
            c->rx_closed = true;
            conn_wake(c);
        } else {
            xmsg_dispose(m);
        }
    }
    flush_dirty(g);
}

bool gateway_origin_allowed(const struct gateway *g, struct lws *wsi)
{
    char origin[256];
    int n = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
    return origin_allowed(g->settings->allowed_origins, n > 0 ? origin : NULL);
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: a WebSocket upgrade from an Origin
 * that is not allowed gets a 403 the client can see, not a bare close.
 * 0 lets the upgrade proceed; 1 means we answered (lws ends the request). */
/* Refuse an upgrade with a JSON answer the client can read. */
static int upgrade_refuse(struct lws *wsi, unsigned int status, const char *body)
{
    size_t len = strlen(body);
    unsigned char buf[LWS_PRE + 512];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    if (lws_add_http_common_headers(wsi, status, "application/json", len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5, &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < len)
        return -1;
    memcpy(p, body, len);
    p += len;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < (int)(p - start))
        return -1;
    return 1;
}

const struct ws_endpoint *gateway_endpoint(const struct gateway *g, const char *uri, const char **rest)
{
    for (size_t i = 0; i < g->settings->nws_paths; i++) {
        const struct ws_endpoint *e = &g->settings->ws_paths[i];
        size_t n = strlen(e->path);
        if (strncmp(uri, e->path, n) == 0 && (uri[n] == '\0' || uri[n] == '/')) {
            *rest = uri + n;
            return e;
        }
    }
    return NULL;
}

/* How a WebSocket upgrade to uri is framed: STOMP at an endpoint path,
 * SockJS at {path}/{server}/{session}/websocket; -1 anywhere else. */
static int ws_framing_of(const struct gateway *g, const char *uri)
{
    const char *rest;
    const struct ws_endpoint *e = gateway_endpoint(g, uri, &rest);
    char session[SOCKJS_ID_MAX + 1];
    if (!e)
        return -1;
    if (!*rest)
        return FRAMING_STOMP;
    if (e->sockjs && sockjs_route(rest, session) == SOCKJS_WEBSOCKET)
        return FRAMING_SOCKJS_WS;
    return -1;
}

static int ws_framing_of_wsi(const struct gateway *g, struct lws *wsi)
{
    char uri[256];
    int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    return n > 0 ? ws_framing_of(g, uri) : -1;
}

int gateway_upgrade_check(struct gateway *g, struct lws *wsi)
{
    /* STOMP over WebSocket lives at the endpoint paths (and SockJS's
     * websocket transport under them) only. */
    if (ws_framing_of_wsi(g, wsi) < 0) {
        log_msg(CHATD_LOG_INFO, "gateway", 0, "WebSocket upgrade refused: not at a websocket_paths endpoint");
        return upgrade_refuse(wsi, HTTP_STATUS_NOT_FOUND,
                              "{\"error\":\"not_found\",\"message\":\"no WebSocket endpoint at this path\"}");
    }
    if (gateway_origin_allowed(g, wsi))
        return 0;
    log_msg(CHATD_LOG_INFO, "gateway", 0, "WebSocket upgrade refused: Origin not allowed");
    return upgrade_refuse(wsi, HTTP_STATUS_FORBIDDEN, "{\"error\":\"forbidden\",\"message\":\"origin not allowed\"}");
}

static void http_conn_clear(struct gateway *g, struct http_conn *h)
{
    if (h->id)
        idmap_del(&g->http, h->id);
    http_request_free(h->req);
    free(h->response);
    free(h->disposition);
    free(h->content_range);
    free(h->req_origin);
    for (struct http_piece *pc = h->pieces, *next; pc; pc = next) {
        next = pc->next;
        free(pc->data);
        free(pc);
    }
    memset(h, 0, sizeof *h);
}

/* Answer without the core (bad request, too large, shutting down). */
static int http_answer_now(struct lws *wsi, struct http_conn *h, int status, const char *json)
{
    h->status = status;
    h->response = strdup(json);
    h->response_len = h->response ? strlen(h->response) : 0;
    h->answered = true;
    lws_callback_on_writable(wsi);
    return 0;
}

/* The core answers every request, but not always at once (a storage
 * that stalls): lws's own wait (timeout_secs) would close the connection
 * without an answer, so the wait becomes [server] request_timeout, after
 * which the timer answers 504 (callback_http, LWS_CALLBACK_TIMER). */
static void http_await_answer(struct gateway *g, struct http_conn *h)
{
    if (!h->wsi)
        return;
    long long ms = g->settings->request_timeout_ms;
    lws_set_timeout(h->wsi, PENDING_TIMEOUT_USER_OK, (int)(ms / 1000) + 5);
    lws_set_timer_usecs(h->wsi, (lws_usec_t)ms * 1000);
}

static int http_answer_late(struct gateway *g, struct lws *wsi, struct http_conn *h)
{
    struct xmsg m = {.session = h->id, .kind = XM_HTTP_GONE};
    pending_add(g, &m);
    pending_flush(g);
    idmap_del(&g->http, h->id);
    h->id = 0;
    h->streaming = false;
    log_msg(CHATD_LOG_WARN, "gateway", 0, "no answer to a request in %lld ms ([server] request_timeout): 504",
            g->settings->request_timeout_ms);
    return http_answer_now(wsi, h, 504, "{\"error\":\"timeout\",\"message\":\"no answer in time, try again\"}");
}

static int http_dispatch(struct gateway *g, struct http_conn *h)
{
    h->id = ++g->next_id;
    if (idmap_put(&g->http, h->id, h) < 0) {
        h->id = 0;
        return -1;
    }
    struct xmsg m = {.session = h->id, .kind = XM_HTTP_REQUEST};
    m.u.http_request = h->req;
    h->req = NULL;
    pending_add(g, &m);
    pending_flush(g);
    if (!h->streaming)
        http_await_answer(g, h);
    return 0;
}

/* POST /api/rooms/{room}/files: an upload, whose body goes to the core in
 * pieces as it arrives rather than whole. */
static bool is_upload(const char *method, const char *path)
{
    static const char prefix[] = "/api/rooms/";
    if (strcmp(method, "POST") != 0 || strncmp(path, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *room = path + sizeof prefix - 1;
    size_t n = strcspn(room, "/");
    return n > 0 && strcmp(room + n, "/files") == 0;
}

/* A copy of a request header (at most max bytes), or NULL when absent. */
static char *header_copy(struct lws *wsi, enum lws_token_indexes token, int max)
{
    int n = lws_hdr_total_length(wsi, token);
    char *v = n > 0 && n < max ? malloc((size_t)n + 1) : NULL;
    if (v && lws_hdr_copy(wsi, v, n + 1, token) < 0) {
        free(v);
        v = NULL;
    }
    return v;
}

/* The body of an upload: each piece to the core as it comes; reading
 * pauses while more than HTTP_STREAM_WINDOW bytes wait there. */
static int http_stream_piece(struct gateway *g, struct lws *wsi, struct http_conn *h, const char *in, size_t len,
                             bool end, bool aborted)
{
    if (!h->id || h->answered)
        return 0; /* refused already: the rest is dropped */
    struct xmsg m = {.session = h->id, .kind = XM_HTTP_BODY};
    m.u.http_body.end = end;
    m.u.http_body.aborted = aborted;
    if (len) {
        if (!(m.u.http_body.data = malloc(len)))
            return -1;
        memcpy(m.u.http_body.data, in, len);
        m.u.http_body.len = len;
        h->inflight += len;
    }
    pending_add(g, &m);
    pending_flush(g);
    if (end)
        http_await_answer(g, h);
    if (!h->rx_paused && h->inflight >= HTTP_STREAM_WINDOW && wsi) {
        h->rx_paused = true;
        lws_rx_flow_control(wsi, 0);
    }
    return 0;
}

static int http_begin(struct gateway *g, struct lws *wsi, struct http_conn *h)
{
    static const struct {
        enum lws_token_indexes token;
        const char *method;
    } methods[] = {{WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
                   {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_PUT_URI, "PUT"},
                   {WSI_TOKEN_PATCH_URI, "PATCH"},   {WSI_TOKEN_OPTIONS_URI, "OPTIONS"}};
    memset(h, 0, sizeof *h);
    h->wsi = wsi;
    h->req = calloc(1, sizeof *h->req);
    if (!h->req)
        return -1;
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        int n = lws_hdr_total_length(wsi, methods[i].token);
        if (n <= 0)
            continue;
        snprintf(h->req->method, sizeof h->req->method, "%s", methods[i].method);
        if (!(h->req->path = malloc((size_t)n + 1)) ||
            lws_hdr_copy(wsi, h->req->path, n + 1, methods[i].token) < 0)
            return -1;
        break;
    }
    if (!h->req->path)
        return http_answer_now(wsi, h, 405, "{\"error\":\"method_not_allowed\",\"message\":\"unsupported method\"}");
    /* Only the API and health mounts are bound to this protocol. */
    const char *path = h->req->path;
    if (!(strncmp(path, "/api", 4) == 0 && (path[4] == '/' || path[4] == '\0')) && strcmp(path, "/healthz") != 0 &&
        strcmp(path, "/metrics") != 0)
        return http_answer_now(wsi, h, 404, "{\"error\":\"not_found\",\"message\":\"no such endpoint\"}");
    /* The query, fragment by fragment ("a=1", "b=2"), joined with '&'. */
    char query[2048] = "";
    size_t ql = 0;
    for (int i = 0; i < 32; i++) {
        char frag[512];
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        ql += (size_t)snprintf(query + ql, sizeof query - ql, "%s%s", ql ? "&" : "", frag);
        if (ql >= sizeof query)
            return http_answer_now(wsi, h, 414, "{\"error\":\"uri_too_long\",\"message\":\"query too long\"}");
    }
    h->req->query = strdup(query);
    int al = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (al > 0 && al < 8192 && (h->req->authorization = malloc((size_t)al + 1)))
        lws_hdr_copy(wsi, h->req->authorization, al + 1, WSI_TOKEN_HTTP_AUTHORIZATION);
    h->req->content_type = header_copy(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, 256);
    h->req->range = header_copy(wsi, WSI_TOKEN_HTTP_RANGE, 256);
    char fname[1024];
    int fl = lws_hdr_custom_copy(wsi, fname, sizeof fname, "x-file-name:", 12);
    if (fl > 0 && !(h->req->file_name = strdup(fname)))
        return -1;
    int acl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_ACCEPT);
    if (acl > 0 && acl < 1024 && (h->req->accept = malloc((size_t)acl + 1)))
        lws_hdr_copy(wsi, h->req->accept, acl + 1, WSI_TOKEN_HTTP_ACCEPT);
    char addr[64] = "";
    client_address(g, wsi, true, addr, sizeof addr);
    h->req->remote_addr = strdup(addr);
    if (!h->req->query || !h->req->remote_addr)
        return -1;
    /* Over HTTPS, whom the client certificate names (or why it names nobody). */
    if (g->settings->tls.client_user != TLS_CLIENT_USER_OFF && lws_is_ssl(wsi) &&
        tls_peer_identity(lws_get_ssl(wsi), g->settings->tls.client_user, &h->req->tls_identity,
                          &h->req->tls_problem) < 0 &&
        !h->req->tls_problem)
        return -1;
    char origin[256];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0) {
        if (!(h->req->origin = strdup(origin)) || !(h->req_origin = strdup(origin)))
            return -1;
        h->cors = origin_cors_allowed(g->settings->allowed_origins, origin);
    }
    /* A browser's CORS preflight: answered here, from the origin list. */
    if (strcmp(h->req->method, "OPTIONS") == 0) {
        if (!h->cors)
            return http_answer_now(wsi, h, 403, "{\"error\":\"forbidden\",\"message\":\"origin not allowed\"}");
        h->preflight = true;
        return http_answer_now(wsi, h, 204, "");
    }
    if (g->draining)
        return http_answer_now(wsi, h, 503, "{\"error\":\"unavailable\",\"message\":\"server shutting down\"}");
    /* An upload goes to the core now, its body after it. */
    char cl[24];
    if (is_upload(h->req->method, path)) {
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
            return http_answer_now(wsi, h, 411, "{\"error\":\"length_required\",\"message\":\"an upload needs "
                                                "Content-Length\"}");
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end || cl[0] == '-')
            return http_answer_now(wsi, h, 400, "{\"error\":\"bad_request\",\"message\":\"bad Content-Length\"}");
        if (g->settings->files_on && n > g->settings->files_max_size) {
            char json[160];
            snprintf(json, sizeof json, "{\"error\":\"too_large\",\"message\":\"a file is at most %zu bytes\","
                                        "\"max_size\":%zu}", g->settings->files_max_size, g->settings->files_max_size);
            return http_answer_now(wsi, h, 413, json);
        }
        h->req->streamed = true;
        h->req->content_length = n;
        h->streaming = true;
        if (http_dispatch(g, h) < 0)
            return -1;
        return n == 0 ? http_stream_piece(g, NULL, h, NULL, 0, true, false) : 0;
    }
    /* A request with a body waits for HTTP_BODY_COMPLETION. */
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 && atol(cl) > 0) {
        if (atol(cl) > HTTP_BODY_MAX)
            return http_answer_now(wsi, h, 413, "{\"error\":\"too_large\",\"message\":\"body above 64 KiB\"}");
        return 0;
    }
    return http_dispatch(g, h);
}

static int http_body(struct lws *wsi, struct http_conn *h, const char *in, size_t len)
{
    if (!h->req || h->answered)
        return 0;
    if (h->req->body_len + len > HTTP_BODY_MAX) {
        free(h->req->body);
        h->req->body = NULL;
        return http_answer_now(wsi, h, 413, "{\"error\":\"too_large\",\"message\":\"body above 64 KiB\"}");
    }
    if (h->req->body_len + len + 1 > h->body_cap) {
        size_t cap = h->body_cap ? h->body_cap * 2 : 1024;
        while (cap < h->req->body_len + len + 1)
            cap *= 2;
        char *b = realloc(h->req->body, cap);
        if (!b)
            return -1;
        h->req->body = b;
        h->body_cap = cap;
    }
    memcpy(h->req->body + h->req->body_len, in, len);
    h->req->body_len += len;
    h->req->body[h->req->body_len] = '\0';
    return 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

/* Retry-After (seconds) on a refusal the client may try again later. */
static int http_retry_after(struct lws *wsi, const struct http_conn *h, unsigned char **p, unsigned char *end)
{
    if (!h->retry_after_s)
        return 0;
    char v[16];
    int n = snprintf(v, sizeof v, "%u", h->retry_after_s);
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_RETRY_AFTER, (const unsigned char *)v, n, p, end);
}

/* CORS ([server] allowed_origins, origins.h): an allowed origin is named
 * back, never "*", and no credentials are allowed (the API's are bearer
 * tokens a page sends itself, not cookies); a preflight learns the methods
 * and headers the API takes. Vary: Origin on every answer to a browser, so
 * that no cache hands one origin's answer to another. */
static int http_cors_headers(struct lws *wsi, const struct http_conn *h, unsigned char **p, unsigned char *end)
{
    if (!h->req_origin)
        return 0;
    if (add_header(wsi, "vary:", "Origin", p, end))
        return -1;
    if (!h->cors)
        return 0;
    if (add_header(wsi, "access-control-allow-origin:", h->req_origin, p, end))
        return -1;
    if (!h->preflight)
        return 0;
    return add_header(wsi, "access-control-allow-methods:", "GET, POST, PUT, PATCH, DELETE", p, end) ||
           add_header(wsi, "access-control-allow-headers:", "Authorization, Content-Type", p, end) ||
           add_header(wsi, "access-control-max-age:", "600", p, end);
}

static int http_headers(struct lws *wsi, struct http_conn *h, uint64_t length, unsigned char **p,
                        unsigned char *end)
{
    return lws_add_http_common_headers(wsi, (unsigned int)h->status,
                                       h->content_type ? h->content_type : "application/json", length, p, end) ||
           lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *)"no-store", 8, p,
                                        end) ||
           (h->disposition && add_header(wsi, "content-disposition:", h->disposition, p, end)) ||
           (h->content_range && add_header(wsi, "content-range:", h->content_range, p, end)) ||
           (h->file && (add_header(wsi, "x-content-type-options:", "nosniff", p, end) ||
                        add_header(wsi, "accept-ranges:", "bytes", p, end) ||
                        add_header(wsi, "content-security-policy:", "default-src 'none'; sandbox", p, end))) ||
           http_cors_headers(wsi, h, p, end) || http_retry_after(wsi, h, p, end) ||
           lws_finalize_http_header(wsi, p, end);
}

/* A streamed response: its headers, then at most HTTP_PIECE_WRITE bytes
 * of the pieces the core sent per writeable callback. A piece written
 * whole is credited to the core, which then reads more. */
static int http_write_stream(struct gateway *g, struct lws *wsi, struct http_conn *h)
{
    if (h->stream_abort)
        return -1; /* the length promised cannot be kept: the client sees the cut */
    if (!h->headers_sent) {
        if (gateway_scratch_reserve(g, 4096) < 0)
            return -1;
        unsigned char *start = (unsigned char *)g->scratch + LWS_PRE, *p = start, *end = start + 4096;
        if (http_headers(wsi, h, h->stream_left, &p, end) ||
            lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < (int)(p - start))
            return -1;
        h->headers_sent = true;
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTP_STREAM_IDLE_S);
        if (h->pieces)
            lws_callback_on_writable(wsi);
        return 0;
    }
    struct http_piece *pc = h->pieces;
    if (!pc)
        return 0; /* the next piece is on its way */
    size_t n = pc->len - h->piece_off;
    if (n > HTTP_PIECE_WRITE)
        n = HTTP_PIECE_WRITE;
    if (n > h->stream_left)
        return -1; /* more than the length promised: a core bug */
    if (gateway_scratch_reserve(g, n) < 0)
        return -1;
    unsigned char *start = (unsigned char *)g->scratch + LWS_PRE;
    memcpy(start, pc->data + h->piece_off, n);
    bool last = n == h->stream_left;
    if (lws_write(wsi, start, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    h->stream_left -= n;
    h->piece_off += n;
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTP_STREAM_IDLE_S);
    if (h->piece_off == pc->len) {
        struct xmsg m = {.session = h->id, .kind = XM_HTTP_SENT};
        m.u.credit = pc->len;
        pending_add(g, &m);
        pending_flush(g);
        h->pieces = pc->next;
        if (!h->pieces)
            h->pieces_tail = NULL;
        h->piece_off = 0;
        free(pc->data);
        free(pc);
    }
    if (last) {
        http_conn_clear(g, h);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    if (h->pieces)
        lws_callback_on_writable(wsi);
    return 0;
}

static int http_write(struct gateway *g, struct lws *wsi, struct http_conn *h)
{
    if (!h->answered)
        return 0;
    if (h->stream_out)
        return http_write_stream(g, wsi, h);
    size_t cap = LWS_PRE + 1024 + h->response_len;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return -1;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + cap;
    if (http_headers(wsi, h, h->response_len, &p, end)) {
        free(buf);
        return -1;
    }
    /* Headers and body in one write: one send(), one TCP segment for a
     * small answer, not two. That is right for HTTP/1.1, the only HTTP
     * chatd speaks: without TLS there is no ALPN to reach HTTP/2, and the
     * vhost does not set LWS_SERVER_OPTION_H2_PRIOR_KNOWLEDGE. */
    if (h->response_len) {
        memcpy(p, h->response, h->response_len);
        p += h->response_len;
    }
    int rc = lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < (int)(p - start) ? -1 : 0;
    free(buf);
    /* Done with this request now: after the transaction lws may hand the
     * connection's close to another protocol. */
    http_conn_clear(g, h);
    if (rc < 0 || lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct gateway *g = lws_context_user(lws_get_context(wsi));
    struct http_conn *h = user;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Each vhost's protocols hear the wake-up; one drains. */
        if (lws_get_vhost(wsi) != g->wake_vhost)
            return 0;
        gateway_drain_queue(g);
        if (atomic_load(&g->stop))
            ev_break(g->loop, EVBREAK_ALL);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return gateway_upgrade_check(g, wsi);
    case LWS_CALLBACK_HTTP:
        /* Static files are served by the "/" mount; only the API and health
         * mounts (bound to this protocol) arrive here. */
        if (!h)
            return lws_callback_http_dummy(wsi, reason, user, in, len);
        http_conn_clear(g, h);
        return http_begin(g, wsi, h);
    case LWS_CALLBACK_HTTP_BODY:
        if (h && h->streaming)
            return http_stream_piece(g, wsi, h, in, len, false, false);
        return h ? http_body(wsi, h, in, len) : 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (h && h->streaming)
            return http_stream_piece(g, wsi, h, NULL, 0, true, false);
        if (h && h->req && !h->answered && !h->id)
            return http_dispatch(g, h);
        return 0;
    case LWS_CALLBACK_TIMER:
        if (h && h->id && !h->answered)
            return http_answer_late(g, wsi, h);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (h && h->answered)
            return http_write(g, wsi, h);
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (h && h->streaming) { /* an upload cut short: the core drops it */
            http_stream_piece(g, NULL, h, NULL, 0, false, true);
        } else if (h && h->id) { /* gone before its answer was written: a download stops reading */
            struct xmsg m = {.session = h->id, .kind = XM_HTTP_GONE};
            pending_add(g, &m);
            pending_flush(g);
        }
        if (h)
            http_conn_clear(g, h);
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* A TLS listener's context, as libwebsockets made it (its protocol 0 hears
 * LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS once, at creation). */
static int gateway_tls_ctx_keep(struct lws *wsi, void *ssl_ctx)
{
    struct gateway *g = lws_context_user(lws_get_context(wsi));
    for (size_t i = 0; i < g->ntls_ctx; i++)
        if (g->tls_ctx[i] == ssl_ctx)
            return 0; /* a context shared by both listeners */
    if (ssl_ctx && g->ntls_ctx < sizeof g->tls_ctx / sizeof *g->tls_ctx)
        g->tls_ctx[g->ntls_ctx++] = ssl_ctx;
    /* [server] tls_crl: client certificates are checked against the CAs'
     * revocation lists (read here at start-up, before the loop runs; a
     * reload hands new ones over in XM_TLS_CERT). */
    const struct tls_settings *t = &g->settings->tls;
    if (!ssl_ctx || !t->crl || t->client_certs == TLS_CLIENT_CERTS_OFF)
        return 0;
    void *store;
    char why[512];
    int rc = tls_crl_store(t->ca, t->crl, &store, why, sizeof why);
    if (rc == 0) {
        rc = tls_crl_store_apply(store, ssl_ctx, why, sizeof why);
        tls_crl_store_free(store); /* the context holds its own reference */
    }
    if (rc < 0)
        log_msg(CHATD_LOG_ERROR, "gateway", 0, "[server] tls_crl: %s", why);
    return rc < 0;
}

/* x509_ctx: OpenSSL's X509_STORE_CTX, which says why it refused. */
static int tls_client_cert_verdict(struct lws *wsi, void *x509_ctx, size_t preverify_ok)
{
    if (preverify_ok)
        return 0;
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    int err = x509_ctx ? X509_STORE_CTX_get_error(x509_ctx) : 0;
    bool foreign = err == 0 || err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                   err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT || err == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
                   err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
    log_msg(CHATD_LOG_INFO, "gateway", 0, "TLS client certificate from %s refused: %s", peer,
            foreign ? "not issued by [server] tls_ca" : X509_verify_cert_error_string(err));
    return 1;
}

static int callback_stomp_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                             size_t len)
{
    struct gateway *g = lws_context_user(lws_get_context(wsi));
    struct conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return gateway_upgrade_check(g, wsi);
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        return gateway_tls_ctx_keep(wsi, user);
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        /* [server] tls_client_certs: a certificate the CAs of tls_ca do not
         * vouch for ends the handshake (len is OpenSSL's verdict). */
        return tls_client_cert_verdict(wsi, user, len);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Also here: whichever protocol the upgrade was bound to, no
         * WebSocket from a foreign Origin is ever established. */
        return g->draining || !gateway_origin_allowed(g, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        conn_open(g, c, wsi, TRANSPORT_WS);
        if (ws_framing_of_wsi(g, wsi) == FRAMING_SOCKJS_WS) {
            c->framing = FRAMING_SOCKJS_WS;
            sockjs_reader_init(&c->sj_in);
            sockjs_ws_opened(g, c);
            conn_heartbeat_arm(g, c); /* 'h' frames from now on */
        }
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (c->framing == FRAMING_SOCKJS_WS)
            sockjs_ws_receive(g, c, in, len, lws_is_final_fragment(wsi));
        else
            conn_receive(g, c, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return conn_writable(g, c);
    case LWS_CALLBACK_CLOSED:
        conn_closed(g, c);
        return 0;
    default:
        /* As the vhost's first protocol, this one gets plain HTTP requests too:
         * static files, 404s and keep-alive are libwebsockets' own (this
         * protocol's session data is a struct conn, not an HTTP request). */
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ----------------------------------------------- the PROXY protocol */

/* Seconds a trusted proxy has to send its PROXY header. */
#define PROXY_HEADER_TIMEOUT_S 10

/* [server] proxy_protocol: a raw STOMP connection on the plain listener
 * from a trusted proxy waits for the proxy's PROXY header (version 1 or 2),
 * then opens as the client it names. Anyone else's connection opens at
 * once as its peer: a PROXY header from it is no STOMP frame and gets the
 * parser's ERROR. Over TLS the header would come before the handshake,
 * which libwebsockets makes: stomp_tls_listen does not read it. */
static bool proxy_header_expected(struct gateway *g, struct lws *wsi)
{
    if (!g->settings->proxy_protocol || lws_get_vhost_user(lws_get_vhost(wsi)) != &g->proxy_vhost)
        return false;
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    return client_addr_trusted(&g->settings->trusted_proxies, peer);
}

static void proxy_wait_begin(struct gateway *g, struct conn *c, struct lws *wsi)
{
    memset(c, 0, sizeof *c);
    ev_timer_init(&c->hb_timer, conn_heartbeat, 0, 0);
    c->g = g;
    c->wsi = wsi;
    c->transport = TRANSPORT_TCP;
    c->proxy_wait = true;
    lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, PROXY_HEADER_TIMEOUT_S);
}

static void proxy_wait_end(struct conn *c)
{
    free(c->proxy_buf);
    c->proxy_buf = NULL;
    c->proxy_len = 0;
    c->proxy_wait = false;
}

/* Bytes while the header is awaited: more of it, or the header and what
 * follows it (the connection then opens and reads the rest as STOMP). */
static void proxy_receive(struct gateway *g, struct conn *c, const unsigned char *in, size_t len)
{
    size_t room = PROXY_HEADER_MAX - c->proxy_len;
    size_t take = len < room ? len : room;
    unsigned char *buf = realloc(c->proxy_buf, c->proxy_len + take + 1);
    if (!buf) {
        proxy_wait_end(c);
        c->kill = true;
        lws_callback_on_writable(c->wsi);
        return;
    }
    memcpy(buf + c->proxy_len, in, take);
    c->proxy_buf = buf;
    size_t before = c->proxy_len;
    c->proxy_len += take;
    struct proxy_header h;
    const char *why = "PROXY protocol header too long";
    enum proxy_result r = proxy_header_parse(c->proxy_buf, c->proxy_len, &h, &why);
    if (r == PROXY_MORE && c->proxy_len < PROXY_HEADER_MAX)
        return;
    char peer[sizeof c->peer];
    snprintf(peer, sizeof peer, "%s", c->peer);
    if (r != PROXY_DONE) {
        log_msg(CHATD_LOG_WARN, "gateway", 0, "TCP connection from proxy %s refused: %s", peer, why);
        proxy_wait_end(c);
        lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
        conn_send_error(g, c, "bad PROXY protocol header", why);
        return;
    }
    proxy_wait_end(c);
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    conn_open_from(g, c, c->wsi, TRANSPORT_TCP, h.local ? peer : h.addr);
    log_msg(CHATD_LOG_DEBUG, "gateway", c->id, "TCP connection through proxy %s from %s", peer, c->peer);
    /* what came after the header, in this read */
    size_t used = h.len - before;
    if (used < len && c->parser)
        conn_receive(g, c, (const char *)in + used, len - used);
}

static int callback_stomp_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                              size_t len)
{
    struct gateway *g = lws_context_user(lws_get_context(wsi));
    struct conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        return gateway_tls_ctx_keep(wsi, user);
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        /* [server] tls_client_certs: a certificate the CAs of tls_ca do not
         * vouch for ends the handshake (len is OpenSSL's verdict). */
        return tls_client_cert_verdict(wsi, user, len);
    case LWS_CALLBACK_RAW_ADOPT:
        if (g->draining)
            return -1;
        if (proxy_header_expected(g, wsi))
            proxy_wait_begin(g, c, wsi);
        else
            conn_open(g, c, wsi, TRANSPORT_TCP);
        return 0;
    case LWS_CALLBACK_RAW_RX:
        if (c->proxy_wait) {
            proxy_receive(g, c, in, len);
            return 0;
        }
        if (!c->rx_seen) {
            c->rx_seen = true;
            /* Over TLS, lws arms a time-out when the handshake ends and
             * tells nobody of that end: the first bytes are the sign. They
             * disarm it (connect_timeout watches the CONNECT), and what was
             * queued before (a refusal's ERROR) gets its writable callback,
             * which a request made during the handshake does not. */
            lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
            if (c->out_head || c->close_after_flush || c->kill)
                lws_callback_on_writable(wsi);
            conn_tls_peer(g, c, wsi);
            pending_flush(g);
        }
        conn_receive(g, c, in, len);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return conn_writable(g, c);
    case LWS_CALLBACK_RAW_CLOSE:
        proxy_wait_end(c);
        conn_closed(g, c);
        return 0;
    default:
        return 0;
    }
}

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    log_msg(level & LLL_ERR ? CHATD_LOG_ERROR : level & LLL_WARN ? CHATD_LOG_WARN : CHATD_LOG_DEBUG,
            "lws", 0, "%.*s", (int)n, line);
}

/* libwebsockets' own timers (handshake and close time-outs, keep-alive) are
 * armed by its libev glue after I/O; a timer due sooner than the one already
 * armed waits for the next I/O. A wake-up every 250 ms bounds that wait;
 * chatd's own timers (heart-beats) are libev timers and exact. */
static void gateway_lws_pump(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct gateway *g = (struct gateway *)((char *)w - offsetof(struct gateway, lws_pump));
    lws_cancel_service(g->ctx);
}

/* No libwebsockets idle policy: STOMP heart-beats watch the connections.
 * (lws' validity timer would be re-armed in a sorted list, a walk over every
 * connection, each time one is accepted.) */
static const lws_retry_bo_t no_idle_policy;

void gateway_limits_of(const struct settings *s, struct gateway_limits *out)
{
    *out = (struct gateway_limits){
        .frame = s->limits,
        .max_connections_per_ip = s->max_connections_per_ip,
        .max_outbound_bytes = s->max_outbound_bytes,
        .max_send_bytes_per_second = s->max_send_bytes_per_second,
        .slow_consumer_timeout_ms = s->slow_consumer_timeout_ms,
        .sockjs_heartbeat_ms = s->sockjs_heartbeat_ms,
        .sockjs_disconnect_delay_ms = s->sockjs_disconnect_delay_ms,
        .sockjs_response_limit = s->sockjs_response_limit,
    };
}

/* [server] tls_*: what a TLS vhost loads and allows. Modern defaults: TLS
 * 1.2 or 1.3 only (tls_min_version), forward-secret AEAD ciphers for 1.2
 * (OpenSSL's own 1.3 suites), the server's cipher order, no compression,
 * no renegotiation. */
static void tls_vhost_info(const struct gateway *g, struct lws_context_creation_info *vi)
{
    const struct tls_settings *t = &g->settings->tls;
    vi->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; /* lws reads it per vhost: this one speaks TLS */
    vi->ssl_cert_filepath = t->cert;
    vi->ssl_private_key_filepath = t->key;
    vi->ssl_cipher_list = t->ciphers;
    vi->ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_CIPHER_SERVER_PREFERENCE |
                          SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
    if (t->min_version >= 13)
        vi->ssl_options_set |= SSL_OP_NO_TLSv1_2;
    if (t->client_certs != TLS_CLIENT_CERTS_OFF) {
        vi->ssl_ca_filepath = t->ca;
        vi->options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        if (t->client_certs == TLS_CLIENT_CERTS_OPTIONAL)
            vi->options |= LWS_SERVER_OPTION_PEER_CERT_NOT_REQUIRED;
    }
}

/* HTTP, static files, WebSocket and SockJS: the same protocols and mounts
 * on the plain listener and the TLS one. */
static int gateway_listen_http(struct gateway *g, const char *name, const char *host, int port, bool tls, char *err,
                               size_t errlen)
{
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.vhost_name = name;
    vi.iface = strcmp(host, "0.0.0.0") ? host : NULL;
    vi.port = port;
    vi.protocols = g->http_protocols;
    vi.mounts = &g->mount_api;
    vi.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    vi.retry_and_idle_policy = &no_idle_policy;
    if (tls) {
        tls_vhost_info(g, &vi);
        /* HTTP/1.1 only, as on the plain listener (see http_write). */
        vi.alpn = "http/1.1";
        long long age = g->settings->tls.hsts_max_age_s;
        if (age) {
            snprintf(g->hsts_value, sizeof g->hsts_value, "max-age=%lld", age);
            g->hsts = (struct lws_protocol_vhost_options){
                .name = "strict-transport-security:", .value = g->hsts_value};
            vi.headers = &g->hsts;
        }
    }
    struct lws_vhost *vh = lws_create_vhost(g->ctx, &vi);
    if (!vh) {
        snprintf(err, errlen, "gateway: cannot listen on %s:%d%s (see the lws line above)", host, port,
                 tls ? " with TLS" : "");
        return -1;
    }
    if (!g->wake_vhost)
        g->wake_vhost = vh;
    return 0;
}

/* Raw TCP STOMP, plain or over TLS. */
static int gateway_listen_stomp(struct gateway *g, const char *name, const char *host, int port, bool tls, char *err,
                                size_t errlen)
{
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.vhost_name = name;
    vi.iface = strcmp(host, "0.0.0.0") ? host : NULL;
    vi.port = port;
    vi.protocols = g->raw_protocols;
    vi.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG | LWS_SERVER_OPTION_DISABLE_IPV6;
    vi.listen_accept_role = "raw-skt";
    vi.listen_accept_protocol = "stomp-raw";
    vi.retry_and_idle_policy = &no_idle_policy;
    if (tls)
        tls_vhost_info(g, &vi);
    else
        vi.user = &g->proxy_vhost;
    if (!lws_create_vhost(g->ctx, &vi)) {
        snprintf(err, errlen, "gateway: cannot listen on %s:%d%s (see the lws line above)", host, port,
                 tls ? " with TLS" : "");
        return -1;
    }
    return 0;
}

struct gateway *gateway_new(const struct settings *s, struct xq *to_core, void (*wake_core)(void *arg),
                            void *wake_arg, char *err, size_t errlen)
{
    struct gateway *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "gateway: out of memory");
        return NULL;
    }
    g->settings = s;
    gateway_limits_of(s, &g->live);
    g->to_core = to_core;
    g->wake_core = wake_core;
    g->wake_arg = wake_arg;
    xq_init(&g->to_gw);
    idmap_init(&g->conns);
    idmap_init(&g->http);
    strmap_init(&g->peers);
    strmap_init(&g->sockjs);
    atomic_init(&g->stop, false);

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

    /* The gateway's loop: epoll through libev, so a wake-up costs the
     * sockets that are ready, not every open one. */
    g->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
    if (!g->loop) {
        snprintf(err, errlen, "gateway: cannot create its event loop (epoll)");
        gateway_free(g);
        return NULL;
    }
    ev_timer_init(&g->lws_pump, gateway_lws_pump, 0.25, 0.25);
    void *loops[1] = {g->loop};

    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof ci);
    ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_LIBEV;
    if (s->tls.host || s->tls.stomp_host)
        ci.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    ci.foreign_loops = loops;
    ci.user = g;
    ci.port = CONTEXT_PORT_NO_LISTEN;
    g->ctx = lws_create_context(&ci);
    if (!g->ctx) {
        snprintf(err, errlen, "gateway: cannot create the libwebsockets context");
        gateway_free(g);
        return NULL;
    }

    /* HTTP vhost: static files, and STOMP over WebSocket at /ws. A client
     * offering no subprotocol is bound to the vhost's first protocol, so
     * v12.stomp comes first; the CONNECT frame's accept-version decides the
     * STOMP version anyway. (Not the "default" pvo: lws applies pvos when
     * it first idles, and an upgrade served before that went to "http".) */
    static const char *const ws_names[] = {"v12.stomp", "v11.stomp", "v10.stomp"};
    for (int i = 0; i < 3; i++)
        g->http_protocols[i] = (struct lws_protocols){
            .name = ws_names[i],
            .callback = callback_stomp_ws,
            .per_session_data_size = sizeof(struct conn),
            .rx_buffer_size = s->ws_rx_buffer,
            /* Else lws cuts every send() to the receive buffer's size. */
            .tx_packet_size = WRITE_MAX,
        };
    g->http_protocols[3] = (struct lws_protocols){
        .name = "http", .callback = callback_http, .per_session_data_size = sizeof(struct http_conn)};
    /* SockJS's HTTP transports, under each endpoint path that has it on
     * (its websocket transport is a WebSocket upgrade like the others). */
    g->http_protocols[4] = (struct lws_protocols){
        .name = "sockjs", .callback = callback_sockjs, .per_session_data_size = sockjs_request_size()};
    memset(&g->mount, 0, sizeof g->mount);
    g->mount.mountpoint = "/";
    g->mount.mountpoint_len = 1;
    g->mount.origin = s->web_root;
    g->mount.def = "index.html";
    g->mount.origin_protocol = LWSMPRO_FILE;
    /* The REST API and health answer from the core, through this protocol. */
    g->mount_api = (struct lws_http_mount){
        .mountpoint = "/api", .mountpoint_len = 4, .origin = "http", .origin_protocol = LWSMPRO_CALLBACK};
    g->mount_health = (struct lws_http_mount){
        .mountpoint = "/healthz", .mountpoint_len = 8, .origin = "http", .origin_protocol = LWSMPRO_CALLBACK};
    g->mount_metrics = (struct lws_http_mount){
        .mountpoint = "/metrics", .mountpoint_len = 8, .origin = "http", .origin_protocol = LWSMPRO_CALLBACK};
    g->mount_api.mount_next = &g->mount_health;
    g->mount_health.mount_next = &g->mount_metrics;
    struct lws_http_mount *last = &g->mount_metrics;
    for (size_t i = 0; i < s->nws_paths; i++) {
        if (!s->ws_paths[i].sockjs)
            continue;
        g->mount_ws[i] = (struct lws_http_mount){.mountpoint = s->ws_paths[i].path,
                                                 .mountpoint_len = (unsigned char)strlen(s->ws_paths[i].path),
                                                 .origin = "sockjs",
                                                 .origin_protocol = LWSMPRO_CALLBACK};
        last->mount_next = &g->mount_ws[i];
        last = &g->mount_ws[i];
    }
    last->mount_next = s->web_root ? &g->mount : NULL;

    if (s->listen_host && gateway_listen_http(g, "http", s->listen_host, s->listen_port, false, err, errlen) < 0)
        goto fail;
    if (s->tls.host && gateway_listen_http(g, "https", s->tls.host, s->tls.port, true, err, errlen) < 0)
        goto fail;
    if (s->stomp_host || s->tls.stomp_host)
        g->raw_protocols[0] = (struct lws_protocols){
            .name = "stomp-raw",
            .callback = callback_stomp_raw,
            .per_session_data_size = sizeof(struct conn),
            .rx_buffer_size = s->ws_rx_buffer,
            .tx_packet_size = WRITE_MAX,
        };
    if (s->stomp_host && gateway_listen_stomp(g, "stomp", s->stomp_host, s->stomp_port, false, err, errlen) < 0)
        goto fail;
    if (s->tls.stomp_host &&
        gateway_listen_stomp(g, "stomp-tls", s->tls.stomp_host, s->tls.stomp_port, true, err, errlen) < 0)
        goto fail;
    return g;
fail:
    gateway_free(g);
    return NULL;
}

static void *gateway_main(void *arg)
{
    struct gateway *g = arg;
    ev_timer_start(g->loop, &g->lws_pump);
    while (!atomic_load(&g->stop))
        ev_run(g->loop, 0);
    ev_timer_stop(g->loop, &g->lws_pump);
    return NULL;
}

int gateway_start(struct gateway *g)
{
    if (pthread_create(&g->thread, NULL, gateway_main, g) != 0)
        return -1;
    g->started = true;
    return 0;
}

void gateway_send(struct gateway *g, const struct xmsg *msgs, size_t n)
{
    bool failed;
    if (xq_push(&g->to_gw, msgs, n, &failed))
        lws_cancel_service(g->ctx);
    if (failed) {
        for (size_t i = 0; i < n; i++) {
            struct xmsg copy = msgs[i];
            xmsg_dispose(&copy);
        }
        log_msg(CHATD_LOG_ERROR, "core", 0, "out of memory: %zu messages to gateway dropped", n);
    }
}

void gateway_stop(struct gateway *g)
{
    if (!g->started)
        return;
    atomic_store(&g->stop, true);
    lws_cancel_service(g->ctx);
    pthread_join(g->thread, NULL);
    g->started = false;
}

void gateway_free(struct gateway *g)
{
    if (!g)
        return;
    gateway_stop(g);
    if (g->ctx)
        lws_context_destroy(g->ctx); /* closes what is left; CLOSED callbacks run here */
    sockjs_sessions_free(g);
    if (g->loop)
        ev_loop_destroy(g->loop);
    pending_flush(g);
    xq_destroy(&g->to_gw);
    idmap_free(&g->conns);
    idmap_free(&g->http);
    strmap_free(&g->peers);
    strmap_free(&g->sockjs);
    stomp_buf_free(&g->sj_out);
    free(g->sj_dec);
    free(g->batch);
    free(g->dirty);
    free(g->pending);
    free(g->scratch);
    free(g);
}
