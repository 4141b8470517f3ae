#include "file_types.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

static const char *const KNOWN[] = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
                                    "text/plain"};

bool file_type_known(const char *type)
{
    for (size_t i = 0; i < sizeof KNOWN / sizeof *KNOWN; i++)
        if (strcmp(type, KNOWN[i]) == 0)
            return true;
    return false;
}

static bool starts(const unsigned char *b, size_t n, const char *magic, size_t len)
{
    return n >= len && memcmp(b, magic, len) == 0;
}

/* Whether the n bytes at s are the start of a UTF-8 sequence cut short. */
static bool cut_sequence(const unsigned char *s, size_t n)
{
    size_t want = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;
    if (!want || n >= want)
        return false;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return false;
    return true;
}

/* UTF-8 text: every sequence whole (the last may be cut when !whole), no
 * control character but \t \n \f \r. */
static bool is_text(const unsigned char *b, size_t n, bool whole)
{
    for (size_t i = 0; i < n;) {
        if (b[i] < 0x80) {
            if ((b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\f' && b[i] != '\r') || b[i] == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t l = utf8_seq(b + i, n - i);
        if (!l)
            return !whole && cut_sequence(b + i, n - i);
        /* C1 controls (U+0080..U+009F) are no text either. */
        if (l == 2 && b[i] == 0xc2 && b[i + 1] < 0xa0)
            return false;
        i += l;
    }
    return true;
}

const char *file_type_sniff(const unsigned char *b, size_t n, bool whole)
{
    if (starts(b, n, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (starts(b, n, "\xff\xd8\xff", 3))
        return "image/jpeg";
    if (starts(b, n, "GIF87a", 6) || starts(b, n, "GIF89a", 6))
        return "image/gif";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (starts(b, n, "%PDF-", 5))
        return "application/pdf";
    size_t skip = starts(b, n, "\xef\xbb\xbf", 3) ? 3 : 0; /* a byte order mark */
    if (is_text(b + skip, n - skip, whole))
        return "text/plain";
    return NULL;
}

void file_type_bare(const char *content_type, char *out, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return;
    for (const char *p = content_type; p && *p && *p != ';' && o + 1 < cap; p++)
        if (!isspace((unsigned char)*p))
            out[o++] = (char)tolower((unsigned char)*p);
    out[o] = '\0';
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t be16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t le16(const unsigned char *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le24(const unsigned char *p) { return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }

static bool jpeg_size(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h)
{
    size_t i = 2; /* after SOI */
    while (i + 4 <= n) {
        if (b[i] != 0xff)
            return false;
        unsigned char m = b[i + 1];
        if (m == 0xff) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) { /* no length */
            i += 2;
            continue;
        }
        if (m == 0xd9 || m == 0xda) /* EOI, SOS: no frame header before */
            return false;
        size_t len = be16(b + i + 2);
        if (len < 2)
            return false;
        /* SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            if (len < 7 || i + 9 > n)
                return false;
            *h = be16(b + i + 5);
            *w = be16(b + i + 7);
            return true;
        }
        i += 2 + len;
    }
    return false;
}

static bool webp_size(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h)
{
    if (n < 30)
        return false;
    if (memcmp(b + 12, "VP8 ", 4) == 0) { /* lossy: a key frame's start code at 23 */
        if (b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a)
            return false;
        *w = le16(b + 26) & 0x3fff;
        *h = le16(b + 28) & 0x3fff;
        return true;
    }
    if (memcmp(b + 12, "VP8L", 4) == 0) { /* lossless: 14 bits each, minus one */
        if (b[20] != 0x2f)
            return false;
        uint32_t bits = (uint32_t)b[21] | (uint32_t)b[22] << 8 | (uint32_t)b[23] << 16 | (uint32_t)b[24] << 24;
        *w = (bits & 0x3fff) + 1;
        *h = ((bits >> 14) & 0x3fff) + 1;
        return true;
    }
    if (memcmp(b + 12, "VP8X", 4) == 0) { /* extended: the canvas, 24 bits each, minus one */
        *w = le24(b + 24) + 1;
        *h = le24(b + 27) + 1;
        return true;
    }
    return false;
}

bool file_image_size(const unsigned char *b, size_t n, const char *type, uint32_t *width, uint32_t *height)
{
    uint32_t w = 0, h = 0;
    bool found = false;
    if (!type)
        return false;
    if (strcmp(type, "image/png") == 0 && n >= 24 && memcmp(b + 12, "IHDR", 4) == 0) {
        w = be32(b + 16);
        h = be32(b + 20);
        found = w <= 0x7fffffff && h <= 0x7fffffff; /* PNG's own bound */
    } else if (strcmp(type, "image/gif") == 0 && n >= 10) {
        w = le16(b + 6);
        h = le16(b + 8);
        found = true;
    } else if (strcmp(type, "image/jpeg") == 0) {
        found = jpeg_size(b, n, &w, &h);
    } else if (strcmp(type, "image/webp") == 0) {
        found = webp_size(b, n, &w, &h);
    }
    if (!found || !w || !h)
        return false;
    *width = w;
    *height = h;
    return true;
}
