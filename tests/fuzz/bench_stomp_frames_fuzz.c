/* Fuzz chat-bench's STOMP frame reader (bench/stomp_frames.c), which reads
 * what a server under load sends the scenarios: whatever the bytes, it
 * never reads or writes out of bounds, a frame it takes lies within the
 * input with its NUL where it says, its header fields stay terminated, and
 * the bytes before the end of a frame taken are only ever "incomplete", so
 * a frame read in pieces reads as one read whole. The first input byte
 * picks the body limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "stomp_frames.h"

static void terminated(const char *s, size_t size)
{
    if (!memchr(s, '\0', size))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    long max_body = data[0] & 1 ? 16 : 1024 * 1024;
    data++, size--;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, data, size);
    struct sframe f;
    size_t head = 0, body = 0;
    int got = sframe_next(b, max_body, &f, &head, &body);
    size_t drained = size - evbuffer_get_length(b); /* heart-beats */
    if (got == 1) {
        if (drained + head + body + 1 > size || body > (size_t)max_body)
            abort();
        unsigned char nul;
        struct evbuffer_ptr at;
        evbuffer_ptr_set(b, &at, head + body, EVBUFFER_PTR_SET);
        evbuffer_copyout_from(b, &at, &nul, 1);
        if (nul != 0)
            abort();
        terminated(f.command, sizeof f.command);
        terminated(f.event, sizeof f.event);
        terminated(f.room, sizeof f.room);
        terminated(f.sender, sizeof f.sender);
        terminated(f.message, sizeof f.message);
        terminated(f.receipt, sizeof f.receipt);
        /* Every shorter prefix of the frame is incomplete. */
        size_t whole = drained + head + body + 1;
        for (size_t cut = drained + 1; cut < whole; cut += 1 + cut / 8) {
            struct evbuffer *p = evbuffer_new();
            evbuffer_add(p, data, cut);
            struct sframe g;
            size_t h2, b2;
            if (sframe_next(p, max_body, &g, &h2, &b2) != 0)
                abort();
            evbuffer_free(p);
        }
    } else if (got != 0 && got != -1) {
        abort();
    }
    evbuffer_free(b);
    return 0;
}
