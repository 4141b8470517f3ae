/* The rooms over STOMP: SENDs to /app/rooms/{room}/send|read|typing|edit|delete|react|unreact|transfer|rate|notes and
 * /app/presence read
 * into calls of the rooms domain (rooms/), their answers written as
 * RECEIPTs and ERRORs. docs/protocol.md, "Rooms". */
#include "stomp/rooms_stomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "log.h"
#include "net/stomp_frame.h"
#include "rooms/files.h"
#include "rooms/message_edits.h"
#include "rooms/messages.h"
#include "rooms/notes.h"
#include "rooms/reactions.h"
#include "rooms/read_marks.h"
#include "rooms/room_rules.h"
#include "rooms/rooms.h"
#include "rooms/rating.h"
#include "rooms/support.h"
#include "rooms/transfer.h"
#include "rooms/typing.h"
#include "rooms/user_presence.h"
#include "server.h"
#include "stomp/destinations.h"
#include "stomp/send_order.h"
#include "stomp/session.h"
#include "wire/file_json.h"
#include "wire/query.h"

/* One STOMP operation waiting for the domain; the session may be gone when
 * the answer comes, so it is found again by id. */
struct stomp_op {
    struct server *srv;
    uint64_t session;
    char room[ROOM_ID_MAX];
    char *receipt;
    char trace[48];      /* SEND: follows the message into logs and its MESSAGE frames */
    int64_t started_ms;  /* SEND: when it arrived, for the store latency */
    struct message_send *send;  /* SEND: the message on its way (rooms/messages.h) */
    struct send_ticket *ticket; /* SEND: its place in the session's line (send_order.h) */
    uint64_t seq;               /* SEND: where it was stored, for its RECEIPT */
};

static void stomp_op_free(struct stomp_op *op)
{
    if (op->ticket)
        send_order_leave(op->ticket);
    session_op_end(op->srv, op->session);
    message_send_free(op->send);
    free(op->receipt);
    free(op);
}

bool rooms_stomp_refused(struct session *s, const char *receipt, const char *room, const struct room_answer *a)
{
    switch (a->status) {
    case ROOM_OK:
    case ROOM_EXISTS:
        return false;
    case ROOM_NOT_FOUND:
        session_error_receipt(s, receipt, "no such room", room);
        break;
    case ROOM_CONFLICT:
        session_error_receipt(s, receipt, "room is closed to new messages", a->why);
        break;
    case ROOM_NOMEM:
        session_error_receipt(s, receipt, "internal error", "out of memory");
        break;
    default:
        session_error_receipt(s, receipt, "storage unavailable", a->why);
    }
    return true;
}

/* The session of op, still connected, and a not refused; otherwise the
 * client got its ERROR (if still there), op is freed and NULL returned. */
static struct session *answered_session(struct stomp_op *op, const struct room_answer *a)
{
    struct session *s = session_lookup(op->srv, op->session);
    if (s && !rooms_stomp_refused(s, op->receipt, op->room, a))
        return s;
    stomp_op_free(op);
    return NULL;
}

static void typed_cb(void *ctx, const struct room_answer *a)
{
    struct stomp_op *op = ctx;
    struct session *s = answered_session(op, a);
    if (!s)
        return;
    session_send_receipt(s, op->receipt);
    stomp_op_free(op);
}

/* A read mark is stored: only now the RECEIPT (the `read` event went
 * first), so a client that got the receipt finds its unread count updated. */
static void read_marked_cb(void *ctx, const struct room_answer *a, uint64_t seq)
{
    (void)seq;
    typed_cb(ctx, a);
}

static void send_append(void *arg);
static void send_stored_cb(void *ctx, const struct room_answer *a, const struct chatd_message *m);
static void send_publish(void *arg);

static void send_admitted_cb(void *ctx, const struct room_answer *a)
{
    struct stomp_op *op = ctx;
    if (a->status == ROOM_BAD_REQUEST) { /* the only one: reply-to names no message */
        struct session *s = session_lookup(op->srv, op->session);
        if (s)
            session_error_receipt(s, op->receipt, "invalid reply-to", a->why);
        stomp_op_free(op);
        return;
    }
    if (answered_session(op, a))
        send_order_append(op->ticket, send_append, op);
}

/* The SEND's turn: every earlier SEND of its session called its append (or
 * failed), so storage gets them in the order the client sent them. */
