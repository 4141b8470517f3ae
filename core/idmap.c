#include "idmap.h"

#include <stdlib.h>

static size_t idmap_hash(uint64_t id)
{
    /* Ids are sequential: mix so neighbours spread over the table. */
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t)id;
}

void idmap_init(struct idmap *m)
{
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

void idmap_free(struct idmap *m)
{
    free(m->slots);
    idmap_init(m);
}

void *idmap_get(const struct idmap *m, uint64_t id)
{
    if (!m->slots || id == 0)
        return NULL;
    for (size_t i = idmap_hash(id) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slots[i].id == id)
            return m->slots[i].value;
        if (m->slots[i].id == 0)
            return NULL;
    }
}

static int idmap_grow(struct idmap *m)
{
    size_t cap = m->slots ? (m->mask + 1) * 2 : 64;
    struct idmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t j = 0; m->slots && j <= m->mask; j++) {
        if (m->slots[j].id == 0)
            continue;
        size_t i = idmap_hash(m->slots[j].id) & (cap - 1);
        while (slots[i].id)
            i = (i + 1) & (cap - 1);
        slots[i] = m->slots[j];
    }
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
    return 0;
}

int idmap_put(struct idmap *m, uint64_t id, void *value)
{
    if (id == 0)
        return -1;
    /* Keep the load under 1/2 so probes stay short. */
    if (!m->slots || (m->count + 1) * 2 > m->mask + 1)
        if (idmap_grow(m) < 0)
            return -1;
    size_t i = idmap_hash(id) & m->mask;
    while (m->slots[i].id && m->slots[i].id != id)
        i = (i + 1) & m->mask;
    if (m->slots[i].id == 0)
        m->count++;
    m->slots[i].id = id;
    m->slots[i].value = value;
    return 0;
}

void *idmap_del(struct idmap *m, uint64_t id)
{
    if (!m->slots || id == 0)
        return NULL;
    size_t i = idmap_hash(id) & m->mask;
    while (m->slots[i].id != id) {
        if (m->slots[i].id == 0)
            return NULL;
        i = (i + 1) & m->mask;
    }
    void *value = m->slots[i].value;
    /* Backward-shift: pull later members of the probe run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->slots[j].id; j = (j + 1) & m->mask) {
        size_t home = idmap_hash(m->slots[j].id) & m->mask;
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].id = 0;
    m->slots[hole].value = NULL;
    m->count--;
    return value;
}

int idmap_next(const struct idmap *m, size_t *pos, uint64_t *id, void **value)
{
    if (!m->slots)
        return 0;
    for (; *pos <= m->mask; (*pos)++) {
        if (m->slots[*pos].id) {
            *id = m->slots[*pos].id;
            *value = m->slots[*pos].value;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}
