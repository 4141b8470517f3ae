/* storage-redis: rooms and messages in Redis, through hiredis' asynchronous
 * API on the core's libevent loop.
 *
 * Every operation is one Lua script (scripts.lua.h), so seq assignment,
 * claims, unique keys and client-id idempotency are atomic in Redis itself
 * and hold for any number of chatd instances sharing it. An answer is given
 * when Redis has replied: with `appendonly yes` and `appendfsync always`
 * that is after the write reached the disk (docs/storage.md).
 *
 * While Redis is unreachable, operations fail at once with
 * CHATD_ERR_UNAVAILABLE, and the plugin reconnects with a growing delay.
 * Operations in flight when the connection drops fail the same way: the
 * caller never sends a RECEIPT for them. */
#include <chatd/plugin.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_conf.h"
#include "scripts.lua.h"

/* Every script, loaded on each connection (SCRIPT LOAD) before anything
 * else, and then called by its SHA-1: the text crosses the wire once per
 * connection, not with every operation. */
enum script {
    S_ROOM_CREATE, S_ROOM_GET, S_ROOM_LIST, S_ROOM_CLAIM, S_ROOM_COMPLETE,
    S_ROOM_DELETE, S_MEMBER, S_APPEND, S_HISTORY, S_READ_MARK, S_GROUP,
    /* SDK 1.2: transcripts. */
    S_ROOM_CLOSE, S_ROOM_PURGE, S_USER_ERASE,
    /* SDK 2.2: edits and deletes. */
    S_MESSAGE_EDIT, S_MESSAGE_REVISIONS,
    /* SDK 2.3: the support desk. */
    S_ROOM_CLAIM_LIMITED, S_ROOM_TRANSFER, S_ROOM_REOPEN,
    /* SDK 2.5: reactions. */
    S_REACTION_CHANGE, S_REACTION_LIST,
    /* SDK 2.6: ratings. */
    S_ROOM_RATE,
    /* SDK 2.4: search. */
    S_MESSAGE_SEARCH,
    /* SDK 2.8: canned replies. */
    S_CANNED_PUT, S_CANNED_DELETE, S_CANNED_LIST,
    /* SDK 2.13: a room with a page of its history. */
    S_ROOM_PAGE, NSCRIPTS
};
static const char *const SCRIPTS[NSCRIPTS] = {
    [S_ROOM_CREATE] = LUA_ROOM_CREATE,
    [S_ROOM_GET] = LUA_ROOM_GET,
    [S_ROOM_LIST] = LUA_ROOM_LIST,
    [S_ROOM_CLAIM] = LUA_ROOM_CLAIM,
    [S_ROOM_COMPLETE] = LUA_ROOM_COMPLETE,
    [S_ROOM_DELETE] = LUA_ROOM_DELETE,
    [S_MEMBER] = LUA_MEMBER,
    [S_APPEND] = LUA_APPEND,
    [S_HISTORY] = LUA_HISTORY,
    [S_READ_MARK] = LUA_READ_MARK,
    [S_GROUP] = LUA_GROUP,
    [S_ROOM_CLOSE] = LUA_ROOM_CLOSE,
    [S_ROOM_PURGE] = LUA_ROOM_PURGE,
    [S_USER_ERASE] = LUA_USER_ERASE,
    [S_MESSAGE_EDIT] = LUA_MESSAGE_EDIT,
    [S_MESSAGE_REVISIONS] = LUA_MESSAGE_REVISIONS,
    [S_ROOM_CLAIM_LIMITED] = LUA_ROOM_CLAIM_LIMITED,
    [S_ROOM_TRANSFER] = LUA_ROOM_TRANSFER,
    [S_ROOM_REOPEN] = LUA_ROOM_REOPEN,
    [S_REACTION_CHANGE] = LUA_REACTION_CHANGE,
    [S_REACTION_LIST] = LUA_REACTION_LIST,
    [S_ROOM_RATE] = LUA_ROOM_RATE,
    [S_MESSAGE_SEARCH] = LUA_MESSAGE_SEARCH,
    [S_CANNED_PUT] = LUA_CANNED_PUT,
    [S_CANNED_DELETE] = LUA_CANNED_DELETE,
    [S_CANNED_LIST] = LUA_CANNED_LIST,
    [S_ROOM_PAGE] = LUA_ROOM_PAGE,
};

#define SCHEMA_VERSION "1"
#define LIST_MAX 1000       /* rooms per room_list when the filter sets no limit */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

enum op_kind { OP_ROOM, OP_ROOMS, OP_MESSAGE, OP_MESSAGES, OP_DONE, OP_COUNT, OP_ERASE, OP_REACTIONS, OP_FOUND,
               OP_CANNED, OP_IDS, OP_ROOM_PAGE };

struct rstore;

/* One operation in flight: hiredis holds it as privdata until the reply. */
struct op {
    struct op *prev, *next;
    struct rstore *st;
    enum op_kind kind;
    void *cb;
    void *ctx;
    chatd_status early; /* an answer decided before Redis was asked */
};

struct rstore {
    const struct chatd_host *host;
    char *addr;
    int port;
    char *unix_path;
    char *password;
    int db;
    char *prefix;
    size_t max_pending;
    long long search_scan_max; /* messages one search may read */

    redisAsyncContext *ac;
    bool connected;  /* the connect callback said so */
    bool stopping;
    struct event *retry;
    int backoff_ms;
    struct op *inflight; /* every op hiredis holds, to account for them */
    size_t pending;
    char sha[NSCRIPTS][41]; /* SHA-1 of each script (hex): EVALSHA after SCRIPT LOAD */
};

/* ----------------------------------------------------------- completions */

static void op_unlink(struct op *o)
{
    struct rstore *st = o->st;
    if (o->prev)
        o->prev->next = o->next;
    else if (st->inflight == o)
        st->inflight = o->next;
    if (o->next)
        o->next->prev = o->prev;
    o->prev = o->next = NULL;
    st->pending--;
}

/* Answer o with st and no data. */
static void op_fail(struct op *o, chatd_status status)
{
    switch (o->kind) {
    case OP_ROOM:
        ((chatd_room_cb)o->cb)(o->ctx, status, NULL);
        break;
    case OP_ROOMS:
        ((chatd_rooms_cb)o->cb)(o->ctx, status, NULL, 0);
        break;
    case OP_MESSAGE:
        ((chatd_message_cb)o->cb)(o->ctx, status, NULL);
        break;
    case OP_MESSAGES: case OP_FOUND:
        ((chatd_messages_cb)o->cb)(o->ctx, status, NULL, 0);
        break;
    case OP_DONE:
        ((chatd_done_cb)o->cb)(o->ctx, status);
        break;
    case OP_COUNT:
        ((chatd_count_cb)o->cb)(o->ctx, status, 0);
        break;
    case OP_ERASE:
        ((chatd_erase_cb)o->cb)(o->ctx, status, NULL);
        break;
    case OP_REACTIONS:
        ((chatd_reactions_cb)o->cb)(o->ctx, status, NULL, 0);
        break;
    case OP_CANNED:
        ((chatd_canned_cb)o->cb)(o->ctx, status, NULL, 0);
        break;
    case OP_IDS:
        ((chatd_ids_cb)o->cb)(o->ctx, status, NULL, 0);
        break;
    case OP_ROOM_PAGE:
        ((chatd_room_page_cb)o->cb)(o->ctx, status, NULL, NULL, 0);
        break;
    }
}

