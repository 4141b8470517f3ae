/* storage-files: every storage operation, kept in memory and made durable
 * by an append-only log file.
 *
 *   [storage]
 *   plugin = /path/to/storage_files.so
 *   path   = /var/lib/chatd/chat.log
 *
 * Each change is one JSON object on one line of `path`; init replays the file
 * to rebuild the state, so the data survives a restart. The log is never
 * compacted (see README.md).
 *
 * Threads. An operation runs on the core thread: it decides and applies its
 * change to the in-memory model at once (so the claim race and the order of
 * seq are settled in one place, with no locks), snapshots its answer, and
 * queues the log line and the answer for a writer thread. The writer appends
 * the lines of everything queued, fsyncs once for the lot (group commit),
 * and hands the answers back through host->post in the order the operations
 * were called.
 * Reads queue too: no answer can show a change before that change is on
 * disk, and no callback runs before its operation's call has returned.
 *
 * After a failed write or fsync the file no longer matches the model, so the
 * plugin answers CHATD_ERR_UNAVAILABLE to everything until a restart replays
 * what did reach the disk. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* getline, fsync, ftruncate with -std=c17 */
#endif
#include <chatd/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_MAX 1000 /* room_list's limit when the caller sets none */

/* Every struct the plugin answers with carries its size (SDK 2). The same
 * source also builds against the SDK 1.1 headers (tests/sdk), whose structs
 * had none. */
#if CHATD_ABI_MAJOR >= 2
#define ANSWER_SIZE(type) .size = sizeof(type),
#else
#define ANSWER_SIZE(type)
#endif

enum answer_kind { A_ROOM, A_ROOMS, A_MESSAGE, A_MESSAGES, A_DONE };

/* One operation on its way to its callback. */
struct job {
    struct job *next;
    enum answer_kind kind;
    chatd_status st;
    union {
        chatd_room_cb room;
        chatd_rooms_cb rooms;
        chatd_message_cb message;
        chatd_messages_cb messages;
        chatd_done_cb done;
    } cb;
    void *ctx;
    /* The answer, a deep copy owned by the job (never shared with the
     * model, which the core thread keeps changing): a room view, an array
     * of them, a message view, an array of them, or NULL. */
    json_t *answer;
    char *line; /* the change to log, without its newline; NULL for none */
    const struct chatd_host *host;
    int write_errno; /* set on the first answer of the batch that broke the log */
};

struct store {
    const struct chatd_host *host;
    int fd;

    /* The model; core thread only. A room is the record that created it,
     * kept up to date, plus "messages" (seq N at index N-1), "marks"
     * (user -> read seq) and "idem" (sender -> client_id -> seq). */
    json_t *rooms;  /* id -> room; jansson iterates in insertion order */
    json_t *unique; /* unique key -> room id */
    json_int_t next_message_id;

    /* The writer's queue. */
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    bool stopping;
    bool broken; /* a write or fsync failed */
};

/* ------------------------------------------------------------- the model */

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key)); /* NULL for null or absent */
}

static json_int_t int_of(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static bool has_member(const json_t *room, const char *user)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(room, "members"), i, m)
        if (strcmp(json_string_value(m), user) == 0)
            return true;
    return false;
}

static int add_member(json_t *room, const char *user)
{
    if (has_member(room, user))
        return 0;
    return json_array_append_new(json_object_get(room, "members"), json_string(user));
}

