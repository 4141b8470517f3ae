/* An HTTP Range request header (RFC 9110, 14.2) for a file of `length`
 * bytes: one range of bytes, "bytes=FIRST-LAST", "bytes=FIRST-" or
 * "bytes=-SUFFIX". Several ranges, another unit or a malformed header are
 * ignored (the whole file is answered, as the RFC allows). Pure:
 * unit-tested and fuzzed. */
#ifndef CHATD_HTTP_RANGE_H
#define CHATD_HTTP_RANGE_H

#include <stdint.h>

enum http_range {
    HTTP_RANGE_NONE,          /* no header, or one ignored: 200, everything */
    HTTP_RANGE_OK,            /* 206: bytes *first..*last, both included */
    HTTP_RANGE_UNSATISFIABLE, /* 416: it starts beyond the end (or asks none) */
};

enum http_range http_range_parse(const char *header, uint64_t length, uint64_t *first, uint64_t *last);

#endif
