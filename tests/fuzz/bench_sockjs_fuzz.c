/* Fuzz chat-bench's SockJS framing (bench/sockjs_frames.c): decoding a
 * server's message array never reads out of bounds whatever comes, and any
 * bytes survive the client's escaping and the decoding unchanged. */
#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockjs_frames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evbuffer *out = evbuffer_new();
    (void)sj_decode_array((const char *)data, size, out);
    evbuffer_free(out);

    struct evbuffer *arr = evbuffer_new();
    evbuffer_add(arr, "[", 1);
    if (sj_append_string(arr, (const char *)data, size) < 0)
        abort();
    evbuffer_add(arr, "]", 1);
    size_t n = evbuffer_get_length(arr);
    const char *p = (const char *)evbuffer_pullup(arr, (ev_ssize_t)n);
    char *copy = malloc(n); /* exactly n bytes, so that an overread is seen */
    memcpy(copy, p, n);
    struct evbuffer *back = evbuffer_new();
    if (sj_decode_array(copy, n, back) != 0 || evbuffer_get_length(back) != size ||
        (size && memcmp(evbuffer_pullup(back, (ev_ssize_t)size), data, size) != 0))
        abort();
    free(copy);
    evbuffer_free(back);
    evbuffer_free(arr);
    return 0;
}
