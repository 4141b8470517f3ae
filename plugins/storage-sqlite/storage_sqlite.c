/* storage-sqlite: rooms and messages in one SQLite file (WAL).
 *
 * SQLite calls block, so they run on one thread of this plugin; the core
 * loop only queues operations and receives answers through host->post.
 * The thread takes every queued operation at once and runs them in one
 * transaction: concurrent appends share a commit (group commit), and no
 * answer is given before that commit, so a RECEIPT means committed.
 *
 * Durability: committed with WAL; `synchronous = full` (default) survives
 * power loss, `normal` survives a crash of chatd. */
#include <chatd/plugin.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_op.h"

#define SCHEMA_VERSION 11

static const char *const migrations[SCHEMA_VERSION] = {
    /* 1: the first schema. */
    "CREATE TABLE rooms (id TEXT PRIMARY KEY, kind INTEGER NOT NULL, state INTEGER NOT NULL, title TEXT,"
    " owner TEXT, agent TEXT, created_ms INTEGER NOT NULL, assigned_ms INTEGER NOT NULL DEFAULT 0,"
    " last_seq INTEGER NOT NULL DEFAULT 0, unique_key TEXT UNIQUE);"
    "CREATE INDEX rooms_queue ON rooms (kind, state, created_ms);"
    "CREATE TABLE members (room TEXT NOT NULL, user TEXT NOT NULL, PRIMARY KEY (room, user)) WITHOUT ROWID;"
    "CREATE INDEX members_user ON members (user);"
    "CREATE TABLE messages (room TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, sender TEXT NOT NULL,"
    " client_id TEXT, ts_ms INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX messages_client ON messages (room, sender, client_id) WHERE client_id IS NOT NULL;"
    "CREATE TABLE marks (room TEXT NOT NULL, user TEXT NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY (room, user)) WITHOUT ROWID;",
    /* 2: group roles. role: 1 member, 2 admin (the owner is rooms.owner);
     * joined: join order within the room (0 for members of schema 1, who
     * then count as joined first, by name). */
    "ALTER TABLE members ADD COLUMN role INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE members ADD COLUMN joined INTEGER NOT NULL DEFAULT 0;",
    /* 3: transcripts: closed support rooms (state 4) and when, for retention. */
    "ALTER TABLE rooms ADD COLUMN closed_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX rooms_closed ON rooms (closed_ms) WHERE state = 4;",
    /* 4: a message's content-type (SDK 2.1); NULL for messages stored before. */
    "ALTER TABLE messages ADD COLUMN content_type TEXT;",
    /* 5: a message's kind (0 text, 1 file, 2 system) and the seq it replies to (0: none). */
    "ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN reply_to INTEGER NOT NULL DEFAULT 0;",
    /* 6: edits and deletes (SDK 2.2): a room's revision counter; a message's
     * rev (0: never changed), when it changed, and whether it is deleted. */
    "ALTER TABLE rooms ADD COLUMN last_rev INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN edited_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX messages_rev ON messages (room, rev) WHERE rev > 0;",
    /* 7: reactions (SDK 2.5): one row per (message, emoji, user); emoji
     * compared byte for byte (BINARY). */
    "CREATE TABLE reactions (room TEXT NOT NULL, seq INTEGER NOT NULL, emoji TEXT NOT NULL, user TEXT NOT NULL,"
    " PRIMARY KEY (room, seq, emoji, user)) WITHOUT ROWID;"
    "CREATE INDEX reactions_user ON reactions (user, room);",
    /* 8: the customer's rating of a support room (SDK 2.6): 1..5, 0 unrated. */
    "ALTER TABLE rooms ADD COLUMN rating INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE rooms ADD COLUMN rating_comment TEXT;"
    "ALTER TABLE rooms ADD COLUMN rated_ms INTEGER NOT NULL DEFAULT 0;",
    /* 9: search (SDK 2.4): the text of every message that is neither
     * deleted nor erased, in an FTS5 table of trigrams (any part of three
     * characters or more is found through it, whatever the script), kept
     * in step by triggers; a message's text_id is its row there. */
    "ALTER TABLE messages ADD COLUMN text_id INTEGER;"
    "CREATE VIRTUAL TABLE message_text USING fts5(body, room UNINDEXED, seq UNINDEXED, tokenize='trigram');"
    "UPDATE messages SET text_id = x.n FROM (SELECT room, seq, row_number() OVER (ORDER BY room, seq) AS n"
    " FROM messages) AS x WHERE x.room = messages.room AND x.seq = messages.seq;"
    "INSERT INTO message_text (rowid, body, room, seq) SELECT text_id, CAST(body AS TEXT), room, seq FROM messages"
    " WHERE deleted = 0 AND sender <> '';"
    "CREATE TRIGGER message_text_insert AFTER INSERT ON messages BEGIN"
    " INSERT INTO message_text (body, room, seq) VALUES (CAST(new.body AS TEXT), new.room, new.seq);"
    " UPDATE messages SET text_id = last_insert_rowid() WHERE room = new.room AND seq = new.seq; END;"
    "CREATE TRIGGER message_text_update AFTER UPDATE OF body ON messages BEGIN"
    " DELETE FROM message_text WHERE rowid = old.text_id;"
    " INSERT INTO message_text (rowid, body, room, seq) SELECT old.text_id, CAST(new.body AS TEXT), new.room,"
    " new.seq WHERE old.text_id IS NOT NULL AND new.deleted = 0 AND new.sender <> ''; END;"
    "CREATE TRIGGER message_text_delete AFTER DELETE ON messages BEGIN"
    " DELETE FROM message_text WHERE rowid = old.text_id; END;",
    /* 10: canned replies (SDK 2.8), one per (desk, shortcut), compared and
     * ordered byte for byte (BINARY). */
    "CREATE TABLE canned (desk TEXT NOT NULL, shortcut TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,"
    " updated_by TEXT NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY (desk, shortcut)) WITHOUT ROWID;",
    /* 11: a support room's topic (SDK 2.12); NULL: none. */
    "ALTER TABLE rooms ADD COLUMN topic TEXT;",
};

/* A new member joins last; one already there stays as they are. */
#define SQL_ADD_MEMBER                                                                  \
    "INSERT OR IGNORE INTO members (room, user, joined)"                                \
    " VALUES (?1, ?2, (SELECT coalesce(max(joined), 0) + 1 FROM members WHERE room = ?1))"

/* ------------------------------------------------------- answers (arena) */

struct block {
    struct block *next;
    size_t used, cap;
    char data[];
};


/* One operation: its arguments (copied), then its answer. */
struct op {
    struct op *next;
    struct sqlstore *st;
    enum op_kind kind;
    void *cb;
    void *ctx;
    struct block *arena;
    bool oom;
    /* arguments */
    struct chatd_room room_arg;
    const char *id, *user, *key;
    struct chatd_room_filter filter;
    struct chatd_message msg_arg;
    struct chatd_group_change change;
    struct chatd_message_edit edit;
    uint64_t before, after, seq;
    size_t limit;
    bool with_room; /* OP_HISTORY of room_page (SDK 2.13): the room too */
    const char *query, *query_json, *rooms_json; /* search: rooms as a JSON array of strings */
    int64_t before_ts;
    int64_t now;
    const char *to;   /* room_transfer: the new agent, NULL: the queue */
    int64_t after_ms; /* room_reopen: completed at or after */
    struct chatd_reaction_change react;
    uint64_t *seqs;   /* reaction_list */
    size_t nseqs;
    /* answer */
    chatd_status status;
    struct chatd_room *rooms;
    struct chatd_message *msgs;
    size_t n;
    struct chatd_erase_result erased;
    struct chatd_reaction_count *counts;
    size_t ncounts;
    struct chatd_canned_reply canned; /* canned_put's argument */
    struct chatd_canned_reply *replies; /* canned_list's answer */
    const char **ids;                   /* room_purge_ids' answer */
};

struct sqlstore {
    const struct chatd_host *host;
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct op *head, *tail;
    size_t pending;
    bool stopping;
    size_t max_pending;
};

static void *arena(struct op *o, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!o->arena || o->arena->cap - o->arena->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        struct block *b = malloc(sizeof *b + cap);
        if (!b) {
            o->oom = true;
            return NULL;
        }
        b->next = o->arena;
        b->used = 0;
        b->cap = cap;
        o->arena = b;
    }
    void *p = o->arena->data + o->arena->used;
    o->arena->used += n;
    return p;
}

static const char *astr(struct op *o, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = arena(o, n);
    return d ? memcpy(d, s, n) : NULL;
}

static const char *acol(struct op *o, sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NULL : astr(o, (const char *)sqlite3_column_text(s, i));
}

static void op_free(struct op *o)
{
    for (struct block *b = o->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(o);
}

/* ----------------------------------------------------------- SQL helpers */

static sqlite3_stmt *prep(struct sqlstore *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        st->host->log(st->host, CHATD_LOG_ERROR, "prepare failed: %s", sqlite3_errmsg(st->db));
        return NULL;
    }
    return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static chatd_status exec_simple(struct sqlstore *st, const char *sql, const char *a, const char *b, int64_t n)
{
    sqlite3_stmt *s = prep(st, sql);
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, a);
    if (b)
        bind_text(s, 2, b);
    if (n >= 0)
        sqlite3_bind_int64(s, b ? 3 : 2, n);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? CHATD_OK : CHATD_ERR_UNAVAILABLE;
}

