/* chat-bench's HTTP/1.1 response reader (the desk scenario's REST calls).
 * Pure parsing of bytes in memory: no I/O, no allocation. */
#ifndef CHAT_BENCH_HTTP_RESPONSE_H
#define CHAT_BENCH_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_RESPONSE_MAX_HEAD 16384     /* status line and headers, at most */
#define HTTP_RESPONSE_MAX_BODY (1 << 20) /* a declared or chunked body, at most */

enum http_parse {
    HTTP_MORE = 0,   /* incomplete: read more (or, at EOF, the response was cut) */
    HTTP_DONE = 1,   /* one whole response */
    HTTP_BAD = -1,   /* not an HTTP/1.x response chat-bench understands */
};

struct http_response {
    int status;           /* 100..599 */
    size_t head_len;      /* bytes of status line and headers, through the blank line */
    size_t body_len;      /* bytes of the body written to the caller's buffer */
    size_t consumed;      /* bytes of the input this response took */
};

/* Parses one response from in[0..len). eof: the server closed after these
 * bytes (a body with neither Content-Length nor chunked coding ends there;
 * otherwise EOF before the end is a cut response). The body, de-chunked,
 * is copied to body[0..body_cap); a longer body is HTTP_BAD. body may be
 * NULL when body_cap is 0 (only the status is wanted; a non-empty body is
 * then HTTP_BAD too). On HTTP_DONE *out is filled; otherwise its contents
 * are unspecified. 204 and 304 have no body; an interim 1xx response is
 * HTTP_BAD (chat-bench never sends Expect). */
enum http_parse http_response_parse(const char *in, size_t len, bool eof, char *body, size_t body_cap,
                                    struct http_response *out);

#endif
