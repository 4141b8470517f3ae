#include "net/sockjs.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* One segment of [A-Za-z0-9_-], 1..SOCKJS_ID_MAX long, ending at '/' or
 * the end; returns its length or 0. */
static size_t id_segment(const char *s)
{
    size_t n = 0;
    while (s[n] && s[n] != '/') {
        char ch = s[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-'))
            return 0;
        if (++n > SOCKJS_ID_MAX)
            return 0;
    }
    return n;
}

enum sockjs_route sockjs_route(const char *rest, char *session)
{
    if (rest[0] == '\0' || strcmp(rest, "/") == 0)
        return SOCKJS_GREETING;
    if (strcmp(rest, "/info") == 0)
        return SOCKJS_INFO;
    if (rest[0] != '/')
        return SOCKJS_NOT_FOUND;
    const char *server = rest + 1;
    size_t sl = id_segment(server);
    if (!sl || server[sl] != '/')
        return SOCKJS_NOT_FOUND;
    const char *sess = server + sl + 1;
    size_t il = id_segment(sess);
    if (!il || sess[il] != '/')
        return SOCKJS_NOT_FOUND;
    static const struct {
        const char *name;
        enum sockjs_route route;
    } transports[] = {{"websocket", SOCKJS_WEBSOCKET},
                      {"xhr", SOCKJS_XHR},
                      {"xhr_send", SOCKJS_XHR_SEND},
                      {"xhr_streaming", SOCKJS_XHR_STREAMING},
                      {"eventsource", SOCKJS_EVENTSOURCE}};
    const char *t = sess + il + 1;
    for (size_t i = 0; i < sizeof transports / sizeof *transports; i++) {
        if (strcmp(t, transports[i].name) == 0) {
            memcpy(session, sess, il);
            session[il] = '\0';
            return transports[i].route;
        }
    }
    return SOCKJS_NOT_FOUND;
}

bool sockjs_route_receives(enum sockjs_route r)
{
    return r == SOCKJS_XHR || r == SOCKJS_XHR_STREAMING || r == SOCKJS_EVENTSOURCE;
}

int sockjs_close_frame(struct stomp_buf *b, int code, const char *reason)
{
    char f[160];
    int n = snprintf(f, sizeof f, "c[%d,\"%s\"]", code, reason);
    return stomp_buf_append(b, f, (size_t)n < sizeof f ? (size_t)n : sizeof f - 1);
}

static int append_u(struct stomp_buf *b, uint32_t cp)
{
    char e[8];
    snprintf(e, sizeof e, "\\u%04x", (unsigned)cp & 0xFFFF);
    return stomp_buf_append(b, e, 6);
}

/* Code points sockjs servers escape because some browsers drop or mangle
 * them in a response: controls, U+200C-U+200F, U+2028-U+202F,
 * U+2060-U+206F, U+FFF0-U+FFFF. */
static bool needs_escape(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x200C && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
           (cp >= 0x2060 && cp <= 0x206F) || (cp >= 0xFFF0 && cp <= 0xFFFF);
}

static uint32_t decode_cp(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    if (n == 2)
        return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    if (n == 3)
        return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
           (s[3] & 0x3F);
}

int sockjs_json_escape(struct stomp_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
    while (p < end) {
        unsigned char ch = *p;
        if (ch >= 0x20 && ch < 0x7F && ch != '"' && ch != '\\') {
            p++;
            continue;
        }
        size_t len = utf8_seq(p, (size_t)(end - p));
        uint32_t cp = len ? decode_cp(p, len) : 0;
        if (len && !needs_escape(cp) && ch >= 0x80) {
            p += len;
            continue;
        }
        if (stomp_buf_append(b, run, (size_t)(p - run)) < 0)
            return -1;
        int rc;
        if (!len)
            rc = stomp_buf_append(b, "\xEF\xBF\xBD", 3); /* U+FFFD for a byte that is not UTF-8 */
        else if (ch == '"')
            rc = stomp_buf_append(b, "\\\"", 2);
        else if (ch == '\\')
            rc = stomp_buf_append(b, "\\\\", 2);
        else if (ch == '\n')
            rc = stomp_buf_append(b, "\\n", 2);
        else
            rc = append_u(b, cp);
        if (rc < 0)
            return -1;
        p += len ? len : 1;
        run = p;
    }
    return stomp_buf_append(b, run, (size_t)(p - run));
}

int sockjs_info_json(struct stomp_buf *b, bool websocket, uint32_t entropy)
{
    char j[160];
    int n = snprintf(j, sizeof j,
                     "{\"websocket\":%s,\"cookie_needed\":false,\"origins\":[\"*:*\"],\"entropy\":%lu}",
                     websocket ? "true" : "false", (unsigned long)entropy);
    return stomp_buf_append(b, j, (size_t)n);
}

/* ------------------------------------------------------------ reader */

enum {
    R_START,       /* before '[' */
    R_FIRST,       /* after '[': a string or ']' */
    R_NEXT,        /* after ',': a string */
    R_AFTER,       /* after a string: ',' or ']' */
    R_STRING,      /* inside a string */
    R_ESCAPE,      /* after '\' */
    R_HEX,         /* reading the digits of \u */
    R_LOW_SLASH,   /* a high surrogate read: a '\' for its low half? */
    R_LOW_U,       /* ... then a 'u' */
    R_DONE,        /* after ']' */
    R_ERROR,
};

void sockjs_reader_init(struct sockjs_reader *r)
{
    memset(r, 0, sizeof *r);
    r->state = R_START;
}

bool sockjs_reader_done(const struct sockjs_reader *r)
{
    return r->state == R_DONE;
}

bool sockjs_reader_empty(const struct sockjs_reader *r)
{
    return r->state == R_START;
}

static size_t put_cp(char *out, uint32_t cp)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A complete \u escape: a high surrogate waits for its low half; a lone
 * half becomes U+FFFD (what a JSON.stringify of a broken string sends). */
static size_t reader_cp(struct sockjs_reader *r, uint32_t cp, char *out)
{
    size_t n = 0;
    if (r->high) {
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0x10000 + ((r->high - 0xD800) << 10) + (cp - 0xDC00);
            r->high = 0;
            r->state = R_STRING;
            return put_cp(out, cp);
        }
        n = put_cp(out, 0xFFFD);
        r->high = 0;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        r->high = cp;
        r->state = R_LOW_SLASH;
        return n;
    }
    r->state = R_STRING;
    return n + put_cp(out + n, cp >= 0xDC00 && cp <= 0xDFFF ? 0xFFFD : cp);
}