static bool load_message_at(struct sqlstore *st, struct op *o, const char *room, uint64_t seq, struct chatd_message *m)
{
    sqlite3_stmt *s =
        prep(st, "SELECT id, sender, client_id, ts_ms, body, content_type, kind, reply_to, rev, edited_ms, deleted"
                 " FROM messages WHERE room=? AND seq=?");
    if (!s)
        return false;
    bind_text(s, 1, room);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    bool found = sqlite3_step(s) == SQLITE_ROW;
    if (found) {
        m->size = sizeof *m;
        m->room = astr(o, room);
        m->seq = seq;
        m->id = acol(o, s, 0);
        m->sender = acol(o, s, 1);
        m->client_id = acol(o, s, 2);
        m->ts_ms = sqlite3_column_int64(s, 3);
        size_t len = (size_t)sqlite3_column_bytes(s, 4);
        char *body = arena(o, len + 1);
        if (body) {
            if (len)
                memcpy(body, sqlite3_column_blob(s, 4), len);
            body[len] = '\0';
        }
        m->body = body;
        m->body_len = len;
        m->content_type = acol(o, s, 5);
        m->kind = (chatd_message_kind)sqlite3_column_int(s, 6);
        m->reply_to = (uint64_t)sqlite3_column_int64(s, 7);
        m->rev = (uint64_t)sqlite3_column_int64(s, 8);
        m->edited_ms = sqlite3_column_int64(s, 9);
        m->deleted = sqlite3_column_int(s, 10) != 0;
        m->reactions = CHATD_REACTIONS_UNKNOWN;
    }
    sqlite3_finalize(s);
    return found;
}

/* The room `id` into *r (arena copies); false when absent. */
static bool load_room(struct sqlstore *st, struct op *o, const char *id, const char *for_user, struct chatd_room *r)
{
    sqlite3_stmt *s = prep(st, "SELECT id, kind, state, title, owner, agent, created_ms, assigned_ms, last_seq,"
                               " closed_ms, rating, rating_comment, rated_ms, topic FROM rooms WHERE id=?");
    if (!s)
        return false;
    bind_text(s, 1, id);
    bool found = sqlite3_step(s) == SQLITE_ROW;
    if (found) {
        memset(r, 0, sizeof *r);
        r->size = sizeof *r;
        r->id = acol(o, s, 0);
        r->kind = (chatd_room_kind)sqlite3_column_int(s, 1);
        r->state = (chatd_room_state)sqlite3_column_int(s, 2);
        r->title = acol(o, s, 3);
        r->owner = acol(o, s, 4);
        r->agent = acol(o, s, 5);
        r->created_ms = sqlite3_column_int64(s, 6);
        r->assigned_ms = sqlite3_column_int64(s, 7);
        r->last_seq = (uint64_t)sqlite3_column_int64(s, 8);
        r->closed_ms = sqlite3_column_int64(s, 9);
        r->rating = (uint32_t)sqlite3_column_int(s, 10);
        r->rating_comment = acol(o, s, 11);
        r->rated_ms = sqlite3_column_int64(s, 12);
        r->topic = acol(o, s, 13);
    }
    sqlite3_finalize(s);
    if (!found)
        return false;
    s = prep(st, "SELECT user, role FROM members WHERE room=? ORDER BY joined, user");
    if (!s)
        return false;
    bind_text(s, 1, id);
    size_t cap = 8, n = 0, na = 0;
    const char **members = arena(o, cap * sizeof *members);
    const char **admins = arena(o, cap * sizeof *admins);
    while (members && admins && sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            const char **grown = arena(o, 2 * cap * sizeof *grown), **agrown = arena(o, 2 * cap * sizeof *agrown);
            if (!grown || !agrown)
                break;
            memcpy(grown, members, n * sizeof *grown);
            memcpy(agrown, admins, na * sizeof *agrown);
            members = grown;
            admins = agrown;
            cap *= 2;
        }
        members[n] = acol(o, s, 0);
        if (sqlite3_column_int(s, 1) == CHATD_MEMBER_ADMIN)
            admins[na++] = members[n];
        n++;
    }
    sqlite3_finalize(s);
    r->members = members;
    r->nmembers = n;
    r->admins = na ? admins : NULL;
    r->nadmins = na;
    if (for_user) {
        s = prep(st, "SELECT seq FROM marks WHERE room=? AND user=?");
        if (s) {
            bind_text(s, 1, id);
            bind_text(s, 2, for_user);
            if (sqlite3_step(s) == SQLITE_ROW)
                r->read_seq = (uint64_t)sqlite3_column_int64(s, 0);
            sqlite3_finalize(s);
        }
        if (r->last_seq) {
            struct chatd_message *m = arena(o, sizeof *m);
            if (m && load_message_at(st, o, id, r->last_seq, m))
                r->last_message = m;
        }
    }
    return true;
}

static chatd_status answer_room(struct sqlstore *st, struct op *o, const char *id, const char *for_user, chatd_status ok)
{
    o->rooms = arena(o, sizeof *o->rooms);
    if (!o->rooms)
        return CHATD_ERR_NOMEM;
    if (!load_room(st, o, id, for_user, o->rooms)) {
        o->rooms = NULL;
        return CHATD_ERR_NOT_FOUND;
    }
    return ok;
}

/* ------------------------------------------------------------ operations */

static chatd_status do_create(struct sqlstore *st, struct op *o)
{
    if (o->key) {
        sqlite3_stmt *s = prep(st, "SELECT id FROM rooms WHERE unique_key=?");
        if (!s)
            return CHATD_ERR_INTERNAL;
        bind_text(s, 1, o->key);
        const char *existing = sqlite3_step(s) == SQLITE_ROW ? astr(o, (const char *)sqlite3_column_text(s, 0)) : NULL;
        sqlite3_finalize(s);
        if (existing)
            return answer_room(st, o, existing, NULL, CHATD_ERR_EXISTS);
    }
    const struct chatd_room *r = &o->room_arg;
    sqlite3_stmt *s = prep(st, "INSERT INTO rooms (id, kind, state, title, owner, agent, created_ms, assigned_ms,"
                               " unique_key, topic) VALUES (?,?,?,?,?,?,?,?,?,?)");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, r->id);
    sqlite3_bind_int(s, 2, r->kind);
    sqlite3_bind_int(s, 3, r->state ? r->state : CHATD_ROOM_OPEN);
    bind_text(s, 4, r->title);
    bind_text(s, 5, r->owner);
    bind_text(s, 6, r->agent);
    sqlite3_bind_int64(s, 7, r->created_ms);
    sqlite3_bind_int64(s, 8, r->assigned_ms);
    bind_text(s, 9, o->key);
    bind_text(s, 10, r->topic);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_CONSTRAINT)
        return answer_room(st, o, r->id, NULL, CHATD_ERR_EXISTS);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    for (size_t i = 0; i < r->nmembers; i++)
        if (exec_simple(st, SQL_ADD_MEMBER, r->id, r->members[i], -1) != CHATD_OK)
            return CHATD_ERR_UNAVAILABLE;
    return answer_room(st, o, r->id, NULL, CHATD_OK);
}

static chatd_status do_list(struct sqlstore *st, struct op *o)
{
    const struct chatd_room_filter *f = &o->filter;
    sqlite3_stmt *s = prep(st, "SELECT id FROM rooms WHERE (?1 = 0 OR kind = ?1) AND (?2 = 0 OR state = ?2)"
                               " AND (?3 IS NULL OR agent = ?3)"
                               " AND (?4 IS NULL OR EXISTS (SELECT 1 FROM members m WHERE m.room = rooms.id AND m.user = ?4))"
                               " ORDER BY created_ms, rowid LIMIT ?5");
    if (!s)
        return CHATD_ERR_INTERNAL;
    sqlite3_bind_int(s, 1, f->kind);
    sqlite3_bind_int(s, 2, f->state);
    bind_text(s, 3, f->agent);
    bind_text(s, 4, f->member);
    sqlite3_bind_int64(s, 5, f->limit ? (sqlite3_int64)f->limit : 1000);
    size_t cap = 16;
    const char **ids = arena(o, cap * sizeof *ids);
    size_t n = 0;
    while (ids && sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            const char **grown = arena(o, 2 * cap * sizeof *grown);
            if (!grown)
                break;
            memcpy(grown, ids, n * sizeof *grown);
            ids = grown;
            cap *= 2;
        }
        ids[n++] = acol(o, s, 0);
    }
    sqlite3_finalize(s);
    o->rooms = n ? arena(o, n * sizeof *o->rooms) : NULL;
    for (size_t i = 0; i < n && (o->rooms || !n); i++)
        if (load_room(st, o, ids[i], f->for_user, &o->rooms[o->n]))
            o->n++;
    return o->oom ? CHATD_ERR_NOMEM : CHATD_OK;
}

static chatd_status do_claim(struct sqlstore *st, struct op *o)
{
    sqlite3_stmt *s = prep(st, "UPDATE rooms SET state=2, agent=?, assigned_ms=? WHERE id=? AND kind=1 AND state=1");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, o->user);
    sqlite3_bind_int64(s, 2, o->now);
    bind_text(s, 3, o->id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    if (sqlite3_changes(st->db) != 1)
        return answer_room(st, o, o->id, NULL, CHATD_ERR_CONFLICT);
    if (exec_simple(st, SQL_ADD_MEMBER, o->id, o->user, -1) != CHATD_OK)
        return CHATD_ERR_UNAVAILABLE;
    return answer_room(st, o, o->id, NULL, CHATD_OK);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static chatd_status do_complete(struct sqlstore *st, struct op *o)
{
    /* closed_ms: when it was completed (room_reopen's window) */
    sqlite3_stmt *s = prep(st, "UPDATE rooms SET state=3, unique_key=NULL, closed_ms=? WHERE id=? AND agent=? AND state=2");
    if (!s)
        return CHATD_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, wall_ms());
    bind_text(s, 2, o->id);
    bind_text(s, 3, o->user);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    return answer_room(st, o, o->id, NULL, sqlite3_changes(st->db) == 1 ? CHATD_OK : CHATD_ERR_CONFLICT);
}

static bool room_exists(struct sqlstore *st, const char *id)
{
    sqlite3_stmt *s = prep(st, "SELECT 1 FROM rooms WHERE id=?");
    if (!s)
        return false;
    bind_text(s, 1, id);
    bool found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return found;
}

