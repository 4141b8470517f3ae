/* Fuzz the rules of a canned reply's shortcut, title and body. Whatever
 * shortcut is accepted comes out 1 to 32 code points of valid UTF-8, no
 * longer than CHATD_CANNED_SHORTCUT_MAX bytes, without a leading '/',
 * ASCII capitals, controls or the refused marks, and is accepted again
 * unchanged; every refusal comes with a sentence. A title or body
 * accepted is valid UTF-8 within its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <chatd/plugin.h>

#include "rooms/canned_rules.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[CHATD_CANNED_SHORTCUT_MAX + 1], again[CHATD_CANNED_SHORTCUT_MAX + 1];
    const char *why = NULL;
    if (canned_shortcut_normal((const char *)data, size, out, &why)) {
        size_t n = strlen(out), chars = 0;
        if (!n || n > CHATD_CANNED_SHORTCUT_MAX || !utf8_valid((const unsigned char *)out, n) || out[0] == '/')
            abort();
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)out[i];
            chars += (c & 0xc0) != 0x80;
            if (c <= 0x20 || c == 0x7f || (c >= 'A' && c <= 'Z') || strchr("/?#%\\\"", c))
                abort();
        }
        if (chars > CANNED_SHORTCUT_CHARS)
            abort();
        if (!canned_shortcut_normal(out, n, again, &why) || strcmp(out, again) != 0)
            abort();
    } else if (!why || !*why) {
        abort();
    }
    why = NULL;
    if (canned_title_ok((const char *)data, size, &why)) {
        if (!size || size > CANNED_TITLE_MAX || !utf8_valid(data, size) || memchr(data, '\n', size))
            abort();
    } else if (!why || !*why) {
        abort();
    }
    why = NULL;
    if (canned_body_ok((const char *)data, size, &why)) {
        if (!size || size > CANNED_BODY_MAX || !utf8_valid(data, size) || memchr(data, '\0', size))
            abort();
    } else if (!why || !*why) {
        abort();
    }
    return 0;
}
