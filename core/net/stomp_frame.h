/* STOMP 1.0/1.1/1.2 frames: an incremental parser and an encoder.
 * Pure C, no I/O; used by the gateway (parse) and the core (encode).
 *
 * Parser errors (stomp_parser_error), each fatal for the connection:
 *   "unknown command"            command line not a STOMP command (or > 32 bytes)
 *   "frame too large"            above max_frame_size
 *   "too many headers"           above max_headers
 *   "header too long"            one header line above max_header_length
 *   "header without colon"       a header line with no ':'
 *   "empty header name"          a header line starting with ':'
 *   "undefined escape sequence"  1.1/1.2: backslash not followed by n, c, \\ (or r in 1.2)
 *   "CR inside header"           a CR not followed by LF
 *   "NUL inside header"          a NUL before the blank line that ends the headers
 *   "invalid content-length"     not all decimal digits
 *   "body too large"             content-length or body above max_body_size
 *   "missing NUL after body"     the byte after content-length bytes is not NUL
 *   "out of memory"
 */
#ifndef CHATD_STOMP_FRAME_H
#define CHATD_STOMP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum stomp_command {
    STOMP_CMD_NONE = 0,
    STOMP_CMD_CONNECT, STOMP_CMD_STOMP, STOMP_CMD_SEND, STOMP_CMD_SUBSCRIBE,
    STOMP_CMD_UNSUBSCRIBE, STOMP_CMD_ACK, STOMP_CMD_NACK, STOMP_CMD_BEGIN,
    STOMP_CMD_COMMIT, STOMP_CMD_ABORT, STOMP_CMD_DISCONNECT,
    STOMP_CMD_CONNECTED, STOMP_CMD_MESSAGE, STOMP_CMD_RECEIPT, STOMP_CMD_ERROR,
};
const char *stomp_command_name(enum stomp_command c); /* "?" for NONE */
enum stomp_command stomp_command_parse(const char *s, size_t len);

struct stomp_header {
    const char *name;
    const char *value;
    size_t value_len;
};

/* One heap block: headers, their decoded strings and the body. Names and
 * values are NUL-terminated and unescaped; body[body_len] == '\0' but the
 * body may contain NULs when content-length was given. */
struct stomp_frame {
    enum stomp_command command;
    size_t nheaders;
    struct stomp_header *headers; /* wire order, repeats kept */
    char *body;
    size_t body_len;
    size_t wire_len; /* bytes it took on the wire (parsed frames; else 0) */
};
/* First occurrence wins (STOMP 1.2); NULL when absent. */
const char *stomp_frame_header(const struct stomp_frame *f, const char *name);
void stomp_frame_free(struct stomp_frame *f);

struct stomp_limits {
    size_t max_frame_size;
    size_t max_headers;
    size_t max_header_length;
    size_t max_body_size;
};
void stomp_limits_default(struct stomp_limits *l);

enum stomp_version { STOMP_V1_0 = 10, STOMP_V1_1 = 11, STOMP_V1_2 = 12 };
/* Highest common version of an accept-version value; NULL/empty = 1.0;
 * 0 when nothing in common. */
int stomp_negotiate_version(const char *accept_version);

enum stomp_parse_status {
    STOMP_PARSE_MORE = 0,  /* all input consumed, frame incomplete */
    STOMP_PARSE_FRAME = 1, /* *out is a frame (caller frees); *used bytes consumed */
    STOMP_PARSE_ERROR = -1,
};

struct stomp_parser;
struct stomp_parser *stomp_parser_new(const struct stomp_limits *limits);
void stomp_parser_free(struct stomp_parser *p);
enum stomp_parse_status stomp_parser_feed(struct stomp_parser *p, const char *data, size_t len,
                                          size_t *used, struct stomp_frame **out);
const char *stomp_parser_error(const struct stomp_parser *p);
/* 0 until a CONNECT/STOMP frame was parsed; then the negotiated version
 * (12 when negotiation failed: the core refuses such a session). */
int stomp_parser_version(const struct stomp_parser *p);
uint64_t stomp_parser_heartbeats(const struct stomp_parser *p);
/* Bytes held for the frame in progress: 0 between frames. */
size_t stomp_parser_buffered(const struct stomp_parser *p);

/* Encoder into a growable buffer. Each returns 0, or -1 on allocation
 * failure (the buffer stays valid). */
struct stomp_buf {
    char *data;
    size_t len, cap;
};
void stomp_buf_free(struct stomp_buf *b);
int stomp_buf_append(struct stomp_buf *b, const void *data, size_t len);
int stomp_encode_command(struct stomp_buf *b, enum stomp_command c);
/* Escapes name and value as `version` wants for command c (never for
 * CONNECT, STOMP, CONNECTED; never in 1.0). A header that cannot be written
 * unescaped (a CR or LF in it, a ':' in its name) is left out there. */
int stomp_encode_header(struct stomp_buf *b, int version, enum stomp_command c, const char *name,
                        const char *value);
int stomp_encode_header_n(struct stomp_buf *b, int version, enum stomp_command c, const char *name,
                          const char *value, size_t value_len);
/* Optional "content-length:N\n", then "\n", the body and the NUL. */
int stomp_encode_body(struct stomp_buf *b, const void *body, size_t len, bool with_content_length);

#endif
