/* chat-bench's reading of the STOMP frames a server sends: the command and
 * the few headers the scenarios act on, and where each whole frame ends in
 * the connection's input buffer. Header escapes are not decoded: no header
 * the scenarios read carries any. */
#ifndef CHAT_BENCH_STOMP_FRAMES_H
#define CHAT_BENCH_STOMP_FRAMES_H

#include <stddef.h>

struct evbuffer;

/* A frame's head longer than this is malformed. */
#define SF_MAX_HEAD (64 * 1024)

/* What the scenarios read of a frame: each header as the first of its name
 * said it, cut to the field's size ("" when absent). */
struct sframe {
    char command[16];
    long content_length; /* -1 when absent */
    char event[32], room[96], sender[128], message[160], receipt[48];
    double retry_after; /* seconds; 0 when absent */
};

/* Command and headers of d[0..len): the head's length (through the blank
 * line), 0 while incomplete, -1 when malformed (a header without a colon,
 * a content-length that is no number in 0..max_body, a head longer than
 * SF_MAX_HEAD). */
long sframe_head(const char *d, size_t len, long max_body, struct sframe *f);

/* The next whole frame at the front of b, after draining the end-of-lines
 * of heart-beats: 1 with *f, its head's length *head and its body's *body
 * (the body is at b[head], its NUL at b[head + body]); 0 when b holds no
 * whole frame yet; -1 when it is malformed or longer than max_body. The
 * caller drains head + body + 1 once done with it. */
int sframe_next(struct evbuffer *b, long max_body, struct sframe *f, size_t *head, size_t *body);

#endif
