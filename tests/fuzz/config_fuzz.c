/* Fuzz the ini reader and its typed getters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct config *c;
    char err[256];
    if (config_load_string(&c, "fuzz.ini", text, err, sizeof err) == 0) {
        for (size_t i = 0; i < c->nsections; i++) {
            struct config_section *s = &c->sections[i];
            for (size_t j = 0; j < s->nentries; j++) {
                long long ll;
                size_t sz;
                bool b;
                config_get_int(c, s, s->entries[j].key, 0, -5, 5, &ll, err, sizeof err);
                config_get_size(c, s, s->entries[j].key, 0, 0, 1u << 30, &sz, err, sizeof err);
                config_get_duration_ms(c, s, s->entries[j].key, 0, 0, 1000000, &ll, err, sizeof err);
                config_get_bool(c, s, s->entries[j].key, false, &b, err, sizeof err);
            }
            config_first_unused(s);
        }
        config_free(c);
    } else if (!memchr(err, '\0', sizeof err)) {
        abort(); /* errors are always terminated */
    }
    free(text);
    return 0;
}
