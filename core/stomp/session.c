#include "stomp/session.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/auth_port.h"
#include "clock.h"
#include "rooms/presence.h"
#include "stomp/acl.h"
#include "stomp/destinations.h"
#include "log.h"
#include "stomp/room_subscriptions.h"
#include "stomp/rooms_stomp.h"
#include "stomp/router.h"
#include "server.h"
#include "net/stomp_frame.h"
#include "visitor_token.h"

enum session_state {
    SESSION_NEW,          /* waiting for CONNECT */
    SESSION_AUTH,         /* CONNECT handed to the auth plugin */
    SESSION_CONNECTED,
    SESSION_CLOSING,      /* ERROR or DISCONNECT sent; waiting for the close */
};

/* Frames a client pipelines behind its CONNECT are held until auth answers. */
#define HELD_FRAMES_MAX 32

/* Room operations (storage round trips) one session may have in flight.
 * Beyond it the session's frames wait here, in order, and the gateway stops
 * reading its socket until they ran: a client pipelining thousands of SENDs
 * cannot fill the storage plugin's queue, which every session shares. */
#define SESSION_OPS_MAX 256

/* SEND, ACK and NACK frames between BEGIN and COMMIT, in arrival order.
 * Each runs at COMMIT with its own receipt, as it would have outside. */
struct transaction {
    char *id;
    struct stomp_frame **frames;
    size_t n, cap;
};

struct session {
    struct subscriber subscriber; /* what the router sees of it */
    uint64_t id;
    struct server *srv;
    enum transport transport;
    char *remote_addr;
    /* [server] tls_client_user: whom the client certificate names (handed
     * to authentication), or why it names nobody (CONNECT is refused). */
    char *tls_identity;
    const char *tls_problem;
    enum session_state state;
    int version;
    char *user;
    uint32_t roles;
    int64_t opened_ms;
    struct sub **subs;
    size_t nsubs, subs_cap;
    struct transaction *txs;
    size_t ntxs;
    struct stomp_frame **held; /* HELD_FRAMES_MAX of them, while auth answers */
    size_t nheld;
    /* Sessions not yet CONNECTED, oldest first, for the CONNECT timeout. */
    struct session *pending_prev, *pending_next;
    bool pending_linked;
    /* Identities that expire (tokens): closed at expires_ms unless a
     * refresh moved it. */
    int64_t expires_ms;
    struct event *expiry;
    /* ...and authenticated again every [stomp] token_recheck_interval with
     * what they presented last (CONNECT, or the last refresh), so that a
     * revoked token ends its sessions (docs/protocol.md). */
    char *cred_login, *cred_passcode, *cred_token;
    struct event *recheck;
    bool rechecking;
    /* A digest of the token it was opened (or last refreshed) with, so that
     * a logout of that token (POST /api/logout) ends it at once; 0: none. */
    uint64_t token_digest;
    /* SEND rate: a token bucket of max_sends_per_second, refilled per ms. */
    double send_tokens;
    int64_t send_refill_ms;
    /* Flow control: room operations in flight, and the frames waiting for
     * them (a FIFO from backlog_head); a DISCONNECT waits for ops == 0. */
    size_t ops;
    struct stomp_frame **backlog;
    size_t backlog_head, nbacklog, backlog_cap;
    struct event *backlog_ev; /* runs the backlog outside storage callbacks */
    bool rx_paused;           /* the gateway was told to stop reading */
    /* A COMMIT's RECEIPT waiting for the operations its frames started
     * (ops == 0); the session's next frames wait behind it. */
    char *commit_receipt;
    size_t rx_credit;         /* wire bytes taken this turn, for session_flush_credits */
};

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

uint64_t session_id(const struct session *s)
{
    return s->id;
}

struct server *session_server(const struct session *s)
{
    return s->srv;
}

const char *session_user(const struct session *s)
{
    return s->user;
}

uint32_t session_roles(const struct session *s)
{
    return s->roles;
}

