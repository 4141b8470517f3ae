/* The SockJS protocol (what sockjs-client 1.x speaks) without sockets: the
 * URLs under an endpoint path, the frames the server sends ('o', 'h',
 * 'a[...]', 'c[code,"reason"]') and an incremental reader of what clients
 * send (a JSON array of strings). The gateway's sockets use it from
 * net/sockjs_http.c and net/gateway.c. */
#ifndef CHATD_SOCKJS_H
#define CHATD_SOCKJS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/stomp_frame.h"

/* Session and server ids in URLs: 1 to this many of [A-Za-z0-9_-]. */
#define SOCKJS_ID_MAX 64

enum sockjs_route {
    SOCKJS_NOT_FOUND = 0,
    SOCKJS_GREETING,      /* GET {path} or {path}/ */
    SOCKJS_INFO,          /* {path}/info */
    SOCKJS_WEBSOCKET,     /* {path}/{server}/{session}/websocket */
    SOCKJS_XHR,           /* .../xhr: polling receive */
    SOCKJS_XHR_SEND,      /* .../xhr_send */
    SOCKJS_XHR_STREAMING, /* .../xhr_streaming */
    SOCKJS_EVENTSOURCE,   /* .../eventsource */
};

/* Which request `rest` (the URL path after the endpoint path, without the
 * query) is; the session id goes to session (SOCKJS_ID_MAX + 1 bytes) for
 * the session routes. Transports SockJS has but chatd does not serve
 * (jsonp, htmlfile, iframe) are SOCKJS_NOT_FOUND. */
enum sockjs_route sockjs_route(const char *rest, char *session);

/* Whether a route receives (holds the session's outbound side). */
bool sockjs_route_receives(enum sockjs_route r);

/* Close codes and reasons of the protocol. */
#define SOCKJS_CLOSE_GO_AWAY 3000           /* "Go away!": the server ended the session */
#define SOCKJS_CLOSE_ANOTHER 2010           /* "Another connection still open" */
#define SOCKJS_CLOSE_INTERRUPTED 1002       /* "Connection interrupted" */

/* Append `c[code,"reason"]` (reason: ASCII without quotes). */
int sockjs_close_frame(struct stomp_buf *b, int code, const char *reason);

/* Append s (n bytes) as the inside of a JSON string: '"', '\\', control
 * characters and the characters browsers mangle (U+2028, U+2029, U+FFFE,
 * U+FFFF...) escaped as \uXXXX; bytes that are not UTF-8 become U+FFFD, as
 * a JSON string cannot carry them. */
int sockjs_json_escape(struct stomp_buf *b, const char *s, size_t n);

/* The /info answer (JSON). */
int sockjs_info_json(struct stomp_buf *b, bool websocket, uint32_t entropy);

/* Incremental reader of one JSON array of strings: the strings' contents,
 * unescaped and concatenated (each SockJS message carries STOMP bytes, so
 * message bounds do not matter), come out as it is fed. */
struct sockjs_reader {
    int state;
    int ndigits;
    uint32_t cp;   /* \u escape being read */
    uint32_t high; /* a high surrogate waiting for its low half */
};

#define SOCKJS_READER_SLACK 8

void sockjs_reader_init(struct sockjs_reader *r);
/* Feed len bytes; the unescaped bytes go to out, which has room for
 * len + SOCKJS_READER_SLACK (an escape split across feeds comes out with
 * the feed that completes it). Returns how many were written, or -1 when the input is not a
 * JSON array of strings (the reader is then spent). */
long sockjs_reader_feed(struct sockjs_reader *r, const char *in, size_t len, char *out);
/* The array is complete (its ']' was read). Whitespace may follow. */
bool sockjs_reader_done(const struct sockjs_reader *r);
/* Nothing but whitespace has been read yet. */
bool sockjs_reader_empty(const struct sockjs_reader *r);

#endif