static chatd_status apply_create(struct store *s, json_t *rec, json_t **room_out)
{
    const char *id = str_of(rec, "room"), *key = str_of(rec, "unique_key");
    const char *taken = key ? str_of(s->unique, key) : NULL;
    if (taken || json_object_get(s->rooms, id)) {
        *room_out = json_object_get(s->rooms, taken ? taken : id);
        return CHATD_ERR_EXISTS;
    }
    json_t *room = json_deep_copy(rec);
    if (!room)
        return CHATD_ERR_NOMEM;
    json_object_del(room, "op");
    int rc = json_object_set_new(room, "members", json_array()); /* refilled without duplicates */
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(rec, "members"), i, m)
        rc |= add_member(room, json_string_value(m));
    rc |= json_object_set_new(room, "messages", json_array());
    rc |= json_object_set_new(room, "marks", json_object());
    rc |= json_object_set_new(room, "idem", json_object());
    if (rc) {
        json_decref(room);
        return CHATD_ERR_NOMEM;
    }
    if (json_object_set_new(s->rooms, id, room))
        return CHATD_ERR_NOMEM;
    if (key && json_object_set_new(s->unique, key, json_string(id))) {
        json_object_del(s->rooms, id);
        return CHATD_ERR_NOMEM;
    }
    *room_out = room;
    return CHATD_OK;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The bytes of "body_hex" as a string, or NULL when it is not hex. */
static json_t *hex_body(const char *hex)
{
    size_t n = strlen(hex) / 2;
    char *raw = strlen(hex) % 2 ? NULL : malloc(n + 1);
    json_t *body = NULL;
    size_t i = 0;
    for (; raw && i < n; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            break;
        raw[i] = (char)(hi << 4 | lo);
    }
    if (raw && i == n)
        body = json_stringn_nocheck(raw, n);
    free(raw);
    return body;
}

static chatd_status apply_message(struct store *s, json_t *room, json_t *rec, json_t **msg_out)
{
    json_t *messages = json_object_get(room, "messages");
    json_t *idem = json_object_get(room, "idem");
    const char *sender = str_of(rec, "sender"), *client_id = str_of(rec, "client_id");
    if (!sender)
        return CHATD_ERR_INVALID;
    json_t *by_sender = json_object_get(idem, sender);
    if (client_id && by_sender && json_object_get(by_sender, client_id)) {
        *msg_out = json_array_get(messages, (size_t)int_of(by_sender, client_id) - 1);
        return CHATD_ERR_EXISTS;
    }
    /* A body that is not UTF-8 is logged in hex (see message_record). */
    json_t *body = json_object_get(rec, "body");
    const char *hex = str_of(rec, "body_hex");
    json_t *copy = body ? json_stringn_nocheck(json_string_value(body), json_string_length(body))
                        : hex ? hex_body(hex) : NULL;
    if (!copy)
        return CHATD_ERR_INVALID;
    json_int_t seq = (json_int_t)json_array_size(messages) + 1;
    char id[32];
    snprintf(id, sizeof id, "m%lld", (long long)++s->next_message_id);
    json_t *msg = json_pack("{s:I, s:s, s:s, s:s?, s:I, s:o}", "seq", seq, "id", id, "sender", sender,
                            "client_id", client_id, "ts_ms", int_of(rec, "ts_ms"), "body", copy);
    if (!msg || json_array_append_new(messages, msg))
        return CHATD_ERR_NOMEM;
    if (client_id) {
        if (!by_sender && json_object_set_new(idem, sender, by_sender = json_object()))
            return CHATD_ERR_NOMEM;
        if (json_object_set_new(by_sender, client_id, json_integer(seq)))
            return CHATD_ERR_NOMEM;
    }
    *msg_out = msg;
    return CHATD_OK;
}

/* Apply one change record to the model: the live operations and the replay
 * at init run this same code, which is what makes the replay faithful.
 * *room_out / *msg_out point into the model (borrowed) for the answer. */