struct session *session_lookup(struct server *srv, uint64_t id)
{
    struct session *s = idmap_get(&srv->sessions, id);
    return s && s->state == SESSION_CONNECTED ? s : NULL;
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

/* Every way out of SESSION_AUTH goes through here. */
static void auth_leave(struct session *s)
{
    if (s->state == SESSION_AUTH)
        s->srv->authenticating--;
}

static void session_close(struct session *s)
{
    struct xmsg m = {.session = s->id, .kind = XM_CLOSE};
    server_emit(s->srv, &m);
    auth_leave(s);
    s->state = SESSION_CLOSING;
    pending_unlink(s);
}

/* ERROR frame, then close: the only way the server reports a client error.
 * extra_name/extra_value: one more header, or NULL. */
static void session_error_with(struct session *s, const char *receipt, const char *message, const char *detail,
                               const char *extra_name, const char *extra_value)
{
    if (s->state == SESSION_CLOSING)
        return;
    int v = s->version ? s->version : STOMP_V1_2;
    struct stomp_buf b = {0};
    int rc = stomp_encode_command(&b, STOMP_CMD_ERROR);
    rc |= stomp_encode_header(&b, v, STOMP_CMD_ERROR, "message", message);
    if (receipt)
        rc |= stomp_encode_header(&b, v, STOMP_CMD_ERROR, "receipt-id", receipt);
    if (extra_name)
        rc |= stomp_encode_header(&b, v, STOMP_CMD_ERROR, extra_name, extra_value);
    rc |= stomp_encode_header(&b, v, STOMP_CMD_ERROR, "content-type", "text/plain");
    const char *body = detail ? detail : message;
    rc |= stomp_encode_body(&b, body, strlen(body), true);
    if (rc == 0)
        session_send_buf(s, &b);
    stomp_buf_free(&b);
    log_msg(CHATD_LOG_INFO, "session", s->id, "error sent: %s", message);
    session_close(s);
}

static void session_error(struct session *s, const char *receipt, const char *message, const char *detail)
{
    session_error_with(s, receipt, message, detail, NULL, NULL);
}

void session_fail(struct session *s, const char *message)
{
    session_error(s, NULL, message, NULL);
}

/* The session as a subscriber of the router. */
static struct session *subscriber_session(const struct subscriber *who)
{
    return (struct session *)((char *)who - offsetof(struct session, subscriber));
}

static int subscriber_version(const struct subscriber *who)
{
    return subscriber_session(who)->version;
}

static const char *subscriber_user(const struct subscriber *who)
{
    return subscriber_session(who)->user;
}

static void subscriber_deliver(struct subscriber *who, char *head, size_t head_len, struct rcbuf *shared)
{
    session_send(subscriber_session(who), head, head_len, shared);
}

static void subscriber_fail(struct subscriber *who, const char *message)
{
    session_fail(subscriber_session(who), message);
}

static const struct subscriber_ops session_subscriber = {
    .version = subscriber_version,
    .user = subscriber_user,
    .deliver = subscriber_deliver,
    .fail = subscriber_fail,
};

struct session *session_of_subscriber(struct subscriber *who)
{
    return subscriber_session(who);
}

void session_error_receipt(struct session *s, const char *receipt, const char *message, const char *detail)
{
    session_error(s, receipt, message, detail);
}

/* seq: the stored message's, or 0 for none. */
/* A RECEIPT, with `seq` when not 0 and one more header when name is set. */
static void receipt_frame_with(struct session *s, const char *receipt, uint64_t seq, const char *name,
                               const char *value)
{
    if (!receipt)
        return;
    struct stomp_buf b = {0};
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)seq);
    if (stomp_encode_command(&b, STOMP_CMD_RECEIPT) == 0 &&
        stomp_encode_header(&b, s->version, STOMP_CMD_RECEIPT, "receipt-id", receipt) == 0 &&
        (!seq || stomp_encode_header(&b, s->version, STOMP_CMD_RECEIPT, "seq", num) == 0) &&
        (!name || stomp_encode_header(&b, s->version, STOMP_CMD_RECEIPT, name, value) == 0) &&
        stomp_encode_body(&b, NULL, 0, false) == 0)
        session_send_buf(s, &b);
    stomp_buf_free(&b);
}

static void receipt_frame(struct session *s, const char *receipt, uint64_t seq)
{
    receipt_frame_with(s, receipt, seq, NULL, NULL);
}

static void session_receipt(struct session *s, const char *receipt)
{
    receipt_frame(s, receipt, 0);
}

void session_send_receipt_header(struct session *s, const char *receipt, const char *name, const char *value)
{
    receipt_frame_with(s, receipt, 0, name, value);
}

void session_send_receipt(struct session *s, const char *receipt)
{
    session_receipt(s, receipt);
}

void session_send_receipt_seq(struct session *s, const char *receipt, uint64_t seq)
{
    receipt_frame(s, receipt, seq);
}

/* A SUBSCRIBE's RECEIPT promises delivery from then on: it waits until
 * the broker confirmed the channel. */
struct live_receipt {
    struct server *srv;
    uint64_t session;
    char receipt[];
};

static void receipt_when_live(void *arg, enum router_live how)
{
    struct live_receipt *w = arg;
    struct session *s = how == ROUTER_GONE ? NULL : session_lookup(w->srv, w->session);
    if (s && how == ROUTER_LIVE)
        session_receipt(s, w->receipt);
    else if (s)
        session_error(s, w->receipt, "subscription failed", "The broker could not subscribe the destination.");
    free(w);
}

void session_receipt_when_live(struct session *s, struct sub *sub, const char *receipt)
{
    if (!receipt)
        return;
    size_t len = strlen(receipt) + 1;
    struct live_receipt *w = malloc(sizeof *w + len);
    if (!w) {
        session_receipt(s, receipt);
        return;
    }
    w->srv = s->srv;
    w->session = s->id;
    memcpy(w->receipt, receipt, len);
    router_when_live(s->srv->router, sub, receipt_when_live, w);
}

bool session_has_sub(const struct session *s, const struct sub *sub)
{
    for (size_t i = 0; i < s->nsubs; i++)
        if (s->subs[i] == sub)
            return true;
    return false;
}

static struct sub *find_sub(struct session *s, const char *id, size_t *index)
{
    for (size_t i = 0; i < s->nsubs; i++) {
        if (strcmp(router_sub_id(s->subs[i]), id) == 0) {
            if (index)
                *index = i;
            return s->subs[i];
        }
    }
    return NULL;
}

struct sub *session_subscribe(struct session *s, const char *id, const char *destination, unsigned alias,
                              enum ack_mode ack, const char **why, const char **detail)
{
    *detail = NULL;
    if (find_sub(s, id, NULL)) {
        *why = "duplicate subscription id";
        return NULL;
    }
    if (s->nsubs >= s->srv->settings.max_subscriptions) {
        *why = "too many subscriptions";
        return NULL;
    }
    if (s->nsubs == s->subs_cap) {
        size_t cap = s->subs_cap ? s->subs_cap * 2 : 4;
        struct sub **subs = realloc(s->subs, cap * sizeof *subs);
        if (!subs) {
            *why = "internal error";
            *detail = "out of memory";
            return NULL;
        }
        s->subs = subs;
        s->subs_cap = cap;
    }
    chatd_status st;
    struct sub *sub = router_subscribe(s->srv->router, &s->subscriber, id, destination, alias, ack, &st);
    if (!sub) {
        *why = "subscription failed";
        *detail = chatd_strerror(st);
        return NULL;
    }
    s->subs[s->nsubs++] = sub;
    return sub;
}

static void session_unsubscribe_all(struct session *s)
{
    for (size_t i = 0; i < s->nsubs; i++)
        router_unsubscribe(s->srv->router, s->subs[i]);
    s->nsubs = 0;
}