static void send_append(void *arg)
{
    struct stomp_op *op = arg;
    if (!session_lookup(op->srv, op->session)) { /* gone, or closed by an ERROR for an earlier frame */
        stomp_op_free(op);
        return;
    }
    message_send_append(op->send, send_stored_cb, op);
}

static void send_stored_cb(void *ctx, const struct room_answer *a, const struct chatd_message *m)
{
    struct stomp_op *op = ctx;
    struct server *srv = op->srv;
    if (a->status == ROOM_OK) {
        op->seq = m->seq;
        int64_t ms = clock_wall_ms() - op->started_ms;
        metrics_observe(srv->metrics.store_latency, &srv->metrics.store_latency_sum, ms);
        srv->metrics.messages_stored++;
        log_msg(CHATD_LOG_DEBUG, "rooms", op->session, "stored room %s seq %llu as %s in %lld ms, trace %s", op->room,
                (unsigned long long)m->seq, m->id, (long long)ms, op->trace);
        send_order_publish(op->ticket, send_publish, op);
        return;
    }
    struct session *s = session_lookup(srv, op->session);
    if (s) {
        if (a->status == ROOM_EXISTS)
            session_send_receipt_seq(s, op->receipt, m ? m->seq : 0);
        else if (a->status == ROOM_NOT_FOUND)
            session_error_receipt(s, op->receipt, "no such room", op->room);
        else
            session_error_receipt(s, op->receipt, "message not stored", a->why);
    }
    if (a->status != ROOM_EXISTS && a->status != ROOM_NOT_FOUND) {
        srv->metrics.storage_errors++;
        log_msg(CHATD_LOG_WARN, "rooms", op->session, "message to room %s not stored: %s, trace %s", op->room, a->why,
                op->trace);
    }
    stomp_op_free(op);
}

static void send_published_cb(void *ctx, const struct room_answer *a)
{
    (void)a; /* the message is stored: its RECEIPT is due */
    struct stomp_op *op = ctx;
    struct session *s = session_lookup(op->srv, op->session);
    if (s)
        session_send_receipt_seq(s, op->receipt, op->seq);
    stomp_op_free(op);
}

/* Stored, and every earlier message of the session published: now the fast
 * path, in the session's send order; the RECEIPT once the domain is done. */
static void send_publish(void *arg)
{
    struct stomp_op *op = arg;
    op->ticket = NULL; /* gone with this call */
    message_send_publish(op->send, send_published_cb, op);
}

/* The client's trace-id when it is a sane one (up to 40 of [A-Za-z0-9._:-]),
 * else a new one unique to this instance. */
