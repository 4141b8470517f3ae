#include "wire/message_body_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "utf8.h"

/* The charset parameter of a content-type, copied to out ("" if none). */
static void charset_of(const char *ct, char *out, size_t outlen)
{
    out[0] = '\0';
    for (const char *p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncasecmp(q, "charset=", 8) != 0)
            continue;
        q += 8;
        bool quoted = *q == '"';
        q += quoted;
        size_t n = quoted ? strcspn(q, "\"") : strcspn(q, "; \t");
        snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), q);
        return;
    }
}

/* Offset of the first byte that does not start a valid UTF-8 sequence, or
 * len if there is none. */
static size_t utf8_bad_at(const char *s, size_t len)
{
    size_t i = 0, n;
    while (i < len && (n = utf8_seq((const unsigned char *)s + i, len - i)))
        i += n;
    return i;
}

/* The body as a JSON object with a string "text", or NULL with why. */
static json_t *json_with_text(const char *body, size_t len, const char **text, size_t *text_len, char *why,
                              size_t whylen)
{
    json_error_t e;
    json_t *j = json_loadb(body, len, 0, &e);
    if (!j || !json_is_object(j)) {
        if (j)
            snprintf(why, whylen, "The body is not a JSON object (it is valid JSON, but not an object).");
        else if (json_error_code(&e) == json_error_null_character)
            snprintf(why, whylen, "The body is not a JSON object: it contains U+0000 (line %d, column %d).",
                     e.line, e.column);
        else
            snprintf(why, whylen, "The body is not a JSON object: %s (line %d, column %d).", e.text, e.line,
                     e.column);
        json_decref(j);
        return NULL;
    }
    json_t *t = json_object_get(j, "text");
    if (!json_is_string(t)) {
        snprintf(why, whylen, "The JSON object has no string \"text\" member.");
        json_decref(j);
        return NULL;
    }
    *text = json_string_value(t);
    *text_len = json_string_length(t);
    return j;
}

/* Checks the body; with out, also copies its text there (malloc'd). */
static int body_text(const char *content_type, const char *body, size_t len, char **out, size_t *out_len,
                     char *why, size_t whylen)
{
    char charset[64];
    if (content_type) {
        charset_of(content_type, charset, sizeof charset);
        if (*charset && strcasecmp(charset, "utf-8") != 0 && strcasecmp(charset, "utf8") != 0) {
            snprintf(why, whylen, "The content-type names charset %s: message text is UTF-8.", charset);
            return -1;
        }
    }
    size_t bad = utf8_bad_at(body, len);
    if (bad < len) {
        snprintf(why, whylen, "The body is not valid UTF-8 (byte %zu).", bad);
        return -1;
    }
    const char *text = body;
    size_t tl = len;
    json_t *j = NULL;
    const char *nul;
    if (message_body_is_json(content_type, body, len)) {
        if (!(j = json_with_text(body, len, &text, &tl, why, whylen)))
            return -1;
    } else if ((nul = memchr(body, '\0', len))) {
        snprintf(why, whylen, "The text contains U+0000 (byte %zu).", (size_t)(nul - body));
        return -1;
    }
    int rc = 0;
    if (out) {
        if ((*out = malloc(tl + 1))) {
            memcpy(*out, text, tl);
            (*out)[tl] = '\0';
            *out_len = tl;
        } else {
            snprintf(why, whylen, "Out of memory.");
            rc = -1;
        }
    }
    json_decref(j);
    return rc;
}

int message_body_check(const char *content_type, const char *body, size_t len, char *why, size_t whylen)
{
    return body_text(content_type, body, len, NULL, NULL, why, whylen);
}

char *message_body_text(const char *content_type, const char *body, size_t len, size_t *text_len)
{
    char why[160];
    char *text = NULL;
    return body_text(content_type, body, len, &text, text_len, why, sizeof why) == 0 ? text : NULL;
}

const struct message_body_reader message_body_json = {message_body_check, message_body_text};