static void transaction_free(struct transaction *t)
{
    for (size_t i = 0; i < t->n; i++)
        stomp_frame_free(t->frames[i]);
    free(t->frames);
    free(t->id);
}

/* ABORT: the frames are dropped. Each that asked for a receipt is answered
 * now, in order: it is settled (it will never take effect), and a client
 * waiting for its RECEIPT is not left waiting for ever. */
static void transaction_drop(struct session *s, struct transaction *t, bool answer)
{
    for (size_t i = 0; answer && i < t->n; i++)
        session_receipt(s, stomp_frame_header(t->frames[i], "receipt"));
    transaction_free(t);
}

/* Transactions still open when the session ends are aborted; `answer`
 * (DISCONNECT) sends their frames' receipts as ABORT does. */
static void session_abort_all(struct session *s, bool answer)
{
    for (size_t i = 0; i < s->ntxs; i++)
        transaction_drop(s, &s->txs[i], answer);
    free(s->txs);
    s->txs = NULL;
    s->ntxs = 0;
}

static void session_destroy(struct session *s)
{
    auth_leave(s);
    if (s->expiry)
        event_free(s->expiry);
    if (s->recheck)
        event_free(s->recheck);
    free(s->cred_login);
    free(s->cred_passcode);
    free(s->cred_token);
    if (s->backlog_ev)
        event_free(s->backlog_ev);
    for (size_t i = s->backlog_head; i < s->nbacklog; i++)
        stomp_frame_free(s->backlog[i]);
    free(s->backlog);
    if (s->user)
        presence_user(s->srv->presence, s->user, -1);
    if (s->user && (s->roles & CHATD_ROLE_AGENT))
        presence_agent(s->srv->presence, s->user, -1);
    pending_unlink(s);
    session_abort_all(s, false);
    session_unsubscribe_all(s);
    free(s->commit_receipt);
    for (size_t i = 0; i < s->nheld; i++)
        stomp_frame_free(s->held[i]);
    free(s->held);
    free(s->subs);
    free(s->user);
    free(s->remote_addr);
    free(s->tls_identity);
    free(s);
}

/* ------------------------------------------------------------ CONNECT */

struct auth_wait {
    struct server *srv;
    uint64_t session;
    char *receipt;
    long long hb_client_send, hb_client_receive; /* the CONNECT's heart-beat: cx, cy */
    char *login, *passcode, *token; /* the credentials, kept by a session that is checked again */
};

static void auth_wait_free(struct auth_wait *w)
{
    free(w->receipt);
    free(w->login);
    free(w->passcode);
    free(w->token);
    free(w);
}

static void session_dispatch(struct session *s, struct stomp_frame *f);
static void session_take_frame(struct session *s, struct stomp_frame *f);

static void session_expired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct session *s = arg;
    session_error(s, NULL, "token expired", "Send a new token to /app/session/refresh before the old one expires.");
}

/* ------------------------------------------- checking a token again */

struct recheck_wait {
    struct server *srv;
    uint64_t session;
};

static void recheck_arm(struct session *s, bool first);

/* Only a refusal ends the session: while the auth backend is unavailable
 * (a revocation list's Redis down) it runs on and is checked next time. */
static void recheck_done(void *ctx, chatd_status st, const struct chatd_identity *who, const char *reason)
{
    struct recheck_wait *w = ctx;
    struct session *s = idmap_get(&w->srv->sessions, w->session);
    free(w);
    if (!s || s->state != SESSION_CONNECTED)
        return;
    s->rechecking = false;
    if (st == CHATD_ERR_DENIED || (st == CHATD_OK && (!who || !who->user || strcmp(who->user, s->user) != 0))) {
        const char *why = st == CHATD_ERR_DENIED && reason ? reason : "token no longer accepted";
        log_msg(CHATD_LOG_INFO, "session", s->id, "ended: its token is no longer accepted (%s)", why);
        session_error(s, NULL, why, "The token this session was opened with is no longer accepted.");
        return;
    }
    if (st != CHATD_OK)
        log_msg(CHATD_LOG_DEBUG, "session", s->id, "token not checked again: %s (%s)", chatd_strerror(st),
                reason ? reason : "");
    else
        log_msg(CHATD_LOG_DEBUG, "session", s->id, "token checked again: still accepted");
    recheck_arm(s, false);
}

static void session_recheck(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct session *s = arg;
    struct recheck_wait *w = malloc(sizeof *w);
    if (s->rechecking || !w) {
        free(w);
        recheck_arm(s, false);
        return;
    }
    w->srv = s->srv;
    w->session = s->id;
    s->rechecking = true;
    struct chatd_credentials cred = {.login = s->cred_login, .passcode = s->cred_passcode, .token = s->cred_token,
                                     .remote_addr = s->remote_addr, .tls_identity = s->tls_identity};
    auth_authenticate(s->srv->auth, &s->srv->settings.visitors, &cred, recheck_done, w);
}

/* The next check: the first one at a random point of the interval, so that
 * sessions opened together (a reconnect storm) do not all come back at
 * once. */
static void recheck_arm(struct session *s, bool first)
{
    long long every = s->srv->settings.token_recheck_ms;
    if (!every || !s->expires_ms)
        return;
    if (!s->recheck && !(s->recheck = evtimer_new(s->srv->base, session_recheck, s)))
        return;
    long long ms = first ? every / 2 + (long long)((uint64_t)random() % (uint64_t)(every / 2 + 1)) : every;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(s->recheck, &tv);
}

/* FNV-1a: a logout compares a digest with the sessions of one user only,
 * so 64 bits leave no collision worth a thought; 0 stands for none. */
static uint64_t token_digest(const char *token)
{
    if (!token || !*token)
        return 0;
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)token; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h ? h : 1;
}