/* The room and everything in it. */
static chatd_status remove_room(struct sqlstore *st, const char *id)
{
    static const char *const sql[] = {"DELETE FROM messages WHERE room=?", "DELETE FROM members WHERE room=?",
                                      "DELETE FROM marks WHERE room=?", "DELETE FROM reactions WHERE room=?",
                                      "DELETE FROM rooms WHERE id=?"};
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++)
        if (exec_simple(st, sql[i], id, NULL, -1) != CHATD_OK)
            return CHATD_ERR_UNAVAILABLE;
    return CHATD_OK;
}

static chatd_status do_delete(struct sqlstore *st, struct op *o)
{
    if (!room_exists(st, o->id))
        return CHATD_ERR_NOT_FOUND;
    return remove_room(st, o->id);
}

static chatd_status do_member(struct sqlstore *st, struct op *o, bool add)
{
    if (!room_exists(st, o->id))
        return CHATD_ERR_NOT_FOUND;
    return exec_simple(st, add ? SQL_ADD_MEMBER : "DELETE FROM members WHERE room=? AND user=?", o->id, o->user, -1);
}

/* ------------------------------------------------------------ group roles */

static chatd_member_role role_in(struct sqlstore *st, const char *room, const char *owner, const char *user)
{
    if (!user)
        return CHATD_MEMBER_NONE;
    sqlite3_stmt *s = prep(st, "SELECT role FROM members WHERE room=? AND user=?");
    if (!s)
        return CHATD_MEMBER_NONE;
    bind_text(s, 1, room);
    bind_text(s, 2, user);
    chatd_member_role r = CHATD_MEMBER_NONE;
    if (sqlite3_step(s) == SQLITE_ROW)
        r = owner && strcmp(owner, user) == 0 ? CHATD_MEMBER_OWNER
            : sqlite3_column_int(s, 0) == CHATD_MEMBER_ADMIN ? CHATD_MEMBER_ADMIN : CHATD_MEMBER_PLAIN;
    sqlite3_finalize(s);
    return r;
}

/* The owner left: the admin who joined first, else the member who joined
 * first, becomes the owner (and no admin). */
static chatd_status pass_ownership(struct sqlstore *st, const char *room)
{
    if (exec_simple(st, "UPDATE rooms SET owner = (SELECT user FROM members WHERE room=?1"
                        " ORDER BY role = 2 DESC, joined, user LIMIT 1)"
                        " WHERE id=?1 AND EXISTS (SELECT 1 FROM members WHERE room=?1)", room, NULL, -1) != CHATD_OK)
        return CHATD_ERR_UNAVAILABLE;
    return exec_simple(st, "UPDATE members SET role=1 WHERE room=?1 AND user=(SELECT owner FROM rooms WHERE id=?1)",
                       room, NULL, -1);
}

/* One transaction on the plugin's one connection: atomic, and the only
 * writer of the file. */
static chatd_status do_group(struct sqlstore *st, struct op *o)
{
    const struct chatd_group_change *ch = &o->change;
    sqlite3_stmt *s = prep(st, "SELECT kind, owner FROM rooms WHERE id=?");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, ch->room_id);
    int rc = sqlite3_step(s);
    int kind = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    const char *owner = rc == SQLITE_ROW ? acol(o, s, 1) : NULL;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? CHATD_ERR_NOT_FOUND : CHATD_ERR_UNAVAILABLE;
    if (kind != CHATD_ROOM_GROUP)
        return CHATD_ERR_INVALID;
    const char *id = ch->room_id;
    chatd_member_role u = role_in(st, id, owner, ch->user);
    if (ch->actor) {
        chatd_member_role a = role_in(st, id, owner, ch->actor);
        if (a < ch->actor_min || (ch->outrank && a <= u))
            return answer_room(st, o, id, NULL, CHATD_ERR_DENIED);
    }
    chatd_status done = CHATD_OK;
    switch (ch->what) {
    case CHATD_GROUP_ADD:
        if (u != CHATD_MEMBER_NONE)
            return answer_room(st, o, id, NULL, CHATD_ERR_EXISTS);
        done = exec_simple(st, SQL_ADD_MEMBER, id, ch->user, -1);
        break;
    case CHATD_GROUP_REMOVE:
        if (u == CHATD_MEMBER_NONE)
            return answer_room(st, o, id, NULL, CHATD_ERR_CONFLICT);
        done = exec_simple(st, "DELETE FROM members WHERE room=? AND user=?", id, ch->user, -1);
        if (done == CHATD_OK && u == CHATD_MEMBER_OWNER)
            done = pass_ownership(st, id);
        break;
    case CHATD_GROUP_ROLE:
        if (u == CHATD_MEMBER_NONE || (u == CHATD_MEMBER_OWNER && ch->role != CHATD_MEMBER_OWNER))
            return answer_room(st, o, id, NULL, CHATD_ERR_CONFLICT);
        if (u == ch->role)
            return answer_room(st, o, id, NULL, CHATD_ERR_EXISTS);
        if (ch->role == CHATD_MEMBER_OWNER) {
            /* the previous owner, if still a member, becomes an admin */
            done = exec_simple(st, "UPDATE members SET role=2 WHERE room=?1 AND user=(SELECT owner FROM rooms WHERE id=?1)",
                               id, NULL, -1);
            if (done == CHATD_OK)
                done = exec_simple(st, "UPDATE members SET role=1 WHERE room=? AND user=?", id, ch->user, -1);
            if (done == CHATD_OK)
                done = exec_simple(st, "UPDATE rooms SET owner=?2 WHERE id=?1", id, ch->user, -1);
        } else if (ch->role == CHATD_MEMBER_ADMIN || ch->role == CHATD_MEMBER_PLAIN) {
            done = exec_simple(st, "UPDATE members SET role=?3 WHERE room=?1 AND user=?2", id, ch->user, ch->role);
        } else {
            return CHATD_ERR_INVALID;
        }
        break;
    case CHATD_GROUP_RENAME:
        if (!ch->title)
            return CHATD_ERR_INVALID;
        done = exec_simple(st, "UPDATE rooms SET title=?2 WHERE id=?1", id, ch->title, -1);
        break;
    case CHATD_GROUP_DELETE: {
        chatd_status was = answer_room(st, o, id, NULL, CHATD_OK); /* the room as it was */
        if (was != CHATD_OK)
            return was;
        o->id = id;
        return do_delete(st, o);
    }
    default:
        return CHATD_ERR_INVALID;
    }
    if (done != CHATD_OK)
        return done;
    return answer_room(st, o, id, NULL, CHATD_OK);
}

static chatd_status do_append(struct sqlstore *st, struct op *o)
{
    const struct chatd_message *m = &o->msg_arg;
    o->msgs = arena(o, sizeof *o->msgs);
    if (!o->msgs)
        return CHATD_ERR_NOMEM;
    if (m->client_id) {
        sqlite3_stmt *s = prep(st, "SELECT seq FROM messages WHERE room=? AND sender=? AND client_id=?");
        if (!s)
            return CHATD_ERR_INTERNAL;
        bind_text(s, 1, m->room);
        bind_text(s, 2, m->sender);
        bind_text(s, 3, m->client_id);
        uint64_t seq = sqlite3_step(s) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
        sqlite3_finalize(s);
        if (seq) {
            load_message_at(st, o, m->room, seq, o->msgs);
            o->n = 1;
            return CHATD_ERR_EXISTS;
        }
    }
    sqlite3_stmt *s = prep(st, "UPDATE rooms SET last_seq = last_seq + 1 WHERE id=? RETURNING last_seq");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, m->room);
    int rc = sqlite3_step(s);
    uint64_t seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE)
        return CHATD_ERR_NOT_FOUND;
    if (rc != SQLITE_ROW)
        return CHATD_ERR_UNAVAILABLE;
    char id[96];
    snprintf(id, sizeof id, "%s-%llu", m->room, (unsigned long long)seq);
    s = prep(st, "INSERT INTO messages (room, seq, id, sender, client_id, ts_ms, body, content_type, kind, reply_to)"
                 " VALUES (?,?,?,?,?,?,?,?,?,?)");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, m->room);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    bind_text(s, 3, id);
    bind_text(s, 4, m->sender);
    bind_text(s, 5, m->client_id);
    sqlite3_bind_int64(s, 6, m->ts_ms);
    sqlite3_bind_blob(s, 7, m->body ? m->body : "", (int)m->body_len, SQLITE_TRANSIENT);
    bind_text(s, 8, m->content_type);
    sqlite3_bind_int(s, 9, (int)m->kind);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)m->reply_to);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    if (!load_message_at(st, o, m->room, seq, o->msgs))
        return CHATD_ERR_INTERNAL;
    o->n = 1;
    return CHATD_OK;
}

/* The page of o->id's history o->before / o->after / o->limit ask for,
 * each message with its reactions hint (an EXISTS on the reactions
 * table's (room, seq) key), read in the batch's transaction. */
#define SQL_PAGE(cmp, order)                                                                               \
    "SELECT seq, EXISTS (SELECT 1 FROM reactions r WHERE r.room = m.room AND r.seq = m.seq) FROM messages m" \
    " WHERE room=? AND seq " cmp " ? ORDER BY seq " order " LIMIT ?"

static chatd_status read_page(struct sqlstore *st, struct op *o)
{
    sqlite3_stmt *s = prep(st, o->before ? SQL_PAGE("<", "DESC") : SQL_PAGE(">", "ASC"));
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, o->id);
    /* sqlite integers are signed: a cursor above INT64_MAX means "from the top". */
    uint64_t cursor = o->before ? o->before : o->after;
    sqlite3_bind_int64(s, 2, cursor > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)cursor);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)o->limit);
    o->msgs = o->limit ? arena(o, o->limit * sizeof *o->msgs) : NULL;
    while (o->msgs && o->n < o->limit && sqlite3_step(s) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0);
        if (load_message_at(st, o, o->id, seq, &o->msgs[o->n]))
            o->msgs[o->n++].reactions = sqlite3_column_int(s, 1) ? CHATD_REACTIONS_SOME : CHATD_REACTIONS_NONE;
    }
    sqlite3_finalize(s);
    return o->oom ? CHATD_ERR_NOMEM : CHATD_OK;
}

