#include "rooms/presence_status.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct entry {
    enum user_status told;
    int64_t deadline;  /* end of the offline grace; 0 = none under way */
    bool tells_offline; /* this instance started the grace: it tells */
    int64_t last_seen;
};

struct status_book {
    struct strmap users;   /* user -> struct entry (owned) */
    struct strmap pending; /* user -> the same entry, while its grace runs */
    size_t limit;          /* 0: no limit */
};

const char *user_status_name(enum user_status s)
{
    switch (s) {
    case USER_ONLINE: return "online";
    case USER_AWAY: return "away";
    default: return "offline";
    }
}

struct status_book *status_book_new(void)
{
    struct status_book *b = calloc(1, sizeof *b);
    if (b) {
        strmap_init(&b->users);
        strmap_init(&b->pending);
    }
    return b;
}

void status_book_free(struct status_book *b)
{
    if (!b)
        return;
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&b->users, &pos, &key, &value))
        free(value);
    strmap_free(&b->users);
    strmap_free(&b->pending);
    free(b);
}

void status_book_set_limit(struct status_book *b, size_t max)
{
    b->limit = max;
}

size_t status_book_count(const struct status_book *b)
{
    return b->users.count;
}

struct forgettable {
    const char *user;
    int64_t last_seen;
};

static int by_last_seen(const void *a, const void *b)
{
    const struct forgettable *x = a, *y = b;
    return (x->last_seen > y->last_seen) - (x->last_seen < y->last_seen);
}

/* Forget the offline users seen longest ago, down to the limit. Run once
 * the book is a tenth past it, so the sort is paid once per limit/10 new
 * users. */
static void forget_oldest(struct status_book *b)
{
    if (!b->limit || b->users.count <= b->limit + b->limit / 10)
        return;
    struct forgettable *all = malloc(b->users.count * sizeof *all);
    if (!all)
        return;
    size_t n = 0, pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&b->users, &pos, &key, &value)) {
        const struct entry *e = value;
        if (e->told == USER_OFFLINE && !e->deadline)
            all[n++] = (struct forgettable){key, e->last_seen};
    }
    qsort(all, n, sizeof *all, by_last_seen);
    size_t excess = b->users.count - b->limit;
    if (excess > n)
        excess = n;
    char **gone = malloc((excess ? excess : 1) * sizeof *gone);
    size_t k = 0;
    for (size_t i = 0; gone && i < excess; i++)
        if ((gone[k] = strdup(all[i].user)))
            k++;
    free(all); /* its keys belong to the map: copied before deleting */
    for (size_t i = 0; i < k; i++) {
        free(strmap_del(&b->users, gone[i]));
        free(gone[i]);
    }
    free(gone);
}

static struct entry *entry_of(struct status_book *b, const char *user)
{
    struct entry *e = strmap_get(&b->users, user);
    if (e)
        return e;
    if (!(e = calloc(1, sizeof *e)))
        return NULL;
    if (strmap_put(&b->users, user, e) < 0) {
        free(e);
        return NULL;
    }
    return e;
}

/* A user just added may push the book past its limit; the user at hand
 * is newest, so never the one forgotten. */
static struct entry *entry_kept(struct status_book *b, const char *user)
{
    struct entry *e = entry_of(b, user);
    if (e && b->limit && b->users.count > b->limit + b->limit / 10) {
        enum user_status told = e->told;
        e->told = USER_ONLINE; /* shields it from the sweep */
        forget_oldest(b);
        e->told = told;
    }
    return e;
}

bool status_book_change(struct status_book *b, const char *user, enum user_status live, bool local, int64_t now_ms,
                        long long grace_ms, enum user_status *tell)
{
    struct entry *e = live == USER_OFFLINE ? strmap_get(&b->users, user) : entry_kept(b, user);
    if (!e)
        return false; /* offline and never seen: nothing to tell */
    if (live != USER_OFFLINE) {
        if (e->deadline) {
            strmap_del(&b->pending, user);
            e->deadline = 0;
        }
        e->tells_offline = false;
        if (e->told == live)
            return false;
        e->told = live;
        *tell = live;
        return local;
    }
    if (e->told == USER_OFFLINE)
        return false;
    if (grace_ms <= 0) {
        if (e->deadline)
            strmap_del(&b->pending, user);
        e->deadline = 0;
        e->told = USER_OFFLINE;
        *tell = USER_OFFLINE;
        return local;
    }
    /* Losing the user's last session elsewhere within the grace does not
     * restart it; whichever instance lost one tells. */
    if (!e->deadline) {
        if (strmap_put(&b->pending, user, e) < 0)
            return false;
        e->deadline = now_ms + grace_ms;
        if (e->deadline == 0)
            e->deadline = 1;
        e->tells_offline = false;
    }
    if (local)
        e->tells_offline = true;
    return false;
}

void status_book_expire(struct status_book *b, int64_t now_ms, enum user_status (*live)(void *ctx, const char *user),
                        void (*tell)(void *ctx, const char *user, int64_t last_seen_ms), void *ctx)
{
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&b->pending, &pos, &key, &value)) {
        struct entry *e = value;
        if (e->deadline > now_ms)
            continue;
        char *user = strdup(key);
        strmap_del(&b->pending, key);
        pos = 0; /* the table may have moved */
        e->deadline = 0;
        if (!user)
            continue;
        if (live(ctx, user) == USER_OFFLINE) {
            e->told = USER_OFFLINE;
            if (e->tells_offline)
                tell(ctx, user, e->last_seen);
        }
        e->tells_offline = false;
        free(user);
    }
}

int64_t status_book_next_deadline(const struct status_book *b)
{
    int64_t next = -1;
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&b->pending, &pos, &key, &value)) {
        const struct entry *e = value;
        if (next < 0 || e->deadline < next)
            next = e->deadline;
    }
    return next;
}

bool status_book_in_grace(const struct status_book *b, const char *user)
{
    return strmap_get(&b->pending, user) != NULL;
}

enum user_status status_book_told(const struct status_book *b, const char *user)
{
    const struct entry *e = strmap_get(&b->users, user);
    return e ? e->told : USER_OFFLINE;
}

void status_book_seen(struct status_book *b, const char *user, int64_t wall_ms)
{
    struct entry *e = entry_kept(b, user);
    if (e && wall_ms > e->last_seen)
        e->last_seen = wall_ms;
}

int64_t status_book_last_seen(const struct status_book *b, const char *user)
{
    const struct entry *e = strmap_get(&b->users, user);
    return e ? e->last_seen : 0;
}

void status_book_each_seen(const struct status_book *b, void (*fn)(void *ctx, const char *user, int64_t wall_ms),
                           void *ctx)
{
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&b->users, &pos, &key, &value)) {
        const struct entry *e = value;
        if (e->last_seen)
            fn(ctx, key, e->last_seen);
    }
}