static void trace_id(struct server *srv, const char *given, char *out, size_t outlen)
{
    size_t n = given ? strlen(given) : 0;
    if (n && n <= 40 && strspn(given, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n) {
        snprintf(out, outlen, "%s", given);
        return;
    }
    snprintf(out, outlen, "%s-t%llu", srv->instance, (unsigned long long)++srv->next_trace);
}

static struct stomp_op *stomp_op_new(struct session *s, const char *room, const char *receipt)
{
    struct stomp_op *op = calloc(1, sizeof *op);
    if (!op || (receipt && !(op->receipt = strdup(receipt)))) {
        free(op);
        session_error_receipt(s, receipt, "internal error", "out of memory");
        return NULL;
    }
    op->srv = session_server(s);
    op->session = session_id(s);
    session_op_begin(s);
    snprintf(op->room, sizeof op->room, "%s", room);
    return op;
}

/* A SEND's `kind` (absent or "text"; "file" for an uploaded file, where
 * the server has attachments; "system" is not a client's) and `reply-to`
 * (a seq, 1 or more). */
static bool send_headers(struct session *s, const struct stomp_frame *f, const char *receipt, uint64_t *reply_to,
                         chatd_message_kind *kind_out)
{
    const char *kind = stomp_frame_header(f, "kind");
    *kind_out = CHATD_MESSAGE_TEXT;
    if (kind && strcmp(kind, "file") == 0 && session_server(s)->files) {
        *kind_out = CHATD_MESSAGE_FILE;
    } else if (kind && strcmp(kind, "text") != 0) {
        session_error_receipt(s, receipt, "invalid kind",
                              session_server(s)->files
                                  ? "A client sends kind:text (or none), or kind:file; system messages are not a "
                                    "client's."
                                  : "A client sends kind:text (or none); system messages are not a client's, and "
                                    "this server has no attachments for kind:file.");
        return false;
    }
    const char *rt = stomp_frame_header(f, "reply-to");
    *reply_to = 0;
    if (!rt)
        return true;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(rt, &end, 10);
    if (*rt < '1' || *rt > '9' || *end || errno) {
        session_error_receipt(s, receipt, "invalid reply-to", "Expected the seq of a message of this room.");
        return false;
    }
    *reply_to = v;
    return true;
}

static void send_draft(struct session *s, const char *room, const struct message_draft *dp, const char *receipt);
static void app_send_file(struct session *s, const char *room, const struct stomp_frame *f, const char *receipt,
                          uint64_t reply_to);

static void app_send(struct session *s, const char *room, const struct stomp_frame *f, const char *receipt)
{
    struct server *srv = session_server(s);
    uint64_t reply_to;
    chatd_message_kind kind;
    if (!send_headers(s, f, receipt, &reply_to, &kind))
        return;
    if (kind == CHATD_MESSAGE_FILE) {
        app_send_file(s, room, f, receipt, reply_to);
        return;
    }
    char trace[48];
    trace_id(srv, stomp_frame_header(f, "trace-id"), trace, sizeof trace);
    struct message_draft d = {.room_id = room, .sender = session_user(s), .body = f->body, .body_len = f->body_len,
                              .content_type = stomp_frame_header(f, "content-type"),
                              .client_id = stomp_frame_header(f, "client-id"), .trace = trace,
                              .origin = session_id(s), .kind = CHATD_MESSAGE_TEXT, .reply_to = reply_to};
    send_draft(s, room, &d, receipt);
}

/* A `file` message on its way: the file is looked up before the message
 * is made (its body carries the file's name, type, size and image size). */
struct file_send {
    struct server *srv;
    uint64_t session;
    char room[ROOM_ID_MAX];
    char *receipt, *client_id, *caption;
    char file[80];
    char trace[48];
    uint64_t reply_to;
};

static void file_send_free(struct file_send *fs)
{
    session_op_end(fs->srv, fs->session);
    free(fs->receipt);
    free(fs->client_id);
    free(fs->caption);
    free(fs);
}

static void file_found_cb(void *ctx, const struct room_answer *a, const struct chatd_file *file)
{
    struct file_send *fs = ctx;
    struct session *s = session_lookup(fs->srv, fs->session);
    if (!s) {
        file_send_free(fs);
        return;
    }
    if (a->status == ROOM_NOT_FOUND && strcmp(a->why, "no such file") == 0) {
        session_error_receipt(s, fs->receipt, "no such file", "No file of that id was uploaded to this room.");
    } else if (a->status != ROOM_OK) {
        rooms_stomp_refused(s, fs->receipt, fs->room, a);
    } else {
        char *body = file_message_body(file, fs->caption);
        if (!body) {
            session_error_receipt(s, fs->receipt, "internal error", "out of memory");
        } else {
            struct message_draft d = {.room_id = fs->room, .sender = session_user(s), .body = body,
                                      .body_len = strlen(body), .content_type = "application/json",
                                      .client_id = fs->client_id, .trace = fs->trace, .origin = fs->session,
                                      .kind = CHATD_MESSAGE_FILE, .reply_to = fs->reply_to};
            send_draft(s, fs->room, &d, fs->receipt);
            free(body);
        }
    }
    file_send_free(fs);
}

/* SEND kind:file, body {"file": ID, "text": an optional caption}. */
static void app_send_file(struct session *s, const char *room, const struct stomp_frame *f, const char *receipt,
                          uint64_t reply_to)
{
    struct server *srv = session_server(s);
    json_t *j = json_loadb(f->body, f->body_len, JSON_REJECT_DUPLICATES, NULL);
    const char *id = json_string_value(json_object_get(j, "file"));
    json_t *text = json_object_get(j, "text");
    if (!json_is_object(j) || !id || !*id || strlen(id) >= 80 || (text && !json_is_string(text))) {
        json_decref(j);
        session_error_receipt(s, receipt, "invalid message body",
                              "A file message is {\"file\": the id its upload answered, \"text\": an optional caption}.");
        return;
    }
    struct file_send *fs = calloc(1, sizeof *fs);
    const char *cid = stomp_frame_header(f, "client-id");
    if (!fs || (receipt && !(fs->receipt = strdup(receipt))) || (cid && !(fs->client_id = strdup(cid))) ||
        (text && !(fs->caption = strdup(json_string_value(text))))) {
        json_decref(j);
        if (fs) {
            free(fs->receipt);
            free(fs->client_id);
            free(fs);
        }
        session_error_receipt(s, receipt, "internal error", "out of memory");
        return;
    }
    fs->srv = srv;
    fs->session = session_id(s);
    fs->reply_to = reply_to;
    snprintf(fs->room, sizeof fs->room, "%s", room);
    snprintf(fs->file, sizeof fs->file, "%s", id);
    json_decref(j);
    trace_id(srv, stomp_frame_header(f, "trace-id"), fs->trace, sizeof fs->trace);
    session_op_begin(s);
    files_may_read(srv->rooms, fs->room, session_user(s), session_roles(s), fs->file, file_found_cb, fs);
}

/* A message made: admitted, stored, published, its RECEIPT. */
static void send_draft(struct session *s, const char *room, const struct message_draft *dp, const char *receipt)
{
    struct server *srv = session_server(s);
    struct message_draft d = *dp;
    char trace[48];
    snprintf(trace, sizeof trace, "%s", d.trace ? d.trace : "");
    char why[256];
    struct message_send *send;
    enum room_status st = message_send_new(srv->rooms, &d, &send, why, sizeof why);
    if (st == ROOM_BAD_REQUEST) {
        /* A room message is text (message_body.h); anything else is refused
         * before it reaches storage. */
        session_error_receipt(s, receipt, "invalid message body", why);
        return;
    }
    struct stomp_op *op = stomp_op_new(s, room, receipt);
    if (!op) {
        message_send_free(send);
        return;
    }
    op->send = send;
    if (st != ROOM_OK || !(op->ticket = send_order_enter(srv->send_order, op->session))) {
        session_error_receipt(s, receipt, "internal error", "out of memory");
        stomp_op_free(op);
        return;
    }
    op->started_ms = clock_wall_ms();
    memcpy(op->trace, trace, sizeof op->trace);
    log_msg(CHATD_LOG_DEBUG, "rooms", op->session, "SEND to room %s, %zu bytes, trace %s", room, d.body_len,
            op->trace);
    message_send_admit(op->send, send_admitted_cb, op);
}

/* The words of a room operation's refusals over STOMP. */
struct refusal_words {
    const char *not_found; /* the `why` of a NOT_FOUND that is not about the room ("no such message") */
    const char *conflict;  /* ERROR message of a CONFLICT */
    const char *bad;       /* of a BAD_REQUEST */
};

/* The RECEIPT of an operation that took effect (stored, its event out), or
 * its refusal; op is done with. */
static void op_answer(struct stomp_op *op, const struct room_answer *a, const struct refusal_words *w)
{
    struct session *s = session_lookup(op->srv, op->session);
    if (s) {
        switch (a->status) {
        case ROOM_OK:
            session_send_receipt(s, op->receipt);
            break;
        case ROOM_NOT_FOUND:
            session_error_receipt(s, op->receipt, strcmp(a->why, w->not_found) == 0 ? w->not_found : "no such room",
                                  op->room);
            break;
        case ROOM_FORBIDDEN:
            session_error_receipt(s, op->receipt, "not allowed", a->why);
            break;
        case ROOM_CONFLICT:
            session_error_receipt(s, op->receipt, w->conflict, a->why);
            break;
        case ROOM_BAD_REQUEST:
            session_error_receipt(s, op->receipt, w->bad, a->why);
            break;
        case ROOM_NOT_SUPPORTED:
            session_error_receipt(s, op->receipt, "not supported", a->why);
            break;
        default:
            rooms_stomp_refused(s, op->receipt, op->room, a);
        }
    }
    stomp_op_free(op);
}

/* An edit or delete is stored (and its event out): only now the RECEIPT. */
static void changed_cb(void *ctx, const struct room_answer *a, const struct chatd_message *m)
{
    (void)m;
    static const struct refusal_words w = {"no such message", "message not changed", "invalid message body"};
    op_answer(ctx, a, &w);
}

/* SEND to /app/rooms/{room}/edit (the body: the new text) or /delete, the
 * message named by its `message-seq` header. */
static void app_change(struct session *s, const char *room, const struct stomp_frame *f, const char *receipt,
                       chatd_message_edit_kind what)
{
    struct server *srv = session_server(s);
    const char *sq = stomp_frame_header(f, "message-seq");
    uint64_t seq = 0;
    if (!sq || !query_u64(sq, &seq) || !seq) {
        session_error_receipt(s, receipt, "invalid message-seq",
                              "Expected a message-seq header: the seq of a message of this room.");
        return;
    }
    char trace[48];
    trace_id(srv, stomp_frame_header(f, "trace-id"), trace, sizeof trace);
    struct message_change_request req = {.room_id = room, .user = session_user(s), .roles = session_roles(s),
                                         .seq = seq, .what = what, .trace = trace, .origin = session_id(s)};
    if (what == CHATD_MESSAGE_EDIT) {
        req.body = f->body;
        req.body_len = f->body_len;
        req.content_type = stomp_frame_header(f, "content-type");
    }
    struct stomp_op *op = stomp_op_new(s, room, receipt);
    if (op)
        message_change(srv->rooms, &req, changed_cb, op);
}

/* A reaction stored (or held already): only now the RECEIPT. */
static void reacted_cb(void *ctx, const struct room_answer *a, const struct chatd_reaction_count *counts, size_t n)
{
    (void)counts, (void)n;
    static const struct refusal_words w = {"no such message", "reaction refused", "invalid reaction"};
    struct stomp_op *op = ctx;
    if (a->status == ROOM_LIMIT) {
        struct session *s = session_lookup(op->srv, op->session);
        if (s)
            session_error_receipt(s, op->receipt, "too many reactions", a->why);
        stomp_op_free(op);
        return;
    }
    op_answer(op, a, &w);
}

/* SEND to /app/rooms/{room}/react or /unreact: the body is the emoji, the
 * message named by its `message-seq` header. */
static void app_react(struct session *s, const char *room, const struct stomp_frame *f, const char *receipt, bool add)
{
    struct server *srv = session_server(s);
    const char *sq = stomp_frame_header(f, "message-seq");
    uint64_t seq = 0;
    if (!sq || !query_u64(sq, &seq) || !seq) {
        session_error_receipt(s, receipt, "invalid message-seq",
                              "Expected a message-seq header: the seq of a message of this room.");
        return;
    }
    char trace[48];
    trace_id(srv, stomp_frame_header(f, "trace-id"), trace, sizeof trace);
    struct reaction_request req = {.room_id = room, .user = session_user(s), .seq = seq, .emoji = f->body,
                                   .emoji_len = f->body_len, .add = add, .trace = trace};
    struct stomp_op *op = stomp_op_new(s, room, receipt);
    if (op)
        reaction_change(srv->rooms, &req, reacted_cb, op);
}

static void transferred_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    (void)room;
    static const struct refusal_words w = {"no such agent", "room not transferred", "invalid transfer"};
    op_answer(ctx, a, &w);
}