static chatd_status do_history(struct sqlstore *st, struct op *o)
{
    if (!room_exists(st, o->id))
        return CHATD_ERR_NOT_FOUND;
    return read_page(st, o);
}

/* SDK 2.13: the room as room_get (for_user NULL) answers it, then its page,
 * in the one transaction. */
static chatd_status do_room_page(struct sqlstore *st, struct op *o)
{
    chatd_status status = answer_room(st, o, o->id, NULL, CHATD_OK);
    return status == CHATD_OK ? read_page(st, o) : status;
}

static chatd_status do_mark(struct sqlstore *st, struct op *o)
{
    if (!room_exists(st, o->id))
        return CHATD_ERR_NOT_FOUND;
    sqlite3_stmt *s = prep(st, "INSERT INTO marks (room, user, seq) VALUES (?1, ?2,"
                               " min(?3, (SELECT last_seq FROM rooms WHERE id=?1)))"
                               " ON CONFLICT (room, user) DO UPDATE SET seq = max(seq, excluded.seq)");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, o->id);
    bind_text(s, 2, o->user);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)(o->seq > (uint64_t)INT64_MAX ? INT64_MAX : o->seq));
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? CHATD_OK : CHATD_ERR_UNAVAILABLE;
}

/* ------------------------------------------------- transcripts (SDK 1.2) */

/* SDK 2.3: the support desk. The batch's write transaction (BEGIN
 * IMMEDIATE) makes each check and its change one step for every process
 * sharing the file. */

/* How many open rooms `agent` holds; -1 on a failure. */
static int64_t open_rooms_of(struct sqlstore *st, const char *agent)
{
    sqlite3_stmt *s = prep(st, "SELECT count(*) FROM rooms WHERE agent=? AND kind=1 AND state=2");
    if (!s)
        return -1;
    bind_text(s, 1, agent);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return n;
}

/* The room's kind, state, agent (copied into buf) and closed_ms; false when
 * there is no such room or on a failure (*failed). */
static bool room_row(struct sqlstore *st, const char *id, int *kind, int *state, char *agent, size_t agent_len,
                     int64_t *closed_ms, bool *failed)
{
    *failed = false;
    sqlite3_stmt *s = prep(st, "SELECT kind, state, agent, closed_ms FROM rooms WHERE id=?");
    if (!s) {
        *failed = true;
        return false;
    }
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    bool found = rc == SQLITE_ROW;
    if (found) {
        *kind = sqlite3_column_int(s, 0);
        *state = sqlite3_column_int(s, 1);
        const unsigned char *a = sqlite3_column_text(s, 2);
        snprintf(agent, agent_len, "%s", a ? (const char *)a : "");
        *closed_ms = sqlite3_column_int64(s, 3);
    } else if (rc != SQLITE_DONE) {
        *failed = true;
    }
    sqlite3_finalize(s);
    return found;
}

static chatd_status do_claim_limited(struct sqlstore *st, struct op *o)
{
    int kind = 0, state = 0;
    char agent[512];
    int64_t closed;
    bool failed;
    if (!room_row(st, o->id, &kind, &state, agent, sizeof agent, &closed, &failed))
        return failed ? CHATD_ERR_UNAVAILABLE : CHATD_ERR_NOT_FOUND;
    if (kind != CHATD_ROOM_SUPPORT || state != CHATD_ROOM_OPEN)
        return answer_room(st, o, o->id, NULL, CHATD_ERR_CONFLICT);
    if (o->limit) {
        int64_t n = open_rooms_of(st, o->user);
        if (n < 0)
            return CHATD_ERR_UNAVAILABLE;
        if ((uint64_t)n >= o->limit)
            return answer_room(st, o, o->id, NULL, CHATD_ERR_LIMIT);
    }
    return do_claim(st, o);
}

static chatd_status do_transfer(struct sqlstore *st, struct op *o)
{
    int kind = 0, state = 0;
    char agent[512];
    int64_t closed;
    bool failed;
    if (!room_row(st, o->id, &kind, &state, agent, sizeof agent, &closed, &failed))
        return failed ? CHATD_ERR_UNAVAILABLE : CHATD_ERR_NOT_FOUND;
    if (kind != CHATD_ROOM_SUPPORT || state != CHATD_ROOM_ASSIGNED || !o->user || strcmp(agent, o->user) != 0)
        return answer_room(st, o, o->id, NULL, CHATD_ERR_CONFLICT);
    sqlite3_stmt *s = prep(st, "UPDATE rooms SET state=?, agent=?, assigned_ms=? WHERE id=?");
    if (!s)
        return CHATD_ERR_INTERNAL;
    sqlite3_bind_int(s, 1, o->to ? CHATD_ROOM_ASSIGNED : CHATD_ROOM_OPEN);
    bind_text(s, 2, o->to);
    sqlite3_bind_int64(s, 3, o->to ? o->now : 0);
    bind_text(s, 4, o->id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    if (!o->to || strcmp(o->to, o->user) != 0)
        if (exec_simple(st, "DELETE FROM members WHERE room=? AND user=?", o->id, o->user, -1) != CHATD_OK)
            return CHATD_ERR_UNAVAILABLE;
    if (o->to && exec_simple(st, SQL_ADD_MEMBER, o->id, o->to, -1) != CHATD_OK)
        return CHATD_ERR_UNAVAILABLE;
    return answer_room(st, o, o->id, NULL, CHATD_OK);
}

static chatd_status do_reopen(struct sqlstore *st, struct op *o)
{
    int kind = 0, state = 0;
    char agent[512];
    int64_t closed = 0;
    bool failed;
    if (!room_row(st, o->id, &kind, &state, agent, sizeof agent, &closed, &failed))
        return failed ? CHATD_ERR_UNAVAILABLE : CHATD_ERR_NOT_FOUND;
    if (kind != CHATD_ROOM_SUPPORT || state != CHATD_ROOM_COMPLETED || closed < o->after_ms)
        return answer_room(st, o, o->id, NULL, CHATD_ERR_CONFLICT);
    if (o->key) {
        sqlite3_stmt *s = prep(st, "SELECT id FROM rooms WHERE unique_key=?");
        if (!s)
            return CHATD_ERR_INTERNAL;
        bind_text(s, 1, o->key);
        int rc = sqlite3_step(s);
        char other[256] = "";
        if (rc == SQLITE_ROW)
            snprintf(other, sizeof other, "%s", (const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        if (rc == SQLITE_ROW) {
            o->id = astr(o, other);
            return o->id ? answer_room(st, o, o->id, NULL, CHATD_ERR_EXISTS) : CHATD_ERR_NOMEM;
        }
        if (rc != SQLITE_DONE)
            return CHATD_ERR_UNAVAILABLE;
    }
    bool to_agent = false;
    if (o->user) {
        int64_t n = o->limit ? open_rooms_of(st, o->user) : 0;
        if (n < 0)
            return CHATD_ERR_UNAVAILABLE;
        to_agent = !o->limit || (uint64_t)n < o->limit;
    }
    sqlite3_stmt *s = prep(st, "UPDATE rooms SET state=?, agent=?, assigned_ms=?, closed_ms=0, unique_key=? WHERE id=?");
    if (!s)
        return CHATD_ERR_INTERNAL;
    sqlite3_bind_int(s, 1, to_agent ? CHATD_ROOM_ASSIGNED : CHATD_ROOM_OPEN);
    bind_text(s, 2, to_agent ? o->user : NULL);
    sqlite3_bind_int64(s, 3, to_agent ? o->now : 0);
    bind_text(s, 4, o->key);
    bind_text(s, 5, o->id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    if (to_agent && exec_simple(st, SQL_ADD_MEMBER, o->id, o->user, -1) != CHATD_OK)
        return CHATD_ERR_UNAVAILABLE;
    return answer_room(st, o, o->id, NULL, CHATD_OK);
}

/* SDK 2.6: rated once, when completed or closed; the batch's write
 * transaction makes the check and the change one step. */
static chatd_status do_rate(struct sqlstore *st, struct op *o)
{
    sqlite3_stmt *s = prep(st, "UPDATE rooms SET rating=?, rating_comment=?, rated_ms=?"
                               " WHERE id=? AND kind=1 AND state IN (3, 4) AND rating=0");
    if (!s)
        return CHATD_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, (int64_t)o->limit);
    bind_text(s, 2, o->user);
    sqlite3_bind_int64(s, 3, o->now);
    bind_text(s, 4, o->id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    return answer_room(st, o, o->id, NULL, sqlite3_changes(st->db) == 1 ? CHATD_OK : CHATD_ERR_CONFLICT);
}

static chatd_status do_close(struct sqlstore *st, struct op *o)
{
    sqlite3_stmt *s = prep(st, "UPDATE rooms SET state=4, closed_ms=?, unique_key=NULL WHERE id=? AND kind=1 AND state<>4");
    if (!s)
        return CHATD_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, o->now);
    bind_text(s, 2, o->id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    return answer_room(st, o, o->id, NULL, sqlite3_changes(st->db) == 1 ? CHATD_OK : CHATD_ERR_CONFLICT);
}

/* The first column of every row of s (bound already), as arena strings. */
static const char **collect_ids(struct op *o, sqlite3_stmt *s, size_t *n, bool *failed)
{
    size_t cap = 16;
    const char **ids = arena(o, cap * sizeof *ids);
    int rc = SQLITE_DONE;
    *n = 0;
    while (ids && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            const char **grown = arena(o, 2 * cap * sizeof *grown);
            if (!grown)
                break;
            memcpy(grown, ids, *n * sizeof *grown);
            ids = grown;
            cap *= 2;
        }
        ids[(*n)++] = acol(o, s, 0);
    }
    *failed = !ids || o->oom || rc != SQLITE_DONE;
    return ids;
}

static chatd_status do_purge(struct sqlstore *st, struct op *o)
{
    sqlite3_stmt *s = prep(st, "SELECT id FROM rooms WHERE kind=1 AND state=4 AND closed_ms < ? ORDER BY closed_ms LIMIT ?");
    if (!s)
        return CHATD_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, o->now);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)o->limit);
    size_t n;
    bool failed;
    const char **ids = collect_ids(o, s, &n, &failed);
    sqlite3_finalize(s);
    if (failed)
        return o->oom ? CHATD_ERR_NOMEM : CHATD_ERR_UNAVAILABLE;
    for (size_t i = 0; i < n; i++)
        if (remove_room(st, ids[i]) != CHATD_OK)
            return CHATD_ERR_UNAVAILABLE;
    o->n = n;
    o->ids = ids; /* room_purge_ids names them */
    return CHATD_OK;
}

