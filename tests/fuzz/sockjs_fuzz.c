/* Fuzz the SockJS reader (a client's JSON array of strings) and the URL
 * router. The first 4 bytes seed the chunk sizes, so the fuzzer explores
 * splits as well as contents: a split never changes what comes out, the
 * output stays within its bound, and what the reader accepts survives a
 * round trip through the server's escaping when it is UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/sockjs.h"
#include "utf8.h"

/* Read data whole; the bytes out (malloc'd), or NULL if malformed. */
static char *read_whole(const uint8_t *data, size_t size, size_t *n, bool *done)
{
    struct sockjs_reader r;
    sockjs_reader_init(&r);
    char *out = malloc(size + SOCKJS_READER_SLACK);
    long got = sockjs_reader_feed(&r, (const char *)data, size, out);
    if (got < 0) {
        free(out);
        return NULL;
    }
    if ((size_t)got > size)
        abort(); /* unescaping never grows the input as a whole */
    *n = (size_t)got;
    *done = sockjs_reader_done(&r);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint32_t seed;
    memcpy(&seed, data, 4);
    data += 4;
    size -= 4;

    char path[256], sid[SOCKJS_ID_MAX + 1];
    size_t pl = size < sizeof path - 1 ? size : sizeof path - 1;
    memcpy(path, data, pl);
    path[pl] = '\0';
    enum sockjs_route route = sockjs_route(path, sid);
    if (route >= SOCKJS_WEBSOCKET && (strlen(sid) == 0 || strlen(sid) > SOCKJS_ID_MAX))
        abort();

    size_t whole_len = 0;
    bool whole_done = false;
    char *whole = read_whole(data, size, &whole_len, &whole_done);

    struct sockjs_reader r;
    sockjs_reader_init(&r);
    char *out = malloc(size + SOCKJS_READER_SLACK), *chunk_out = malloc(64 + SOCKJS_READER_SLACK);
    size_t off = 0, o = 0;
    bool failed = false;
    while (off < size) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % 64;
        if (chunk > size - off)
            chunk = size - off;
        long got = sockjs_reader_feed(&r, (const char *)data + off, chunk, chunk_out);
        if (got < 0) {
            failed = true;
            break;
        }
        if ((size_t)got > chunk + SOCKJS_READER_SLACK || o + (size_t)got > size)
            abort();
        memcpy(out + o, chunk_out, (size_t)got);
        o += (size_t)got;
        off += chunk;
    }
    /* Splitting changes nothing: same verdict, same bytes. */
    if (failed != !whole)
        abort();
    if (whole && (o != whole_len || memcmp(out, whole, o) || sockjs_reader_done(&r) != whole_done))
        abort();

    if (whole && whole_done && utf8_valid((const unsigned char *)whole, whole_len)) {
        struct stomp_buf b = {0};
        if (stomp_buf_append(&b, "[\"", 2) == 0 && sockjs_json_escape(&b, whole, whole_len) == 0 &&
            stomp_buf_append(&b, "\"]", 2) == 0) {
            size_t again_len;
            bool again_done;
            char *again = read_whole((const uint8_t *)b.data, b.len, &again_len, &again_done);
            if (!again || !again_done || again_len != whole_len || memcmp(again, whole, whole_len))
                abort();
            free(again);
        }
        stomp_buf_free(&b);
    }
    free(whole);
    free(out);
    free(chunk_out);
    return 0;
}