size_t session_end_token(struct server *srv, const char *user, const char *token, const char *message,
                         const char *detail)
{
    uint64_t digest = token_digest(token);
    size_t ended = 0, pos = 0;
    uint64_t id;
    void *v;
    if (!digest)
        return 0;
    /* session_error only asks the gateway to close: the map stays as it is. */
    while (idmap_next(&srv->sessions, &pos, &id, &v)) {
        struct session *s = v;
        /* A CONNECT with the token still being verified may have been
         * looked up before the revocation was written: it ends too. */
        bool match = s->token_digest == digest &&
                     (s->state == SESSION_AUTH || (s->state == SESSION_CONNECTED && strcmp(s->user, user) == 0));
        if (!match)
            continue;
        log_msg(CHATD_LOG_INFO, "session", s->id, "ended: %s", message);
        session_error(s, NULL, message, detail);
        ended++;
    }
    return ended;
}

/* Keeps what the client presented, for the checks (a session whose
 * identity does not expire is never checked again: no token). */
static void recheck_keep(struct session *s, char **login, char **passcode, char **token)
{
    if (!s->srv->settings.token_recheck_ms || !s->expires_ms)
        return;
    free(s->cred_login);
    free(s->cred_passcode);
    free(s->cred_token);
    s->cred_login = *login;
    s->cred_passcode = *passcode;
    s->cred_token = *token;
    *login = *passcode = *token = NULL;
}

/* Arm (or move) the close at expires_ms; 0 means never. */
static void session_set_expiry(struct session *s, int64_t expires_ms)
{
    s->expires_ms = expires_ms;
    if (!expires_ms) {
        if (s->expiry)
            event_del(s->expiry);
        return;
    }
    if (!s->expiry && !(s->expiry = evtimer_new(s->srv->base, session_expired, s)))
        return;
    int64_t left = expires_ms - clock_wall_ms();
    if (left < 0)
        left = 0;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000)};
    evtimer_add(s->expiry, &tv);
}

/* STOMP heart-beating: the server sends every max(cy, what it offers) and
 * expects the client every max(cx, what it wants), each only when both
 * sides are willing. */
static void session_heartbeat(struct session *s, const struct auth_wait *w, char *out, size_t outlen)
{
    const struct settings *st = &s->srv->settings;
    long long send = st->heartbeat_send_ms && w->hb_client_receive
                         ? (w->hb_client_receive > st->heartbeat_send_ms ? w->hb_client_receive : st->heartbeat_send_ms)
                         : 0;
    long long receive = st->heartbeat_receive_ms && w->hb_client_send
                            ? (w->hb_client_send > st->heartbeat_receive_ms ? w->hb_client_send : st->heartbeat_receive_ms)
                            : 0;
    snprintf(out, outlen, "%lld,%lld", st->heartbeat_send_ms, st->heartbeat_receive_ms);
    if (!send && !receive)
        return;
    struct xmsg m = {.session = s->id, .kind = XM_HEARTBEAT};
    m.u.heartbeat.send_ms = (uint32_t)send;
    m.u.heartbeat.receive_ms = (uint32_t)receive;
    server_emit(s->srv, &m);
}

static void session_connected(struct session *s, const struct chatd_identity *who, struct auth_wait *w)
{
    const char *receipt = w->receipt;
    auth_leave(s);
    s->state = SESSION_CONNECTED;
    s->user = strdup(who->user);
    s->roles = who->roles;
    pending_unlink(s);
    if (!s->user) {
        session_error(s, receipt, "internal error", "out of memory");
        return;
    }
    presence_user(s->srv->presence, s->user, +1);
    if (s->roles & CHATD_ROLE_AGENT)
        presence_agent(s->srv->presence, s->user, +1);
    session_set_expiry(s, who->expires_ms);
    s->token_digest = token_digest(w->token ? w->token : w->passcode);
    recheck_keep(s, &w->login, &w->passcode, &w->token);
    recheck_arm(s, true);
    char version[24], session_id[24];
    snprintf(version, sizeof version, "%d.%d", s->version / 10, s->version % 10);
    snprintf(session_id, sizeof session_id, "%llu", (unsigned long long)s->id);
    struct stomp_buf b = {0};
    int rc = stomp_encode_command(&b, STOMP_CMD_CONNECTED);
    rc |= stomp_encode_header(&b, s->version, STOMP_CMD_CONNECTED, "version", version);
    char heartbeat[48];
    session_heartbeat(s, w, heartbeat, sizeof heartbeat);
    rc |= stomp_encode_header(&b, s->version, STOMP_CMD_CONNECTED, "heart-beat", heartbeat);
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
    struct stomp_frame **held = s->held;
    size_t n = s->nheld;
    s->held = NULL;
    s->nheld = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->state == SESSION_CONNECTED)
            session_take_frame(s, held[i]);
        else
            stomp_frame_free(held[i]);
    }
    free(held);
}

/* The auth plugin's backlog is full (a reconnect storm): a refusal the
 * client may retry, with a retry-after (seconds) drawn from
 * [busy_retry_after, 2 x busy_retry_after] so that clients which follow it
 * to the letter do not come back together. */
static void session_busy(struct session *s, const char *receipt)
{
    long long after = settings_busy_retry_after_s(&s->srv->settings);
    char value[24], detail[160];
    snprintf(value, sizeof value, "%lld", after);
    snprintf(detail, sizeof detail,
             "Too many sign-ins are being verified right now. Connect again in %lld s, with some random delay.",
             after);
    log_msg(CHATD_LOG_DEBUG, "session", s->id, "authentication shed: the auth plugin's backlog is full");
    session_error_with(s, receipt, "server busy, retry", detail, "retry-after", value);
}

