/* Search of messages by a part of their text: in one room, or across every
 * room the caller may read (GET /api/search, GET /api/rooms/{room}/search).
 * Who may read which room is room_can_see's rule; the storage plugin finds
 * candidates (SDK 2.4 message_search) and the text rule below has the last
 * word, so every plugin answers alike. */
#ifndef CHATD_SEARCH_H
#define CHATD_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

#define SEARCH_PAGE_DEFAULT 20
#define SEARCH_PAGE_MAX 100
/* A query is 2 to SEARCH_QUERY_MAX_CHARS characters (code points) once its
 * leading and trailing white space is trimmed. */
#define SEARCH_QUERY_MAX_CHARS 100
/* Bytes of a query as the caller may send it (URL-decoded, untrimmed). */
#define SEARCH_QUERY_MAX_BYTES 1024
/* The rooms one search across a caller's rooms looks in at most: the
 * rooms they belong to (oldest first), then, for agents, the unassigned
 * queue. */
#define SEARCH_ROOMS_MAX 1000
/* Bytes of a cursor: "TS.SEQ.ROOM". */
#define SEARCH_CURSOR_MAX 96

/* The query q trimmed of white space into out (len bytes, terminated), or
 * NULL with one sentence in why: not UTF-8, a control character, fewer
 * than CHATD_SEARCH_MIN_CHARS or more than SEARCH_QUERY_MAX_CHARS
 * characters. */
const char *search_query_check(const char *q, char *out, size_t len, char *why, size_t whylen);

/* query (valid UTF-8) as a JSON string holds it when its encoder writes
 * every character beyond ASCII as \uXXXX (a surrogate pair above U+FFFF)
 * and escapes " and \: into out (len bytes, terminated); NULL when that is
 * query itself or out is too short. Stored JSON bodies are often written
 * so (Python's json.dumps): the storage looks for this form too. */
const char *search_query_json(const char *query, char *out, size_t len);

/* Whether text (len bytes) holds query, letters A-Z matching a-z and
 * every other byte only itself. */
bool search_text_holds(const char *text, size_t len, const char *query);

/* A page's position: where the next page starts. */
struct search_cursor {
    int64_t ts_ms;
    uint64_t seq;
    char room[64];
};
/* "TS.SEQ.ROOM" into c; false for anything else. */
bool search_cursor_parse(const char *s, struct search_cursor *c);
void search_cursor_format(const struct search_cursor *c, char out[SEARCH_CURSOR_MAX]);

struct search_request {
    const char *query;   /* as the caller sent it */
    const char *room_id; /* one room; NULL: every room the caller may read */
    const char *user;
    uint32_t roles;
    const char *cursor;  /* NULL: from the newest */
    bool limit_set, limit_malformed;
    uint64_t limit;
};

/* msgs[0..n), newest first; next: the cursor of the page after it, NULL
 * when there is none. A page may hold fewer than its limit and still have
 * a next one (candidates of the storage that the text rule refused). */
typedef void (*search_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                                 const char *next);
/* BAD_REQUEST for a query, cursor or limit that is none; NOT_SUPPORTED when
 * the storage plugin does not search; for one room NOT_FOUND when the
 * caller may not see it. */
void search_messages(struct rooms *r, const struct search_request *req, search_answer_cb cb, void *ctx);

#endif
