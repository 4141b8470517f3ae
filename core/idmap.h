/* A hash map from 64-bit ids to pointers (open addressing, linear probing,
 * backward-shift deletion). Id 0 is reserved as "empty". Not thread-safe:
 * each map belongs to one thread. */
#ifndef CHATD_IDMAP_H
#define CHATD_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
    uint64_t id;
    void *value;
};

struct idmap {
    struct idmap_slot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t count;
};

void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
void *idmap_get(const struct idmap *m, uint64_t id);
/* 0, or -1 on allocation failure. Replaces an existing value. */
int idmap_put(struct idmap *m, uint64_t id, void *value);
/* The removed value, or NULL. */
void *idmap_del(struct idmap *m, uint64_t id);

/* Iterate: for (size_t i = 0; idmap_next(m, &i, &id, &v);) — do not modify
 * the map while iterating. */
int idmap_next(const struct idmap *m, size_t *pos, uint64_t *id, void **value);

#endif
