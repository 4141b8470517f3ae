/* The messages the gateway thread and the core thread exchange, and the
 * mutex-protected queue that carries them in batches. Sessions are named by
 * id; nothing here points into the other thread's state. */
#ifndef CHATD_XQ_H
#define CHATD_XQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gateway_limits;
struct tls_cert_bundle;
struct stomp_frame;

/* An HTTP request for the core (REST API, health). Owned by its message. */
struct http_request {
    char method[8];
    char *path;          /* without the query */
    char *query;         /* "a=1&b=2" or "" */
    char *authorization; /* the header, or NULL */
    char *body;
    size_t body_len;
    char *remote_addr;
    char *origin;        /* the Origin header, or NULL */
    char *accept;        /* the Accept header, or NULL */
    char *tls_identity;  /* [server] tls_client_user: whom the client certificate names, or NULL */
    const char *tls_problem; /* static: why the client certificate names nobody, or NULL */
    /* An upload (POST /api/rooms/{room}/files): the body does not come
     * with the request but after it, in XM_HTTP_BODY pieces. */
    bool streamed;
    uint64_t content_length; /* the Content-Length header (streamed: its body's bytes) */
    char *content_type;      /* the Content-Type header, or NULL */
    char *range;             /* the Range header, or NULL */
    char *file_name;         /* the X-File-Name header (percent-encoded UTF-8), or NULL */
};
void http_request_free(struct http_request *r);

/* Immutable bytes shared by many outbound frames (a message body fanned out
 * to its recipients). Any thread may drop a reference. */
struct rcbuf {
    atomic_uint refs;
    size_t len;
    /* Gateway thread only: -1 not yet known, else whether data is valid
     * UTF-8 (a WebSocket text frame must be). */
    signed char utf8;
    /* The session of this instance whose SEND produced these bytes, or 0:
     * a recipient's full queue slows that publisher down. Set once by the
     * core before the buffer is shared. */
    uint64_t origin;
    char data[];
};
struct rcbuf *rcbuf_new(size_t len); /* refs = 1 */
struct rcbuf *rcbuf_ref(struct rcbuf *b);
void rcbuf_unref(struct rcbuf *b);   /* NULL ok */

enum transport { TRANSPORT_TCP = 1, TRANSPORT_WS = 2 };

enum xmsg_kind {
    /* gateway -> core */
    XM_OPENED = 1, /* a connection arrived; u.opened */
    XM_FRAME,      /* a parsed client frame; u.frame (core frees) */
    XM_CLOSED,     /* the connection is gone; u.reason (static string) */
    XM_HTTP_REQUEST, /* u.http_request (core frees); session = request id */
    XM_TLS_PEER,   /* the client certificate's user ([server] tls_client_user); u.tls_peer; before any XM_FRAME */
    XM_HTTP_BODY,  /* a piece of a streamed request's body: u.http_body (core frees) */
    XM_HTTP_SENT,  /* u.credit bytes of a streamed response's body were written to its client */
    XM_HTTP_GONE,  /* the client of request `session` went away before its answer was written */
    /* core -> gateway */
    XM_OUT,        /* bytes: u.out.head (owned) then u.out.shared (a reference) */
    XM_CLOSE,      /* close once everything queued before it is written */
    XM_DRAIN,      /* shutdown: accept nothing new; stop when all closed */
    XM_HEARTBEAT,  /* negotiated heart-beats: u.heartbeat (ms, 0 = off) */
    XM_HTTP_RESPONSE, /* u.http_response for request `session` */
    XM_RX_PAUSE,   /* stop reading the connection (the session is backlogged) */
    XM_RX_RESUME,  /* read it again */
    XM_RX_CREDIT,  /* u.credit bytes of the connection's frames were taken by the core */
    XM_LIMITS,     /* a reload: u.limits (owned) replace the gateway's limits */
    XM_TLS_CERT,   /* a reload: u.tls_cert (owned) for the TLS listeners' new handshakes */
    XM_HTTP_CREDIT, /* u.credit bytes of a streamed request's body were taken by the core */
    XM_HTTP_PIECE,  /* a piece of a streamed response's body: u.http_body (gateway frees);
                     * aborted: it cannot be completed, the connection is closed */
};

struct xmsg {
    uint64_t session;
    enum xmsg_kind kind;
    union {
        struct {
            enum transport transport;
            char *remote_addr; /* owned by the message */
        } opened;
        struct stomp_frame *frame;
        struct {
            char *identity;      /* owned; NULL when the certificate names no user */
            const char *problem; /* static: why it names none (then identity is NULL) */
        } tls_peer;
        const char *reason;
        struct http_request *http_request;
        struct {
            int status;
            char *body; /* owned */
            size_t len;
            const char *content_type; /* static; NULL = application/json */
            unsigned retry_after_s;   /* a Retry-After header when not 0 */
            char *disposition; /* owned; the Content-Disposition header, or NULL */
            char *content_range; /* owned; the Content-Range header, or NULL */
            bool file;           /* a file's bytes: nosniff, Accept-Ranges, a sandboxing CSP */
            /* The body is not in this message but follows it in
             * XM_HTTP_PIECE messages, length bytes in all (body NULL). */
            bool streamed;
            uint64_t length;
        } http_response;
        struct {
            char *data;   /* owned; len bytes */
            size_t len;
            bool end;     /* the body is complete (data NULL) */
            bool aborted; /* the client went away before it was (data NULL) */
        } http_body;
        struct {
            uint32_t send_ms;    /* send an EOL when nothing was written for this long */
            uint32_t receive_ms; /* close when nothing was read for twice this long */
        } heartbeat;
        struct {
            char *head;
            size_t head_len;
            struct rcbuf *shared;
        } out;
        size_t credit;
        struct gateway_limits *limits;
        struct tls_cert_bundle *tls_cert;
    } u;
};

/* Free what a message owns (for messages dropped unprocessed). */
void xmsg_dispose(struct xmsg *m);

struct xq {
    pthread_mutex_t mu;
    struct xmsg *items;
    size_t n, cap;
};

void xq_init(struct xq *q);
/* Disposes of messages still queued. */
void xq_destroy(struct xq *q);
/* Append messages. Returns true if the queue was empty before, i.e. the
 * consumer may be asleep and needs its wake-up. -1 on allocation failure
 * is reported as false with *failed set. */
bool xq_push(struct xq *q, const struct xmsg *msgs, size_t n, bool *failed);
/* Swap the queued batch into *items and *n (the caller's previous, emptied array
 * in *items with capacity *cap is given to the queue for reuse). */
void xq_take(struct xq *q, struct xmsg **items, size_t *n, size_t *cap);

#endif