static chatd_status do_erase(struct sqlstore *st, struct op *o)
{
    sqlite3_stmt *s = prep(st, "SELECT r.id, r.kind, r.owner FROM rooms r JOIN members m ON m.room = r.id"
                               " WHERE m.user = ?");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, o->user);
    struct row { const char *id, *owner; int kind; } *rows = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            struct row *grown = arena(o, (cap ? 2 * cap : 16) * sizeof *grown);
            if (!grown)
                break;
            if (n)
                memcpy(grown, rows, n * sizeof *grown);
            rows = grown;
            cap = cap ? 2 * cap : 16;
        }
        rows[n++] = (struct row){acol(o, s, 0), acol(o, s, 2), sqlite3_column_int(s, 1)};
    }
    sqlite3_finalize(s);
    if (o->oom)
        return CHATD_ERR_NOMEM;
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    struct chatd_erase_result *res = &o->erased;
    res->size = sizeof *res;
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (r->kind == CHATD_ROOM_SUPPORT && r->owner && strcmp(r->owner, o->user) == 0) {
            if (remove_room(st, r->id) != CHATD_OK)
                return CHATD_ERR_UNAVAILABLE;
            res->rooms_deleted++;
            continue;
        }
        if (exec_simple(st, "UPDATE messages SET sender='', client_id=NULL, body=x'', content_type=NULL"
                                " WHERE room=? AND sender=?", r->id,
                        o->user, -1) != CHATD_OK)
            return CHATD_ERR_UNAVAILABLE;
        res->messages_erased += (uint64_t)sqlite3_changes(st->db);
        /* As CHATD_GROUP_REMOVE: the role goes with the member row, and a
         * group's ownership passes on. */
        if (exec_simple(st, "DELETE FROM marks WHERE room=? AND user=?", r->id, o->user, -1) != CHATD_OK ||
            exec_simple(st, "DELETE FROM reactions WHERE room=? AND user=?", r->id, o->user, -1) != CHATD_OK ||
            exec_simple(st, "DELETE FROM members WHERE room=? AND user=?", r->id, o->user, -1) != CHATD_OK ||
            (r->kind == CHATD_ROOM_GROUP && r->owner && strcmp(r->owner, o->user) == 0 &&
             pass_ownership(st, r->id) != CHATD_OK) ||
            (r->kind == CHATD_ROOM_DIRECT &&
             exec_simple(st, "UPDATE rooms SET unique_key=NULL WHERE id=?", r->id, NULL, -1) != CHATD_OK))
            return CHATD_ERR_UNAVAILABLE;
        res->memberships_removed++;
    }
    return CHATD_OK;
}

static chatd_status do_edit(struct sqlstore *st, struct op *o)
{
    const struct chatd_message_edit *ed = &o->edit;
    o->msgs = arena(o, sizeof *o->msgs);
    if (!o->msgs)
        return CHATD_ERR_NOMEM;
    if (ed->seq > (uint64_t)INT64_MAX || !load_message_at(st, o, ed->room_id, ed->seq, o->msgs))
        return o->oom ? CHATD_ERR_NOMEM : CHATD_ERR_NOT_FOUND;
    o->n = 1;
    if (o->msgs->deleted || !o->msgs->sender || !*o->msgs->sender)
        return CHATD_ERR_CONFLICT;
    sqlite3_stmt *s = prep(st, "UPDATE rooms SET last_rev = last_rev + 1 WHERE id=? RETURNING last_rev");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, ed->room_id);
    int rc = sqlite3_step(s);
    int64_t rev = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return CHATD_ERR_UNAVAILABLE;
    s = prep(st, ed->what == CHATD_MESSAGE_EDIT
                     ? "UPDATE messages SET rev=?1, edited_ms=?2, body=?3, content_type=?4 WHERE room=?5 AND seq=?6"
                     : "UPDATE messages SET rev=?1, edited_ms=?2, body=x'', deleted=1 WHERE room=?5 AND seq=?6");
    if (!s)
        return CHATD_ERR_INTERNAL;
    sqlite3_bind_int64(s, 1, rev);
    sqlite3_bind_int64(s, 2, ed->now_ms);
    if (ed->what == CHATD_MESSAGE_EDIT) {
        sqlite3_bind_blob(s, 3, ed->body ? ed->body : "", (int)ed->body_len, SQLITE_TRANSIENT);
        bind_text(s, 4, ed->content_type);
    }
    bind_text(s, 5, ed->room_id);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)ed->seq);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    if (!load_message_at(st, o, ed->room_id, ed->seq, o->msgs))
        return o->oom ? CHATD_ERR_NOMEM : CHATD_ERR_INTERNAL;
    return CHATD_OK;
}

static chatd_status do_revisions(struct sqlstore *st, struct op *o)
{
    sqlite3_stmt *s = prep(st, "SELECT seq FROM messages WHERE room=? AND rev > ? ORDER BY rev ASC LIMIT ?");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, o->id);
    sqlite3_bind_int64(s, 2, o->after > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)o->after);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)o->limit);
    o->msgs = o->limit ? arena(o, o->limit * sizeof *o->msgs) : NULL;
    while (o->msgs && o->n < o->limit && sqlite3_step(s) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0);
        if (load_message_at(st, o, o->id, seq, &o->msgs[o->n]))
            o->n++;
    }
    sqlite3_finalize(s);
    return o->oom ? CHATD_ERR_NOMEM : CHATD_OK;
}

/* Append message seq's counts (`me` for user) to o->counts. */
static chatd_status load_counts(struct sqlstore *st, struct op *o, const char *room, uint64_t seq, const char *user)
{
    sqlite3_stmt *s = prep(st, "SELECT emoji, count(*), max(user IS ?3) FROM reactions WHERE room=?1 AND seq=?2"
                               " GROUP BY emoji ORDER BY emoji");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, room);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    bind_text(s, 3, user);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct chatd_reaction_count *grown = arena(o, (o->ncounts + 1) * sizeof *grown);
        if (!grown)
            break;
        if (o->ncounts)
            memcpy(grown, o->counts, o->ncounts * sizeof *grown);
        o->counts = grown;
        o->counts[o->ncounts++] = (struct chatd_reaction_count){
            .size = sizeof *grown, .seq = seq, .emoji = acol(o, s, 0), .count = (uint64_t)sqlite3_column_int64(s, 1),
            .me = sqlite3_column_int(s, 2) != 0};
    }
    sqlite3_finalize(s);
    if (o->oom)
        return CHATD_ERR_NOMEM;
    return rc == SQLITE_DONE ? CHATD_OK : CHATD_ERR_UNAVAILABLE;
}

static int64_t count_of(struct sqlstore *st, const char *sql, const char *room, uint64_t seq, const char *a,
                        const char *b)
{
    sqlite3_stmt *s = prep(st, sql);
    if (!s)
        return -1;
    bind_text(s, 1, room);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    if (a)
        bind_text(s, 3, a);
    if (b)
        bind_text(s, 4, b);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return n;
}

static chatd_status do_react(struct sqlstore *st, struct op *o)
{
    const struct chatd_reaction_change *rc = &o->react;
    struct chatd_message m;
    if (rc->seq > (uint64_t)INT64_MAX || !load_message_at(st, o, rc->room_id, rc->seq, &m))
        return o->oom ? CHATD_ERR_NOMEM : CHATD_ERR_NOT_FOUND;
    if (m.deleted || !m.sender || !*m.sender)
        return CHATD_ERR_CONFLICT;
    int64_t mine = count_of(st, "SELECT count(*) FROM reactions WHERE room=?1 AND seq=?2 AND emoji=?3 AND user=?4",
                            rc->room_id, rc->seq, rc->emoji, rc->user);
    if (mine < 0)
        return CHATD_ERR_UNAVAILABLE;
    chatd_status result = CHATD_OK;
    if (rc->add ? mine > 0 : mine == 0) {
        result = CHATD_ERR_EXISTS;
    } else if (rc->add && rc->max_distinct) {
        int64_t held = count_of(st, "SELECT count(*) FROM reactions WHERE room=?1 AND seq=?2 AND emoji=?3",
                                rc->room_id, rc->seq, rc->emoji, NULL);
        int64_t distinct = count_of(st, "SELECT count(DISTINCT emoji) FROM reactions WHERE room=?1 AND seq=?2",
                                    rc->room_id, rc->seq, NULL, NULL);
        if (held < 0 || distinct < 0)
            return CHATD_ERR_UNAVAILABLE;
        if (!held && (uint64_t)distinct >= rc->max_distinct)
            result = CHATD_ERR_LIMIT;
    }
    if (result == CHATD_OK) {
        sqlite3_stmt *s = prep(st, rc->add ? "INSERT INTO reactions (room, seq, emoji, user) VALUES (?1, ?2, ?3, ?4)"
                                           : "DELETE FROM reactions WHERE room=?1 AND seq=?2 AND emoji=?3 AND user=?4");
        if (!s)
            return CHATD_ERR_INTERNAL;
        bind_text(s, 1, rc->room_id);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)rc->seq);
        bind_text(s, 3, rc->emoji);
        bind_text(s, 4, rc->user);
        int step = sqlite3_step(s);
        sqlite3_finalize(s);
        if (step != SQLITE_DONE)
            return CHATD_ERR_UNAVAILABLE;
    }
    chatd_status loaded = load_counts(st, o, rc->room_id, rc->seq, rc->user);
    return loaded == CHATD_OK ? result : loaded;
}

