#include "rooms/canned_rules.h"

#include <string.h>

#include "utf8.h"

/* The code point of the valid sequence s[0..n). */
static uint32_t code_point(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

static bool control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* Unicode's white space (White_Space=yes) beyond the controls, and the
 * zero-width ones a word would hide. */
static bool space(uint32_t cp)
{
    return cp == ' ' || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200d) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x2060 || cp == 0x3000 || cp == 0xfeff;
}

bool canned_shortcut_normal(const char *in, size_t len, char *out, const char **why)
{
    static const char rule[] = "a shortcut is 1 to 32 characters without spaces, control characters or / ? # % \\ \"";
    const unsigned char *s = (const unsigned char *)in;
    if (len && s[0] == '/')
        s++, len--;
    if (!len || len > CHATD_CANNED_SHORTCUT_MAX || !utf8_valid(s, len)) {
        *why = rule;
        return false;
    }
    size_t chars = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);
        uint32_t cp = code_point(s + i, n);
        if (control(cp) || space(cp) || (cp < 0x80 && strchr("/?#%\\\"", (int)cp))) {
            *why = rule;
            return false;
        }
        for (size_t k = 0; k < n; k++)
            out[i + k] = (char)(n == 1 && cp >= 'A' && cp <= 'Z' ? cp - 'A' + 'a' : s[i + k]);
        i += n;
        chars++;
    }
    out[len] = '\0';
    if (chars > CANNED_SHORTCUT_CHARS) {
        *why = rule;
        return false;
    }
    return true;
}

/* UTF-8 of 1 to max bytes without control characters other than those
 * `allowed` names. */
static bool text_ok(const char *in, size_t len, size_t max, const char *allowed)
{
    const unsigned char *s = (const unsigned char *)in;
    if (!len || len > max || !utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);
        uint32_t cp = code_point(s + i, n);
        if (control(cp) && !(cp && cp < 0x80 && strchr(allowed, (int)cp)))
            return false;
        i += n;
    }
    return true;
}

bool canned_title_ok(const char *s, size_t len, const char **why)
{
    if (text_ok(s, len, CANNED_TITLE_MAX, ""))
        return true;
    *why = "a title is one line of 1 to 200 bytes of UTF-8";
    return false;
}

bool canned_body_ok(const char *s, size_t len, const char **why)
{
    if (text_ok(s, len, CANNED_BODY_MAX, "\n\t\r"))
        return true;
    *why = "a body is 1 to 4000 bytes of UTF-8 (line breaks and tabs, no other control characters)";
    return false;
}

bool canned_may_read(uint32_t roles)
{
    return roles & (CHATD_ROLE_AGENT | CHATD_ROLE_ADMIN);
}

bool canned_may_write(uint32_t roles, bool agents_write)
{
    return (roles & CHATD_ROLE_ADMIN) || (agents_write && (roles & CHATD_ROLE_AGENT));
}