/* SEND to /app/rooms/{room}/transfer, body {"to": AGENT or null, "note": TEXT}. */
static void app_transfer(struct session *s, const char *room, const struct stomp_frame *f, const char *receipt)
{
    json_t *j = json_loadb(f->body, f->body_len, 0, NULL);
    json_t *to = json_object_get(j, "to"), *note = json_object_get(j, "note");
    if (!json_is_object(j) || !to || !(json_is_string(to) || json_is_null(to)) ||
        (note && !json_is_string(note) && !json_is_null(note))) {
        json_decref(j);
        session_error_receipt(s, receipt, "invalid transfer", "Expected {\"to\": AGENT or null, \"note\": TEXT}.");
        return;
    }
    struct transfer_request req = {.room_id = room, .user = session_user(s), .roles = session_roles(s),
                                   .to = json_string_value(to), .note = json_string_value(note),
                                   .note_len = json_is_string(note) ? json_string_length(note) : 0};
    struct stomp_op *op = stomp_op_new(s, room, receipt);
    if (op)
        support_transfer(op->srv->rooms, &req, transferred_cb, op);
    json_decref(j);
}

static void rated_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    (void)room;
    struct stomp_op *op = ctx;
    struct session *s = session_lookup(op->srv, op->session);
    if (s) {
        switch (a->status) {
        case ROOM_OK:
            session_send_receipt(s, op->receipt);
            break;
        case ROOM_FORBIDDEN:
            session_error_receipt(s, op->receipt, "not allowed", a->why);
            break;
        case ROOM_CONFLICT:
            session_error_receipt(s, op->receipt, "room not rated", a->why);
            break;
        case ROOM_BAD_REQUEST:
            session_error_receipt(s, op->receipt, "invalid rating", a->why);
            break;
        case ROOM_NOT_SUPPORTED:
            session_error_receipt(s, op->receipt, "not supported", a->why);
            break;
        default:
            rooms_stomp_refused(s, op->receipt, op->room, a);
        }
    }
    stomp_op_free(op);
}