static int seq_order(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static chatd_status do_reactions(struct sqlstore *st, struct op *o)
{
    qsort(o->seqs, o->nseqs, sizeof *o->seqs, seq_order);
    for (size_t i = 0; i < o->nseqs; i++) {
        if ((i && o->seqs[i] == o->seqs[i - 1]) || o->seqs[i] > (uint64_t)INT64_MAX)
            continue;
        chatd_status r = load_counts(st, o, o->id, o->seqs[i], o->user);
        if (r != CHATD_OK)
            return r;
    }
    return CHATD_OK;
}

/* Candidates of three characters or more come from the trigram index,
 * shorter ones from a scan of the rooms' messages (the index finds
 * nothing shorter than a trigram); both are checked on the body itself
 * with lower(), which folds only A-Z. */
#define SEARCH_WHERE                                                                                        \
    " m.deleted = 0 AND m.sender <> '' AND (instr(lower(CAST(m.body AS TEXT)), lower(?3)) > 0"               \
    " OR (?8 IS NOT NULL AND instr(lower(CAST(m.body AS TEXT)), lower(?8)) > 0))"                           \
    " AND (?4 IS NULL OR m.ts_ms < ?5 OR (m.ts_ms = ?5 AND (m.room < ?4 OR (m.room = ?4 AND m.seq < ?6))))" \
    " ORDER BY m.ts_ms DESC, m.room DESC, m.seq DESC LIMIT ?7"

static chatd_status do_search(struct sqlstore *st, struct op *o)
{
    bool indexed = storage_op_code_points(o->query) >= 3 && (!o->query_json || storage_op_code_points(o->query_json) >= 3);
    sqlite3_stmt *s = prep(st, indexed ? "SELECT m.room, m.seq FROM message_text t JOIN messages m"
                                         " ON m.room = t.room AND m.seq = t.seq WHERE message_text MATCH ?1"
                                         " AND t.room IN (SELECT value FROM json_each(?2)) AND" SEARCH_WHERE
                                       : "SELECT m.room, m.seq FROM messages m"
                                         " WHERE m.room IN (SELECT value FROM json_each(?2)) AND" SEARCH_WHERE);
    if (!s)
        return CHATD_ERR_INTERNAL;
    if (indexed) {
        /* FTS5 strings: each form of the query in double quotes, its own
         * doubled; either one. */
        size_t n = strlen(o->query) + (o->query_json ? strlen(o->query_json) : 0);
        char *phrase = arena(o, 2 * n + 10);
        if (!phrase) {
            sqlite3_finalize(s);
            return CHATD_ERR_NOMEM;
        }
        size_t w = 0;
        for (int k = 0; k < 2; k++) {
            const char *q = k ? o->query_json : o->query;
            if (!q)
                continue;
            if (k)
                memcpy(phrase + w, " OR ", 4), w += 4;
            phrase[w++] = '"';
            for (; *q; q++) {
                if (*q == '"')
                    phrase[w++] = '"';
                phrase[w++] = *q;
            }
            phrase[w++] = '"';
        }
        phrase[w] = '\0';
        bind_text(s, 1, phrase);
    }
    bind_text(s, 2, o->rooms_json);
    bind_text(s, 3, o->query);
    bind_text(s, 4, o->id);
    sqlite3_bind_int64(s, 5, o->before_ts);
    sqlite3_bind_int64(s, 6, o->seq > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)o->seq);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)o->limit);
    bind_text(s, 8, o->query_json);
    o->msgs = o->limit ? arena(o, o->limit * sizeof *o->msgs) : NULL;
    int rc;
    while (o->msgs && o->n < o->limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *room = acol(o, s, 0);
        uint64_t seq = (uint64_t)sqlite3_column_int64(s, 1);
        if (room && load_message_at(st, o, room, seq, &o->msgs[o->n]))
            o->n++;
    }
    sqlite3_finalize(s);
    return o->oom ? CHATD_ERR_NOMEM : CHATD_OK;
}

/* SDK 2.8: the bound and the upsert in the batch's write transaction, one
 * step. */
static chatd_status do_canned_put(struct sqlstore *st, struct op *o)
{
    const struct chatd_canned_reply *c = &o->canned;
    sqlite3_stmt *s = prep(st, "SELECT (SELECT count(*) FROM canned WHERE desk=?1),"
                               " EXISTS (SELECT 1 FROM canned WHERE desk=?1 AND shortcut=?2)");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, c->desk);
    bind_text(s, 2, c->shortcut);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return CHATD_ERR_UNAVAILABLE;
    }
    sqlite3_int64 n = sqlite3_column_int64(s, 0);
    bool exists = sqlite3_column_int(s, 1) != 0;
    sqlite3_finalize(s);
    if (!exists && o->limit && (uint64_t)n >= o->limit)
        return CHATD_ERR_LIMIT;
    s = prep(st, "INSERT OR REPLACE INTO canned (desk, shortcut, title, body, updated_by, updated_ms)"
                 " VALUES (?, ?, ?, ?, ?, ?)");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, c->desk);
    bind_text(s, 2, c->shortcut);
    bind_text(s, 3, c->title);
    bind_text(s, 4, c->body);
    bind_text(s, 5, c->updated_by);
    sqlite3_bind_int64(s, 6, c->updated_ms);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    o->n = !exists;
    return CHATD_OK;
}

static chatd_status do_canned_delete(struct sqlstore *st, struct op *o)
{
    sqlite3_stmt *s = prep(st, "DELETE FROM canned WHERE desk=? AND shortcut=?");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, o->id);
    bind_text(s, 2, o->key);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return CHATD_ERR_UNAVAILABLE;
    return sqlite3_changes(st->db) ? CHATD_OK : CHATD_ERR_NOT_FOUND;
}

static chatd_status do_canned_list(struct sqlstore *st, struct op *o)
{
    sqlite3_stmt *s = prep(st, "SELECT desk, shortcut, title, body, updated_by, updated_ms FROM canned"
                               " WHERE desk=? ORDER BY shortcut LIMIT ?");
    if (!s)
        return CHATD_ERR_INTERNAL;
    bind_text(s, 1, o->id);
    sqlite3_bind_int64(s, 2, o->limit > INT32_MAX ? INT32_MAX : (sqlite3_int64)o->limit);
    o->replies = arena(o, (o->limit > 1000 ? 1000 : o->limit) * sizeof *o->replies);
    size_t cap = o->limit > 1000 ? 1000 : o->limit;
    int rc = SQLITE_DONE;
    while (o->replies && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (o->n == cap) {
            struct chatd_canned_reply *more = arena(o, 2 * cap * sizeof *more);
            if (!more)
                break;
            memcpy(more, o->replies, cap * sizeof *more);
            o->replies = more;
            cap *= 2;
        }
        o->replies[o->n++] = (struct chatd_canned_reply){
            .size = sizeof *o->replies, .desk = acol(o, s, 0), .shortcut = acol(o, s, 1), .title = acol(o, s, 2),
            .body = acol(o, s, 3), .updated_by = acol(o, s, 4), .updated_ms = sqlite3_column_int64(s, 5)};
    }
    sqlite3_finalize(s);
    if (o->oom)
        return CHATD_ERR_NOMEM;
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? CHATD_OK : CHATD_ERR_UNAVAILABLE;
}

static chatd_status run_op(struct sqlstore *st, struct op *o)
{
    switch (o->kind) {
    case OP_CREATE: return do_create(st, o);
    case OP_GET: return answer_room(st, o, o->id, o->user, CHATD_OK);
    case OP_LIST: return do_list(st, o);
    case OP_CLAIM: return do_claim(st, o);
    case OP_COMPLETE: return do_complete(st, o);
    case OP_DELETE: return do_delete(st, o);
    case OP_MEMBER_ADD: return do_member(st, o, true);
    case OP_MEMBER_REMOVE: return do_member(st, o, false);
    case OP_APPEND: return do_append(st, o);
    case OP_HISTORY: return o->with_room ? do_room_page(st, o) : do_history(st, o);
    case OP_MARK: return do_mark(st, o);
    case OP_GROUP: return do_group(st, o);
    case OP_CLOSE: return do_close(st, o);
    case OP_PURGE: case OP_PURGE_IDS: return do_purge(st, o);
    case OP_ERASE: return do_erase(st, o);
    case OP_EDIT: return do_edit(st, o);
    case OP_REVISIONS: return do_revisions(st, o);
    case OP_CLAIM_LIMITED: return do_claim_limited(st, o);
    case OP_TRANSFER: return do_transfer(st, o);
    case OP_REOPEN: return do_reopen(st, o);
    case OP_REACT: return do_react(st, o);
    case OP_REACTIONS: return do_reactions(st, o);
    case OP_RATE: return do_rate(st, o);
    case OP_SEARCH: return do_search(st, o);
    case OP_CANNED_PUT: return do_canned_put(st, o);
    case OP_CANNED_DELETE: return do_canned_delete(st, o);
    case OP_CANNED_LIST: return do_canned_list(st, o);
    }
    return CHATD_ERR_INTERNAL;
}

