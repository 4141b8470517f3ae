/* The body rule of rooms/message_body.h, read with jansson: the reader
 * the composition root gives the rooms domain, and what the adapters that
 * render a body's text call. */
#ifndef CHATD_MESSAGE_BODY_JSON_H
#define CHATD_MESSAGE_BODY_JSON_H
#include <stddef.h>

#include "rooms/message_body.h"

int message_body_check(const char *content_type, const char *body, size_t len, char *why, size_t whylen);
char *message_body_text(const char *content_type, const char *body, size_t len, size_t *text_len);

/* Both, as the domain takes them. */
extern const struct message_body_reader message_body_json;

#endif