/* A note is stored and told: its RECEIPT with its seq (of the room's notes). */
static void noted_cb(void *ctx, const struct room_answer *a, const struct chatd_message *note)
{
    struct stomp_op *op = ctx;
    if (a->status == ROOM_OK || a->status == ROOM_EXISTS) {
        struct session *s = session_lookup(op->srv, op->session);
        if (s && note)
            session_send_receipt_seq(s, op->receipt, note->seq);
        else if (s)
            session_send_receipt(s, op->receipt);
        stomp_op_free(op);
        return;
    }
    static const struct refusal_words w = {"no such room", "note not stored", "invalid message body"};
    op_answer(op, a, &w);
}

/* SEND to /app/rooms/{room}/notes: an internal note, its body as a
 * message's (rooms/notes.h). */
static void app_note(struct session *s, const char *room, const struct stomp_frame *f, const char *receipt)
{
    struct server *srv = session_server(s);
    char trace[48];
    trace_id(srv, stomp_frame_header(f, "trace-id"), trace, sizeof trace);
    struct note_draft d = {.room_id = room, .author = session_user(s), .roles = session_roles(s), .body = f->body,
                           .body_len = f->body_len, .content_type = stomp_frame_header(f, "content-type"),
                           .client_id = stomp_frame_header(f, "client-id"), .trace = trace,
                           .origin = session_id(s)};
    struct stomp_op *op = stomp_op_new(s, room, receipt);
    if (op)
        note_post(srv->rooms, &d, noted_cb, op);
}