/* Core thread: hand the answer to the caller. */
static void op_finish(void *arg)
{
    struct op *o = arg;
    chatd_status status = o->oom ? CHATD_ERR_NOMEM : o->status;
    if (o->kind == OP_ERASE)
        storage_op_answer_erase(o->cb, o->ctx, status, &o->erased);
    else if (o->kind == OP_REACT || o->kind == OP_REACTIONS)
        storage_op_answer_reactions(o->cb, o->ctx, status, o->counts, o->ncounts);
    else if (o->kind == OP_CANNED_LIST)
        storage_op_answer_canned(o->cb, o->ctx, status, o->replies, o->n);
    else if (o->kind == OP_PURGE_IDS)
        storage_op_answer_ids(o->cb, o->ctx, status, o->ids, o->n);
    else if (o->kind == OP_HISTORY && o->with_room)
        storage_op_answer_room_page(o->cb, o->ctx, status, o->rooms, o->msgs, o->n);
    else
        storage_op_answer(o->kind, o->cb, o->ctx, status, o->rooms, o->msgs, o->n);
    pthread_mutex_lock(&o->st->mu);
    o->st->pending--;
    pthread_mutex_unlock(&o->st->mu);
    op_free(o);
}

static void *worker(void *arg)
{
    struct sqlstore *st = arg;
    for (;;) {
        pthread_mutex_lock(&st->mu);
        while (!st->head && !st->stopping)
            pthread_cond_wait(&st->cv, &st->mu);
        if (!st->head && st->stopping) {
            pthread_mutex_unlock(&st->mu);
            return NULL;
        }
        struct op *batch = st->head;
        st->head = st->tail = NULL;
        pthread_mutex_unlock(&st->mu);

        /* One transaction for the whole batch; each operation in a
         * savepoint so that one failing does not undo the others. */
        bool began = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        for (struct op *o = batch; o; o = o->next) {
            if (!began) {
                o->status = CHATD_ERR_UNAVAILABLE;
                continue;
            }
            sqlite3_exec(st->db, "SAVEPOINT op", NULL, NULL, NULL);
            o->status = run_op(st, o);
            bool keep = o->status == CHATD_OK || o->status == CHATD_ERR_EXISTS || o->status == CHATD_ERR_CONFLICT ||
                        o->status == CHATD_ERR_DENIED || o->status == CHATD_ERR_LIMIT;
            sqlite3_exec(st->db, keep ? "RELEASE op" : "ROLLBACK TO op; RELEASE op", NULL, NULL, NULL);
        }
        if (began && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            st->host->log(st->host, CHATD_LOG_ERROR, "commit failed: %s", sqlite3_errmsg(st->db));
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            for (struct op *o = batch; o; o = o->next)
                o->status = CHATD_ERR_UNAVAILABLE;
        }
        for (struct op *o = batch, *next; o; o = next) {
            next = o->next;
            o->next = NULL;
            if (st->host->post(st->host, op_finish, o) != CHATD_OK) {
                pthread_mutex_lock(&st->mu);
                st->pending--;
                pthread_mutex_unlock(&st->mu);
                op_free(o); /* shutting down: nobody waits for it */
            }
        }
    }
}

/* ------------------------------------------------------------- the ops */

static struct op *op_new(struct sqlstore *st, enum op_kind kind, void *cb, void *ctx)
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

/* Queue o, or answer at once (still through post) when full or broken. */
static void submit(struct sqlstore *st, struct op *o)
{
    pthread_mutex_lock(&st->mu);
    if (o->oom || st->pending >= st->max_pending) {
        o->status = o->oom ? CHATD_ERR_NOMEM : CHATD_ERR_LIMIT;
        o->oom = false;
        st->pending++;
        pthread_mutex_unlock(&st->mu);
        if (st->host->post(st->host, op_finish, o) != CHATD_OK) {
            pthread_mutex_lock(&st->mu);
            st->pending--;
            pthread_mutex_unlock(&st->mu);
            op_free(o);
        }
        return;
    }
    st->pending++;
    if (st->tail)
        st->tail->next = o;
    else
        st->head = o;
    st->tail = o;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

#define NEW_OP(kind, cb)                              \
    struct sqlstore *st = state;                      \
    struct op *o = op_new(st, kind, (void *)cb, ctx); \
    if (!o)                                           \
        return;

static void s_room_create(void *state, const struct chatd_room *room, const char *unique_key, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_CREATE, cb)
    o->room_arg = *room;
    o->room_arg.id = astr(o, room->id);
    o->room_arg.title = astr(o, room->title);
    o->room_arg.owner = astr(o, room->owner);
    o->room_arg.agent = astr(o, room->agent);
    o->room_arg.topic = CHATD_HAS(room, topic) ? astr(o, room->topic) : NULL;
    const char **members = arena(o, (room->nmembers + 1) * sizeof *members);
    for (size_t i = 0; members && i < room->nmembers; i++)
        members[i] = astr(o, room->members[i]);
    o->room_arg.members = members;
    o->key = astr(o, unique_key);
    submit(st, o);
}

static void s_room_get(void *state, const char *room_id, const char *for_user, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_GET, cb)
    o->id = astr(o, room_id);
    o->user = astr(o, for_user);
    submit(st, o);
}

static void s_room_list(void *state, const struct chatd_room_filter *f, chatd_rooms_cb cb, void *ctx)
{
    NEW_OP(OP_LIST, cb)
    o->filter = *f;
    o->filter.member = astr(o, f->member);
    o->filter.agent = astr(o, f->agent);
    o->filter.for_user = astr(o, f->for_user);
    submit(st, o);
}

static void s_room_claim(void *state, const char *room_id, const char *agent, int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_CLAIM, cb)
    o->id = astr(o, room_id);
    o->user = astr(o, agent);
    o->now = now_ms;
    submit(st, o);
}

static void s_room_claim_limited(void *state, const char *room_id, const char *agent, size_t max_open, int64_t now_ms,
                                 chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_CLAIM_LIMITED, cb)
    o->id = astr(o, room_id);
    o->user = astr(o, agent);
    o->limit = max_open;
    o->now = now_ms;
    submit(st, o);
}

static void s_room_transfer(void *state, const struct chatd_room_transfer *t, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_TRANSFER, cb)
    o->id = astr(o, t->room_id);
    o->user = astr(o, t->from);
    o->to = astr(o, t->to);
    o->now = t->now_ms;
    submit(st, o);
}

static void s_room_reopen(void *state, const struct chatd_room_reopen *ro, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_REOPEN, cb)
    o->id = astr(o, ro->room_id);
    o->key = astr(o, ro->unique_key);
    o->user = astr(o, ro->agent);
    o->limit = ro->max_open;
    o->after_ms = ro->completed_after_ms;
    o->now = ro->now_ms;
    submit(st, o);
}

static void s_room_complete(void *state, const char *room_id, const char *agent, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_COMPLETE, cb)
    o->id = astr(o, room_id);
    o->user = astr(o, agent);
    submit(st, o);
}

static void s_room_delete(void *state, const char *room_id, chatd_done_cb cb, void *ctx)
{
    NEW_OP(OP_DELETE, cb)
    o->id = astr(o, room_id);
    submit(st, o);
}

static void s_member_add(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    NEW_OP(OP_MEMBER_ADD, cb)
    o->id = astr(o, room_id);
    o->user = astr(o, user);
    submit(st, o);
}

static void s_member_remove(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    NEW_OP(OP_MEMBER_REMOVE, cb)
    o->id = astr(o, room_id);
    o->user = astr(o, user);
    submit(st, o);
}

static void s_message_append(void *state, const struct chatd_message *msg, chatd_message_cb cb, void *ctx)
{
    NEW_OP(OP_APPEND, cb)
    o->msg_arg = *msg;
    o->msg_arg.room = astr(o, msg->room);
    o->msg_arg.sender = astr(o, msg->sender);
    o->msg_arg.client_id = astr(o, msg->client_id);
    o->msg_arg.content_type = CHATD_HAS(msg, content_type) ? astr(o, msg->content_type) : NULL;
    o->msg_arg.kind = CHATD_HAS(msg, kind) ? msg->kind : CHATD_MESSAGE_TEXT;
    o->msg_arg.reply_to = CHATD_HAS(msg, reply_to) ? msg->reply_to : 0;
    char *body = arena(o, msg->body_len + 1);
    if (body && msg->body_len)
        memcpy(body, msg->body, msg->body_len);
    o->msg_arg.body = body;
    submit(st, o);
}

static struct op *history_op(struct sqlstore *st, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                             void *cb, void *ctx)
{
    struct op *o = op_new(st, OP_HISTORY, cb, ctx);
    if (!o)
        return NULL;
    o->id = astr(o, room_id);
    o->before = before;
    o->after = after;
    o->limit = limit;
    return o;
}

static void s_message_list(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                           chatd_messages_cb cb, void *ctx)
{
    struct sqlstore *st = state;
    struct op *o = history_op(st, room_id, before, after, limit, (void *)cb, ctx);
    if (o)
        submit(st, o);
}

/* SDK 2.13: one job on the worker, so one transaction. */
static void s_room_page(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                        chatd_room_page_cb cb, void *ctx)
{
    struct sqlstore *st = state;
    struct op *o = history_op(st, room_id, before, after, limit, (void *)cb, ctx);
    if (!o)
        return;
    o->with_room = true;
    submit(st, o);
}

static void s_read_mark(void *state, const char *room_id, const char *user, uint64_t seq, chatd_done_cb cb, void *ctx)
{
    NEW_OP(OP_MARK, cb)
    o->id = astr(o, room_id);
    o->user = astr(o, user);
    o->seq = seq;
    submit(st, o);
}

static void s_group_change(void *state, const struct chatd_group_change *ch, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_GROUP, cb)
    o->change = *ch;
    o->change.size = sizeof o->change;
    o->change.room_id = astr(o, ch->room_id);
    o->change.user = astr(o, ch->user);
    o->change.title = astr(o, ch->title);
    o->change.actor = astr(o, ch->actor);
    if (!o->change.room_id)
        o->oom = true;
    submit(st, o);
}

static void s_room_close(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_CLOSE, cb)
    o->id = astr(o, room_id);
    o->now = now_ms;
    submit(st, o);
}

static void s_room_purge(void *state, int64_t closed_before_ms, size_t limit, chatd_count_cb cb, void *ctx)
{
    NEW_OP(OP_PURGE, cb)
    o->now = closed_before_ms;
    o->limit = limit;
    submit(st, o);
}

