/* storage-mysql: rooms and messages in MariaDB or MySQL, through MariaDB
 * Connector/C's non-blocking API (the *_start / *_cont calls) driven by the
 * core's libevent loop: no blocking client call, no thread per query.
 *
 * A small fixed pool of connections. Operations are routed by room so that
 * everything about one room goes down one connection in call order; on each
 * connection they queue while a batch is in flight, and the next batch takes
 * all that queued at once as one transaction: many appends share one COMMIT
 * (group commit), and none is answered before the COMMIT came back, so a
 * RECEIPT means committed. Consecutive appends to one room in a batch become
 * one locked read of the room row and one multi-row INSERT.
 *
 * An operation is a short sequence of steps; each step sends one or more
 * statements in one round trip (CLIENT_MULTI_STATEMENTS) and decides from
 * their answers what to send next. Each op of a batch runs after a
 * SAVEPOINT, so one refused op is rolled back alone. The reads of a
 * history request (room look-up, pages, reactions) have prepared
 * statements too, per connection (ps_send): one such read that starts a
 * round trip is executed alone in the binary protocol.
 *
 * Correctness across chatd instances rests on InnoDB's row locks under READ
 * COMMITTED: an append reads its room row (which holds last_seq) FOR UPDATE
 * and holds that lock until COMMIT, so seq is gap-free and strictly
 * increasing whoever appends; a claim is a conditional UPDATE, so one
 * claimant wins; group changes and erasures lock the room rows first. A
 * deadlock or lock wait timeout rolls the batch back and runs it again.
 * The schema is versioned in chatd_schema and migrated under GET_LOCK, so
 * instances starting together migrate once.
 *
 * Durability: an op is answered after its transaction's COMMIT returned, so
 * as durable as the server makes a commit (innodb_flush_log_at_trx_commit =
 * 1, the default: the redo log is flushed at commit; with the binary log on,
 * sync_binlog = 1 too). An op cut off by a lost connection is answered
 * UNAVAILABLE though its COMMIT may have landed: a client retrying an append
 * with its client-id then gets EXISTS, not a second copy. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getaddrinfo_a */
#endif
#include <chatd/plugin.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>
#include <netdb.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_conf.h"
#include "room_columns.h"
#include "storage_op.h"

#define SCHEMA_VERSION 9
#define MAX_BATCH 256 /* ops per transaction */
#define MAX_TRIES 5   /* runs of a batch rolled back by deadlocks before giving up */
#define LIST_MAX 1000 /* room_list's answer when the filter gives no limit */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define LOOKUP_POLL_MS 10
#define MAX_PIPE 64   /* one-step reads sent in one round trip */
#define MIGRATION_LOCK "'chatd_schema_migration'"

/* ------------------------------------------------------------- schema */

/* Identifiers compare byte for byte (utf8mb4_bin); bodies are bytes. A
 * user name is at most 255 characters (the core's bound), a room id 64. */
#define TXT(n) "VARCHAR(" #n ") CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
static const char *const migrations[SCHEMA_VERSION] = {
    "CREATE TABLE IF NOT EXISTS chatd_rooms ("
    " id " TXT(64) " NOT NULL PRIMARY KEY, kind TINYINT NOT NULL, state TINYINT NOT NULL,"
    " title TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL, owner " TXT(255) " NULL, agent " TXT(255) " NULL,"
    " created_ms BIGINT NOT NULL, assigned_ms BIGINT NOT NULL DEFAULT 0, closed_ms BIGINT NOT NULL DEFAULT 0,"
    " last_seq BIGINT UNSIGNED NOT NULL DEFAULT 0, joins BIGINT NOT NULL DEFAULT 0,"
    " unique_key " TXT(255) " NULL,"
    /* created_ms ties are common; this keeps the queue first come, first served */
    " ord BIGINT NOT NULL AUTO_INCREMENT,"
    " UNIQUE KEY chatd_rooms_key (unique_key), UNIQUE KEY chatd_rooms_ord (ord),"
    " KEY chatd_rooms_queue (kind, state, created_ms, ord), KEY chatd_rooms_agent (agent),"
    " KEY chatd_rooms_closed (state, closed_ms)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n"
    /* role: 1 member, 2 admin (the owner is chatd_rooms.owner); joined:
     * join order, from chatd_rooms.joins */
    "CREATE TABLE IF NOT EXISTS chatd_members ("
    " room " TXT(64) " NOT NULL, user_id " TXT(255) " NOT NULL, role TINYINT NOT NULL DEFAULT 1,"
    " joined BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (room, user_id), KEY chatd_members_user (user_id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n"
    /* The primary key serves "newest N before seq" as a backward range scan.
     * A client id may be long, so uniqueness of (sender, client id) per
     * room is kept on a digest of the pair. */
    "CREATE TABLE IF NOT EXISTS chatd_messages ("
    " room " TXT(64) " NOT NULL, seq BIGINT UNSIGNED NOT NULL, id " TXT(100) " NOT NULL,"
    " sender " TXT(255) " NOT NULL, client_id " TXT(4000) " NULL, ts_ms BIGINT NOT NULL, body LONGBLOB NOT NULL,"
    " cid_key BINARY(32) AS (UNHEX(SHA2(CONCAT(LENGTH(sender), ':', sender, client_id), 256))) PERSISTENT,"
    " PRIMARY KEY (room, seq), UNIQUE KEY chatd_messages_client (room, cid_key), KEY chatd_messages_sender (sender)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n"
    "CREATE TABLE IF NOT EXISTS chatd_marks ("
    " room " TXT(64) " NOT NULL, user_id " TXT(255) " NOT NULL, seq BIGINT UNSIGNED NOT NULL,"
    " PRIMARY KEY (room, user_id), KEY chatd_marks_user (user_id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    /* 2: edits and deletes (SDK 2.2): a room's revision counter, apart from
     * last_seq; a message's rev (0: never changed), when, and whether it is
     * deleted; the changed messages by revision. */
    "ALTER TABLE chatd_rooms ADD COLUMN IF NOT EXISTS last_rev BIGINT UNSIGNED NOT NULL DEFAULT 0;\n"
    "ALTER TABLE chatd_messages ADD COLUMN IF NOT EXISTS rev BIGINT UNSIGNED NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS edited_ms BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS deleted TINYINT NOT NULL DEFAULT 0,"
    " ADD KEY IF NOT EXISTS chatd_messages_rev (room, rev)",
    /* 3: what a message is (SDK 2.1): its media type as accepted (NULL:
     * not known, a message stored before), its kind, the seq it replies to */
    "ALTER TABLE chatd_messages ADD COLUMN IF NOT EXISTS content_type " TXT(255) " NULL,"
    " ADD COLUMN IF NOT EXISTS kind TINYINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS reply_to BIGINT UNSIGNED NOT NULL DEFAULT 0",
    /* 4: the support desk (SDK 2.3). One row per agent whose lock orders
     * the operations that count the agent's open rooms (a claim under a
     * limit, a reopen), from any instance. closed_ms of a COMPLETED room:
     * when it was completed. */
    "CREATE TABLE IF NOT EXISTS chatd_agents (agent " TXT(255) " NOT NULL PRIMARY KEY"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    /* 5: reactions (SDK 2.5): one row per (message, emoji, user); the
     * emoji as bytes (compared and ordered byte for byte, no padding);
     * they go with their message. */
    "CREATE TABLE IF NOT EXISTS chatd_reactions ("
    " room " TXT(64) " NOT NULL, seq BIGINT UNSIGNED NOT NULL, emoji VARBINARY(32) NOT NULL,"
    " user_id " TXT(255) " NOT NULL, PRIMARY KEY (room, seq, emoji, user_id), KEY chatd_reactions_user (user_id),"
    " CONSTRAINT chatd_reactions_message FOREIGN KEY (room, seq) REFERENCES chatd_messages (room, seq)"
    " ON DELETE CASCADE"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    /* 6: the customer's rating of a support room (SDK 2.6): 1..5, 0
     * unrated; a comment of at most 1000 bytes of UTF-8. */
    "ALTER TABLE chatd_rooms ADD COLUMN IF NOT EXISTS rating TINYINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS rating_comment TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,"
    " ADD COLUMN IF NOT EXISTS rated_ms BIGINT NOT NULL DEFAULT 0",
    /* 7: canned replies (SDK 2.8), one per (desk, shortcut); desk and
     * shortcut as bytes (compared and ordered byte for byte, no padding).
     * One row per desk whose lock orders the puts into it, from any
     * instance, so that its bound is counted and the reply stored in one
     * step. */
    "CREATE TABLE IF NOT EXISTS chatd_canned ("
    " desk VARBINARY(64) NOT NULL, shortcut VARBINARY(128) NOT NULL,"
    " title TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,"
    " body TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, updated_by " TXT(255) " NOT NULL,"
    " updated_ms BIGINT NOT NULL, PRIMARY KEY (desk, shortcut)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n"
    "CREATE TABLE IF NOT EXISTS chatd_canned_desks (desk VARBINARY(64) NOT NULL PRIMARY KEY"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    /* 8: a support room's topic (SDK 2.12): at most 32 bytes of a-z, 0-9,
     * '-' and '_' (chatd checks); NULL: none. */
    "ALTER TABLE chatd_rooms ADD COLUMN IF NOT EXISTS topic VARBINARY(32) NULL",
    /* 9: whether a reaction was ever added in the room (set with the
     * first, never cleared): a page read of a room without tells that its
     * messages have none (SDK 2.13 reactions hint) */
    "ALTER TABLE chatd_rooms ADD COLUMN IF NOT EXISTS reacted TINYINT NOT NULL DEFAULT 0;\n"
    "UPDATE chatd_rooms SET reacted = 1 WHERE id IN (SELECT room FROM chatd_reactions)",
};

/* ---------------------------------------------------------- strings */

struct sb {
    char *p;
    size_t len, cap;
    bool oom;
};