static void auth_done(void *ctx, chatd_status st, const struct chatd_identity *who, const char *reason)
{
    struct auth_wait *w = ctx;
    struct session *s = idmap_get(&w->srv->sessions, w->session);
    if (s && s->state == SESSION_AUTH) {
        if (st == CHATD_OK && who && who->user && *who->user) {
            session_connected(s, who, w);
        } else if (st == CHATD_ERR_DENIED) {
            log_msg(CHATD_LOG_INFO, "session", s->id, "authentication refused: %s",
                    reason ? reason : "denied");
            session_error(s, w->receipt, reason ? reason : "access denied", NULL);
        } else if (st == CHATD_ERR_LIMIT) {
            session_busy(s, w->receipt);
        } else {
            log_msg(CHATD_LOG_WARN, "session", s->id, "authentication failed: %s (%s)",
                    chatd_strerror(st), reason ? reason : "");
            session_error(s, w->receipt, "authentication unavailable", chatd_strerror(st));
        }
    }
    auth_wait_free(w);
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

    if (s->tls_problem) {
        session_error(s, receipt, s->tls_problem,
                      "[server] tls_client_user names the field of a client certificate that names its user.");
        return;
    }
    struct chatd_credentials cred = {
        .login = stomp_frame_header(f, "login"),
        .passcode = stomp_frame_header(f, "passcode"),
        .remote_addr = s->remote_addr,
        .tls_identity = s->tls_identity,
    };
    const char *authz = stomp_frame_header(f, "Authorization");
    if (!authz)
        authz = stomp_frame_header(f, "authorization");
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0)
        cred.token = authz + 7;

    long long cx = 0, cy = 0;
    const char *hb = stomp_frame_header(f, "heart-beat");
    if (hb) {
        char *end;
        cx = strtoll(hb, &end, 10);
        if (end == hb || *end != ',' || cx < 0 || (cy = strtoll(end + 1, &end, 10)) < 0 || *end ||
            end == hb || cx > 86400000 || cy > 86400000) {
            session_error(s, receipt, "invalid heart-beat header", "Expected heart-beat:CX,CY with two non-negative integers (ms).");
            return;
        }
    }
    struct auth_wait *w = calloc(1, sizeof *w);
    if (!w || (receipt && !(w->receipt = strdup(receipt))) || (cred.login && !(w->login = strdup(cred.login))) ||
        (cred.passcode && !(w->passcode = strdup(cred.passcode))) || (cred.token && !(w->token = strdup(cred.token)))) {
        if (w)
            auth_wait_free(w);
        session_error(s, receipt, "internal error", "out of memory");
        return;
    }
    w->hb_client_send = cx;
    w->hb_client_receive = cy;
    w->srv = s->srv;
    w->session = s->id;
    /* connect_timeout bounds the client's time to send CONNECT, not the
     * server's to verify it: under a reconnect storm the verification
     * queue is ours, and the auth plugin sheds load with a retryable
     * ERROR (CHATD_ERR_LIMIT) rather than letting the client time out. */
    pending_unlink(s);
    s->state = SESSION_AUTH;
    s->srv->authenticating++;
    s->token_digest = token_digest(cred.token ? cred.token : cred.passcode);
    auth_authenticate(s->srv->auth, &s->srv->settings.visitors, &cred, auth_done, w);
}

/* ------------------------------------------------------ other frames */

/* A destination as the client wrote it, in canonical form (a new string)
 * with the prefix it used in *as; NULL when the client got its ERROR (no
 * configured prefix begins it: unknown destination). */
static char *session_canonical(struct session *s, const char *dest, const char *receipt, struct dest_alias *as)
{
    bool nomem;
    char *canonical = destination_canonical(&s->srv->settings.prefixes, dest, as, &nomem);
    if (!canonical)
        session_error(s, receipt, nomem ? "internal error" : "unknown destination", nomem ? "out of memory" : dest);
    return canonical;
}

/* Map a client's generic destination (canonical) to the router's (see
 * destinations.h) and check it is allowed. NULL with *error set ("unknown destination",
 * "destination not allowed"). */
static char *resolve_destination(struct session *s, const char *dest, enum acl_action action,
                                 const char **error)
{
    if (destination_route(dest, action) != DEST_GENERIC) {
        *error = "unknown destination";
        return NULL;
    }
    /* A visitor chatd issued has its support room and nothing else. */
    if ((s->roles & ROLE_VISITOR) || !acl_allows(&s->srv->settings.acl, action, dest, s->roles)) {
        *error = "destination not allowed";
        return NULL;
    }
    char *resolved = destination_resolve(dest, action, s->user);
    if (!resolved)
        *error = "internal error";
    return resolved;
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
    struct dest_alias as;
    char *canonical = session_canonical(s, dest, receipt, &as);
    if (!canonical)
        return;
    if (destination_route(canonical, ACL_SUBSCRIBE) == DEST_ROOMS) {
        rooms_subscribe(s, canonical, dest, as.index, id, mode, stomp_frame_header(f, "since-seq"),
                        stomp_frame_header(f, "since-rev"), receipt);
        free(canonical);
        return;
    }
    const char *why = NULL;
    char *resolved = resolve_destination(s, canonical, ACL_SUBSCRIBE, &why);
    free(canonical);
    if (!resolved) {
        session_error(s, receipt, why, dest);
        return;
    }
    const char *detail;
    struct sub *sub = session_subscribe(s, id, resolved, as.index, mode, &why, &detail);
    free(resolved);
    if (!sub) {
        session_error(s, receipt, why, detail);
        return;
    }
    session_receipt_when_live(s, sub, receipt);
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
    s->subs[i] = s->subs[--s->nsubs];
    router_unsubscribe(s->srv->router, sub);
    session_receipt(s, receipt);
}

/* SEND, ACK and NACK: at once, or at their transaction's COMMIT. */
struct refresh_wait {
    struct server *srv;
    uint64_t session;
    char *receipt;
    char *token; /* kept by the session for its checks once accepted */
};