static void s_room_purge_ids(void *state, int64_t closed_before_ms, size_t limit, chatd_ids_cb cb, void *ctx)
{
    NEW_OP(OP_PURGE_IDS, cb)
    o->now = closed_before_ms;
    o->limit = limit;
    submit(st, o);
}

static void s_user_erase(void *state, const char *user, chatd_erase_cb cb, void *ctx)
{
    NEW_OP(OP_ERASE, cb)
    o->user = astr(o, user);
    submit(st, o);
}

/* -------------------------------------------------------------- lifecycle */

static int migrate(struct sqlstore *st, char *why, size_t len)
{
    sqlite3_stmt *s;
    int version = 0;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            version = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    if (version > SCHEMA_VERSION) {
        snprintf(why, len, "the database has schema version %d; this plugin knows up to %d", version, SCHEMA_VERSION);
        return -1;
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        char *err = NULL;
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(st->db, migrations[v], NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(st->db, pragma, NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(st->db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
            snprintf(why, len, "migration to schema %d failed: %s", v + 1, err ? err : "?");
            sqlite3_free(err);
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

static chatd_status sqlite_init(const struct chatd_host *h, void **state)
{
    const char *path = h->config_get(h, "path");
    const char *sync = h->config_get(h, "synchronous");
    const char *pending = h->config_get(h, "max_pending");
    if (!path || !*path) {
        h->config_error(h, "path", "required: the database file (created on first start)");
        return CHATD_ERR_INVALID;
    }
    if (sync && strcmp(sync, "full") && strcmp(sync, "normal")) {
        h->config_error(h, "synchronous", "expected full or normal, got '%s'", sync);
        return CHATD_ERR_INVALID;
    }
    long max_pending = 10000;
    if (pending) {
        char *end;
        max_pending = strtol(pending, &end, 10);
        if (*end || max_pending < 1 || max_pending > 10000000) {
            h->config_error(h, "max_pending", "expected an integer between 1 and 10000000, got '%s'", pending);
            return CHATD_ERR_INVALID;
        }
    }
    struct sqlstore *st = calloc(1, sizeof *st);
    if (!st)
        return CHATD_ERR_NOMEM;
    st->host = h;
    st->max_pending = (size_t)max_pending;
    char why[300] = "";
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(why, sizeof why, "cannot open '%s': %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
    } else {
        char pragmas[200];
        snprintf(pragmas, sizeof pragmas, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA busy_timeout=5000;"
                 " PRAGMA foreign_keys=OFF;", sync ? sync : "full");
        char *err = NULL;
        if (sqlite3_exec(st->db, pragmas, NULL, NULL, &err) != SQLITE_OK) {
            snprintf(why, sizeof why, "cannot set up '%s': %s", path, err ? err : "?");
            sqlite3_free(err);
        } else {
            migrate(st, why, sizeof why);
        }
    }
    if (*why) {
        h->config_error(h, "path", "%s", why);
        sqlite3_close(st->db);
        free(st);
        return CHATD_ERR_INVALID;
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    if (pthread_create(&st->thread, NULL, worker, st) != 0) {
        h->config_error(h, NULL, "cannot start the database thread");
        sqlite3_close(st->db);
        free(st);
        return CHATD_ERR_INTERNAL;
    }
    h->set_ready(h, true, path);
    *state = st;
    return CHATD_OK;
}

static void sqlite_fini(void *state)
{
    struct sqlstore *st = state;
    pthread_mutex_lock(&st->mu);
    st->stopping = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->thread, NULL); /* runs what is queued first: nothing acknowledged is lost */
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
}

static void s_message_edit(void *state, const struct chatd_message_edit *ed, chatd_message_cb cb, void *ctx)
{
    NEW_OP(OP_EDIT, cb)
    o->edit = *ed;
    o->edit.room_id = astr(o, ed->room_id);
    o->edit.content_type = astr(o, ed->content_type);
    char *body = arena(o, ed->body_len + 1);
    if (body && ed->body_len)
        memcpy(body, ed->body, ed->body_len);
    o->edit.body = body;
    submit(st, o);
}

static void s_message_revisions(void *state, const char *room_id, uint64_t after_rev, size_t limit,
                                chatd_messages_cb cb, void *ctx)
{
    NEW_OP(OP_REVISIONS, cb)
    o->id = astr(o, room_id);
    o->after = after_rev;
    o->limit = limit;
    submit(st, o);
}

static void s_reaction_change(void *state, const struct chatd_reaction_change *rc, chatd_reactions_cb cb,
                              void *ctx)
{
    NEW_OP(OP_REACT, cb)
    o->react = *rc;
    o->react.room_id = astr(o, rc->room_id);
    o->react.user = astr(o, rc->user);
    o->react.emoji = astr(o, rc->emoji);
    submit(st, o);
}

static void s_reaction_list(void *state, const char *room_id, const uint64_t *seqs, size_t nseqs,
                            const char *for_user, chatd_reactions_cb cb, void *ctx)
{
    NEW_OP(OP_REACTIONS, cb)
    o->id = astr(o, room_id);
    o->user = astr(o, for_user);
    o->seqs = nseqs ? arena(o, nseqs * sizeof *seqs) : NULL;
    if (o->seqs)
        memcpy(o->seqs, seqs, nseqs * sizeof *seqs);
    o->nseqs = o->seqs ? nseqs : 0;
    submit(st, o);
}

static void s_room_rate(void *state, const struct chatd_room_rating *rt, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_RATE, cb)
    o->id = astr(o, rt->room_id);
    o->user = astr(o, rt->comment); /* NULL: none */
    o->limit = rt->rating;
    o->now = rt->now_ms;
    submit(st, o);
}

/* The room ids as a JSON array of strings (json_each reads it). */
static const char *rooms_json(struct op *o, const char *const *rooms, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += 6 * strlen(rooms[i]) + 3;
    char *j = arena(o, len);
    if (!j)
        return NULL;
    size_t w = 0;
    j[w++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            j[w++] = ',';
        j[w++] = '"';
        for (const unsigned char *c = (const unsigned char *)rooms[i]; *c; c++) {
            if (*c == '"' || *c == '\\' || *c < 0x20)
                w += (size_t)snprintf(j + w, len - w, "\\u%04x", *c);
            else
                j[w++] = (char)*c;
        }
        j[w++] = '"';
    }
    j[w++] = ']';
    j[w] = '\0';
    return j;
}

static void s_message_search(void *state, const struct chatd_message_search *q, chatd_messages_cb cb, void *ctx)
{
    NEW_OP(OP_SEARCH, cb)
    o->query = astr(o, q->query);
    o->query_json = astr(o, q->query_json);
    o->rooms_json = rooms_json(o, q->rooms, q->nrooms);
    o->id = astr(o, q->before_room);
    o->before_ts = q->before_ts_ms;
    o->seq = q->before_seq;
    o->limit = q->limit;
    submit(st, o);
}

static void s_canned_put(void *state, const struct chatd_canned_reply *reply, size_t max_per_desk,
                         chatd_count_cb cb, void *ctx)
{
    NEW_OP(OP_CANNED_PUT, cb)
    o->canned = (struct chatd_canned_reply){
        .size = sizeof o->canned, .desk = astr(o, reply->desk), .shortcut = astr(o, reply->shortcut),
        .title = astr(o, reply->title), .body = astr(o, reply->body), .updated_by = astr(o, reply->updated_by),
        .updated_ms = reply->updated_ms};
    o->limit = max_per_desk;
    submit(st, o);
}

static void s_canned_delete(void *state, const char *desk, const char *shortcut, chatd_done_cb cb, void *ctx)
{
    NEW_OP(OP_CANNED_DELETE, cb)
    o->id = astr(o, desk);
    o->key = astr(o, shortcut);
    submit(st, o);
}

static void s_canned_list(void *state, const char *desk, size_t limit, chatd_canned_cb cb, void *ctx)
{
    NEW_OP(OP_CANNED_LIST, cb)
    o->id = astr(o, desk);
    o->limit = limit ? limit : 1;
    submit(st, o);
}

static const struct chatd_storage_ops sqlite_ops = {
    .size = sizeof sqlite_ops,
    .room_create = s_room_create,
    .room_get = s_room_get,
    .room_list = s_room_list,
    .room_claim = s_room_claim,
    .room_complete = s_room_complete,
    .room_delete = s_room_delete,
    .member_add = s_member_add,
    .member_remove = s_member_remove,
    .message_append = s_message_append,
    .message_list = s_message_list,
    .read_mark = s_read_mark,
    .group_change = s_group_change,
    /* SDK 1.2: transcripts. */
    .room_close = s_room_close,
    .room_purge = s_room_purge,
    .room_purge_ids = s_room_purge_ids,
    .user_erase = s_user_erase,
    /* SDK 2.2: edits and deletes. */
    .message_edit = s_message_edit,
    .message_revisions = s_message_revisions,
    /* SDK 2.3: the support desk. */
    .room_claim_limited = s_room_claim_limited,
    .room_transfer = s_room_transfer,
    .room_reopen = s_room_reopen,
    /* SDK 2.5: reactions. */
    .reaction_change = s_reaction_change,
    .reaction_list = s_reaction_list,
    /* SDK 2.6: ratings. */
    .room_rate = s_room_rate,
    /* SDK 2.4: search. */
    .message_search = s_message_search,
    /* SDK 2.8: canned replies. */
    .canned_put = s_canned_put,
    .canned_delete = s_canned_delete,
    .canned_list = s_canned_list,
    /* SDK 2.13: a room with a page of its history. */
    .room_page = s_room_page,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_STORAGE, .name = "sqlite", .version = "1.0",
                    .description = "rooms and messages in one SQLite file (WAL), on a thread of its own",
                    .init = sqlite_init, .fini = sqlite_fini, .ops.storage = &sqlite_ops)