static void early_answer(void *arg)
{
    struct op *o = arg;
    op_fail(o, o->early);
    free(o);
}

/* ------------------------------------------------------- reply decoding */

static chatd_status status_of(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING)
        return CHATD_ERR_INTERNAL;
    const char *s = r->element[0]->str;
    if (strcmp(s, "ok") == 0)
        return CHATD_OK;
    if (strcmp(s, "exists") == 0)
        return CHATD_ERR_EXISTS;
    if (strcmp(s, "conflict") == 0)
        return CHATD_ERR_CONFLICT;
    if (strcmp(s, "notfound") == 0)
        return CHATD_ERR_NOT_FOUND;
    if (strcmp(s, "denied") == 0)
        return CHATD_ERR_DENIED;
    if (strcmp(s, "invalid") == 0)
        return CHATD_ERR_INVALID;
    if (strcmp(s, "limit") == 0)
        return CHATD_ERR_LIMIT;
    return CHATD_ERR_INTERNAL;
}

static const char *str_or_null(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

static int64_t int_of(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

/* A decimal number and the one space after it, at *p (before end); minus
 * signs only where `negative` allows. */
static bool take_num(const char **p, const char *end, bool negative, long long *out)
{
    const char *s = *p;
    bool neg = negative && s < end && *s == '-';
    s += neg;
    const char *digits = s;
    long long v = 0;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (LLONG_MAX - (*s - '0')) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    if (s == digits || s == end || *s != ' ')
        return false;
    *out = neg ? -v : v;
    *p = s + 1;
    return true;
}

/* Parse one message as the scripts answer it (scripts.lua.h: "CTLEN " and
 * the content type, then "SEQ TS IDLEN SENDERLEN CIDLEN " and the three
 * strings and the body after it) into m, pointing into r. */
static bool decode_message(const redisReply *r, const char *room, struct chatd_message *m, size_t *ct_len)
{
    if (r->type != REDIS_REPLY_STRING)
        return false;
    const char *p = r->str, *end = r->str + r->len;
    long long seq, ts, idlen, senderlen, cidlen, ctlen;
    if (!take_num(&p, end, true, &ctlen) || ctlen < -1 || ctlen > end - p)
        return false;
    const char *ct = ctlen < 0 ? NULL : p;
    p += ctlen < 0 ? 0 : ctlen;
    long long kind, reply, rev, edited, deleted;
    if (!take_num(&p, end, false, &kind) || !take_num(&p, end, false, &reply) || !take_num(&p, end, false, &rev) ||
        !take_num(&p, end, true, &edited) || !take_num(&p, end, false, &deleted))
        return false;
    if (!take_num(&p, end, false, &seq) || !take_num(&p, end, true, &ts) || !take_num(&p, end, false, &idlen) ||
        !take_num(&p, end, false, &senderlen) || !take_num(&p, end, true, &cidlen) || cidlen < -1)
        return false;
    size_t left = (size_t)(end - p), cid = cidlen < 0 ? 0 : (size_t)cidlen;
    if ((unsigned long long)idlen > left || (unsigned long long)senderlen > left - (size_t)idlen ||
        cid > left - (size_t)idlen - (size_t)senderlen)
        return false;
    /* Pointers into the reply, not NUL-terminated: copy_message makes
     * strings of them. */
    memset(m, 0, sizeof *m);
    m->size = sizeof *m;
    m->room = room;
    m->seq = seq;
    m->ts_ms = ts;
    m->id = p;
    m->sender = p + idlen;
    m->client_id = cidlen < 0 ? NULL : p + idlen + senderlen;
    m->body = p + idlen + senderlen + cid;
    m->body_len = (size_t)(end - m->body);
    m->content_type = ct;
    m->kind = (chatd_message_kind)kind;
    m->reply_to = (uint64_t)reply;
    m->rev = (uint64_t)rev;
    m->edited_ms = edited;
    m->deleted = deleted != 0;
    *ct_len = ctlen < 0 ? 0 : (size_t)ctlen;
    return true;
}

/* A message's strings as NUL-terminated copies in one block. */
struct msgbuf {
    struct chatd_message m;
    char *block;
};

static bool copy_message(const redisReply *r, const char *room, struct msgbuf *out)
{
    struct chatd_message m;
    size_t ctlen;
    if (!decode_message(r, room, &m, &ctlen))
        return false;
    size_t idlen = (size_t)(m.sender - m.id);
    size_t senderlen = (size_t)((m.client_id ? m.client_id : m.body) - m.sender);
    size_t cidlen = m.client_id ? (size_t)(m.body - m.client_id) : 0;
    char *b = malloc(idlen + senderlen + cidlen + ctlen + 4);
    if (!b)
        return false;
    out->block = b;
    out->m = m;
    memcpy(b, m.id, idlen);
    b[idlen] = '\0';
    out->m.id = b;
    b += idlen + 1;
    memcpy(b, m.sender, senderlen);
    b[senderlen] = '\0';
    out->m.sender = b;
    b += senderlen + 1;
    if (m.client_id) {
        memcpy(b, m.client_id, cidlen);
        b[cidlen] = '\0';
        out->m.client_id = b;
        b += cidlen + 1;
    }
    if (m.content_type) {
        memcpy(b, m.content_type, ctlen);
        b[ctlen] = '\0';
        out->m.content_type = b;
    }
    return true;
}

/* A room as the scripts return it: id kind state title owner agent created
 * assigned last_seq {members} read last {admins} closed_ms rating
 * rating_comment rated_ms topic. */
struct roombuf {
    struct chatd_room room;
    const char **members;
    const char **admins;
    struct msgbuf last;
    bool has_last;
};

static bool decode_room(const redisReply *r, struct roombuf *out)
{
    memset(out, 0, sizeof *out);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 18 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[9]->type != REDIS_REPLY_ARRAY || r->element[12]->type != REDIS_REPLY_ARRAY)
        return false;
    struct chatd_room *room = &out->room;
    room->size = sizeof *room;
    room->id = r->element[0]->str;
    room->kind = (chatd_room_kind)int_of(r->element[1]);
    room->state = (chatd_room_state)int_of(r->element[2]);
    room->title = str_or_null(r->element[3]);
    room->owner = str_or_null(r->element[4]);
    room->agent = str_or_null(r->element[5]);
    room->created_ms = int_of(r->element[6]);
    room->assigned_ms = int_of(r->element[7]);
    room->last_seq = (uint64_t)int_of(r->element[8]);
    room->closed_ms = int_of(r->element[13]);
    room->rating = (uint32_t)int_of(r->element[14]);
    room->rating_comment = room->rating ? str_or_null(r->element[15]) : NULL;
    room->rated_ms = int_of(r->element[16]);
    room->topic = str_or_null(r->element[17]);
    const redisReply *mem = r->element[9];
    if (mem->elements) {
        out->members = calloc(mem->elements, sizeof *out->members);
        if (!out->members)
            return false;
        for (size_t i = 0; i < mem->elements; i++)
            out->members[room->nmembers++] = str_or_null(mem->element[i]) ? mem->element[i]->str : "";
    }
    room->members = out->members;
    const redisReply *adm = r->element[12];
    if (adm->elements) {
        out->admins = calloc(adm->elements, sizeof *out->admins);
        if (!out->admins) {
            free(out->members);
            return false;
        }
        for (size_t i = 0; i < adm->elements; i++)
            out->admins[room->nadmins++] = str_or_null(adm->element[i]) ? adm->element[i]->str : "";
    }
    room->admins = out->admins;
    room->read_seq = (uint64_t)int_of(r->element[10]);
    if (r->element[11]->type == REDIS_REPLY_STRING) {
        if (!copy_message(r->element[11], room->id, &out->last)) {
            free(out->members);
            free(out->admins);
            return false;
        }
        out->has_last = true;
        room->last_message = &out->last.m;
    }
    return true;
}

static void roombuf_free(struct roombuf *b)
{
    free(b->members);
    free(b->admins);
    if (b->has_last)
        free(b->last.block);
}

static void answer_room(struct op *o, chatd_status status, const redisReply *r)
{
    struct roombuf b;
    if (r->elements < 2 || r->element[1]->type == REDIS_REPLY_NIL) {
        ((chatd_room_cb)o->cb)(o->ctx, status == CHATD_OK ? CHATD_ERR_INTERNAL : status, NULL);
        return;
    }
    if (!decode_room(r->element[1], &b)) {
        ((chatd_room_cb)o->cb)(o->ctx, CHATD_ERR_INTERNAL, NULL);
        return;
    }
    ((chatd_room_cb)o->cb)(o->ctx, status, &b.room);
    roombuf_free(&b);
}

static void answer_rooms(struct op *o, chatd_status status, const redisReply *r)
{
    if (status != CHATD_OK || r->elements < 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
        op_fail(o, status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
        return;
    }
    const redisReply *list = r->element[1];
    size_t n = list->elements;
    struct roombuf *bufs = n ? calloc(n, sizeof *bufs) : NULL;
    struct chatd_room *rooms = n ? calloc(n, sizeof *rooms) : NULL;
    size_t ok = 0;
    if (n && (!bufs || !rooms)) {
        status = CHATD_ERR_NOMEM;
    } else {
        for (; ok < n; ok++) {
            if (!decode_room(list->element[ok], &bufs[ok])) {
                status = CHATD_ERR_INTERNAL;
                break;
            }
            rooms[ok] = bufs[ok].room;
        }
    }
    if (status == CHATD_OK)
        ((chatd_rooms_cb)o->cb)(o->ctx, CHATD_OK, rooms, n);
    else
        op_fail(o, status);
    for (size_t i = 0; i < ok; i++)
        roombuf_free(&bufs[i]);
    free(bufs);
    free(rooms);
}

static void answer_message(struct op *o, chatd_status status, const redisReply *r, const char *room)
{
    struct msgbuf b;
    if (r->elements < 2 || !copy_message(r->element[1], room, &b)) {
        op_fail(o, status == CHATD_OK || status == CHATD_ERR_EXISTS ? CHATD_ERR_INTERNAL : status);
        return;
    }
    ((chatd_message_cb)o->cb)(o->ctx, status, &b.m);
    free(b.block);
}

/* A history page as the scripts return it: the messages, and their
 * reactions hints, one byte a message ('s' some, 'n' none; a reply without
 * them says nothing of reactions). */
struct pagebuf {
    struct msgbuf *bufs;
    struct chatd_message *msgs;
    size_t n, ok;
};

static chatd_status decode_page(const redisReply *list, const redisReply *hints, const char *room,
                                struct pagebuf *out)
{
    memset(out, 0, sizeof *out);
    if (list->type != REDIS_REPLY_ARRAY)
        return CHATD_ERR_INTERNAL;
    size_t n = list->elements;
    bool hinted = hints && hints->type == REDIS_REPLY_STRING && hints->len == n;
    out->n = n;
    out->bufs = n ? calloc(n, sizeof *out->bufs) : NULL;
    out->msgs = n ? calloc(n, sizeof *out->msgs) : NULL;
    if (n && (!out->bufs || !out->msgs))
        return CHATD_ERR_NOMEM;
    for (; out->ok < n; out->ok++) {
        if (!copy_message(list->element[out->ok], room, &out->bufs[out->ok]))
            return CHATD_ERR_INTERNAL;
        out->msgs[out->ok] = out->bufs[out->ok].m;
        if (hinted)
            out->msgs[out->ok].reactions =
                hints->str[out->ok] == 's' ? CHATD_REACTIONS_SOME : CHATD_REACTIONS_NONE;
    }
    return CHATD_OK;
}

static void pagebuf_free(struct pagebuf *p)
{
    for (size_t i = 0; i < p->ok; i++)
        free(p->bufs[i].block);
    free(p->bufs);
    free(p->msgs);
}

static void answer_messages(struct op *o, chatd_status status, const redisReply *r, const char *room)
{
    if (status != CHATD_OK || r->elements < 2) {
        op_fail(o, status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
        return;
    }
    struct pagebuf p;
    status = decode_page(r->element[1], r->elements > 2 ? r->element[2] : NULL, room, &p);
    if (status == CHATD_OK)
        ((chatd_messages_cb)o->cb)(o->ctx, CHATD_OK, p.msgs, p.n);
    else
        op_fail(o, status);
    pagebuf_free(&p);
}

/* SDK 2.13: {'ok', room, page, hints}. */
static void answer_room_page(struct op *o, chatd_status status, const redisReply *r)
{
    struct roombuf b;
    if (status != CHATD_OK || r->elements < 4 || !decode_room(r->element[1], &b)) {
        op_fail(o, status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
        return;
    }
    struct pagebuf p;
    status = decode_page(r->element[2], r->element[3], b.room.id, &p);
    if (status == CHATD_OK)
        ((chatd_room_page_cb)o->cb)(o->ctx, CHATD_OK, &b.room, p.msgs, p.n);
    else
        op_fail(o, status);
    pagebuf_free(&p);
    roombuf_free(&b);
}

/* A search's page: {room, message} pairs. */
static void answer_found(struct op *o, chatd_status status, const redisReply *r)
{
    if (status != CHATD_OK || r->elements < 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
        op_fail(o, status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
        return;
    }
    const redisReply *list = r->element[1];
    size_t n = list->elements, ok = 0;
    struct msgbuf *bufs = n ? calloc(n, sizeof *bufs) : NULL;
    struct chatd_message *msgs = n ? calloc(n, sizeof *msgs) : NULL;
    char **rooms = n ? calloc(n, sizeof *rooms) : NULL;
    if (n && (!bufs || !msgs || !rooms)) {
        status = CHATD_ERR_NOMEM;
    } else {
        for (; ok < n; ok++) {
            const redisReply *pair = list->element[ok];
            if (pair->type != REDIS_REPLY_ARRAY || pair->elements != 2 ||
                pair->element[0]->type != REDIS_REPLY_STRING ||
                !(rooms[ok] = strndup(pair->element[0]->str, pair->element[0]->len))) {
                status = CHATD_ERR_INTERNAL;
                break;
            }
            if (!copy_message(pair->element[1], rooms[ok], &bufs[ok])) {
                free(rooms[ok]);
                status = CHATD_ERR_INTERNAL;
                break;
            }
            msgs[ok] = bufs[ok].m;
        }
    }
    if (status == CHATD_OK)
        ((chatd_messages_cb)o->cb)(o->ctx, CHATD_OK, msgs, n);
    else
        op_fail(o, status);
    for (size_t i = 0; i < ok; i++) {
        free(bufs[i].block);
        free(rooms[i]);
    }
    free(bufs);
    free(msgs);
    free(rooms);
}

static void answer_erase(struct op *o, chatd_status status, const redisReply *r)
{
    const redisReply *v = r->elements >= 2 ? r->element[1] : NULL;
    if (status != CHATD_OK || !v || v->type != REDIS_REPLY_ARRAY || v->elements != 3) {
        op_fail(o, status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
        return;
    }
    struct chatd_erase_result res = {sizeof res, (uint64_t)int_of(v->element[0]), (uint64_t)int_of(v->element[1]),
                                     (uint64_t)int_of(v->element[2])};
    ((chatd_erase_cb)o->cb)(o->ctx, CHATD_OK, &res);
}

static int by_seq_emoji(const void *a, const void *b)
{
    const struct chatd_reaction_count *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return strcmp(x->emoji, y->emoji);
}

/* {status, {seq, emoji, count, me, ...}}: the counts, sorted, with OK,
 * EXISTS and LIMIT. */
static void answer_reactions(struct op *o, chatd_status status, const redisReply *r)
{
    const redisReply *v = r->elements >= 2 ? r->element[1] : NULL;
    bool data = status == CHATD_OK || status == CHATD_ERR_EXISTS || status == CHATD_ERR_LIMIT;
    if (!data || !v || v->type != REDIS_REPLY_ARRAY || v->elements % 4) {
        op_fail(o, data ? CHATD_ERR_INTERNAL : status);
        return;
    }
    size_t n = v->elements / 4;
    struct chatd_reaction_count *c = n ? calloc(n, sizeof *c) : NULL;
    if (n && !c) {
        op_fail(o, CHATD_ERR_NOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *emoji = str_or_null(v->element[4 * i + 1]);
        if (!emoji) {
            free(c);
            op_fail(o, CHATD_ERR_INTERNAL);
            return;
        }
        c[i] = (struct chatd_reaction_count){.size = sizeof *c, .seq = (uint64_t)int_of(v->element[4 * i]),
                                             .emoji = emoji, .count = (uint64_t)int_of(v->element[4 * i + 2]),
                                             .me = int_of(v->element[4 * i + 3]) != 0};
    }
    if (n)
        qsort(c, n, sizeof *c, by_seq_emoji);
    ((chatd_reactions_cb)o->cb)(o->ctx, status, c, n);
    free(c);
}

/* SDK 2.8: {'ok', {shortcut, title, body, by, ms, ...}} of one desk. */
static void answer_canned(struct op *o, chatd_status status, const redisReply *r, const char *desk)
{
    const redisReply *v = r->elements >= 2 ? r->element[1] : NULL;
    if (status != CHATD_OK || !v || v->type != REDIS_REPLY_ARRAY || v->elements % 5) {
        op_fail(o, status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
        return;
    }
    size_t n = v->elements / 5;
    struct chatd_canned_reply *c = n ? calloc(n, sizeof *c) : NULL;
    if (n && !c) {
        op_fail(o, CHATD_ERR_NOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *const *e = v->element + 5 * i;
        c[i] = (struct chatd_canned_reply){.size = sizeof *c, .desk = desk, .shortcut = str_or_null(e[0]),
                                           .title = str_or_null(e[1]), .body = str_or_null(e[2]),
                                           .updated_by = str_or_null(e[3]), .updated_ms = int_of(e[4])};
        if (!c[i].shortcut || !c[i].title || !c[i].body || !c[i].updated_by) {
            free(c);
            op_fail(o, CHATD_ERR_INTERNAL);
            return;
        }
    }
    ((chatd_canned_cb)o->cb)(o->ctx, CHATD_OK, c, n);
    free(c);
}

/* {'ok', n, id...}: the rooms a purge removed (room_purge_ids). */
static void answer_ids(struct op *o, chatd_status status, const redisReply *r)
{
    if (status != CHATD_OK || r->elements < 2 || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->integer < 0 || (size_t)r->element[1]->integer != r->elements - 2) {
        op_fail(o, status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
        return;
    }
    size_t n = r->elements - 2;
    const char **ids = n ? calloc(n, sizeof *ids) : NULL;
    if (n && !ids) {
        op_fail(o, CHATD_ERR_NOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (r->element[i + 2]->type != REDIS_REPLY_STRING) {
            free(ids);
            op_fail(o, CHATD_ERR_INTERNAL);
            return;
        }
        ids[i] = r->element[i + 2]->str;
    }
    ((chatd_ids_cb)o->cb)(o->ctx, CHATD_OK, ids, n);
    free(ids);
}

/* The room id an op was about, kept after the op's own header. */
static const char *op_room(struct op *o)
{
    return (const char *)(o + 1);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct op *o = privdata;
    struct rstore *st = o->st;
    op_unlink(o);
    const redisReply *r = reply;
    if (st->stopping) {
        free(o); /* the host is gone: nobody waits for the answer */
        return;
    }
    if (!r) {
        op_fail(o, CHATD_ERR_UNAVAILABLE);
    } else if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        /* Someone flushed Redis' script cache: a new connection loads the
         * scripts again. */
        st->host->log(st->host, CHATD_LOG_WARN, "redis lost chatd's scripts (SCRIPT FLUSH?); reconnecting");
        if (st->ac)
            redisAsyncDisconnect(st->ac);
        op_fail(o, CHATD_ERR_UNAVAILABLE);
    } else if (r->type == REDIS_REPLY_ERROR) {
        st->host->log(st->host, CHATD_LOG_ERROR, "redis: %s", r->str);
        op_fail(o, strncmp(r->str, "LOADING", 7) == 0 || strncmp(r->str, "BUSY", 4) == 0 ||
                           strncmp(r->str, "NOAUTH", 6) == 0 || strncmp(r->str, "READONLY", 8) == 0
                       ? CHATD_ERR_UNAVAILABLE
                       : CHATD_ERR_INTERNAL);
    } else {
        chatd_status status = status_of(r);
        switch (o->kind) {
        case OP_ROOM:
            if (status == CHATD_ERR_NOT_FOUND || status == CHATD_ERR_INTERNAL)
                op_fail(o, status);
            else
                answer_room(o, status, r);
            break;
        case OP_ROOMS:
            answer_rooms(o, status, r);
            break;
        case OP_MESSAGE:
            if (status == CHATD_ERR_NOT_FOUND || status == CHATD_ERR_INTERNAL)
                op_fail(o, status);
            else
                answer_message(o, status, r, op_room(o));
            break;
        case OP_MESSAGES:
            answer_messages(o, status, r, op_room(o));
            break;
        case OP_DONE:
            op_fail(o, status);
            break;
        case OP_COUNT:
            if (status != CHATD_OK || r->elements < 2 || r->element[1]->type != REDIS_REPLY_INTEGER)
                op_fail(o, status == CHATD_OK ? CHATD_ERR_INTERNAL : status);
            else
                ((chatd_count_cb)o->cb)(o->ctx, CHATD_OK, (uint64_t)r->element[1]->integer);
            break;
        case OP_ERASE:
            answer_erase(o, status, r);
            break;
        case OP_REACTIONS:
            answer_reactions(o, status, r);
            break;
        case OP_FOUND:
            answer_found(o, status, r);
            break;
        case OP_CANNED:
            answer_canned(o, status, r, op_room(o));
            break;
        case OP_IDS:
            answer_ids(o, status, r);
            break;
        case OP_ROOM_PAGE:
            answer_room_page(o, status, r);
            break;
        }
    }
    free(o);
}

/* --------------------------------------------------------------- sending */

/* Up to this many script arguments besides the script and the members. */
#define MAX_ARGS 16

struct cmd {
    const char *argv[MAX_ARGS + 4];
    size_t len[MAX_ARGS + 4];
    int argc;
    char num[MAX_ARGS][24]; /* decimal renderings */
    char *heap[MAX_ARGS];   /* "=value" renderings of optional strings */
    int nnum, nheap;
    bool oom;
};

static void cmd_start(struct cmd *c, const struct rstore *st, enum script script)
{
    memset(c, 0, sizeof *c);
    c->argv[0] = "EVALSHA";
    c->len[0] = 7;
    c->argv[1] = st->sha[script];
    c->len[1] = 40;
    c->argv[2] = "0";
    c->len[2] = 1;
    c->argv[3] = st->prefix;
    c->len[3] = strlen(st->prefix);
    c->argc = 4;
}

static void cmd_bytes(struct cmd *c, const char *s, size_t len)
{
    c->argv[c->argc] = s;
    c->len[c->argc] = len;
    c->argc++;
}

static void cmd_str(struct cmd *c, const char *s)
{
    cmd_bytes(c, s, strlen(s));
}

static void cmd_num(struct cmd *c, long long v)
{
    char *b = c->num[c->nnum++];
    snprintf(b, sizeof c->num[0], "%lld", v);
    cmd_str(c, b);
}

static void cmd_unum(struct cmd *c, unsigned long long v)
{
    char *b = c->num[c->nnum++];
    snprintf(b, sizeof c->num[0], "%llu", v);
    cmd_str(c, b);
}

/* An optional string: "" when absent, "=" + value when present. */
static void cmd_opt(struct cmd *c, const char *s)
{
    if (!s) {
        cmd_bytes(c, "", 0);
        return;
    }
    size_t n = strlen(s);
    char *b = malloc(n + 2);
    if (!b) {
        c->oom = true;
        cmd_bytes(c, "", 0);
        return;
    }
    b[0] = '=';
    memcpy(b + 1, s, n + 1);
    c->heap[c->nheap++] = b;
    cmd_bytes(c, b, n + 1);
}

static void cmd_clear(struct cmd *c)
{
    for (int i = 0; i < c->nheap; i++)
        free(c->heap[i]);
}

/* A new op; room (may be NULL) is kept for decoding its messages. */
static struct op *op_new(struct rstore *st, enum op_kind kind, void *cb, void *ctx, const char *room)
{
    size_t rl = room ? strlen(room) : 0;
    struct op *o = calloc(1, sizeof *o + rl + 1);
    if (!o)
        return NULL;
    o->st = st;
    o->kind = kind;
    o->cb = cb;
    o->ctx = ctx;
    if (room)
        memcpy(o + 1, room, rl + 1);
    return o;
}

/* Answer later (after the caller's call returned) without asking Redis. */
static void answer_later(struct rstore *st, struct op *o, chatd_status status)
{
    o->early = status;
    if (st->host->post(st->host, early_answer, o) != CHATD_OK)
        free(o); /* shutting down */
}

/* Send argv/argvlen (argc, plus nextra more) for o, or answer it at once
 * with the reason it could not be sent. Consumes o. */
static void submit(struct rstore *st, struct op *o, struct cmd *c, const char *const *extra, size_t nextra)
{
    if (!o) {
        cmd_clear(c);
        return; /* nowhere to say so: the caller's allocation failed, not ours */
    }
    chatd_status early = c->oom ? CHATD_ERR_NOMEM
                         : !st->ac ? CHATD_ERR_UNAVAILABLE /* hiredis holds commands while connecting */
                         : st->pending >= st->max_pending ? CHATD_ERR_LIMIT
                                                          : CHATD_OK;
    if (early != CHATD_OK) {
        cmd_clear(c);
        answer_later(st, o, early);
        return;
    }
    size_t argc = (size_t)c->argc + nextra;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *argvlen = malloc(argc * sizeof *argvlen);
    if (!argv || !argvlen) {
        free(argv);
        free(argvlen);
        cmd_clear(c);
        answer_later(st, o, CHATD_ERR_NOMEM);
        return;
    }
    for (int i = 0; i < c->argc; i++) {
        argv[i] = c->argv[i];
        argvlen[i] = c->len[i];
    }
    for (size_t i = 0; i < nextra; i++) {
        argv[(size_t)c->argc + i] = extra[i];
        argvlen[(size_t)c->argc + i] = strlen(extra[i]);
    }
    int rc = redisAsyncCommandArgv(st->ac, on_reply, o, (int)argc, argv, argvlen);
    free(argv);
    free(argvlen);
    cmd_clear(c);
    if (rc != REDIS_OK) {
        answer_later(st, o, CHATD_ERR_UNAVAILABLE);
        return;
    }
    o->next = st->inflight;
    if (st->inflight)
        st->inflight->prev = o;
    st->inflight = o;
    st->pending++;
}

/* ------------------------------------------------------------- the ops */

static void r_room_create(void *state, const struct chatd_room *room, const char *unique_key, chatd_room_cb cb,
                          void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_CREATE);
    cmd_str(&c, room->id ? room->id : "");
    cmd_num(&c, room->kind);
    cmd_num(&c, room->state ? room->state : CHATD_ROOM_OPEN);
    cmd_opt(&c, room->title);
    cmd_opt(&c, room->owner);
    cmd_opt(&c, room->agent);
    cmd_num(&c, room->created_ms);
    cmd_num(&c, room->assigned_ms);
    cmd_opt(&c, unique_key);
    cmd_opt(&c, CHATD_HAS(room, topic) ? room->topic : NULL);
    struct op *o = op_new(st, OP_ROOM, (void *)cb, ctx, NULL);
    if (o && !room->id) {
        cmd_clear(&c);
        answer_later(st, o, CHATD_ERR_INVALID);
        return;
    }
    submit(st, o, &c, (const char *const *)room->members, room->nmembers);
}

static void r_room_get(void *state, const char *room_id, const char *for_user, chatd_room_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_GET);
    cmd_str(&c, room_id);
    cmd_opt(&c, for_user);
    submit(st, op_new(st, OP_ROOM, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_room_list(void *state, const struct chatd_room_filter *f, chatd_rooms_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_LIST);
    cmd_opt(&c, f->member);
    cmd_num(&c, f->kind);
    cmd_num(&c, f->state);
    cmd_opt(&c, f->agent);
    cmd_opt(&c, f->for_user);
    cmd_unum(&c, f->limit && f->limit < LIST_MAX ? f->limit : LIST_MAX);
    submit(st, op_new(st, OP_ROOMS, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_room_claim(void *state, const char *room_id, const char *agent, int64_t now_ms, chatd_room_cb cb,
                         void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_CLAIM);
    cmd_str(&c, room_id);
    cmd_str(&c, agent);
    cmd_num(&c, now_ms);
    submit(st, op_new(st, OP_ROOM, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void r_room_claim_limited(void *state, const char *room_id, const char *agent, size_t max_open,
                                 int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_CLAIM_LIMITED);
    cmd_str(&c, room_id);
    cmd_str(&c, agent);
    cmd_unum(&c, max_open);
    cmd_num(&c, now_ms);
    submit(st, op_new(st, OP_ROOM, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_room_transfer(void *state, const struct chatd_room_transfer *t, chatd_room_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_TRANSFER);
    cmd_str(&c, t->room_id);
    cmd_str(&c, t->from ? t->from : "");
    cmd_opt(&c, t->to);
    cmd_num(&c, t->now_ms);
    submit(st, op_new(st, OP_ROOM, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_room_reopen(void *state, const struct chatd_room_reopen *ro, chatd_room_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_REOPEN);
    cmd_str(&c, ro->room_id);
    cmd_opt(&c, ro->unique_key);
    cmd_num(&c, ro->completed_after_ms);
    cmd_opt(&c, ro->agent);
    cmd_unum(&c, ro->max_open);
    cmd_num(&c, ro->now_ms);
    submit(st, op_new(st, OP_ROOM, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_room_rate(void *state, const struct chatd_room_rating *rt, chatd_room_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_RATE);
    cmd_str(&c, rt->room_id);
    cmd_unum(&c, rt->rating);
    cmd_opt(&c, rt->comment);
    cmd_num(&c, rt->now_ms);
    submit(st, op_new(st, OP_ROOM, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_room_complete(void *state, const char *room_id, const char *agent, chatd_room_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_COMPLETE);
    cmd_str(&c, room_id);
    cmd_str(&c, agent);
    cmd_num(&c, wall_ms()); /* when completed: room_reopen's window */
    submit(st, op_new(st, OP_ROOM, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_room_delete(void *state, const char *room_id, chatd_done_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_DELETE);
    cmd_str(&c, room_id);
    submit(st, op_new(st, OP_DONE, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void member_op(struct rstore *st, const char *room_id, const char *user, bool add, chatd_done_cb cb,
                      void *ctx)
{
    struct cmd c;
    cmd_start(&c, st, S_MEMBER);
    cmd_str(&c, room_id);
    cmd_str(&c, user);
    cmd_str(&c, add ? "1" : "0");
    submit(st, op_new(st, OP_DONE, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_member_add(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    member_op(state, room_id, user, true, cb, ctx);
}

static void r_member_remove(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    member_op(state, room_id, user, false, cb, ctx);
}

static void r_message_append(void *state, const struct chatd_message *msg, chatd_message_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_APPEND);
    cmd_str(&c, msg->room);
    cmd_str(&c, msg->sender);
    cmd_opt(&c, msg->client_id);
    cmd_num(&c, msg->ts_ms);
    /* The body is bytes, not a string: give its length (an empty body is
     * rendered as zero bytes either way). */
    cmd_bytes(&c, msg->body_len ? msg->body : "", msg->body_len);
    cmd_opt(&c, CHATD_HAS(msg, content_type) ? msg->content_type : NULL);
    cmd_num(&c, CHATD_HAS(msg, kind) ? (int64_t)msg->kind : 0);
    cmd_unum(&c, CHATD_HAS(msg, reply_to) ? msg->reply_to : 0);
    submit(st, op_new(st, OP_MESSAGE, (void *)cb, ctx, msg->room), &c, NULL, 0);
}

/* A history page (S_HISTORY), or the room with it (S_ROOM_PAGE): the
 * same arguments, one script call. */
static void page_op(struct rstore *st, enum script script, enum op_kind kind, const char *room_id, uint64_t before,
                    uint64_t after, size_t limit, void *cb, void *ctx)
{
    struct cmd c;
    cmd_start(&c, st, script);
    cmd_str(&c, room_id);
    cmd_unum(&c, before);
    cmd_unum(&c, after);
    cmd_unum(&c, limit);
    submit(st, op_new(st, kind, cb, ctx, room_id), &c, NULL, 0);
}

static void r_message_list(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                           chatd_messages_cb cb, void *ctx)
{
    page_op(state, S_HISTORY, OP_MESSAGES, room_id, before, after, limit, (void *)cb, ctx);
}

static void r_room_page(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                        chatd_room_page_cb cb, void *ctx)
{
    page_op(state, S_ROOM_PAGE, OP_ROOM_PAGE, room_id, before, after, limit, (void *)cb, ctx);
}

static void r_message_edit(void *state, const struct chatd_message_edit *ed, chatd_message_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_MESSAGE_EDIT);
    cmd_str(&c, ed->room_id);
    cmd_unum(&c, ed->seq);
    cmd_num(&c, (int64_t)ed->what);
    cmd_bytes(&c, ed->body_len ? ed->body : "", ed->body_len);
    cmd_opt(&c, ed->content_type);
    cmd_num(&c, ed->now_ms);
    submit(st, op_new(st, OP_MESSAGE, (void *)cb, ctx, ed->room_id), &c, NULL, 0);
}

static void r_message_revisions(void *state, const char *room_id, uint64_t after_rev, size_t limit,
                                chatd_messages_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_MESSAGE_REVISIONS);
    cmd_str(&c, room_id);
    cmd_unum(&c, after_rev);
    cmd_unum(&c, limit);
    submit(st, op_new(st, OP_MESSAGES, (void *)cb, ctx, room_id), &c, NULL, 0);
}

static void r_reaction_change(void *state, const struct chatd_reaction_change *rc, chatd_reactions_cb cb,
                              void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_REACTION_CHANGE);
    cmd_str(&c, rc->room_id);
    cmd_unum(&c, rc->seq);
    cmd_str(&c, rc->user);
    cmd_str(&c, rc->emoji);
    cmd_num(&c, rc->add ? 1 : 0);
    cmd_unum(&c, rc->max_distinct);
    submit(st, op_new(st, OP_REACTIONS, (void *)cb, ctx, rc->room_id), &c, NULL, 0);
}

static void r_reaction_list(void *state, const char *room_id, const uint64_t *seqs, size_t nseqs,
                            const char *for_user, chatd_reactions_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_REACTION_LIST);
    cmd_str(&c, room_id);
    cmd_opt(&c, for_user);
    char *list = malloc(nseqs * 21 + 1);
    if (!list)
        c.oom = true;
    size_t w = 0;
    for (size_t i = 0; list && i < nseqs; i++)
        w += (size_t)snprintf(list + w, 22, "%s%llu", i ? "," : "", (unsigned long long)seqs[i]);
    if (list)
        list[w] = '\0';
    const char *extra[] = {list ? list : ""};
    submit(st, op_new(st, OP_REACTIONS, (void *)cb, ctx, room_id), &c, extra, 1);
    free(list);
}

static void r_message_search(void *state, const struct chatd_message_search *q, chatd_messages_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    char *lowered = strdup(q->query), *json = q->query_json ? strdup(q->query_json) : NULL;
    for (char *p = lowered; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    for (char *p = json; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    cmd_start(&c, st, S_MESSAGE_SEARCH);
    cmd_str(&c, lowered ? lowered : "");
    cmd_opt(&c, json);
    cmd_num(&c, st->search_scan_max);
    cmd_unum(&c, q->limit);
    cmd_opt(&c, q->before_room);
    cmd_num(&c, q->before_ts_ms);
    cmd_unum(&c, q->before_seq);
    c.oom |= !lowered || (q->query_json && !json);
    submit(st, op_new(st, OP_FOUND, (void *)cb, ctx, NULL), &c, q->rooms, q->nrooms);
    free(lowered);
    free(json);
}

static void r_read_mark(void *state, const char *room_id, const char *user, uint64_t seq, chatd_done_cb cb,
                        void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_READ_MARK);
    cmd_str(&c, room_id);
    cmd_str(&c, user);
    cmd_unum(&c, seq);
    submit(st, op_new(st, OP_DONE, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_group_change(void *state, const struct chatd_group_change *ch, chatd_room_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_GROUP);
    cmd_str(&c, ch->room_id);
    cmd_num(&c, ch->what);
    cmd_opt(&c, ch->user);
    cmd_num(&c, ch->role);
    cmd_opt(&c, ch->title);
    cmd_opt(&c, ch->actor);
    cmd_num(&c, ch->actor_min);
    cmd_str(&c, ch->outrank ? "1" : "0");
    submit(st, op_new(st, OP_ROOM, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_room_close(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_CLOSE);
    cmd_str(&c, room_id);
    cmd_num(&c, now_ms);
    submit(st, op_new(st, OP_ROOM, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_room_purge(void *state, int64_t closed_before_ms, size_t limit, chatd_count_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_PURGE);
    cmd_num(&c, closed_before_ms);
    cmd_unum(&c, limit);
    submit(st, op_new(st, OP_COUNT, (void *)cb, ctx, NULL), &c, NULL, 0);
}

/* The same script: its answer names the rooms after their count. */
static void r_room_purge_ids(void *state, int64_t closed_before_ms, size_t limit, chatd_ids_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_ROOM_PURGE);
    cmd_num(&c, closed_before_ms);
    cmd_unum(&c, limit);
    submit(st, op_new(st, OP_IDS, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_user_erase(void *state, const char *user, chatd_erase_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_USER_ERASE);
    cmd_str(&c, user);
    submit(st, op_new(st, OP_ERASE, (void *)cb, ctx, NULL), &c, NULL, 0);
}

/* ------------------------------------------------------------ connection */

static void connect_now(struct rstore *st);

static void schedule_retry(struct rstore *st)
{
    if (st->stopping)
        return;
    struct timeval tv = {st->backoff_ms / 1000, (st->backoff_ms % 1000) * 1000};
    evtimer_add(st->retry, &tv);
    st->backoff_ms = st->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : st->backoff_ms * 2;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    connect_now(arg);
}

static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rstore *st = privdata;
    const redisReply *r = reply;
    if (!r || st->stopping)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        st->host->log(st->host, CHATD_LOG_ERROR, "redis set-up: %s", r->str);
        st->host->set_ready(st->host, false, r->str);
        redisAsyncDisconnect(ac);
    }
}

static void on_schema(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rstore *st = privdata;
    const redisReply *r = reply;
    if (!r || st->stopping)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        on_setup_reply(ac, reply, privdata);
        return;
    }
    if (r->type == REDIS_REPLY_STRING && strcmp(r->str, SCHEMA_VERSION) != 0) {
        st->host->log(st->host, CHATD_LOG_ERROR, "redis holds data of layout %s; this plugin writes layout %s",
                      r->str, SCHEMA_VERSION);
        st->host->set_ready(st->host, false, "data layout of another version");
        return;
    }
    st->backoff_ms = BACKOFF_MIN_MS;
    st->host->set_ready(st->host, true, "connected");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rstore *st = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        st->host->log(st->host, CHATD_LOG_WARN, "redis connect failed: %s", ac->errstr);
        st->ac = NULL;
        st->connected = false;
        schedule_retry(st);
        return;
    }
    st->connected = true;
    st->host->log(st->host, CHATD_LOG_INFO, "connected to redis");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rstore *st = ac->data;
    st->ac = NULL;
    st->connected = false;
    if (st->stopping)
        return;
    st->host->log(st->host, CHATD_LOG_WARN, "redis connection lost%s%s", status != REDIS_OK ? ": " : "",
                  status != REDIS_OK ? ac->errstr : "");
    st->host->set_ready(st->host, false, "redis connection lost");
    schedule_retry(st);
}

static void connect_now(struct rstore *st)
{
    redisAsyncContext *ac = st->unix_path ? redisAsyncConnectUnix(st->unix_path) : redisAsyncConnect(st->addr, st->port);
    if (!ac || ac->err) {
        st->host->log(st->host, CHATD_LOG_WARN, "redis connect failed: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(st);
        return;
    }
    ac->data = st;
    if (redisLibeventAttach(ac, st->host->base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry(st);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    st->ac = ac;
    /* Queued before anything else on this connection, so in order. */
    if (st->password)
        redisAsyncCommand(ac, on_setup_reply, st, "AUTH %s", st->password);
    if (st->db)
        redisAsyncCommand(ac, on_setup_reply, st, "SELECT %d", st->db);
    for (size_t i = 0; i < NSCRIPTS; i++)
        redisAsyncCommand(ac, on_setup_reply, st, "SCRIPT LOAD %b", SCRIPTS[i], strlen(SCRIPTS[i]));
    redisAsyncCommand(ac, on_setup_reply, st, "SETNX %sschema %s", st->prefix, SCHEMA_VERSION);
    redisAsyncCommand(ac, on_schema, st, "GET %sschema", st->prefix);
}

/* ----------------------------------------------------------- life cycle */

static void store_free(struct rstore *st)
{
    if (st->retry)
        event_free(st->retry);
    free(st->addr);
    free(st->unix_path);
    free(st->password);
    free(st->prefix);
    free(st);
}

static chatd_status redis_init(const struct chatd_host *h, void **state)
{
    struct rstore *st = calloc(1, sizeof *st);
    if (!st)
        return CHATD_ERR_NOMEM;
    st->host = h;
    st->backoff_ms = BACKOFF_MIN_MS;
    long long db = 0, max_pending = 0;
    char *password = NULL;
    chatd_status rc = conf_address(h, "address", "127.0.0.1:6379", 6379, &st->addr, &st->port, &st->unix_path);
    if (rc == CHATD_OK)
        rc = conf_int(h, "db", 0, 0, 1000, &db);
    if (rc == CHATD_OK)
        rc = conf_int(h, "max_pending", 10000, 1, 1000000, &max_pending);
    if (rc == CHATD_OK)
        rc = conf_int(h, "search_scan_max", 100000, 1, 100000000, &st->search_scan_max);
    if (rc == CHATD_OK)
        rc = conf_str(h, "prefix", "chatd:", &st->prefix);
    if (rc == CHATD_OK)
        rc = conf_str(h, "password", NULL, &password);
    if (rc != CHATD_OK) {
        free(password);
        store_free(st);
        return rc;
    }
    if (password && !*password) {
        free(password);
        password = NULL;
    }
    st->password = password;
    st->db = (int)db;
    for (size_t i = 0; i < NSCRIPTS; i++) {
        unsigned char md[20];
        SHA1((const unsigned char *)SCRIPTS[i], strlen(SCRIPTS[i]), md);
        for (size_t k = 0; k < sizeof md; k++)
            snprintf(st->sha[i] + 2 * k, 3, "%02x", md[k]);
    }
    st->max_pending = (size_t)max_pending;
    if (!(st->retry = evtimer_new(h->base, on_retry, st))) {
        store_free(st);
        return CHATD_ERR_NOMEM;
    }
    h->set_ready(h, false, "connecting to redis");
    connect_now(st);
    *state = st;
    return CHATD_OK;
}

static void redis_fini(void *state)
{
    struct rstore *st = state;
    st->stopping = true;
    if (st->ac)
        redisAsyncFree(st->ac); /* runs every pending callback with no reply */
    store_free(st);
}

/* SDK 2.8: canned replies, each one script. */
static void r_canned_put(void *state, const struct chatd_canned_reply *reply, size_t max_per_desk,
                         chatd_count_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_CANNED_PUT);
    cmd_str(&c, reply->desk);
    cmd_str(&c, reply->shortcut);
    cmd_str(&c, reply->title);
    cmd_str(&c, reply->body);
    cmd_str(&c, reply->updated_by);
    cmd_num(&c, reply->updated_ms);
    cmd_unum(&c, max_per_desk);
    submit(st, op_new(st, OP_COUNT, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_canned_delete(void *state, const char *desk, const char *shortcut, chatd_done_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_CANNED_DELETE);
    cmd_str(&c, desk);
    cmd_str(&c, shortcut);
    submit(st, op_new(st, OP_DONE, (void *)cb, ctx, NULL), &c, NULL, 0);
}

static void r_canned_list(void *state, const char *desk, size_t limit, chatd_canned_cb cb, void *ctx)
{
    struct rstore *st = state;
    struct cmd c;
    cmd_start(&c, st, S_CANNED_LIST);
    cmd_str(&c, desk);
    cmd_unum(&c, limit ? limit : 1);
    submit(st, op_new(st, OP_CANNED, (void *)cb, ctx, desk), &c, NULL, 0);
}

static const struct chatd_storage_ops redis_ops = {
    .size = sizeof redis_ops,
    .room_create = r_room_create,
    .room_get = r_room_get,
    .room_list = r_room_list,
    .room_claim = r_room_claim,
    .room_complete = r_room_complete,
    .room_delete = r_room_delete,
    .member_add = r_member_add,
    .member_remove = r_member_remove,
    .message_append = r_message_append,
    .message_list = r_message_list,
    .read_mark = r_read_mark,
    .group_change = r_group_change,
    /* SDK 1.2: transcripts. */
    .room_close = r_room_close,
    .room_purge = r_room_purge,
    .room_purge_ids = r_room_purge_ids,
    .user_erase = r_user_erase,
    /* SDK 2.2: edits and deletes. */
    .message_edit = r_message_edit,
    .message_revisions = r_message_revisions,
    /* SDK 2.3: the support desk. */
    .room_claim_limited = r_room_claim_limited,
    .room_transfer = r_room_transfer,
    .room_reopen = r_room_reopen,
    /* SDK 2.5: reactions. */
    .reaction_change = r_reaction_change,
    .reaction_list = r_reaction_list,
    /* SDK 2.6: ratings. */
    .room_rate = r_room_rate,
    /* SDK 2.4: search. */
    .message_search = r_message_search,
    /* SDK 2.8: canned replies. */
    .canned_put = r_canned_put,
    .canned_delete = r_canned_delete,
    .canned_list = r_canned_list,
    /* SDK 2.13: a room with a page of its history. */
    .room_page = r_room_page,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_STORAGE, .name = "redis", .version = "1.0",
                    .description = "rooms and messages in Redis, atomic through Lua scripts",
                    .init = redis_init, .fini = redis_fini, .ops.storage = &redis_ops)