static void refresh_done(void *ctx, chatd_status st, const struct chatd_identity *who, const char *reason)
{
    struct refresh_wait *w = ctx;
    struct session *s = session_lookup(w->srv, w->session);
    if (s) {
        if (st != CHATD_OK || !who)
            session_error(s, w->receipt, reason ? reason : "refresh refused", "The new token was not accepted.");
        else if (strcmp(who->user, s->user) != 0)
            session_error(s, w->receipt, "token is for another user", "A refresh must name the same user.");
        else {
            s->roles = who->roles;
            session_set_expiry(s, who->expires_ms);
            s->token_digest = token_digest(w->token);
            char *none = NULL, *none2 = NULL;
            recheck_keep(s, &none, &none2, &w->token);
            recheck_arm(s, false);
            session_receipt(s, w->receipt);
        }
    }
    session_op_end(w->srv, w->session);
    free(w->receipt);
    free(w->token);
    free(w);
}

/* SEND /app/session/refresh: a new token (body, or Authorization header)
 * for the same user moves the session's expiry. */
static void on_refresh(struct session *s, struct stomp_frame *f, const char *receipt)
{
    const char *authz = stomp_frame_header(f, "Authorization");
    struct chatd_credentials cred = {.remote_addr = s->remote_addr, .tls_identity = s->tls_identity};
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0)
        cred.token = authz + 7;
    else if (f->body_len && !memchr(f->body, '\0', f->body_len))
        cred.token = f->body;
    struct refresh_wait *w = calloc(1, sizeof *w);
    if (!cred.token || !w || (receipt && !(w->receipt = strdup(receipt))) || !(w->token = strdup(cred.token))) {
        if (w)
            free(w->receipt);
        free(w);
        session_error(s, receipt, cred.token ? "internal error" : "missing token",
                      "Send the new token as the body or an Authorization: Bearer header.");
        return;
    }
    w->srv = s->srv;
    w->session = s->id;
    session_op_begin(s); /* a later DISCONNECT or COMMIT receipt waits for it */
    auth_authenticate(s->srv->auth, &s->srv->settings.visitors, &cred, refresh_done, w);
}

/* The ERROR names the destinations as this client writes them. */
static void refuse_server_only(struct session *s, const char *receipt, const struct dest_alias *as)
{
    const struct dest_prefixes *p = &s->srv->settings.prefixes;
    const char *topic = p->alias[PREFIX_TOPIC][as->kind == PREFIX_TOPIC ? as->index : 0];
    char detail[512];
    snprintf(detail, sizeof detail,
             "Only the server publishes on room topics, %s/support/queue and users' /queue/notifications and /queue/presence. Post "
             "to a room with SEND %s/rooms/{room}/send.",
             topic, p->alias[PREFIX_APP][0]);
    session_error(s, receipt, "destination is server-only", detail);
}

static void do_send(struct session *s, struct stomp_frame *f, const char *receipt)
{
    const char *dest = stomp_frame_header(f, "destination");
    if (!dest || !*dest) {
        session_error(s, receipt, "missing destination header", NULL);
        return;
    }
    struct dest_alias as;
    char *canonical = session_canonical(s, dest, receipt, &as);
    if (!canonical)
        return;
    enum dest_route route = destination_route(canonical, ACL_SEND);
    if (strcmp(canonical, "/app/session/refresh") == 0)
        on_refresh(s, f, receipt);
    else if (route == DEST_APP)
        rooms_app_send(s, canonical, dest, f, receipt);
    else if (route == DEST_SERVER_ONLY) /* whatever the allow rules say: what arrives there is the server's */
        refuse_server_only(s, receipt, &as);
    if (route == DEST_APP || route == DEST_SERVER_ONLY) {
        free(canonical);
        return;
    }
    const char *why = NULL;
    char *resolved = resolve_destination(s, canonical, ACL_SEND, &why);
    free(canonical);
    if (!resolved) {
        session_error(s, receipt, why, dest);
        return;
    }
    chatd_status st = router_publish(s->srv->router, resolved, s->user, f, s->id);
    free(resolved);
    if (st == CHATD_ERR_LIMIT) {
        session_error(s, receipt, "queue full", dest);
        return;
    }
    if (st != CHATD_OK) {
        session_error(s, receipt, "message not accepted", chatd_strerror(st));
        return;
    }
    session_receipt(s, receipt);
}

static void do_ack(struct session *s, struct stomp_frame *f, const char *receipt, bool nack)
{
    chatd_status st = router_ack(s->srv->router, s->subs, s->nsubs, s->version, f, nack);
    if (st == CHATD_ERR_INVALID) {
        session_error(s, receipt, s->version >= STOMP_V1_2 ? "missing id header" : "missing message-id header",
                      NULL);
        return;
    }
    if (st != CHATD_OK) {
        session_error(s, receipt, "unknown message to acknowledge",
                      "No unacknowledged message of this session has that id.");
        return;
    }
    session_receipt(s, receipt);
}

static struct transaction *find_tx(struct session *s, const char *id, size_t *index)
{
    for (size_t i = 0; id && i < s->ntxs; i++) {
        if (strcmp(s->txs[i].id, id) == 0) {
            if (index)
                *index = i;
            return &s->txs[i];
        }
    }
    return NULL;
}

static void on_begin(struct session *s, struct stomp_frame *f)
{
    const char *receipt = stomp_frame_header(f, "receipt");
    const char *id = stomp_frame_header(f, "transaction");
    if (!id || !*id) {
        session_error(s, receipt, "missing transaction header", NULL);
        return;
    }
    if (find_tx(s, id, NULL)) {
        session_error(s, receipt, "transaction already begun", id);
        return;
    }
    if (s->ntxs >= s->srv->settings.max_transactions) {
        session_error(s, receipt, "too many transactions", NULL);
        return;
    }
    struct transaction *v = realloc(s->txs, (s->ntxs + 1) * sizeof *v);
    if (!v) {
        session_error(s, receipt, "internal error", "out of memory");
        return;
    }
    s->txs = v;
    s->txs[s->ntxs] = (struct transaction){.id = strdup(id)};
    if (!s->txs[s->ntxs].id) {
        session_error(s, receipt, "internal error", "out of memory");
        return;
    }
    s->ntxs++;
    session_receipt(s, receipt);
}

