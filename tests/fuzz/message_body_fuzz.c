/* Fuzz the room message body rule and previews. The input is
 * "CONTENT-TYPE\nBODY" (no newline: no content-type). An accepted body's
 * text is UTF-8, and so is every preview of any bytes, cut between
 * characters within its budgets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/message_body_json.h"
#include "rooms/preview.h"
#include "utf8.h"

static void check_previews(const char *text, size_t len)
{
    /* Character boundaries: every cut must land on one. */
    size_t valid = 0;
    for (size_t n; valid < len && (n = preview_char_len(text + valid, len - valid)); valid += n)
        if (n > len - valid)
            abort();
    static const size_t maxes[] = {0, 1, 2, 3, 7, 140};
    for (size_t i = 0; i < sizeof maxes / sizeof *maxes; i++) {
        size_t max = maxes[i];
        size_t cut = preview_cut(text, len, max, max * PREVIEW_BYTES_PER_CHAR);
        if (cut > len || cut > max * PREVIEW_BYTES_PER_CHAR || cut > valid ||
            !utf8_valid((const unsigned char *)text, cut))
            abort();
        char *p = preview_make(text, len, max);
        if (!p || strlen(p) > cut || memcmp(p, text, strlen(p)) != 0)
            abort();
        free(p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *ct = NULL, *body = copy;
    size_t len = size;
    char *nl = memchr(copy, '\n', size);
    if (nl) {
        *nl = '\0';
        ct = copy;
        body = nl + 1;
        len = size - (size_t)(body - copy);
    }
    char why[256];
    int rc = message_body_check(ct, body, len, why, sizeof why);
    size_t tl = 0;
    char *text = message_body_text(ct, body, len, &tl);
    if ((rc == 0) != (text != NULL) || (rc < 0 && strlen(why) >= sizeof why))
        abort();
    if (text) {
        if (!utf8_valid((const unsigned char *)text, tl) || memchr(text, '\0', tl) || text[tl] != '\0')
            abort();
        check_previews(text, tl);
        free(text);
    }
    check_previews(body, len);
    free(copy);
    return 0;
}