static bool sb_grow(struct sb *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void sb_add(struct sb *b, const char *s)
{
    size_t n = strlen(s);
    if (sb_grow(b, n)) {
        memcpy(b->p + b->len, s, n + 1);
        b->len += n;
    }
}

static void sb_fmt(struct sb *b, const char *fmt, ...) CHATD_PRINTF(2, 3);
static void sb_fmt(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !sb_grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A quoted, escaped string literal (in the connection's utf8mb4), or NULL. */
static void sb_str(struct sb *b, MYSQL *my, const char *s)
{
    if (!s) {
        sb_add(b, "NULL");
        return;
    }
    size_t n = strlen(s);
    if (!sb_grow(b, 2 * n + 2))
        return;
    b->p[b->len++] = '\'';
    b->len += mysql_real_escape_string(my, b->p + b->len, s, (unsigned long)n);
    b->p[b->len++] = '\'';
    b->p[b->len] = 0;
}

/* A value: a literal as sb_str writes it, or without a connection a
 * parameter marker (the text of a prepared statement). */
static void sb_val(struct sb *b, MYSQL *my, const char *s)
{
    if (my)
        sb_str(b, my, s);
    else
        sb_add(b, "?");
}

/* Bytes as a hexadecimal literal: binary-safe whatever they hold. */
static void sb_bytes(struct sb *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!sb_grow(b, 2 * n + 3))
        return;
    char *w = b->p + b->len;
    *w++ = 'X';
    *w++ = '\'';
    for (size_t i = 0; i < n; i++) {
        *w++ = hex[(unsigned char)s[i] >> 4];
        *w++ = hex[(unsigned char)s[i] & 15];
    }
    *w++ = '\'';
    *w = 0;
    b->len = (size_t)(w - b->p);
}

/* -------------------------------------------------------------- ops */

/* An op's memory: allocations bumped out of blocks of ARENA_BLOCK bytes
 * (a larger one gets a block of its own), freed all at once. */
struct block {
    struct block *next;
    size_t used, cap;
    max_align_t align[];
};
#define ARENA_BLOCK 4096

struct mystore;

struct op {
    struct mystore *st;
    enum op_kind kind;
    void *cb, *ctx;
    struct op *next;      /* in a queue */
    struct op *more;      /* appends of one room sent with this one */
    const char *route;    /* the room, or NULL */
    struct block *args;   /* copies of the call's arguments */
    struct block *ans;    /* the answer's data */
    bool oom;
    bool careful;         /* an append chain that looks up client ids first; a look-up or a
                           * page read taken again by its slower, surer form */
    uint64_t cid_hash;    /* an append's (sender, client id), 0 without one */
    int step;
    chatd_status status;
    /* arguments */
    struct chatd_room room_arg;
    const char *const *members_arg;
    const char *key, *user, *agent, *title;
    int64_t now;
    uint64_t before, after, seq;
    size_t limit;
    bool with_room;       /* a page read answered with its room (room_page) */
    struct chatd_room_filter filter;
    struct chatd_group_change change;
    struct chatd_message msg_arg;
    struct chatd_message_edit edit;
    const char *to;   /* room_transfer: the new agent, NULL: the queue */
    int64_t after_ms; /* room_reopen: completed at or after */
    char **rooms_arg;     /* search: the rooms to search */
    size_t nrooms_arg;
    /* answer */
    struct chatd_room *rooms;
    struct chatd_message *msgs;
    size_t n;
    struct chatd_erase_result erased;
    struct chatd_reaction_change react;
    const uint64_t *seqs; /* reaction_list */
    size_t nseqs;
    struct chatd_reaction_count *counts;
    size_t ncounts;
    struct chatd_canned_reply canned;   /* canned_put's argument; desk and shortcut of the others */
    struct chatd_canned_reply *replies; /* canned_list's answer */
    const char **purged;                /* room_purge_ids' answer */
    size_t npurged;
    /* state carried between steps */
    uint64_t base;
    char **ids;
    size_t nids;
};

enum conn_state { C_DOWN, C_RESOLVING, C_CONNECTING, C_SETUP, C_READY };
enum io_phase { P_NONE, P_CONNECT, P_QUERY, P_STORE, P_NEXT, P_PREPARE, P_EXECUTE, P_STMT_STORE };

/* The rows of a prepared statement's answer, each value as text (numbers
 * converted by the library) and NUL-terminated, as a text answer's are:
 * the readers take either. One block per row: its lengths, then its
 * values' pointers, then the values; the blocks lie back to back in
 * chunks, so that a page of rows costs a few allocations, not one each. */
struct rows_chunk {
    struct rows_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct rows {
    unsigned ncols;
    size_t n, cap, at;
    void **row;
    struct rows_chunk *chunks;
};

/* One statement's answer: a text result (res), a prepared statement's rows
 * (rows), or neither (affected rows). */
struct result {
    MYSQL_RES *res;
    struct rows *rows;
    uint64_t affected;
};

/* Prepared statements, per connection, prepared once after the schema
 * check and again after every reconnect: the room look-up without and with
 * a reader; the page reads of one room for chains of 1, 2, 4, ... up to
 * PS_PAGES_MAX pages (a chain is padded with empty spans to the next); the
 * reaction reads of a room for 1, 2, 4, ... up to PS_PAGES_MAX runs of
 * seqs (padded with empty runs). */
#define PS_PAGE_SIZES 6
#define PS_PAGES_MAX (1u << (PS_PAGE_SIZES - 1))
enum { PS_GET, PS_GET_READER, PS_PAGES, PS_REACTIONS = PS_PAGES + PS_PAGE_SIZES,
       PS_COUNT = PS_REACTIONS + PS_PAGE_SIZES };
#define PS_MAX_PARAMS (4 * PS_PAGES_MAX + 2)

struct conn {
    struct mystore *st;
    MYSQL *my;
    enum conn_state state;
    enum io_phase phase;
    struct event *io, *timer, *kick, *tick;
    long backoff_ms;
    /* a host name being looked up (Connector/C would block on it) */
    struct gaicb *lookup;
    char address[INET6_ADDRSTRLEN];
    /* the statements in flight and their answers so far */
    struct sb sql;
    struct result *res;
    size_t nres, capres;
    unsigned err;
    char errmsg[256];
    void (*done)(struct conn *c);
    int setup_step;
    /* ops */
    struct op *qhead, *qtail;
    size_t nq;
    struct op **batch;
    size_t nbatch, cur, skip;
    int tries;
    bool busy, in_txn;
    /* reads sent together: how many, and the statements of each */
    size_t npipe;
    size_t pipe_stmts[MAX_PIPE];
    bool no_pipe;
    bool commit_sent; /* the round trip in flight ends with the COMMIT */
    /* prepared statements (NULL before they are), the one in flight, and
     * the parameters of an execution */
    MYSQL_STMT *ps[PS_COUNT];
    bool ps_ok;
    int ps_next;
    MYSQL_STMT *stmt;
    MYSQL_BIND params[PS_MAX_PARAMS];
    uint64_t pnum[PS_MAX_PARAMS];
    unsigned long plen[PS_MAX_PARAMS];
};

struct mystore {
    const struct chatd_host *host;
    char *hostname, *user, *password, *database, *socket;
    char *tls_ca, *tls_cert, *tls_key;
    bool tls, tls_verify;
    int port;
    long long connect_timeout_ms, max_pending;
    size_t pending, nconns, rr;
    struct conn *conns;
    bool ready, dead;
    size_t posted;
    struct op *whead, *wtail; /* waiting for a first connection on its way */
    char why[300];
};

/* n bytes and a NUL after them, zeroed, aligned as malloc's. */
static void *arena(struct op *o, struct block **list, size_t n)
{
    size_t size = n / sizeof(max_align_t) * sizeof(max_align_t) + sizeof(max_align_t);
    struct block *b = *list;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
        struct block *nb = malloc(sizeof *nb + cap);
        if (!nb) {
            o->oom = true;
            return NULL;
        }
        nb->used = 0;
        nb->cap = cap;
        if (b && cap == size) {
            /* a large one: the block being filled stays first */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            *list = nb;
        }
        b = nb;
    }
    void *p = (char *)b->align + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

static char *copy_n(struct op *o, struct block **list, const char *s, size_t n)
{
    char *p = arena(o, list, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

static const char *astr(struct op *o, const char *s)
{
    return s ? copy_n(o, &o->args, s, strlen(s)) : NULL;
}

static void blocks_free(struct block *b)
{
    for (struct block *next; b; b = next) {
        next = b->next;
        free(b);
    }
}

static void answer_reset(struct op *o)
{
    blocks_free(o->ans);
    o->ans = NULL;
    o->rooms = NULL;
    o->msgs = NULL;
    o->n = 0;
    o->step = 0;
    o->status = CHATD_OK;
    o->ids = NULL;
    o->nids = 0;
    o->base = 0;
    o->erased = (struct chatd_erase_result){.size = sizeof o->erased};
    o->counts = NULL;
    o->ncounts = 0;
}

static void op_free(struct op *o)
{
    while (o) {
        struct op *more = o->more;
        blocks_free(o->ans);
        blocks_free(o->args);
        free(o);
        o = more;
    }
}

/* ----------------------------------------- filling the SDK's structs */

/* The only places that fill chatd_room and chatd_message (SDK 2: each
 * answer carries its own size). */

static struct chatd_room *rooms_alloc(struct op *o, size_t n)
{
    return n ? arena(o, &o->ans, n * sizeof(struct chatd_room)) : NULL;
}

static struct chatd_message *messages_alloc(struct op *o, size_t n)
{
    return n ? arena(o, &o->ans, n * sizeof(struct chatd_message)) : NULL;
}

static const char *col(struct op *o, MYSQL_ROW row, unsigned long *len, int i)
{
    return row[i] ? copy_n(o, &o->ans, row[i], len[i]) : NULL;
}

static int64_t col_i64(MYSQL_ROW row, int i)
{
    return row[i] ? strtoll(row[i], NULL, 10) : 0;
}

static uint64_t col_u64(MYSQL_ROW row, int i)
{
    return row[i] ? strtoull(row[i], NULL, 10) : 0;
}

static bool res_has_rows(const struct result *r)
{
    return r && (r->res || r->rows);
}

static void res_rewind(struct result *r)
{
    if (r->res)
        mysql_data_seek(r->res, 0);
    else if (r->rows)
        r->rows->at = 0;
}

/* The next row of a text or a prepared answer, and its lengths. */
static MYSQL_ROW res_fetch(struct result *r, unsigned long **len)
{
    if (r->res) {
        MYSQL_ROW row = mysql_fetch_row(r->res);
        if (row)
            *len = mysql_fetch_lengths(r->res);
        return row;
    }
    if (!r->rows || r->rows->at >= r->rows->n)
        return NULL;
    unsigned long *l = r->rows->row[r->rows->at++];
    *len = l;
    return (MYSQL_ROW)(l + r->rows->ncols);
}

static void rows_free(struct rows *rs)
{
    if (!rs)
        return;
    for (struct rows_chunk *k = rs->chunks, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    free(rs->row);
    free(rs);
}

#define ROWS_CHUNK 65536
/* size bytes for one row's block, aligned as malloc's; NULL when out of
 * memory. */
static void *rows_block(struct rows *rs, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct rows_chunk *k = rs->chunks;
    if (!k || k->cap - k->used < size) {
        size_t cap = size > ROWS_CHUNK ? size : ROWS_CHUNK;
        if (!(k = malloc(sizeof *k + cap)))
            return NULL;
        *k = (struct rows_chunk){.next = rs->chunks, .cap = cap};
        rs->chunks = k;
    }
    void *p = (char *)k->data + k->used;
    k->used += size;
    return p;
}

/* Columns: id, kind, state, title, owner, agent, created_ms, assigned_ms,
 * last_seq, closed_ms. Members, marks and the last message come later. */
#define ROOM_COLS "r.id, r.kind, r.state, r.title, r.owner, r.agent, r.created_ms, r.assigned_ms, r.last_seq, r.closed_ms"
/* SDK 2.6: rating, rating_comment, rated_ms, and (SDK 2.12) topic, after
 * ROOM_COLS (sql_rooms) or apart from them (sql_room_one). */
#define ROOM_RATING_COLS "r.rating, r.rating_comment, r.rated_ms, r.topic"
static void room_fill_rating(struct op *o, struct chatd_room *r, MYSQL_ROW row, unsigned long *len, int c0)
{
    r->rating = (uint32_t)col_i64(row, c0);
    r->rating_comment = r->rating ? col(o, row, len, c0 + 1) : NULL;
    r->rated_ms = col_i64(row, c0 + 2);
    r->topic = col(o, row, len, c0 + 3);
}

static void room_fill(struct op *o, struct chatd_room *r, MYSQL_ROW row, unsigned long *len)
{
    memset(r, 0, sizeof *r);
    r->size = sizeof *r;
    r->id = col(o, row, len, 0);
    r->kind = (chatd_room_kind)col_i64(row, 1);
    r->state = (chatd_room_state)col_i64(row, 2);
    r->title = col(o, row, len, 3);
    r->owner = col(o, row, len, 4);
    r->agent = col(o, row, len, 5);
    r->created_ms = col_i64(row, 6);
    r->assigned_ms = col_i64(row, 7);
    r->last_seq = col_u64(row, 8);
    r->closed_ms = col_i64(row, 9);
}

static void room_set_members(struct chatd_room *r, const char **members, size_t n, const char **admins,
                             size_t nadmins)
{
    r->members = members;
    r->nmembers = n;
    r->admins = nadmins ? admins : NULL;
    r->nadmins = nadmins;
}

static void room_set_reader(struct chatd_room *r, uint64_t read_seq, const struct chatd_message *last)
{
    r->read_seq = read_seq;
    r->last_message = last;
}

/* Columns: seq, id, sender, client_id, ts_ms, body, rev, edited_ms, deleted,
 * content_type, kind, reply_to. */
#define MSG_COLS \
    "m.seq, m.id, m.sender, m.client_id, m.ts_ms, m.body, m.rev, m.edited_ms, m.deleted, m.content_type, m.kind, m.reply_to"
#define MSG_NCOLS 12
/* MSG_NCOLS - 1 NULLs: a placeholder row of a UNION with 1 + MSG_COLS
 * (step_history) after its tag and one value */
#define MSG_NULLS "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
static void message_fill(struct op *o, struct chatd_message *m, const char *room, MYSQL_ROW row, unsigned long *len)
{
    memset(m, 0, sizeof *m);
    m->size = sizeof *m;
    m->room = room;
    m->seq = col_u64(row, 0);
    m->id = col(o, row, len, 1);
    m->sender = col(o, row, len, 2);
    m->client_id = col(o, row, len, 3);
    m->ts_ms = col_i64(row, 4);
    m->body = row[5] ? copy_n(o, &o->ans, row[5], len[5]) : copy_n(o, &o->ans, "", 0);
    m->body_len = row[5] ? len[5] : 0;
    m->rev = col_u64(row, 6);
    m->edited_ms = col_i64(row, 7);
    m->deleted = col_i64(row, 8) != 0;
    m->content_type = col(o, row, len, 9);
    m->kind = (chatd_message_kind)col_i64(row, 10);
    m->reply_to = col_u64(row, 11);
}

/* ------------------------------------------------------ answering */

static void store_free(struct mystore *st);

static void op_answer(struct op *o, chatd_status s)
{
    if (o->kind == OP_ERASE) {
        o->erased.size = sizeof o->erased;
        storage_op_answer_erase(o->cb, o->ctx, s, &o->erased);
    } else if (o->kind == OP_REACT || o->kind == OP_REACTIONS)
        storage_op_answer_reactions(o->cb, o->ctx, s, o->counts, o->ncounts);
    else if (o->kind == OP_CANNED_LIST)
        storage_op_answer_canned(o->cb, o->ctx, s, o->replies, o->n);
    else if (o->kind == OP_PURGE_IDS)
        storage_op_answer_ids(o->cb, o->ctx, s, o->purged, o->npurged);
    else if (o->kind == OP_HISTORY && o->with_room) /* room_page */
        storage_op_answer_room_page(o->cb, o->ctx, s, o->rooms, o->msgs, o->n);
    else
        storage_op_answer(o->kind, o->cb, o->ctx, s, o->rooms, o->msgs, o->n);
}

/* Answer o and every append sent with it; frees them. */
static void op_finish(struct op *o, chatd_status s)
{
    struct mystore *st = o->st;
    for (struct op *a = o, *next; a; a = next) {
        next = a->more;
        a->more = NULL;
        if (st->pending)
            st->pending--;
        op_answer(a, s == CHATD_OK ? a->status : s);
        op_free(a);
    }
}

static void posted_finish(void *arg)
{
    struct op *o = arg;
    struct mystore *st = o->st;
    st->posted--;
    if (st->dead) {
        op_free(o);
        if (!st->posted)
            store_free(st);
        return;
    }
    op_finish(o, o->status);
}

/* Answer o after the call that started it returned. */
static void finish_later(struct op *o, chatd_status s)
{
    struct mystore *st = o->st;
    for (struct op *a = o; a; a = a->more)
        a->status = s;
    if (st->host->post(st->host, posted_finish, o) == CHATD_OK)
        st->posted++;
    else
        op_free(o); /* the host is shutting down: no answer expected */
}

/* ------------------------------------------------- building queries */

/* The room rows of `where` (on chatd_rooms r), oldest first. */
static void sql_rooms(struct sb *b, const char *where, size_t limit, const char *lock)
{
    sb_fmt(b, "SELECT " ROOM_COLS ", " ROOM_RATING_COLS " FROM chatd_rooms r WHERE %s ORDER BY r.created_ms, r.ord",
           where);
    if (limit)
        sb_fmt(b, " LIMIT %zu", limit);
    if (lock)
        sb_add(b, lock);
}

static void sql_idlist(struct sb *b, MYSQL *my, char *const *ids, size_t n)
{
    sb_add(b, "(");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_add(b, ",");
        sb_str(b, my, ids[i]);
    }
    sb_add(b, ")");
}

/* What completes rooms already read: members in join order (with roles),
 * and for a reader their read mark and the newest message. 2 or 4 results. */
static void sql_room_rest(struct sb *b, MYSQL *my, char *const *ids, size_t n, const char *for_user)
{
    sb_add(b, "SELECT m.room, m.user_id, m.role FROM chatd_members m WHERE m.room IN ");
    sql_idlist(b, my, ids, n);
    sb_add(b, " ORDER BY m.room, m.joined, m.user_id");
    if (!for_user)
        return;
    sb_add(b, ";SELECT k.room, k.seq FROM chatd_marks k WHERE k.user_id = ");
    sb_str(b, my, for_user);
    sb_add(b, " AND k.room IN ");
    sql_idlist(b, my, ids, n);
    sb_add(b, ";SELECT " MSG_COLS ", m.room FROM chatd_rooms r JOIN chatd_messages m"
              " ON m.room = r.id AND m.seq = r.last_seq WHERE r.id IN ");
    sql_idlist(b, my, ids, n);
}

/* One room, whole: 3 or 5 results (its row first). */
static void sql_room_view(struct sb *b, MYSQL *my, const char *id, const char *for_user)
{
    struct sb w = {0};
    sb_add(&w, "r.id = ");
    sb_str(&w, my, id);
    sql_rooms(b, w.oom ? "FALSE" : w.p, 0, NULL);
    b->oom |= w.oom;
    free(w.p);
    sb_add(b, ";");
    char *ids[1] = {(char *)id};
    sql_room_rest(b, my, ids, 1, for_user);
}

/* ------------------------------------------------- reading answers */

static size_t find_room(struct op *o, const char *id, size_t hint)
{
    if (hint < o->n && strcmp(o->rooms[hint].id, id) == 0)
        return hint;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->rooms[i].id, id) == 0)
            return i;
    return o->n;
}

static void read_rooms(struct op *o, MYSQL_RES *res)
{
    size_t rows = res ? (size_t)mysql_num_rows(res) : 0;
    o->rooms = rooms_alloc(o, rows);
    o->n = 0;
    if (rows && !o->rooms)
        return;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        unsigned long *len = mysql_fetch_lengths(res);
        room_fill(o, &o->rooms[o->n], row, len);
        room_fill_rating(o, &o->rooms[o->n++], row, len, 10);
    }
    o->ids = o->n ? arena(o, &o->ans, o->n * sizeof *o->ids) : NULL;
    for (size_t i = 0; o->ids && i < o->n; i++)
        o->ids[i] = (char *)o->rooms[i].id;
    o->nids = o->ids ? o->n : 0;
}

/* r: the results of sql_room_rest. */
static void read_room_rest(struct op *o, struct result *r, size_t nr, bool for_user)
{
    if (nr < (for_user ? 3u : 1u) || !r[0].res)
        return;
    MYSQL_RES *mem = r[0].res;
    size_t *count = calloc(o->n + 1, sizeof *count), *admins = calloc(o->n + 1, sizeof *admins);
    const char ***lists = calloc(o->n + 1, sizeof *lists), ***alists = calloc(o->n + 1, sizeof *alists);
    if (!count || !admins || !lists || !alists) {
        o->oom = true;
        goto out;
    }
    MYSQL_ROW row;
    size_t at = 0;
    while ((row = mysql_fetch_row(mem))) {
        at = find_room(o, row[0], at);
        if (at < o->n) {
            count[at]++;
            admins[at] += col_i64(row, 2) == 2;
        }
    }
    for (size_t i = 0; i < o->n; i++) {
        lists[i] = count[i] ? arena(o, &o->ans, count[i] * sizeof(char *)) : NULL;
        alists[i] = admins[i] ? arena(o, &o->ans, admins[i] * sizeof(char *)) : NULL;
        room_set_members(&o->rooms[i], lists[i], 0, alists[i], 0);
        count[i] = admins[i] = 0;
    }
    mysql_data_seek(mem, 0);
    while ((row = mysql_fetch_row(mem))) {
        unsigned long *len = mysql_fetch_lengths(mem);
        at = find_room(o, row[0], at);
        if (at >= o->n || !lists[at])
            continue;
        const char *u = col(o, row, len, 1);
        lists[at][count[at]++] = u;
        if (col_i64(row, 2) == 2 && alists[at])
            alists[at][admins[at]++] = u;
    }
    for (size_t i = 0; i < o->n; i++)
        room_set_members(&o->rooms[i], lists[i], count[i], alists[i], admins[i]);
    if (for_user && r[1].res && r[2].res) {
        uint64_t *marks = calloc(o->n + 1, sizeof *marks);
        const struct chatd_message **last = calloc(o->n + 1, sizeof *last);
        if (!marks || !last)
            o->oom = true;
        while (marks && (row = mysql_fetch_row(r[1].res))) {
            at = find_room(o, row[0], at);
            if (at < o->n)
                marks[at] = col_u64(row, 1);
        }
        while (last && (row = mysql_fetch_row(r[2].res))) {
            at = find_room(o, row[MSG_NCOLS], at); /* m.room, after MSG_COLS */
            struct chatd_message *m = at < o->n ? messages_alloc(o, 1) : NULL;
            if (!m)
                continue;
            message_fill(o, m, o->rooms[at].id, row, mysql_fetch_lengths(r[2].res));
            last[at] = m;
        }
        for (size_t i = 0; marks && last && i < o->n; i++)
            room_set_reader(&o->rooms[i], marks[i], last[i]);
        free(marks);
        free(last);
    }
out:
    free(count);
    free(admins);
    free(lists);
    free(alists);
}

/* r: the results of sql_room_view. False when there is no such room. */
static bool read_room_view(struct op *o, struct result *r, size_t nr, const char *for_user)
{
    if (nr < 2 || !r[0].res)
        return false;
    read_rooms(o, r[0].res);
    if (o->n == 0)
        return false;
    read_room_rest(o, r + 1, nr - 1, for_user != NULL);
    return true;
}

/* ------------------------------------------------------ op steps */

/* Each step reads the answers r[0..nr) of what the previous step sent
 * (nothing at step 0), then either appends the next statements to `b` and
 * returns true, or sets o->status and returns false: the op is done. */

static bool step_create(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    const struct chatd_room *a = &o->room_arg;
    switch (o->step) {
    case 0:
        /* ON DUPLICATE KEY: a room with this id or key already there is no
         * error; affected rows say whether ours went in. */
        sb_add(b, "INSERT INTO chatd_rooms (id, kind, state, title, owner, agent, created_ms, assigned_ms,"
                  " unique_key, topic, joins) VALUES (");
        sb_str(b, my, a->id);
        sb_fmt(b, ", %d, %d, ", (int)a->kind, (int)a->state);
        sb_str(b, my, a->title);
        sb_add(b, ", ");
        sb_str(b, my, a->owner);
        sb_add(b, ", ");
        sb_str(b, my, a->agent);
        sb_fmt(b, ", %lld, %lld, ", (long long)a->created_ms, (long long)a->assigned_ms);
        sb_str(b, my, o->key);
        sb_add(b, ", ");
        sb_str(b, my, a->topic);
        sb_fmt(b, ", %zu) ON DUPLICATE KEY UPDATE id = id", a->nmembers);
        return true;
    case 1:
        if (nr >= 1 && r[0].affected == 1) {
            if (a->nmembers) {
                sb_add(b, "INSERT INTO chatd_members (room, user_id, role, joined) VALUES ");
                for (size_t i = 0; i < a->nmembers; i++) {
                    sb_add(b, i ? ",(" : "(");
                    sb_str(b, my, a->id);
                    sb_add(b, ", ");
                    sb_str(b, my, o->members_arg[i]);
                    sb_fmt(b, ", 1, %zu)", i + 1);
                }
                sb_add(b, " ON DUPLICATE KEY UPDATE role = role;");
            } else {
                sb_add(b, "DO 0;");
            }
            sql_room_view(b, my, a->id, NULL);
            o->step = 10;
            return true;
        }
        /* someone holds the id or the key: answer with their room */
        sb_add(b, "SELECT id FROM chatd_rooms WHERE unique_key = ");
        sb_str(b, my, o->key ? o->key : "");
        sb_add(b, " AND ");
        sb_add(b, o->key ? "TRUE" : "FALSE");
        sb_add(b, " UNION ALL SELECT id FROM chatd_rooms WHERE id = ");
        sb_str(b, my, a->id);
        return true;
    case 2: {
        MYSQL_ROW row = nr >= 1 && r[0].res ? mysql_fetch_row(r[0].res) : NULL;
        if (!row) {
            /* the holder went away after we collided with it: again */
            o->step = -1;
            sb_add(b, "DO 0");
            return true;
        }
        const char *other = col(o, row, mysql_fetch_lengths(r[0].res), 0);
        if (!other)
            return false;
        sql_room_view(b, my, other, NULL);
        o->step = 20;
        return true;
    }
    default:
        break;
    case 11:
        o->status = read_room_view(o, r + 1, nr - 1, NULL) ? CHATD_OK : CHATD_ERR_INTERNAL;
        return false;
    case 21:
        o->status = read_room_view(o, r, nr, NULL) ? CHATD_ERR_EXISTS : CHATD_ERR_INTERNAL;
        if (o->status == CHATD_ERR_INTERNAL) {
            /* gone again between the look-up and the view */
            answer_reset(o);
            o->step = -1;
            sb_add(b, "DO 0");
            return true;
        }
        return false;
    }
    o->status = CHATD_ERR_INTERNAL;
    return false;
}

/* The longest members column of sql_room_one (GROUP_CONCAT's limit, set
 * for the session at connect): a longer list is cut, and an answer this
 * close to it is read again by sql_room_all. */
#define MEMBERS_MAX 1048576 /* as setup_send sets it */

/* One room, whole, in one statement of one row, without a UNION (the
 * optimizer then reads the room, the reader's mark and the newest message
 * by their primary keys as constants): ROOM_COLS (0 to 9), ROOM_RATING_COLS
 * (10 to 13), the members in join order (14: each "role:bytes:user_id",
 * binary-safe by its length, read by members_parse); for a reader their
 * read mark (15) and the newest message as MSG_COLS (16 to 27, NULL when
 * there is none). The parameters: the reader, then the room. */
static void sql_room_one(struct sb *b, MYSQL *my, const char *id, const char *for_user)
{
    sb_add(b, "SELECT " ROOM_COLS ", " ROOM_RATING_COLS ", (SELECT GROUP_CONCAT(mm.role, ':', LENGTH(mm.user_id),"
              " ':', mm.user_id ORDER BY mm.joined, mm.user_id SEPARATOR '') FROM chatd_members mm"
              " WHERE mm.room = r.id)");
    if (for_user) {
        sb_add(b, ", k.seq, " MSG_COLS " FROM chatd_rooms r LEFT JOIN chatd_marks k ON k.room = r.id"
                  " AND k.user_id = ");
        sb_val(b, my, for_user);
        sb_add(b, " LEFT JOIN chatd_messages m ON m.room = r.id AND m.seq = r.last_seq");
    } else {
        sb_add(b, " FROM chatd_rooms r");
    }
    sb_add(b, " WHERE r.id = ");
    sb_val(b, my, id);
}

/* The members column of sql_room_one into the room; false when it may
 * have been cut (then sql_room_all reads the room again). */
static bool members_parse(struct op *o, struct chatd_room *room, const char *s, size_t len)
{
    if (!s) {
        room_set_members(room, NULL, 0, NULL, 0);
        return true;
    }
    if (len + 16 >= MEMBERS_MAX)
        return false;
    const char *end = s + len, *p = s, *u;
    size_t nmembers = 0, nadmins = 0, n;
    int64_t role;
    while (p < end) {
        if (!room_member_next(&p, end, &role, &u, &n))
            return false;
        nmembers++;
        nadmins += role == 2;
    }
    const char **members = nmembers ? arena(o, &o->ans, nmembers * sizeof(char *)) : NULL;
    const char **admins = nadmins ? arena(o, &o->ans, nadmins * sizeof(char *)) : NULL;
    size_t nm = 0, na = 0;
    for (p = s; members && p < end && room_member_next(&p, end, &role, &u, &n);) {
        members[nm] = copy_n(o, &o->ans, u, n);
        if (!members[nm])
            break;
        if (admins && na < nadmins && role == 2)
            admins[na++] = members[nm];
        nm++;
    }
    room_set_members(room, members, nm, admins, na);
    return true;
}

/* The row of sql_room_one: 1 found, 0 no such room, -1 read it again
 * with sql_room_all. */
static int read_room_row(struct op *o, struct result *res, bool for_user)
{
    MYSQL_ROW row;
    unsigned long *len;
    if (!res_has_rows(res))
        return 0;
    res_rewind(res);
    if (!(row = res_fetch(res, &len)))
        return 0;
    struct chatd_room *room = o->rooms = rooms_alloc(o, 1);
    if (!room)
        return 1; /* o->oom */
    o->n = 1;
    room_fill(o, room, row, len);
    room_fill_rating(o, room, row, len, 10);
    if (!members_parse(o, room, row[14], len[14])) {
        answer_reset(o);
        return -1;
    }
    if (!for_user)
        return 1;
    struct chatd_message *last = NULL;
    if (row[16] && (last = messages_alloc(o, 1)))
        message_fill(o, last, o->route, row + 16, len + 16);
    room_set_reader(room, col_u64(row, 15), last);
    return 1;
}

/* One room, whole, in one statement, the careful form of sql_room_one
 * (members too many for its GROUP_CONCAT): tagged rows of one shape. 0: the
 * room's row (columns 1 to 10 as ROOM_COLS); 1: a member (user, role), in
 * join order; for a reader 2: their read mark (seq), 3: the newest message
 * (columns 1 to 5 as MSG_COLS without the body, the body alone in column
 * 11, so that no other value shares its column and its type stays bytes;
 * content_type in the room's text column 6, rev, edited_ms, deleted and
 * kind in its integer columns 7 to 10, reply_to in column 12); the room's
 * row has its rating in columns 13 to 15 and its topic in 16
 * (ROOM_RATING_COLS). */
static void sql_room_all(struct sb *b, MYSQL *my, const char *id, const char *for_user)
{
    sb_add(b, "SELECT 0, " ROOM_COLS ", NULL, NULL, " ROOM_RATING_COLS " FROM chatd_rooms r WHERE r.id = ");
    sb_val(b, my, id);
    sb_add(b, " UNION ALL (SELECT 1, m.user_id, m.role, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
              " NULL, NULL, NULL, NULL FROM chatd_members m WHERE m.room = ");
    sb_val(b, my, id);
    /* a LIMIT keeps the ORDER BY of a part of a UNION */
    sb_add(b, " ORDER BY m.joined, m.user_id LIMIT 18446744073709551615)");
    if (!for_user)
        return;
    sb_add(b, " UNION ALL SELECT 2, k.seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
              " NULL, NULL, NULL, NULL FROM chatd_marks k WHERE k.room = ");
    sb_val(b, my, id);
    sb_add(b, " AND k.user_id = ");
    sb_val(b, my, for_user);
    sb_add(b, " UNION ALL SELECT 3, m.seq, m.id, m.sender, m.client_id, m.ts_ms, m.content_type, m.rev, m.edited_ms,"
              " m.deleted, m.kind, m.body, m.reply_to, NULL, NULL, NULL, NULL"
              " FROM chatd_rooms r JOIN chatd_messages m ON m.room = r.id AND m.seq = r.last_seq WHERE r.id = ");
    sb_val(b, my, id);
}

/* The parameters of sql_room_one's prepared form (my NULL), in order. */
static size_t ps_room_one(const char **v, const char *id, const char *for_user)
{
    size_t n = 0;
    if (for_user)
        v[n++] = for_user;
    v[n++] = id;
    return n;
}

/* The rows of sql_room_all. False when there is no such room. */
static bool read_room_one(struct op *o, struct result *res, bool for_user)
{
    if (!res_has_rows(res))
        return false;
    res_rewind(res);
    size_t nmembers = 0, nadmins = 0;
    bool found = false;
    MYSQL_ROW row;
    unsigned long *len;
    while ((row = res_fetch(res, &len))) {
        int64_t t = col_i64(row, 0);
        found |= t == 0;
        nmembers += t == 1;
        nadmins += t == 1 && col_i64(row, 2) == 2;
    }
    if (!found)
        return false;
    struct chatd_room *room = o->rooms = rooms_alloc(o, 1);
    const char **members = nmembers ? arena(o, &o->ans, nmembers * sizeof(char *)) : NULL;
    const char **admins = nadmins ? arena(o, &o->ans, nadmins * sizeof(char *)) : NULL;
    if (!room)
        return true; /* o->oom */
    o->n = 1;
    memset(room, 0, sizeof *room);
    uint64_t mark = 0;
    const struct chatd_message *last = NULL;
    size_t nm = 0, na = 0;
    res_rewind(res);
    while ((row = res_fetch(res, &len))) {
        switch (col_i64(row, 0)) {
        case 0:
            room_fill(o, room, row + 1, len + 1);
            room_fill_rating(o, room, row, len, 13);
            break;
        case 1:
            if (members && nm < nmembers) {
                const char *u = members[nm++] = col(o, row, len, 1);
                if (admins && na < nadmins && col_i64(row, 2) == 2)
                    admins[na++] = u;
            }
            break;
        case 2:
            mark = col_u64(row, 1);
            break;
        case 3: {
            struct chatd_message *m = messages_alloc(o, 1);
            if (!m)
                break;
            MYSQL_ROW mrow = (MYSQL_ROW)(char *[MSG_NCOLS]){row[1], row[2], row[3], row[4], row[5], row[11],
                                                            row[7], row[8], row[9], row[6], row[10], row[12]};
            unsigned long mlen[MSG_NCOLS] = {len[1], len[2], len[3], len[4], len[5],  len[11],
                                             len[7], len[8], len[9], len[6], len[10], len[12]};
            message_fill(o, m, o->route, mrow, mlen);
            last = m;
            break;
        }
        }
    }
    room_set_members(room, members, nm, admins, na);
    if (for_user)
        room_set_reader(room, mark, last);
    return true;
}

/* A chain whose fast read fell short runs again carefully: every answer
 * dropped, o's careful first statement written into b (the caller moves
 * o on to step 1 and sends it). */
static void again_carefully(struct op *o, MYSQL *my, struct sb *b,
                            bool (*step)(struct op *, MYSQL *, struct result *, size_t, struct sb *))
{
    for (struct op *a = o; a; a = a->more)
        answer_reset(a);
    o->careful = true;
    o->step = 0;
    step(o, my, NULL, 0, b);
    o->step = 0;
}

static bool step_get(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        if (o->careful)
            sql_room_all(b, my, o->route, o->user);
        else
            sql_room_one(b, my, o->route, o->user);
        return true;
    }
    /* o and the identical look-ups that joined it: the same rows, each
     * read into an answer of its own */
    if (o->careful) {
        for (struct op *a = o; a; a = a->more)
            a->status = read_room_one(a, nr ? &r[0] : NULL, a->user != NULL) ? CHATD_OK : CHATD_ERR_NOT_FOUND;
        return false;
    }
    int found = 1;
    for (struct op *a = o; a && found >= 0; a = a->more) {
        found = read_room_row(a, nr ? &r[0] : NULL, a->user != NULL);
        a->status = found ? CHATD_OK : CHATD_ERR_NOT_FOUND;
    }
    if (found >= 0)
        return false;
    /* members too many for one column: every look-up again, carefully */
    again_carefully(o, my, b, step_get);
    return true;
}

static bool step_list(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    const struct chatd_room_filter *f = &o->filter;
    if (o->step == 0) {
        struct sb w = {0};
        sb_add(&w, "TRUE");
        if (f->member) {
            sb_add(&w, " AND r.id IN (SELECT mm.room FROM chatd_members mm WHERE mm.user_id = ");
            sb_str(&w, my, f->member);
            sb_add(&w, ")");
        }
        if (f->kind)
            sb_fmt(&w, " AND r.kind = %d", (int)f->kind);
        if (f->state)
            sb_fmt(&w, " AND r.state = %d", (int)f->state);
        if (f->agent) {
            sb_add(&w, " AND r.agent = ");
            sb_str(&w, my, f->agent);
        }
        sql_rooms(b, w.oom ? "FALSE" : w.p, f->limit && f->limit < LIST_MAX ? f->limit : LIST_MAX, NULL);
        b->oom |= w.oom;
        free(w.p);
        return true;
    }
    if (o->step == 1) {
        read_rooms(o, nr ? r[0].res : NULL);
        if (!o->n)
            return false;
        sql_room_rest(b, my, o->ids, o->nids, f->for_user);
        return true;
    }
    read_room_rest(o, r, nr, f->for_user != NULL);
    return false;
}

/* A room-changing step 0 is `change`; then the view tells the answer:
 * `won` (the change's affected rows) OK, else `lost`. */
static bool step_claim(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    switch (o->step) {
    case 0:
        sb_fmt(b, "UPDATE chatd_rooms SET state = 2, agent = ");
        sb_str(b, my, o->agent);
        sb_fmt(b, ", assigned_ms = %lld WHERE id = ", (long long)o->now);
        sb_str(b, my, o->route);
        sb_fmt(b, " AND kind = %d AND state = %d", CHATD_ROOM_SUPPORT, CHATD_ROOM_OPEN);
        return true;
    case 1:
        o->base = nr && r[0].affected == 1;
        if (o->base) {
            sb_add(b, "INSERT INTO chatd_members (room, user_id, role, joined) SELECT id, ");
            sb_str(b, my, o->agent);
            sb_add(b, ", 1, joins + 1 FROM chatd_rooms WHERE id = ");
            sb_str(b, my, o->route);
            sb_add(b, " ON DUPLICATE KEY UPDATE role = role;UPDATE chatd_rooms SET joins = joins + 1 WHERE id = ");
            sb_str(b, my, o->route);
            sb_add(b, ";");
        } else {
            sb_add(b, "DO 0;DO 0;");
        }
        sql_room_view(b, my, o->route, NULL);
        return true;
    default:
        if (!read_room_view(o, r + 2, nr > 2 ? nr - 2 : 0, NULL))
            o->status = CHATD_ERR_NOT_FOUND;
        else
            o->status = o->base ? CHATD_OK : CHATD_ERR_CONFLICT;
        return false;
    }
}

/* complete and close: one conditional UPDATE, then the room. */
static bool step_update_view(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        if (o->kind == OP_COMPLETE) {
            /* closed_ms: when completed, room_reopen's window */
            sb_fmt(b, "UPDATE chatd_rooms SET state = %d, unique_key = NULL, closed_ms = %lld WHERE id = ",
                   CHATD_ROOM_COMPLETED, (long long)o->now);
            sb_str(b, my, o->route);
            sb_add(b, " AND agent = ");
            sb_str(b, my, o->agent);
            sb_fmt(b, " AND state = %d;", CHATD_ROOM_ASSIGNED);
        } else {
            sb_fmt(b, "UPDATE chatd_rooms SET state = %d, closed_ms = %lld, unique_key = NULL WHERE id = ",
                   CHATD_ROOM_CLOSED, (long long)o->now);
            sb_str(b, my, o->route);
            sb_fmt(b, " AND kind = %d AND state <> %d;", CHATD_ROOM_SUPPORT, CHATD_ROOM_CLOSED);
        }
        sql_room_view(b, my, o->route, NULL);
        return true;
    }
    if (!read_room_view(o, r + 1, nr > 1 ? nr - 1 : 0, NULL))
        o->status = CHATD_ERR_NOT_FOUND;
    else
        o->status = r[0].affected == 1 ? CHATD_OK : CHATD_ERR_CONFLICT;
    return false;
}

