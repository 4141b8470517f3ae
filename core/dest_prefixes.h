/* The prefixes clients write destinations with. Each kind of destination
 * has a canonical prefix: /app (requests to the server), /topic
 * (broadcast), /queue (this instance's queues) and /user (a user's own).
 * The router, the broker's channels and the [stomp] allow rules use the
 * canonical names only, so instances configured with different prefixes
 * still share every channel. Clients use the prefixes `[stomp]
 * application_prefix`, `topic_prefix`, `queue_prefix` and `user_prefix`
 * list (several at once, e.g. `/app, /pub` while clients migrate; by
 * default each kind's canonical prefix alone). stomp/destinations.h maps a
 * client's destination to its canonical name and back. */
#ifndef CHATD_DEST_PREFIXES_H
#define CHATD_DEST_PREFIXES_H

#include <stddef.h>

enum dest_prefix_kind { PREFIX_APP = 0, PREFIX_TOPIC = 1, PREFIX_QUEUE = 2, PREFIX_USER = 3 };
#define PREFIX_KINDS 4
#define PREFIX_ALIASES_MAX 8 /* prefixes one kind may have */
#define PREFIX_LEN_MAX 64    /* bytes of one prefix */

struct dest_prefixes {
    size_t n[PREFIX_KINDS]; /* at least one each */
    char alias[PREFIX_KINDS][PREFIX_ALIASES_MAX][PREFIX_LEN_MAX + 1];
};

/* "/app", "/topic", "/queue", "/user". */
const char *dest_prefix_canonical(enum dest_prefix_kind kind);
/* The [stomp] key that lists the kind's prefixes: "application_prefix", ... */
const char *dest_prefix_key(enum dest_prefix_kind kind);

/* Each kind with its canonical prefix alone: the server as it always was. */
void dest_prefixes_default(struct dest_prefixes *p);

/* Add `prefix` to kind's list (emptied first by dest_prefixes_clear). A
 * prefix is '/' and segments of letters, digits, '-', '_', '.' or '~'
 * separated by single '/', without a '/' at the end, at most
 * PREFIX_LEN_MAX bytes; no two prefixes of any kinds are equal, nor is one
 * a leading segment of another (/sub and /sub/x), so that each destination
 * has one reading. 0, or -1 with the reason in why. */
void dest_prefixes_clear(struct dest_prefixes *p, enum dest_prefix_kind kind);
int dest_prefixes_add(struct dest_prefixes *p, enum dest_prefix_kind kind, const char *prefix, char *why,
                      size_t whylen);

/* The kind of the configured prefix that begins `destination`, followed
 * by a '/', and its index in the kind's list; -1 when none does. */
int dest_prefixes_find(const struct dest_prefixes *p, const char *destination, size_t *index);

#endif
