/* Fuzz the STOMP parser. The first 4 bytes seed the chunk sizes, so the
 * fuzzer explores splits as well as contents. Every parsed frame is encoded
 * again (1.2, content-length) and must parse back to the same frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/stomp_frame.h"

static void check_round_trip(const struct stomp_frame *f)
{
    if (f->command == STOMP_CMD_CONNECT || f->command == STOMP_CMD_STOMP || f->command == STOMP_CMD_CONNECTED)
        return; /* never escaped: not every value survives a round trip */
    struct stomp_buf b = {0};
    int rc = stomp_encode_command(&b, f->command);
    for (size_t i = 0; i < f->nheaders; i++)
        if (strcmp(f->headers[i].name, "content-length") != 0)
            rc |= stomp_encode_header_n(&b, STOMP_V1_2, f->command, f->headers[i].name, f->headers[i].value,
                                        f->headers[i].value_len);
    rc |= stomp_encode_body(&b, f->body, f->body_len, true);
    if (rc) {
        stomp_buf_free(&b);
        return;
    }
    struct stomp_limits lim;
    stomp_limits_default(&lim);
    lim.max_frame_size = lim.max_body_size = 1u << 24;
    lim.max_headers = 1u << 16;
    lim.max_header_length = 1u << 24;
    struct stomp_parser *p = stomp_parser_new(&lim);
    size_t used;
    struct stomp_frame *g = NULL;
    if (stomp_parser_feed(p, b.data, b.len, &used, &g) != STOMP_PARSE_FRAME)
        abort();
    if (g->command != f->command || g->body_len != f->body_len || memcmp(g->body, f->body, f->body_len))
        abort();
    for (size_t i = 0, j = 0; i < f->nheaders; i++) {
        if (strcmp(f->headers[i].name, "content-length") == 0)
            continue;
        if (strcmp(g->headers[j].name, f->headers[i].name) || strcmp(g->headers[j].value, f->headers[i].value))
            abort();
        j++;
    }
    stomp_frame_free(g);
    stomp_parser_free(p);
    stomp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint32_t seed;
    memcpy(&seed, data, 4);
    data += 4;
    size -= 4;
    struct stomp_limits lim;
    stomp_limits_default(&lim);
    lim.max_frame_size = 4096;
    lim.max_body_size = 2048;
    lim.max_header_length = 512;
    lim.max_headers = 16;
    struct stomp_parser *p = stomp_parser_new(&lim);
    size_t off = 0;
    while (off < size) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % 64;
        if (chunk > size - off)
            chunk = size - off;
        size_t pos = 0;
        while (pos < chunk) {
            size_t used = 0;
            struct stomp_frame *f = NULL;
            enum stomp_parse_status st = stomp_parser_feed(p, (const char *)data + off + pos, chunk - pos, &used, &f);
            if (st == STOMP_PARSE_ERROR)
                goto done;
            if (used > chunk - pos)
                abort();
            pos += used;
            if (st == STOMP_PARSE_FRAME) {
                check_round_trip(f);
                stomp_frame_free(f);
            } else {
                break;
            }
        }
        off += chunk;
    }
done:
    stomp_parser_free(p);
    return 0;
}
