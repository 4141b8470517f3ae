/* A hash map from NUL-terminated strings to pointers (open addressing).
 * Keys are copied. One thread per map. */
#ifndef CHATD_STRMAP_H
#define CHATD_STRMAP_H

#include <stddef.h>

struct strmap_slot {
    char *key; /* NULL = empty */
    size_t hash;
    void *value;
};

struct strmap {
    struct strmap_slot *slots;
    size_t mask;
    size_t count;
};

void strmap_init(struct strmap *m);
void strmap_free(struct strmap *m); /* frees keys, not values */
void *strmap_get(const struct strmap *m, const char *key);
int strmap_put(struct strmap *m, const char *key, void *value); /* 0 or -1 */
void *strmap_del(struct strmap *m, const char *key);
int strmap_next(const struct strmap *m, size_t *pos, const char **key, void **value);

#endif
