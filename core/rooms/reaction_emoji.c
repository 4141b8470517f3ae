#include "rooms/reaction_emoji.h"

#include <stdint.h>

#include <chatd/plugin.h>

#include "utf8.h"

/* The code point of the sequence at s (len bytes, valid UTF-8). */
static uint32_t code_point(const unsigned char *s, size_t len)
{
    if (len == 1)
        return s[0];
    uint32_t c = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++)
        c = c << 6 | (s[i] & 0x3f);
    return c;
}

/* Spaces, controls and invisible format characters: never part of an emoji. */
static bool blank_or_format(uint32_t c)
{
    return c < 0xa0 || c == 0xa0 || c == 0xad || c == 0x1680 || (c >= 0x2000 && c <= 0x200c) ||
           (c >= 0x200e && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x206f) ||
           c == 0x3000 || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
}

static bool keycap_mark(uint32_t c)
{
    return c == 0xfe0f || c == 0x20e3;
}

const char *reaction_emoji_refusal(const char *emoji, size_t len)
{
    const unsigned char *s = (const unsigned char *)emoji;
    if (!len)
        return "A reaction is an emoji: it is empty.";
    if (len > CHATD_REACTION_EMOJI_MAX)
        return "A reaction is an emoji of at most 32 bytes of UTF-8.";
    if (!utf8_valid(s, len))
        return "A reaction is an emoji in UTF-8.";
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);
        uint32_t c = code_point(s + i, n);
        if (i == 0 && (c == 0x200d || c == 0xfe0e || keycap_mark(c)))
            return "A reaction starts with a picture, not with a joiner or a variation selector.";
        if (c < 0x80 && ((c >= '0' && c <= '9') || c == '#' || c == '*')) {
            /* a keycap's base: 1️⃣ is "1" U+FE0F U+20E3 */
            size_t m = i + 1 < len ? utf8_seq(s + i + 1, len - i - 1) : 0;
            if (!m || !keycap_mark(code_point(s + i + 1, m)))
                return "A reaction is an emoji, not ASCII text.";
        } else if (c < 0x80) {
            return "A reaction is an emoji, not ASCII text.";
        } else if (blank_or_format(c)) {
            return "A reaction holds no space, control or invisible character.";
        }
        i += n;
    }
    return NULL;
}
