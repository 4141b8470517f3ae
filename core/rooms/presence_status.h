/* A user's presence as clients see it (docs/protocol.md, "Presence"):
 * online (a session connected on any instance), away (their own choice,
 * while connected) or offline, with the time their last session ended.
 *
 * The book keeps, per user, the status last told and the time last seen.
 * A user whose last session ended stays as told for [presence]
 * offline_grace: a reconnect within it (on any instance) changes nothing
 * and tells nobody. Every instance keeps the same book from the same
 * changes (its own and those the broker brings), so any of them answers
 * a status; only the instance that caused a change tells it, so one
 * change is told once. Pure: no I/O, no clock of its own. */
#ifndef CHATD_PRESENCE_STATUS_H
#define CHATD_PRESENCE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum user_status { USER_OFFLINE = 0, USER_AWAY, USER_ONLINE };

/* "offline", "away", "online". */
const char *user_status_name(enum user_status s);

struct status_book;

struct status_book *status_book_new(void);
void status_book_free(struct status_book *b);

/* At most about max users kept ([presence] last_seen_max; 0: no limit):
 * once the book holds a tenth more, the offline users seen longest ago
 * are forgotten (their last_seen reads 0 again) down to max. Users
 * online, away or in their grace are always kept. */
void status_book_set_limit(struct status_book *b, size_t max);
/* How many users the book holds now. */
size_t status_book_count(const struct status_book *b);

/* The status as the cluster has it now (live) may have changed; local:
 * this instance caused it (its session came or went, its user chose).
 * Online or away: told at once when it differs from what was told.
 * Offline: after grace_ms (now, with 0), unless the user is back by then.
 * True when this instance tells *tell now. */
bool status_book_change(struct status_book *b, const char *user, enum user_status live, bool local, int64_t now_ms,
                        long long grace_ms, enum user_status *tell);

/* Graces that ended by now_ms: each user still offline (live says) is
 * offline as told from now; tell(ctx, user, last_seen_ms) for those whose
 * grace this instance started. */
void status_book_expire(struct status_book *b, int64_t now_ms, enum user_status (*live)(void *ctx, const char *user),
                        void (*tell)(void *ctx, const char *user, int64_t last_seen_ms), void *ctx);
/* The earliest end of a grace under way, or -1 when none is. */
int64_t status_book_next_deadline(const struct status_book *b);
/* Whether the user's offline grace is under way. */
bool status_book_in_grace(const struct status_book *b, const char *user);

/* The status last told (offline for a user never seen). */
enum user_status status_book_told(const struct status_book *b, const char *user);

/* When the user's last session ended (wall ms), as heard from any
 * instance: the latest time is kept. 0: not since this instance started. */
void status_book_seen(struct status_book *b, const char *user, int64_t wall_ms);
int64_t status_book_last_seen(const struct status_book *b, const char *user);
/* fn once per user with a last-seen time (the snapshot a newcomer gets). */
void status_book_each_seen(const struct status_book *b, void (*fn)(void *ctx, const char *user, int64_t wall_ms),
                           void *ctx);

#endif