/* COMMIT (run) or ABORT (drop) a transaction. At COMMIT each frame runs
 * as it would have outside one, its own RECEIPT included (a room message's
 * once stored); the COMMIT's RECEIPT follows when every operation they
 * started is done. A frame that fails ends the session with its ERROR. */
static void on_end_transaction(struct session *s, struct stomp_frame *f, bool commit)
{
    const char *receipt = stomp_frame_header(f, "receipt");
    const char *id = stomp_frame_header(f, "transaction");
    size_t i;
    struct transaction *t = find_tx(s, id, &i);
    if (!t) {
        session_error(s, receipt, id ? "unknown transaction" : "missing transaction header", id);
        return;
    }
    struct transaction tx = *t;
    s->txs[i] = s->txs[--s->ntxs];
    if (!commit) {
        transaction_drop(s, &tx, true);
        session_receipt(s, receipt);
        return;
    }
    for (size_t k = 0; k < tx.n && s->state == SESSION_CONNECTED; k++) {
        struct stomp_frame *g = tx.frames[k];
        const char *r = stomp_frame_header(g, "receipt");
        if (g->command == STOMP_CMD_SEND)
            do_send(s, g, r);
        else
            do_ack(s, g, r, g->command == STOMP_CMD_NACK);
    }
    transaction_free(&tx);
    if (s->state != SESSION_CONNECTED || !receipt)
        return;
    if (!s->ops) {
        session_receipt(s, receipt);
        return;
    }
    if (!(s->commit_receipt = strdup(receipt)))
        session_error(s, receipt, "internal error", "out of memory");
}

/* A SEND/ACK/NACK naming a transaction is kept for its COMMIT. True when
 * the frame was taken (or refused); the caller then does not run it. */
static bool transaction_take(struct session *s, struct stomp_frame *f)
{
    const char *id = stomp_frame_header(f, "transaction");
    if (!id)
        return false;
    const char *receipt = stomp_frame_header(f, "receipt");
    struct transaction *t = find_tx(s, id, NULL);
    if (!t) {
        session_error(s, receipt, "unknown transaction", id);
        stomp_frame_free(f);
        return true;
    }
    if (t->n >= s->srv->settings.max_transaction_frames) {
        session_error(s, receipt, "transaction too large", id);
        stomp_frame_free(f);
        return true;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct stomp_frame **v = realloc(t->frames, cap * sizeof *v);
        if (!v) {
            session_error(s, receipt, "internal error", "out of memory");
            stomp_frame_free(f);
            return true;
        }
        t->frames = v;
        t->cap = cap;
    }
    t->frames[t->n++] = f; /* its RECEIPT comes when COMMIT ran it, or at ABORT */
    return true;
}

static void on_disconnect(struct session *s, struct stomp_frame *f)
{
    session_abort_all(s, true);
    session_unsubscribe_all(s);
    session_receipt(s, stomp_frame_header(f, "receipt"));
    session_close(s);
}

/* A burst of up to one second's worth, then the configured rate. */
static bool send_allowed(struct session *s)
{
    size_t rate = s->srv->settings.max_sends_per_second;
    if (!rate)
        return true;
    int64_t now = clock_mono_ms();
    if (!s->send_refill_ms)
        s->send_tokens = (double)rate;
    else
        s->send_tokens += (double)(now - s->send_refill_ms) * (double)rate / 1000.0;
    if (s->send_tokens > (double)rate)
        s->send_tokens = (double)rate;
    s->send_refill_ms = now;
    if (s->send_tokens < 1.0)
        return false;
    s->send_tokens -= 1.0;
    return true;
}

/* The frame left the gateway's pipeline for good (carried out, or kept by
 * a transaction): its bytes go back to the gateway's flow control. */
static void session_credit(struct session *s, const struct stomp_frame *f)
{
    struct server *srv = s->srv;
    if (!f->wire_len)
        return;
    if (!s->rx_credit) {
        if (srv->ncredit == srv->credit_cap) {
            size_t cap = srv->credit_cap ? srv->credit_cap * 2 : 64;
            uint64_t *v = realloc(srv->credit_ids, cap * sizeof *v);
            if (!v) {
                struct xmsg m = {.session = s->id, .kind = XM_RX_CREDIT};
                m.u.credit = f->wire_len;
                server_emit(srv, &m);
                return;
            }
            srv->credit_ids = v;
            srv->credit_cap = cap;
        }
        srv->credit_ids[srv->ncredit++] = s->id;
        event_active(srv->flush_ev, 0, 0);
    }
    s->rx_credit += f->wire_len;
}

void session_flush_credits(struct server *srv)
{
    for (size_t i = 0; i < srv->ncredit; i++) {
        struct session *s = idmap_get(&srv->sessions, srv->credit_ids[i]);
        if (!s || !s->rx_credit)
            continue;
        struct xmsg m = {.session = s->id, .kind = XM_RX_CREDIT};
        m.u.credit = s->rx_credit;
        s->rx_credit = 0;
        server_emit(srv, &m);
    }
    srv->ncredit = 0;
}

