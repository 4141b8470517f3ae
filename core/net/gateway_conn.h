/* What the gateway's files share (net/gateway.c, net/sockjs_http.c): the
 * connection, the gateway's state and the calls that move a connection's
 * bytes. Not for the layers above. */
#ifndef CHATD_GATEWAY_CONN_H
#define CHATD_GATEWAY_CONN_H

#include <ev.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "idmap.h"
#include "net/gateway.h"
#include "net/sockjs.h"
#include "net/stomp_frame.h"
#include "strmap.h"

/* How a connection's STOMP bytes travel. */
enum conn_framing {
    FRAMING_STOMP = 0,   /* raw TCP, or one STOMP frame per WebSocket message */
    FRAMING_SOCKJS_WS,   /* SockJS over WebSocket: 'o', 'h', 'a[...]', 'c[...]' messages */
    FRAMING_SOCKJS_HTTP, /* SockJS over HTTP requests (xhr, xhr_streaming, eventsource) */
};

struct sockjs_session;

/* Per-connection state: lws' session data of a WebSocket or raw TCP
 * connection, or part of a SockJS session over HTTP (net/sockjs_http.c),
 * which outlives the requests that carry it. */
struct outitem {
    struct outitem *next;
    char *head;
    size_t head_len;
    struct rcbuf *shared;
};

struct conn {
    ev_timer hb_timer;      /* heart-beats; inactive when none were agreed */
    struct gateway *g;
    uint64_t id;
    struct lws *wsi;
    enum transport transport;
    enum conn_framing framing;
    struct sockjs_session *sj; /* FRAMING_SOCKJS_HTTP: the session; wsi is its receiving request or NULL */
    struct sockjs_reader sj_in; /* FRAMING_SOCKJS_WS: the client's message being read */
    bool sj_close_sent;         /* FRAMING_SOCKJS_WS: the c[...] frame went out */
    bool sj_h_due;              /* FRAMING_SOCKJS_WS: an 'h' frame is to be written */
    struct stomp_parser *parser;
    struct outitem *out_head, *out_tail;
    size_t out_bytes;
    bool close_after_flush; /* the core or a protocol error asked to close */
    bool kill;              /* close at the next chance, dropping the queue */
    bool rx_closed;         /* ignore further input */
    bool rx_paused;         /* the core asked us to stop reading (its backlog) */
    bool rx_blocked;        /* not reading, for any reason of conn_rx_blocked() */
    bool counted;           /* holds one of gateway.peers' counts for `peer` */
    bool rx_seen;           /* raw TCP: bytes arrived (over TLS: the handshake is over) */
    bool proxy_wait;        /* raw TCP from a trusted proxy: its PROXY header is awaited */
    unsigned char *proxy_buf; /* the header's bytes so far */
    size_t proxy_len;
    bool dirty;             /* got output in this drain of the core's queue */
    char peer[48];          /* the client's address */
    lws_usec_t hb_send_us, hb_receive_us;
    lws_usec_t last_rx_us, last_tx_us;
    /* Flow control (conn_rx_blocked): bytes of this connection's frames the
     * core has not taken yet; recipients whose queues this publisher filled
     * past the mark; the byte rate's token bucket. */
    size_t inflight;
    unsigned throttled_by;
    double rate_tokens;
    lws_usec_t rate_refill_us;
    struct conn_flow *flow; /* made on first use */
};

/* What only a connection in a flow-control episode needs. */
struct conn_flow {
    struct conn *c;
    ev_timer slow_timer;  /* a full queue holding publishers back must drain in time */
    ev_timer rate_timer;  /* the byte rate's pause */
    bool rate_wait;
    uint64_t *holding;    /* publishers this queue holds back (connection ids) */
    size_t nholding, holding_cap;
};

/* One HTTP request to the core's REST API, as lws session data. */
struct http_conn {
    struct lws *wsi;
    uint64_t id;          /* registered in gateway.http while the core answers */
    struct http_request *req;
    size_t body_cap;
    int status;           /* the core's answer, once it came */
    const char *content_type;
    unsigned retry_after_s;   /* Retry-After when not 0 */
    char *disposition;    /* the core's Content-Disposition, or NULL */
    char *response;
    size_t response_len;
    bool answered;
    char *req_origin; /* the request's Origin header, or NULL */
    bool cors;        /* req_origin is one [server] allowed_origins names: CORS headers */
    bool preflight;   /* an OPTIONS preflight, answered by the gateway */
    /* An upload streamed to the core (XM_HTTP_BODY): its bytes handed over
     * and not yet taken (XM_HTTP_CREDIT); reading pauses above
     * HTTP_STREAM_WINDOW of them. */
    bool streaming;
    bool rx_paused;
    size_t inflight;
    char *content_range;  /* the core's Content-Range, or NULL */
    bool file;            /* the core's answer is a file's bytes */
    /* A response streamed from the core (a download): its headers say
     * stream_len bytes, which come in XM_HTTP_PIECE messages and wait in
     * pieces until written; each piece written is credited back
     * (XM_HTTP_SENT), which is how the core bounds what waits here. */
    bool stream_out;
    bool headers_sent;
    bool stream_abort;    /* the core cannot complete it: close */
    uint64_t stream_left; /* bytes of the body not written yet */
    struct http_piece *pieces, *pieces_tail;
    size_t piece_off;     /* bytes of the first piece written */
};

struct http_piece {
    struct http_piece *next;
    char *data;
    size_t len;
};

/* Bytes of a streamed response handed to lws in one write: small enough
 * that what lws keeps of a partial send stays small. */
#define HTTP_PIECE_WRITE (128 * 1024)
/* A streamed response is cut when nothing of it could be written for this
 * long (a client that reads nothing, a backend that reads nothing); lws'
 * own limit, on the whole request, would cut a slow download that moves. */