static chatd_status apply(struct store *s, json_t *rec, json_t **room_out, json_t **msg_out)
{
    const char *op = str_of(rec, "op"), *id = str_of(rec, "room");
    *room_out = *msg_out = NULL;
    if (!op || !id)
        return CHATD_ERR_INVALID;
    if (strcmp(op, "create") == 0)
        return apply_create(s, rec, room_out);
    json_t *room = json_object_get(s->rooms, id);
    if (!room)
        return CHATD_ERR_NOT_FOUND;
    *room_out = room;
    const char *user = str_of(rec, "user"), *agent = str_of(rec, "agent");
    json_int_t state = int_of(room, "state");
    bool needs_agent = strcmp(op, "claim") == 0 || strcmp(op, "complete") == 0;
    bool needs_user = strcmp(op, "join") == 0 || strcmp(op, "leave") == 0 || strcmp(op, "read") == 0;
    if ((needs_agent && !agent) || (needs_user && !user))
        return CHATD_ERR_INVALID;
    if (strcmp(op, "claim") == 0) {
        if (int_of(room, "kind") != CHATD_ROOM_SUPPORT || state != CHATD_ROOM_OPEN)
            return CHATD_ERR_CONFLICT;
        if (json_object_set_new(room, "state", json_integer(CHATD_ROOM_ASSIGNED)) ||
            json_object_set_new(room, "agent", json_string(agent)) ||
            json_object_set(room, "assigned_ms", json_object_get(rec, "now_ms")) || add_member(room, agent))
            return CHATD_ERR_NOMEM;
        return CHATD_OK;
    }
    if (strcmp(op, "complete") == 0) {
        const char *assigned = str_of(room, "agent");
        if (state != CHATD_ROOM_ASSIGNED || !assigned || strcmp(assigned, agent) != 0)
            return CHATD_ERR_CONFLICT;
        const char *key = str_of(room, "unique_key");
        if (key)
            json_object_del(s->unique, key);
        if (json_object_set_new(room, "unique_key", json_null()) ||
            json_object_set_new(room, "state", json_integer(CHATD_ROOM_COMPLETED)))
            return CHATD_ERR_NOMEM;
        return CHATD_OK;
    }
    if (strcmp(op, "delete") == 0) {
        const char *key = str_of(room, "unique_key");
        if (key)
            json_object_del(s->unique, key);
        *room_out = NULL;
        json_object_del(s->rooms, id);
        return CHATD_OK;
    }
    if (strcmp(op, "join") == 0)
        return add_member(room, user) ? CHATD_ERR_NOMEM : CHATD_OK;
    if (strcmp(op, "leave") == 0) {
        json_t *members = json_object_get(room, "members");
        for (size_t i = 0; i < json_array_size(members); i++)
            if (strcmp(json_string_value(json_array_get(members, i)), user) == 0) {
                json_array_remove(members, i);
                break;
            }
        return CHATD_OK;
    }
    if (strcmp(op, "message") == 0)
        return apply_message(s, room, rec, msg_out);
    if (strcmp(op, "read") == 0) {
        json_int_t last = (json_int_t)json_array_size(json_object_get(room, "messages"));
        json_int_t seq = int_of(rec, "seq") < last ? int_of(rec, "seq") : last;
        json_t *marks = json_object_get(room, "marks");
        if (seq > int_of(marks, user) && json_object_set_new(marks, user, json_integer(seq)))
            return CHATD_ERR_NOMEM;
        return CHATD_OK;
    }
    return CHATD_ERR_INVALID;
}

/* ------------------------------------------------------------ the answers */