/* SDK 2.6: one conditional UPDATE (InnoDB's row lock makes a concurrent
 * rating wait and then find rating <> 0), then the room. */
static bool step_rate(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        sb_fmt(b, "UPDATE chatd_rooms SET rating = %zu, rating_comment = ", o->limit);
        if (o->user)
            sb_str(b, my, o->user);
        else
            sb_add(b, "NULL");
        sb_fmt(b, ", rated_ms = %lld WHERE id = ", (long long)o->now);
        sb_str(b, my, o->route);
        sb_fmt(b, " AND kind = %d AND state IN (%d, %d) AND rating = 0;", CHATD_ROOM_SUPPORT, CHATD_ROOM_COMPLETED,
               CHATD_ROOM_CLOSED);
        sql_room_view(b, my, o->route, NULL);
        return true;
    }
    if (!read_room_view(o, r + 1, nr > 1 ? nr - 1 : 0, NULL))
        o->status = CHATD_ERR_NOT_FOUND;
    else
        o->status = r[0].affected == 1 ? CHATD_OK : CHATD_ERR_CONFLICT;
    return false;
}

/* SDK 2.3: the support desk. */

/* Two statements: take the agent's lock row (held to COMMIT), so that of
 * two operations counting one agent's open rooms the second counts after
 * the first committed. */
static void sql_agent_lock(struct sb *b, MYSQL *my, const char *agent)
{
    sb_add(b, "INSERT INTO chatd_agents (agent) VALUES (");
    sb_str(b, my, agent);
    sb_add(b, ") ON DUPLICATE KEY UPDATE agent = agent;SELECT agent FROM chatd_agents WHERE agent = ");
    sb_str(b, my, agent);
    sb_add(b, " FOR UPDATE;");
}

/* One statement: how many open rooms the agent holds. */
static void sql_agent_open(struct sb *b, MYSQL *my, const char *agent)
{
    sb_add(b, "SELECT COUNT(*) FROM chatd_rooms WHERE agent = ");
    sb_str(b, my, agent);
    sb_fmt(b, " AND kind = %d AND state = %d;", CHATD_ROOM_SUPPORT, CHATD_ROOM_ASSIGNED);
}

/* Three statements: the room ASSIGNED to agent at now, the agent a member. */
static void sql_assign(struct sb *b, MYSQL *my, const char *room, const char *agent, int64_t now)
{
    sb_fmt(b, "UPDATE chatd_rooms SET state = %d, agent = ", CHATD_ROOM_ASSIGNED);
    sb_str(b, my, agent);
    sb_fmt(b, ", assigned_ms = %lld WHERE id = ", (long long)now);
    sb_str(b, my, room);
    sb_add(b, ";INSERT INTO chatd_members (room, user_id, role, joined) SELECT id, ");
    sb_str(b, my, agent);
    sb_add(b, ", 1, joins + 1 FROM chatd_rooms WHERE id = ");
    sb_str(b, my, room);
    sb_add(b, " ON DUPLICATE KEY UPDATE role = role;UPDATE chatd_rooms SET joins = joins + 1 WHERE id = ");
    sb_str(b, my, room);
    sb_add(b, ";");
}

static int64_t first_i64(struct result *r, bool *found)
{
    MYSQL_ROW row = r->res ? mysql_fetch_row(r->res) : NULL;
    *found = row != NULL;
    return row ? col_i64(row, 0) : 0;
}

/* The answer's room view after `skip` statements. */
static void read_desk_view(struct op *o, struct result *r, size_t nr, size_t skip)
{
    chatd_status decided = (chatd_status)o->base;
    if (!read_room_view(o, r + skip, nr > skip ? nr - skip : 0, NULL))
        o->status = CHATD_ERR_NOT_FOUND;
    else
        o->status = decided;
}

static bool step_claim_limited(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    switch (o->step) {
    case 0:
        sql_agent_lock(b, my, o->agent);
        sb_add(b, "SELECT kind, state FROM chatd_rooms WHERE id = ");
        sb_str(b, my, o->route);
        sb_add(b, " FOR UPDATE;");
        sql_agent_open(b, my, o->agent);
        return true;
    case 1: {
        MYSQL_ROW row = nr >= 4 && r[2].res ? mysql_fetch_row(r[2].res) : NULL;
        if (!row) {
            o->status = CHATD_ERR_NOT_FOUND;
            return false;
        }
        bool counted;
        int64_t open = first_i64(&r[3], &counted);
        chatd_status s = CHATD_OK;
        if (col_i64(row, 0) != CHATD_ROOM_SUPPORT || col_i64(row, 1) != CHATD_ROOM_OPEN)
            s = CHATD_ERR_CONFLICT;
        else if (o->limit && (!counted || (uint64_t)open >= o->limit))
            s = CHATD_ERR_LIMIT;
        o->base = (uint64_t)s;
        if (s == CHATD_OK)
            sql_assign(b, my, o->route, o->agent, o->now);
        else
            sb_add(b, "DO 0;DO 0;DO 0;");
        sql_room_view(b, my, o->route, NULL);
        return true;
    }
    default:
        read_desk_view(o, r, nr, 3);
        return false;
    }
}

static bool step_transfer(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    switch (o->step) {
    case 0:
        sb_add(b, "SELECT kind, state, agent FROM chatd_rooms WHERE id = ");
        sb_str(b, my, o->route);
        sb_add(b, " FOR UPDATE");
        return true;
    case 1: {
        MYSQL_ROW row = nr >= 1 && r[0].res ? mysql_fetch_row(r[0].res) : NULL;
        if (!row) {
            o->status = CHATD_ERR_NOT_FOUND;
            return false;
        }
        const char *agent = row[2];
        bool ok = col_i64(row, 0) == CHATD_ROOM_SUPPORT && col_i64(row, 1) == CHATD_ROOM_ASSIGNED && agent &&
                  o->user && strcmp(agent, o->user) == 0;
        o->base = ok ? CHATD_OK : CHATD_ERR_CONFLICT;
        if (!ok) {
            sb_add(b, "DO 0;DO 0;DO 0;DO 0;");
        } else {
            if (!o->to || strcmp(o->to, o->user) != 0) {
                sb_add(b, "DELETE FROM chatd_members WHERE room = ");
                sb_str(b, my, o->route);
                sb_add(b, " AND user_id = ");
                sb_str(b, my, o->user);
                sb_add(b, ";");
            } else {
                sb_add(b, "DO 0;");
            }
            if (o->to) {
                sql_assign(b, my, o->route, o->to, o->now);
            } else {
                sb_fmt(b, "UPDATE chatd_rooms SET state = %d, agent = NULL, assigned_ms = 0 WHERE id = ",
                       CHATD_ROOM_OPEN);
                sb_str(b, my, o->route);
                sb_add(b, ";DO 0;DO 0;");
            }
        }
        sql_room_view(b, my, o->route, NULL);
        return true;
    }
    default:
        read_desk_view(o, r, nr, 4);
        return false;
    }
}

static bool step_reopen(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    switch (o->step) {
    case 0:
        if (o->agent)
            sql_agent_lock(b, my, o->agent);
        else
            sb_add(b, "DO 0;DO 0;");
        sb_add(b, "SELECT kind, state, closed_ms FROM chatd_rooms WHERE id = ");
        sb_str(b, my, o->route);
        sb_add(b, " FOR UPDATE;");
        if (o->key) {
            sb_add(b, "SELECT id FROM chatd_rooms WHERE unique_key = ");
            sb_str(b, my, o->key);
            sb_add(b, ";");
        } else {
            sb_add(b, "DO 0;");
        }
        if (o->agent)
            sql_agent_open(b, my, o->agent);
        else
            sb_add(b, "DO 0;");
        return true;
    case 1: {
        MYSQL_ROW row = nr >= 5 && r[2].res ? mysql_fetch_row(r[2].res) : NULL;
        if (!row) {
            o->status = CHATD_ERR_NOT_FOUND;
            return false;
        }
        if (col_i64(row, 0) != CHATD_ROOM_SUPPORT || col_i64(row, 1) != CHATD_ROOM_COMPLETED ||
            col_i64(row, 2) < o->after_ms) {
            o->base = CHATD_ERR_CONFLICT;
            sb_add(b, "DO 0;DO 0;DO 0;");
            sql_room_view(b, my, o->route, NULL);
            return true;
        }
        MYSQL_ROW holder = r[3].res ? mysql_fetch_row(r[3].res) : NULL;
        if (holder && holder[0]) {
            o->base = CHATD_ERR_EXISTS;
            sb_add(b, "DO 0;DO 0;DO 0;");
            sql_room_view(b, my, holder[0], NULL);
            return true;
        }
        bool counted;
        int64_t open = first_i64(&r[4], &counted);
        bool give = o->agent && (!o->limit || (counted && (uint64_t)open < o->limit));
        o->base = CHATD_OK;
        sb_add(b, "UPDATE chatd_rooms SET closed_ms = 0, unique_key = ");
        if (o->key)
            sb_str(b, my, o->key);
        else
            sb_add(b, "NULL");
        sb_add(b, " WHERE id = ");
        sb_str(b, my, o->route);
        sb_add(b, ";");
        if (give) {
            sql_assign(b, my, o->route, o->agent, o->now);
        } else {
            sb_fmt(b, "UPDATE chatd_rooms SET state = %d, agent = NULL, assigned_ms = 0 WHERE id = ",
                   CHATD_ROOM_OPEN);
            sb_str(b, my, o->route);
            sb_add(b, ";DO 0;DO 0;");
        }
        sql_room_view(b, my, o->route, NULL);
        return true;
    }
    default:
        read_desk_view(o, r, nr, o->base == CHATD_OK ? 4 : 3);
        return false;
    }
}

/* Everything of rooms `in` (a parenthesised list or subquery). 4 results,
 * the rooms' count first. */
static void sql_delete_rooms(struct sb *b, const char *in)
{
    sb_fmt(b, "DELETE FROM chatd_rooms WHERE id IN %s;DELETE FROM chatd_messages WHERE room IN %s;"
              "DELETE FROM chatd_members WHERE room IN %s;DELETE FROM chatd_marks WHERE room IN %s",
           in, in, in, in);
}

static bool step_delete(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        struct sb in = {0};
        sb_add(&in, "(");
        sb_str(&in, my, o->route);
        sb_add(&in, ")");
        /* The room row goes first: holding its lock, the deletes below see
         * every append committed before, and no new one can start. */
        sql_delete_rooms(b, in.oom ? "(NULL)" : in.p);
        b->oom |= in.oom;
        free(in.p);
        return true;
    }
    o->status = nr && r[0].affected ? CHATD_OK : CHATD_ERR_NOT_FOUND;
    return false;
}

/* member add/remove and read marks: the room row is read with a shared
 * lock so that the change cannot land in a room being deleted. */
static bool step_member(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        sb_add(b, "SELECT last_seq FROM chatd_rooms WHERE id = ");
        sb_str(b, my, o->route);
        sb_add(b, " LOCK IN SHARE MODE;");
        switch (o->kind) {
        case OP_MEMBER_ADD:
            sb_add(b, "INSERT INTO chatd_members (room, user_id, role, joined) SELECT id, ");
            sb_str(b, my, o->user);
            sb_add(b, ", 1, joins + 1 FROM chatd_rooms WHERE id = ");
            sb_str(b, my, o->route);
            sb_add(b, " ON DUPLICATE KEY UPDATE role = role");
            break;
        case OP_MEMBER_REMOVE:
            sb_add(b, "DELETE FROM chatd_members WHERE room = ");
            sb_str(b, my, o->route);
            sb_add(b, " AND user_id = ");
            sb_str(b, my, o->user);
            break;
        default: {
            /* the marks that joined this one: the greatest of them */
            uint64_t seq = o->seq;
            for (const struct op *a = o->more; a; a = a->more)
                seq = a->seq > seq ? a->seq : seq;
            /* a mark past the newest message would make a negative unread count later */
            sb_add(b, "INSERT INTO chatd_marks (room, user_id, seq) SELECT id, ");
            sb_str(b, my, o->user);
            sb_fmt(b, ", LEAST(%llu, last_seq) FROM chatd_rooms WHERE id = ", (unsigned long long)seq);
            sb_str(b, my, o->route);
            sb_add(b, " ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq))");
            break;
        }
        }
        return true;
    }
    if (o->step == 1 && o->kind == OP_MEMBER_ADD && nr >= 2 && r[1].affected == 1) {
        /* a new member: the next in join order */
        sb_add(b, "UPDATE chatd_rooms SET joins = joins + 1 WHERE id = ");
        sb_str(b, my, o->route);
        return true;
    }
    if (o->step == 1)
        for (struct op *a = o; a; a = a->more)
            a->status = nr && r[0].res && mysql_num_rows(r[0].res) ? CHATD_OK : CHATD_ERR_NOT_FOUND;
    return false;
}

static int seq_desc(const void *x, const void *y)
{
    uint64_t a = ((const struct chatd_message *)x)->seq, b = ((const struct chatd_message *)y)->seq;
    return a < b ? 1 : a > b ? -1 : 0;
}

static int seq_asc(const void *x, const void *y)
{
    return seq_desc(y, x);
}

/* The seqs [*lo, *hi] of a page when the room's messages are seq 1 to
 * last_seq without a gap; false when the page is empty. */
static bool page_span(const struct op *a, uint64_t last, uint64_t *lo, uint64_t *hi)
{
    uint64_t l = a->limit;
    if (!l)
        return false;
    if (a->before) {
        uint64_t top = a->before - 1 < last ? a->before - 1 : last;
        if (!top)
            return false;
        *lo = top > l ? top - l + 1 : 1;
        *hi = top;
        return true;
    }
    if (a->after >= last)
        return false;
    *lo = a->after + 1;
    *hi = last - a->after > l ? a->after + l : last;
    return true;
}

/* ", content_type, kind, reply_to" of a message to insert */
static void sql_message_kind(struct sb *b, MYSQL *my, const struct chatd_message *m)
{
    sb_add(b, ", ");
    sb_str(b, my, m->content_type);
    sb_fmt(b, ", %d, %llu", (int)m->kind, (unsigned long long)m->reply_to);
}

/* The room of a page read, packed in the column that leads its rows
 * (room_columns.h): numbers, then strings each as "-" (NULL) or
 * "LENGTH:bytes", then the members as sql_room_one's column; read by
 * room_value_read. */
#define VALUE_STR(x) " IF(" x " IS NULL, '-', CONCAT(LENGTH(" x "), ':', " x ")), ',',"
#define ROOM_VALUE                                                                                            \
    "CONCAT(r.last_seq, ',', r.reacted, ',', r.kind, ',', r.state, ',', r.created_ms, ',', r.assigned_ms, ','," \
    " r.closed_ms, ',', r.rating, ',', r.rated_ms, ','," VALUE_STR("r.title") VALUE_STR("r.owner")              \
    VALUE_STR("r.agent") VALUE_STR("r.rating_comment") VALUE_STR("r.topic")                                     \
    " IFNULL((SELECT GROUP_CONCAT(mm.role, ':', LENGTH(mm.user_id), ':', mm.user_id ORDER BY mm.joined,"      \
    " mm.user_id SEPARATOR '') FROM chatd_members mm WHERE mm.room = r.id), ''))"

/* The seq that leads a chain's answer when its pages have no hole: the
 * newest a page below `before` can hold (min(it, last_seq) is in that
 * page), or without such a page the newest an `after` page can; 0 when no
 * page can hold any. One row carries the room: this one, or the NULL row
 * of a room without messages in the spans. */
static uint64_t page_lead(const struct op *o)
{
    uint64_t lead = 0, after_lead = 0;
    for (const struct op *a = o; a; a = a->more) {
        if (!a->limit)
            continue;
        if (a->before && a->before - 1 > lead)
            lead = a->before - 1;
        else if (!a->before) {
            uint64_t hi = UINT64_MAX - a->after > a->limit ? a->after + a->limit : UINT64_MAX;
            if (hi > after_lead)
                after_lead = hi;
        }
    }
    return lead ? lead : after_lead;
}

/* Whether o is answered with its room (room_page), or one chained on it. */
static bool chain_with_room(const struct op *o)
{
    for (; o; o = o->more)
        if (o->with_room)
            return true;
    return false;
}

/* One string of a room value at *p, copied into o's answer; false when
 * malformed or out of memory. */
static bool value_str(struct op *o, const char **p, const char *end, const char **out)
{
    const char *v;
    size_t n;
    if (!room_value_str(p, end, &v, &n))
        return false;
    *out = v ? copy_n(o, &o->ans, v, n) : NULL;
    return !v || *out;
}

/* A page read's room value into o's room answer; false when malformed
 * or when its members may have been cut (read again carefully). */
static bool room_value_read(struct op *o, const char *s, size_t len)
{
    uint64_t v[ROOM_VALUE_NUMS];
    const char *p, *end = s + len;
    if (!room_value_nums(s, len, v, &p))
        return false;
    struct chatd_room *room = o->rooms = rooms_alloc(o, 1);
    if (!room)
        return true; /* o->oom */
    room->size = sizeof *room; /* the rest zeroed by the arena */
    room->id = o->route;
    room->last_seq = v[0];
    room->kind = (chatd_room_kind)v[2];
    room->state = (chatd_room_state)v[3];
    room->created_ms = (int64_t)v[4];
    room->assigned_ms = (int64_t)v[5];
    room->closed_ms = (int64_t)v[6];
    room->rating = (uint32_t)v[7];
    room->rated_ms = (int64_t)v[8];
    const char *topic;
    if (!value_str(o, &p, end, &room->title) || !value_str(o, &p, end, &room->owner) ||
        !value_str(o, &p, end, &room->agent) || !value_str(o, &p, end, &room->rating_comment) ||
        !value_str(o, &p, end, &topic))
        return false;
    room->topic = topic;
    return members_parse(o, room, p < end ? p : NULL, (size_t)(end - p));
}

