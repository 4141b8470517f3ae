/* A set of channel names (hash table with chaining), for broker plugins
 * that track which channels this instance wants. Built into each plugin
 * that uses it; one thread per set. */
#ifndef CHATD_PLUGIN_CHANSET_H
#define CHATD_PLUGIN_CHANSET_H

#include <stdbool.h>
#include <stddef.h>

struct chanset_entry {
    struct chanset_entry *next;
    char name[];
};

struct chanset {
    struct chanset_entry **slots;
    size_t nslots, n;
};

/* 1 added, 0 already there, -1 out of memory. */
int chanset_add(struct chanset *s, const char *name);
bool chanset_has(const struct chanset *s, const char *name);
bool chanset_remove(struct chanset *s, const char *name);
void chanset_free(struct chanset *s);

#define CHANSET_FOREACH(s, e)                                                  \
    for (size_t chanset_i_ = 0; chanset_i_ < (s)->nslots; chanset_i_++)        \
        for (struct chanset_entry *e = (s)->slots[chanset_i_]; e; e = e->next)

#endif