/* Deep copies, so the answer stays what it was when the operation ran. */
static json_t *message_view(const char *room_id, const json_t *msg)
{
    json_t *v = json_deep_copy(msg);
    if (v && json_object_set_new(v, "room", json_string(room_id))) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static json_t *room_view(const json_t *room, const char *for_user)
{
    static const char *const keys[] = {"room", "kind", "state", "title", "owner", "agent",
                                       "created_ms", "assigned_ms", "members"};
    json_t *v = json_object();
    json_t *messages = json_object_get(room, "messages");
    size_t nmsgs = json_array_size(messages);
    int rc = !v;
    for (size_t i = 0; !rc && i < sizeof keys / sizeof *keys; i++) {
        json_t *value = json_object_get(room, keys[i]);
        if (value)
            rc |= json_object_set_new(v, keys[i], json_deep_copy(value));
    }
    rc = rc || json_object_set_new(v, "last_seq", json_integer((json_int_t)nmsgs));
    if (!rc && for_user) {
        rc |= json_object_set_new(v, "read_seq", json_integer(int_of(json_object_get(room, "marks"), for_user)));
        if (nmsgs)
            rc |= json_object_set_new(v, "last_message",
                                      message_view(str_of(room, "room"), json_array_get(messages, nmsgs - 1)));
    }
    if (rc) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static void fill_message(const json_t *v, struct chatd_message *m)
{
    const json_t *body = json_object_get(v, "body");
    *m = (struct chatd_message){
        ANSWER_SIZE(struct chatd_message)
        .room = str_of(v, "room"), .seq = (uint64_t)int_of(v, "seq"), .id = str_of(v, "id"),
        .sender = str_of(v, "sender"), .client_id = str_of(v, "client_id"), .ts_ms = int_of(v, "ts_ms"),
        .body = json_string_value(body), .body_len = json_string_length(body),
    };
}

/* members: room to point at every member; last: where last_message goes. */
static void fill_room(const json_t *v, struct chatd_room *r, const char **members, struct chatd_message *last)
{
    const json_t *list = json_object_get(v, "members");
    for (size_t i = 0; i < json_array_size(list); i++)
        members[i] = json_string_value(json_array_get(list, i));
    *r = (struct chatd_room){
        ANSWER_SIZE(struct chatd_room)
        .id = str_of(v, "room"), .kind = (chatd_room_kind)int_of(v, "kind"),
        .state = (chatd_room_state)int_of(v, "state"), .title = str_of(v, "title"),
        .owner = str_of(v, "owner"), .agent = str_of(v, "agent"), .created_ms = int_of(v, "created_ms"),
        .assigned_ms = int_of(v, "assigned_ms"), .last_seq = (uint64_t)int_of(v, "last_seq"),
        .members = members, .nmembers = json_array_size(list), .read_seq = (uint64_t)int_of(v, "read_seq"),
    };
    const json_t *lm = json_object_get(v, "last_message");
    if (lm) {
        fill_message(lm, last);
        r->last_message = last;
    }
}

/* A_ROOM answers one room, A_ROOMS an array of them. */
static const json_t *room_at(const struct job *j, size_t i)
{
    return j->kind == A_ROOM ? j->answer : json_array_get(j->answer, i);
}

/* Call the job's callback with its answer turned into SDK structs, which
 * point into the answer and so live exactly as long as the call. */
static void job_deliver(struct job *j)
{
    json_t *a = j->answer;
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    switch (j->kind) {
    case A_ROOM:
    case A_ROOMS: {
        size_t nrooms = j->kind == A_ROOMS ? n : a != NULL, nmembers = 0;
        for (size_t i = 0; i < nrooms; i++)
            nmembers += json_array_size(json_object_get(room_at(j, i), "members"));
        struct chatd_room *rooms = calloc(nrooms + 1, sizeof *rooms);
        struct chatd_message *lasts = calloc(nrooms + 1, sizeof *lasts);
        const char **members = calloc(nmembers + 1, sizeof *members);
        bool oom = !rooms || !lasts || !members;
        for (size_t i = 0, used = 0; !oom && i < nrooms; i++) {
            fill_room(room_at(j, i), &rooms[i], members + used, &lasts[i]);
            used += rooms[i].nmembers;
        }
        chatd_status st = oom ? CHATD_ERR_NOMEM : j->st;
        if (j->kind == A_ROOM)
            j->cb.room(j->ctx, st, oom || !a ? NULL : rooms);
        else
            j->cb.rooms(j->ctx, st, oom ? NULL : rooms, oom ? 0 : nrooms);
        free(rooms);
        free(lasts);
        free(members);
        break;
    }
    case A_MESSAGE: {
        struct chatd_message m;
        if (a)
            fill_message(a, &m);
        j->cb.message(j->ctx, j->st, a ? &m : NULL);
        break;
    }
    case A_MESSAGES: {
        struct chatd_message *msgs = calloc(n + 1, sizeof *msgs);
        for (size_t i = 0; msgs && i < n; i++)
            fill_message(json_array_get(a, i), &msgs[i]);
        j->cb.messages(j->ctx, msgs ? j->st : CHATD_ERR_NOMEM, msgs, msgs ? n : 0);
        free(msgs);
        break;
    }
    case A_DONE:
        j->cb.done(j->ctx, j->st);
        break;
    }
}

static void job_free(struct job *j)
{
    json_decref(j->answer);
    free(j->line);
    free(j);
}

/* ------------------------------------------------------------- the writer */

/* The answer of one operation, on the core thread. */
static void job_run(void *arg)
{
    struct job *j = arg;
    if (j->write_errno) {
        j->host->log(j->host, CHATD_LOG_ERROR, "writing the log failed (%s); every operation fails until a restart",
                     strerror(j->write_errno));
        j->host->set_ready(j->host, false, "the log could not be written");
    }
    job_deliver(j);
    job_free(j);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write and fsync the lines of a batch; 0 or the errno that broke it. */
static int write_batch(int fd, const struct job *head)
{
    bool wrote = false;
    for (const struct job *j = head; j; j = j->next) {
        if (!j->line)
            continue;
        int err = write_all(fd, j->line, strlen(j->line));
        if (!err)
            err = write_all(fd, "\n", 1);
        if (err)
            return err;
        wrote = true;
    }
    if (wrote && fsync(fd) < 0)
        return errno;
    return 0;
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->head)
            break; /* stopping, and everything queued is written */
        struct job *head = s->head;
        s->head = s->tail = NULL;
        bool broken = s->broken;
        pthread_mutex_unlock(&s->mu);

        int err = broken ? 0 : write_batch(s->fd, head);
        if (err) {
            pthread_mutex_lock(&s->mu);
            s->broken = true; /* before the answers: later operations see it */
            pthread_mutex_unlock(&s->mu);
            head->write_errno = err;
        }
        /* In call order, one post each: the host runs them in that order. */
        for (struct job *j = head, *next; j; j = next) {
            next = j->next;
            if (broken || err) {
                /* Some lines of this batch may be on disk and some not:
                 * every caller is told it failed. */
                j->st = CHATD_ERR_UNAVAILABLE;
                json_decref(j->answer);
                j->answer = NULL;
            }
            if (s->host->post(s->host, job_run, j) != CHATD_OK)
                job_free(j); /* shutting down: the host wants no more answers */
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static bool store_broken(struct store *s)
{
    pthread_mutex_lock(&s->mu);
    bool broken = s->broken;
    pthread_mutex_unlock(&s->mu);
    return broken;
}

static void submit(struct store *s, struct job *j)
{
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------- operations */

static struct job *job_new(struct store *s, enum answer_kind kind, void *ctx)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        s->host->log(s->host, CHATD_LOG_ERROR, "out of memory: a storage operation is left unanswered");
        return NULL;
    }
    j->kind = kind;
    j->ctx = ctx;
    j->host = s->host;
    j->st = store_broken(s) ? CHATD_ERR_UNAVAILABLE : CHATD_OK;
    return j;
}

/* The common path of every change: log line first (a change that cannot be
 * logged is not made), then the model, then the snapshot of the answer.
 * Takes rec; NULL rec means it could not be built (invalid UTF-8 or no
 * memory). */
static void change(struct store *s, struct job *j, json_t *rec)
{
    json_t *room = NULL, *msg = NULL;
    if (j->st == CHATD_OK && !rec)
        j->st = CHATD_ERR_INVALID;
    if (j->st == CHATD_OK && !(j->line = json_dumps(rec, JSON_COMPACT)))
        j->st = CHATD_ERR_NOMEM;
    if (j->st == CHATD_OK)
        j->st = apply(s, rec, &room, &msg);
    if (j->st != CHATD_OK) {
        free(j->line);
        j->line = NULL;
    }
    if (j->kind == A_ROOM && room)
        j->answer = room_view(room, NULL);
    else if (j->kind == A_MESSAGE && msg)
        j->answer = message_view(str_of(rec, "room"), msg);
    if ((room && j->kind == A_ROOM && !j->answer) || (msg && j->kind == A_MESSAGE && !j->answer))
        j->st = CHATD_ERR_NOMEM; /* too late to undo: the change stands and is logged */
    json_decref(rec);
    submit(s, j);
}

static void files_room_create(void *state, const struct chatd_room *room, const char *unique_key,
                              chatd_room_cb cb, void *ctx)
{
    struct store *s = state;
    struct job *j = job_new(s, A_ROOM, ctx);
    if (!j)
        return;
    j->cb.room = cb;
    json_t *members = json_array();
    for (size_t i = 0; members && i < room->nmembers; i++)
        if (json_array_append_new(members, json_string(room->members[i]))) {
            json_decref(members);
            members = NULL;
        }
    json_t *rec = json_pack("{s:s, s:s, s:i, s:i, s:s?, s:s?, s:s?, s:I, s:I, s:o, s:s?}", "op", "create",
                            "room", room->id, "kind", (int)room->kind, "state",
                            (int)(room->state ? room->state : CHATD_ROOM_OPEN), "title", room->title, "owner",
                            room->owner, "agent", room->agent, "created_ms", (json_int_t)room->created_ms,
                            "assigned_ms", (json_int_t)room->assigned_ms, "members", members, "unique_key",
                            unique_key);
    change(s, j, rec);
}

static void files_room_claim(void *state, const char *room_id, const char *agent, int64_t now_ms,
                             chatd_room_cb cb, void *ctx)
{
    struct store *s = state;
    struct job *j = job_new(s, A_ROOM, ctx);
    if (!j)
        return;
    j->cb.room = cb;
    change(s, j, json_pack("{s:s, s:s, s:s, s:I}", "op", "claim", "room", room_id, "agent", agent, "now_ms",
                           (json_int_t)now_ms));
}

static void files_room_complete(void *state, const char *room_id, const char *agent, chatd_room_cb cb,
                                void *ctx)
{
    struct store *s = state;
    struct job *j = job_new(s, A_ROOM, ctx);
    if (!j)
        return;
    j->cb.room = cb;
    change(s, j, json_pack("{s:s, s:s, s:s}", "op", "complete", "room", room_id, "agent", agent));
}

static void done_change(struct store *s, chatd_done_cb cb, void *ctx, json_t *rec)
{
    struct job *j = job_new(s, A_DONE, ctx);
    if (!j) {
        json_decref(rec);
        return;
    }
    j->cb.done = cb;
    change(s, j, rec);
}

static void files_room_delete(void *state, const char *room_id, chatd_done_cb cb, void *ctx)
{
    done_change(state, cb, ctx, json_pack("{s:s, s:s}", "op", "delete", "room", room_id));
}

static void files_member_add(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    done_change(state, cb, ctx, json_pack("{s:s, s:s, s:s}", "op", "join", "room", room_id, "user", user));
}

static void files_member_remove(void *state, const char *room_id, const char *user, chatd_done_cb cb,
                                void *ctx)
{
    done_change(state, cb, ctx, json_pack("{s:s, s:s, s:s}", "op", "leave", "room", room_id, "user", user));
}

static void files_read_mark(void *state, const char *room_id, const char *user, uint64_t seq,
                            chatd_done_cb cb, void *ctx)
{
    done_change(state, cb, ctx,
                json_pack("{s:s, s:s, s:s, s:I}", "op", "read", "room", room_id, "user", user, "seq",
                          (json_int_t)(seq > INT64_MAX ? INT64_MAX : seq)));
}

/* A message body is bytes. JSON strings are UTF-8, so a body that is not
 * (a binary STOMP frame) is logged as "body_hex" instead of "body". */
static json_t *message_record(const struct chatd_message *msg)
{
    json_t *body = json_stringn(msg->body ? msg->body : "", msg->body_len);
    if (!body) {
        char *hex = malloc(msg->body_len * 2 + 1);
        for (size_t i = 0; hex && i < msg->body_len; i++)
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)msg->body[i]);
        if (hex)
            hex[msg->body_len * 2] = '\0';
        json_t *rec = hex ? json_pack("{s:s, s:s, s:s, s:s?, s:I, s:s}", "op", "message", "room", msg->room,
                                      "sender", msg->sender, "client_id", msg->client_id, "ts_ms",
                                      (json_int_t)msg->ts_ms, "body_hex", hex)
                          : NULL;
        free(hex);
        return rec;
    }
    return json_pack("{s:s, s:s, s:s, s:s?, s:I, s:o}", "op", "message", "room", msg->room, "sender",
                     msg->sender, "client_id", msg->client_id, "ts_ms", (json_int_t)msg->ts_ms, "body", body);
}

static void files_message_append(void *state, const struct chatd_message *msg, chatd_message_cb cb, void *ctx)
{
    struct store *s = state;
    struct job *j = job_new(s, A_MESSAGE, ctx);
    if (!j)
        return;
    j->cb.message = cb;
    change(s, j, message_record(msg));
}

static void files_room_get(void *state, const char *room_id, const char *for_user, chatd_room_cb cb,
                           void *ctx)
{
    struct store *s = state;
    struct job *j = job_new(s, A_ROOM, ctx);
    if (!j)
        return;
    j->cb.room = cb;
    json_t *room = json_object_get(s->rooms, room_id);
    if (j->st == CHATD_OK && !room)
        j->st = CHATD_ERR_NOT_FOUND;
    if (j->st == CHATD_OK && !(j->answer = room_view(room, for_user)))
        j->st = CHATD_ERR_NOMEM;
    submit(s, j);
}

static bool room_matches(const json_t *room, const struct chatd_room_filter *f)
{
    const char *agent = str_of(room, "agent");
    return (!f->kind || int_of(room, "kind") == f->kind) && (!f->state || int_of(room, "state") == f->state) &&
           (!f->agent || (agent && strcmp(agent, f->agent) == 0)) && (!f->member || has_member(room, f->member));
}

static void files_room_list(void *state, const struct chatd_room_filter *f, chatd_rooms_cb cb, void *ctx)
{
    struct store *s = state;
    struct job *j = job_new(s, A_ROOMS, ctx);
    if (!j)
        return;
    j->cb.rooms = cb;
    size_t limit = f->limit ? f->limit : LIST_MAX;
    if (j->st == CHATD_OK && !(j->answer = json_array()))
        j->st = CHATD_ERR_NOMEM;
    const char *id;
    json_t *room;
    json_object_foreach(s->rooms, id, room) {
        if (j->st != CHATD_OK || json_array_size(j->answer) >= limit)
            break;
        if (room_matches(room, f) && json_array_append_new(j->answer, room_view(room, f->for_user)))
            j->st = CHATD_ERR_NOMEM;
    }
    submit(s, j);
}

static void files_message_list(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                               chatd_messages_cb cb, void *ctx)
{
    struct store *s = state;
    struct job *j = job_new(s, A_MESSAGES, ctx);
    if (!j)
        return;
    j->cb.messages = cb;
    json_t *room = json_object_get(s->rooms, room_id);
    if (j->st == CHATD_OK && !room)
        j->st = CHATD_ERR_NOT_FOUND;
    if (j->st == CHATD_OK && !(j->answer = json_array()))
        j->st = CHATD_ERR_NOMEM;
    if (j->st != CHATD_OK) {
        submit(s, j);
        return;
    }
    json_t *messages = json_object_get(room, "messages");
    uint64_t last = json_array_size(messages);
    /* Walk seq down from before-1, or up from after+1, at most limit. */
    uint64_t seq = before ? (before - 1 < last ? before - 1 : last) : after + 1;
    for (size_t n = 0; n < limit && seq >= 1 && seq <= last; n++, seq = before ? seq - 1 : seq + 1)
        if (json_array_append_new(j->answer, message_view(room_id, json_array_get(messages, seq - 1)))) {
            j->st = CHATD_ERR_NOMEM;
            break;
        }
    submit(s, j);
}

/* -------------------------------------------------------------- lifecycle */

static void store_free(struct store *s)
{
    json_decref(s->rooms);
    json_decref(s->unique);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

/* Rebuild the model from the log. A last line without its newline is a
 * write cut short by a crash (never fsynced, so nobody was told it
 * succeeded): it is cut off. Any other bad line stops the start-up, for an
 * operator to look at. */
static chatd_status replay(const struct chatd_host *h, struct store *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return CHATD_OK; /* no log yet: the open for appending creates it */
    char *line = NULL;
    size_t cap = 0, lineno = 0, records = 0;
    off_t good = 0;
    bool torn = false;
    ssize_t n;
    chatd_status st = CHATD_OK;
    while (st == CHATD_OK && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] != '\n') {
            torn = true;
            break;
        }
        json_t *rec = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, NULL), *room, *msg;
        if (!rec || apply(s, rec, &room, &msg) != CHATD_OK) {
            h->config_error(h, "path", "%s:%zu: not a change this log can replay", path, lineno);
            st = CHATD_ERR_INVALID;
        }
        json_decref(rec);
        good += n;
        records++;
    }
    free(line);
    fclose(f);
    if (st == CHATD_OK && torn) {
        h->log(h, CHATD_LOG_WARN, "%s:%zu: cutting off a change that was never completed", path, lineno);
        if (truncate(path, good) < 0) {
            h->config_error(h, "path", "cannot cut the torn end off %s: %s", path, strerror(errno));
            st = CHATD_ERR_INVALID;
        }
    }
    if (st == CHATD_OK)
        h->log(h, CHATD_LOG_INFO, "replayed %zu changes from %s", records, path);
    return st;
}

