/* SockJS on the gateway's sockets: the HTTP requests under each endpoint
 * path that has SockJS on (/info, xhr, xhr_send, xhr_streaming,
 * eventsource), the session table, and the reading side of SockJS over
 * WebSocket. A session over HTTP is a logical connection (struct conn) that
 * outlives its requests: one receiving request at a time carries what it
 * is sent, xhr_send requests carry what the client says. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net/gateway_conn.h"

struct sockjs_request;

struct sockjs_session {
    struct conn c; /* c.sj points here; c.wsi is the receiver's, or NULL */
    char id[SOCKJS_ID_MAX + 1];
    struct sockjs_request *recv; /* the receiving request, or NULL */
    struct sockjs_request *held; /* an xhr_send whose 204 waits for reading to resume */
    ev_timer timer;              /* no receiver for the disconnect delay: close; closed: forget */
    ev_timer hb;                 /* 'h' to an idle receiver */
    bool open_sent;              /* 'o' went out */
    bool h_due;
    bool closed;                 /* ended: receivers get c[3000,"Go away!"] */
};

/* lws' session data of the "sockjs" protocol: one request at a time. */
struct sockjs_request {
    struct lws *wsi;
    struct sockjs_session *s; /* the session it receives for, or whose send it holds */
    enum sockjs_route route;
    char session[SOCKJS_ID_MAX + 1];
    char origin[256];
    char *body;
    size_t body_len, body_cap;
    bool body_too_large;
    bool streaming;    /* xhr_streaming or eventsource: headers sent, response open */
    bool finish;       /* close the streaming response at the next writable */
    size_t sent;       /* bytes of this streaming response */
    /* A complete answer waiting for the writable callback. */
    bool answered;
    bool close_conn; /* close the connection after the answer */
    int status;
    const char *content_type;
    const char *methods; /* an OPTIONS answer's Access-Control-Allow-Methods */
    char *response;
    size_t response_len;
};

size_t sockjs_request_size(void)
{
    return sizeof(struct sockjs_request);
}

#define PRELUDE_XHR_STREAMING 2048 /* 'h' bytes before the first frame, for browsers that buffer */

/* ---------------------------------------------------------- sessions */

static void session_hb(struct ev_loop *loop, ev_timer *w, int revents);
static void session_timer(struct ev_loop *loop, ev_timer *w, int revents);

static void timer_restart(struct gateway *g, ev_timer *t, long long ms)
{
    ev_timer_stop(g->loop, t);
    ev_timer_set(t, (double)ms / 1e3, 0);
    ev_timer_start(g->loop, t);
}

static void session_free(struct gateway *g, struct sockjs_session *s)
{
    ev_timer_stop(g->loop, &s->timer);
    ev_timer_stop(g->loop, &s->hb);
    strmap_del(&g->sockjs, s->id);
    if (s->recv)
        s->recv->s = NULL;
    if (s->held)
        s->held->s = NULL;
    free(s);
}

/* The session ends: the core hears its connection closed; receivers get
 * c[3000,"Go away!"] for a disconnect delay more. */
static void session_end(struct gateway *g, struct sockjs_session *s)
{
    if (s->closed)
        return;
    s->closed = true;
    conn_closed(g, &s->c);
    if (s->held)
        lws_callback_on_writable(s->held->wsi); /* its 204 */
    if (!s->recv)
        timer_restart(g, &s->timer, g->live.sockjs_disconnect_delay_ms);
}

/* Detach the receiving request: the session waits for the next one. */
static void session_detach(struct gateway *g, struct sockjs_session *s)
{
    if (s->recv) {
        s->recv->s = NULL;
        s->recv = NULL;
    }
    s->c.wsi = NULL;
    ev_timer_stop(g->loop, &s->hb);
    timer_restart(g, &s->timer, g->live.sockjs_disconnect_delay_ms);
}

static void session_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct sockjs_session *s = (struct sockjs_session *)((char *)w - offsetof(struct sockjs_session, timer));
    struct gateway *g = s->c.g;
    if (s->recv)
        return;
    if (!s->closed) {
        if (!s->c.kill && !s->c.close_after_flush)
            log_msg(CHATD_LOG_INFO, "gateway", s->c.id, "SockJS session %s: no receiving request for %lld ms: closed",
                    s->id, g->live.sockjs_disconnect_delay_ms);
        session_end(g, s);
        return;
    }
    session_free(g, s);
}