/* Pages of one room: o and the page reads chained on o->more.
 *
 * A room's messages are seq 1 to last_seq without a gap (seq is taken under
 * the room row's lock in the transaction that inserts the message, and
 * messages leave only with their room), so a page is a span of seqs known
 * from last_seq: one statement reads the room's row joined with every
 * page's span at once, one range scan of the primary key whatever the
 * number of pages. The room (its last_seq, whether it ever had a
 * reaction, and for room_page the whole room) comes in the leading column
 * of one row only (page_lead), NULL in the others. Each answer is then
 * checked to be whole; a page with a hole, or an answer without the row
 * that carries the room, is read again carefully (o->careful): one LIMIT
 * query per page, tagged with its place in the chain, and the room apart
 * (sql_room_all) when one of the chain wants it. */
static bool step_history(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0 && !o->careful) {
        /* no UNION here: MariaDB copies each row of a UNION into the
         * union's record, the whole declared width of client_id
         * (VARCHAR(4000) of utf8mb4) included */
        sb_fmt(b, "SELECT IF(m.seq IS NULL OR m.seq = LEAST(%llu, r.last_seq), " ROOM_VALUE ", NULL), " MSG_COLS
                  " FROM chatd_rooms r LEFT JOIN chatd_messages m ON m.room = r.id AND (FALSE",
               (unsigned long long)page_lead(o));
        for (struct op *a = o; a; a = a->more) {
            if (!a->limit)
                continue;
            if (a->before) {
                /* the newest `limit` below before, last_seq + 1 at most */
                sb_fmt(b, " OR m.seq >= GREATEST(LEAST(%llu, r.last_seq + 1), %llu) - %zu AND m.seq < %llu",
                       (unsigned long long)a->before, (unsigned long long)a->limit + 1, a->limit,
                       (unsigned long long)a->before);
            } else {
                uint64_t hi = UINT64_MAX - a->after > a->limit ? a->after + a->limit : UINT64_MAX;
                sb_fmt(b, " OR m.seq > %llu AND m.seq <= %llu", (unsigned long long)a->after,
                       (unsigned long long)hi);
            }
        }
        sb_add(b, ") WHERE r.id = ");
        sb_str(b, my, o->route);
        return true;
    }
    if (o->step == 0) {
        sb_add(b, "SELECT 0, 0, " MSG_NULLS " FROM chatd_rooms WHERE id = ");
        sb_str(b, my, o->route);
        unsigned tag = 0;
        for (struct op *a = o; a; a = a->more) {
            sb_fmt(b, " UNION ALL (SELECT %u, " MSG_COLS " FROM chatd_messages m WHERE m.room = ", ++tag);
            sb_str(b, my, o->route);
            if (a->before)
                sb_fmt(b, " AND m.seq < %llu ORDER BY m.seq DESC", (unsigned long long)a->before);
            else
                sb_fmt(b, " AND m.seq > %llu ORDER BY m.seq ASC", (unsigned long long)a->after);
            sb_fmt(b, " LIMIT %zu)", a->limit);
        }
        if (chain_with_room(o)) {
            sb_add(b, ";");
            sql_room_all(b, my, o->route, NULL);
        }
        return true;
    }
    struct result *res = nr && res_has_rows(&r[0]) ? &r[0] : NULL;
    size_t chain = 0;
    for (struct op *a = o; a; a = a->more)
        chain++;
    size_t *count = calloc(chain + 1, sizeof *count);
    struct op **ops = calloc(chain + 1, sizeof *ops);
    uint64_t *lo = calloc(chain + 1, sizeof *lo), *hi = calloc(chain + 1, sizeof *hi);
    bool fast = !o->careful, more = false;
    if (!count || !ops || !lo || !hi) {
        for (struct op *a = o; a; a = a->more)
            a->status = CHATD_ERR_NOMEM;
        goto out;
    }
    chain = 0;
    for (struct op *a = o; a; a = a->more)
        ops[++chain] = a;
    bool room = false, rows = false;
    uint64_t last = 0, reacted = 1;
    const char *value = NULL; /* the room's packed value */
    size_t value_len = 0;
    MYSQL_ROW row;
    unsigned long *len;
    /* fast: one row leads with the room, then a message of the spans or
     * NULLs (none in them); count[t] is what page t should have, then
     * what it has. careful: rows tagged 0 (the room) or with the page. */
    if (res)
        res_rewind(res);
    while (res && (row = res_fetch(res, &len))) {
        size_t t = fast ? 0 : (size_t)col_u64(row, 0);
        if (fast) {
            rows = true;
            uint64_t v[ROOM_VALUE_NUMS];
            const char *rest;
            if (row[0] && !value && room_value_nums(row[0], len[0], v, &rest)) {
                room = true;
                last = v[0];
                reacted = v[1];
                value = row[0];
                value_len = len[0];
            }
        } else if (t == 0) {
            room = true;
        } else if (t <= chain) {
            count[t]++;
        }
    }
    if (fast && rows && !room) {
        /* the row that carries the room is not there: a hole */
        again_carefully(o, my, b, step_history);
        more = true;
        goto out;
    }
    size_t *want = NULL;
    if (fast && room) {
        want = calloc(chain + 1, sizeof *want);
        if (!want) {
            for (struct op *a = o; a; a = a->more)
                a->status = CHATD_ERR_NOMEM;
            goto out;
        }
        for (size_t t = 1; t <= chain; t++)
            if (page_span(ops[t], last, &lo[t], &hi[t]))
                count[t] = want[t] = (size_t)(hi[t] - lo[t] + 1);
    }
    for (size_t t = 1; t <= chain; t++) {
        struct op *a = ops[t];
        a->n = 0;
        a->msgs = room ? messages_alloc(a, count[t]) : NULL;
        a->status = room ? CHATD_OK : CHATD_ERR_NOT_FOUND;
    }
    /* each message says whether its room ever had a reaction (careful:
     * not known) */
    chatd_reactions_hint hint = fast && !reacted ? CHATD_REACTIONS_NONE : CHATD_REACTIONS_UNKNOWN;
    if (room && res) {
        res_rewind(res);
        while ((row = res_fetch(res, &len))) {
            size_t t = fast ? 0 : (size_t)col_u64(row, 0);
            if (fast ? !row[1] : t == 0)
                continue;
            if (!fast) {
                struct op *a = t <= chain ? ops[t] : NULL;
                if (a && a->msgs && a->n < count[t])
                    message_fill(a, &a->msgs[a->n++], a->route, row + 1, len + 1);
                continue;
            }
            /* a row of the spans: in every page whose span holds it */
            uint64_t seq = col_u64(row, 1);
            for (t = 1; t <= chain; t++) {
                struct op *a = ops[t];
                if (want[t] && seq >= lo[t] && seq <= hi[t] && a->msgs && a->n < count[t]) {
                    message_fill(a, &a->msgs[a->n], a->route, row + 1, len + 1);
                    a->msgs[a->n++].reactions = hint;
                }
            }
        }
    }
    for (size_t t = 1; t <= chain && fast && room; t++)
        more |= !ops[t]->oom && ops[t]->n != want[t];
    free(want);
    /* the room of each room_page: from its packed value, or carefully from its
     * own statement */
    for (size_t t = 1; t <= chain && room && !more; t++) {
        struct op *a = ops[t];
        size_t n = a->n;
        struct chatd_message *msgs = a->msgs;
        if (!a->with_room)
            continue;
        bool whole = fast ? room_value_read(a, value, value_len)
                          : nr >= 2 && read_room_one(a, &r[1], false);
        a->msgs = msgs;
        a->n = n;
        if (!whole && fast)
            more = true;
        else if (!whole)
            a->status = CHATD_ERR_NOT_FOUND; /* gone between the two statements */
    }
    if (more) {
        /* a hole in the seqs (not of this plugin's making), or members too
         * many for the packed value: every page again, each by its LIMIT */
        again_carefully(o, my, b, step_history);
        goto out;
    }
    /* the order the SDK asks for, whatever order the rows came in */
    for (size_t t = 1; t <= chain; t++) {
        struct op *a = ops[t];
        if (a->oom)
            a->status = CHATD_ERR_NOMEM;
        else if (a->n > 1)
            qsort(a->msgs, a->n, sizeof *a->msgs, a->before ? seq_desc : seq_asc);
    }
out:
    free(count);
    free(ops);
    free(lo);
    free(hi);
    return more;
}

/* The fast page read of step_history as a prepared statement of k spans:
 * the page_lead, then each span's same four parameters whatever the page's
 * direction (ps_page_span), then the room's id. */
static void sql_pages_prepared(struct sb *b, size_t k)
{
    sb_add(b, "SELECT IF(m.seq IS NULL OR m.seq = LEAST(?, r.last_seq), " ROOM_VALUE ", NULL), " MSG_COLS
              " FROM chatd_rooms r LEFT JOIN chatd_messages m ON m.room = r.id AND (FALSE");
    for (size_t i = 0; i < k; i++)
        sb_add(b, " OR m.seq >= GREATEST(LEAST(?, r.last_seq + 1), ?) - ? AND m.seq <= ?");
    sb_add(b, ") WHERE r.id = ?");
}

/* The four parameters of page a's span in sql_pages_prepared: the newest
 * `limit` below before, last_seq + 1 at most (before, limit + 1, limit,
 * before - 1); the oldest `limit` above after (after + 1, 0, 0, after +
 * limit); an empty span (1, 0, 0, 0) for an empty page or a padding. */
static void ps_page_span(const struct op *a, uint64_t *p)
{
    p[0] = 1, p[1] = 0, p[2] = 0, p[3] = 0;
    if (!a || !a->limit)
        return;
    if (a->before) {
        p[0] = a->before;
        p[1] = (uint64_t)a->limit + 1;
        p[2] = a->limit;
        p[3] = a->before - 1;
    } else if (a->after < UINT64_MAX) {
        p[0] = a->after + 1;
        p[3] = UINT64_MAX - a->after > a->limit ? a->after + a->limit : UINT64_MAX;
    }
}

/* Appends to one room: o and the ops chained on o->more, in call order.
 *
 * At first in one round trip: the room row locked (its last_seq kept in a
 * session variable), every message inserted with the seqs that follow it,
 * last_seq moved on. A message whose (sender, client id) is stored already
 * makes the INSERT fail on the unique key, and a room that is not there
 * makes it fail on a NULL seq; either way the chain is rolled back to its
 * savepoint and runs again carefully (o->careful): the lock and a look-up
 * of the client ids first, then the INSERT of the new ones only. A chain in
 * which two messages may carry the same client id runs carefully at once. */
static bool step_append(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (!o->careful && o->step == 0) {
        size_t n = 0;
        sb_add(b, "SET @chatd_seq = NULL;SELECT @chatd_seq := last_seq FROM chatd_rooms WHERE id = ");
        sb_str(b, my, o->route);
        sb_add(b, " FOR UPDATE;INSERT INTO chatd_messages (room, seq, id, sender, client_id, ts_ms, body, content_type, kind, reply_to) VALUES ");
        for (struct op *a = o; a; a = a->more) {
            n++;
            sb_add(b, n > 1 ? ",(" : "(");
            sb_str(b, my, a->route);
            sb_fmt(b, ", @chatd_seq + %zu, CONCAT(", n);
            sb_str(b, my, a->route);
            sb_fmt(b, ", '-', @chatd_seq + %zu), ", n);
            sb_str(b, my, a->msg_arg.sender);
            sb_add(b, ", ");
            sb_str(b, my, a->msg_arg.client_id);
            sb_fmt(b, ", %lld, ", (long long)a->msg_arg.ts_ms);
            sb_bytes(b, a->msg_arg.body, a->msg_arg.body_len);
            sql_message_kind(b, my, &a->msg_arg);
            sb_add(b, ")");
        }
        sb_fmt(b, ";UPDATE chatd_rooms SET last_seq = @chatd_seq + %zu WHERE id = ", n);
        sb_str(b, my, o->route);
        return true;
    }
    if (!o->careful) {
        /* r: SET, the locked row, INSERT, UPDATE: all went in */
        MYSQL_ROW row = nr >= 2 && r[1].res ? mysql_fetch_row(r[1].res) : NULL;
        uint64_t seq = row ? col_u64(row, 0) : 0;
        for (struct op *a = o; a; a = a->more) {
            struct chatd_message *m = a->msgs = messages_alloc(a, 1);
            if (!m || !row) {
                a->status = row ? CHATD_ERR_NOMEM : CHATD_ERR_INTERNAL;
                continue;
            }
            a->n = 1;
            *m = a->msg_arg;
            m->size = sizeof *m; /* the answer is ours, not the host's struct */
            m->seq = ++seq;
            char id[96];
            snprintf(id, sizeof id, "%s-%llu", a->route, (unsigned long long)m->seq);
            m->id = copy_n(a, &a->ans, id, strlen(id));
        }
        return false;
    }
    if (o->step == 0) {
        /* the lock first: the look-up below then sees every append
         * committed before ours, and a retry never takes a seq of its own */
        sb_add(b, "SELECT last_seq FROM chatd_rooms WHERE id = ");
        sb_str(b, my, o->route);
        sb_add(b, " FOR UPDATE;SELECT " MSG_COLS " FROM chatd_messages m WHERE m.room = ");
        sb_str(b, my, o->route);
        sb_add(b, " AND m.cid_key IN (NULL");
        for (struct op *a = o; a; a = a->more) {
            if (!a->msg_arg.client_id)
                continue;
            sb_add(b, ", UNHEX(SHA2(CONCAT(LENGTH(");
            sb_str(b, my, a->msg_arg.sender);
            sb_add(b, "), ':', ");
            sb_str(b, my, a->msg_arg.sender);
            sb_add(b, ", ");
            sb_str(b, my, a->msg_arg.client_id);
            sb_add(b, "), 256))");
        }
        sb_add(b, ")");
        return true;
    }
    if (o->step == 1) {
        MYSQL_ROW row = nr >= 2 && r[0].res ? mysql_fetch_row(r[0].res) : NULL;
        if (!row) {
            for (struct op *a = o; a; a = a->more)
                a->status = CHATD_ERR_NOT_FOUND;
            return false;
        }
        uint64_t seq = col_u64(row, 0);
        size_t old = r[1].res ? (size_t)mysql_num_rows(r[1].res) : 0;
        struct chatd_message *stored = messages_alloc(o, old);
        size_t nstored = 0;
        while (stored && (row = mysql_fetch_row(r[1].res)))
            message_fill(o, &stored[nstored++], o->route, row, mysql_fetch_lengths(r[1].res));
        bool any = false;
        for (struct op *a = o; a; a = a->more) {
            struct chatd_message *m = a->msgs = messages_alloc(a, 1);
            if (!m)
                continue;
            a->n = 1;
            const struct chatd_message *prev = NULL;
            for (size_t i = 0; a->msg_arg.client_id && i < nstored && !prev; i++)
                if (stored[i].client_id && strcmp(stored[i].client_id, a->msg_arg.client_id) == 0 &&
                    strcmp(stored[i].sender, a->msg_arg.sender) == 0)
                    prev = &stored[i];
            for (struct op *e = o; a->msg_arg.client_id && e != a && !prev; e = e->more)
                if (e->status == CHATD_OK && e->msg_arg.client_id && e->msgs &&
                    strcmp(e->msg_arg.client_id, a->msg_arg.client_id) == 0 &&
                    strcmp(e->msg_arg.sender, a->msg_arg.sender) == 0)
                    prev = e->msgs;
            if (prev) {
                /* the retry of a stored message: answer with what was stored */
                *m = *prev;
                m->id = copy_n(a, &a->ans, prev->id, strlen(prev->id));
                m->body = copy_n(a, &a->ans, prev->body, prev->body_len);
                m->sender = a->msg_arg.sender;
                m->client_id = a->msg_arg.client_id;
                m->room = a->route;
                a->status = CHATD_ERR_EXISTS;
                continue;
            }
            *m = a->msg_arg;
            m->size = sizeof *m; /* the answer is ours, not the host's struct */
            m->seq = ++seq;
            char id[96];
            snprintf(id, sizeof id, "%s-%llu", a->route, (unsigned long long)m->seq);
            m->id = copy_n(a, &a->ans, id, strlen(id));
            sb_add(b, any ? ",(" : "INSERT INTO chatd_messages (room, seq, id, sender, client_id, ts_ms, body, content_type, kind, reply_to) VALUES (");
            any = true;
            sb_str(b, my, a->route);
            sb_fmt(b, ", %llu, ", (unsigned long long)m->seq);
            sb_str(b, my, m->id);
            sb_add(b, ", ");
            sb_str(b, my, m->sender);
            sb_add(b, ", ");
            sb_str(b, my, m->client_id);
            sb_fmt(b, ", %lld, ", (long long)m->ts_ms);
            sb_bytes(b, a->msg_arg.body, a->msg_arg.body_len);
            sql_message_kind(b, my, &a->msg_arg);
            sb_add(b, ")");
        }
        if (!any)
            return false;
        sb_fmt(b, ";UPDATE chatd_rooms SET last_seq = %llu WHERE id = ", (unsigned long long)seq);
        sb_str(b, my, o->route);
        return true;
    }
    return false;
}

static bool step_purge(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        /* SKIP LOCKED: instances purging together take different rooms */
        sb_fmt(b, "SELECT id FROM chatd_rooms WHERE state = %d AND kind = %d AND closed_ms < %lld"
                  " ORDER BY closed_ms, ord LIMIT %zu FOR UPDATE SKIP LOCKED",
               CHATD_ROOM_CLOSED, CHATD_ROOM_SUPPORT, (long long)o->now, o->limit);
        return true;
    }
    if (o->step == 1) {
        size_t rows = nr && r[0].res ? (size_t)mysql_num_rows(r[0].res) : 0;
        if (!rows)
            return false;
        char **ids = arena(o, &o->ans, rows * sizeof *ids);
        MYSQL_ROW row;
        size_t n = 0;
        while (ids && (row = mysql_fetch_row(r[0].res)))
            ids[n++] = (char *)col(o, row, mysql_fetch_lengths(r[0].res), 0);
        o->purged = (const char **)ids; /* room_purge_ids names them: locked, so they go */
        o->npurged = ids ? n : 0;
        struct sb in = {0};
        sql_idlist(&in, my, ids, n);
        sql_delete_rooms(b, in.oom ? "(NULL)" : in.p);
        b->oom |= in.oom;
        free(in.p);
        return true;
    }
    o->n = nr ? (size_t)r[0].affected : 0;
    return false;
}

/* ---------------------------------------------- group roles (1.2) */

static chatd_member_role role_of(const char *user, const char *owner, MYSQL_RES *members, bool *member)
{
    *member = false;
    if (!user)
        return CHATD_MEMBER_NONE;
    mysql_data_seek(members, 0);
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(members)))
        if (strcmp(row[1], user) == 0) {
            *member = true;
            if (owner && strcmp(owner, user) == 0)
                return CHATD_MEMBER_OWNER;
            return col_i64(row, 2) == 2 ? CHATD_MEMBER_ADMIN : CHATD_MEMBER_PLAIN;
        }
    return CHATD_MEMBER_NONE;
}

/* The owner a group passes to when `leaving` (its owner) goes: the admin
 * who joined first, else the member who joined first. */
static void sql_pass_owner(struct sb *b, MYSQL *my, const char *room_in, const char *leaving)
{
    sb_add(b, "UPDATE chatd_rooms r SET r.owner = COALESCE((SELECT m.user_id FROM chatd_members m"
              " WHERE m.room = r.id ORDER BY m.role = 2 DESC, m.joined, m.user_id LIMIT 1), r.owner) WHERE r.id IN ");
    sb_add(b, room_in);
    sb_fmt(b, " AND r.kind = %d AND r.owner = ", CHATD_ROOM_GROUP);
    sb_str(b, my, leaving);
    sb_add(b, ";UPDATE chatd_members m JOIN chatd_rooms r ON r.id = m.room SET m.role = 1"
              " WHERE r.id IN ");
    sb_add(b, room_in);
    sb_add(b, " AND m.user_id = r.owner");
}