/* A new file is durable only once its directory entry is. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

static chatd_status files_init(const struct chatd_host *h, void **state)
{
    const char *path = h->config_get(h, "path");
    if (!path || !*path) {
        h->config_error(h, "path", "required: the log file to keep rooms and messages in");
        return CHATD_ERR_INVALID;
    }
    struct store *s = calloc(1, sizeof *s);
    if (!s)
        return CHATD_ERR_NOMEM;
    s->host = h;
    s->fd = -1;
    s->rooms = json_object();
    s->unique = json_object();
    if (!s->rooms || !s->unique) {
        store_free(s);
        return CHATD_ERR_NOMEM;
    }
    chatd_status st = replay(h, s, path);
    if (st != CHATD_OK) {
        store_free(s);
        return st;
    }
    bool existed = access(path, F_OK) == 0;
    s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        h->config_error(h, "path", "cannot open '%s' for appending: %s", path, strerror(errno));
        store_free(s);
        return CHATD_ERR_INVALID;
    }
    if (!existed)
        sync_parent_dir(path);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        store_free(s);
        return CHATD_ERR_NOMEM;
    }
    h->set_ready(h, true, path);
    *state = s;
    return CHATD_OK;
}

static void files_fini(void *state)
{
    struct store *s = state;
    /* The writer drains the queue first: every change made in memory also
     * reaches the file, though the host no longer wants the answers. */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    store_free(s);
}

static const struct chatd_storage_ops files_ops = {
    .size = sizeof files_ops,
    .room_create = files_room_create,
    .room_get = files_room_get,
    .room_list = files_room_list,
    .room_claim = files_room_claim,
    .room_complete = files_room_complete,
    .room_delete = files_room_delete,
    .member_add = files_member_add,
    .member_remove = files_member_remove,
    .message_append = files_message_append,
    .message_list = files_message_list,
    .read_mark = files_read_mark,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_STORAGE, .name = "files", .version = "1.0",
                    .description = "rooms and messages in memory, made durable by an fsynced log file (example)",
                    .init = files_init, .fini = files_fini, .ops.storage = &files_ops)
