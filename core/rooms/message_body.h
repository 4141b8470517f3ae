/* What a room message's body may be, and its text (docs/protocol.md,
 * "Message bodies"). A body is JSON when its content-type is
 * application/json, or when it has none and its first byte other than
 * JSON whitespace is '{'; any other body is text.
 * - Every body is valid UTF-8; a content-type's charset, if any, is UTF-8.
 * - Text contains no U+0000; it is the message's text.
 * - JSON is an object with a string member "text": the message's text.
 * The domain reads no JSON: the composition root gives it the reader
 * (core/wire/message_body_json.c) as struct rooms' `bodies`. */
#ifndef CHATD_MESSAGE_BODY_H
#define CHATD_MESSAGE_BODY_H
#include <stdbool.h>
#include <stddef.h>

struct message_body_reader {
    /* 0 when body (len bytes) with this content-type (NULL: none) may be
     * stored; otherwise -1 and one sentence naming the problem in why. */
    int (*check)(const char *content_type, const char *body, size_t len, char *why, size_t whylen);
    /* The text of a body that check accepts: NUL-terminated, malloc'd (the
     * caller frees it), its length in *text_len. NULL when out of memory or
     * when the body is not acceptable. */
    char *(*text)(const char *content_type, const char *body, size_t len, size_t *text_len);
};

/* Whether the rule above reads the body as JSON. */
bool message_body_is_json(const char *content_type, const char *body, size_t len);

/* The content-type a message carries on every path: the SEND's own when
 * it named one (not empty), else the one the body rule above reads it as:
 * "application/json" or "text/plain;charset=utf-8". A static string or
 * content_type itself. */
const char *message_content_type(const char *content_type, const char *body, size_t len);

#endif
