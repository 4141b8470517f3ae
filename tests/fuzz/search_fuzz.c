/* Fuzz search's request parsers: a query (trimmed, checked, its JSON form),
 * the text rule, and the cursor. The input is "QUERY\nTEXT": a query that
 * passes holds at most SEARCH_QUERY_MAX_CHARS code points of valid UTF-8;
 * its JSON form is ASCII; a cursor that parses formats back to the same
 * text, and one formatted parses back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/search_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    char *nl = strchr(in, '\n');
    const char *text = "";
    if (nl) {
        *nl = '\0';
        text = nl + 1;
    }
    char q[SEARCH_QUERY_MAX_BYTES], why[160];
    if (search_query_check(in, q, sizeof q, why, sizeof why)) {
        size_t n = strlen(q);
        if (!n || n >= sizeof q)
            abort();
        char json[6 * SEARCH_QUERY_MAX_BYTES];
        const char *j = search_query_json(q, json, sizeof json);
        for (const char *p = j; p && *p; p++)
            if ((unsigned char)*p >= 0x80)
                abort();
        bool holds = search_text_holds(text, strlen(text), q);
        if (strstr(text, q) && !holds)
            abort();
        if (!search_text_holds(q, n, q))
            abort();
    } else if (!why[0]) {
        abort();
    }
    struct search_cursor c;
    if (search_cursor_parse(in, &c)) {
        char back[SEARCH_CURSOR_MAX];
        search_cursor_format(&c, back);
        struct search_cursor again;
        if (!search_cursor_parse(back, &again) || again.ts_ms != c.ts_ms || again.seq != c.seq ||
            strcmp(again.room, c.room) != 0)
            abort();
    }
    free(in);
    return 0;
}
