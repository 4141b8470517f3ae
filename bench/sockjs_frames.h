/* chat-bench's side of SockJS framing: what a client sends (a JSON array
 * of strings, each a STOMP frame) and what it reads (the array of an 'a'
 * frame). */
#ifndef CHAT_BENCH_SOCKJS_FRAMES_H
#define CHAT_BENCH_SOCKJS_FRAMES_H

#include <stddef.h>

struct evbuffer;

/* Appends s[0..n) to out as one JSON string, quotes included. */
int sj_append_string(struct evbuffer *out, const char *s, size_t n);

/* Decodes the JSON array of strings in p[0..n) ("[...]", as after an 'a')
 * and appends the strings' bytes to out, one after the other. Returns 0,
 * or -1 when it is not such an array. */
int sj_decode_array(const char *p, size_t n, struct evbuffer *out);

#endif