static void session_hb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct sockjs_session *s = (struct sockjs_session *)((char *)w - offsetof(struct sockjs_session, hb));
    s->h_due = true;
    if (s->recv)
        lws_callback_on_writable(s->recv->wsi);
}

void sockjs_session_wake(struct gateway *g, struct sockjs_session *s)
{
    /* Without a receiver, a session to kill, or to close while the server
     * shuts down, ends now rather than at its next request (which would
     * hold the drain for the disconnect delay); from a timer, as the
     * caller may still use the connection. */
    if (s->recv)
        lws_callback_on_writable(s->recv->wsi);
    else if ((s->c.kill || (s->c.close_after_flush && g->draining)) && !s->closed)
        timer_restart(g, &s->timer, 0);
}

int sockjs_session_flush(struct gateway *g, struct sockjs_session *s)
{
    sockjs_session_wake(g, s);
    return 0;
}

void sockjs_session_rx(struct gateway *g, struct sockjs_session *s, bool reading)
{
    (void)g;
    if (reading && s->held)
        lws_callback_on_writable(s->held->wsi);
}

void sockjs_sessions_drain(struct gateway *g)
{
    size_t pos = 0;
    const char *key;
    void *v;
    while (strmap_next(&g->sockjs, &pos, &key, &v))
        sockjs_session_wake(g, v);
}

void sockjs_sessions_free(struct gateway *g)
{
    for (;;) {
        size_t pos = 0;
        const char *key;
        void *v;
        if (!strmap_next(&g->sockjs, &pos, &key, &v))
            break;
        struct sockjs_session *s = v;
        if (!s->closed)
            conn_closed(g, &s->c);
        session_free(g, s);
    }
}

static struct sockjs_session *session_new(struct gateway *g, struct sockjs_request *r)
{
    struct sockjs_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    memcpy(s->id, r->session, sizeof s->id);
    if (strmap_put(&g->sockjs, s->id, s) < 0) {
        free(s);
        return NULL;
    }
    ev_timer_init(&s->timer, session_timer, 0, 0);
    ev_timer_init(&s->hb, session_hb, 0, 0);
    s->recv = r;
    r->s = s;
    /* A refused connection (too many from the address) gets id 0, an ERROR
     * queued and close_after_flush: the receiver writes 'o', the ERROR and
     * c[3000,"Go away!"]. */
    conn_open(g, &s->c, r->wsi, TRANSPORT_WS);
    s->c.sj = s;
    s->c.framing = FRAMING_SOCKJS_HTTP;
    if (!s->c.id)
        s->c.close_after_flush = true;
    return s;
}

/* ---------------------------------------------------------- answers */

static void request_clear(struct gateway *g, struct sockjs_request *r)
{
    struct sockjs_session *s = r->s;
    if (s && s->recv == r)
        session_detach(g, s);
    else if (s && s->held == r)
        s->held = NULL;
    free(r->body);
    free(r->response);
    struct lws *wsi = r->wsi;
    memset(r, 0, sizeof *r);
    r->wsi = wsi;
}

/* A whole answer, written at the next writable callback. */
static int answer(struct sockjs_request *r, int status, const char *content_type, const char *body, size_t len)
{
    free(r->response);
    r->response = len ? malloc(len) : NULL;
    if (len && !r->response)
        return -1;
    if (len)
        memcpy(r->response, body, len);
    r->response_len = len;
    r->status = status;
    r->content_type = content_type;
    r->answered = true;
    lws_callback_on_writable(r->wsi);
    return 0;
}