long sockjs_reader_feed(struct sockjs_reader *r, const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        switch (r->state) {
        case R_START:
            if (ch == '[')
                r->state = R_FIRST;
            else if (!is_ws(ch))
                goto bad;
            break;
        case R_FIRST:
        case R_NEXT:
            if (ch == '"')
                r->state = R_STRING;
            else if (ch == ']' && r->state == R_FIRST)
                r->state = R_DONE;
            else if (!is_ws(ch))
                goto bad;
            break;
        case R_AFTER:
            if (ch == ',')
                r->state = R_NEXT;
            else if (ch == ']')
                r->state = R_DONE;
            else if (!is_ws(ch))
                goto bad;
            break;
        case R_DONE:
            if (!is_ws(ch))
                goto bad;
            break;
        case R_LOW_SLASH:
            if (ch == '\\') {
                r->state = R_LOW_U;
                break;
            }
            o += put_cp(out + o, 0xFFFD);
            r->high = 0;
            r->state = R_STRING;
            /* fall through: ch is an ordinary character of the string */
            goto string_char;
        case R_LOW_U:
            if (ch == 'u') {
                r->state = R_HEX;
                r->cp = 0;
                r->ndigits = 0;
                break;
            }
            o += put_cp(out + o, 0xFFFD);
            r->high = 0;
            r->state = R_ESCAPE;
            goto escape_char;
        case R_STRING:
        string_char:
            if (ch == '"')
                r->state = R_AFTER;
            else if (ch == '\\')
                r->state = R_ESCAPE;
            else if ((unsigned char)ch < 0x20)
                goto bad; /* JSON has no raw control characters in strings */
            else
                out[o++] = ch;
            break;
        case R_ESCAPE:
        escape_char: {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *hit = ch ? strchr(from, ch) : NULL;
            if (ch == 'u') {
                r->state = R_HEX;
                r->cp = 0;
                r->ndigits = 0;
            } else if (hit) {
                out[o++] = to[hit - from];
                r->state = R_STRING;
            } else {
                goto bad;
            }
            break;
        }
        case R_HEX: {
            int v = hex_value(ch);
            if (v < 0)
                goto bad;
            r->cp = r->cp << 4 | (uint32_t)v;
            if (++r->ndigits == 4)
                o += reader_cp(r, r->cp, out + o);
            break;
        }
        default:
            goto bad;
        }
    }
    return (long)o;
bad:
    r->state = R_ERROR;
    return -1;
}