static void session_dispatch(struct session *s, struct stomp_frame *f)
{
    session_credit(s, f);
    const char *receipt = stomp_frame_header(f, "receipt");
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
    case STOMP_CMD_ACK:
    case STOMP_CMD_NACK:
        if (f->command == STOMP_CMD_SEND && !send_allowed(s)) {
            session_error(s, receipt, "rate limit exceeded", "Too many SEND frames per second for this session.");
            break;
        }
        if (transaction_take(s, f))
            return; /* kept (or refused and freed) */
        if (f->command == STOMP_CMD_SEND)
            do_send(s, f, receipt);
        else
            do_ack(s, f, receipt, f->command == STOMP_CMD_NACK);
        break;
    case STOMP_CMD_BEGIN:
        on_begin(s, f);
        break;
    case STOMP_CMD_COMMIT:
    case STOMP_CMD_ABORT:
        on_end_transaction(s, f, f->command == STOMP_CMD_COMMIT);
        break;
    case STOMP_CMD_DISCONNECT:
        on_disconnect(s, f);
        break;
    default:
        session_error(s, receipt, "unexpected frame",
                      "Servers' frames (CONNECTED, MESSAGE, RECEIPT, ERROR) are not accepted from clients.");
        break;
    }
    stomp_frame_free(f);
}

/* ------------------------------------------------------- flow control */

static void session_rx_flow(struct session *s, bool pause)
{
    if (s->rx_paused == pause)
        return;
    s->rx_paused = pause;
    struct xmsg m = {.session = s->id, .kind = pause ? XM_RX_PAUSE : XM_RX_RESUME};
    server_emit(s->srv, &m);
}

/* A frame may run now unless earlier ones wait, the session has its fill of
 * room operations, a COMMIT's RECEIPT waits for them, or it is a DISCONNECT
 * whose RECEIPT must follow them. */
static bool frame_may_run(const struct session *s, const struct stomp_frame *f)
{
    return s->ops < SESSION_OPS_MAX && !s->commit_receipt &&
           (f->command != STOMP_CMD_DISCONNECT || s->ops == 0);
}

static void session_run_backlog(struct session *s)
{
    while (s->backlog_head < s->nbacklog && s->state == SESSION_CONNECTED &&
           frame_may_run(s, s->backlog[s->backlog_head])) {
        struct stomp_frame *f = s->backlog[s->backlog_head++];
        session_dispatch(s, f);
    }
    if (s->backlog_head == s->nbacklog) {
        s->backlog_head = s->nbacklog = 0;
        session_rx_flow(s, false);
    }
}

static void session_backlog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    session_run_backlog(arg);
}

static void session_take_frame(struct session *s, struct stomp_frame *f)
{
    if (s->nbacklog == s->backlog_head && frame_may_run(s, f)) {
        session_dispatch(s, f);
        return;
    }
    if (s->nbacklog == s->backlog_cap) {
        if (s->backlog_head) { /* reuse the consumed front */
            memmove(s->backlog, s->backlog + s->backlog_head, (s->nbacklog - s->backlog_head) * sizeof *s->backlog);
            s->nbacklog -= s->backlog_head;
            s->backlog_head = 0;
        } else {
            size_t cap = s->backlog_cap ? s->backlog_cap * 2 : 64;
            struct stomp_frame **b = realloc(s->backlog, cap * sizeof *b);
            if (!b) {
                stomp_frame_free(f);
                session_error(s, NULL, "internal error", "out of memory");
                return;
            }
            s->backlog = b;
            s->backlog_cap = cap;
        }
    }
    if (!s->backlog_ev && !(s->backlog_ev = event_new(s->srv->base, -1, 0, session_backlog_cb, s))) {
        stomp_frame_free(f);
        session_error(s, NULL, "internal error", "out of memory");
        return;
    }
    s->backlog[s->nbacklog++] = f;
    session_rx_flow(s, true);
}

void session_op_begin(struct session *s)
{
    s->ops++;
}

void session_op_end(struct server *srv, uint64_t id)
{
    struct session *s = idmap_get(&srv->sessions, id);
    if (!s || !s->ops)
        return;
    s->ops--;
    if (!s->ops && s->commit_receipt) {
        if (s->state == SESSION_CONNECTED)
            session_receipt(s, s->commit_receipt);
        free(s->commit_receipt);
        s->commit_receipt = NULL;
    }
    if (s->nbacklog > s->backlog_head)
        event_active(s->backlog_ev, 0, 0);
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
    s->subscriber.ops = &session_subscriber;
    s->id = id;
    s->srv = srv;
    s->transport = t;
    s->remote_addr = addr;
    s->opened_ms = clock_mono_ms();
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

void session_tls_peer(struct server *srv, uint64_t id, char *identity, const char *problem)
{
    struct session *s = idmap_get(&srv->sessions, id);
    if (!s || s->state != SESSION_NEW) {
        free(identity);
        return;
    }
    free(s->tls_identity);
    s->tls_identity = identity;
    s->tls_problem = problem;
    if (identity)
        log_msg(CHATD_LOG_DEBUG, "session", id, "client certificate names the user '%s'", identity);
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
        if (!s->held && !(s->held = malloc(HELD_FRAMES_MAX * sizeof *s->held))) {
            session_error(s, NULL, "out of memory", NULL);
            stomp_frame_free(f);
            return;
        }
        s->held[s->nheld++] = f;
        return;
    }
    session_take_frame(s, f);
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
        session_abort_all(s, false);
        session_unsubscribe_all(s);
        session_error(s, NULL, "server shutting down", NULL);
    }
}

void session_expire_pending(struct server *srv)
{
    struct server *l = srv;
    int64_t deadline = clock_mono_ms() - srv->settings.connect_timeout_ms;
    while (l->pending_head && l->pending_head->opened_ms <= deadline) {
        struct session *s = l->pending_head;
        pending_unlink(s);
        if (s->state == SESSION_NEW)
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

size_t session_pending_count(const struct server *srv)
{
    size_t n = srv->authenticating;
    for (struct session *s = srv->pending_head; s; s = s->pending_next)
        n++;
    return n;
}
