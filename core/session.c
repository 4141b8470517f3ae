#include "session.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "loader.h"
#include "log.h"
#include "router.h"
#include "server.h"
#include "stomp_frame.h"

enum session_state {
    SESSION_NEW,          /* waiting for CONNECT */
    SESSION_AUTH,         /* CONNECT handed to the auth plugin */
    SESSION_CONNECTED,
    SESSION_CLOSING,      /* ERROR or DISCONNECT sent; waiting for the close */
};

/* Frames a client pipelines behind its CONNECT are held until auth answers. */
#define HELD_FRAMES_MAX 32

struct session {
    uint64_t id;
    struct server *srv;
    enum transport transport;
    char *remote_addr;
    enum session_state state;
    int version;
    char *user;
    uint32_t roles;
    int64_t opened_ms;
    struct sub **subs;
    size_t nsubs, subs_cap;
    struct stomp_frame *held[HELD_FRAMES_MAX];
    size_t nheld;
    /* Sessions not yet CONNECTED, oldest first, for the CONNECT timeout. */
    struct session *pending_prev, *pending_next;
    bool pending_linked;
};

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void pending_unlink(struct session *s)
{
    if (!s->pending_linked)
        return;
    struct server *l = s->srv;
    if (s->pending_prev)
        s->pending_prev->pending_next = s->pending_next;
    else
        l->pending_head = s->pending_next;
    if (s->pending_next)
        s->pending_next->pending_prev = s->pending_prev;
    else
        l->pending_tail = s->pending_prev;
    s->pending_linked = false;
    s->pending_prev = s->pending_next = NULL;
}

int session_version(const struct session *s)
{
    return s->version;
}

void session_send(struct session *s, char *head, size_t head_len, struct rcbuf *shared)
{
    struct xmsg m = {.session = s->id, .kind = XM_OUT};
    m.u.out.head = head;
    m.u.out.head_len = head_len;
    m.u.out.shared = shared;
    server_emit(s->srv, &m);
}

static void session_send_buf(struct session *s, struct stomp_buf *b)
{
    session_send(s, b->data, b->len, NULL);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void session_close(struct session *s)
{
    struct xmsg m = {.session = s->id, .kind = XM_CLOSE};
    server_emit(s->srv, &m);
    s->state = SESSION_CLOSING;
    pending_unlink(s);
}

/* ERROR frame, then close: the only way the server reports a client error. */
static void session_error(struct session *s, const char *receipt, const char *message, const char *detail)
{
    if (s->state == SESSION_CLOSING)
        return;
    int v = s->version ? s->version : STOMP_V1_2;
    struct stomp_buf b = {0};
    int rc = stomp_encode_command(&b, STOMP_CMD_ERROR);
    rc |= stomp_encode_header(&b, v, STOMP_CMD_ERROR, "message", message);
    if (receipt)
        rc |= stomp_encode_header(&b, v, STOMP_CMD_ERROR, "receipt-id", receipt);
    rc |= stomp_encode_header(&b, v, STOMP_CMD_ERROR, "content-type", "text/plain");
    const char *body = detail ? detail : message;
    rc |= stomp_encode_body(&b, body, strlen(body), true);
    if (rc == 0)
        session_send_buf(s, &b);
    stomp_buf_free(&b);
    log_msg(CHATD_LOG_INFO, "session", s->id, "error sent: %s", message);
    session_close(s);
}

static void session_receipt(struct session *s, const char *receipt)
{
    if (!receipt)
        return;
    struct stomp_buf b = {0};
    if (stomp_encode_command(&b, STOMP_CMD_RECEIPT) == 0 &&
        stomp_encode_header(&b, s->version, STOMP_CMD_RECEIPT, "receipt-id", receipt) == 0 &&
        stomp_encode_body(&b, NULL, 0, false) == 0)
        session_send_buf(s, &b);
    stomp_buf_free(&b);
}

static void session_unsubscribe_all(struct session *s)
{
    for (size_t i = 0; i < s->nsubs; i++) {
        router_unsubscribe(s->srv->router, s->subs[i]);
        free(s->subs[i]->id);
        free(s->subs[i]->destination);
        free(s->subs[i]);
    }
    s->nsubs = 0;
}

static void session_destroy(struct session *s)
{
    pending_unlink(s);
    session_unsubscribe_all(s);
    for (size_t i = 0; i < s->nheld; i++)
        stomp_frame_free(s->held[i]);
    free(s->subs);
    free(s->user);
    free(s->remote_addr);
    free(s);
}

/* ------------------------------------------------------------ CONNECT */

struct auth_wait {
    struct server *srv;
    uint64_t session;
    char *receipt;
};

static void session_dispatch(struct session *s, struct stomp_frame *f);

static void session_connected(struct session *s, const struct chatd_identity *who, const char *receipt)
{
    s->state = SESSION_CONNECTED;
    s->user = strdup(who->user);
    s->roles = who->roles;
    pending_unlink(s);
    if (!s->user) {
        session_error(s, receipt, "internal error", "out of memory");
        return;
    }
    char version[24], session_id[24];
    snprintf(version, sizeof version, "%d.%d", s->version / 10, s->version % 10);
    snprintf(session_id, sizeof session_id, "%llu", (unsigned long long)s->id);
    struct stomp_buf b = {0};
    int rc = stomp_encode_command(&b, STOMP_CMD_CONNECTED);
    rc |= stomp_encode_header(&b, s->version, STOMP_CMD_CONNECTED, "version", version);
    rc |= stomp_encode_header(&b, s->version, STOMP_CMD_CONNECTED, "heart-beat", "0,0");
    rc |= stomp_encode_header(&b, s->version, STOMP_CMD_CONNECTED, "session", session_id);
    rc |= stomp_encode_header(&b, s->version, STOMP_CMD_CONNECTED, "server", "chatd/" CHATD_VERSION);
    rc |= stomp_encode_header(&b, s->version, STOMP_CMD_CONNECTED, "user-name", s->user);
    rc |= stomp_encode_body(&b, NULL, 0, false);
    if (rc == 0)
        session_send_buf(s, &b);
    stomp_buf_free(&b);
    log_msg(CHATD_LOG_INFO, "session", s->id, "connected as %s (STOMP %s, %s)", s->user, version,
            s->transport == TRANSPORT_WS ? "websocket" : "tcp");
    /* A receipt on CONNECT is not in the spec, but harmless to honour. */
    session_receipt(s, receipt);

    /* Frames the client sent right behind its CONNECT. */
    size_t n = s->nheld;
    s->nheld = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->state == SESSION_CONNECTED)
            session_dispatch(s, s->held[i]);
        else
            stomp_frame_free(s->held[i]);
    }
}