static bool step_group(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    const struct chatd_group_change *ch = &o->change;
    switch (o->step) {
    case 0:
        /* the room row's lock orders every change of the group */
        sb_add(b, "SELECT r.kind, r.owner FROM chatd_rooms r WHERE r.id = ");
        sb_str(b, my, o->route);
        sb_add(b, " FOR UPDATE;SELECT m.room, m.user_id, m.role FROM chatd_members m WHERE m.room = ");
        sb_str(b, my, o->route);
        sb_add(b, " ORDER BY m.joined, m.user_id");
        return true;
    case 1: {
        MYSQL_ROW row = nr >= 2 && r[0].res ? mysql_fetch_row(r[0].res) : NULL;
        if (!row) {
            o->status = CHATD_ERR_NOT_FOUND;
            return false;
        }
        if (col_i64(row, 0) != CHATD_ROOM_GROUP) {
            o->status = CHATD_ERR_INVALID;
            return false;
        }
        const char *owner = col(o, row, mysql_fetch_lengths(r[0].res), 1);
        bool umember, amember;
        chatd_member_role urole = role_of(ch->user, owner, r[1].res, &umember);
        chatd_member_role arole = role_of(ch->actor, owner, r[1].res, &amember);
        chatd_status s = CHATD_OK;
        if (ch->actor && (arole < ch->actor_min || (ch->outrank && arole <= urole)))
            s = CHATD_ERR_DENIED;
        else if ((ch->what == CHATD_GROUP_REMOVE || ch->what == CHATD_GROUP_ROLE) && !umember)
            s = CHATD_ERR_CONFLICT;
        else if (ch->what == CHATD_GROUP_ROLE && urole == CHATD_MEMBER_OWNER && ch->role != CHATD_MEMBER_OWNER)
            s = CHATD_ERR_CONFLICT;
        else if ((ch->what == CHATD_GROUP_ADD && umember) || (ch->what == CHATD_GROUP_ROLE && urole == ch->role))
            s = CHATD_ERR_EXISTS;
        o->status = s;
        struct sb in = {0};
        sb_add(&in, "(");
        sb_str(&in, my, o->route);
        sb_add(&in, ")");
        const char *room_in = in.oom ? "(NULL)" : in.p;
        if (s == CHATD_OK && ch->what == CHATD_GROUP_DELETE) {
            /* answered with the room as it was before */
            sql_room_view(b, my, o->route, NULL);
            sb_add(b, ";");
            sql_delete_rooms(b, room_in);
            o->step = 10;
        } else {
            if (s != CHATD_OK) {
                sb_add(b, "DO 0");
            } else if (ch->what == CHATD_GROUP_ADD) {
                sb_add(b, "INSERT INTO chatd_members (room, user_id, role, joined) SELECT id, ");
                sb_str(b, my, ch->user);
                sb_add(b, ", 1, joins + 1 FROM chatd_rooms WHERE id = ");
                sb_str(b, my, o->route);
                sb_add(b, ";UPDATE chatd_rooms SET joins = joins + 1 WHERE id = ");
                sb_str(b, my, o->route);
            } else if (ch->what == CHATD_GROUP_REMOVE) {
                sb_add(b, "DELETE FROM chatd_members WHERE room = ");
                sb_str(b, my, o->route);
                sb_add(b, " AND user_id = ");
                sb_str(b, my, ch->user);
                sb_add(b, ";");
                sql_pass_owner(b, my, room_in, ch->user);
            } else if (ch->what == CHATD_GROUP_ROLE && ch->role == CHATD_MEMBER_OWNER) {
                /* the previous owner, if a member, becomes an admin */
                sb_add(b, "UPDATE chatd_members SET role = 2 WHERE room = ");
                sb_str(b, my, o->route);
                sb_add(b, " AND user_id = ");
                sb_str(b, my, owner ? owner : "");
                sb_add(b, ";UPDATE chatd_members SET role = 1 WHERE room = ");
                sb_str(b, my, o->route);
                sb_add(b, " AND user_id = ");
                sb_str(b, my, ch->user);
                sb_add(b, ";UPDATE chatd_rooms SET owner = ");
                sb_str(b, my, ch->user);
                sb_add(b, " WHERE id = ");
                sb_str(b, my, o->route);
            } else if (ch->what == CHATD_GROUP_ROLE) {
                sb_fmt(b, "UPDATE chatd_members SET role = %d WHERE room = ", ch->role == CHATD_MEMBER_ADMIN ? 2 : 1);
                sb_str(b, my, o->route);
                sb_add(b, " AND user_id = ");
                sb_str(b, my, ch->user);
            } else if (ch->what == CHATD_GROUP_RENAME) {
                sb_add(b, "UPDATE chatd_rooms SET title = ");
                sb_str(b, my, ch->title);
                sb_add(b, " WHERE id = ");
                sb_str(b, my, o->route);
            } else {
                sb_add(b, "DO 0");
            }
            o->step = 20;
        }
        b->oom |= in.oom;
        free(in.p);
        return true;
    }
    case 11: {
        chatd_status s = o->status;
        if (!read_room_view(o, r, nr, NULL))
            s = CHATD_ERR_NOT_FOUND;
        o->status = s;
        return false;
    }
    case 21:
        sql_room_view(b, my, o->route, NULL);
        o->step = 30;
        return true;
    case 31: {
        chatd_status s = o->status;
        if (!read_room_view(o, r, nr, NULL))
            s = CHATD_ERR_NOT_FOUND;
        o->status = s;
        return false;
    }
    }
    o->status = CHATD_ERR_INTERNAL;
    return false;
}

/* --------------------------------------------- edits and deletes (2.2) */

/* The room row locked first, as an append does: changes of one room take
 * their revisions one after the other, on any instance. */
static bool step_edit(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    const struct chatd_message_edit *ed = &o->edit;
    switch (o->step) {
    case 0:
        sb_add(b, "SELECT last_rev FROM chatd_rooms WHERE id = ");
        sb_str(b, my, o->route);
        sb_add(b, " FOR UPDATE;SELECT " MSG_COLS " FROM chatd_messages m WHERE m.room = ");
        sb_str(b, my, o->route);
        sb_fmt(b, " AND m.seq = %llu", (unsigned long long)ed->seq);
        return true;
    case 1: {
        MYSQL_ROW room = nr >= 2 && r[0].res ? mysql_fetch_row(r[0].res) : NULL;
        MYSQL_ROW row = room && r[1].res ? mysql_fetch_row(r[1].res) : NULL;
        if (!row) {
            o->status = CHATD_ERR_NOT_FOUND;
            return false;
        }
        struct chatd_message *m = o->msgs = messages_alloc(o, 1);
        if (!m)
            return false;
        message_fill(o, m, o->route, row, mysql_fetch_lengths(r[1].res));
        o->n = 1;
        if (m->deleted || !m->sender || !*m->sender) {
            o->status = CHATD_ERR_CONFLICT;
            return false;
        }
        uint64_t rev = col_u64(room, 0) + 1;
        sb_fmt(b, "UPDATE chatd_rooms SET last_rev = %llu WHERE id = ", (unsigned long long)rev);
        sb_str(b, my, o->route);
        sb_fmt(b, ";UPDATE chatd_messages SET rev = %llu, edited_ms = %lld, deleted = %d, body = ",
               (unsigned long long)rev, (long long)ed->now_ms, ed->what == CHATD_MESSAGE_DELETE);
        if (ed->what == CHATD_MESSAGE_EDIT) {
            sb_bytes(b, ed->body, ed->body_len);
            sb_add(b, ", content_type = ");
            sb_str(b, my, ed->content_type);
        } else {
            sb_add(b, "''");
        }
        sb_add(b, " WHERE room = ");
        sb_str(b, my, o->route);
        sb_fmt(b, " AND seq = %llu", (unsigned long long)ed->seq);
        /* the answer: the message as it will be */
        m->rev = rev;
        m->edited_ms = ed->now_ms;
        m->deleted = ed->what == CHATD_MESSAGE_DELETE;
        m->body = ed->what == CHATD_MESSAGE_EDIT ? ed->body : copy_n(o, &o->ans, "", 0);
        m->body_len = ed->what == CHATD_MESSAGE_EDIT ? ed->body_len : 0;
        if (ed->what == CHATD_MESSAGE_EDIT)
            m->content_type = ed->content_type;
        return true;
    }
    default:
        return false;
    }
}

static bool step_revisions(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        sb_add(b, "SELECT " MSG_COLS " FROM chatd_messages m WHERE m.room = ");
        sb_str(b, my, o->route);
        sb_fmt(b, " AND m.rev > %llu ORDER BY m.rev LIMIT %zu", (unsigned long long)o->after, o->limit);
        return true;
    }
    size_t rows = nr && r[0].res ? (size_t)mysql_num_rows(r[0].res) : 0;
    o->msgs = rows ? messages_alloc(o, rows) : NULL;
    MYSQL_ROW row;
    while (o->msgs && (row = mysql_fetch_row(r[0].res)))
        message_fill(o, &o->msgs[o->n++], o->route, row, mysql_fetch_lengths(r[0].res));
    return false;
}

/* ------------------------------------------------------ search (2.4) */

/* MariaDB has no n-gram parser for FULLTEXT (MySQL's ngram is MySQL's
 * alone), and InnoDB's FULLTEXT splits words at spaces: Korean or any
 * part of a word would not be found. So a search reads the named rooms'
 * messages by the primary key and compares each body, read as utf8mb4 and
 * lowered, with the lowered query (docs/storage.md: its cost is those
 * rooms' history). */
static bool step_search(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        sb_add(b, "SELECT " MSG_COLS ", m.room FROM chatd_messages m WHERE m.room IN ");
        sql_idlist(b, my, o->rooms_arg, o->nrooms_arg);
        sb_add(b, " AND m.deleted = 0 AND m.sender <> '' AND (LOCATE(LOWER(_utf8mb4");
        sb_str(b, my, o->key);
        sb_add(b, " COLLATE utf8mb4_bin), LOWER(CONVERT(m.body USING utf8mb4) COLLATE utf8mb4_bin)) > 0");
        if (o->agent) { /* the JSON form, ASCII: the bytes compared as they are, A-Z lowered */
            sb_add(b, " OR LOCATE(LOWER(_utf8mb4");
            sb_str(b, my, o->agent);
            sb_add(b, " COLLATE utf8mb4_bin), LOWER(CONVERT(m.body USING utf8mb4) COLLATE utf8mb4_bin)) > 0");
        }
        sb_add(b, ")");
        if (o->title) {
            sb_fmt(b, " AND (m.ts_ms < %lld OR (m.ts_ms = %lld AND (m.room < ", (long long)o->now, (long long)o->now);
            sb_str(b, my, o->title);
            sb_add(b, " OR (m.room = ");
            sb_str(b, my, o->title);
            sb_fmt(b, " AND m.seq < %llu))))", (unsigned long long)o->seq);
        }
        sb_fmt(b, " ORDER BY m.ts_ms DESC, m.room DESC, m.seq DESC LIMIT %zu", o->limit);
        return true;
    }
    size_t rows = nr && r[0].res ? (size_t)mysql_num_rows(r[0].res) : 0;
    o->msgs = rows ? messages_alloc(o, rows) : NULL;
    MYSQL_ROW row;
    while (o->msgs && (row = mysql_fetch_row(r[0].res))) {
        unsigned long *len = mysql_fetch_lengths(r[0].res);
        message_fill(o, &o->msgs[o->n++], col(o, row, len, MSG_NCOLS), row, len);
    }
    return false;
}

/* --------------------------------------------- user erase (1.2) */

static bool step_erase(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    switch (o->step) {
    case 0:
        /* the user's rooms, locked in id order (so two erasures, or an
         * erasure and a batch, queue rather than deadlock) */
        sb_add(b, "SELECT r.id, r.kind, r.owner FROM chatd_rooms r WHERE r.id IN"
                  " (SELECT m.room FROM chatd_members m WHERE m.user_id = ");
        sb_str(b, my, o->user);
        sb_add(b, ") ORDER BY r.id FOR UPDATE");
        return true;
    case 1: {
        size_t rows = nr && r[0].res ? (size_t)mysql_num_rows(r[0].res) : 0;
        if (!rows)
            return false;
        char **own = arena(o, &o->ans, rows * sizeof(char *)), **other = arena(o, &o->ans, rows * sizeof(char *));
        size_t nown = 0, nother = 0;
        MYSQL_ROW row;
        while (own && other && (row = mysql_fetch_row(r[0].res))) {
            const char *id = col(o, row, mysql_fetch_lengths(r[0].res), 0);
            if (col_i64(row, 1) == CHATD_ROOM_SUPPORT && row[2] && strcmp(row[2], o->user) == 0)
                own[nown++] = (char *)id;
            else
                other[nother++] = (char *)id;
        }
        struct sb in = {0};
        if (nown) {
            sql_idlist(&in, my, own, nown);
            sql_delete_rooms(b, in.oom ? "(NULL)" : in.p);
        } else {
            sb_add(b, "DO 0;DO 0;DO 0;DO 0");
        }
        sb_add(b, ";");
        in.len = 0;
        if (nother) {
            sql_idlist(&in, my, other, nother);
            const char *oin = in.oom ? "(NULL)" : in.p;
            sb_fmt(b, "UPDATE chatd_messages SET sender = '', client_id = NULL, body = '' WHERE room IN %s"
                      " AND sender = ", oin);
            sb_str(b, my, o->user);
            sb_fmt(b, ";DELETE FROM chatd_marks WHERE room IN %s AND user_id = ", oin);
            sb_str(b, my, o->user);
            sb_fmt(b, ";DELETE FROM chatd_members WHERE room IN %s AND user_id = ", oin);
            sb_str(b, my, o->user);
            sb_fmt(b, ";UPDATE chatd_rooms SET unique_key = NULL WHERE id IN %s AND kind = %d;", oin,
                   CHATD_ROOM_DIRECT);
            sql_pass_owner(b, my, oin, o->user);
            sb_fmt(b, ";DELETE FROM chatd_reactions WHERE room IN %s AND user_id = ", oin);
            sb_str(b, my, o->user);
        } else {
            sb_add(b, "DO 0;DO 0;DO 0;DO 0;DO 0;DO 0");
        }
        b->oom |= in.oom;
        free(in.p);
        return true;
    }
    default:
        if (nr >= 7) {
            o->erased.rooms_deleted = r[0].affected;
            o->erased.messages_erased = r[4].affected;
            o->erased.memberships_removed = r[6].affected;
        }
        return false;
    }
}

/* --------------------------------------------------- reactions (2.5) */

/* Rows (seq, emoji, count, me) of res into o->counts. */
static void read_counts(struct op *o, MYSQL_RES *res)
{
    size_t rows = res ? (size_t)mysql_num_rows(res) : 0;
    o->counts = rows ? arena(o, &o->ans, rows * sizeof *o->counts) : NULL;
    MYSQL_ROW row;
    while (o->counts && (row = mysql_fetch_row(res))) {
        unsigned long *len = mysql_fetch_lengths(res);
        o->counts[o->ncounts++] = (struct chatd_reaction_count){
            .size = sizeof *o->counts, .seq = col_u64(row, 0), .emoji = col(o, row, len, 1),
            .count = col_u64(row, 2), .me = col_i64(row, 3) != 0};
    }
}

/* seqs: "seq IN (...)" or another condition on seq */
static void sql_counts(struct sb *b, MYSQL *my, const char *room, const char *seqs, const char *user)
{
    sb_add(b, "SELECT seq, emoji, count(*), MAX(user_id = ");
    if (user)
        sb_str(b, my, user);
    else
        sb_add(b, "NULL");
    sb_add(b, ") FROM chatd_reactions WHERE room = ");
    sb_str(b, my, room);
    sb_fmt(b, " AND (%s) GROUP BY seq, emoji ORDER BY seq, emoji", seqs);
}

/* The message's row locked first: the changes of one message, from any
 * instance, are decided one after the other (the bound on distinct emoji). */
static bool step_react(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    const struct chatd_reaction_change *rc = &o->react;
    char seq_is[40];
    snprintf(seq_is, sizeof seq_is, "seq = %llu", (unsigned long long)rc->seq);
    switch (o->step) {
    case 0:
        sb_add(b, "SELECT deleted, sender FROM chatd_messages WHERE room = ");
        sb_str(b, my, o->route);
        sb_fmt(b, " AND seq = %llu FOR UPDATE;SELECT count(*) FROM chatd_reactions WHERE room = ",
               (unsigned long long)rc->seq);
        sb_str(b, my, o->route);
        sb_fmt(b, " AND seq = %llu AND emoji = ", (unsigned long long)rc->seq);
        sb_str(b, my, rc->emoji);
        sb_add(b, " AND user_id = ");
        sb_str(b, my, rc->user);
        sb_add(b, ";SELECT count(*) FROM chatd_reactions WHERE room = ");
        sb_str(b, my, o->route);
        sb_fmt(b, " AND seq = %llu AND emoji = ", (unsigned long long)rc->seq);
        sb_str(b, my, rc->emoji);
        sb_add(b, ";SELECT count(DISTINCT emoji) FROM chatd_reactions WHERE room = ");
        sb_str(b, my, o->route);
        sb_fmt(b, " AND seq = %llu", (unsigned long long)rc->seq);
        return true;
    case 1: {
        MYSQL_ROW msg = nr >= 4 && r[0].res ? mysql_fetch_row(r[0].res) : NULL;
        if (!msg) {
            o->status = CHATD_ERR_NOT_FOUND;
            return false;
        }
        if (col_i64(msg, 0) || !msg[1] || !*msg[1]) {
            o->status = CHATD_ERR_CONFLICT;
            return false;
        }
        MYSQL_ROW mine = r[1].res ? mysql_fetch_row(r[1].res) : NULL;
        MYSQL_ROW held = r[2].res ? mysql_fetch_row(r[2].res) : NULL;
        MYSQL_ROW distinct = r[3].res ? mysql_fetch_row(r[3].res) : NULL;
        if (!mine || !held || !distinct) {
            o->status = CHATD_ERR_INTERNAL;
            return false;
        }
        o->status = CHATD_OK;
        if (rc->add ? col_u64(mine, 0) > 0 : col_u64(mine, 0) == 0)
            o->status = CHATD_ERR_EXISTS;
        else if (rc->add && rc->max_distinct && !col_u64(held, 0) && col_u64(distinct, 0) >= rc->max_distinct)
            o->status = CHATD_ERR_LIMIT;
        /* two statements whatever the case: the counts are the third */
        if (o->status != CHATD_OK) {
            sb_add(b, "DO 0;DO 0");
        } else if (rc->add) {
            sb_add(b, "INSERT INTO chatd_reactions (room, seq, emoji, user_id) VALUES (");
            sb_str(b, my, o->route);
            sb_fmt(b, ", %llu, ", (unsigned long long)rc->seq);
            sb_str(b, my, rc->emoji);
            sb_add(b, ", ");
            sb_str(b, my, rc->user);
            sb_add(b, ");UPDATE chatd_rooms SET reacted = 1 WHERE id = ");
            sb_str(b, my, o->route);
            sb_add(b, " AND reacted = 0");
        } else {
            sb_add(b, "DELETE FROM chatd_reactions WHERE room = ");
            sb_str(b, my, o->route);
            sb_fmt(b, " AND seq = %llu AND emoji = ", (unsigned long long)rc->seq);
            sb_str(b, my, rc->emoji);
            sb_add(b, " AND user_id = ");
            sb_str(b, my, rc->user);
            sb_add(b, ";DO 0");
        }
        sb_add(b, ";");
        sql_counts(b, my, o->route, seq_is, rc->user);
        return true;
    }
    default:
        read_counts(o, nr >= 3 ? r[2].res : NULL);
        return false;
    }
}

static int u64_asc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static bool seq_in(const uint64_t *seqs, size_t n, uint64_t seq)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (seqs[mid] == seq)
            return true;
        if (seqs[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The reactions of o's messages and those of the reads chained on o->more
 * (the same room and reader): one statement for all, each op then takes
 * the rows of its own seqs (sorted by m_reaction_list). */
/* The seqs of o and the reads chained on it, as runs [lo, hi] (pairs in
 * the array returned, *n of them; NULL and *n > 0: out of memory): a page
 * is a run of seqs, and runs are what the range optimizer takes cheaply
 * (an IN list of many values is sorted and turned into ranges on every
 * execution). */
static uint64_t *reaction_runs(const struct op *o, size_t *n)
{
    size_t k = 0;
    for (const struct op *a = o; a; a = a->more)
        k += a->nseqs;
    *n = k;
    /* the seqs (k), then the runs (k pairs at most) */
    uint64_t *all = k ? malloc(3 * k * sizeof *all) : NULL;
    if (!all)
        return NULL;
    k = 0;
    for (const struct op *a = o; a; a = a->more)
        for (size_t i = 0; i < a->nseqs; i++)
            all[k++] = a->seqs[i];
    if (k > 1)
        qsort(all, k, sizeof *all, u64_asc);
    uint64_t *run = all + k; /* moved to the front at the end */
    size_t nrun = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j + 1 < k && (all[j + 1] == all[j] || all[j + 1] == all[j] + 1))
            j++;
        run[2 * nrun] = all[i];
        run[2 * nrun + 1] = all[j];
        nrun++;
        i = j + 1;
    }
    memmove(all, run, 2 * nrun * sizeof *all);
    *n = nrun;
    return all;
}

/* The reaction read of sql_counts over `runs` runs of seqs as a prepared
 * statement: the reader (NULL: none), the room, then each run's bounds. */
static void sql_counts_prepared(struct sb *b, size_t runs)
{
    sb_add(b, "SELECT seq, emoji, count(*), MAX(user_id = ?) FROM chatd_reactions WHERE room = ? AND (FALSE");
    for (size_t i = 0; i < runs; i++)
        sb_add(b, " OR seq BETWEEN ? AND ?");
    sb_add(b, ") GROUP BY seq, emoji ORDER BY seq, emoji");
}

static bool step_reactions(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        size_t k;
        uint64_t *run = reaction_runs(o, &k);
        struct sb in = {0};
        if (!run && k) {
            b->oom = true;
            return true;
        }
        sb_add(&in, "FALSE");
        for (size_t i = 0; i < k; i++) {
            if (run[2 * i] == run[2 * i + 1])
                sb_fmt(&in, " OR seq = %llu", (unsigned long long)run[2 * i]);
            else
                sb_fmt(&in, " OR seq BETWEEN %llu AND %llu", (unsigned long long)run[2 * i],
                       (unsigned long long)run[2 * i + 1]);
        }
        free(run);
        sql_counts(b, my, o->route, in.oom ? "FALSE" : in.p, o->user);
        b->oom |= in.oom;
        free(in.p);
        return true;
    }
    struct result *res = nr && res_has_rows(&r[0]) ? &r[0] : NULL;
    for (struct op *a = o; a; a = a->more) {
        size_t rows = 0;
        MYSQL_ROW row;
        unsigned long *len;
        if (res) {
            res_rewind(res);
            while ((row = res_fetch(res, &len)))
                rows += seq_in(a->seqs, a->nseqs, col_u64(row, 0));
        }
        a->counts = rows ? arena(a, &a->ans, rows * sizeof *a->counts) : NULL;
        a->ncounts = 0;
        if (!a->counts)
            continue;
        res_rewind(res);
        while ((row = res_fetch(res, &len)) && a->ncounts < rows) {
            if (!seq_in(a->seqs, a->nseqs, col_u64(row, 0)))
                continue;
            a->counts[a->ncounts++] = (struct chatd_reaction_count){
                .size = sizeof *a->counts, .seq = col_u64(row, 0), .emoji = col(a, row, len, 1),
                .count = col_u64(row, 2), .me = col_i64(row, 3) != 0};
        }
    }
    return false;
}

/* SDK 2.8: canned replies. A put takes its desk's lock row (held to
 * COMMIT), then counts the desk and looks for the shortcut, then stores. */
static bool step_canned_put(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    const struct chatd_canned_reply *c = &o->canned;
    switch (o->step) {
    case 0:
        sb_add(b, "INSERT INTO chatd_canned_desks (desk) VALUES (");
        sb_str(b, my, c->desk);
        sb_add(b, ") ON DUPLICATE KEY UPDATE desk = desk;SELECT desk FROM chatd_canned_desks WHERE desk = ");
        sb_str(b, my, c->desk);
        sb_add(b, " FOR UPDATE;SELECT COUNT(*), COALESCE(SUM(shortcut = ");
        sb_str(b, my, c->shortcut);
        sb_add(b, "), 0) FROM chatd_canned WHERE desk = ");
        sb_str(b, my, c->desk);
        return true;
    case 1: {
        MYSQL_ROW row = nr >= 3 && r[2].res ? mysql_fetch_row(r[2].res) : NULL;
        if (!row) {
            o->status = CHATD_ERR_INTERNAL;
            return false;
        }
        bool exists = col_i64(row, 1) > 0;
        if (!exists && o->limit && (uint64_t)col_i64(row, 0) >= o->limit) {
            o->status = CHATD_ERR_LIMIT;
            return false;
        }
        o->n = !exists;
        sb_add(b, "INSERT INTO chatd_canned (desk, shortcut, title, body, updated_by, updated_ms) VALUES (");
        sb_str(b, my, c->desk);
        sb_add(b, ", ");
        sb_str(b, my, c->shortcut);
        sb_add(b, ", ");
        sb_str(b, my, c->title);
        sb_add(b, ", ");
        sb_str(b, my, c->body);
        sb_add(b, ", ");
        sb_str(b, my, c->updated_by);
        sb_fmt(b, ", %lld) ON DUPLICATE KEY UPDATE title = VALUES(title), body = VALUES(body),"
                  " updated_by = VALUES(updated_by), updated_ms = VALUES(updated_ms)",
               (long long)c->updated_ms);
        return true;
    }
    default:
        o->status = CHATD_OK;
        return false;
    }
}