/* SEND to /app/rooms/{room}/rate, body {"rating": 1..5, "comment": TEXT}. */
static void app_rate(struct session *s, const char *room, const struct stomp_frame *f, const char *receipt)
{
    json_t *j = json_loadb(f->body, f->body_len, 0, NULL);
    json_t *rating = json_object_get(j, "rating"), *comment = json_object_get(j, "comment");
    if (!json_is_object(j) || !json_is_integer(rating) ||
        (comment && !json_is_string(comment) && !json_is_null(comment))) {
        json_decref(j);
        session_error_receipt(s, receipt, "invalid rating", "Expected {\"rating\": 1 to 5, \"comment\": TEXT}.");
        return;
    }
    struct rating_request req = {.room_id = room, .user = session_user(s), .roles = session_roles(s),
                                 .rating = json_integer_value(rating), .comment = json_string_value(comment),
                                 .comment_len = json_is_string(comment) ? json_string_length(comment) : 0};
    struct stomp_op *op = stomp_op_new(s, room, receipt);
    if (op)
        support_rate(op->srv->rooms, &req, rated_cb, op);
    json_decref(j);
}

/* The answer of user_presence_choose, which comes before it returns. */
static void presence_chosen(void *ctx, const struct room_answer *a)
{
    *(struct room_answer *)ctx = *a;
}

/* SEND to /app/presence with a `status` header (or a body
 * {"status": ...}): "away" or "online", the sender's own choice. */
static void app_presence(struct session *s, const struct stomp_frame *f, const char *receipt)
{
    const char *status = stomp_frame_header(f, "status");
    json_t *j = status ? NULL : json_loadb(f->body, f->body_len, 0, NULL);
    if (!status)
        status = json_string_value(json_object_get(j, "status"));
    struct room_answer a = {ROOM_NOMEM, "out of memory"};
    user_presence_choose(session_server(s)->rooms, session_user(s), status, presence_chosen, &a);
    json_decref(j);
    if (a.status == ROOM_OK)
        session_send_receipt(s, receipt);
    else
        session_error_receipt(s, receipt, a.status == ROOM_BAD_REQUEST ? "invalid status" : "presence not set",
                              a.why);
}

/* The customer's support room is there (new or open already): the
 * RECEIPT names it. */