static void auth_done(void *ctx, chatd_status st, const struct chatd_identity *who, const char *reason)
{
    struct auth_wait *w = ctx;
    struct session *s = idmap_get(&w->srv->sessions, w->session);
    if (s && s->state == SESSION_AUTH) {
        if (st == CHATD_OK && who && who->user && *who->user) {
            session_connected(s, who, w->receipt);
        } else if (st == CHATD_ERR_DENIED) {
            log_msg(CHATD_LOG_INFO, "session", s->id, "authentication refused: %s",
                    reason ? reason : "denied");
            session_error(s, w->receipt, reason ? reason : "access denied", NULL);
        } else {
            log_msg(CHATD_LOG_WARN, "session", s->id, "authentication failed: %s (%s)",
                    chatd_strerror(st), reason ? reason : "");
            session_error(s, w->receipt, "authentication unavailable", chatd_strerror(st));
        }
    }
    free(w->receipt);
    free(w);
}

static void on_connect(struct session *s, struct stomp_frame *f)
{
    const char *receipt = stomp_frame_header(f, "receipt");
    if (s->state != SESSION_NEW) {
        session_error(s, receipt, "already connected", NULL);
        return;
    }
    int v = stomp_negotiate_version(stomp_frame_header(f, "accept-version"));
    if (v == 0) {
        /* The spec wants the versions we speak in a `version` header. */
        s->version = STOMP_V1_2;
        struct stomp_buf b = {0};
        const char *msg = "unsupported STOMP version";
        int rc = stomp_encode_command(&b, STOMP_CMD_ERROR);
        rc |= stomp_encode_header(&b, STOMP_V1_2, STOMP_CMD_ERROR, "version", "1.0,1.1,1.2");
        rc |= stomp_encode_header(&b, STOMP_V1_2, STOMP_CMD_ERROR, "message", msg);
        rc |= stomp_encode_header(&b, STOMP_V1_2, STOMP_CMD_ERROR, "content-type", "text/plain");
        rc |= stomp_encode_body(&b, "Supported protocol versions are 1.0,1.1,1.2\n", 44, true);
        if (rc == 0)
            session_send_buf(s, &b);
        stomp_buf_free(&b);
        session_close(s);
        return;
    }
    s->version = v;

    struct chatd_credentials cred = {
        .login = stomp_frame_header(f, "login"),
        .passcode = stomp_frame_header(f, "passcode"),
        .remote_addr = s->remote_addr,
    };
    const char *authz = stomp_frame_header(f, "Authorization");
    if (!authz)
        authz = stomp_frame_header(f, "authorization");
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0)
        cred.token = authz + 7;

    struct auth_wait *w = calloc(1, sizeof *w);
    if (!w || (receipt && !(w->receipt = strdup(receipt)))) {
        free(w);
        session_error(s, receipt, "internal error", "out of memory");
        return;
    }
    w->srv = s->srv;
    w->session = s->id;
    s->state = SESSION_AUTH;
    struct plugin *auth = s->srv->auth;
    auth->desc->ops.auth->authenticate(auth->state, &cred, auth_done, w);
}

