#include "rooms/message_body.h"

#include <string.h>
#include <strings.h>

/* Whether the media type of a content-type (parameters and blanks left
 * out) is type, compared without case. */
static bool media_type_is(const char *ct, const char *type)
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == strlen(type) && strncasecmp(ct, type, n) == 0;
}

bool message_body_is_json(const char *ct, const char *body, size_t len)
{
    if (ct && *ct)
        return media_type_is(ct, "application/json");
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    return i < len && body[i] == '{';
}

const char *message_content_type(const char *content_type, const char *body, size_t len)
{
    if (content_type && *content_type)
        return content_type;
    return message_body_is_json(NULL, body, len) ? "application/json" : "text/plain;charset=utf-8";
}
