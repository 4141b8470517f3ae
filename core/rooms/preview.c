#include "rooms/preview.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/preview_marks.h"
#include "utf8.h"

#define ZWJ 0x200D

/* The code point at s and its length in *len; false when s does not start
 * with a valid UTF-8 sequence. */
static bool decode(const char *s, size_t n, uint32_t *cp, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t l = utf8_seq(u, n);
    if (!l)
        return false;
    static const unsigned char lead_mask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t c = u[0] & lead_mask[l];
    for (size_t k = 1; k < l; k++)
        c = (c << 6) | (u[k] & 0x3F);
    *cp = c;
    *len = l;
    return true;
}

static bool in_ranges(uint32_t c, const uint32_t (*r)[2], size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid][0])
            hi = mid;
        else if (c > r[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* Never starts a character: marks, variation selectors (both Mn), ZWNJ,
 * ZWJ, skin-tone modifiers, tag characters. */
static bool is_extend(uint32_t c)
{
    if (c < 0x0300)
        return false;
    return c == 0x200C || c == ZWJ || (c >= 0x1F3FB && c <= 0x1F3FF) || (c >= 0xE0020 && c <= 0xE007F) ||
           in_ranges(c, preview_marks, sizeof preview_marks / sizeof *preview_marks);
}

static bool is_control(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x200B || c == 0x200E || c == 0x200F ||
           (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F) || c == 0xFEFF;
}

static bool is_regional(uint32_t c)
{
    return c >= 0x1F1E6 && c <= 0x1F1FF;
}

/* Emoji and other pictographs, coarsely: the blocks they live in. */
static bool is_pictographic(uint32_t c)
{
    static const uint32_t pict[][2] = {
        {0x00A9, 0x00A9},   {0x00AE, 0x00AE},   {0x203C, 0x203C},   {0x2049, 0x2049},   {0x2122, 0x2122},
        {0x2139, 0x2139},   {0x2194, 0x21AA},   {0x231A, 0x23FF},   {0x24C2, 0x24C2},   {0x25AA, 0x27BF},
        {0x2934, 0x2935},   {0x2B05, 0x2B55},   {0x3030, 0x3030},   {0x303D, 0x303D},   {0x3297, 0x3297},
        {0x3299, 0x3299},   {0x1F000, 0x1F1E5}, {0x1F200, 0x1F3FA}, {0x1F400, 0x1FAFF}, {0x1FC00, 0x1FFFD},
    };
    return in_ranges(c, pict, sizeof pict / sizeof *pict);
}

/* Hangul syllable types (UAX #29: L, V, T, LV, LVT). */
enum hangul { H_NONE, H_L, H_V, H_T, H_LV, H_LVT };

static enum hangul hangul_type(uint32_t c)
{
    if ((c >= 0x1100 && c <= 0x115F) || (c >= 0xA960 && c <= 0xA97C))
        return H_L;
    if ((c >= 0x1160 && c <= 0x11A7) || (c >= 0xD7B0 && c <= 0xD7C6))
        return H_V;
    if ((c >= 0x11A8 && c <= 0x11FF) || (c >= 0xD7CB && c <= 0xD7FB))
        return H_T;
    if (c >= 0xAC00 && c <= 0xD7A3)
        return (c - 0xAC00) % 28 == 0 ? H_LV : H_LVT;
    return H_NONE;
}

/* Whether a jamo of type next continues a syllable whose last part is of
 * type prev. */
static bool hangul_joins(enum hangul prev, enum hangul next)
{
    switch (prev) {
    case H_L:
        return next != H_NONE && next != H_T;
    case H_LV:
    case H_V:
        return next == H_V || next == H_T;
    case H_LVT:
    case H_T:
        return next == H_T;
    default:
        return false;
    }
}

size_t preview_char_len(const char *s, size_t n)
{
    uint32_t c;
    size_t len;
    if (!n || !decode(s, n, &c, &len))
        return 0;
    size_t at = len;
    if (c == '\r' && at < n && s[at] == '\n')
        return at + 1;
    if (is_control(c))
        return at;
    enum hangul h = hangul_type(c);  /* the last jamo or syllable, while a syllable goes on */
    bool regional = is_regional(c);  /* a lone regional indicator, waiting for its pair */
    bool pict = is_pictographic(c);  /* the tail is a pictograph and marks after it */
    bool pict_zwj = false;           /* the tail is a pictograph, marks, and a ZWJ */
    while (at < n) {
        uint32_t d;
        size_t dl;
        if (!decode(s + at, n - at, &d, &dl))
            break;
        enum hangul dh = hangul_type(d);
        if (d == ZWJ) {
            pict_zwj = pict;
            pict = false;
        } else if (is_extend(d)) {
            pict_zwj = false;
        } else if (pict_zwj && is_pictographic(d)) {
            pict_zwj = false;
            pict = true;
        } else if (regional && is_regional(d)) {
            pict = false; /* a flag: a third indicator starts the next one */
        } else if (h != H_NONE && hangul_joins(h, dh)) {
            pict = false;
        } else {
            break;
        }
        h = h != H_NONE && dh != H_NONE ? dh : H_NONE;
        regional = false;
        at += dl;
    }
    return at;
}

/* The longest start of s (n bytes of UTF-8) that ends between code points
 * and is at most max bytes. */
static size_t whole_code_points(const char *s, size_t n, size_t max)
{
    size_t at = 0, l;
    while (at < n && (l = utf8_seq((const unsigned char *)s + at, n - at)) && l <= max - at)
        at += l;
    return at;
}

size_t preview_cut(const char *text, size_t len, size_t max_chars, size_t max_bytes)
{
    size_t at = 0;
    for (size_t chars = 0; chars < max_chars && at < len; chars++) {
        size_t n = preview_char_len(text + at, len - at);
        if (!n)
            break;
        if (n > max_bytes - at) {
            /* One character longer than the whole budget is cut inside,
             * rather than leaving the preview empty. */
            if (at == 0)
                at = whole_code_points(text, n, max_bytes);
            break;
        }
        at += n;
    }
    return at;
}

char *preview_make(const char *text, size_t len, size_t max_chars)
{
    size_t max_bytes = max_chars > SIZE_MAX / PREVIEW_BYTES_PER_CHAR ? SIZE_MAX : max_chars * PREVIEW_BYTES_PER_CHAR;
    size_t n = preview_cut(text, len, max_chars, max_bytes);
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, text, n);
    out[n] = '\0';
    return out;
}