/* ------------------------------------------------------ other frames */

static struct sub *find_sub(struct session *s, const char *id, size_t *index)
{
    for (size_t i = 0; i < s->nsubs; i++) {
        if (strcmp(s->subs[i]->id, id) == 0) {
            if (index)
                *index = i;
            return s->subs[i];
        }
    }
    return NULL;
}

static bool destination_is_topic(const char *d)
{
    return strncmp(d, "/topic/", 7) == 0 && d[7] != '\0';
}

static void on_subscribe(struct session *s, struct stomp_frame *f)
{
    const char *receipt = stomp_frame_header(f, "receipt");
    const char *dest = stomp_frame_header(f, "destination");
    const char *id = stomp_frame_header(f, "id");
    const char *ack = stomp_frame_header(f, "ack");
    if (!dest || !*dest) {
        session_error(s, receipt, "missing destination header", NULL);
        return;
    }
    if (!id && s->version == STOMP_V1_0)
        id = dest; /* 1.0 made the id optional */
    if (!id || !*id) {
        session_error(s, receipt, "missing id header", NULL);
        return;
    }
    enum ack_mode mode = ACK_AUTO;
    if (ack && strcmp(ack, "client") == 0)
        mode = ACK_CLIENT;
    else if (ack && strcmp(ack, "client-individual") == 0)
        mode = ACK_CLIENT_INDIVIDUAL;
    else if (ack && strcmp(ack, "auto") != 0) {
        session_error(s, receipt, "invalid ack mode", "ack must be auto, client or client-individual");
        return;
    }
    if (find_sub(s, id, NULL)) {
        session_error(s, receipt, "duplicate subscription id", NULL);
        return;
    }
    if (s->nsubs >= s->srv->settings.max_subscriptions) {
        session_error(s, receipt, "too many subscriptions", NULL);
        return;
    }
    if (!destination_is_topic(dest)) {
        session_error(s, receipt, "unknown destination", dest);
        return;
    }
    if (s->nsubs == s->subs_cap) {
        size_t cap = s->subs_cap ? s->subs_cap * 2 : 4;
        struct sub **subs = realloc(s->subs, cap * sizeof *subs);
        if (!subs) {
            session_error(s, receipt, "internal error", "out of memory");
            return;
        }
        s->subs = subs;
        s->subs_cap = cap;
    }
    struct sub *sub = calloc(1, sizeof *sub);
    if (!sub || !(sub->id = strdup(id)) || !(sub->destination = strdup(dest))) {
        if (sub) {
            free(sub->id);
            free(sub);
        }
        session_error(s, receipt, "internal error", "out of memory");
        return;
    }
    sub->ack = mode;
    sub->session = s;
    chatd_status st = router_subscribe(s->srv->router, sub);
    if (st != CHATD_OK) {
        free(sub->id);
        free(sub->destination);
        free(sub);
        session_error(s, receipt, "subscription failed", chatd_strerror(st));
        return;
    }
    s->subs[s->nsubs++] = sub;
    session_receipt(s, receipt);
}

static void on_unsubscribe(struct session *s, struct stomp_frame *f)
{
    const char *receipt = stomp_frame_header(f, "receipt");
    const char *id = stomp_frame_header(f, "id");
    if (!id && s->version == STOMP_V1_0)
        id = stomp_frame_header(f, "destination");
    size_t i;
    struct sub *sub = id ? find_sub(s, id, &i) : NULL;
    if (!sub) {
        session_error(s, receipt, id ? "no such subscription" : "missing id header", NULL);
        return;
    }
    router_unsubscribe(s->srv->router, sub);
    s->subs[i] = s->subs[--s->nsubs];
    free(sub->id);
    free(sub->destination);
    free(sub);
    session_receipt(s, receipt);
}

static void on_send(struct session *s, struct stomp_frame *f)
{
    const char *receipt = stomp_frame_header(f, "receipt");
    const char *dest = stomp_frame_header(f, "destination");
    if (!dest || !*dest) {
        session_error(s, receipt, "missing destination header", NULL);
        return;
    }
    if (!destination_is_topic(dest)) {
        session_error(s, receipt, "unknown destination", dest);
        return;
    }
    chatd_status st = router_publish(s->srv->router, dest, f);
    if (st != CHATD_OK) {
        session_error(s, receipt, "message not accepted", chatd_strerror(st));
        return;
    }
    session_receipt(s, receipt);
}

