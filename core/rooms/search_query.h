/* A search's request as text: what a query may be, the forms the storage
 * looks for, the rule a message's text has to meet, and the cursor of a
 * page. Pure functions: no I/O, no storage; unit-tested and fuzzed. */
#ifndef CHATD_SEARCH_QUERY_H
#define CHATD_SEARCH_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A query is 2 to SEARCH_QUERY_MAX_CHARS characters (code points) once its
 * leading and trailing white space is trimmed. */
#define SEARCH_QUERY_MAX_CHARS 100
/* Bytes of a query as the caller may send it (URL-decoded, untrimmed). */
#define SEARCH_QUERY_MAX_BYTES 1024
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

#endif
