/* A JSON text writer for the hot answers (history pages): appends to one
 * growing buffer, no tree of objects. Strings are escaped per RFC 8259;
 * bytes that are not UTF-8 become U+FFFD, so the text is always valid. */
#ifndef CHATD_JSONW_H
#define CHATD_JSONW_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory: the text is incomplete */
};

void jsonw_raw(struct jsonw *w, const char *s, size_t n);
/* A quoted string; NULL writes null. */
void jsonw_str(struct jsonw *w, const char *s, size_t n);
void jsonw_cstr(struct jsonw *w, const char *s);
void jsonw_i64(struct jsonw *w, int64_t v);
void jsonw_u64(struct jsonw *w, uint64_t v);
/* `"key":` after a comma unless `first`. key is a name of the code's own
 * (plain ASCII, nothing to escape): it is written as it is. */
void jsonw_key(struct jsonw *w, const char *key, bool first);
/* The text, NUL-terminated, now the caller's (NULL if writing failed). */
char *jsonw_take(struct jsonw *w, size_t *len);
void jsonw_free(struct jsonw *w);
#endif
