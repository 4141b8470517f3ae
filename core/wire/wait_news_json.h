/* The support desk's waits as the instances tell them to each other on
 * the internal broker channel WAITS_CHANNEL (rooms/first_response.h,
 * docs/support-desk.md "Service levels"): one compact JSON object a piece
 * of news, {"i": instance, "t": "w"|"b"|"e"|"h", "r": room, "c": customer,
 * "s": since_ms, "a": answered_ms}. */
#ifndef CHATD_WAIT_NEWS_JSON_H
#define CHATD_WAIT_NEWS_JSON_H

#include <stddef.h>

#include "rooms/first_response.h"

/* The internal channel: not a STOMP destination (no leading '/'). */
#define WAITS_CHANNEL "chatd.waits"

/* n told by `instance`, as a new NUL-terminated string (free() it), or
 * NULL when out of memory. */
char *wait_news_encode(const char *instance, const struct wait_news *n);

/* What another instance sent: 0 with *n (its strings point into storage,
 * valid until the next decode into it) and the sender's id in
 * instance[0..len); -1 when it is no such news (logged by the caller). */
struct wait_news_buf {
    char room[160];
    char customer[160];
};
int wait_news_decode(const void *data, size_t len, char *instance, size_t instance_len, struct wait_news *n,
                     struct wait_news_buf *storage);

#endif