static void support_opened_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct stomp_op *op = ctx;
    struct session *s = session_lookup(op->srv, op->session);
    if (s) {
        if (a->status == ROOM_BAD_REQUEST)
            session_error_receipt(s, op->receipt, "invalid topic", a->why);
        else if (!rooms_stomp_refused(s, op->receipt, "", a))
            session_send_receipt_header(s, op->receipt, "room", room->id);
    }
    stomp_op_free(op);
}

/* SEND to /app/support/open, with an optional `topic` header (or a body
 * {"topic": ...}): the sender's support room, as POST /api/rooms
 * {"kind": "support"} opens it. */
static void app_support_open(struct session *s, const struct stomp_frame *f, const char *receipt)
{
    const char *topic = stomp_frame_header(f, "topic");
    json_t *j = !topic && f->body_len ? json_loadb(f->body, f->body_len, 0, NULL) : NULL;
    json_t *jt = json_object_get(j, "topic");
    if (jt && !json_is_null(jt) &&
        (!json_is_string(jt) || strlen(json_string_value(jt)) != json_string_length(jt))) {
        json_decref(j);
        session_error_receipt(s, receipt, "invalid topic", "Expected a topic header or {\"topic\": TOPIC}.");
        return;
    }
    if (!topic)
        topic = json_string_value(jt);
    struct stomp_op *op = stomp_op_new(s, "", receipt);
    if (op)
        support_open(op->srv->rooms, session_user(s), topic, support_opened_cb, op);
    json_decref(j);
}

void rooms_app_send(struct session *s, const char *destination, const char *as_sent, const struct stomp_frame *f,
                    const char *receipt)
{
    char room[ROOM_ID_MAX];
    const char *verb;
    if (strcmp(destination, DEST_APP_PRESENCE) == 0) {
        app_presence(s, f, receipt);
        return;
    }
    if (strcmp(destination, DEST_APP_SUPPORT_OPEN) == 0) {
        app_support_open(s, f, receipt);
        return;
    }
    if (!destination_room_of(destination, "/app/rooms/", room, sizeof room, &verb) ||
        (strcmp(verb, "send") != 0 && strcmp(verb, "read") != 0 && strcmp(verb, "typing") != 0 &&
         strcmp(verb, "edit") != 0 && strcmp(verb, "delete") != 0 && strcmp(verb, "transfer") != 0 &&
         strcmp(verb, "react") != 0 && strcmp(verb, "unreact") != 0 && strcmp(verb, "rate") != 0 &&
         strcmp(verb, "notes") != 0)) {
        session_error_receipt(s, receipt, "unknown destination", as_sent);
        return;
    }
    if (strcmp(verb, "send") == 0) {
        app_send(s, room, f, receipt);
        return;
    }
    if (strcmp(verb, "edit") == 0 || strcmp(verb, "delete") == 0) {
        app_change(s, room, f, receipt, verb[0] == 'e' ? CHATD_MESSAGE_EDIT : CHATD_MESSAGE_DELETE);
        return;
    }
    if (strcmp(verb, "transfer") == 0) {
        app_transfer(s, room, f, receipt);
        return;
    }
    if (strcmp(verb, "rate") == 0) {
        app_rate(s, room, f, receipt);
        return;
    }
    if (strcmp(verb, "notes") == 0) {
        app_note(s, room, f, receipt);
        return;
    }
    if (strcmp(verb, "react") == 0 || strcmp(verb, "unreact") == 0) {
        app_react(s, room, f, receipt, verb[0] == 'r');
        return;
    }
    if (strcmp(verb, "typing") == 0) {
        struct stomp_op *op = stomp_op_new(s, room, receipt);
        if (op)
            typing_signal(op->srv->rooms, room, session_user(s), typed_cb, op);
        return;
    }
    json_t *j = json_loadb(f->body, f->body_len, 0, NULL);
    json_t *js = json_object_get(j, "seq");
    bool ok = json_is_integer(js) && json_integer_value(js) >= 0;
    uint64_t seq = ok ? (uint64_t)json_integer_value(js) : 0;
    json_decref(j);
    if (!ok) {
        session_error_receipt(s, receipt, "invalid read body", "Expected {\"seq\": N}.");
        return;
    }
    struct stomp_op *op = stomp_op_new(s, room, receipt);
    if (op)
        read_mark_set(op->srv->rooms, room, session_user(s), seq, read_marked_cb, op);
}