static bool step_canned_delete(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        sb_add(b, "DELETE FROM chatd_canned WHERE desk = ");
        sb_str(b, my, o->canned.desk);
        sb_add(b, " AND shortcut = ");
        sb_str(b, my, o->canned.shortcut);
        return true;
    }
    o->status = nr && r[0].affected ? CHATD_OK : CHATD_ERR_NOT_FOUND;
    return false;
}

static bool step_canned_list(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    if (o->step == 0) {
        sb_add(b, "SELECT desk, shortcut, title, body, updated_by, updated_ms FROM chatd_canned WHERE desk = ");
        sb_str(b, my, o->canned.desk);
        sb_fmt(b, " ORDER BY shortcut LIMIT %zu", o->limit);
        return true;
    }
    MYSQL_RES *res = nr ? r[0].res : NULL;
    size_t rows = res ? (size_t)mysql_num_rows(res) : 0;
    o->replies = rows ? arena(o, &o->ans, rows * sizeof *o->replies) : NULL;
    MYSQL_ROW row;
    while (o->replies && (row = mysql_fetch_row(res))) {
        unsigned long *len = mysql_fetch_lengths(res);
        o->replies[o->n++] = (struct chatd_canned_reply){
            .size = sizeof *o->replies, .desk = col(o, row, len, 0), .shortcut = col(o, row, len, 1),
            .title = col(o, row, len, 2), .body = col(o, row, len, 3), .updated_by = col(o, row, len, 4),
            .updated_ms = col_i64(row, 5)};
    }
    o->status = CHATD_OK;
    return false;
}

static bool op_step(struct op *o, MYSQL *my, struct result *r, size_t nr, struct sb *b)
{
    switch (o->kind) {
    case OP_CREATE: return step_create(o, my, r, nr, b);
    case OP_GET: return step_get(o, my, r, nr, b);
    case OP_LIST: return step_list(o, my, r, nr, b);
    case OP_CLAIM: return step_claim(o, my, r, nr, b);
    case OP_COMPLETE: case OP_CLOSE: return step_update_view(o, my, r, nr, b);
    case OP_DELETE: return step_delete(o, my, r, nr, b);
    case OP_MEMBER_ADD: case OP_MEMBER_REMOVE: case OP_MARK: return step_member(o, my, r, nr, b);
    case OP_APPEND: return step_append(o, my, r, nr, b);
    case OP_HISTORY: return step_history(o, my, r, nr, b);
    case OP_GROUP: return step_group(o, my, r, nr, b);
    case OP_PURGE: case OP_PURGE_IDS: return step_purge(o, my, r, nr, b);
    case OP_ERASE: return step_erase(o, my, r, nr, b);
    case OP_EDIT: return step_edit(o, my, r, nr, b);
    case OP_REVISIONS: return step_revisions(o, my, r, nr, b);
    case OP_CLAIM_LIMITED: return step_claim_limited(o, my, r, nr, b);
    case OP_TRANSFER: return step_transfer(o, my, r, nr, b);
    case OP_REOPEN: return step_reopen(o, my, r, nr, b);
    case OP_REACT: return step_react(o, my, r, nr, b);
    case OP_REACTIONS: return step_reactions(o, my, r, nr, b);
    case OP_RATE: return step_rate(o, my, r, nr, b);
    case OP_SEARCH: return step_search(o, my, r, nr, b);
    case OP_CANNED_PUT: return step_canned_put(o, my, r, nr, b);
    case OP_CANNED_DELETE: return step_canned_delete(o, my, r, nr, b);
    case OP_CANNED_LIST: return step_canned_list(o, my, r, nr, b);
    }
    o->status = CHATD_ERR_INTERNAL;
    return false;
}

/* -------------------------------------------- driving the client */

static void conn_fail(struct conn *c, const char *why);
static void redispatch_waiting(struct mystore *st);
static void dispatch(struct mystore *st, struct op *o);
static void batch_next(struct conn *c);

static void results_clear(struct conn *c)
{
    for (size_t i = 0; i < c->nres; i++) {
        if (c->res[i].res)
            mysql_free_result(c->res[i].res);
        rows_free(c->res[i].rows);
    }
    c->nres = 0;
}

static void on_io(evutil_socket_t fd, short what, void *arg);
static void idle_watch(struct conn *c);
static void stmt_done(struct conn *c, int r);

static void wait_for(struct conn *c, int status)
{
    short flags = 0;
    if (status & MYSQL_WAIT_READ)
        flags |= EV_READ;
    if (status & MYSQL_WAIT_WRITE)
        flags |= EV_WRITE;
    if (status & MYSQL_WAIT_EXCEPT)
        flags |= EV_READ;
    struct timeval tv, *tvp = NULL;
    if (status & MYSQL_WAIT_TIMEOUT) {
        unsigned ms = mysql_get_timeout_value_ms(c->my);
        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;
        tvp = &tv;
    }
    event_del(c->io);
    event_assign(c->io, c->st->host->base, mysql_get_socket(c->my), flags, on_io, c);
    event_add(c->io, tvp);
}

static void record_error(struct conn *c)
{
    c->err = mysql_errno(c->my);
    if (!c->err)
        c->err = CR_UNKNOWN_ERROR;
    snprintf(c->errmsg, sizeof c->errmsg, "%s", mysql_error(c->my));
}

static void phase_done(struct conn *c, MYSQL_RES *res, int r);

static void run(struct conn *c, void (*done)(struct conn *c))
{
    results_clear(c);
    c->err = 0;
    c->errmsg[0] = 0;
    c->done = done;
    if (c->sql.oom) {
        c->err = CR_OUT_OF_MEMORY;
        snprintf(c->errmsg, sizeof c->errmsg, "out of memory");
        done(c);
        return;
    }
    int err = 0;
    c->phase = P_QUERY;
    int status = mysql_real_query_start(&err, c->my, c->sql.p, (unsigned long)c->sql.len);
    if (status)
        wait_for(c, status);
    else
        phase_done(c, NULL, err);
}

/* A finished call of the current phase: take its outcome and go on. */
static void phase_done(struct conn *c, MYSQL_RES *res, int r)
{
    switch (c->phase) {
    case P_QUERY:
        if (r) {
            record_error(c);
            break;
        }
        c->phase = P_STORE;
        {
            MYSQL_RES *first;
            int status = mysql_store_result_start(&first, c->my);
            if (status) {
                wait_for(c, status);
                return;
            }
            phase_done(c, first, 0);
        }
        return;
    case P_STORE:
        if (!res && mysql_field_count(c->my)) {
            record_error(c);
            break;
        }
        if (c->nres == c->capres) {
            size_t cap = c->capres ? 2 * c->capres : 16;
            struct result *p = realloc(c->res, cap * sizeof *p);
            if (!p) {
                if (res)
                    mysql_free_result(res);
                c->err = CR_OUT_OF_MEMORY;
                break;
            }
            c->res = p;
            c->capres = cap;
        }
        c->res[c->nres++] = (struct result){res, NULL, res ? 0 : (uint64_t)mysql_affected_rows(c->my)};
        if (!mysql_more_results(c->my))
            break;
        c->phase = P_NEXT;
        {
            int r2;
            int status = mysql_next_result_start(&r2, c->my);
            if (status) {
                wait_for(c, status);
                return;
            }
            phase_done(c, NULL, r2);
        }
        return;
    case P_NEXT:
        if (r > 0) {
            record_error(c);
            break;
        }
        if (r < 0)
            break;
        c->phase = P_STORE;
        {
            MYSQL_RES *nres;
            int status = mysql_store_result_start(&nres, c->my);
            if (status) {
                wait_for(c, status);
                return;
            }
            phase_done(c, nres, 0);
        }
        return;
    default:
        return;
    }
    c->phase = P_NONE;
    c->done(c);
    idle_watch(c);
}

static void on_connected(struct conn *c, MYSQL *ret);
static void conn_fail(struct conn *c, const char *why_in);

/* An idle connection's socket is watched too: the server sends nothing
 * unasked, so anything readable there is it going away (killed, shut
 * down), seen at once rather than at the next query, so that readiness
 * (/healthz) follows the server. */
static void idle_watch(struct conn *c)
{
    if (c->phase != P_NONE || c->state != C_READY || !c->my)
        return;
    event_del(c->io);
    event_assign(c->io, c->st->host->base, mysql_get_socket(c->my), EV_READ, on_io, c);
    event_add(c->io, NULL);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct conn *c = arg;
    int ready = 0;
    if (what & EV_READ)
        ready |= MYSQL_WAIT_READ;
    if (what & EV_WRITE)
        ready |= MYSQL_WAIT_WRITE;
    if (what & EV_TIMEOUT)
        ready |= MYSQL_WAIT_TIMEOUT;
    int status, r = 0;
    MYSQL_RES *res = NULL;
    MYSQL *ret = NULL;
    switch (c->phase) {
    case P_CONNECT:
        status = mysql_real_connect_cont(&ret, c->my, ready);
        if (status)
            wait_for(c, status);
        else
            on_connected(c, ret);
        return;
    case P_QUERY:
        status = mysql_real_query_cont(&r, c->my, ready);
        break;
    case P_STORE:
        status = mysql_store_result_cont(&res, c->my, ready);
        break;
    case P_NEXT:
        status = mysql_next_result_cont(&r, c->my, ready);
        break;
    case P_PREPARE: case P_EXECUTE: case P_STMT_STORE:
        if (c->phase == P_PREPARE)
            status = mysql_stmt_prepare_cont(&r, c->stmt, ready);
        else if (c->phase == P_EXECUTE)
            status = mysql_stmt_execute_cont(&r, c->stmt, ready);
        else
            status = mysql_stmt_store_result_cont(&r, c->stmt, ready);
        if (status)
            wait_for(c, status);
        else
            stmt_done(c, r);
        return;
    default:
        if ((what & EV_READ) && c->state == C_READY)
            conn_fail(c, "the server closed the connection");
        return;
    }
    if (status) {
        wait_for(c, status);
        return;
    }
    phase_done(c, res, r);
}

/* ---------------------------------------------- prepared statements */

static void record_stmt_error(struct conn *c, MYSQL_STMT *s)
{
    c->err = mysql_stmt_errno(s);
    if (!c->err)
        c->err = CR_UNKNOWN_ERROR;
    snprintf(c->errmsg, sizeof c->errmsg, "%s", mysql_stmt_error(s));
}

static bool res_push(struct conn *c, struct result r)
{
    if (c->nres == c->capres) {
        size_t cap = c->capres ? 2 * c->capres : 16;
        struct result *p = realloc(c->res, cap * sizeof *p);
        if (!p)
            return false;
        c->res = p;
        c->capres = cap;
    }
    c->res[c->nres++] = r;
    return true;
}

/* The stored answer of s as rows of text (every column bound as a string:
 * the library converts numbers; bytes stay bytes), in c->res[0]. Fetching
 * a stored answer reads no socket. */
#define ROW_INLINE 256
static bool rows_take(struct conn *c, MYSQL_STMT *s)
{
    unsigned nc = mysql_stmt_field_count(s);
    struct rows *rs = calloc(1, sizeof *rs);
    MYSQL_BIND *bind = calloc(nc ? nc : 1, sizeof *bind);
    unsigned long *len = calloc(nc ? nc : 1, sizeof *len);
    my_bool *nul = calloc(nc ? nc : 1, sizeof *nul);
    char *inline_buf = calloc(nc ? nc : 1, ROW_INLINE);
    bool ok = rs && bind && len && nul && inline_buf;
    if (ok) {
        rs->ncols = nc;
        for (unsigned i = 0; i < nc; i++) {
            bind[i].buffer_type = MYSQL_TYPE_STRING;
            bind[i].buffer = inline_buf + (size_t)i * ROW_INLINE;
            bind[i].buffer_length = ROW_INLINE;
            bind[i].length = &len[i];
            bind[i].is_null = &nul[i];
        }
        ok = !mysql_stmt_bind_result(s, bind);
    }
    int rc = 0;
    while (ok && ((rc = mysql_stmt_fetch(s)) == 0 || rc == MYSQL_DATA_TRUNCATED)) {
        size_t size = (size_t)nc * (sizeof(unsigned long) + sizeof(char *));
        for (unsigned i = 0; i < nc; i++)
            size += nul[i] ? 0 : (size_t)len[i] + 1;
        if (rs->n == rs->cap) {
            size_t cap = rs->cap ? 2 * rs->cap : 32;
            void **p = realloc(rs->row, cap * sizeof *p);
            if (!p) {
                ok = false;
                break;
            }
            rs->row = p;
            rs->cap = cap;
        }
        unsigned long *l = rows_block(rs, size);
        if (!l) {
            ok = false;
            break;
        }
        rs->row[rs->n++] = l;
        char **v = (char **)(l + nc);
        char *d = (char *)(v + nc);
        for (unsigned i = 0; i < nc; i++) {
            l[i] = nul[i] ? 0 : len[i];
            v[i] = nul[i] ? NULL : d;
            if (nul[i])
                continue;
            if (len[i] <= ROW_INLINE) {
                memcpy(d, inline_buf + (size_t)i * ROW_INLINE, len[i]);
            } else {
                unsigned long got = 0;
                MYSQL_BIND one = {.buffer_type = MYSQL_TYPE_STRING, .buffer = d, .buffer_length = len[i] + 1,
                                  .length = &got};
                if (mysql_stmt_fetch_column(s, &one, i, 0)) {
                    ok = false;
                    break;
                }
            }
            d[len[i]] = 0;
            d += len[i] + 1;
        }
    }
    if (ok && rc == 1)
        ok = false;
    free(bind);
    free(len);
    free(nul);
    free(inline_buf);
    if (ok && !res_push(c, (struct result){NULL, rs, 0}))
        ok = false;
    if (!ok)
        rows_free(rs);
    return ok;
}

static void stmt_done(struct conn *c, int r);

/* Prepare (the text in c->sql) or execute (the parameters bound) s, then
 * call done as run does: c->err, and the answer's rows in c->res[0]. */
static void stmt_run(struct conn *c, MYSQL_STMT *s, enum io_phase phase, void (*done)(struct conn *c))
{
    results_clear(c);
    c->err = 0;
    c->errmsg[0] = 0;
    c->done = done;
    c->stmt = s;
    c->phase = phase;
    if (phase == P_PREPARE && c->sql.oom) {
        c->err = CR_OUT_OF_MEMORY;
        snprintf(c->errmsg, sizeof c->errmsg, "out of memory");
        c->phase = P_NONE;
        done(c);
        return;
    }
    int r = 0;
    int status = phase == P_PREPARE ? mysql_stmt_prepare_start(&r, s, c->sql.p, (unsigned long)c->sql.len)
                                    : mysql_stmt_execute_start(&r, s);
    if (status)
        wait_for(c, status);
    else
        stmt_done(c, r);
}

static void stmt_done(struct conn *c, int r)
{
    MYSQL_STMT *s = c->stmt;
    if (r) {
        record_stmt_error(c, s);
    } else if (c->phase == P_EXECUTE && mysql_stmt_field_count(s)) {
        c->phase = P_STMT_STORE;
        int r2 = 0;
        int status = mysql_stmt_store_result_start(&r2, s);
        if (status) {
            wait_for(c, status);
            return;
        }
        stmt_done(c, r2);
        return;
    } else if (c->phase == P_EXECUTE) {
        if (!res_push(c, (struct result){NULL, NULL, (uint64_t)mysql_stmt_affected_rows(s)}))
            c->err = CR_OUT_OF_MEMORY;
    } else if (c->phase == P_STMT_STORE) {
        if (!rows_take(c, s)) {
            c->err = CR_OUT_OF_MEMORY;
            snprintf(c->errmsg, sizeof c->errmsg, "out of memory");
        }
        /* the answer was read whole: this frees it here, no round trip */
        mysql_stmt_free_result(s);
    }
    c->phase = P_NONE;
    c->stmt = NULL;
    c->done(c);
    idle_watch(c);
}

/* ------------------------------------------------------- batches */

static bool conn_error(unsigned err)
{
    return err >= 2000 && err < 3000; /* the client's own codes: the link is gone */
}

static bool retryable(unsigned err)
{
    return err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT;
}

static chatd_status status_of(unsigned err)
{
    switch (err) {
    case ER_DATA_TOO_LONG: case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: case ER_INVALID_CHARACTER_STRING:
    case ER_WARN_DATA_OUT_OF_RANGE: case ER_TRUNCATED_WRONG_VALUE: case ER_BAD_NULL_ERROR:
    case ER_NET_PACKET_TOO_LARGE:
        return CHATD_ERR_INVALID;
    case ER_LOCK_DEADLOCK: case ER_LOCK_WAIT_TIMEOUT: case ER_QUERY_INTERRUPTED: case ER_STATEMENT_TIMEOUT:
        return CHATD_ERR_TIMEOUT;
    default:
        return CHATD_ERR_INTERNAL;
    }
}

static void log_err(struct conn *c, chatd_log_level level, const char *what)
{
    c->st->host->log(c->st->host, level, "mysql %s: %s (%u)", what, c->errmsg, c->err);
}

static void batch_results(struct conn *c);

static bool is_read(const struct op *o)
{
    return o->kind == OP_GET || o->kind == OP_LIST || o->kind == OP_HISTORY || o->kind == OP_REVISIONS ||
           o->kind == OP_REACTIONS || o->kind == OP_SEARCH;
}

/* Ops that are one round trip each: several can share one. */
static bool one_step_read(const struct op *o)
{
    switch (o->kind) {
    case OP_GET: case OP_HISTORY: case OP_MARK: case OP_MEMBER_REMOVE: case OP_COMPLETE: case OP_CLOSE:
    case OP_DELETE: case OP_REVISIONS: case OP_REACTIONS: case OP_SEARCH:
        return true;
    default:
        return false;
    }
}

/* Ops whose first round trip is their last. */
static bool one_step(const struct op *o)
{
    return one_step_read(o) || (o->kind == OP_APPEND && !o->careful);
}

/* The statements in sql as this file writes it: ';' outside the quoted
 * literals (escaped with backslashes by mysql_real_escape_string). */
static size_t statements(const char *sql)
{
    size_t n = 1;
    bool quoted = false;
    for (const char *p = sql; *p; p++) {
        if (quoted && *p == '\\' && p[1])
            p++;
        else if (*p == '\'')
            quoted = !quoted;
        else if (*p == ';' && !quoted)
            n++;
    }
    return n;
}

/* Bind a string parameter of the execution in c->params. */
static void ps_bind_str(struct conn *c, size_t i, const char *v)
{
    c->plen[i] = (unsigned long)strlen(v);
    c->params[i] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING, .buffer = (void *)v,
                                .buffer_length = c->plen[i], .length = &c->plen[i]};
}

static void ps_bind_u64(struct conn *c, size_t i, uint64_t v)
{
    c->pnum[i] = v;
    c->params[i] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_LONGLONG, .buffer = &c->pnum[i], .is_unsigned = 1};
}

/* Send op o alone as its prepared statement, when it has one: a room
 * look-up, or the fast read of a chain of pages (PS_PAGES_MAX at most).
 * False: o goes as text. Values go as parameters in the binary protocol,
 * so nothing is escaped, and the server parses nothing per execution. */
/* The slot (0 to PS_PAGE_SIZES - 1) of the smallest prepared size >= n,
 * or -1 when n is over PS_PAGES_MAX. */
static int ps_size(size_t n)
{
    int size = 0;
    for (size_t k = 1; k < n; k *= 2)
        size++;
    return size < PS_PAGE_SIZES ? size : -1;
}

static size_t chain_len(const struct op *o)
{
    size_t n = 0;
    for (; o; o = o->more)
        n++;
    return n;
}

/* Whether ps_send would take o. A read of reactions counts its runs. */
static bool ps_takes(const struct conn *c, const struct op *o)
{
    if (!c->ps_ok)
        return false;
    switch (o->kind) {
    case OP_GET:
        return !o->careful;
    case OP_HISTORY:
        return !o->careful && ps_size(chain_len(o)) >= 0;
    case OP_REACTIONS: {
        size_t n;
        uint64_t *run = reaction_runs(o, &n);
        free(run);
        return (run || !n) && ps_size(n ? n : 1) >= 0;
    }
    default:
        return false;
    }
}

static bool ps_send(struct conn *c, struct op *o)
{
    if (!ps_takes(c, o))
        return false;
    MYSQL_STMT *s = NULL;
    size_t np = 0;
    if (o->kind == OP_GET) {
        const char *v[2];
        np = ps_room_one(v, o->route, o->user);
        for (size_t i = 0; i < np; i++)
            ps_bind_str(c, i, v[i]);
        s = c->ps[o->user ? PS_GET_READER : PS_GET];
    } else if (o->kind == OP_HISTORY) {
        int size = ps_size(chain_len(o));
        size_t k = (size_t)1 << size;
        struct op *a = o;
        ps_bind_u64(c, np++, page_lead(o));
        for (size_t i = 0; i < k; i++) {
            uint64_t span[4];
            ps_page_span(a, span);
            for (size_t j = 0; j < 4; j++)
                ps_bind_u64(c, np++, span[j]);
            if (a)
                a = a->more;
        }
        ps_bind_str(c, np++, o->route);
        s = c->ps[PS_PAGES + size];
    } else if (o->kind == OP_REACTIONS) {
        size_t n;
        uint64_t *run = reaction_runs(o, &n);
        if (!run && n)
            return false;
        int size = ps_size(n ? n : 1);
        if (o->user)
            ps_bind_str(c, np++, o->user);
        else
            c->params[np++] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_NULL};
        ps_bind_str(c, np++, o->route);
        for (size_t i = 0; i < (size_t)1 << size; i++) {
            /* an empty run pads: seq BETWEEN 1 AND 0 */
            ps_bind_u64(c, np++, i < n ? run[2 * i] : 1);
            ps_bind_u64(c, np++, i < n ? run[2 * i + 1] : 0);
        }
        free(run);
        s = c->ps[PS_REACTIONS + size];
    }
    if (!s || mysql_stmt_param_count(s) != np || mysql_stmt_bind_param(s, c->params))
        return false;
    o->step = 1;
    c->npipe = 1;
    c->skip = 0;
    stmt_run(c, s, P_EXECUTE, batch_results);
    return true;
}

/* Send the current op's first statements after `lead`. In a transaction
 * a write runs after a SAVEPOINT, so that a refusal undoes it alone; a
 * read changes nothing and needs none. */