#define HTTP_STREAM_IDLE_S 30


#define HTTP_STREAM_WINDOW (1024 * 1024)

#define HTTP_BODY_MAX (64 * 1024)

struct gateway {
    /* Only its restart-only members are read (gateway.h); the rest is in `live`. */
    const struct settings *settings;
    struct gateway_limits live;
    char proxy_vhost;          /* its address: the user of the vhost whose connections may open with a PROXY header */
    struct lws_context *ctx;
    struct ev_loop *loop;      /* epoll; lws runs on it as a foreign loop */
    ev_timer lws_pump;         /* see gateway_lws_pump() */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    bool draining;

    struct xq to_gw;           /* filled by the core */
    struct xmsg *batch;        /* our side of the to_gw swap */
    size_t batch_cap;
    uint64_t *dirty;           /* connections that got output in one drain */
    size_t ndirty, dirty_cap;
    struct xq *to_core;
    void (*wake_core)(void *arg);
    void *wake_arg;
    struct xmsg *pending;      /* messages for the core from one callback */
    size_t npending, pending_cap;

    struct idmap conns;        /* id -> struct conn */
    struct idmap http;         /* request id -> struct http_conn */
    struct strmap peers;       /* peer address -> live connections (uintptr_t), with a limit set */
    uint64_t next_id;
    char *scratch;             /* LWS_PRE + one outgoing write */
    size_t scratch_cap;

    struct lws_http_mount mount, mount_api, mount_health, mount_metrics;
    struct lws_http_mount mount_ws[SETTINGS_WS_PATHS_MAX]; /* SockJS endpoints */
    struct lws_protocols http_protocols[6];
    struct strmap sockjs;      /* SockJS session id -> struct sockjs_session (net/sockjs_http.c) */
    struct stomp_buf sj_out;   /* one outgoing SockJS message being built */
    char *sj_dec;              /* what a SockJS message decodes to */
    size_t sj_dec_cap;
    struct lws_protocols raw_protocols[2];
    struct lws_vhost *wake_vhost; /* the one whose "http" protocol drains to_gw on a wake-up */
    struct lws_protocol_vhost_options hsts; /* the HTTPS vhost's Strict-Transport-Security header */
    /* The TLS listeners' OpenSSL contexts (SSL_CTX *), as libwebsockets
     * made them: a reload puts a renewed certificate into them. */
    void *tls_ctx[2];
    size_t ntls_ctx;
    char hsts_value[48];
};

#define WRITE_MAX (64 * 1024) /* bytes handed to one write */

/* Gateway thread, all of them. */
/* A connection arrived on wsi: register it and tell the core. A refused
 * one (max_connections_per_ip) gets id 0 and an ERROR queued. */
void conn_open(struct gateway *g, struct conn *c, struct lws *wsi, enum transport t);
/* STOMP bytes from the client. */
void conn_receive(struct gateway *g, struct conn *c, const char *data, size_t len);
/* The connection is gone: the core hears of it. */
void conn_closed(struct gateway *g, struct conn *c);
/* Queue an ERROR frame (message: why) and close once it is written. */
void conn_error(struct gateway *g, struct conn *c, const char *why, const char *detail);
/* g->scratch holds LWS_PRE + len bytes. */
int gateway_scratch_reserve(struct gateway *g, size_t len);
/* Ask for a chance to write (a writable callback, or the SockJS receiver's). */
void conn_wake(struct conn *c);
/* Move queued frames (up to WRITE_MAX bytes) into one SockJS message
 * `a["...",...]` appended to b; 0 (nothing queued leaves b as it was) or -1. */
int conn_take_sockjs(struct gateway *g, struct conn *c, struct stomp_buf *b);
/* Write one WebSocket text message now (lws keeps what the socket does
 * not take); -1 on failure. */
int conn_write_ws_text(struct gateway *g, struct conn *c, const char *data, size_t len);
/* Answer a WebSocket upgrade request (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE). */
int gateway_upgrade_check(struct gateway *g, struct lws *wsi);
/* Whether the connection is not being read now (flow control). */
bool conn_is_rx_blocked(const struct conn *c);

/* Origin absent, or one of [server] allowed_origins. */
bool gateway_origin_allowed(const struct gateway *g, struct lws *wsi);
/* The endpoint whose path uri starts with; *rest is what follows it. */
const struct ws_endpoint *gateway_endpoint(const struct gateway *g, const char *uri, const char **rest);

/* net/sockjs_http.c */
/* A SockJS-over-WebSocket connection was established: 'o' goes out. */
void sockjs_ws_opened(struct gateway *g, struct conn *c);
/* Part of one of its messages (final: the message's last part). */
void sockjs_ws_receive(struct gateway *g, struct conn *c, const char *in, size_t len, bool final);
int callback_sockjs(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
/* Per-session data size of the "sockjs" protocol. */
size_t sockjs_request_size(void);
/* conn_wake for a SockJS session: write to its receiver, if it has one. */
void sockjs_session_wake(struct gateway *g, struct sockjs_session *s);
/* A SockJS session's reading paused or resumed: a held xhr_send is answered on resume. */
void sockjs_session_rx(struct gateway *g, struct sockjs_session *s, bool reading);
/* The session's receiver may write now (flush after a drain of the core's queue). */
int sockjs_session_flush(struct gateway *g, struct sockjs_session *s);
/* Shutdown began: sessions the core closed that have no receiver end now. */
void sockjs_sessions_drain(struct gateway *g);
/* Shutdown: free every session (their receivers are gone). */
void sockjs_sessions_free(struct gateway *g);

#endif
