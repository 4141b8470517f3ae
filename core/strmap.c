#include "strmap.h"

#include <stdlib.h>
#include <string.h>

static size_t strmap_hash(const char *s)
{
    /* FNV-1a, 64-bit. */
    size_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void strmap_init(struct strmap *m)
{
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

void strmap_free(struct strmap *m)
{
    for (size_t i = 0; m->slots && i <= m->mask; i++)
        free(m->slots[i].key);
    free(m->slots);
    strmap_init(m);
}

static struct strmap_slot *strmap_find(const struct strmap *m, const char *key, size_t h)
{
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct strmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
            return s;
    }
}

void *strmap_get(const struct strmap *m, const char *key)
{
    if (!m->slots)
        return NULL;
    struct strmap_slot *s = strmap_find(m, key, strmap_hash(key));
    return s->key ? s->value : NULL;
}

static int strmap_grow(struct strmap *m)
{
    size_t cap = m->slots ? (m->mask + 1) * 2 : 16;
    struct strmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t j = 0; m->slots && j <= m->mask; j++) {
        if (!m->slots[j].key)
            continue;
        size_t i = m->slots[j].hash & (cap - 1);
        while (slots[i].key)
            i = (i + 1) & (cap - 1);
        slots[i] = m->slots[j];
    }
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
    return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
    if ((!m->slots || (m->count + 1) * 2 > m->mask + 1) && strmap_grow(m) < 0)
        return -1;
    size_t h = strmap_hash(key);
    struct strmap_slot *s = strmap_find(m, key, h);
    if (!s->key) {
        if (!(s->key = strdup(key)))
            return -1;
        s->hash = h;
        m->count++;
    }
    s->value = value;
    return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
    if (!m->slots)
        return NULL;
    struct strmap_slot *s = strmap_find(m, key, strmap_hash(key));
    if (!s->key)
        return NULL;
    void *value = s->value;
    free(s->key);
    size_t hole = (size_t)(s - m->slots);
    for (size_t j = (hole + 1) & m->mask; m->slots[j].key; j = (j + 1) & m->mask) {
        size_t home = m->slots[j].hash & m->mask;
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = (struct strmap_slot){0};
    m->count--;
    return value;
}

int strmap_next(const struct strmap *m, size_t *pos, const char **key, void **value)
{
    for (; m->slots && *pos <= m->mask; (*pos)++) {
        if (m->slots[*pos].key) {
            *key = m->slots[*pos].key;
            *value = m->slots[*pos].value;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}
