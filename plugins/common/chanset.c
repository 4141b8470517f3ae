#include "chanset.h"

#include <stdlib.h>
#include <string.h>

static size_t hash_name(const char *s)
{
    size_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The link holding name, or the empty link where it would go; NULL when
 * the table has no slots yet. */
static struct chanset_entry **find(const struct chanset *s, const char *name)
{
    if (!s->nslots)
        return NULL;
    struct chanset_entry **p = &s->slots[hash_name(name) & (s->nslots - 1)];
    for (; *p; p = &(*p)->next)
        if (strcmp((*p)->name, name) == 0)
            return p;
    return p;
}

static int grow(struct chanset *s)
{
    size_t nslots = s->nslots ? s->nslots * 2 : 64;
    struct chanset_entry **slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->nslots; i++) {
        for (struct chanset_entry *e = s->slots[i], *next; e; e = next) {
            next = e->next;
            size_t k = hash_name(e->name) & (nslots - 1);
            e->next = slots[k];
            slots[k] = e;
        }
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = nslots;
    return 0;
}

int chanset_add(struct chanset *s, const char *name)
{
    if (s->n >= s->nslots && grow(s) < 0)
        return -1;
    struct chanset_entry **p = find(s, name);
    if (*p)
        return 0;
    size_t len = strlen(name) + 1;
    struct chanset_entry *e = malloc(sizeof *e + len);
    if (!e)
        return -1;
    memcpy(e->name, name, len);
    e->next = NULL;
    *p = e;
    s->n++;
    return 1;
}

bool chanset_has(const struct chanset *s, const char *name)
{
    struct chanset_entry **p = find(s, name);
    return p && *p;
}

bool chanset_remove(struct chanset *s, const char *name)
{
    struct chanset_entry **p = find(s, name);
    if (!p || !*p)
        return false;
    struct chanset_entry *e = *p;
    *p = e->next;
    free(e);
    s->n--;
    return true;
}

void chanset_free(struct chanset *s)
{
    for (size_t i = 0; i < s->nslots; i++) {
        for (struct chanset_entry *e = s->slots[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(s->slots);
    memset(s, 0, sizeof *s);
}
