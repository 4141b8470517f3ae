/* storage-memory: every storage operation in process memory.
 *
 * Durability: in memory only. A RECEIPT means the message is held by this
 * process; a restart loses everything. For development, tests and the
 * benchmark's baseline.
 *
 * Each operation takes effect at once and its answer is snapshotted (deep
 * copied) into a completion; completions run in order from one libevent
 * event on the next loop turn, never before the call returned. */
#include <chatd/plugin.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------ string -> pointer */

struct smap_slot {
    char *key;
    size_t hash;
    void *value;
};

struct smap {
    struct smap_slot *slots;
    size_t mask, count;
};

static size_t smap_hash(const char *s)
{
    size_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static struct smap_slot *smap_slot(const struct smap *m, const char *key, size_t h)
{
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask)
        if (!m->slots[i].key || (m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0))
            return &m->slots[i];
}

static void *smap_get(const struct smap *m, const char *key)
{
    if (!m->slots)
        return NULL;
    struct smap_slot *s = smap_slot(m, key, smap_hash(key));
    return s->key ? s->value : NULL;
}

static int smap_put(struct smap *m, const char *key, void *value)
{
    if (!m->slots || (m->count + 1) * 2 > m->mask + 1) {
        size_t cap = m->slots ? (m->mask + 1) * 2 : 16;
        struct smap_slot *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t j = 0; m->slots && j <= m->mask; j++) {
            if (!m->slots[j].key)
                continue;
            size_t i = m->slots[j].hash & (cap - 1);
            while (slots[i].key)
                i = (i + 1) & (cap - 1);
            slots[i] = m->slots[j];
        }
        free(m->slots);
        m->slots = slots;
        m->mask = cap - 1;
    }
    size_t h = smap_hash(key);
    struct smap_slot *s = smap_slot(m, key, h);
    if (!s->key) {
        if (!(s->key = strdup(key)))
            return -1;
        s->hash = h;
        m->count++;
    }
    s->value = value;
    return 0;
}

static void smap_del(struct smap *m, const char *key)
{
    if (!m->slots)
        return;
    struct smap_slot *s = smap_slot(m, key, smap_hash(key));
    if (!s->key)
        return;
    free(s->key);
    size_t hole = (size_t)(s - m->slots);
    for (size_t j = (hole + 1) & m->mask; m->slots[j].key; j = (j + 1) & m->mask) {
        size_t home = m->slots[j].hash & m->mask;
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = (struct smap_slot){0};
    m->count--;
}

static void smap_free(struct smap *m)
{
    for (size_t i = 0; m->slots && i <= m->mask; i++)
        free(m->slots[i].key);
    free(m->slots);
    *m = (struct smap){0};
}

/* ------------------------------------------------------------------ model */

struct mmsg {
    char *id, *sender, *client_id, *body;
    size_t body_len;
    int64_t ts_ms;
    char *content_type; /* NULL: not known (a host before SDK 2.1) */
    chatd_message_kind kind;
    uint64_t reply_to;
    uint64_t rev;      /* 0: never changed */
    int64_t edited_ms;
    bool deleted;
};

struct mark {
    char *user;
    uint64_t seq;
};

/* One member's reaction to one message (SDK 2.5). */
struct mreact {
    uint64_t seq;
    char *emoji, *user;
};

struct mroom {
    char *id, *title, *owner, *agent, *unique_key;
    chatd_room_kind kind;
    chatd_room_state state;
    int64_t created_ms, assigned_ms, closed_ms;
    char **members; /* in the order they joined */
    size_t nmembers;
    char **admins;  /* groups: in the order they became admins */
    size_t nadmins;
    struct mmsg *msgs; /* msgs[seq - 1] */
    size_t nmsgs, msgs_cap;
    struct mark *marks;
    size_t nmarks;
    struct smap idem;  /* "sender\x1f" "client_id" -> (void *)seq */
    uint64_t last_rev; /* the room's revision counter (message_edit) */
    struct mreact *reacts; /* unordered */
    size_t nreacts;
    uint32_t rating;      /* room_rate: 0 while unrated */
    char *rating_comment; /* NULL: none */
    int64_t rated_ms;
    char *topic;          /* support rooms (SDK 2.12); NULL: none */
};

/* One answer waiting for its turn; data lives in its arena. */
struct block {
    struct block *next;
    size_t used, cap;
    char data[];
};

enum ckind { C_ROOM, C_ROOMS, C_MESSAGE, C_MESSAGES, C_DONE, C_COUNT, C_ERASE, C_REACTIONS, C_CANNED, C_IDS, C_PAGE };

struct completion {
    struct completion *next;
    enum ckind kind;
    chatd_status st;
    union {
        chatd_room_cb room;
        chatd_rooms_cb rooms;
        chatd_message_cb message;
        chatd_messages_cb messages;
        chatd_done_cb done;
        chatd_count_cb count;
        chatd_erase_cb erase;
        chatd_reactions_cb reactions;
        chatd_canned_cb canned;
        chatd_ids_cb ids;
        chatd_room_page_cb page;
    } cb;
    void *ctx;
    struct block *arena;
    struct chatd_room *rooms;
    struct chatd_message *msgs;
    size_t n;
    struct chatd_erase_result erased;
    struct chatd_reaction_count *counts;
    struct chatd_canned_reply *canned;
    const char **ids;
};

/* A desk's canned reply (SDK 2.8). */
struct mcanned {
    char *desk, *shortcut, *title, *body, *updated_by;
    int64_t updated_ms;
};

struct memstore {
    const struct chatd_host *host;
    struct event *run;
    struct completion *head, *tail;
    struct smap rooms;       /* id -> struct mroom */
    struct smap unique;      /* unique_key -> struct mroom */
    struct mroom **order;    /* creation order */
    size_t nrooms, order_cap;
    uint64_t next_message_id;
    long long max_rooms, max_messages;
    struct mcanned *canned;  /* SDK 2.8: ordered by desk, then shortcut (strcmp) */
    size_t ncanned, canned_cap;
};

static void *arena_alloc(struct completion *c, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!c->arena || c->arena->cap - c->arena->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        struct block *b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = c->arena;
        b->used = 0;
        b->cap = cap;
        c->arena = b;
    }
    void *p = c->arena->data + c->arena->used;
    c->arena->used += n;
    return p;
}

static char *arena_str(struct completion *c, const char *s, bool *oom)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = arena_alloc(c, n);
    if (!d) {
        *oom = true;
        return NULL;
    }
    return memcpy(d, s, n);
}