static int answer_text(struct sockjs_request *r, int status, const char *text)
{
    return answer(r, status, "text/plain; charset=UTF-8", text, strlen(text));
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

/* CORS: an allowed Origin is echoed with credentials (a request without
 * one gets '*'); answers are never cached, but for preflights. */
static int add_common_headers(struct sockjs_request *r, unsigned char **p, unsigned char *end)
{
    struct lws *wsi = r->wsi;
    if (r->origin[0]) {
        if (add_header(wsi, "access-control-allow-origin:", r->origin, p, end) ||
            add_header(wsi, "access-control-allow-credentials:", "true", p, end) ||
            add_header(wsi, "vary:", "Origin", p, end))
            return -1;
    } else if (add_header(wsi, "access-control-allow-origin:", "*", p, end)) {
        return -1;
    }
    if (r->methods) {
        char allow_headers[256];
        int n = lws_hdr_copy(wsi, allow_headers, sizeof allow_headers, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS);
        return add_header(wsi, "access-control-allow-methods:", r->methods, p, end) ||
               add_header(wsi, "access-control-max-age:", "31536000", p, end) ||
               add_header(wsi, "cache-control:", "public, max-age=31536000", p, end) ||
               (n > 0 && add_header(wsi, "access-control-allow-headers:", allow_headers, p, end));
    }
    return add_header(wsi, "cache-control:", "no-store, no-cache, no-transform, must-revalidate, max-age=0", p, end);
}

/* Write the prepared answer; 0 keeps the connection for the next request. */
static int answer_write(struct gateway *g, struct sockjs_request *r)
{
    size_t cap = LWS_PRE + 2048 + r->response_len;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return -1;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + cap;
    if (lws_add_http_common_headers(r->wsi, (unsigned int)r->status, r->content_type, r->response_len, &p, end) ||
        add_common_headers(r, &p, end) ||
        (r->close_conn && add_header(r->wsi, "connection:", "close", &p, end)) ||
        lws_finalize_http_header(r->wsi, &p, end)) {
        free(buf);
        return -1;
    }
    if (r->response_len) {
        memcpy(p, r->response, r->response_len);
        p += r->response_len;
    }
    int rc = lws_write(r->wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < (int)(p - start) ? -1 : 0;
    free(buf);
    struct lws *wsi = r->wsi;
    bool close_conn = r->close_conn;
    request_clear(g, r);
    if (rc < 0 || close_conn || lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

/* One frame in the request's transport: 'o', 'h', 'a[...]' or 'c[...]'. */
static int frame_open(struct stomp_buf *b, enum sockjs_route route)
{
    return stomp_buf_append(b, route == SOCKJS_EVENTSOURCE ? "data: " : "", route == SOCKJS_EVENTSOURCE ? 6 : 0);
}

static int frame_close(struct stomp_buf *b, enum sockjs_route route)
{
    return route == SOCKJS_EVENTSOURCE ? stomp_buf_append(b, "\r\n\r\n", 4) : stomp_buf_append(b, "\n", 1);
}

static int prelude(struct stomp_buf *b, enum sockjs_route route)
{
    if (route == SOCKJS_EVENTSOURCE)
        return stomp_buf_append(b, "\r\n", 2);
    if (route != SOCKJS_XHR_STREAMING)
        return 0;
    char h[PRELUDE_XHR_STREAMING + 1];
    memset(h, 'h', PRELUDE_XHR_STREAMING);
    h[PRELUDE_XHR_STREAMING] = '\n';
    return stomp_buf_append(b, h, sizeof h);
}

static const char *receiver_type(enum sockjs_route route)
{
    return route == SOCKJS_EVENTSOURCE ? "text/event-stream; charset=UTF-8" : "application/javascript; charset=UTF-8";
}

/* A receiving request that does not attach (another is open, the session
 * is closed): its prelude and one close frame. */
static int answer_close(struct sockjs_request *r, int code, const char *reason)
{
    struct stomp_buf b = {0};
    int rc = -1;
    if (prelude(&b, r->route) == 0 && frame_open(&b, r->route) == 0 && sockjs_close_frame(&b, code, reason) == 0 &&
        frame_close(&b, r->route) == 0)
        rc = answer(r, 200, receiver_type(r->route), b.data, b.len);
    stomp_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------- receivers */

/* The next frame for the receiver into b (after what is there): 'o' first,
 * then what is queued, the close, or a heart-beat. 0: b has it or nothing
 * is due. */
static int receiver_frame(struct gateway *g, struct sockjs_session *s, struct stomp_buf *b, enum sockjs_route route,
                          bool *ended)
{
    struct conn *c = &s->c;
    size_t before = b->len;
    if (frame_open(b, route) < 0)
        return -1;
    size_t empty = b->len;
    int rc = 0;
    if (s->closed) {
        rc = sockjs_close_frame(b, SOCKJS_CLOSE_GO_AWAY, "Go away!");
        *ended = true;
    } else if (!s->open_sent) {
        rc = stomp_buf_append(b, "o", 1);
        s->open_sent = true;
    } else if (c->kill) {
        rc = sockjs_close_frame(b, SOCKJS_CLOSE_GO_AWAY, "Go away!");
        *ended = true;
    } else if (c->out_head) {
        rc = conn_take_sockjs(g, c, b);
    } else if (c->close_after_flush) {
        rc = sockjs_close_frame(b, SOCKJS_CLOSE_GO_AWAY, "Go away!");
        *ended = true;
    } else if (s->h_due) {
        rc = stomp_buf_append(b, "h", 1);
    }
    if (rc < 0)
        return -1;
    if (b->len == empty) {
        b->len = before;
        return 0;
    }
    s->h_due = false;
    return frame_close(b, route);
}

static int receiver_writable(struct gateway *g, struct sockjs_request *r)
{
    struct sockjs_session *s = r->s;
    if (r->finish || !s)
        return -1; /* the streaming response is over: the client reconnects */
    struct stomp_buf *b = &g->sj_out;
    b->len = 0;
    bool ended = false;
    if (r->route == SOCKJS_XHR) {
        if (receiver_frame(g, s, b, r->route, &ended) < 0)
            return -1;
        if (!b->len)
            return 0;
        if (ended)
            session_end(g, s);
        s->c.last_tx_us = lws_now_usecs();
        int rc = answer(r, 200, receiver_type(r->route), b->data, b->len);
        session_detach(g, s);
        return rc < 0 ? -1 : answer_write(g, r);
    }
    unsigned char hdr[LWS_PRE + 1024];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr;
    if (!r->streaming) {
        if (lws_add_http_common_headers(r->wsi, 200, receiver_type(r->route), LWS_ILLEGAL_HTTP_CONTENT_LEN, &p,
                                        end) ||
            add_common_headers(r, &p, end) || lws_finalize_http_header(r->wsi, &p, end) ||
            lws_write(r->wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < (int)(p - start) ||
            prelude(b, r->route) < 0)
            return -1;
        r->streaming = true;
    }
    while (!ended && b->len < WRITE_MAX) {
        size_t was = b->len;
        if (receiver_frame(g, s, b, r->route, &ended) < 0)
            return -1;
        if (b->len == was)
            break;
    }
    if (!b->len)
        return 0;
    if (gateway_scratch_reserve(g, b->len) < 0)
        return -1;
    memcpy(g->scratch + LWS_PRE, b->data, b->len);
    if (lws_write(r->wsi, (unsigned char *)g->scratch + LWS_PRE, b->len, LWS_WRITE_HTTP) < (int)b->len)
        return -1;
    s->c.last_tx_us = lws_now_usecs();
    r->sent += b->len;
    timer_restart(g, &s->hb, g->live.sockjs_heartbeat_ms);
    if (ended)
        session_end(g, s);
    if (ended || r->sent >= g->live.sockjs_response_limit) {
        session_detach(g, s);
        r->finish = true;
    }
    if (r->finish || s->c.out_head || s->c.close_after_flush || s->c.kill)
        lws_callback_on_writable(r->wsi);
    return 0;
}

static int receiver_begin(struct gateway *g, struct sockjs_request *r)
{
    /* A receiving request stays open for as long as the session has
     * nothing to say (up to sockjs_heartbeat, or sockjs_response_limit
     * bytes when streaming): lws' own time limit on a request that has not
     * finished (its timeout_secs, 5 s) would end it under the client. The
     * session's timers bound it instead. */
    lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
    struct sockjs_session *s = strmap_get(&g->sockjs, r->session);
    if (!s) {
        if (g->draining)
            return answer_text(r, 503, "Server shutting down.");
        if (!session_new(g, r))
            return -1;
        lws_callback_on_writable(r->wsi);
        return 0;
    }
    if (s->closed)
        return answer_close(r, SOCKJS_CLOSE_GO_AWAY, "Go away!");
    if (s->recv)
        return answer_close(r, SOCKJS_CLOSE_ANOTHER, "Another connection still open");
    ev_timer_stop(g->loop, &s->timer);
    s->recv = r;
    r->s = s;
    s->c.wsi = r->wsi;
    timer_restart(g, &s->hb, g->live.sockjs_heartbeat_ms);
    lws_callback_on_writable(r->wsi);
    return 0;
}

/* ---------------------------------------------------------- xhr_send */

/* The largest xhr_send body: two frames' worth of JSON escaping. */
static size_t post_max(const struct gateway *g)
{
    return 2 * g->live.frame.max_frame_size + 65536;
}

static int dec_reserve(struct gateway *g, size_t len)
{
    if (len <= g->sj_dec_cap)
        return 0;
    size_t cap = g->sj_dec_cap ? g->sj_dec_cap : 4096;
    while (cap < len)
        cap *= 2;
    char *d = realloc(g->sj_dec, cap);
    if (!d)
        return -1;
    g->sj_dec = d;
    g->sj_dec_cap = cap;
    return 0;
}

/* A whole xhr_send body: checked before any of it reaches the session, so
 * a broken one delivers nothing. */
static int send_complete(struct gateway *g, struct sockjs_request *r)
{
    if (r->body_too_large)
        return answer_text(r, 413, "Payload too large.");
    struct sockjs_session *s = strmap_get(&g->sockjs, r->session);
    if (!s || s->closed)
        return answer_text(r, 404, s ? "Session closed." : "Session not found.");
    if (!r->body_len)
        return answer_text(r, 500, "Payload expected.");
    if (dec_reserve(g, r->body_len + SOCKJS_READER_SLACK) < 0)
        return -1;
    struct sockjs_reader rd;
    sockjs_reader_init(&rd);
    long n = sockjs_reader_feed(&rd, r->body, r->body_len, g->sj_dec);
    if (n < 0 || !sockjs_reader_done(&rd)) {
        log_msg(CHATD_LOG_INFO, "gateway", s->c.id, "SockJS session %s: xhr_send body is not a JSON array of strings",
                s->id);
        return answer_text(r, 500, sockjs_reader_empty(&rd) ? "Payload expected." : "Broken JSON encoding.");
    }
    if (s->held)
        return answer_text(r, 409, "Another send is still waiting.");
    conn_receive(g, &s->c, g->sj_dec, (size_t)n);
    if (conn_is_rx_blocked(&s->c) && !s->closed) {
        /* Pushback: the client sends its next batch after this answer. */
        s->held = r;
        r->s = s;
        return 0;
    }
    return answer(r, 204, "text/plain; charset=UTF-8", NULL, 0);
}

static int send_body(struct gateway *g, struct sockjs_request *r, const char *in, size_t len)
{
    if (r->body_too_large)
        return 0;
    if (r->body_len + len > post_max(g)) {
        r->body_too_large = true;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return 0;
    }
    if (r->body_len + len > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 1024;
        while (cap < r->body_len + len)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return -1;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, in, len);
    r->body_len += len;
    return 0;
}

/* ---------------------------------------------------------- requests */

static int request_begin(struct gateway *g, struct lws *wsi, struct sockjs_request *r)
{
    static const struct {
        enum lws_token_indexes token;
        const char *method;
    } methods[] = {{WSI_TOKEN_GET_URI, "GET"}, {WSI_TOKEN_POST_URI, "POST"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"}};
    request_clear(g, r);
    r->wsi = wsi;
    char uri[512];
    const char *method = NULL;
    for (size_t i = 0; i < sizeof methods / sizeof *methods && !method; i++) {
        if (lws_hdr_total_length(wsi, methods[i].token) > 0) {
            if (lws_hdr_copy(wsi, uri, sizeof uri, methods[i].token) <= 0)
                return answer_text(r, 414, "URI too long.");
            method = methods[i].method;
        }
    }
    if (!method)
        return answer_text(r, 405, "Method not allowed.");
    const char *rest;
    const struct ws_endpoint *ep = gateway_endpoint(g, uri, &rest);
    if (!ep || !ep->sockjs)
        return answer_text(r, 404, "Not found.");
    r->route = sockjs_route(rest, r->session);
    if (!gateway_origin_allowed(g, wsi)) {
        log_msg(CHATD_LOG_INFO, "gateway", 0, "SockJS request refused: Origin not allowed");
        return answer_text(r, 403, "Origin not allowed.");
    }
    if (lws_hdr_copy(wsi, r->origin, sizeof r->origin, WSI_TOKEN_ORIGIN) <= 0 || strcmp(r->origin, "null") == 0)
        r->origin[0] = '\0';
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(method, "OPTIONS") == 0) {
        if (r->route == SOCKJS_INFO)
            r->methods = "OPTIONS, GET";
        else if (r->route == SOCKJS_XHR || r->route == SOCKJS_XHR_SEND || r->route == SOCKJS_XHR_STREAMING)
            r->methods = "OPTIONS, POST";
        else
            return answer_text(r, 404, "Not found.");
        return answer(r, 204, "text/plain; charset=UTF-8", NULL, 0);
    }
    switch (r->route) {
    case SOCKJS_GREETING:
        return get ? answer_text(r, 200, "Welcome to SockJS!\n") : answer_text(r, 404, "Not found.");
    case SOCKJS_INFO: {
        if (!get)
            return answer_text(r, 404, "Not found.");
        struct stomp_buf b = {0};
        uint32_t entropy;
        lws_get_random(lws_get_context(wsi), &entropy, sizeof entropy);
        int rc = sockjs_info_json(&b, true, entropy) < 0 ? -1
                 : answer(r, 200, "application/json; charset=UTF-8", b.data, b.len);
        stomp_buf_free(&b);
        return rc;
    }
    case SOCKJS_WEBSOCKET:
        return answer_text(r, 400, "Can \"Upgrade\" only to \"WebSocket\".");
    case SOCKJS_XHR_SEND: {
        if (!post)
            return answer_text(r, 404, "Not found.");
        char cl[24];
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
            strtoull(cl, NULL, 10) > post_max(g))
            return answer_text(r, 413, "Payload too large.");
        /* The body arrives in LWS_CALLBACK_HTTP_BODY; a request that has
         * none gets its answer at once. */
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 && strtoull(cl, NULL, 10) > 0)
            return 0;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
            /* libwebsockets 4.1 does not read chunked request bodies: what
             * follows the headers would be taken for the next request. */
            r->close_conn = true;
            return answer_text(r, 411, "Content-Length required.");
        }
        return send_complete(g, r);
    }
    case SOCKJS_XHR:
    case SOCKJS_XHR_STREAMING:
        if (!post)
            return answer_text(r, 404, "Not found.");
        return receiver_begin(g, r);
    case SOCKJS_EVENTSOURCE:
        if (!get)
            return answer_text(r, 404, "Not found.");
        return receiver_begin(g, r);
    default:
        return answer_text(r, 404, "Not found.");
    }
}

int callback_sockjs(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct gateway *g = lws_context_user(lws_get_context(wsi));
    struct sockjs_request *r = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return gateway_upgrade_check(g, wsi);
    case LWS_CALLBACK_HTTP:
        if (!r)
            return -1;
        return request_begin(g, wsi, r);
    case LWS_CALLBACK_HTTP_BODY:
        if (r && r->route == SOCKJS_XHR_SEND && !r->answered)
            return send_body(g, r, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (r && r->route == SOCKJS_XHR_SEND && !r->answered && !r->s)
            return send_complete(g, r);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!r)
            return 0;
        if (r->answered)
            return answer_write(g, r);
        if (r->s && r->s->held == r) {
            if (conn_is_rx_blocked(&r->s->c) && !r->s->closed)
                return 0;
            r->s->held = NULL;
            r->s = NULL;
            if (answer(r, 204, "text/plain; charset=UTF-8", NULL, 0) < 0)
                return -1;
            return answer_write(g, r);
        }
        if (r->finish || (r->s && r->s->recv == r))
            return receiver_writable(g, r);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (r)
            request_clear(g, r);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---------------------------------------------------------- over WebSocket */

void sockjs_ws_opened(struct gateway *g, struct conn *c)
{
    if (conn_write_ws_text(g, c, "o", 1) < 0) {
        c->kill = true;
        conn_wake(c);
    }
}

void sockjs_ws_receive(struct gateway *g, struct conn *c, const char *in, size_t len, bool final)
{
    if (c->rx_closed)
        return;
    if (dec_reserve(g, len + SOCKJS_READER_SLACK) < 0) {
        c->kill = true;
        conn_wake(c);
        return;
    }
    long n = sockjs_reader_feed(&c->sj_in, in, len, g->sj_dec);
    bool broken = n < 0 || (final && !sockjs_reader_done(&c->sj_in) && !sockjs_reader_empty(&c->sj_in));
    if (n > 0)
        conn_receive(g, c, g->sj_dec, (size_t)n);
    if (broken && !c->rx_closed) {
        conn_error(g, c, "Broken JSON encoding.", "A SockJS message must be a JSON array of strings.");
        return;
    }
    if (final)
        sockjs_reader_init(&c->sj_in);
}