static void batch_send_op(struct conn *c, const char *lead)
{
    struct op *o = c->batch[c->cur];
    c->commit_sent = false;
    if (!*lead && ps_send(c, o))
        return;
    c->sql.len = 0;
    if (c->sql.p)
        c->sql.p[0] = 0;
    sb_add(&c->sql, lead);
    if (c->in_txn && !is_read(o))
        sb_add(&c->sql, "SAVEPOINT s;");
    size_t k = 0;
    for (const char *p = c->sql.p ? c->sql.p : ""; *p; p++)
        k += *p == ';';
    c->skip = k;
    o->step = 0;
    size_t start = c->sql.len;
    if (!op_step(o, c->my, NULL, 0, &c->sql)) {
        /* nothing to send (cannot happen at step 0 with the current ops) */
        c->cur++;
        batch_next(c);
        return;
    }
    o->step = 1;
    c->npipe = 1;
    if (!c->no_pipe && one_step(o)) {
        /* the reads that follow go in the same round trip */
        c->pipe_stmts[0] = statements(c->sql.p + start);
        /* in a batch of reads, one that has a prepared statement ends the
         * text round trip: it goes next, prepared (in a transaction the
         * round trip that carries the COMMIT is worth more) */
        while (c->npipe < MAX_PIPE && c->cur + c->npipe < c->nbatch && one_step(c->batch[c->cur + c->npipe]) &&
               (c->in_txn || !ps_takes(c, c->batch[c->cur + c->npipe]))) {
            struct op *n = c->batch[c->cur + c->npipe];
            sb_add(&c->sql, ";");
            size_t from = c->sql.len;
            n->step = 0;
            op_step(n, c->my, NULL, 0, &c->sql);
            n->step = 1;
            c->pipe_stmts[c->npipe++] = statements(c->sql.p + from);
        }
    }
    /* the last ops of a transaction: its COMMIT goes with them, unless a
     * page read among them may want a second round trip */
    bool pages = false;
    for (size_t j = 0; j < c->npipe; j++)
        pages |= c->batch[c->cur + j]->kind == OP_HISTORY;
    if (c->in_txn && one_step(o) && !pages && c->cur + c->npipe == c->nbatch) {
        if (c->npipe == 1)
            c->pipe_stmts[0] = statements(c->sql.p + start);
        sb_add(&c->sql, ";COMMIT");
        c->commit_sent = true;
    }
    run(c, batch_results);
}

static void answer_batch(struct conn *c, chatd_status s)
{
    struct op **b = c->batch;
    size_t n = c->nbatch;
    c->nbatch = c->cur = 0;
    c->busy = false;
    for (size_t i = 0; i < n; i++)
        op_finish(b[i], s);
}

static void on_commit(struct conn *c)
{
    if (c->err) {
        if (conn_error(c->err)) {
            conn_fail(c, c->errmsg);
            return;
        }
        log_err(c, CHATD_LOG_WARN, "commit");
        answer_batch(c, status_of(c->err));
    } else {
        answer_batch(c, CHATD_OK);
    }
    if (c->state == C_READY)
        event_active(c->kick, 0, 0);
}

static void batch_restart(struct conn *c)
{
    for (size_t i = 0; i < c->nbatch; i++)
        for (struct op *a = c->batch[i]; a; a = a->more)
            answer_reset(a);
    c->cur = 0;
    batch_send_op(c, c->in_txn ? "ROLLBACK;START TRANSACTION;" : "");
}

static void batch_next(struct conn *c)
{
    if (c->cur < c->nbatch) {
        batch_send_op(c, "");
        return;
    }
    if (!c->in_txn || c->commit_sent) {
        /* reads only: each statement was a transaction of its own; or the
         * COMMIT went with the last ops and came back */
        c->commit_sent = false;
        c->err = 0;
        on_commit(c);
        return;
    }
    c->sql.len = 0;
    sb_add(&c->sql, "COMMIT");
    run(c, on_commit);
}

static void batch_results(struct conn *c)
{
    struct op *o = c->batch[c->cur];
    if (c->commit_sent && c->err) {
        c->commit_sent = false;
        size_t want = c->skip;
        for (size_t j = 0; j < c->npipe; j++)
            want += c->pipe_stmts[j];
        if (c->nres >= want) {
            /* every op went through and the COMMIT failed */
            c->npipe = 1;
            results_clear(c);
            on_commit(c);
            return;
        }
        /* an op failed before it: the transaction is still open */
    }
    if (c->npipe > 1) {
        size_t n = c->npipe;
        c->npipe = 1;
        if (c->err && !conn_error(c->err)) {
            /* the ops sent together have no savepoint each: the batch
             * runs again from its start, one op per round trip, so that
             * only the one at fault is refused */
            results_clear(c);
            c->no_pipe = true;
            batch_restart(c);
            return;
        }
        if (!c->err) {
            size_t at = c->skip;
            bool again = false;
            for (size_t j = 0; j < n; j++) {
                struct op *r = c->batch[c->cur + j];
                size_t k = c->pipe_stmts[j];
                size_t have = at < c->nres ? c->nres - at : 0;
                struct sb none = {0};
                again |= op_step(r, c->my, c->res + at, have < k ? have : k, &none);
                free(none.p);
                if (r->oom)
                    r->status = CHATD_ERR_NOMEM;
                at += k;
            }
            results_clear(c);
            if (again) {
                /* an op wants a second round trip (a page read that found
                 * a hole): the batch runs again one op at a time, which
                 * gives it one; nothing was committed (see batch_send_op) */
                c->no_pipe = true;
                batch_restart(c);
                return;
            }
            c->skip = 0;
            c->cur += n;
            batch_next(c);
            return;
        }
    }
    if (c->err) {
        if (conn_error(c->err)) {
            conn_fail(c, c->errmsg);
            return;
        }
        if (retryable(c->err) && ++c->tries < MAX_TRIES) {
            results_clear(c);
            batch_restart(c);
            return;
        }
        if (retryable(c->err)) {
            /* the whole transaction is gone: every op of it fails */
            log_err(c, CHATD_LOG_WARN, "batch");
            c->sql.len = 0;
            sb_add(&c->sql, c->in_txn ? "ROLLBACK" : "DO 0");
            for (size_t i = 0; i < c->nbatch; i++)
                for (struct op *a = c->batch[i]; a; a = a->more)
                    a->status = status_of(c->err);
            c->cur = c->nbatch;
            results_clear(c);
            run(c, on_commit);
            return;
        }
        if (o->kind == OP_APPEND && !o->careful && c->in_txn) {
            /* a stored client id or no such room: once more, carefully */
            o->careful = true;
            for (struct op *a = o; a; a = a->more)
                answer_reset(a);
            results_clear(c);
            batch_send_op(c, "ROLLBACK TO SAVEPOINT s;");
            return;
        }
        /* this op alone is refused: undo what it did and go on */
        log_err(c, CHATD_LOG_INFO, "statement");
        chatd_status s = status_of(c->err);
        for (struct op *a = o; a; a = a->more) {
            answer_reset(a);
            a->status = s;
        }
        results_clear(c);
        c->cur++;
        const char *undo = c->in_txn && !is_read(o) ? "ROLLBACK TO SAVEPOINT s;" : "";
        if (c->cur < c->nbatch) {
            batch_send_op(c, undo);
        } else if (c->in_txn) {
            c->sql.len = 0;
            sb_add(&c->sql, undo);
            sb_add(&c->sql, "COMMIT");
            run(c, on_commit);
        } else {
            c->err = 0;
            on_commit(c);
        }
        return;
    }
    struct result *r = c->res + c->skip;
    size_t nr = c->nres > c->skip ? c->nres - c->skip : 0;
    c->sql.len = 0;
    if (c->sql.p)
        c->sql.p[0] = 0;
    bool more = op_step(o, c->my, r, nr, &c->sql);
    results_clear(c);
    c->skip = 0;
    if (more) {
        o->step++; /* a step that set -1 starts the op over */
        run(c, batch_results);
        return;
    }
    if (o->oom)
        o->status = CHATD_ERR_NOMEM;
    c->cur++;
    batch_next(c);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The op of batch[0..n) that o joins (o then runs with it and gets the
 * same answer), or NULL.
 * - An append joins the appends to its room before it. It may run before a
 *   read or a read mark of its room called before it (which then sees it:
 *   the SDK allows that), never across another kind of write to the room;
 *   appends keep their order among themselves.
 * - A read mark joins the read marks of the same reader in the room before
 *   it, on the same terms: marks only move forward (the greatest is
 *   stored), and a mark names a message stored before it was called.
 * - A look-up of a room joins an identical one before it when no write to
 *   the room lies between (it then sees everything called before it):
 *   many sends and page reads of one room look it up at once, and one
 *   read of it answers them all.
 * - A page read joins the page reads of its room before it on the same
 *   terms: one statement reads them all; so does a read of reactions, those
 *   of the same reader: the reactions of every page of a batch in one. */
static struct op *batch_joins(struct op **batch, size_t n, const struct op *o)
{
    if (o->kind != OP_APPEND && o->kind != OP_MARK && o->kind != OP_GET && o->kind != OP_HISTORY &&
        o->kind != OP_REACTIONS)
        return NULL;
    struct op *h = NULL;
    for (size_t i = n; i-- > 0;) {
        struct op *b = batch[i];
        if (!same_str(b->route, o->route))
            continue;
        if (is_read(o)) {
            if (b->kind == o->kind && (o->kind == OP_HISTORY || same_str(b->user, o->user)))
                return b;
            if (!is_read(b))
                return NULL;
            continue;
        }
        if (b->kind == o->kind && (o->kind == OP_APPEND || same_str(b->user, o->user))) {
            h = b;
            continue;
        }
        if (!is_read(b) && b->kind != OP_MARK && b->kind != OP_APPEND)
            break;
    }
    return h;
}

static void send_batch(struct conn *c)
{
    if (c->busy || c->state != C_READY || !c->qhead)
        return;
    if (!c->batch)
        c->batch = calloc(MAX_BATCH, sizeof *c->batch);
    if (!c->batch)
        return;
    size_t n = 0;
    while (c->qhead && n < MAX_BATCH) {
        struct op *o = c->qhead;
        c->qhead = o->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->nq--;
        o->next = NULL;
        /* an append joins the appends to its room just before it in the
         * batch, when nothing else about that room lies between */
        struct op *h = batch_joins(c->batch, n, o);
        if (h) {
            struct op *t = h;
            for (;; t = t->more) {
                /* two messages that may share a client id: the second
                 * must see the first, so client ids are looked up first */
                if (o->kind == OP_APPEND && o->cid_hash && t->cid_hash == o->cid_hash)
                    h->careful = true;
                if (!t->more)
                    break;
            }
            t->more = o;
            continue;
        }
        c->batch[n++] = o;
    }
    c->nbatch = n;
    c->cur = 0;
    c->tries = 0;
    c->busy = true;
    c->in_txn = false;
    c->no_pipe = false;
    c->npipe = 1;
    for (size_t i = 0; i < n; i++)
        c->in_txn |= !is_read(c->batch[i]);
    batch_send_op(c, c->in_txn ? "START TRANSACTION;" : "");
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    send_batch(arg);
}

/* ---------------------------------------------- connection life */

static void update_ready(struct mystore *st, const char *why)
{
    size_t up = 0;
    for (size_t i = 0; i < st->nconns; i++)
        up += st->conns[i].state == C_READY;
    if ((up > 0) != st->ready) {
        st->ready = up > 0;
        st->host->set_ready(st->host, st->ready, why);
    }
}

static void lookup_drop(struct conn *c)
{
    if (!c->lookup)
        return;
    if (gai_cancel(c->lookup) == EAI_NOTCANCELED) {
        /* still running in glibc's helper thread: wait it out (a lookup
         * is bounded by the resolver's timeouts); this only happens at fini */
        const struct gaicb *l[1] = {c->lookup};
        while (gai_error(c->lookup) == EAI_INPROGRESS)
            gai_suspend(l, 1, NULL);
    }
    if (c->lookup->ar_result)
        freeaddrinfo(c->lookup->ar_result);
    free((char *)c->lookup->ar_name);
    free(c->lookup);
    c->lookup = NULL;
}

static void conn_teardown(struct conn *c)
{
    if (c->tick)
        event_del(c->tick);
    lookup_drop(c);
    if (c->io)
        event_del(c->io);
    results_clear(c);
    if (c->my) {
        /* COM_QUIT is a few bytes into a socket's buffer (or a broken one):
         * this does not wait on the server */
        mysql_close(c->my);
        c->my = NULL;
    }
    /* closed after their connection, which detached them: freed here
     * without a word to the server (its side went with the connection) */
    for (size_t i = 0; i < PS_COUNT; i++) {
        if (c->ps[i])
            mysql_stmt_close(c->ps[i]);
        c->ps[i] = NULL;
    }
    c->ps_ok = false;
    c->stmt = NULL;
    c->phase = P_NONE;
}

static void conn_fail(struct conn *c, const char *why_in)
{
    struct mystore *st = c->st;
    char why[300];
    snprintf(why, sizeof why, "mysql: %s", why_in && *why_in ? why_in : "connection lost");
    if (c->state == C_READY || c->backoff_ms == BACKOFF_MIN_MS)
        st->host->log(st->host, CHATD_LOG_WARN, "%s", why);
    snprintf(st->why, sizeof st->why, "%s", why);
    conn_teardown(c);
    c->state = C_DOWN;
    answer_batch(c, CHATD_ERR_UNAVAILABLE);
    struct op *q = c->qhead;
    c->qhead = c->qtail = NULL;
    c->nq = 0;
    update_ready(st, why);
    /* what queued here goes to another connection, or fails fast */
    for (struct op *next; q; q = next) {
        next = q->next;
        dispatch(st, q);
    }
    redispatch_waiting(st);
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void setup_results(struct conn *c);
static void ps_prepare_next(struct conn *c);
static void ps_prepared(struct conn *c);
static void conn_ready(struct conn *c);

/* Session settings, then the schema: checked (and migrated under
 * GET_LOCK, by one instance at a time) on every new connection. */
static void setup_send(struct conn *c)
{
    c->sql.len = 0;
    if (c->sql.p)
        c->sql.p[0] = 0;
    switch (c->setup_step) {
    case 0:
        sb_add(&c->sql, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;"
                        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_ZERO_DATE',"
                        " group_concat_max_len = 1048576;" /* MEMBERS_MAX */
                        "SET NAMES utf8mb4 COLLATE utf8mb4_bin;"
                        "SELECT GET_LOCK(" MIGRATION_LOCK ", 60);"
                        "CREATE TABLE IF NOT EXISTS chatd_schema (version INT NOT NULL) ENGINE=InnoDB;"
                        "SELECT COALESCE(MAX(version), 0) FROM chatd_schema");
        break;
    default: {
        int v = c->setup_step; /* the version to reach */
        sb_add(&c->sql, migrations[v - 1]);
        sb_fmt(&c->sql, ";DELETE FROM chatd_schema;INSERT INTO chatd_schema VALUES (%d)", v);
        if (v == SCHEMA_VERSION)
            sb_add(&c->sql, ";SELECT RELEASE_LOCK(" MIGRATION_LOCK ")");
        break;
    }
    }
    run(c, setup_results);
}

static void setup_results(struct conn *c)
{
    struct mystore *st = c->st;
    if (c->err) {
        if (!conn_error(c->err))
            log_err(c, CHATD_LOG_ERROR, "schema");
        conn_fail(c, c->errmsg);
        return;
    }
    int version = SCHEMA_VERSION;
    if (c->setup_step == 0) {
        MYSQL_ROW row = c->nres == 6 && c->res[5].res ? mysql_fetch_row(c->res[5].res) : NULL;
        MYSQL_ROW lock = c->nres == 6 && c->res[3].res ? mysql_fetch_row(c->res[3].res) : NULL;
        if (!row || !lock || !lock[0] || strcmp(lock[0], "1") != 0) {
            results_clear(c);
            conn_fail(c, "could not take the schema migration lock");
            return;
        }
        version = (int)col_i64(row, 0);
        results_clear(c);
        if (version > SCHEMA_VERSION) {
            char why[200];
            snprintf(why, sizeof why, "the database's schema version %d is newer than this plugin's %d", version,
                     SCHEMA_VERSION);
            st->host->log(st->host, CHATD_LOG_ERROR, "mysql: %s", why);
            conn_fail(c, why);
            return;
        }
        if (version < SCHEMA_VERSION) {
            st->host->log(st->host, CHATD_LOG_INFO, "mysql: migrating the schema from version %d to %d", version,
                          SCHEMA_VERSION);
            c->setup_step = version + 1;
            setup_send(c);
            return;
        }
        c->sql.len = 0;
        sb_add(&c->sql, "SELECT RELEASE_LOCK(" MIGRATION_LOCK ")");
        c->setup_step = SCHEMA_VERSION + 1;
        run(c, setup_results);
        return;
    }
    results_clear(c);
    if (c->setup_step < SCHEMA_VERSION) {
        c->setup_step++;
        setup_send(c);
        return;
    }
    c->ps_next = 0;
    ps_prepare_next(c);
}

/* The prepared statements of this connection, one after the other; then
 * it is ready. One that the server refuses leaves them all unused (the
 * text statements do the same work) and says why. */
static void ps_prepare_next(struct conn *c)
{
    struct mystore *st = c->st;
    if (c->ps_next == PS_COUNT) {
        c->ps_ok = true;
        conn_ready(c);
        return;
    }
    c->sql.len = 0;
    if (c->sql.p)
        c->sql.p[0] = 0;
    if (c->ps_next == PS_GET)
        sql_room_one(&c->sql, NULL, "", NULL);
    else if (c->ps_next == PS_GET_READER)
        sql_room_one(&c->sql, NULL, "", "");
    else if (c->ps_next < PS_REACTIONS)
        sql_pages_prepared(&c->sql, (size_t)1 << (c->ps_next - PS_PAGES));
    else
        sql_counts_prepared(&c->sql, (size_t)1 << (c->ps_next - PS_REACTIONS));
    MYSQL_STMT *s = c->ps[c->ps_next] = mysql_stmt_init(c->my);
    if (!s) {
        st->host->log(st->host, CHATD_LOG_WARN, "mysql: out of memory for a prepared statement; text statements");
        conn_ready(c);
        return;
    }
    stmt_run(c, s, P_PREPARE, ps_prepared);
}

static void ps_prepared(struct conn *c)
{
    if (c->err) {
        if (conn_error(c->err)) {
            conn_fail(c, c->errmsg);
            return;
        }
        log_err(c, CHATD_LOG_WARN, "prepare (text statements instead)");
        conn_ready(c);
        return;
    }
    c->ps_next++;
    ps_prepare_next(c);
}

static void conn_ready(struct conn *c)
{
    struct mystore *st = c->st;
    c->state = C_READY;
    c->backoff_ms = BACKOFF_MIN_MS;
    idle_watch(c);
    update_ready(st, "connected to mysql");
    event_active(c->kick, 0, 0);
    redispatch_waiting(st);
}

static void on_connected(struct conn *c, MYSQL *ret)
{
    c->phase = P_NONE;
    if (!ret) {
        record_error(c);
        conn_fail(c, c->errmsg);
        return;
    }
    c->state = C_SETUP;
    c->setup_step = 0;
    setup_send(c);
}

static bool numeric_host(const char *h)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static void connect_to(struct conn *c, const char *host);

/* The lookup of a host name, polled from the loop until glibc has it. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct conn *c = arg;
    int e = gai_error(c->lookup);
    if (e == EAI_INPROGRESS)
        return;
    event_del(c->tick);
    c->address[0] = 0;
    for (struct addrinfo *ai = e ? NULL : c->lookup->ar_result; ai && !c->address[0]; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, c->address, sizeof c->address);
        else if (ai->ai_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, c->address,
                      sizeof c->address);
    }
    lookup_drop(c);
    if (!c->address[0]) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s: %s", c->st->hostname, e ? gai_strerror(e) : "no address");
        conn_fail(c, why);
        return;
    }
    connect_to(c, c->address);
}

static void connect_start(struct conn *c)
{
    struct mystore *st = c->st;
    if (st->socket || numeric_host(st->hostname) || strcmp(st->hostname, "localhost") == 0) {
        /* "localhost" is the default Unix socket to Connector/C: no lookup */
        connect_to(c, st->hostname);
        return;
    }
    c->lookup = calloc(1, sizeof *c->lookup);
    char *name = strdup(st->hostname);
    static const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (!c->lookup || !name) {
        free(name);
        conn_fail(c, "out of memory");
        return;
    }
    c->lookup->ar_name = name;
    c->lookup->ar_request = &hints;
    struct gaicb *list[1] = {c->lookup};
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
        conn_fail(c, "cannot start a name lookup");
        return;
    }
    c->state = C_RESOLVING;
    struct timeval tv = {0, LOOKUP_POLL_MS * 1000};
    event_add(c->tick, &tv);
}

