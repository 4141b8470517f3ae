#include "file_name.h"

#include <string.h>

#include "utf8.h"

/* The code point of a valid sequence of l bytes. */
static unsigned long code_point(const unsigned char *s, size_t l)
{
    if (l == 1)
        return s[0];
    unsigned long cp = s[0] & (0x7f >> l);
    for (size_t i = 1; i < l; i++)
        cp = cp << 6 | (s[i] & 0x3f);
    return cp;
}

static bool dropped(unsigned long cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || /* controls */
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || /* bidi overrides */
           cp == 0x200e || cp == 0x200f || cp == 0xfeff;
}

size_t file_name_clean(const char *in, size_t len, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    /* The last segment: after the last separator. */
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '/' || s[i] == '\\')
            start = i + 1;
    size_t o = 0, limit = cap - 1 < FILE_NAME_MAX ? cap - 1 : FILE_NAME_MAX;
    for (size_t i = start; i < len;) {
        size_t l = utf8_seq(s + i, len - i);
        if (!l) {
            i++; /* not UTF-8: dropped */
            continue;
        }
        unsigned long cp = code_point(s + i, l);
        bool lead = o == 0 && (cp == '.' || cp == ' ' || cp == 0x3000);
        if (!dropped(cp) && !lead) {
            if (o + l > limit)
                break;
            memcpy(out + o, s + i, l);
            o += l;
        }
        i += l;
    }
    while (o && (out[o - 1] == '.' || out[o - 1] == ' '))
        o--;
    out[o] = '\0';
    return o;
}

void file_name_ascii(const char *name, char *out, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return;
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 1 < cap;) {
        size_t l = utf8_seq(p, strlen((const char *)p));
        if (l == 1 && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != '%')
            out[o++] = (char)*p;
        else
            out[o++] = '_';
        p += l ? l : 1;
    }
    out[o] = '\0';
}