static void completion_free(struct completion *c)
{
    for (struct block *b = c->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(c);
}

static void run_completions(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct memstore *m = arg;
    struct completion *c = m->head;
    m->head = m->tail = NULL;
    while (c) {
        struct completion *next = c->next;
        switch (c->kind) {
        case C_ROOM: c->cb.room(c->ctx, c->st, c->st == CHATD_OK || c->st == CHATD_ERR_EXISTS || c->st == CHATD_ERR_CONFLICT || c->st == CHATD_ERR_DENIED || c->st == CHATD_ERR_LIMIT ? c->rooms : NULL); break;
        case C_ROOMS: c->cb.rooms(c->ctx, c->st, c->rooms, c->n); break;
        case C_MESSAGE: c->cb.message(c->ctx, c->st, c->n ? c->msgs : NULL); break;
        case C_MESSAGES: c->cb.messages(c->ctx, c->st, c->msgs, c->n); break;
        case C_DONE: c->cb.done(c->ctx, c->st); break;
        case C_COUNT: c->cb.count(c->ctx, c->st, c->n); break;
        case C_ERASE: c->cb.erase(c->ctx, c->st, c->st == CHATD_OK ? &c->erased : NULL); break;
        case C_REACTIONS: c->cb.reactions(c->ctx, c->st, c->n ? c->counts : NULL, c->n); break;
        case C_CANNED: c->cb.canned(c->ctx, c->st, c->n ? c->canned : NULL, c->n); break;
        case C_IDS: c->cb.ids(c->ctx, c->st, c->n ? c->ids : NULL, c->n); break;
        case C_PAGE: c->cb.page(c->ctx, c->st, c->st == CHATD_OK ? c->rooms : NULL, c->n ? c->msgs : NULL, c->n); break;
        }
        completion_free(c);
        c = next;
    }
}

static struct completion *completion_new(enum ckind kind, void *ctx)
{
    struct completion *c = calloc(1, sizeof *c);
    if (c) {
        c->kind = kind;
        c->ctx = ctx;
    }
    return c;
}

static void complete(struct memstore *m, struct completion *c)
{
    if (m->tail)
        m->tail->next = c;
    else
        m->head = c;
    m->tail = c;
    event_active(m->run, 0, 0);
}

/* Out of memory before a completion exists: answer through post. */
struct nomem {
    enum ckind kind;
    void *cb;
    void *ctx;
};

static void nomem_run(void *arg)
{
    struct nomem *n = arg;
    switch (n->kind) {
    case C_ROOM: ((chatd_room_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, NULL); break;
    case C_ROOMS: ((chatd_rooms_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, NULL, 0); break;
    case C_MESSAGE: ((chatd_message_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, NULL); break;
    case C_MESSAGES: ((chatd_messages_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, NULL, 0); break;
    case C_DONE: ((chatd_done_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM); break;
    case C_COUNT: ((chatd_count_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, 0); break;
    case C_ERASE: ((chatd_erase_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, NULL); break;
    case C_REACTIONS: ((chatd_reactions_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, NULL, 0); break;
    case C_CANNED: ((chatd_canned_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, NULL, 0); break;
    case C_IDS: ((chatd_ids_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, NULL, 0); break;
    case C_PAGE: ((chatd_room_page_cb)n->cb)(n->ctx, CHATD_ERR_NOMEM, NULL, NULL, 0); break;
    }
    free(n);
}

static void answer_nomem(struct memstore *m, enum ckind kind, void *cb, void *ctx)
{
    struct nomem *n = malloc(sizeof *n);
    if (!n)
        return; /* nothing left to answer with */
    *n = (struct nomem){kind, cb, ctx};
    if (m->host->post(m->host, nomem_run, n) != CHATD_OK)
        free(n);
}

static uint64_t mark_of(const struct mroom *r, const char *user)
{
    for (size_t i = 0; i < r->nmarks; i++)
        if (strcmp(r->marks[i].user, user) == 0)
            return r->marks[i].seq;
    return 0;
}

static void snap_message(struct completion *c, struct chatd_message *out, const struct mroom *r,
                         size_t seq, bool *oom)
{
    const struct mmsg *s = &r->msgs[seq - 1];
    out->size = sizeof *out;
    out->room = arena_str(c, r->id, oom);
    out->seq = seq;
    out->id = arena_str(c, s->id, oom);
    out->sender = arena_str(c, s->sender, oom);
    out->client_id = arena_str(c, s->client_id, oom);
    out->ts_ms = s->ts_ms;
    char *body = arena_alloc(c, s->body_len + 1);
    if (!body) {
        *oom = true;
        return;
    }
    memcpy(body, s->body, s->body_len);
    body[s->body_len] = '\0';
    out->body = body;
    out->body_len = s->body_len;
    out->content_type = arena_str(c, s->content_type, oom);
    out->kind = s->kind;
    out->reply_to = s->reply_to;
    out->rev = s->rev;
    out->edited_ms = s->edited_ms;
    out->deleted = s->deleted;
    out->reactions = CHATD_REACTIONS_NONE;
    for (size_t i = 0; i < r->nreacts; i++)
        if (r->reacts[i].seq == seq)
            out->reactions = CHATD_REACTIONS_SOME;
}

static void snap_room(struct completion *c, struct chatd_room *out, const struct mroom *r,
                      const char *for_user, bool *oom)
{
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    out->id = arena_str(c, r->id, oom);
    out->kind = r->kind;
    out->state = r->state;
    out->title = arena_str(c, r->title, oom);
    out->owner = arena_str(c, r->owner, oom);
    out->agent = arena_str(c, r->agent, oom);
    out->created_ms = r->created_ms;
    out->assigned_ms = r->assigned_ms;
    out->closed_ms = r->closed_ms;
    out->rating = r->rating;
    out->rating_comment = arena_str(c, r->rating_comment, oom);
    out->rated_ms = r->rated_ms;
    out->topic = arena_str(c, r->topic, oom);
    out->last_seq = r->nmsgs;
    const char **members = arena_alloc(c, (r->nmembers + 1) * sizeof *members);
    if (!members) {
        *oom = true;
        return;
    }
    for (size_t i = 0; i < r->nmembers; i++)
        members[i] = arena_str(c, r->members[i], oom);
    out->members = members;
    out->nmembers = r->nmembers;
    if (r->nadmins) {
        const char **admins = arena_alloc(c, r->nadmins * sizeof *admins);
        if (!admins) {
            *oom = true;
            return;
        }
        for (size_t i = 0; i < r->nadmins; i++)
            admins[i] = arena_str(c, r->admins[i], oom);
        out->admins = admins;
        out->nadmins = r->nadmins;
    }
    if (for_user) {
        out->read_seq = mark_of(r, for_user);
        if (r->nmsgs) {
            struct chatd_message *last = arena_alloc(c, sizeof *last);
            if (!last) {
                *oom = true;
                return;
            }
            snap_message(c, last, r, r->nmsgs, oom);
            out->last_message = last;
        }
    }
}

/* Complete with one room (or none). */
static void complete_room(struct memstore *m, chatd_room_cb cb, void *ctx, chatd_status st,
                          const struct mroom *r, const char *for_user)
{
    struct completion *c = completion_new(C_ROOM, ctx);
    bool oom = false;
    if (c && r && (c->rooms = arena_alloc(c, sizeof *c->rooms)))
        snap_room(c, c->rooms, r, for_user, &oom);
    if (!c || (r && (!c->rooms || oom))) {
        if (c)
            completion_free(c);
        answer_nomem(m, C_ROOM, (void *)cb, ctx);
        return;
    }
    c->cb.room = cb;
    c->st = st;
    complete(m, c);
}

static void complete_done(struct memstore *m, chatd_done_cb cb, void *ctx, chatd_status st)
{
    struct completion *c = completion_new(C_DONE, ctx);
    if (!c) {
        answer_nomem(m, C_DONE, (void *)cb, ctx);
        return;
    }
    c->cb.done = cb;
    c->st = st;
    complete(m, c);
}

static bool listed(char *const *v, size_t n, const char *user)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], user) == 0)
            return true;
    return false;
}

static bool is_member(const struct mroom *r, const char *user)
{
    return listed(r->members, r->nmembers, user);
}

/* Append user to a list unless there; -1 when out of memory. */
static int list_add(char ***v, size_t *n, const char *user)
{
    if (listed(*v, *n, user))
        return 0;
    char **grown = realloc(*v, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *v = grown;
    if (!(grown[*n] = strdup(user)))
        return -1;
    (*n)++;
    return 0;
}

/* Take user out of a list, keeping the order of the rest. */
static void list_remove(char **v, size_t *n, const char *user)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(v[i], user) == 0) {
            free(v[i]);
            memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof *v);
            (*n)--;
            return;
        }
    }
}

static int add_member(struct mroom *r, const char *user)
{
    return list_add(&r->members, &r->nmembers, user);
}

static void room_destroy(struct mroom *r)
{
    free(r->id);
    free(r->title);
    free(r->owner);
    free(r->agent);
    free(r->unique_key);
    free(r->rating_comment);
    free(r->topic);
    for (size_t i = 0; i < r->nmembers; i++)
        free(r->members[i]);
    free(r->members);
    for (size_t i = 0; i < r->nadmins; i++)
        free(r->admins[i]);
    free(r->admins);
    for (size_t i = 0; i < r->nmsgs; i++) {
        free(r->msgs[i].id);
        free(r->msgs[i].sender);
        free(r->msgs[i].client_id);
        free(r->msgs[i].content_type);
        free(r->msgs[i].body);
    }
    free(r->msgs);
    for (size_t i = 0; i < r->nmarks; i++)
        free(r->marks[i].user);
    free(r->marks);
    for (size_t i = 0; i < r->nreacts; i++) {
        free(r->reacts[i].emoji);
        free(r->reacts[i].user);
    }
    free(r->reacts);
    smap_free(&r->idem);
    free(r);
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* ------------------------------------------------------------- operations */

static void mem_room_create(void *state, const struct chatd_room *room, const char *unique_key,
                            chatd_room_cb cb, void *ctx)
{
    struct memstore *m = state;
    if (unique_key) {
        struct mroom *existing = smap_get(&m->unique, unique_key);
        if (existing) {
            complete_room(m, cb, ctx, CHATD_ERR_EXISTS, existing, NULL);
            return;
        }
    }
    if (!room->id || smap_get(&m->rooms, room->id)) {
        complete_room(m, cb, ctx, room->id ? CHATD_ERR_EXISTS : CHATD_ERR_INVALID,
                      room->id ? smap_get(&m->rooms, room->id) : NULL, NULL);
        return;
    }
    if ((long long)m->nrooms >= m->max_rooms) {
        complete_room(m, cb, ctx, CHATD_ERR_LIMIT, NULL, NULL);
        return;
    }
    struct mroom *r = calloc(1, sizeof *r);
    bool oom = !r;
    if (r) {
        r->id = dup_or_null(room->id, &oom);
        r->title = dup_or_null(room->title, &oom);
        r->owner = dup_or_null(room->owner, &oom);
        r->agent = dup_or_null(room->agent, &oom);
        r->unique_key = dup_or_null(unique_key, &oom);
        r->topic = dup_or_null(CHATD_HAS(room, topic) ? room->topic : NULL, &oom);
        r->kind = room->kind;
        r->state = room->state ? room->state : CHATD_ROOM_OPEN;
        r->created_ms = room->created_ms;
        r->assigned_ms = room->assigned_ms;
        for (size_t i = 0; !oom && i < room->nmembers; i++)
            oom = add_member(r, room->members[i]) < 0;
    }
    if (!oom && m->nrooms == m->order_cap) {
        size_t cap = m->order_cap ? m->order_cap * 2 : 64;
        struct mroom **order = realloc(m->order, cap * sizeof *order);
        if (order) {
            m->order = order;
            m->order_cap = cap;
        } else {
            oom = true;
        }
    }
    if (!oom && smap_put(&m->rooms, r->id, r) < 0)
        oom = true;
    if (!oom && unique_key && smap_put(&m->unique, unique_key, r) < 0) {
        smap_del(&m->rooms, r->id);
        oom = true;
    }
    if (oom) {
        if (r)
            room_destroy(r);
        answer_nomem(m, C_ROOM, (void *)cb, ctx);
        return;
    }
    m->order[m->nrooms++] = r;
    complete_room(m, cb, ctx, CHATD_OK, r, NULL);
}

static void mem_room_get(void *state, const char *room_id, const char *for_user, chatd_room_cb cb,
                         void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    complete_room(m, cb, ctx, r ? CHATD_OK : CHATD_ERR_NOT_FOUND, r, for_user);
}

static bool room_matches(const struct mroom *r, const struct chatd_room_filter *f)
{
    if (f->kind && r->kind != f->kind)
        return false;
    if (f->state && r->state != f->state)
        return false;
    if (f->agent && (!r->agent || strcmp(r->agent, f->agent) != 0))
        return false;
    if (f->member && !is_member(r, f->member))
        return false;
    return true;
}

static void mem_room_list(void *state, const struct chatd_room_filter *f, chatd_rooms_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct completion *c = completion_new(C_ROOMS, ctx);
    size_t limit = f->limit ? f->limit : 1000;
    size_t n = 0;
    for (size_t i = 0; i < m->nrooms && n < limit; i++)
        n += room_matches(m->order[i], f);
    bool oom = !c;
    if (c && n && !(c->rooms = arena_alloc(c, n * sizeof *c->rooms)))
        oom = true;
    for (size_t i = 0, k = 0; !oom && i < m->nrooms && k < n; i++)
        if (room_matches(m->order[i], f))
            snap_room(c, &c->rooms[k++], m->order[i], f->for_user, &oom);
    if (oom) {
        if (c)
            completion_free(c);
        answer_nomem(m, C_ROOMS, (void *)cb, ctx);
        return;
    }
    c->n = n;
    c->cb.rooms = cb;
    c->st = CHATD_OK;
    complete(m, c);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mem_room_claim(void *state, const char *room_id, const char *agent, int64_t now_ms,
                           chatd_room_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    if (!r) {
        complete_room(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    if (r->kind != CHATD_ROOM_SUPPORT || r->state != CHATD_ROOM_OPEN) {
        complete_room(m, cb, ctx, CHATD_ERR_CONFLICT, r, NULL);
        return;
    }
    char *a = strdup(agent);
    if (!a || add_member(r, agent) < 0) {
        free(a);
        answer_nomem(m, C_ROOM, (void *)cb, ctx);
        return;
    }
    free(r->agent);
    r->agent = a;
    r->state = CHATD_ROOM_ASSIGNED;
    r->assigned_ms = now_ms;
    complete_room(m, cb, ctx, CHATD_OK, r, NULL);
}

static void mem_room_complete(void *state, const char *room_id, const char *agent, chatd_room_cb cb,
                              void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    if (!r) {
        complete_room(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    if (r->state != CHATD_ROOM_ASSIGNED || !r->agent || strcmp(r->agent, agent) != 0) {
        complete_room(m, cb, ctx, CHATD_ERR_CONFLICT, r, NULL);
        return;
    }
    r->state = CHATD_ROOM_COMPLETED;
    r->closed_ms = wall_ms(); /* when completed: room_reopen's window */
    if (r->unique_key) {
        smap_del(&m->unique, r->unique_key);
        free(r->unique_key);
        r->unique_key = NULL;
    }
    complete_room(m, cb, ctx, CHATD_OK, r, NULL);
}

static void room_remove(struct memstore *m, struct mroom *r)
{
    smap_del(&m->rooms, r->id);
    if (r->unique_key)
        smap_del(&m->unique, r->unique_key);
    for (size_t i = 0; i < m->nrooms; i++) {
        if (m->order[i] == r) {
            memmove(&m->order[i], &m->order[i + 1], (m->nrooms - i - 1) * sizeof *m->order);
            m->nrooms--;
            break;
        }
    }
    room_destroy(r);
}

static void mem_room_delete(void *state, const char *room_id, chatd_done_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    if (!r) {
        complete_done(m, cb, ctx, CHATD_ERR_NOT_FOUND);
        return;
    }
    room_remove(m, r);
    complete_done(m, cb, ctx, CHATD_OK);
}

static void mem_member_add(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    chatd_status st = !r ? CHATD_ERR_NOT_FOUND : add_member(r, user) < 0 ? CHATD_ERR_NOMEM : CHATD_OK;
    complete_done(m, cb, ctx, st);
}

static void mem_member_remove(void *state, const char *room_id, const char *user, chatd_done_cb cb,
                              void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    if (!r) {
        complete_done(m, cb, ctx, CHATD_ERR_NOT_FOUND);
        return;
    }
    list_remove(r->members, &r->nmembers, user);
    list_remove(r->admins, &r->nadmins, user);
    complete_done(m, cb, ctx, CHATD_OK);
}

/* ------------------------------------------------------------ group roles */

static chatd_member_role role_in(const struct mroom *r, const char *user)
{
    if (!user || !is_member(r, user))
        return CHATD_MEMBER_NONE;
    if (r->owner && strcmp(r->owner, user) == 0)
        return CHATD_MEMBER_OWNER;
    return listed(r->admins, r->nadmins, user) ? CHATD_MEMBER_ADMIN : CHATD_MEMBER_PLAIN;
}

/* The owner left: the admin who joined first, else the member who joined
 * first (members are in join order). */
static int pass_ownership(struct mroom *r)
{
    const char *next = NULL;
    for (size_t i = 0; !next && i < r->nmembers; i++)
        if (listed(r->admins, r->nadmins, r->members[i]))
            next = r->members[i];
    if (!next && r->nmembers)
        next = r->members[0];
    if (!next)
        return 0;
    char *owner = strdup(next);
    if (!owner)
        return -1;
    list_remove(r->admins, &r->nadmins, owner);
    free(r->owner);
    r->owner = owner;
    return 0;
}

/* Every change is made at once on the core thread, so it is atomic. */
static chatd_status group_apply(struct mroom *r, const struct chatd_group_change *ch)
{
    chatd_member_role u = role_in(r, ch->user);
    if (ch->actor) {
        chatd_member_role a = role_in(r, ch->actor);
        if (a < ch->actor_min || (ch->outrank && a <= u))
            return CHATD_ERR_DENIED;
    }
    switch (ch->what) {
    case CHATD_GROUP_ADD:
        if (u != CHATD_MEMBER_NONE)
            return CHATD_ERR_EXISTS;
        return add_member(r, ch->user) < 0 ? CHATD_ERR_NOMEM : CHATD_OK;
    case CHATD_GROUP_REMOVE:
        if (u == CHATD_MEMBER_NONE)
            return CHATD_ERR_CONFLICT;
        list_remove(r->members, &r->nmembers, ch->user);
        list_remove(r->admins, &r->nadmins, ch->user);
        return u == CHATD_MEMBER_OWNER && pass_ownership(r) < 0 ? CHATD_ERR_NOMEM : CHATD_OK;
    case CHATD_GROUP_ROLE:
        if (u == CHATD_MEMBER_NONE || (u == CHATD_MEMBER_OWNER && ch->role != CHATD_MEMBER_OWNER))
            return CHATD_ERR_CONFLICT;
        if (u == ch->role)
            return CHATD_ERR_EXISTS;
        if (ch->role == CHATD_MEMBER_OWNER) {
            char *owner = strdup(ch->user);
            if (!owner || (r->owner && is_member(r, r->owner) && list_add(&r->admins, &r->nadmins, r->owner) < 0)) {
                free(owner);
                return CHATD_ERR_NOMEM;
            }
            list_remove(r->admins, &r->nadmins, owner);
            free(r->owner);
            r->owner = owner;
            return CHATD_OK;
        }
        if (ch->role == CHATD_MEMBER_ADMIN)
            return list_add(&r->admins, &r->nadmins, ch->user) < 0 ? CHATD_ERR_NOMEM : CHATD_OK;
        if (ch->role == CHATD_MEMBER_PLAIN) {
            list_remove(r->admins, &r->nadmins, ch->user);
            return CHATD_OK;
        }
        return CHATD_ERR_INVALID;
    case CHATD_GROUP_RENAME: {
        char *title = ch->title ? strdup(ch->title) : NULL;
        if (!title)
            return ch->title ? CHATD_ERR_NOMEM : CHATD_ERR_INVALID;
        free(r->title);
        r->title = title;
        return CHATD_OK;
    }
    case CHATD_GROUP_DELETE:
        return CHATD_OK; /* the caller removes the room once it has its answer */
    }
    return CHATD_ERR_INVALID;
}

static void mem_group_change(void *state, const struct chatd_group_change *ch, chatd_room_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, ch->room_id);
    if (!r || r->kind != CHATD_ROOM_GROUP) {
        complete_room(m, cb, ctx, r ? CHATD_ERR_INVALID : CHATD_ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    chatd_status st = group_apply(r, ch);
    if (st == CHATD_ERR_NOMEM) {
        answer_nomem(m, C_ROOM, (void *)cb, ctx);
        return;
    }
    if (st == CHATD_ERR_INVALID) {
        complete_room(m, cb, ctx, st, NULL, NULL);
        return;
    }
    complete_room(m, cb, ctx, st, r, NULL); /* a snapshot: the room may go now */
    if (st == CHATD_OK && ch->what == CHATD_GROUP_DELETE)
        room_remove(m, r);
}

static void complete_message(struct memstore *m, chatd_message_cb cb, void *ctx, chatd_status st,
                             const struct mroom *r, size_t seq)
{
    struct completion *c = completion_new(C_MESSAGE, ctx);
    bool oom = !c;
    if (c && seq) {
        c->msgs = arena_alloc(c, sizeof *c->msgs);
        if (c->msgs)
            snap_message(c, c->msgs, r, seq, &oom);
        else
            oom = true;
        c->n = 1;
    }
    if (oom) {
        if (c)
            completion_free(c);
        answer_nomem(m, C_MESSAGE, (void *)cb, ctx);
        return;
    }
    c->cb.message = cb;
    c->st = st;
    complete(m, c);
}

static void mem_message_append(void *state, const struct chatd_message *msg, chatd_message_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, msg->room);
    if (!r) {
        complete_message(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, 0);
        return;
    }
    char *idem_key = NULL;
    if (msg->client_id) {
        if (asprintf(&idem_key, "%s\x1f%s", msg->sender, msg->client_id) < 0) {
            answer_nomem(m, C_MESSAGE, (void *)cb, ctx);
            return;
        }
        uintptr_t seq = (uintptr_t)smap_get(&r->idem, idem_key);
        if (seq) {
            free(idem_key);
            complete_message(m, cb, ctx, CHATD_ERR_EXISTS, r, seq);
            return;
        }
    }
    if ((long long)r->nmsgs >= m->max_messages) {
        free(idem_key);
        complete_message(m, cb, ctx, CHATD_ERR_LIMIT, NULL, 0);
        return;
    }
    if (r->nmsgs == r->msgs_cap) {
        size_t cap = r->msgs_cap ? r->msgs_cap * 2 : 16;
        struct mmsg *v = realloc(r->msgs, cap * sizeof *v);
        if (!v) {
            free(idem_key);
            answer_nomem(m, C_MESSAGE, (void *)cb, ctx);
            return;
        }
        r->msgs = v;
        r->msgs_cap = cap;
    }
    struct mmsg *s = &r->msgs[r->nmsgs];
    bool oom = false;
    char id[32];
    snprintf(id, sizeof id, "m%llu", (unsigned long long)++m->next_message_id);
    s->id = dup_or_null(id, &oom);
    s->sender = dup_or_null(msg->sender, &oom);
    s->client_id = dup_or_null(msg->client_id, &oom);
    s->content_type = dup_or_null(CHATD_HAS(msg, content_type) ? msg->content_type : NULL, &oom);
    s->kind = CHATD_HAS(msg, kind) ? msg->kind : CHATD_MESSAGE_TEXT;
    s->reply_to = CHATD_HAS(msg, reply_to) ? msg->reply_to : 0;
    s->rev = 0;
    s->edited_ms = 0;
    s->deleted = false;
    s->body = malloc(msg->body_len + 1);
    s->ts_ms = msg->ts_ms;
    s->body_len = msg->body_len;
    if (!s->body)
        oom = true;
    else if (msg->body_len)
        memcpy(s->body, msg->body, msg->body_len);
    if (!oom && idem_key && smap_put(&r->idem, idem_key, (void *)(uintptr_t)(r->nmsgs + 1)) < 0)
        oom = true;
    free(idem_key);
    if (oom) {
        free(s->id);
        free(s->sender);
        free(s->client_id);
        free(s->content_type);
        free(s->body);
        answer_nomem(m, C_MESSAGE, (void *)cb, ctx);
        return;
    }
    r->nmsgs++;
    complete_message(m, cb, ctx, CHATD_OK, r, r->nmsgs);
}

/* The page of message_list into c (c->msgs, c->n); false when out of memory. */
static bool snap_page(struct completion *c, const struct mroom *r, uint64_t before, uint64_t after, size_t limit)
{
    /* seq range [lo, hi], walked newest-first for `before`, oldest-first otherwise */
    uint64_t lo, hi;
    if (before) {
        hi = before - 1 < r->nmsgs ? before - 1 : r->nmsgs;
        lo = hi > limit ? hi - limit + 1 : 1;
    } else {
        lo = after + 1;
        hi = after >= r->nmsgs ? after : r->nmsgs - after > limit ? after + limit : r->nmsgs;
    }
    size_t n = hi >= lo && lo >= 1 ? (size_t)(hi - lo + 1) : 0;
    bool oom = false;
    if (n && !(c->msgs = arena_alloc(c, n * sizeof *c->msgs)))
        return false;
    for (size_t k = 0; !oom && k < n; k++)
        snap_message(c, &c->msgs[k], r, before ? (size_t)(hi - k) : (size_t)(lo + k), &oom);
    c->n = n;
    return !oom;
}

static void mem_message_list(void *state, const char *room_id, uint64_t before, uint64_t after,
                             size_t limit, chatd_messages_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    struct completion *c = completion_new(C_MESSAGES, ctx);
    if (!c) {
        answer_nomem(m, C_MESSAGES, (void *)cb, ctx);
        return;
    }
    c->cb.messages = cb;
    if (!r) {
        c->st = CHATD_ERR_NOT_FOUND;
        complete(m, c);
        return;
    }
    if (!snap_page(c, r, before, after, limit)) {
        completion_free(c);
        answer_nomem(m, C_MESSAGES, (void *)cb, ctx);
        return;
    }
    c->st = CHATD_OK;
    complete(m, c);
}

/* SDK 2.13: the room and its page, both as they are now. */
static void mem_room_page(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                          chatd_room_page_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    struct completion *c = completion_new(C_PAGE, ctx);
    if (!c) {
        answer_nomem(m, C_PAGE, (void *)cb, ctx);
        return;
    }
    c->cb.page = cb;
    c->st = r ? CHATD_OK : CHATD_ERR_NOT_FOUND;
    bool oom = false;
    if (r && (c->rooms = arena_alloc(c, sizeof *c->rooms)))
        snap_room(c, c->rooms, r, NULL, &oom);
    if (r && (!c->rooms || oom || !snap_page(c, r, before, after, limit))) {
        completion_free(c);
        answer_nomem(m, C_PAGE, (void *)cb, ctx);
        return;
    }
    complete(m, c);
}

static void mem_read_mark(void *state, const char *room_id, const char *user, uint64_t seq,
                          chatd_done_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    if (!r) {
        complete_done(m, cb, ctx, CHATD_ERR_NOT_FOUND);
        return;
    }
    if (seq > r->nmsgs)
        seq = r->nmsgs;
    for (size_t i = 0; i < r->nmarks; i++) {
        if (strcmp(r->marks[i].user, user) == 0) {
            if (seq > r->marks[i].seq)
                r->marks[i].seq = seq;
            complete_done(m, cb, ctx, CHATD_OK);
            return;
        }
    }
    struct mark *v = realloc(r->marks, (r->nmarks + 1) * sizeof *v);
    char *u = strdup(user);
    if (!v || !u) {
        if (v)
            r->marks = v;
        free(u);
        complete_done(m, cb, ctx, CHATD_ERR_NOMEM);
        return;
    }
    r->marks = v;
    r->marks[r->nmarks++] = (struct mark){u, seq};
    complete_done(m, cb, ctx, CHATD_OK);
}

/* ------------------------------------------------- transcripts (SDK 1.2) */

static void release_key(struct memstore *m, struct mroom *r)
{
    if (!r->unique_key)
        return;
    smap_del(&m->unique, r->unique_key);
    free(r->unique_key);
    r->unique_key = NULL;
}

static void mem_room_close(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    if (!r) {
        complete_room(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    if (r->kind != CHATD_ROOM_SUPPORT || r->state == CHATD_ROOM_CLOSED) {
        complete_room(m, cb, ctx, CHATD_ERR_CONFLICT, r, NULL);
        return;
    }
    r->state = CHATD_ROOM_CLOSED;
    r->closed_ms = now_ms;
    release_key(m, r);
    complete_room(m, cb, ctx, CHATD_OK, r, NULL);
}

static void complete_count(struct memstore *m, chatd_count_cb cb, void *ctx, size_t n)
{
    struct completion *c = completion_new(C_COUNT, ctx);
    if (!c) {
        answer_nomem(m, C_COUNT, (void *)cb, ctx);
        return;
    }
    c->cb.count = cb;
    c->n = n;
    c->st = CHATD_OK;
    complete(m, c);
}

static void mem_room_purge(void *state, int64_t closed_before_ms, size_t limit, chatd_count_cb cb, void *ctx)
{
    struct memstore *m = state;
    size_t n = 0;
    for (size_t i = 0; i < m->nrooms && n < limit;) {
        struct mroom *r = m->order[i];
        if (r->kind == CHATD_ROOM_SUPPORT && r->state == CHATD_ROOM_CLOSED && r->closed_ms < closed_before_ms) {
            room_remove(m, r); /* the next room moves to i */
            n++;
        } else {
            i++;
        }
    }
    complete_count(m, cb, ctx, n);
}

/* As mem_room_purge, naming the rooms (SDK 2.11): the ids are copied
 * into the answer before each room goes. */
static void mem_room_purge_ids(void *state, int64_t closed_before_ms, size_t limit, chatd_ids_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct completion *c = completion_new(C_IDS, ctx);
    bool oom = false;
    size_t due = 0;
    for (size_t i = 0; i < m->nrooms && due < limit; i++) {
        const struct mroom *r = m->order[i];
        due += r->kind == CHATD_ROOM_SUPPORT && r->state == CHATD_ROOM_CLOSED && r->closed_ms < closed_before_ms;
    }
    if (!c || (due && !(c->ids = arena_alloc(c, due * sizeof *c->ids)))) {
        if (c)
            completion_free(c);
        answer_nomem(m, C_IDS, (void *)cb, ctx);
        return;
    }
    /* Every copy first: a room is removed only once nothing can fail. */
    size_t n = 0;
    for (size_t i = 0; i < m->nrooms && n < due; i++) {
        const struct mroom *r = m->order[i];
        if (r->kind == CHATD_ROOM_SUPPORT && r->state == CHATD_ROOM_CLOSED && r->closed_ms < closed_before_ms)
            c->ids[n++] = arena_str(c, r->id, &oom);
    }
    if (oom) {
        completion_free(c);
        answer_nomem(m, C_IDS, (void *)cb, ctx);
        return;
    }
    for (size_t k = 0; k < n; k++)
        room_remove(m, smap_get(&m->rooms, c->ids[k]));
    c->cb.ids = cb;
    c->n = n;
    c->st = CHATD_OK;
    complete(m, c);
}

/* Wiped in place (no allocation, so it cannot fail half-way). */
static void wipe(char *s, size_t len)
{
    if (s)
        memset(s, 0, len);
}

static void mem_user_erase(void *state, const char *user, chatd_erase_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct chatd_erase_result res = {.size = sizeof res};
    for (size_t i = 0; i < m->nrooms;) {
        struct mroom *r = m->order[i];
        if (!is_member(r, user)) {
            i++;
            continue;
        }
        if (r->kind == CHATD_ROOM_SUPPORT && r->owner && strcmp(r->owner, user) == 0) {
            room_remove(m, r); /* the next room moves to i */
            res.rooms_deleted++;
            continue;
        }
        i++;
        for (size_t k = 0; k < r->nmsgs; k++) {
            struct mmsg *s = &r->msgs[k];
            if (!s->sender || strcmp(s->sender, user) != 0)
                continue;
            if (s->client_id) {
                char *idem_key = NULL;
                if (asprintf(&idem_key, "%s\x1f%s", s->sender, s->client_id) >= 0)
                    smap_del(&r->idem, idem_key);
                free(idem_key);
                free(s->client_id);
                s->client_id = NULL;
            }
            free(s->content_type);
            s->content_type = NULL;
            wipe(s->sender, strlen(s->sender));
            wipe(s->body, s->body_len);
            s->body_len = 0;
            res.messages_erased++;
        }
        for (size_t k = 0; k < r->nreacts;) {
            struct mreact *x = &r->reacts[k];
            if (strcmp(x->user, user) != 0) {
                k++;
                continue;
            }
            free(x->emoji);
            free(x->user);
            *x = r->reacts[--r->nreacts];
        }
        for (size_t k = 0; k < r->nmarks; k++) {
            if (strcmp(r->marks[k].user, user) == 0) {
                free(r->marks[k].user);
                r->marks[k] = r->marks[--r->nmarks];
                break;
            }
        }
        /* As CHATD_GROUP_REMOVE: the role goes, a group's ownership passes
         * on (to nobody new, and the owner stays, should memory run out). */
        bool owned = r->kind == CHATD_ROOM_GROUP && role_in(r, user) == CHATD_MEMBER_OWNER;
        list_remove(r->members, &r->nmembers, user);
        list_remove(r->admins, &r->nadmins, user);
        if (owned)
            pass_ownership(r);
        res.memberships_removed++;
        if (r->kind == CHATD_ROOM_DIRECT)
            release_key(m, r);
    }
    struct completion *c = completion_new(C_ERASE, ctx);
    if (!c) {
        answer_nomem(m, C_ERASE, (void *)cb, ctx);
        return;
    }
    c->cb.erase = cb;
    c->erased = res;
    c->st = CHATD_OK;
    complete(m, c);
}

static void mem_message_edit(void *state, const struct chatd_message_edit *ed, chatd_message_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, ed->room_id);
    if (!r || ed->seq < 1 || ed->seq > r->nmsgs) {
        complete_message(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, 0);
        return;
    }
    struct mmsg *s = &r->msgs[ed->seq - 1];
    if (s->deleted || !s->sender || !*s->sender) {
        complete_message(m, cb, ctx, CHATD_ERR_CONFLICT, r, ed->seq);
        return;
    }
    if (ed->what == CHATD_MESSAGE_EDIT) {
        char *body = malloc(ed->body_len + 1);
        char *ct = ed->content_type ? strdup(ed->content_type) : NULL;
        if (!body || (ed->content_type && !ct)) {
            free(body);
            free(ct);
            answer_nomem(m, C_MESSAGE, (void *)cb, ctx);
            return;
        }
        if (ed->body_len)
            memcpy(body, ed->body, ed->body_len);
        body[ed->body_len] = '\0';
        free(s->body);
        s->body = body;
        s->body_len = ed->body_len;
        free(s->content_type);
        s->content_type = ct;
    } else {
        wipe(s->body, s->body_len);
        s->body_len = 0;
        s->deleted = true;
    }
    s->rev = ++r->last_rev;
    s->edited_ms = ed->now_ms;
    complete_message(m, cb, ctx, CHATD_OK, r, ed->seq);
}

static int by_rev(const void *a, const void *b)
{
    const struct chatd_message *x = a, *y = b;
    return x->rev < y->rev ? -1 : x->rev > y->rev;
}

static void mem_message_revisions(void *state, const char *room_id, uint64_t after_rev, size_t limit,
                                  chatd_messages_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    struct completion *c = completion_new(C_MESSAGES, ctx);
    if (!c) {
        answer_nomem(m, C_MESSAGES, (void *)cb, ctx);
        return;
    }
    c->cb.messages = cb;
    c->st = CHATD_OK;
    size_t n = 0;
    for (size_t k = 0; r && k < r->nmsgs; k++)
        n += r->msgs[k].rev > after_rev;
    bool oom = false;
    if (n && !(c->msgs = arena_alloc(c, n * sizeof *c->msgs)))
        oom = true;
    size_t i = 0;
    for (size_t k = 0; !oom && r && k < r->nmsgs; k++)
        if (r->msgs[k].rev > after_rev)
            snap_message(c, &c->msgs[i++], r, k + 1, &oom);
    if (oom) {
        completion_free(c);
        answer_nomem(m, C_MESSAGES, (void *)cb, ctx);
        return;
    }
    if (n)
        qsort(c->msgs, n, sizeof *c->msgs, by_rev);
    c->n = n < limit ? n : limit;
    complete(m, c);
}

/* -------------------------------------------------------------- reactions */

static bool seq_wanted(const uint64_t *seqs, size_t nseqs, uint64_t seq)
{
    for (size_t i = 0; i < nseqs; i++)
        if (seqs[i] == seq)
            return true;
    return false;
}

static int by_seq_emoji(const void *a, const void *b)
{
    const struct chatd_reaction_count *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return strcmp(x->emoji, y->emoji); /* byte order: strcmp compares as unsigned char */
}

/* Answer st with the counts of r's messages seqs[0..nseqs), `me` for user. */
static void complete_reactions(struct memstore *m, chatd_reactions_cb cb, void *ctx, chatd_status st,
                               const struct mroom *r, const uint64_t *seqs, size_t nseqs, const char *user)
{
    struct completion *c = completion_new(C_REACTIONS, ctx);
    size_t cap = r ? r->nreacts : 0;
    if (!c || (cap && !(c->counts = arena_alloc(c, cap * sizeof *c->counts)))) {
        if (c)
            completion_free(c);
        answer_nomem(m, C_REACTIONS, (void *)cb, ctx);
        return;
    }
    c->cb.reactions = cb;
    c->st = st;
    size_t n = 0;
    for (size_t k = 0; k < cap; k++) {
        const struct mreact *x = &r->reacts[k];
        if (!seq_wanted(seqs, nseqs, x->seq))
            continue;
        bool me = user && strcmp(x->user, user) == 0;
        size_t j = 0;
        while (j < n && !(c->counts[j].seq == x->seq && strcmp(c->counts[j].emoji, x->emoji) == 0))
            j++;
        if (j == n)
            c->counts[n++] = (struct chatd_reaction_count){
                .size = sizeof c->counts[0], .seq = x->seq, .emoji = x->emoji, .count = 0, .me = false};
        c->counts[j].count++;
        c->counts[j].me |= me;
    }
    bool oom = false;
    for (size_t j = 0; j < n; j++) /* the answer outlives a change before it runs */
        c->counts[j].emoji = arena_str(c, c->counts[j].emoji, &oom);
    if (oom) {
        completion_free(c);
        answer_nomem(m, C_REACTIONS, (void *)cb, ctx);
        return;
    }
    if (n)
        qsort(c->counts, n, sizeof *c->counts, by_seq_emoji);
    c->n = n;
    complete(m, c);
}

static void mem_reaction_change(void *state, const struct chatd_reaction_change *rc, chatd_reactions_cb cb,
                                void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, rc->room_id);
    if (!r || rc->seq < 1 || rc->seq > r->nmsgs) {
        complete_reactions(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, NULL, 0, NULL);
        return;
    }
    const struct mmsg *s = &r->msgs[rc->seq - 1];
    if (s->deleted || !s->sender || !*s->sender) {
        complete_reactions(m, cb, ctx, CHATD_ERR_CONFLICT, NULL, NULL, 0, NULL);
        return;
    }
    size_t mine = r->nreacts, distinct = 0;
    bool emoji_held = false;
    for (size_t k = 0; k < r->nreacts; k++) {
        const struct mreact *x = &r->reacts[k];
        if (x->seq != rc->seq)
            continue;
        bool same = strcmp(x->emoji, rc->emoji) == 0;
        if (same && strcmp(x->user, rc->user) == 0)
            mine = k;
        if (same)
            emoji_held = true;
        /* distinct emoji: count each at its first holder in the array */
        bool first = true;
        for (size_t j = 0; j < k && first; j++)
            first = !(r->reacts[j].seq == rc->seq && strcmp(r->reacts[j].emoji, x->emoji) == 0);
        distinct += first;
    }
    chatd_status st = CHATD_OK;
    if (rc->add && mine < r->nreacts) {
        st = CHATD_ERR_EXISTS;
    } else if (!rc->add && mine == r->nreacts) {
        st = CHATD_ERR_EXISTS;
    } else if (rc->add && !emoji_held && rc->max_distinct && distinct >= rc->max_distinct) {
        st = CHATD_ERR_LIMIT;
    } else if (rc->add) {
        struct mreact *v = realloc(r->reacts, (r->nreacts + 1) * sizeof *v);
        char *emoji = strdup(rc->emoji), *user = strdup(rc->user);
        if (v)
            r->reacts = v;
        if (!v || !emoji || !user) {
            free(emoji);
            free(user);
            answer_nomem(m, C_REACTIONS, (void *)cb, ctx);
            return;
        }
        r->reacts[r->nreacts++] = (struct mreact){rc->seq, emoji, user};
    } else {
        free(r->reacts[mine].emoji);
        free(r->reacts[mine].user);
        r->reacts[mine] = r->reacts[--r->nreacts];
    }
    complete_reactions(m, cb, ctx, st, r, &rc->seq, 1, rc->user);
}

static void mem_reaction_list(void *state, const char *room_id, const uint64_t *seqs, size_t nseqs,
                              const char *for_user, chatd_reactions_cb cb, void *ctx)
{
    struct memstore *m = state;
    complete_reactions(m, cb, ctx, CHATD_OK, smap_get(&m->rooms, room_id), seqs, nseqs, for_user);
}

/* ---------------------------------------------------------------- search */

/* A scan of the named rooms' messages: no index, the cost of a search is
 * the size of those rooms' history (docs/storage.md). */

static unsigned char ascii_lower(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

/* Whether text holds q, letters A-Z matching a-z. */
static bool holds(const char *text, size_t len, const char *q, size_t qlen)
{
    for (size_t i = 0; qlen <= len && i <= len - qlen; i++) {
        size_t k = 0;
        while (k < qlen && ascii_lower((unsigned char)text[i + k]) == ascii_lower((unsigned char)q[k]))
            k++;
        if (k == qlen)
            return true;
    }
    return false;
}

struct hit {
    const struct mroom *r;
    size_t seq;
    int64_t ts;
};

/* Newest first: (ts_ms, room, seq) descending. */
static int hit_cmp(int64_t ts, const char *room, uint64_t seq, int64_t ts2, const char *room2, uint64_t seq2)
{
    if (ts != ts2)
        return ts < ts2 ? 1 : -1;
    int c = strcmp(room, room2);
    if (c)
        return c < 0 ? 1 : -1;
    return seq == seq2 ? 0 : seq < seq2 ? 1 : -1;
}

static int by_newest(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    return hit_cmp(x->ts, x->r->id, x->seq, y->ts, y->r->id, y->seq);
}

static void mem_message_search(void *state, const struct chatd_message_search *q, chatd_messages_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct completion *c = completion_new(C_MESSAGES, ctx);
    if (!c) {
        answer_nomem(m, C_MESSAGES, (void *)cb, ctx);
        return;
    }
    c->cb.messages = cb;
    c->st = CHATD_OK;
    size_t qlen = strlen(q->query), jlen = q->query_json ? strlen(q->query_json) : 0, n = 0, cap = 0;
    struct hit *hits = NULL;
    bool oom = false;
    for (size_t i = 0; !oom && i < q->nrooms; i++) {
        const struct mroom *r = smap_get(&m->rooms, q->rooms[i]);
        bool again = false;
        for (size_t j = 0; j < i && !again; j++)
            again = strcmp(q->rooms[j], q->rooms[i]) == 0;
        for (size_t k = 0; r && !again && !oom && k < r->nmsgs; k++) {
            const struct mmsg *s = &r->msgs[k];
            if (s->deleted || !s->sender || !*s->sender ||
                !(holds(s->body, s->body_len, q->query, qlen) ||
                  (q->query_json && holds(s->body, s->body_len, q->query_json, jlen))))
                continue;
            if (q->before_room && hit_cmp(s->ts_ms, r->id, k + 1, q->before_ts_ms, q->before_room, q->before_seq) <= 0)
                continue;
            if (n == cap) {
                struct hit *more = realloc(hits, (cap = cap ? 2 * cap : 64) * sizeof *hits);
                if (!more) {
                    oom = true;
                    break;
                }
                hits = more;
            }
            hits[n++] = (struct hit){r, k + 1, s->ts_ms};
        }
    }
    if (!oom && n) {
        qsort(hits, n, sizeof *hits, by_newest);
        c->n = n < q->limit ? n : q->limit;
        if (!(c->msgs = arena_alloc(c, c->n * sizeof *c->msgs)))
            oom = true;
        for (size_t i = 0; !oom && i < c->n; i++)
            snap_message(c, &c->msgs[i], hits[i].r, hits[i].seq, &oom);
    }
    free(hits);
    if (oom) {
        completion_free(c);
        answer_nomem(m, C_MESSAGES, (void *)cb, ctx);
        return;
    }
    complete(m, c);
}

/* -------------------------------------------------------------- lifecycle */

static chatd_status mem_init(const struct chatd_host *h, void **state)
{
    struct memstore *m = calloc(1, sizeof *m);
    if (!m)
        return CHATD_ERR_NOMEM;
    m->host = h;
    m->max_rooms = 100000;
    m->max_messages = 100000;
    const char *keys[] = {"max_rooms", "max_messages_per_room"};
    long long *vals[] = {&m->max_rooms, &m->max_messages};
    for (int i = 0; i < 2; i++) {
        const char *v = h->config_get(h, keys[i]);
        if (!v)
            continue;
        char *end;
        long long n = strtoll(v, &end, 10);
        if (!*v || *end || n < 1 || n > 1000000000LL) {
            h->config_error(h, keys[i], "expected an integer between 1 and 1000000000, got '%s'", v);
            free(m);
            return CHATD_ERR_INVALID;
        }
        *vals[i] = n;
    }
    m->run = event_new(h->base, -1, 0, run_completions, m);
    if (!m->run) {
        free(m);
        return CHATD_ERR_NOMEM;
    }
    h->set_ready(h, true, "in memory");
    *state = m;
    return CHATD_OK;
}

static void canned_destroy(struct mcanned *c)
{
    free(c->desk);
    free(c->shortcut);
    free(c->title);
    free(c->body);
    free(c->updated_by);
}

static void mem_fini(void *state)
{
    struct memstore *m = state;
    event_free(m->run);
    for (struct completion *c = m->head, *next; c; c = next) {
        next = c->next;
        completion_free(c);
    }
    for (size_t i = 0; i < m->nrooms; i++)
        room_destroy(m->order[i]);
    free(m->order);
    smap_free(&m->rooms);
    smap_free(&m->unique);
    for (size_t i = 0; i < m->ncanned; i++)
        canned_destroy(&m->canned[i]);
    free(m->canned);
    free(m);
}

/* SDK 2.3: the support desk. One thread: each operation is atomic. */

static size_t open_rooms_of(const struct memstore *m, const char *agent)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nrooms; i++) {
        const struct mroom *r = m->order[i];
        n += r->kind == CHATD_ROOM_SUPPORT && r->state == CHATD_ROOM_ASSIGNED && r->agent &&
             strcmp(r->agent, agent) == 0;
    }
    return n;
}

/* The room becomes ASSIGNED to agent at now_ms, the agent a member. */
static int assign_to(struct mroom *r, const char *agent, int64_t now_ms)
{
    char *a = strdup(agent);
    if (!a || add_member(r, agent) < 0) {
        free(a);
        return -1;
    }
    free(r->agent);
    r->agent = a;
    r->state = CHATD_ROOM_ASSIGNED;
    r->assigned_ms = now_ms;
    return 0;
}

static void mem_room_claim_limited(void *state, const char *room_id, const char *agent, size_t max_open,
                                   int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, room_id);
    if (!r) {
        complete_room(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    if (r->kind != CHATD_ROOM_SUPPORT || r->state != CHATD_ROOM_OPEN) {
        complete_room(m, cb, ctx, CHATD_ERR_CONFLICT, r, NULL);
        return;
    }
    if (max_open && open_rooms_of(m, agent) >= max_open) {
        complete_room(m, cb, ctx, CHATD_ERR_LIMIT, r, NULL);
        return;
    }
    if (assign_to(r, agent, now_ms) < 0) {
        answer_nomem(m, C_ROOM, (void *)cb, ctx);
        return;
    }
    complete_room(m, cb, ctx, CHATD_OK, r, NULL);
}

static void mem_room_transfer(void *state, const struct chatd_room_transfer *t, chatd_room_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, t->room_id);
    if (!r) {
        complete_room(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    if (r->kind != CHATD_ROOM_SUPPORT || r->state != CHATD_ROOM_ASSIGNED || !r->agent || !t->from ||
        strcmp(r->agent, t->from) != 0) {
        complete_room(m, cb, ctx, CHATD_ERR_CONFLICT, r, NULL);
        return;
    }
    if (t->to && strcmp(t->to, t->from) == 0) {
        r->assigned_ms = t->now_ms;
        complete_room(m, cb, ctx, CHATD_OK, r, NULL);
        return;
    }
    if (t->to && add_member(r, t->to) < 0) {
        answer_nomem(m, C_ROOM, (void *)cb, ctx);
        return;
    }
    char *to = t->to ? strdup(t->to) : NULL;
    if (t->to && !to) {
        answer_nomem(m, C_ROOM, (void *)cb, ctx);
        return;
    }
    list_remove(r->members, &r->nmembers, t->from);
    free(r->agent);
    r->agent = to;
    r->state = to ? CHATD_ROOM_ASSIGNED : CHATD_ROOM_OPEN;
    r->assigned_ms = to ? t->now_ms : 0;
    complete_room(m, cb, ctx, CHATD_OK, r, NULL);
}

static void mem_room_reopen(void *state, const struct chatd_room_reopen *ro, chatd_room_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, ro->room_id);
    if (!r) {
        complete_room(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    if (r->kind != CHATD_ROOM_SUPPORT || r->state != CHATD_ROOM_COMPLETED || r->closed_ms < ro->completed_after_ms) {
        complete_room(m, cb, ctx, CHATD_ERR_CONFLICT, r, NULL);
        return;
    }
    struct mroom *holder = ro->unique_key ? smap_get(&m->unique, ro->unique_key) : NULL;
    if (holder) {
        complete_room(m, cb, ctx, CHATD_ERR_EXISTS, holder, NULL);
        return;
    }
    char *key = ro->unique_key ? strdup(ro->unique_key) : NULL;
    if ((ro->unique_key && !key) || (key && smap_put(&m->unique, key, r) < 0)) {
        free(key);
        answer_nomem(m, C_ROOM, (void *)cb, ctx);
        return;
    }
    free(r->unique_key);
    r->unique_key = key;
    r->closed_ms = 0;
    bool to_agent = ro->agent && (!ro->max_open || open_rooms_of(m, ro->agent) < ro->max_open);
    if (to_agent && assign_to(r, ro->agent, ro->now_ms) < 0)
        to_agent = false; /* out of memory: the queue will do */
    if (!to_agent) {
        free(r->agent);
        r->agent = NULL;
        r->state = CHATD_ROOM_OPEN;
        r->assigned_ms = 0;
    }
    complete_room(m, cb, ctx, CHATD_OK, r, NULL);
}

static void mem_room_rate(void *state, const struct chatd_room_rating *rt, chatd_room_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct mroom *r = smap_get(&m->rooms, rt->room_id);
    if (!r) {
        complete_room(m, cb, ctx, CHATD_ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    if (r->kind != CHATD_ROOM_SUPPORT || (r->state != CHATD_ROOM_COMPLETED && r->state != CHATD_ROOM_CLOSED) ||
        r->rating) {
        complete_room(m, cb, ctx, CHATD_ERR_CONFLICT, r, NULL);
        return;
    }
    char *comment = NULL;
    if (rt->comment && !(comment = strdup(rt->comment))) {
        answer_nomem(m, C_ROOM, (void *)cb, ctx);
        return;
    }
    r->rating = rt->rating;
    r->rating_comment = comment;
    r->rated_ms = rt->now_ms;
    complete_room(m, cb, ctx, CHATD_OK, r, NULL);
}

/* SDK 2.8: canned replies. One thread: each operation is atomic. */

static int canned_cmp(const struct mcanned *c, const char *desk, const char *shortcut)
{
    int d = strcmp(c->desk, desk);
    return d ? d : strcmp(c->shortcut, shortcut);
}

/* The index of (desk, shortcut), or where it would go; *found says which. */
static size_t canned_find(const struct memstore *m, const char *desk, const char *shortcut, bool *found)
{
    size_t lo = 0, hi = m->ncanned;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (canned_cmp(&m->canned[mid], desk, shortcut) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->ncanned && canned_cmp(&m->canned[lo], desk, shortcut) == 0;
    return lo;
}

static void mem_canned_put(void *state, const struct chatd_canned_reply *reply, size_t max_per_desk,
                           chatd_count_cb cb, void *ctx)
{
    struct memstore *m = state;
    bool found;
    size_t at = canned_find(m, reply->desk, reply->shortcut, &found);
    if (!found && max_per_desk) {
        size_t n = 0;
        for (size_t i = 0; i < m->ncanned; i++)
            n += strcmp(m->canned[i].desk, reply->desk) == 0;
        if (n >= max_per_desk) {
            struct completion *c = completion_new(C_COUNT, ctx);
            if (!c) {
                answer_nomem(m, C_COUNT, (void *)cb, ctx);
                return;
            }
            c->cb.count = cb;
            c->st = CHATD_ERR_LIMIT;
            complete(m, c);
            return;
        }
    }
    struct mcanned c = {strdup(reply->desk), strdup(reply->shortcut), strdup(reply->title), strdup(reply->body),
                        strdup(reply->updated_by), reply->updated_ms};
    if (!found && m->ncanned == m->canned_cap) {
        size_t cap = m->canned_cap ? 2 * m->canned_cap : 16;
        struct mcanned *more = realloc(m->canned, cap * sizeof *more);
        if (more) {
            m->canned = more;
            m->canned_cap = cap;
        }
    }
    if (!c.desk || !c.shortcut || !c.title || !c.body || !c.updated_by || (!found && m->ncanned == m->canned_cap)) {
        canned_destroy(&c);
        answer_nomem(m, C_COUNT, (void *)cb, ctx);
        return;
    }
    if (found) {
        canned_destroy(&m->canned[at]);
    } else {
        memmove(&m->canned[at + 1], &m->canned[at], (m->ncanned - at) * sizeof *m->canned);
        m->ncanned++;
    }
    m->canned[at] = c;
    complete_count(m, cb, ctx, !found);
}

static void mem_canned_delete(void *state, const char *desk, const char *shortcut, chatd_done_cb cb, void *ctx)
{
    struct memstore *m = state;
    bool found;
    size_t at = canned_find(m, desk, shortcut, &found);
    if (found) {
        canned_destroy(&m->canned[at]);
        memmove(&m->canned[at], &m->canned[at + 1], (m->ncanned - at - 1) * sizeof *m->canned);
        m->ncanned--;
    }
    complete_done(m, cb, ctx, found ? CHATD_OK : CHATD_ERR_NOT_FOUND);
}

static void mem_canned_list(void *state, const char *desk, size_t limit, chatd_canned_cb cb, void *ctx)
{
    struct memstore *m = state;
    struct completion *c = completion_new(C_CANNED, ctx);
    if (!c) {
        answer_nomem(m, C_CANNED, (void *)cb, ctx);
        return;
    }
    c->cb.canned = cb;
    c->st = CHATD_OK;
    bool found, oom = false;
    size_t at = canned_find(m, desk, "", &found), n = 0;
    while (at + n < m->ncanned && n < limit && strcmp(m->canned[at + n].desk, desk) == 0)
        n++;
    if (n && !(c->canned = arena_alloc(c, n * sizeof *c->canned)))
        oom = true;
    for (size_t i = 0; i < n && !oom; i++) {
        const struct mcanned *in = &m->canned[at + i];
        c->canned[i] = (struct chatd_canned_reply){
            .size = sizeof c->canned[i], .desk = arena_str(c, in->desk, &oom),
            .shortcut = arena_str(c, in->shortcut, &oom), .title = arena_str(c, in->title, &oom),
            .body = arena_str(c, in->body, &oom), .updated_by = arena_str(c, in->updated_by, &oom),
            .updated_ms = in->updated_ms};
    }
    if (oom) {
        completion_free(c);
        answer_nomem(m, C_CANNED, (void *)cb, ctx);
        return;
    }
    c->n = n;
    complete(m, c);
}

static const struct chatd_storage_ops mem_ops = {
    .size = sizeof mem_ops,
    .room_create = mem_room_create,
    .room_get = mem_room_get,
    .room_list = mem_room_list,
    .room_claim = mem_room_claim,
    .room_complete = mem_room_complete,
    .room_delete = mem_room_delete,
    .member_add = mem_member_add,
    .member_remove = mem_member_remove,
    .message_append = mem_message_append,
    .message_list = mem_message_list,
    .read_mark = mem_read_mark,
    .group_change = mem_group_change,
    /* SDK 1.2: transcripts. */
    .room_close = mem_room_close,
    .room_purge = mem_room_purge,
    .room_purge_ids = mem_room_purge_ids,
    .user_erase = mem_user_erase,
    /* SDK 2.2: edits and deletes. */
    .message_edit = mem_message_edit,
    .message_revisions = mem_message_revisions,
    /* SDK 2.3: the support desk. */
    .room_claim_limited = mem_room_claim_limited,
    .room_transfer = mem_room_transfer,
    .room_reopen = mem_room_reopen,
    /* SDK 2.5: reactions. */
    .reaction_change = mem_reaction_change,
    .reaction_list = mem_reaction_list,
    /* SDK 2.6: ratings. */
    .room_rate = mem_room_rate,
    /* SDK 2.4: search. */
    .message_search = mem_message_search,
    /* SDK 2.8: canned replies. */
    .canned_put = mem_canned_put,
    .canned_delete = mem_canned_delete,
    .canned_list = mem_canned_list,
    /* SDK 2.13: a room with a page of its history. */
    .room_page = mem_room_page,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_STORAGE, .name = "memory", .version = "1.0",
                    .description = "rooms and messages in process memory (not durable)",
                    .init = mem_init, .fini = mem_fini, .ops.storage = &mem_ops)
