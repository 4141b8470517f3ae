/* Fuzz chat-bench's HTTP response reader (bench/http_response.c), which
 * reads the answers to the desk scenario's REST calls: whatever the server
 * sends, it never reads or writes out of bounds, a response it accepts lies
 * within the input and its body within the buffer, and the bytes before the
 * end of an accepted response are only ever "incomplete", never a different
 * answer, so a response read in pieces reads as one read whole. The first
 * input byte picks the body buffer's size and whether the peer closed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool eof = data[0] & 1;
    size_t cap = (data[0] >> 1) & 1 ? 64 : 65536;
    data++, size--;
    char *in = malloc(size ? size : 1); /* exactly size bytes, so that an overread is seen */
    char *body = malloc(cap);
    char *body2 = malloc(cap);
    if (size)
        memcpy(in, data, size);
    struct http_response r, r2;
    enum http_parse st = http_response_parse(in, size, eof, body, cap, &r);
    if (st == HTTP_DONE) {
        if (r.consumed > size || r.body_len > cap || r.head_len > r.consumed || r.status < 200 || r.status > 599)
            abort();
        if (!eof) {
            /* Every proper prefix is incomplete; the response itself reads the same alone. */
            size_t step = r.consumed / 64 + 1;
            for (size_t n = 0; n < r.consumed; n += step)
                if (http_response_parse(in, n, false, body2, cap, &r2) != HTTP_MORE)
                    abort();
            if (http_response_parse(in, r.consumed, false, body2, cap, &r2) != HTTP_DONE || r2.status != r.status ||
                r2.body_len != r.body_len || r2.consumed != r.consumed || memcmp(body, body2, r.body_len) != 0)
                abort();
        }
    }
    (void)http_response_parse(in, size, eof, NULL, 0, &r);
    free(body2);
    free(body);
    free(in);
    return 0;
}