static void on_disconnect(struct session *s, struct stomp_frame *f)
{
    session_unsubscribe_all(s);
    session_receipt(s, stomp_frame_header(f, "receipt"));
    session_close(s);
}

static void session_dispatch(struct session *s, struct stomp_frame *f)
{
    switch (f->command) {
    case STOMP_CMD_CONNECT:
    case STOMP_CMD_STOMP:
        on_connect(s, f);
        break;
    case STOMP_CMD_SUBSCRIBE:
        on_subscribe(s, f);
        break;
    case STOMP_CMD_UNSUBSCRIBE:
        on_unsubscribe(s, f);
        break;
    case STOMP_CMD_SEND:
        on_send(s, f);
        break;
    case STOMP_CMD_DISCONNECT:
        on_disconnect(s, f);
        break;
    case STOMP_CMD_ACK:
    case STOMP_CMD_NACK:
    case STOMP_CMD_BEGIN:
    case STOMP_CMD_COMMIT:
    case STOMP_CMD_ABORT: {
        char msg[64];
        snprintf(msg, sizeof msg, "%s is not supported", stomp_command_name(f->command));
        session_error(s, stomp_frame_header(f, "receipt"), msg, NULL);
        break;
    }
    default:
        session_error(s, stomp_frame_header(f, "receipt"), "unexpected frame",
                      "Servers' frames (CONNECTED, MESSAGE, RECEIPT, ERROR) are not accepted from clients.");
        break;
    }
    stomp_frame_free(f);
}

/* ------------------------------------------------------ gateway events */

void session_opened(struct server *srv, uint64_t id, enum transport t, char *addr)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s || idmap_put(&srv->sessions, id, s) < 0) {
        free(s);
        free(addr);
        struct xmsg m = {.session = id, .kind = XM_CLOSE};
        server_emit(srv, &m);
        return;
    }
    s->id = id;
    s->srv = srv;
    s->transport = t;
    s->remote_addr = addr;
    s->opened_ms = now_ms();
    struct server *l = srv;
    s->pending_prev = l->pending_tail;
    if (l->pending_tail)
        l->pending_tail->pending_next = s;
    else
        l->pending_head = s;
    l->pending_tail = s;
    s->pending_linked = true;
    log_msg(CHATD_LOG_DEBUG, "session", id, "opened from %s over %s", addr ? addr : "?",
            t == TRANSPORT_WS ? "websocket" : "tcp");
    if (srv->stopping)
        session_error(s, NULL, "server shutting down", NULL);
}

void session_frame(struct server *srv, uint64_t id, struct stomp_frame *f)
{
    struct session *s = idmap_get(&srv->sessions, id);
    if (!s || s->state == SESSION_CLOSING) {
        stomp_frame_free(f);
        return;
    }
    if (s->state == SESSION_NEW && f->command != STOMP_CMD_CONNECT && f->command != STOMP_CMD_STOMP) {
        session_error(s, stomp_frame_header(f, "receipt"), "not connected",
                      "The first frame must be CONNECT or STOMP.");
        stomp_frame_free(f);
        return;
    }
    if (s->state == SESSION_AUTH) {
        if (s->nheld == HELD_FRAMES_MAX) {
            session_error(s, NULL, "too many frames before CONNECTED", NULL);
            stomp_frame_free(f);
            return;
        }
        s->held[s->nheld++] = f;
        return;
    }
    session_dispatch(s, f);
}

void session_closed(struct server *srv, uint64_t id)
{
    struct session *s = idmap_del(&srv->sessions, id);
    if (!s)
        return;
    log_msg(CHATD_LOG_DEBUG, "session", id, "closed");
    session_destroy(s);
    if (srv->stopping && srv->sessions.count == 0)
        event_base_loopexit(srv->base, NULL);
}

void session_close_all(struct server *srv)
{
    size_t pos = 0;
    uint64_t id;
    void *v;
    while (idmap_next(&srv->sessions, &pos, &id, &v)) {
        struct session *s = v;
        session_unsubscribe_all(s);
        session_error(s, NULL, "server shutting down", NULL);
    }
}

void session_expire_pending(struct server *srv)
{
    struct server *l = srv;
    int64_t deadline = now_ms() - srv->settings.connect_timeout_ms;
    while (l->pending_head && l->pending_head->opened_ms <= deadline) {
        struct session *s = l->pending_head;
        pending_unlink(s);
        if (s->state == SESSION_NEW || s->state == SESSION_AUTH)
            session_error(s, NULL, "timed out waiting for CONNECT", NULL);
    }
}

void session_free_all(struct server *srv)
{
    size_t pos = 0;
    uint64_t id;
    void *v;
    while (idmap_next(&srv->sessions, &pos, &id, &v))
        session_destroy(v);
    idmap_free(&srv->sessions);
}