static void connect_to(struct conn *c, const char *host)
{
    struct mystore *st = c->st;
    c->my = mysql_init(NULL);
    if (!c->my) {
        conn_fail(c, "out of memory");
        return;
    }
    unsigned timeout_s = (unsigned)((st->connect_timeout_ms + 999) / 1000);
    mysql_options(c->my, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
    if (st->tls) {
        my_bool verify = st->tls_verify;
        mysql_ssl_set(c->my, st->tls_key, st->tls_cert, st->tls_ca, NULL, NULL);
        mysql_options(c->my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
        my_bool enforce = 1;
        mysql_options(c->my, MYSQL_OPT_SSL_ENFORCE, &enforce);
    }
    c->state = C_CONNECTING;
    c->phase = P_CONNECT;
    MYSQL *ret = NULL;
    int status = mysql_real_connect_start(&ret, c->my, st->socket ? NULL : host, st->user, st->password,
                                          st->database, (unsigned)st->port, st->socket, CLIENT_MULTI_STATEMENTS);
    if (status)
        wait_for(c, status);
    else
        on_connected(c, ret);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    connect_start(arg);
}

/* --------------------------------------------------------- routing */

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Whether a write is queued or in flight on c. */
static bool writes_pending(const struct conn *c)
{
    for (const struct op *o = c->qhead; o; o = o->next)
        if (!is_read(o))
            return true;
    for (size_t i = 0; c->busy && i < c->nbatch; i++)
        if (!is_read(c->batch[i]))
            return true;
    return false;
}

/* A room always maps to the same connection while it is up, so what
 * concerns it runs in call order; room-less ops go to the least busy. */
static struct conn *pick(struct mystore *st, const struct op *o)
{
    size_t n = st->nconns;
    if (!o->route) {
        struct conn *best = NULL;
        for (size_t i = 0; i < n; i++) {
            struct conn *c = &st->conns[(st->rr + i) % n];
            if (c->state == C_READY && (!best || c->nq + c->nbatch < best->nq + best->nbatch))
                best = c;
        }
        st->rr++;
        return best;
    }
    size_t start = hash(o->route) % n;
    struct conn *home = NULL;
    for (size_t i = 0; i < n && !home; i++) {
        struct conn *c = &st->conns[(start + i) % n];
        if (c->state == C_READY)
            home = c;
    }
    if (!home || !is_read(o) || writes_pending(home))
        return home;
    /* A read of a room whose connection has no write queued or in flight
     * cannot miss one called before it: it goes to the least busy one. */
    struct conn *best = home;
    for (size_t i = 0; i < n; i++) {
        struct conn *c = &st->conns[i];
        if (c->state == C_READY && c->nq + (c->busy ? c->nbatch : 0) < best->nq + (best->busy ? best->nbatch : 0))
            best = c;
    }
    return best;
}

/* Hand the waiting ops on once something changed: to a connection that came
 * up, or back with UNAVAILABLE when no attempt is left. */
static void redispatch_waiting(struct mystore *st)
{
    struct op *o = st->whead;
    st->whead = st->wtail = NULL;
    for (struct op *next; o; o = next) {
        next = o->next;
        dispatch(st, o);
    }
}

static void dispatch(struct mystore *st, struct op *o)
{
    struct conn *c = pick(st, o);
    if (!c) {
        bool coming = false;
        for (size_t i = 0; i < st->nconns; i++)
            coming |= st->conns[i].state == C_RESOLVING || st->conns[i].state == C_CONNECTING ||
                      st->conns[i].state == C_SETUP;
        if (coming) {
            /* a connection is on its way: wait for it rather than fail */
            o->next = NULL;
            if (st->wtail)
                st->wtail->next = o;
            else
                st->whead = o;
            st->wtail = o;
        } else {
            finish_later(o, CHATD_ERR_UNAVAILABLE);
        }
        return;
    }
    o->next = NULL;
    if (c->qtail)
        c->qtail->next = o;
    else
        c->qhead = o;
    c->qtail = o;
    c->nq++;
    if (!c->busy)
        event_active(c->kick, 0, 0);
}

static struct op *op_new(struct mystore *st, enum op_kind kind, void *cb, void *ctx)
{
    struct op *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->st = st;
    o->kind = kind;
    o->cb = cb;
    o->ctx = ctx;
    return o;
}

static void submit(struct mystore *st, struct op *o)
{
    st->pending++;
    if (o->oom)
        finish_later(o, CHATD_ERR_NOMEM);
    else if (st->pending > (size_t)st->max_pending)
        finish_later(o, CHATD_ERR_LIMIT);
    else
        dispatch(st, o);
}

#define NEW_OP(kind, cb)                              \
    struct mystore *st = state;                       \
    struct op *o = op_new(st, kind, (void *)cb, ctx); \
    if (!o)                                           \
        return;

/* ------------------------------------------------------- the ops */

static void m_room_create(void *state, const struct chatd_room *room, const char *unique_key, chatd_room_cb cb,
                          void *ctx)
{
    NEW_OP(OP_CREATE, cb)
    memcpy(&o->room_arg, room, room->size < sizeof o->room_arg ? room->size : sizeof o->room_arg);
    o->room_arg.id = o->route = astr(o, room->id);
    o->room_arg.title = astr(o, room->title);
    o->room_arg.owner = astr(o, room->owner);
    o->room_arg.agent = astr(o, room->agent);
    o->room_arg.topic = CHATD_HAS(room, topic) ? astr(o, room->topic) : NULL;
    o->room_arg.members = NULL;
    o->room_arg.admins = NULL;
    o->room_arg.nadmins = 0;
    o->room_arg.last_message = NULL;
    const char **m = room->nmembers ? arena(o, &o->args, room->nmembers * sizeof *m) : NULL;
    for (size_t i = 0; m && i < room->nmembers; i++)
        m[i] = astr(o, room->members[i]);
    o->members_arg = m;
    o->key = astr(o, unique_key);
    submit(st, o);
}

static void m_room_get(void *state, const char *room_id, const char *for_user, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_GET, cb)
    o->route = astr(o, room_id);
    o->user = astr(o, for_user);
    submit(st, o);
}

static void m_room_list(void *state, const struct chatd_room_filter *f, chatd_rooms_cb cb, void *ctx)
{
    NEW_OP(OP_LIST, cb)
    o->filter = *f;
    o->filter.member = astr(o, f->member);
    o->filter.agent = astr(o, f->agent);
    o->filter.for_user = astr(o, f->for_user);
    submit(st, o);
}

static void m_room_claim(void *state, const char *room_id, const char *agent, int64_t now_ms, chatd_room_cb cb,
                         void *ctx)
{
    NEW_OP(OP_CLAIM, cb)
    o->route = astr(o, room_id);
    o->agent = astr(o, agent);
    o->now = now_ms;
    submit(st, o);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void m_room_claim_limited(void *state, const char *room_id, const char *agent, size_t max_open,
                                 int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_CLAIM_LIMITED, cb)
    o->route = astr(o, room_id);
    o->agent = astr(o, agent);
    o->limit = max_open;
    o->now = now_ms;
    submit(st, o);
}

static void m_room_transfer(void *state, const struct chatd_room_transfer *t, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_TRANSFER, cb)
    o->route = astr(o, t->room_id);
    o->user = astr(o, t->from);
    o->to = astr(o, t->to);
    o->now = t->now_ms;
    submit(st, o);
}

static void m_room_reopen(void *state, const struct chatd_room_reopen *ro, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_REOPEN, cb)
    o->route = astr(o, ro->room_id);
    o->key = astr(o, ro->unique_key);
    o->agent = astr(o, ro->agent);
    o->limit = ro->max_open;
    o->after_ms = ro->completed_after_ms;
    o->now = ro->now_ms;
    submit(st, o);
}

static void m_room_complete(void *state, const char *room_id, const char *agent, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_COMPLETE, cb)
    o->now = wall_ms(); /* when completed: room_reopen's window */
    o->route = astr(o, room_id);
    o->agent = astr(o, agent);
    submit(st, o);
}

static void m_room_delete(void *state, const char *room_id, chatd_done_cb cb, void *ctx)
{
    NEW_OP(OP_DELETE, cb)
    o->route = astr(o, room_id);
    submit(st, o);
}

static void m_member(void *state, enum op_kind kind, const char *room_id, const char *user, chatd_done_cb cb,
                     void *ctx)
{
    NEW_OP(kind, cb)
    o->route = astr(o, room_id);
    o->user = astr(o, user);
    submit(st, o);
}

static void m_member_add(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    m_member(state, OP_MEMBER_ADD, room_id, user, cb, ctx);
}

static void m_member_remove(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    m_member(state, OP_MEMBER_REMOVE, room_id, user, cb, ctx);
}

static void m_message_append(void *state, const struct chatd_message *msg, chatd_message_cb cb, void *ctx)
{
    NEW_OP(OP_APPEND, cb)
    memcpy(&o->msg_arg, msg, msg->size < sizeof o->msg_arg ? msg->size : sizeof o->msg_arg);
    o->msg_arg.room = o->route = astr(o, msg->room);
    o->msg_arg.sender = astr(o, msg->sender);
    o->msg_arg.client_id = astr(o, msg->client_id);
    o->msg_arg.body = copy_n(o, &o->args, msg->body ? msg->body : "", msg->body ? msg->body_len : 0);
    o->msg_arg.body_len = msg->body ? msg->body_len : 0;
    o->msg_arg.content_type = CHATD_HAS(msg, content_type) ? astr(o, msg->content_type) : NULL;
    o->msg_arg.kind = CHATD_HAS(msg, kind) ? msg->kind : CHATD_MESSAGE_TEXT;
    o->msg_arg.reply_to = CHATD_HAS(msg, reply_to) ? msg->reply_to : 0;
    o->msg_arg.rev = 0; /* the host's are ignored in an append */
    o->msg_arg.edited_ms = 0;
    o->msg_arg.deleted = false;
    if (o->msg_arg.client_id) {
        uint64_t h = 1469598103934665603u;
        for (const char *p = o->msg_arg.sender; p && *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211u;
        h = (h ^ 0xff) * 1099511628211u; /* no byte of UTF-8 text */
        for (const char *p = o->msg_arg.client_id; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211u;
        o->cid_hash = h ? h : 1;
    }
    submit(st, o);
}

/* A page read, answered with its room (SDK 2.13 room_page, which the
 * page's statement reads anyway: step_history) or without. */
static void page_read(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                      bool with_room, void *cb, void *ctx)
{
    NEW_OP(OP_HISTORY, cb)
    o->route = astr(o, room_id);
    o->before = before;
    o->after = after;
    o->limit = limit;
    o->with_room = with_room;
    submit(st, o);
}

static void m_message_list(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                           chatd_messages_cb cb, void *ctx)
{
    page_read(state, room_id, before, after, limit, false, (void *)cb, ctx);
}

static void m_room_page(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                        chatd_room_page_cb cb, void *ctx)
{
    page_read(state, room_id, before, after, limit, true, (void *)cb, ctx);
}

static void m_message_edit(void *state, const struct chatd_message_edit *ed, chatd_message_cb cb, void *ctx)
{
    NEW_OP(OP_EDIT, cb)
    o->edit = *ed;
    o->edit.size = sizeof o->edit;
    o->edit.room_id = o->route = astr(o, ed->room_id);
    o->edit.content_type = astr(o, ed->content_type);
    o->edit.body = copy_n(o, &o->args, ed->body ? ed->body : "", ed->body ? ed->body_len : 0);
    o->edit.body_len = ed->body ? ed->body_len : 0;
    submit(st, o);
}

static void m_message_revisions(void *state, const char *room_id, uint64_t after_rev, size_t limit,
                                chatd_messages_cb cb, void *ctx)
{
    NEW_OP(OP_REVISIONS, cb)
    o->route = astr(o, room_id);
    o->after = after_rev;
    o->limit = limit;
    submit(st, o);
}

static void m_reaction_change(void *state, const struct chatd_reaction_change *rc, chatd_reactions_cb cb,
                              void *ctx)
{
    NEW_OP(OP_REACT, cb)
    o->react = *rc;
    o->react.size = sizeof o->react;
    o->react.room_id = o->route = astr(o, rc->room_id);
    o->react.user = astr(o, rc->user);
    o->react.emoji = astr(o, rc->emoji);
    submit(st, o);
}

static void m_reaction_list(void *state, const char *room_id, const uint64_t *seqs, size_t nseqs,
                            const char *for_user, chatd_reactions_cb cb, void *ctx)
{
    NEW_OP(OP_REACTIONS, cb)
    o->route = astr(o, room_id);
    o->user = astr(o, for_user);
    uint64_t *copy = nseqs ? arena(o, &o->args, nseqs * sizeof *seqs) : NULL;
    if (copy) {
        memcpy(copy, seqs, nseqs * sizeof *seqs);
        qsort(copy, nseqs, sizeof *copy, u64_asc); /* looked up by step_reactions */
    }
    o->seqs = copy;
    o->nseqs = copy ? nseqs : 0;
    submit(st, o);
}

/* SDK 2.8: canned replies. A desk's ops share a route (its own name
 * space, no room's) so they run in call order on one connection. */
static const char *canned_route(struct op *o, const char *desk)
{
    size_t n = strlen(desk);
    char *r = arena(o, &o->args, n + sizeof "canned\x1f");
    if (r) {
        memcpy(r, "canned\x1f", sizeof "canned\x1f" - 1);
        memcpy(r + sizeof "canned\x1f" - 1, desk, n + 1);
    }
    return r;
}

static void m_canned_put(void *state, const struct chatd_canned_reply *reply, size_t max_per_desk,
                         chatd_count_cb cb, void *ctx)
{
    NEW_OP(OP_CANNED_PUT, cb)
    o->canned = (struct chatd_canned_reply){
        .size = sizeof o->canned, .desk = astr(o, reply->desk), .shortcut = astr(o, reply->shortcut),
        .title = astr(o, reply->title), .body = astr(o, reply->body), .updated_by = astr(o, reply->updated_by),
        .updated_ms = reply->updated_ms};
    o->route = canned_route(o, reply->desk);
    o->limit = max_per_desk;
    submit(st, o);
}

static void m_canned_delete(void *state, const char *desk, const char *shortcut, chatd_done_cb cb, void *ctx)
{
    NEW_OP(OP_CANNED_DELETE, cb)
    o->canned.desk = astr(o, desk);
    o->canned.shortcut = astr(o, shortcut);
    o->route = canned_route(o, desk);
    submit(st, o);
}

static void m_canned_list(void *state, const char *desk, size_t limit, chatd_canned_cb cb, void *ctx)
{
    NEW_OP(OP_CANNED_LIST, cb)
    o->canned.desk = astr(o, desk);
    o->limit = limit ? limit : 1;
    o->route = canned_route(o, desk);
    submit(st, o);
}

static void m_message_search(void *state, const struct chatd_message_search *q, chatd_messages_cb cb, void *ctx)
{
    NEW_OP(OP_SEARCH, cb)
    o->key = astr(o, q->query);
    o->agent = astr(o, q->query_json);
    o->title = astr(o, q->before_room); /* the cursor's room */
    o->now = q->before_ts_ms;
    o->seq = q->before_seq;
    o->limit = q->limit;
    o->rooms_arg = arena(o, &o->args, (q->nrooms ? q->nrooms : 1) * sizeof *o->rooms_arg);
    for (size_t i = 0; o->rooms_arg && i < q->nrooms; i++)
        o->rooms_arg[o->nrooms_arg++] = (char *)astr(o, q->rooms[i]);
    submit(st, o);
}

static void m_read_mark(void *state, const char *room_id, const char *user, uint64_t seq, chatd_done_cb cb,
                        void *ctx)
{
    NEW_OP(OP_MARK, cb)
    o->route = astr(o, room_id);
    o->user = astr(o, user);
    o->seq = seq;
    submit(st, o);
}

static void m_group_change(void *state, const struct chatd_group_change *ch, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_GROUP, cb)
    memcpy(&o->change, ch, ch->size < sizeof o->change ? ch->size : sizeof o->change);
    o->change.room_id = o->route = astr(o, ch->room_id);
    o->change.user = astr(o, ch->user);
    o->change.title = astr(o, ch->title);
    o->change.actor = astr(o, ch->actor);
    submit(st, o);
}

static void m_room_close(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_CLOSE, cb)
    o->route = astr(o, room_id);
    o->now = now_ms;
    submit(st, o);
}

static void m_room_rate(void *state, const struct chatd_room_rating *rt, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_RATE, cb)
    o->route = astr(o, rt->room_id);
    o->user = astr(o, rt->comment); /* NULL: none */
    o->limit = rt->rating;
    o->now = rt->now_ms;
    submit(st, o);
}

static void m_room_purge(void *state, int64_t closed_before_ms, size_t limit, chatd_count_cb cb, void *ctx)
{
    NEW_OP(OP_PURGE, cb)
    o->now = closed_before_ms;
    o->limit = limit ? limit : 1;
    submit(st, o);
}

static void m_room_purge_ids(void *state, int64_t closed_before_ms, size_t limit, chatd_ids_cb cb, void *ctx)
{
    NEW_OP(OP_PURGE_IDS, cb)
    o->now = closed_before_ms;
    o->limit = limit ? limit : 1;
    submit(st, o);
}

static void m_user_erase(void *state, const char *user, chatd_erase_cb cb, void *ctx)
{
    NEW_OP(OP_ERASE, cb)
    o->user = astr(o, user);
    submit(st, o);
}

/* ---------------------------------------------------- life cycle */

/* Connector/C's library state (character sets, client plugins) is
 * process-wide: set up by the first instance, released by the last, so
 * that nothing stays behind when the host unloads the plugin. init and
 * fini run on the core thread only. */
static unsigned live_instances;

static void library_release(void)
{
    if (live_instances && --live_instances == 0)
        mysql_library_end();
}

static void store_free(struct mystore *st)
{
    for (size_t i = 0; st->conns && i < st->nconns; i++) {
        free(st->conns[i].res);
        free(st->conns[i].sql.p);
        free(st->conns[i].batch);
    }
    free(st->conns);
    free(st->hostname);
    free(st->user);
    free(st->password);
    free(st->database);
    free(st->socket);
    free(st->tls_ca);
    free(st->tls_cert);
    free(st->tls_key);
    free(st);
    library_release();
}

static void my_fini(void *state);

static chatd_status my_init(const struct chatd_host *h, void **state)
{
    if (live_instances == 0 && mysql_library_init(0, NULL, NULL) != 0) {
        h->config_error(h, NULL, "the MariaDB client library did not start");
        return CHATD_ERR_INTERNAL;
    }
    live_instances++;
    struct mystore *st = calloc(1, sizeof *st);
    if (!st) {
        library_release();
        return CHATD_ERR_NOMEM;
    }
    st->host = h;
    long long port, nconns;
    chatd_status rc = CHATD_OK;
    if ((rc = conf_str(h, "host", "127.0.0.1", &st->hostname)) != CHATD_OK ||
        (rc = conf_int(h, "port", 3306, 1, 65535, &port)) != CHATD_OK ||
        (rc = conf_str(h, "user", NULL, &st->user)) != CHATD_OK ||
        (rc = conf_str(h, "password", NULL, &st->password)) != CHATD_OK ||
        (rc = conf_str(h, "database", NULL, &st->database)) != CHATD_OK ||
        (rc = conf_str(h, "socket", NULL, &st->socket)) != CHATD_OK ||
        (rc = conf_int(h, "connections", 2, 1, 64, &nconns)) != CHATD_OK ||
        (rc = conf_ms(h, "connect_timeout", 5000, 100, 600000, &st->connect_timeout_ms)) != CHATD_OK ||
        (rc = conf_int(h, "max_pending", 10000, 1, 10000000, &st->max_pending)) != CHATD_OK ||
        (rc = conf_bool(h, "tls", false, &st->tls)) != CHATD_OK ||
        (rc = conf_bool(h, "tls_verify", true, &st->tls_verify)) != CHATD_OK ||
        (rc = conf_str(h, "tls_ca", NULL, &st->tls_ca)) != CHATD_OK ||
        (rc = conf_str(h, "tls_cert", NULL, &st->tls_cert)) != CHATD_OK ||
        (rc = conf_str(h, "tls_key", NULL, &st->tls_key)) != CHATD_OK) {
        store_free(st);
        return rc;
    }
    const char *missing = !st->user ? "user" : !st->database ? "database" : NULL;
    if (missing) {
        h->config_error(h, missing, "required: the %s chatd connects as", missing);
        store_free(st);
        return CHATD_ERR_INVALID;
    }
    if (st->socket && st->socket[0] != '/') {
        h->config_error(h, "socket", "not an absolute path: '%s'", st->socket);
        store_free(st);
        return CHATD_ERR_INVALID;
    }
    if ((st->tls_ca || st->tls_cert || st->tls_key) && !st->tls) {
        h->config_error(h, st->tls_ca ? "tls_ca" : st->tls_cert ? "tls_cert" : "tls_key",
                        "set tls = true to use TLS files");
        store_free(st);
        return CHATD_ERR_INVALID;
    }
    if (!!st->tls_cert != !!st->tls_key) {
        h->config_error(h, st->tls_cert ? "tls_key" : "tls_cert", "tls_cert and tls_key go together");
        store_free(st);
        return CHATD_ERR_INVALID;
    }
    st->port = (int)port;
    st->nconns = (size_t)nconns;
    st->conns = calloc(st->nconns, sizeof *st->conns);
    if (!st->conns) {
        store_free(st);
        return CHATD_ERR_NOMEM;
    }
    for (size_t i = 0; i < st->nconns; i++) {
        struct conn *c = &st->conns[i];
        c->st = st;
        c->backoff_ms = BACKOFF_MIN_MS;
        c->timer = evtimer_new(h->base, on_timer, c);
        c->kick = event_new(h->base, -1, 0, on_kick, c);
        c->io = event_new(h->base, -1, 0, on_io, c);
        c->tick = event_new(h->base, -1, EV_PERSIST, on_tick, c);
        if (!c->timer || !c->kick || !c->io || !c->tick) {
            my_fini(st);
            return CHATD_ERR_NOMEM;
        }
    }
    h->set_ready(h, false, "connecting to mysql");
    for (size_t i = 0; i < st->nconns; i++)
        connect_start(&st->conns[i]);
    *state = st;
    return CHATD_OK;
}

/* Ops not answered yet are dropped: the host expects no more answers, and
 * the server rolls back what was not committed when the connection closes. */
static void my_fini(void *state)
{
    struct mystore *st = state;
    for (size_t i = 0; i < st->nconns; i++) {
        struct conn *c = &st->conns[i];
        for (size_t k = 0; k < c->nbatch; k++)
            op_free(c->batch[k]);
        c->nbatch = 0;
        for (struct op *o = c->qhead, *next; o; o = next) {
            next = o->next;
            op_free(o);
        }
        c->qhead = c->qtail = NULL;
        conn_teardown(c);
        if (c->timer)
            event_free(c->timer);
        if (c->kick)
            event_free(c->kick);
        if (c->io)
            event_free(c->io);
        if (c->tick)
            event_free(c->tick);
    }
    for (struct op *o = st->whead, *next; o; o = next) {
        next = o->next;
        op_free(o);
    }
    st->whead = st->wtail = NULL;
    if (st->posted)
        st->dead = true; /* the last posted answer frees st */
    else
        store_free(st);
}

static const struct chatd_storage_ops my_ops = {
    .size = sizeof my_ops,
    .room_create = m_room_create,
    .room_get = m_room_get,
    .room_list = m_room_list,
    .room_claim = m_room_claim,
    .room_complete = m_room_complete,
    .room_delete = m_room_delete,
    .member_add = m_member_add,
    .member_remove = m_member_remove,
    .message_append = m_message_append,
    .message_list = m_message_list,
    .read_mark = m_read_mark,
    .group_change = m_group_change,
    /* SDK 1.2: transcripts. */
    .room_close = m_room_close,
    .room_purge = m_room_purge,
    .room_purge_ids = m_room_purge_ids,
    .user_erase = m_user_erase,
    /* SDK 2.2: edits and deletes. */
    .message_edit = m_message_edit,
    .message_revisions = m_message_revisions,
    /* SDK 2.3: the support desk. */
    .room_claim_limited = m_room_claim_limited,
    .room_transfer = m_room_transfer,
    .room_reopen = m_room_reopen,
    /* SDK 2.5: reactions. */
    .reaction_change = m_reaction_change,
    .reaction_list = m_reaction_list,
    /* SDK 2.6: ratings. */
    .room_rate = m_room_rate,
    /* SDK 2.4: search. */
    .message_search = m_message_search,
    /* SDK 2.8: canned replies. */
    .canned_put = m_canned_put,
    .canned_delete = m_canned_delete,
    .canned_list = m_canned_list,
    /* SDK 2.13: a room with a page of its history. */
    .room_page = m_room_page,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_STORAGE, .name = "mysql", .version = "1.0",
                    .description = "rooms and messages in MariaDB/MySQL: non-blocking Connector/C, group commit",
                    .init = my_init, .fini = my_fini, .ops.storage = &my_ops)
